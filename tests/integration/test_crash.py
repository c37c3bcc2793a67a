"""Crash tests: `kill -9` of the server, and an immediate stop of PostgreSQL, under a write load.

An extra server on its own PostgreSQL cluster (started here with synchronous_commit=on, so that a commit
PostgreSQL acknowledged survives its crash) takes a write load from several threads:

* POST /api/v1/auth/register with unique emails (a new organisation each); a failed request is retried
  with the same body, and 409 "email already exists" then means the first attempt was done;
* POST /api/v1/contracts as a member with unique titles: no Idempotency-Key, so a request whose fate is
  unknown (sent, then the connection broke) is not retried — it must exist at most once;
* POST /api/v1/results with an Idempotency-Key when the server serves it: retried with the same key
  until acknowledged, so each must exist exactly once.

Afterwards every write the server acknowledged (2xx) is in the database exactly once, nothing is
half-written (every user of a registration has its organisation, every created org / user / contract /
result has exactly one creating audit entry), and `yizhan audit verify` passes.

PostgreSQL crash: while it is down requests get 503 with Retry-After within 1 s; the server reconnects
by itself once it is back; the same checks hold.
"""

import os
import secrets
import shlex
import threading
import time
import uuid

import pytest
import requests

import conftest
from contract_fixtures import contract_body, new_office, new_org
from helpers import Api, assert_problem, query
from sweep_fixtures import V1, email, org_body, password

LOAD_THREADS = {"register": 2, "contract": 2, "result": 2}
REGION_PATH = f"{V1}/codes/regions/511900"


class DurableCluster(conftest.PgCluster):
    """The harness's cluster, but with commits flushed: an immediate stop must not lose
    acknowledged transactions."""

    def start(self):
        opts = (f"-c listen_addresses='' -k {shlex.quote(str(self.dir))} -p {self.port} "
                f"-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=100")
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log), "-o", opts)
        self.running = True
        return self


@pytest.fixture
def crash_pg(request, stack):
    conftest.require_binary()
    cluster = DurableCluster("crash")
    request.addfinalizer(cluster.cleanup)
    cluster.init().start()
    cluster.create_database("yizhan")
    conftest.migrate_or_fail(stack, dsn=cluster.dsn())
    return cluster


class Cast:
    pass


@pytest.fixture
def cast(crash_pg, stack):
    db = crash_pg.connect()
    c = Cast()
    c.db = db
    c.office = new_office(db)
    c.region = c.office["region_code"]
    c.seller = new_org(db, c.region, org_type="022")
    c.buyer = new_org(db, c.region, org_type="150")
    c.member = {"email": email("crash"), "password": password()}
    pwfile = stack.workdir / f"pw-{uuid.uuid4().hex[:8]}"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, c.member["password"].encode())
    os.close(fd)
    p = stack.run(["user", "create", "--email", c.member["email"], "--password-file", str(pwfile), "--role",
                   "member", "--org", str(c.seller["id"])], dsn=crash_pg.dsn())
    pwfile.unlink()
    assert p.returncode == 0, p.stderr
    c.fixture_orgs = {c.seller["id"], c.buyer["id"]}   # inserted by SQL, without audit entries
    c.fixture_users = {r["id"] for r in query(db, "SELECT id FROM users")}  # `yizhan user create` (not audited)
    c.template = contract_body(db, c.seller, c.buyer)
    with db.cursor() as cur:  # the load comes from one address: lift the per-address limits
        for key in ("register_limit_per_ip", "login_limit_per_ip", "login_limit_per_account"):
            cur.execute("UPDATE settings SET value = jsonb_set(value, '{max}', '1000000') WHERE key = %s", (key,))
    yield c
    db.close()


def _ambiguous(exc):
    """True when a request may have reached the server (its outcome is unknown)."""
    text = repr(exc)
    return not ("Connection refused" in text or "ConnectionRefusedError" in text
                or "NewConnectionError" in text)


class Load:
    """Writer threads with their ledgers."""

    def __init__(self, srv, cast, with_results):
        self.srv = srv
        self.cast = cast
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reg_acked = {}      # email -> user id (2xx)
        self.reg_done409 = set()
        self.reg_unknown = set()
        self.con_acked = {}      # title -> contract id
        self.con_unknown = set()
        self.res_acked = {}      # idempotency key -> result id
        self.res_pending = {}    # key -> title, never acknowledged
        self.res_replayed = 0
        self.statuses = {}
        self.errors = []
        self.with_results = with_results
        self.token = None
        self.threads = []
        self.ack_times = []

    def count(self, kind, status):
        if isinstance(status, int) and 200 <= status < 300:
            self.ack_times.append(time.monotonic())
        with self.lock:
            self.statuses.setdefault(kind, {}).setdefault(status, 0)
            self.statuses[kind][status] += 1

    def member_headers(self, api):
        while not self.stop.is_set():
            if self.token:
                return {"Authorization": f"Bearer {self.token}"}
            try:
                r = api.post(f"{V1}/auth/login", json=self.cast.member, timeout=10)
            except requests.RequestException:
                time.sleep(0.1)
                continue
            if r.status == 200:
                self.token = r.body["access_token"]
            else:
                time.sleep(0.2)
        return {}

    def _send(self, api, kind, method, path, body, headers=None):
        try:
            r = api.request(method, path, json=body, headers=headers, timeout=10)
        except requests.RequestException as e:
            self.count(kind, "error")
            return None, _ambiguous(e)
        self.count(kind, r.status)
        if r.status >= 500 and r.status != 503 and r.status != 504:
            with self.lock:
                self.errors.append(f"{kind}: {r.status} {r.content[:200]!r}")
        if r.status in (503, 504):
            if not r.headers.get("Retry-After") and r.status == 503:
                with self.lock:
                    self.errors.append(f"{kind}: 503 without Retry-After")
        return r, False

    def register_loop(self):
        api = Api(self.srv.url)
        while not self.stop.is_set():
            body = {"email": email("load"), "password": password(), "display_name": "压测",
                    "org": org_body(self.cast.region)}
            ambiguous = False   # an earlier attempt may have been done
            while True:
                r, amb = self._send(api, "register", "POST", f"{V1}/auth/register", body)
                if r is not None and r.status == 201:
                    with self.lock:
                        self.reg_acked[body["email"]] = r.body["user"]["id"]
                    break
                if r is not None and r.status == 409:
                    with self.lock:
                        if ambiguous:
                            self.reg_done409.add(body["email"])
                        else:
                            self.errors.append(f"register: 409 for a fresh email {body['email']}: {r.content[:200]!r}")
                    break
                if r is not None and r.status not in (503, 504, 429):
                    with self.lock:
                        self.errors.append(f"register: unexpected {r.status} {r.content[:200]!r}")
                    break
                ambiguous = True  # a failed attempt (connection error, 503, 504) may have committed
                if self.stop.is_set():
                    if ambiguous:
                        with self.lock:
                            self.reg_unknown.add(body["email"])
                    return
                time.sleep(0.05)
                api.close()
                api = Api(self.srv.url)
        api.close()

    def contract_loop(self):
        api = Api(self.srv.url)
        while not self.stop.is_set():
            h = self.member_headers(api)
            body = dict(self.cast.template, title="压测合同 " + uuid.uuid4().hex)
            while True:
                r, amb = self._send(api, "contract", "POST", f"{V1}/contracts", body, headers=h)
                if r is not None and r.status == 201:
                    with self.lock:
                        self.con_acked[body["title"]] = r.body["id"]
                    break
                if r is None and amb or (r is not None and r.status == 504):
                    with self.lock:
                        self.con_unknown.add(body["title"])   # not retried: no idempotency key
                    break
                if r is not None and r.status == 401:
                    self.token = None
                    h = self.member_headers(api)
                elif r is not None and r.status == 503:
                    # "database unavailable": the statement may have been sent when the link broke
                    with self.lock:
                        self.con_unknown.add(body["title"])
                    break
                elif r is not None and r.status not in (429,):
                    with self.lock:
                        self.errors.append(f"contract: unexpected {r.status} {r.content[:200]!r}")
                    break
                if self.stop.is_set():
                    return
                time.sleep(0.05)
                api.close()
                api = Api(self.srv.url)
        api.close()

    def result_loop(self):
        api = Api(self.srv.url)
        while not self.stop.is_set():
            key = "crash-" + secrets.token_hex(12)
            body = {"title": "压测成果 " + key}
            with self.lock:
                self.res_pending[key] = body["title"]
            while True:
                h = {**self.member_headers(api), "Idempotency-Key": key}
                r, _ = self._send(api, "result", "POST", f"{V1}/results", body, headers=h)
                if r is not None and r.status == 201:
                    with self.lock:
                        self.res_acked[key] = r.body["id"]
                        self.res_pending.pop(key, None)
                        if r.headers.get("Idempotent-Replayed") == "true":
                            self.res_replayed += 1
                    break
                if r is not None and r.status == 401:
                    self.token = None
                elif r is not None and r.status not in (503, 504, 429, 409):
                    with self.lock:
                        self.errors.append(f"result: unexpected {r.status} {r.content[:200]!r}")
                    break
                if self.stop.is_set():
                    break
                time.sleep(0.05)
                api.close()
                api = Api(self.srv.url)
        api.close()

    def start(self):
        for kind, n in LOAD_THREADS.items():
            if kind == "result" and not self.with_results:
                continue
            fn = {"register": self.register_loop, "contract": self.contract_loop, "result": self.result_loop}[kind]
            for _ in range(n):
                t = threading.Thread(target=fn, daemon=True)
                t.start()
                self.threads.append(t)

    def finish(self, timeout=60):
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def finish_results(self, timeout=30):
        """Retry every result that was never acknowledged (same key) until it is."""
        api = Api(self.srv.url)
        deadline = time.monotonic() + timeout
        self.stop.clear()
        for key, title in list(self.res_pending.items()):
            while time.monotonic() < deadline:
                h = {**self.member_headers(api), "Idempotency-Key": key}
                r, _ = self._send(api, "result", "POST", f"{V1}/results", {"title": title}, headers=h)
                if r is not None and r.status == 201:
                    self.res_acked[key] = r.body["id"]
                    self.res_pending.pop(key, None)
                    break
                time.sleep(0.2)
        self.stop.set()
        api.close()


def serves_results(srv, cast):
    api = Api(srv.url)
    try:
        r = api.post(f"{V1}/auth/login", json=cast.member)
        assert r.status == 200, r
        h = {"Authorization": f"Bearer {r.body['access_token']}"}
        r = api.post(f"{V1}/results", json={}, headers=h)
        detail = r.body.get("detail") if isinstance(r.body, dict) else None
        return not (r.status == 404 and detail == "no such resource")
    finally:
        api.close()


def check_exactly_once(db, load, stack, dsn, skip_orgs=(), skip_users=()):
    problems = []
    # registrations
    for em, uid in load.reg_acked.items():
        rows = query(db, "SELECT id, org_id FROM users WHERE lower(email) = lower(%s)", em)
        if len(rows) != 1 or rows[0]["id"] != uid:
            problems.append(f"acknowledged registration {em} (user {uid}): rows {rows}")
    for em in load.reg_done409:
        n = query(db, "SELECT count(*) AS n FROM users WHERE lower(email) = lower(%s)", em)[0]["n"]
        if n != 1:
            problems.append(f"registration {em} answered 409 on retry but {n} users exist")
    for em in load.reg_unknown:
        n = query(db, "SELECT count(*) AS n FROM users WHERE lower(email) = lower(%s)", em)[0]["n"]
        if n > 1:
            problems.append(f"registration {em} of unknown outcome exists {n} times")
    # contracts
    for title, cid in load.con_acked.items():
        rows = query(db, "SELECT id FROM contracts WHERE title = %s", title)
        if [r["id"] for r in rows] != [cid]:
            problems.append(f"acknowledged contract {title!r} (id {cid}): rows {rows}")
    for title in load.con_unknown:
        n = query(db, "SELECT count(*) AS n FROM contracts WHERE title = %s", title)[0]["n"]
        if n > 1:
            problems.append(f"contract {title!r} of unknown outcome exists {n} times")
    # results (idempotent: every one acknowledged in the end, exactly once)
    if load.with_results:
        if load.res_pending:
            problems.append(f"{len(load.res_pending)} results never acknowledged despite retries with their key")
        for key, rid in load.res_acked.items():
            rows = query(db, "SELECT id FROM results WHERE title = %s", "压测成果 " + key)
            if [r["id"] for r in rows] != [rid]:
                problems.append(f"result with Idempotency-Key {key} (id {rid}): rows {rows}")
    # nothing half-written
    half = query(db, "SELECT u.id, u.email FROM users u WHERE u.role IN ('member', 'broker') AND "
                     "(u.org_id IS NULL OR NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = u.org_id))")
    if half:
        problems.append(f"members without their organisation: {half[:5]}")
    for entity, table, actions in (("org", "orgs", ("create",)), ("user", "users", ("register", "create")),
                                   ("contract", "contracts", ("create",)), ("result", "results", ("create",))):
        if not query(db, "SELECT 1 AS x FROM information_schema.tables WHERE table_name = %s", table):
            continue
        bad = query(db, f"""
            SELECT t.id, (SELECT count(*) FROM audit_log a WHERE a.entity = %s AND a.entity_id = t.id::text
                          AND a.action = ANY(%s)) AS n
            FROM {table} t""", entity, list(actions))
        # users made by `yizhan user create` (the member) are audited as create by the CLI too
        skip = skip_orgs if table == "orgs" else skip_users if table == "users" else ()
        wrong = [(b["id"], b["n"]) for b in bad if b["n"] != 1 and b["id"] not in skip]
        if wrong:
            problems.append(f"{table} without exactly one creating audit entry ({'/'.join(actions)}): {wrong[:10]}")
    p = stack.run(["audit", "verify"], dsn=dsn)
    if p.returncode != 0:
        problems.append(f"`yizhan audit verify` failed ({p.returncode}): {p.stdout} {p.stderr}")
    return problems


def test_kill_9_under_write_load_loses_and_duplicates_nothing(spawn, stack, crash_pg, cast):
    srv = spawn({"YIZHAN_THREADS": "2"}, dsn=crash_pg.dsn(), label="crash")
    load = Load(srv, cast, serves_results(srv, cast))
    load.start()
    try:
        for round_ in range(3):
            time.sleep(2.0)
            srv.proc.kill()          # kill -9
            srv.proc.wait()
            time.sleep(0.3)
            srv.start()
            srv.wait_ready(15)
        time.sleep(2.0)
    finally:
        load.finish()
    if load.with_results:
        load.finish_results()
    st = load.statuses
    assert load.reg_acked and load.con_acked, f"the load made no progress: {st}"
    assert not load.errors, "unexpected answers under load:\n  " + "\n  ".join(load.errors[:20])
    problems = check_exactly_once(cast.db, load, stack, crash_pg.dsn(), cast.fixture_orgs,
                                  cast.fixture_users)
    assert not problems, f"after 3 × kill -9 (statuses {st}):\n  " + "\n  ".join(problems)


def test_postgres_crash_under_write_load(spawn, stack, crash_pg, cast):
    srv = spawn({"YIZHAN_THREADS": "2", "YIZHAN_QUERY_TIMEOUT_MS": "5000"}, dsn=crash_pg.dsn(), label="pgcrash")
    with_results = serves_results(srv, cast)
    load = Load(srv, cast, with_results)
    load.start()
    probes = []
    try:
        time.sleep(2.0)
        crash_pg.stop("immediate")
        t_down = time.monotonic()
        probe = Api(srv.url)
        while time.monotonic() - t_down < 3.0:
            for method, path, body in (("GET", REGION_PATH, None),
                                       ("POST", f"{V1}/auth/register",
                                        {"email": email("down"), "password": password(), "display_name": "宕机",
                                         "org": org_body(cast.region)})):
                t0 = time.monotonic()
                try:
                    r = probe.request(method, path, json=body, timeout=5)
                    probes.append((method, path, r.status, time.monotonic() - t0, r))
                except requests.RequestException as e:
                    probes.append((method, path, repr(e), time.monotonic() - t0, None))
            time.sleep(0.2)
        probe.close()
        crash_pg.start()
        t_up = time.monotonic()
        recovered = None
        api = Api(srv.url)
        while time.monotonic() - t_up < 15:
            try:
                if api.get(REGION_PATH, timeout=5).status == 200:
                    recovered = time.monotonic() - t_up
                    break
            except requests.RequestException:
                pass
            time.sleep(0.25)
        api.close()
        time.sleep(2.0)
    finally:
        load.finish()
    if load.with_results:
        load.finish_results()
    cast.db.close()  # died with PostgreSQL: reconnect for the checks
    cast.db = crash_pg.connect()
    assert srv.alive(), f"the server exited while PostgreSQL was down: {srv.log_tail(20)}"
    bad = []
    for method, path, status, dt, r in probes:
        if status != 503:
            bad.append(f"{method} {path}: {status} (expected 503)")
            continue
        if dt > 1.0:
            bad.append(f"{method} {path}: 503 only after {dt:.2f}s")
        try:
            assert_problem(r, 503)
        except AssertionError as e:
            bad.append(f"{method} {path}: {e}")
        if not r.headers.get("Retry-After"):
            bad.append(f"{method} {path}: 503 without Retry-After")
    assert probes and not bad, "while PostgreSQL was down:\n  " + "\n  ".join(sorted(set(bad))[:20])
    assert recovered is not None, "the server did not recover within 15 s of PostgreSQL coming back"
    after = [t for t in load.ack_times if t > t_up + recovered]
    assert after, f"the write load made no progress after the recovery: {load.statuses}"
    assert any(v.get(503) for v in load.statuses.values()), f"the load never saw the outage: {load.statuses}"
    assert not load.errors, "unexpected answers under load:\n  " + "\n  ".join(load.errors[:20])
    problems = check_exactly_once(cast.db, load, stack, crash_pg.dsn(), cast.fixture_orgs,
                                  cast.fixture_users)
    assert not problems, f"after a PostgreSQL crash (statuses {load.statuses}):\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- signals during the drain

def test_second_sigterm_during_drain_does_not_kill_the_server(spawn, pg, db):
    """SIGTERM starts the drain; a second SIGTERM (or SIGINT: an impatient operator, a supervisor
    repeating itself) must not kill the process with the in-flight request unanswered.  Every thread
    but the one waiting in sigwait() must block SIGTERM/SIGINT — threads started before the mask is
    set (the password-hashing and export pools) would otherwise take the default action: exit at once."""
    import signal
    import subprocess
    srv = spawn({"YIZHAN_QUERY_TIMEOUT_MS": "30000", "YIZHAN_SHUTDOWN_TIMEOUT_MS": "15000"})
    pid = srv.proc.pid
    unblocked = []
    for t in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            st = open(f"/proc/{pid}/task/{t}/status").read()
        except OSError:
            continue
        blk = int(next(ln for ln in st.splitlines() if ln.startswith("SigBlk")).split()[1], 16)
        if int(t) != pid and not blk & (1 << (signal.SIGTERM - 1)):
            unblocked.append(int(t))
    assert srv.api.get(REGION_PATH).status == 200
    lock = pg.connect(autocommit=False)
    result = {}
    try:
        with lock.cursor() as cur:
            cur.execute("LOCK TABLE regions IN ACCESS EXCLUSIVE MODE")

        def slow():
            try:
                result["r"] = Api(srv.url, timeout=30).get(REGION_PATH)
            except Exception as e:  # noqa: BLE001
                result["e"] = e
        t = threading.Thread(target=slow)
        t.start()
        deadline = time.monotonic() + 5
        while query(db, "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = 'yizhan'")[0]["n"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        srv.signal(signal.SIGTERM)
        time.sleep(0.5)
        for _ in range(5):
            srv.signal(signal.SIGTERM)
            time.sleep(0.05)
        time.sleep(0.5)
        alive = srv.alive()
    finally:
        lock.rollback()
        lock.close()
    t.join(15)
    try:
        code = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        code = "still running 10 s later"
    assert alive and "e" not in result and code == 0, (
        f"a second SIGTERM during the drain: alive after it={alive}, in-flight request "
        f"{result.get('r') or result.get('e')!r}, exit code {code}; threads that do not block SIGTERM "
        f"(besides the main thread): {unblocked}")
