"""Registration numbers under concurrency: `YYYY` + the office's region code + a six-digit serial
per office and year, gap-free and unique even when officers register at the same moment
(registration_counters row-locked inside the registering transaction)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (NO_SCAN, V1, assert_problem, contract_body, contract_row, counter, create_contract,
                               make_actor, new_office, new_org, query, reg_no_re, submit, today)
from helpers import Api

pytestmark = pytest.mark.slow  # make test-fast leaves it out: 32 officers registering at the same moment

WORKERS = 32


@pytest.fixture(scope="module")
def setup(users, cdb):
    admin = make_actor(users, "admin")
    return admin


def _office_with_submissions(api, cdb, users, admin, n):
    office = new_office(cdb)
    officer = make_actor(users, "officer", office=office["id"])
    seller = new_org(cdb, office["region_code"], org_type="022")
    buyer = new_org(cdb, office["region_code"], org_type="150")
    ids = []
    for i in range(n):
        c = create_contract(api, admin["h"], contract_body(cdb, seller, buyer, amount=10_000_000 + i * 100,
                                                           technical=9_000_000))
        submit(api, admin["h"], c["id"])
        ids.append(c["id"])
    return office, officer, ids


class _Clients:
    """One HTTP session per worker thread."""

    def __init__(self, url):
        self.url = url
        self.local = threading.local()
        self.all = []
        self.lock = threading.Lock()

    def get(self):
        a = getattr(self.local, "api", None)
        if a is None:
            a = self.local.api = Api(self.url, timeout=30)
            with self.lock:
                self.all.append(a)
        return a

    def close(self):
        for a in self.all:
            a.close()


def _register_all(server, officer, ids, body=None):
    clients = _Clients(server.url)
    start = threading.Barrier(min(WORKERS, len(ids)))

    def one(cid):
        api = clients.get()
        try:
            start.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return cid, api.post(f"{V1}/contracts/{cid}/register", json={**NO_SCAN, **(body or {})}, headers=officer["h"])

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as ex:
            return list(ex.map(one, ids))
    finally:
        clients.close()


def test_hundred_concurrent_registrations_get_serials_1_to_100(api, server, users, cdb, setup):
    office, officer, ids = _office_with_submissions(api, cdb, users, setup, 100)
    year = today(cdb).year
    fmt = reg_no_re(year, office["region_code"])
    results = _register_all(server, officer, ids)

    bad = [(cid, r.status, r.content[:200]) for cid, r in results if r.status != 200]
    assert not bad, f"{len(bad)} registrations failed: {bad[:5]}"
    serials = []
    for cid, r in results:
        no = r.body["registration_no"]
        m = fmt.match(no)
        assert m, f"registration number {no!r} is not {year} + {office['region_code']} + 6 digits"
        serials.append(int(m.group(1)))
        assert r.body["id"] == cid and r.body["status"] == "registered"
    assert sorted(serials) == list(range(1, 101)), "serials are not exactly 1..100, each once"

    rows = query(cdb, "SELECT id, status, registration_no, registration_year, registration_serial FROM contracts"
                      " WHERE office_id = %s ORDER BY registration_serial", office["id"])
    assert len(rows) == 100
    assert [r["registration_serial"] for r in rows] == list(range(1, 101))
    for r in rows:
        assert r["status"] == "registered" and r["registration_year"] == year
        assert r["registration_no"] == f"{year}{office['region_code']}{r['registration_serial']:06d}"
    by_id = {cid: resp.body["registration_no"] for cid, resp in results}
    assert all(by_id[r["id"]] == r["registration_no"] for r in rows), "responses disagree with the database"
    assert counter(cdb, office["id"]) == [(year, 100)]
    # one audit entry per registration, by the officer
    audit = query(cdb, "SELECT entity_id, actor_user_id FROM audit_log WHERE entity = 'contract' AND action = 'register'"
                       " AND entity_id = ANY(%s)", [str(i) for i in ids])
    assert sorted(int(a["entity_id"]) for a in audit) == sorted(ids)
    assert {a["actor_user_id"] for a in audit} == {officer["id"]}


def test_twenty_concurrent_registrations_of_one_contract(api, server, users, cdb, setup):
    office, officer, ids = _office_with_submissions(api, cdb, users, setup, 1)
    cid = ids[0]
    results = _register_all(server, officer, [cid] * 20)
    statuses = sorted(r.status for _, r in results)
    assert statuses == [200] + [409] * 19, statuses
    for _, r in results:
        if r.status == 409:
            assert_problem(r, 409)
    winner = [r for _, r in results if r.status == 200][0]
    year = today(cdb).year
    assert winner.body["registration_no"] == f"{year}{office['region_code']}000001"
    row = contract_row(cdb, cid)
    assert (row["status"], row["registration_serial"], row["registration_no"]) == \
        ("registered", 1, winner.body["registration_no"])
    assert counter(cdb, office["id"]) == [(year, 1)], "a refused double registration consumed a serial"
    n = query(cdb, "SELECT count(*) AS n FROM audit_log WHERE entity = 'contract' AND entity_id = %s"
                   " AND action = 'register'", str(cid))[0]["n"]
    assert n == 1
    # the next registration in that office continues without a gap
    seller = new_org(cdb, office["region_code"])
    buyer = new_org(cdb, office["region_code"])
    c = create_contract(api, setup["h"], contract_body(cdb, seller, buyer))
    submit(api, setup["h"], c["id"])
    r = api.post(f"{V1}/contracts/{c['id']}/register", json=NO_SCAN, headers=officer["h"])
    assert r.status == 200 and r.body["registration_no"].endswith("000002"), r


def test_two_offices_registering_at_once_keep_separate_gap_free_series(api, server, users, cdb, setup):
    o1, officer1, ids1 = _office_with_submissions(api, cdb, users, setup, 30)
    o2, officer2, ids2 = _office_with_submissions(api, cdb, users, setup, 30)
    clients = _Clients(server.url)
    jobs = [(cid, officer1) for cid in ids1] + [(cid, officer2) for cid in ids2]
    jobs = [j for pair in zip(jobs[:30], jobs[30:]) for j in pair]  # interleave the offices

    def one(job):
        cid, officer = job
        return cid, clients.get().post(f"{V1}/contracts/{cid}/register", json=NO_SCAN, headers=officer["h"])

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as ex:
            results = list(ex.map(one, jobs))
    finally:
        clients.close()
    assert all(r.status == 200 for _, r in results), [r for _, r in results if r.status != 200][:3]
    year = today(cdb).year
    for office, ids in ((o1, ids1), (o2, ids2)):
        rows = query(cdb, "SELECT registration_serial, registration_no FROM contracts WHERE id = ANY(%s)"
                          " ORDER BY registration_serial", ids)
        assert [r["registration_serial"] for r in rows] == list(range(1, 31))
        assert all(r["registration_no"][4:10] == office["region_code"] for r in rows)
        assert counter(cdb, office["id"]) == [(year, 30)]


def test_concurrent_payments_never_exceed_the_contract_amount(api, server, users, cdb, setup):
    office, officer, ids = _office_with_submissions(api, cdb, users, setup, 1)
    cid = ids[0]
    r = api.post(f"{V1}/contracts/{cid}/register", json=NO_SCAN, headers=officer["h"])
    assert r.status == 200, r
    amount = contract_row(cdb, cid)["contract_amount_fen"]
    part = amount * 3 // 10  # 30 %: at most three fit
    clients = _Clients(server.url)
    start = threading.Barrier(12)
    t = today(cdb).isoformat()

    def one(_):
        a = clients.get()
        try:
            start.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return a.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": part, "received_on": t},
                      headers=officer["h"])

    try:
        with ThreadPoolExecutor(max_workers=12) as ex:
            results = list(ex.map(one, range(12)))
    finally:
        clients.close()
    statuses = sorted(r.status for r in results)
    assert statuses == [201] * 3 + [422] * 9, statuses
    row = contract_row(cdb, cid)
    assert row["received_amount_fen"] == 3 * part <= amount
    assert query(cdb, "SELECT coalesce(sum(amount_fen), 0) AS s FROM contract_payments WHERE contract_id = %s",
                 cid)[0]["s"] == 3 * part
