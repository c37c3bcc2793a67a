"""Database outage, query timeout and the bounded per-thread query queue."""

import threading
import time

import pytest

from helpers import Api, assert_problem, parse_prometheus, query, wait_until

REGION = "/api/v1/codes/regions/511900"


def _lock_waiters(db, dbname="yizhan"):
    return query(db, "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = %s", dbname)[0]["n"]


class TableLock:
    """BEGIN; LOCK TABLE regions IN ACCESS EXCLUSIVE MODE; ... ROLLBACK."""

    def __init__(self, pg, table="regions"):
        self.conn = pg.connect(autocommit=False)
        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '5s'")
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        self.held = True

    def release(self):
        if self.held:
            self.conn.rollback()
            self.conn.close()
            self.held = False


@pytest.fixture
def table_lock(pg):
    locks = []

    def take():
        lk = TableLock(pg)
        locks.append(lk)
        return lk
    yield take
    for lk in locks:
        lk.release()


def _db_up(srv):
    r = srv.api.get("/metrics")
    return parse_prometheus(r.content.decode(), strict=False).value("yizhan_db_connections", state="up")


# ---------------------------------------------------------------- outage

def test_database_outage_and_recovery(spawn, pg2):
    srv = spawn({"YIZHAN_QUERY_TIMEOUT_MS": "5000"}, dsn=pg2.dsn())
    api = srv.api
    r = api.get(REGION)
    assert r.status == 200, r
    assert api.get("/readyz").status == 200

    pg2.stop("fast")

    for i in range(3):
        t0 = time.monotonic()
        r = api.get(REGION, timeout=5)
        elapsed = time.monotonic() - t0
        assert_problem(r, 503)
        assert r.headers.get("Retry-After"), f"503 without Retry-After: {r!r}"
        assert r.headers["Retry-After"].strip().isdigit(), r.headers["Retry-After"]
        assert elapsed < 1.0, f"request {i} during outage took {elapsed:.2f}s (must fail fast)"
        time.sleep(0.2)

    r = api.get("/readyz", timeout=5)
    assert_problem(r, 503)
    assert r.headers.get("Retry-After"), r
    r = api.get("/livez", timeout=5)
    assert r.status == 200, "liveness must not depend on the database"
    assert _db_up(srv) == 0, "metrics report database connections up during the outage"

    pg2.start()
    t_start = time.monotonic()
    last = None
    while time.monotonic() - t_start < 11:
        last = api.get(REGION, timeout=5)
        if last.status == 200:
            break
        assert last.status == 503, f"unexpected status while reconnecting: {last!r}"
        time.sleep(0.25)
    assert last.status == 200, f"not recovered 11 s after PostgreSQL came back: {last!r}"
    assert last.body["name"] == "巴中市"
    assert srv.alive(), "server restarted/exited during the outage"
    wait_until(lambda: api.get("/readyz").status == 200, 5, message="/readyz back to 200")
    assert _db_up(srv) >= 1


# ---------------------------------------------------------------- query timeout

def test_query_timeout_gives_504_and_connection_recovers(spawn, table_lock, db):
    srv = spawn({"YIZHAN_QUERY_TIMEOUT_MS": "500"})
    assert srv.api.get(REGION).status == 200
    lock = table_lock()
    t0 = time.monotonic()
    r = srv.api.get(REGION, timeout=10)
    elapsed = time.monotonic() - t0
    assert_problem(r, 504)
    assert elapsed < 2.0, f"504 took {elapsed:.2f}s with QUERY_TIMEOUT_MS=500"
    # the timed-out query must not keep waiting in PostgreSQL (it was cancelled)
    wait_until(lambda: _lock_waiters(db) == 0, 3, message="the timed-out query to be cancelled")
    lock.release()
    r = srv.api.get(REGION, timeout=5)
    assert r.status == 200, f"connection unusable after a timeout: {r!r}"
    for _ in range(5):  # every connection of the pool is fine
        assert srv.api.get(REGION, timeout=5).status == 200


# ---------------------------------------------------------------- bounded queue

def test_bounded_queue_sheds_load_with_503(spawn, table_lock, db):
    srv = spawn({"YIZHAN_THREADS": "1", "YIZHAN_DB_CONNS": "1", "YIZHAN_DB_QUEUE_MAX": "4",
                 "YIZHAN_QUERY_TIMEOUT_MS": "60000"})
    assert srv.api.get(REGION).status == 200
    lock = table_lock()

    n = 20
    results = [None] * n
    barrier = threading.Barrier(n)
    t_fire = time.monotonic()

    def worker(i):
        client = Api(srv.url, timeout=60)
        barrier.wait()
        t0 = time.monotonic()
        try:
            r = client.get(REGION)
            results[i] = (r, time.monotonic() - t0, time.monotonic())
        except Exception as e:  # noqa: BLE001
            results[i] = (e, time.monotonic() - t0, time.monotonic())
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: sum(1 for x in results if x is not None) >= n - 4, 5,
                   message="the requests beyond the queue bound to be refused")
        time.sleep(1.0)
        m = parse_prometheus(srv.api.get("/metrics", timeout=5).content.decode(), strict=False)
        depth = m.value("yizhan_db_queue_depth")
        assert _lock_waiters(db) >= 1
    finally:
        t_release = time.monotonic()
        lock.release()
    for t in threads:
        t.join(30)
    assert all(x is not None for x in results), "some requests never finished"
    errors = [x[0] for x in results if not hasattr(x[0], "status")]
    assert not errors, f"transport errors: {errors[:3]}"

    shed = [x for x in results if x[0].status == 503]
    served = [x for x in results if x[0].status != 503]
    assert len(shed) >= n - 4, f"only {len(shed)} of {n} requests got 503 with DB_QUEUE_MAX=4"
    assert 1 <= len(served) <= 4, f"{len(served)} requests admitted with DB_QUEUE_MAX=4"
    for r, took, t_end in shed:
        assert_problem(r, 503)
        assert t_end < t_release, "a refusal waited for the lock to be released"
        assert r.headers.get("Retry-After"), f"503 without Retry-After: {r!r}"
        assert took < 2.0, f"a shed request took {took:.2f}s; it must be refused at once"
    for r, took, t_end in served:
        assert r.status in (200, 504), r
        assert t_end >= t_release, "an admitted request finished while the table was locked"
    assert any(r.status == 200 for r, _, _ in served), [r.status for r, _, _ in served]
    assert depth >= 1, f"yizhan_db_queue_depth was {depth} with queries waiting"
    # afterwards the server works normally
    assert srv.api.get(REGION).status == 200


def test_db_conns_per_thread(spawn):
    srv = spawn({"YIZHAN_THREADS": "2", "YIZHAN_DB_CONNS": "3"})
    assert _db_up(srv) == 6, "THREADS=2 × DB_CONNS=3 should give 6 database connections"


# ---------------------------------------------------------------- shared batches
