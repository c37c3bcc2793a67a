"""Role × route × organisation matrix for the accounts, auth and audit routes.

Callers: anonymous, a member of org A, a member of org B, a broker of org A, a reviewer,
an officer (with a registry office), a bureau user (region 110000) and an admin.
Every cell asserts the exact status; a refused request must leave the database exactly as
it was (orgs, users, offices, invitations, audit_log), a successful write must be audited
with the caller as actor and the response's X-Request-Id.
"""

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import (V1, assert_problem, email, free_region, new_org, org_body, password, query,
                           register_body, snapshot, uniq)

CALLERS = ["anon", "member_a", "member_b", "broker", "reviewer", "officer", "bureau", "admin"]
SIGNED_IN = CALLERS[1:]


def E(default, **over):
    """Expected status per caller: `default` for signed-in callers, anonymous 401 unless given."""
    d = {c: default for c in SIGNED_IN}
    d["anon"] = 401
    d.update(over)
    return d


# name, method, path template, body (callable ctx -> body, or None), expected statuses
# Placeholders: {A} {B} org ids, {V} a fresh pending org, {office}, {target} a user, {missing} an unknown id.
ROUTES = [
    ("me", "GET", "/me", None, E(200)),
    ("orgs list", "GET", "/orgs", None, E(200)),
    ("org A", "GET", "/orgs/{A}", None, E(200, member_b=404)),
    ("org B", "GET", "/orgs/{B}", None, E(200, member_a=404, broker=404)),
    ("unknown org", "GET", "/orgs/{missing}", None, E(404)),
    ("create org", "POST", "/orgs", lambda c: org_body(), E(403, admin=201)),
    ("patch org A contact", "PATCH", "/orgs/{A}", lambda c: {"contact_name": uniq("联系人")},
     E(403, member_a=200, member_b=404, admin=200)),
    ("patch org B contact", "PATCH", "/orgs/{B}", lambda c: {"contact_phone": "010-" + uniq()[-8:]},
     E(403, member_b=200, member_a=404, admin=200)),
    ("patch org A identity", "PATCH", "/orgs/{A}", lambda c: {"name": "甲单位 " + uniq()},
     E(403, member_a=403, member_b=404, admin=200)),
    ("verify org", "POST", "/orgs/{V}/verify", lambda c: {"decision": "verified", "note": "ok"},
     E(403, reviewer=200, admin=200)),
    ("reject org", "POST", "/orgs/{V}/verify", lambda c: {"decision": "rejected", "note": "材料不全"},
     E(403, reviewer=200, admin=200)),
    ("verify unknown org", "POST", "/orgs/{missing}/verify", lambda c: {"decision": "verified"},
     E(403, reviewer=404, admin=404)),
    ("invite to A", "POST", "/orgs/{A}/invitations", lambda c: {}, E(403, member_a=201, member_b=404, admin=201)),
    ("invite to B", "POST", "/orgs/{B}/invitations", lambda c: {"role": "broker"},
     E(403, member_b=201, member_a=404, admin=201)),
    ("users list", "GET", "/users", None, E(403, admin=200)),
    ("create user", "POST", "/users",
     lambda c: {"email": email("mx"), "password": password(), "role": "reviewer"}, E(403, admin=201)),
    ("create admin user", "POST", "/users",
     lambda c: {"email": email("mx"), "password": password(), "role": "admin"}, E(403, admin=201)),
    ("get user", "GET", "/users/{target}", None, E(403, admin=200)),
    ("get unknown user", "GET", "/users/{missing}", None, E(403, admin=404)),
    ("patch user", "PATCH", "/users/{target}", lambda c: {"display_name": uniq("名")}, E(403, admin=200)),
    ("promote user", "PATCH", "/users/{target}", lambda c: {"role": "reviewer", "phone": uniq()[-8:]},
     E(403, admin=200)),
    ("offices list", "GET", "/offices", None, E(200, anon=200)),
    ("create office", "POST", "/offices", lambda c: {"name": "登记处 " + uniq(), "region_code": c["free_region"]},
     E(403, admin=201)),
    ("patch office", "PATCH", "/offices/{office}", lambda c: {"name": "登记处 " + uniq()}, E(403, admin=200)),
    ("audit history", "GET", "/audit?entity=org&id={A}", None, E(403, admin=200, bureau=200)),
    ("audit verify", "GET", "/audit/verify", None, E(403, admin=200, bureau=200)),
    ("password change (wrong current)", "POST", "/me/password",
     lambda c: {"current_password": "not-the-password", "new_password": password()}, E(422)),
    # public routes: the Authorization header plays no part
    ("register", "POST", "/auth/register", lambda c: register_body(), E(201, anon=201)),
    ("login", "POST", "/auth/login", lambda c: {"email": c["login_user"]["email"],
                                                "password": c["login_user"]["password"]}, E(200, anon=200)),
    ("refresh", "POST", "/auth/refresh", lambda c: {"refresh_token": c["fresh_refresh"]}, E(200, anon=200)),
    ("logout", "POST", "/auth/logout", lambda c: {"refresh_token": c["fresh_refresh"]}, E(204, anon=204)),
]

CASES = [(r, c) for r in ROUTES for c in CALLERS]


def _id(case):
    r, c = case
    return f"{r[0]}-{c}"


@pytest.fixture(scope="module")
def login_user(users):
    return users.create(role="reviewer")


def _headers(world, caller):
    if caller == "anon":
        return {}
    return dict(getattr(world, caller)["h"])


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matrix(api, adb, world, login_user, case):
    (name, method, tmpl, body_fn, expected), caller = case
    want = expected[caller]
    ctx = {"login_user": login_user}
    fmt = {"A": world.org_a["id"], "B": world.org_b["id"], "office": world.office["id"],
           "target": world.target["id"], "missing": 987654321}
    if "{V}" in tmpl:
        fmt["V"] = new_org(api, world.admin["h"])["id"]
    if name == "create office":
        ctx["free_region"] = free_region(adb)
    if name in ("refresh", "logout"):
        r = api.post(f"{V1}/auth/login", json={"email": login_user["email"], "password": login_user["password"]})
        assert r.status == 200, r
        ctx["fresh_refresh"] = r.body["refresh_token"]
    headers = _headers(world, caller)
    path = V1 + tmpl.format(**fmt)
    kw = {"headers": headers}
    if body_fn is not None:
        kw["json"] = body_fn(ctx)
    before = snapshot(adb)
    r = api.request(method, path, **kw)
    assert r.status == want, f"{caller} {method} {path}: expected {want}, got {r.status}: {r.content[:300]!r}"
    after = snapshot(adb)
    rid = r.headers.get("X-Request-Id")
    if r.status >= 400:
        assert_problem(r, want)
        assert after == before, f"refused request changed the database:\nbefore {before}\nafter  {after}"
        assert not query(adb, "SELECT id FROM audit_log WHERE request_id = %s", rid)
    elif method == "GET":
        assert after == before
    elif name in ("login", "refresh", "logout"):
        assert {k: v for k, v in after.items() if k != "revoked"} == \
            {k: v for k, v in before.items() if k != "revoked"}
    else:
        rows = query(adb, "SELECT * FROM audit_log WHERE request_id = %s ORDER BY id", rid)
        assert rows, f"successful {method} {path} wrote no audit entry"
        if name == "register":
            assert rows[-1]["actor_user_id"] == r.body["user"]["id"]
        elif caller != "anon":
            actor = getattr(world, caller)
            assert all(x["actor_user_id"] == int(actor["id"]) for x in rows), rows
            assert all(x["actor_role"] == actor["role"] for x in rows), rows
        assert after["audit"] == before["audit"] + len(rows)


# ------------------------------------------------------------------ list scoping

@pytest.mark.parametrize("caller,sees_a,sees_b", [
    ("member_a", True, False), ("member_b", False, True), ("broker", True, False), ("reviewer", True, True),
    ("officer", True, True), ("bureau", True, True), ("admin", True, True),
])
def test_org_list_is_scoped(api, world, caller, sees_a, sees_b):
    h = _headers(world, caller)
    for org, sees in ((world.org_a, sees_a), (world.org_b, sees_b)):
        r = api.get(f"{V1}/orgs", params={"q": org["credit_code"]}, headers=h)
        assert r.status == 200, r
        ids = [o["id"] for o in r.body["items"]]
        assert ids == ([org["id"]] if sees else []), (caller, org["id"], ids)


@pytest.mark.parametrize("caller,own", [("member_a", "org_a"), ("member_b", "org_b"), ("broker", "org_a")])
def test_member_list_shows_only_own_org(api, world, caller, own):
    r = api.get(f"{V1}/orgs", params={"limit": "100"}, headers=_headers(world, caller))
    assert r.status == 200, r
    assert [o["id"] for o in r.body["items"]] == [getattr(world, own)["id"]]
    assert r.body["next_cursor"] is None


@pytest.mark.parametrize("caller", ["member_a", "broker"])
def test_member_cannot_verify_own_org(api, adb, world, caller):
    before = snapshot(adb)
    r = api.post(f"{V1}/orgs/{world.org_a['id']}/verify", json={"decision": "verified"},
                 headers=_headers(world, caller))
    assert_problem(r, 403)
    assert snapshot(adb) == before


def test_me_shows_own_org_and_office(api, world):
    r = api.get(f"{V1}/me", headers=_headers(world, "member_a"))
    assert r.status == 200, r
    assert r.body["role"] == "member" and r.body["org"]["id"] == world.org_a["id"]
    r = api.get(f"{V1}/me", headers=_headers(world, "officer"))
    assert r.body["role"] == "officer" and r.body["office"]["id"] == world.office["id"]
    r = api.get(f"{V1}/me", headers=_headers(world, "bureau"))
    assert r.body["role"] == "bureau" and r.body["region_code"] == "110000"
