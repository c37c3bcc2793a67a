"""The audit log: rows written with actor and request id in the same transaction as the
change, the history and verify endpoints, the CLI check, tamper detection (on a separate
database and server: tampering breaks the chain for good), concurrent writers, and the
append-only guarantees (trigger and the privileges of role yizhan_app)."""

import json
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import (V1, assert_problem, audit_for_request, email, new_org, org_body, password, query,
                           register_body, uniq)
from helpers import Api

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _chain_links_ok(db):
    """Every entry's prev_hash is the previous entry's hash (the first: 64 zeros)."""
    bad = query(db, """
        SELECT id, prev_hash, lag(hash) OVER (ORDER BY id) AS expected FROM audit_log ORDER BY id""")
    broken = [r["id"] for i, r in enumerate(bad)
              if r["prev_hash"] != (r["expected"] if i else "0" * 64)]
    return broken


# ====================================================================== rows

def test_each_kind_of_change_is_audited_with_actor_and_request_id(api, adb, world):
    h = world.admin["h"]
    rid = "acct-" + uuid.uuid4().hex[:16]
    r = api.post(f"{V1}/orgs", json=org_body(), headers={**h, "X-Request-Id": rid})
    assert r.status == 201 and r.headers["X-Request-Id"] == rid
    org = r.body
    writes = [
        ("org", str(org["id"]), "create", r, world.admin),
        ("org", str(org["id"]), "update",
         api.patch(f"{V1}/orgs/{org['id']}", json={"contact_name": "甲"}, headers=world.admin["h"]), world.admin),
        ("org", str(org["id"]), "verified",
         api.post(f"{V1}/orgs/{org['id']}/verify", json={"decision": "verified"}, headers=world.reviewer["h"]),
         world.reviewer),
    ]
    inv = api.post(f"{V1}/orgs/{world.org_a['id']}/invitations", json={}, headers=world.member_a["h"])
    writes.append(("invitation", str(inv.body["id"]), "create", inv, world.member_a))
    u = api.post(f"{V1}/users", json={"email": email(), "password": password(), "role": "reviewer"}, headers=h)
    writes.append(("user", str(u.body["id"]), "create", u, world.admin))
    up = api.patch(f"{V1}/users/{u.body['id']}", json={"display_name": "乙"}, headers=h)
    writes.append(("user", str(u.body["id"]), "update", up, world.admin))
    of = api.patch(f"{V1}/offices/{world.office['id']}", json={"name": "登记处 " + uniq()}, headers=h)
    writes.append(("office", str(world.office["id"]), "update", of, world.admin))
    for entity, eid, action, resp, actor in writes:
        assert resp.status in (200, 201), resp
        rows = audit_for_request(adb, resp.headers["X-Request-Id"])
        assert len(rows) == 1, (entity, action, rows)
        a = rows[0]
        assert (a["entity"], a["entity_id"], a["action"]) == (entity, eid, action)
        assert a["actor_user_id"] == int(actor["id"]) and a["actor_role"] == actor["role"]
        assert a["at"] is not None and HEX64.match(a["hash"]) and HEX64.match(a["prev_hash"])
        if action == "create":
            assert a["before"] is None and a["after"]
        else:
            assert a["before"] and a["after"] and a["before"] != a["after"]
    assert not _chain_links_ok(adb)


def test_refused_write_leaves_no_audit_row(api, adb, world):
    n = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    r = api.patch(f"{V1}/orgs/{world.org_a['id']}", json={"contact_name": "x"},
                  headers={**world.admin["h"], "If-Match": '"999999"'})
    assert_problem(r, 412)
    r2 = api.post(f"{V1}/orgs", json=org_body(org_type="999"), headers=world.admin["h"])
    assert_problem(r2, 422)
    assert query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"] == n
    assert not audit_for_request(adb, r.headers["X-Request-Id"])
    assert not audit_for_request(adb, r2.headers["X-Request-Id"])


def test_refused_registration_leaves_neither_org_nor_audit(api, adb, world):
    """A registration refused in the database (duplicate email) leaves no org and no entry."""
    first = register_body()
    assert api.post(f"{V1}/auth/register", json=first).status == 201
    n = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    body = register_body(email=first["email"].upper())
    r = api.post(f"{V1}/auth/register", json=body)
    assert_problem(r, 409)
    assert not query(adb, "SELECT 1 FROM orgs WHERE credit_code = %s", body["org"]["credit_code"])
    assert query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"] == n


# ====================================================================== history endpoint

def test_history_endpoint(api, adb, world):
    h = world.admin["h"]
    org = new_org(api, h)
    rids = [None]
    for name in ("一", "二"):
        r = api.patch(f"{V1}/orgs/{org['id']}", json={"contact_name": name}, headers=h)
        assert r.status == 200
        rids.append(r.headers["X-Request-Id"])
    r = api.post(f"{V1}/orgs/{org['id']}/verify", json={"decision": "verified"}, headers=world.reviewer["h"])
    rids.append(r.headers["X-Request-Id"])
    for who in ("admin", "bureau"):
        r = api.get(f"{V1}/audit", params={"entity": "org", "id": str(org["id"])}, headers=getattr(world, who)["h"])
        assert r.status == 200, r
        items = r.body["items"]
        assert [i["action"] for i in items] == ["create", "update", "update", "verified"]
        assert [i["request_id"] for i in items][1:] == rids[1:]
        assert all(i["entity"] == "org" and i["entity_id"] == str(org["id"]) for i in items)
        assert [i["id"] for i in items] == sorted(i["id"] for i in items)
        assert items[1]["before"]["contact_name"] is None and items[1]["after"]["contact_name"] == "一"
        assert items[3]["actor_user_id"] == int(world.reviewer["id"]) and items[3]["actor_role"] == "reviewer"
        assert set(items[0]) >= {"id", "at", "actor_user_id", "actor_role", "request_id", "entity", "entity_id",
                                 "action", "before", "after", "hash"}
        assert r.body["next_cursor"] is None
    # pages
    r = api.get(f"{V1}/audit", params={"entity": "org", "id": str(org["id"]), "limit": "3"}, headers=h)
    assert len(r.body["items"]) == 3 and r.body["next_cursor"]
    r2 = api.get(f"{V1}/audit", params={"entity": "org", "id": str(org["id"]), "limit": "3",
                                        "cursor": r.body["next_cursor"]}, headers=h)
    assert [i["action"] for i in r2.body["items"]] == ["verified"] and r2.body["next_cursor"] is None
    # tampered cursor
    bad = r.body["next_cursor"][:-2] + ("AA" if not r.body["next_cursor"].endswith("AA") else "BB")
    assert_problem(api.get(f"{V1}/audit", params={"entity": "org", "id": str(org["id"]), "cursor": bad},
                           headers=h), 400)
    # other objects are not mixed in
    r = api.get(f"{V1}/audit", params={"entity": "user", "id": str(org["id"])}, headers=h)
    assert all(i["entity"] == "user" for i in r.body["items"])


@pytest.mark.parametrize("params", [{"id": "1"}, {"entity": "org", "id": "1", "limit": "0"}, {"limit": "101"},
                                    {"entity": "org", "limit": "0"}])
def test_history_bad_query(api, world, params):
    assert_problem(api.get(f"{V1}/audit", params=params, headers=world.admin["h"]), 400)


def test_the_log_newest_first(api, adb, world):
    """Without an id: the log itself, newest first, of every kind of object or of one; paged."""
    h = world.admin["h"]
    org = new_org(api, h, name="日志单位 " + uniq())
    api.patch(f"{V1}/orgs/{org['id']}", json={"contact_name": "日志"}, headers=h)
    for who in ("admin", "bureau"):
        r = api.get(f"{V1}/audit", params={"limit": "5"}, headers=getattr(world, who)["h"])
        assert r.status == 200, r
        ids = [i["id"] for i in r.body["items"]]
        assert ids == sorted(ids, reverse=True) and len(ids) == 5 and r.body["next_cursor"]
        newest = query(adb, "SELECT max(id) AS m FROM audit_log")[0]["m"]
        assert ids[0] == newest
    r = api.get(f"{V1}/audit", params={"entity": "org", "limit": "2"}, headers=h)
    assert [(i["entity"], i["entity_id"], i["action"]) for i in r.body["items"]] == \
        [("org", str(org["id"]), "update"), ("org", str(org["id"]), "create")]
    r2 = api.get(f"{V1}/audit", params={"entity": "org", "limit": "2", "cursor": r.body["next_cursor"]}, headers=h)
    assert r2.status == 200 and all(i["id"] < r.body["items"][-1]["id"] for i in r2.body["items"])
    assert all(i["entity"] == "org" for i in r2.body["items"])


@pytest.mark.parametrize("who", ["member_a", "broker", "reviewer", "officer"])
def test_history_and_verify_forbidden(api, world, who):
    h = getattr(world, who)["h"]
    assert_problem(api.get(f"{V1}/audit", params={"entity": "org", "id": str(world.org_a["id"])}, headers=h), 403)
    assert_problem(api.get(f"{V1}/audit/verify", headers=h), 403)


# ====================================================================== verify on the main database

def test_verify_endpoint_and_cli_on_intact_chain(api, adb, stack, world):
    new_org(api, world.admin["h"])
    n = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    for who in ("admin", "bureau"):
        r = api.get(f"{V1}/audit/verify", headers=getattr(world, who)["h"])
        assert r.status == 200, r
        assert r.body == {"valid": True, "checked": n, "first_broken_id": None, "reason": None}, r.body
    p = stack.run(["audit", "verify"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert str(n) in p.stdout
    assert not _chain_links_ok(adb)


# ====================================================================== append-only

def _expect_refused(pg, sql, role=None, code=None):
    conn = pg.connect("yizhan", autocommit=False)
    try:
        with conn.cursor() as cur:
            if role:
                cur.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg2.Error) as ei:
                cur.execute(sql)
        if code:
            assert ei.value.pgcode == code, (ei.value.pgcode, str(ei.value))
        return ei.value
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET action = 'x' WHERE id = (SELECT max(id) FROM audit_log)",
    "UPDATE audit_log SET after = '{\"x\": 1}'",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
def test_app_role_cannot_change_audit_log(api, adb, world, pg, sql):
    new_org(api, world.admin["h"])  # at least one row exists
    before = query(adb, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS m, count(*) AS n FROM audit_log a")[0]
    _expect_refused(pg, sql, role="yizhan_app", code="42501")
    after = query(adb, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS m, count(*) AS n FROM audit_log a")[0]
    assert after == before


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET action = 'x' WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
])
def test_trigger_refuses_even_superuser(api, adb, world, pg, sql):
    new_org(api, world.admin["h"])
    before = query(adb, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS m FROM audit_log a")[0]
    e = _expect_refused(pg, sql)
    assert "append-only" in str(e)
    assert query(adb, "SELECT md5(string_agg(a::text, '|' ORDER BY id)) AS m FROM audit_log a")[0] == before


def test_app_role_privileges(adb):
    rows = query(adb, """SELECT has_table_privilege('yizhan_app', 'audit_log', 'SELECT') AS sel,
                                has_table_privilege('yizhan_app', 'audit_log', 'INSERT') AS ins,
                                has_table_privilege('yizhan_app', 'audit_log', 'UPDATE') AS upd,
                                has_table_privilege('yizhan_app', 'audit_log', 'DELETE') AS del,
                                has_table_privilege('yizhan_app', 'audit_log', 'TRUNCATE') AS trn""")[0]
    assert rows == {"sel": True, "ins": True, "upd": False, "del": False, "trn": False}


# ====================================================================== concurrency

def test_concurrent_writers_keep_the_chain(api, adb, server, world):
    org = new_org(api, world.admin["h"])
    n_before = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    old = query(adb, "SELECT value FROM settings WHERE key = 'register_limit_per_ip'")[0]["value"]
    with adb.cursor() as cur:
        cur.execute("UPDATE settings SET value = '{\"max\": 1000, \"window_s\": 3600}' WHERE key = 'register_limit_per_ip'")
    admin_h = world.admin["h"]
    member_h = world.member_a["h"]

    def patch(i):
        c = Api(server.url)
        try:
            return c.patch(f"{V1}/orgs/{org['id']}", json={"contact_phone": f"010-{i:08d}"}, headers=admin_h)
        finally:
            c.close()

    def patch_member(i):
        c = Api(server.url)
        try:
            return c.patch(f"{V1}/orgs/{world.org_a['id']}", json={"address": f"地址 {i}"}, headers=member_h)
        finally:
            c.close()

    def register(i):
        # 20 sign-ups hash 20 passwords on the worker pool: under the
        # sanitizers the last one waits far longer than the default 10 s
        c = Api(server.url, timeout=120)
        try:
            return c.post(f"{V1}/auth/register", json=register_body())
        finally:
            c.close()

    try:
        with ThreadPoolExecutor(max_workers=30) as ex:
            futs = [ex.submit(patch, i) for i in range(20)] + [ex.submit(register, i) for i in range(20)] + \
                   [ex.submit(patch_member, i) for i in range(10)]
            results = [f.result() for f in futs]
    finally:
        with adb.cursor() as cur:
            cur.execute("UPDATE settings SET value = %s::jsonb WHERE key = 'register_limit_per_ip'",
                        (json.dumps(old),))
    statuses = [r.status for r in results]
    assert statuses == [200] * 20 + [201] * 20 + [200] * 10, statuses
    # the org was updated 20 times, each under its own version
    row = query(adb, "SELECT version FROM orgs WHERE id = %s", org["id"])[0]
    assert row["version"] == 21
    versions = sorted(r.body["version"] for r in results[:20])
    assert versions == list(range(2, 22))
    # every response has exactly its audit rows
    for r in results:
        rows = audit_for_request(adb, r.headers["X-Request-Id"])
        assert len(rows) == (2 if r.status == 201 else 1), rows
    n_after = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    assert n_after - n_before == 20 + 40 + 10
    # update entries of the hot org chain before→after versions without gaps
    hist = query(adb, "SELECT before, after FROM audit_log WHERE entity = 'org' AND entity_id = %s"
                      " AND action = 'update' ORDER BY id", str(org["id"]))
    assert [(h["before"]["version"], h["after"]["version"]) for h in hist] == [(v, v + 1) for v in range(1, 21)]
    assert not _chain_links_ok(adb)
    r = api.get(f"{V1}/audit/verify", headers=world.admin["h"])
    assert r.status == 200 and r.body["valid"] is True and r.body["first_broken_id"] is None, r.body
    assert r.body["checked"] == n_after


# ====================================================================== tamper detection (separate database)

class Side:
    pass


@pytest.fixture
def side(stack, pg, fresh_db, spawn):
    """A freshly migrated database with its own server and admin; tampering here cannot
    affect the main database's chain."""
    name, dsn = fresh_db
    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, (p.stdout, p.stderr)
    s = Side()
    s.dsn = dsn
    s.email = email("side-admin")
    s.password = password()
    pwfile = stack.workdir / f"pw-{uuid.uuid4().hex[:8]}"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, s.password.encode())
    os.close(fd)
    p = stack.run(["user", "create", "--email", s.email, "--password-file", str(pwfile), "--role", "admin"], dsn=dsn)
    pwfile.unlink()
    assert p.returncode == 0, (p.stdout, p.stderr)
    s.srv = spawn(dsn=dsn)
    s.api = s.srv.api
    r = s.api.post(f"{V1}/auth/login", json={"email": s.email, "password": s.password})
    assert r.status == 200, r
    s.h = {"Authorization": f"Bearer {r.body['access_token']}"}
    s.db = pg.connect(name)
    # some history: 3 orgs, each updated once → 6 entries after the admin's own
    for _ in range(3):
        o = s.api.post(f"{V1}/orgs", json=org_body(), headers=s.h)
        assert o.status == 201, o
        u = s.api.patch(f"{V1}/orgs/{o.body['id']}", json={"contact_name": "丙"}, headers=s.h)
        assert u.status == 200, u
    rows = query(s.db, "SELECT id, entity, action FROM audit_log ORDER BY id")
    # first the admin's creation (`yizhan user create`), then the history
    assert [(r["entity"], r["action"]) for r in rows[:1]] == [("user", "create")], rows
    s.ids = [r["id"] for r in rows[1:]]
    assert len(s.ids) == 6
    s.verify = lambda: s.api.get(f"{V1}/audit/verify", headers=s.h)
    s.cli = lambda: stack.run(["audit", "verify"], dsn=dsn)
    r = s.verify()
    assert r.status == 200 and r.body == {"valid": True, "checked": 7, "first_broken_id": None, "reason": None}
    p = s.cli()
    assert p.returncode == 0, (p.stdout, p.stderr)
    yield s
    s.db.close()


def _tamper(db, *sqls):
    with db.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        try:
            for sql in sqls:
                cur.execute(sql)
        finally:
            cur.execute("SET session_replication_role = origin")


def _assert_broken_at(side, entry_id):
    r = side.verify()
    assert r.status == 200, r
    assert r.body["valid"] is False and r.body["first_broken_id"] == entry_id, r.body
    assert isinstance(r.body["reason"], str) and r.body["reason"]
    p = side.cli()
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert re.search(rf"\b{entry_id}\b", p.stdout + p.stderr), (p.stdout, p.stderr)
    return r.body


def test_tamper_edit_detected(side):
    target = side.ids[2]
    _tamper(side.db, f"UPDATE audit_log SET after = '{{\"x\":1}}' WHERE id = {target}")
    _assert_broken_at(side, target)


@pytest.mark.parametrize("column,value", [
    ("actor_user_id", "NULL"), ("action", "'delete'"), ("before", "NULL"), ("request_id", "'forged'"),
    ("at", "at + interval '1 microsecond'"), ("entity_id", "'999'"),
])
def test_tamper_any_column_detected(side, column, value):
    target = side.ids[3]
    _tamper(side.db, f"UPDATE audit_log SET {column} = {value} WHERE id = {target}")
    _assert_broken_at(side, target)


def test_tamper_with_recomputed_hash_breaks_next_link(side):
    target = side.ids[2]
    _tamper(side.db,
            f"UPDATE audit_log SET after = '{{\"x\":1}}' WHERE id = {target}",
            f"UPDATE audit_log a SET hash = audit_hash(a.prev_hash, a) WHERE id = {target}")
    _assert_broken_at(side, side.ids[3])


def test_tamper_delete_detected(side):
    target = side.ids[2]
    _tamper(side.db, f"DELETE FROM audit_log WHERE id = {target}")
    body = _assert_broken_at(side, side.ids[3])
    assert "delet" in body["reason"]


def test_tamper_delete_first_entry_detected(side):
    _tamper(side.db, f"DELETE FROM audit_log WHERE id = {side.ids[0]}")
    _assert_broken_at(side, side.ids[1])


def test_main_chain_unaffected_by_side_tampering(api, adb, world, side):
    _tamper(side.db, f"DELETE FROM audit_log WHERE id = {side.ids[1]}")
    r = api.get(f"{V1}/audit/verify", headers=world.admin["h"])
    assert r.status == 200 and r.body["valid"] is True, r.body
