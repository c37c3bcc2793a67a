"""Accounts: self-service registration (new org or invitation), organisations with
ETag/If-Match, verification, invitations, users (admin), registry offices, and
mass-assignment attempts. Every refusal is checked against the database too."""

import hashlib

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import (ALPHABET, V1, assert_problem, audit_for_request, bearer, credit_check_char,
                           credit_code, email, error_fields, etag_of, free_region, new_org, org_body, password,
                           query, register_body, snapshot, uniq)

REGISTER = f"{V1}/auth/register"
LOGIN = f"{V1}/auth/login"


def _user_by_email(db, addr):
    return query(db, "SELECT * FROM users WHERE lower(email) = lower(%s)", addr)


def _org_by_code(db, code):
    return query(db, "SELECT * FROM orgs WHERE credit_code = %s", code)


def _org_row(db, oid):
    return query(db, "SELECT * FROM orgs WHERE id = %s", oid)[0]


def _login(api, addr, pw):
    r = api.post(LOGIN, json={"email": addr, "password": pw})
    assert r.status == 200, r
    return r.body


def _invite(api, org_id, h, **body):
    r = api.post(f"{V1}/orgs/{org_id}/invitations", json=body, headers=h)
    assert r.status == 201, r
    return r.body


# ====================================================================== registration

def test_register_new_org(api, adb):
    body = register_body(org=org_body(name_en="Test Institute", description="做研究", address="北京市海淀区",
                                      website="https://example.test", contact_name="张三",
                                      contact_phone="010-12345678", contact_email="a@example.test",
                                      state_funded=True, org_type="020"))
    r = api.post(REGISTER, json=body)
    assert r.status == 201, r
    u, o = r.body["user"], r.body["org"]
    assert u["email"] == body["email"] and u["role"] == "member" and u["org_id"] == o["id"]
    assert u["active"] is True
    assert "password" not in u and "password_hash" not in u
    assert o["status"] == "pending" and o["credit_code"] == body["org"]["credit_code"]
    assert o["name"] == body["org"]["name"] and o["state_funded"] is True and o["org_type"] == "020"
    rid = r.headers["X-Request-Id"]
    # database
    urow = _user_by_email(adb, body["email"])
    assert len(urow) == 1 and urow[0]["role"] == "member" and urow[0]["org_id"] == o["id"]
    assert urow[0]["password_hash"] != body["password"] and body["password"] not in urow[0]["password_hash"]
    orow = _org_row(adb, o["id"])
    assert orow["verification_status"] == "pending" and orow["verified_at"] is None
    # audited in the same request
    a = audit_for_request(adb, rid)
    assert {(x["entity"], x["entity_id"], x["action"]) for x in a} >= \
        {("org", str(o["id"]), "create"), ("user", str(u["id"]), "register")}
    reg = [x for x in a if x["entity"] == "user"][0]
    assert reg["actor_user_id"] == u["id"]
    assert "password" not in str(reg["after"]) and "pbkdf2" not in str(reg["after"])
    # the new account signs in and sees its org
    t = _login(api, body["email"], body["password"])
    me = api.get(f"{V1}/me", headers=bearer(t["access_token"]))
    assert me.status == 200 and me.body["org"]["id"] == o["id"] and me.body["role"] == "member"


def test_register_minimal_natural_person_without_code(api, adb):
    body = register_body(org={"name": "个人 " + uniq(), "org_type": "400", "region_code": "110101"})
    r = api.post(REGISTER, json=body)
    assert r.status == 201, r
    assert r.body["org"]["credit_code"] is None


def test_register_with_invitation(api, adb, world):
    inv = _invite(api, world.org_a["id"], world.member_a["h"])
    assert inv["code"].startswith("inv_") and inv["org_id"] == world.org_a["id"] and inv["role"] == "member"
    assert inv["max_uses"] == 1 and inv["expires_at"]
    n_orgs = query(adb, "SELECT count(*) AS n FROM orgs")[0]["n"]
    body = register_body(org=False, invitation_code=inv["code"])
    r = api.post(REGISTER, json=body)
    assert r.status == 201, r
    assert r.body["user"]["org_id"] == world.org_a["id"] and r.body["user"]["role"] == "member"
    assert r.body["org"]["id"] == world.org_a["id"]
    assert query(adb, "SELECT count(*) AS n FROM orgs")[0]["n"] == n_orgs
    row = query(adb, "SELECT *, expires_at - created_at AS valid_for FROM invitations WHERE id = %s", inv["id"])[0]
    assert row["uses"] == 1
    assert abs(row["valid_for"].total_seconds() - 14 * 86400) < 60   # setting invitation_days (14, 0002)
    assert row["code_hash"] == hashlib.sha256(inv["code"].encode()).hexdigest()
    # used up: a second registration with the same code is refused and creates nothing
    before = snapshot(adb)
    body2 = register_body(org=False, invitation_code=inv["code"])
    r = api.post(REGISTER, json=body2)
    b = assert_problem(r, 422)
    assert "invitation_code" in error_fields(b)
    assert not _user_by_email(adb, body2["email"])
    assert snapshot(adb) == before


def test_register_with_broker_invitation_gets_broker_role(api, adb, world):
    inv = _invite(api, world.org_b["id"], world.admin["h"], role="broker", max_uses=2)
    for _ in range(2):
        r = api.post(REGISTER, json=register_body(org=False, invitation_code=inv["code"]))
        assert r.status == 201, r
        assert r.body["user"]["role"] == "broker" and r.body["user"]["org_id"] == world.org_b["id"]
    r = api.post(REGISTER, json=register_body(org=False, invitation_code=inv["code"]))
    assert "invitation_code" in error_fields(assert_problem(r, 422))
    assert query(adb, "SELECT uses FROM invitations WHERE id = %s", inv["id"])[0]["uses"] == 2


@pytest.mark.parametrize("code", ["inv_doesnotexist", "", "x" * 200])
def test_register_unknown_invitation(api, adb, code):
    body = register_body(org=False, invitation_code=code)
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert "invitation_code" in error_fields(b)
    assert snapshot(adb) == before


def test_register_expired_invitation(api, adb, world):
    inv = _invite(api, world.org_a["id"], world.member_a["h"])
    with adb.cursor() as cur:
        cur.execute("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s", (inv["id"],))
    body = register_body(org=False, invitation_code=inv["code"])
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert "invitation_code" in error_fields(b)
    assert snapshot(adb) == before


def _bad_code_cases():
    good = credit_code()
    c17 = good[:17]
    wrong_check = c17 + ALPHABET[(ALPHABET.index(good[17]) + 1) % 31]
    cases = {"wrong check character": wrong_check, "17 characters": c17, "19 characters": good + "0",
             "lower case": "12511900mb0123456l", "empty": ""}
    for letter in "IOSVZ":  # letters outside the alphabet, with a check char computed as if valid
        s = c17[:9] + letter + c17[10:]
        cases[f"letter {letter}"] = s + "0"
    s = "0" + c17[1:]
    cases["first char 0"] = s + credit_check_char(s)
    s = "H" + c17[1:]
    cases["first char H"] = s + credit_check_char(s)
    s = c17[:2] + "11A108" + c17[8:]
    cases["region not digits"] = s[:17] + credit_check_char(s[:17])
    return cases


@pytest.mark.parametrize("case", sorted(_bad_code_cases()))
def test_register_bad_credit_code(api, adb, case):
    code = _bad_code_cases()[case]
    body = register_body(org=org_body(credit_code=code))
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert "org.credit_code" in error_fields(b), b
    assert not _user_by_email(adb, body["email"])
    assert snapshot(adb) == before


def test_register_example_code_is_valid_and_then_duplicate(api, adb):
    existing = _org_by_code(adb, "12511900MB0123456L")
    if not existing:
        r = api.post(REGISTER, json=register_body(org=org_body(credit_code="12511900MB0123456L")))
        assert r.status == 201, r
    body = register_body(org=org_body(credit_code="12511900MB0123456L"))
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 409)
    assert "org.credit_code" in error_fields(b)
    assert not _user_by_email(adb, body["email"])
    assert snapshot(adb) == before


def test_register_duplicate_credit_code(api, adb):
    first = register_body()
    assert api.post(REGISTER, json=first).status == 201
    body = register_body(org=org_body(credit_code=first["org"]["credit_code"]))
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 409)
    assert "org.credit_code" in error_fields(b)
    assert len(_org_by_code(adb, first["org"]["credit_code"])) == 1
    assert not _user_by_email(adb, body["email"])
    assert snapshot(adb) == before


@pytest.mark.parametrize("variant", ["same", "upper"])
def test_register_duplicate_email(api, adb, variant):
    first = register_body()
    assert api.post(REGISTER, json=first).status == 201
    addr = first["email"] if variant == "same" else first["email"].upper()
    body = register_body(email=addr)
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 409)
    assert "email" in error_fields(b)
    assert not _org_by_code(adb, body["org"]["credit_code"])
    assert snapshot(adb) == before


@pytest.mark.parametrize("pw", ["short", "123456789", "ａｂｃｄｅｆｇｈｉ", ""])
def test_register_weak_password(api, adb, pw):
    body = register_body(password=pw)
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert "password" in error_fields(b)
    assert snapshot(adb) == before


def test_register_ten_character_password_is_enough(api):
    r = api.post(REGISTER, json=register_body(password="abcdefghij"))
    assert r.status == 201, r


@pytest.mark.parametrize("field,value,status,where", [
    ("email", "not-an-email", 422, "email"),
    ("display_name", "", 422, "display_name"),
    ("display_name", "名" * 101, 422, "display_name"),
    ("org.name", "", 422, "org.name"),
    ("org.name", "名" * 201, 422, "org.name"),
    ("org.org_type", "999", 422, "org.org_type"),
    ("org.org_type", "abc", 422, "org.org_type"),
    ("org.region_code", "999999", 422, "org.region_code"),
    ("org.region_code", "11010", 422, "org.region_code"),
    ("org.website", "javascript:alert(1)", 422, "org.website"),
    ("org.webhook_url", "ftp://x.test/", 422, "org.webhook_url"),
    ("org.contact_email", "nope", 422, "org.contact_email"),
    ("org.state_funded", "yes", 400, "org.state_funded"),
    ("org.name", 12, 400, "org.name"),
    ("email", 12, 400, "email"),
])
def test_register_invalid_fields(api, adb, field, value, status, where):
    body = register_body()
    if field.startswith("org."):
        body["org"][field[4:]] = value
    else:
        body[field] = value
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), status)
    assert where in error_fields(b), b
    assert snapshot(adb) == before


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("ch", BIDI)
@pytest.mark.parametrize("field", ["display_name", "org.name", "org.name_en", "org.contact_name"])
def test_register_names_with_bidi_controls_are_422(api, adb, field, ch):
    """A name shown to others must read as it is: "合同\u202eexe.gnp" displays as "合同png.exe"."""
    body = register_body()
    value = "测试单位" + ch + "exe.gnp"
    if field.startswith("org."):
        body["org"][field[4:]] = value
    else:
        body[field] = value
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert [(e["field"], e["code"]) for e in b["errors"]] == [(field, "invalid_character")], b
    assert snapshot(adb) == before


def test_right_to_left_text_stays_allowed_outside_names(api, adb):
    """Marks that right-to-left scripts use are fine where they are text, not a name."""
    body = register_body()
    body["org"]["description"] = "\u202bمرحبا\u202c 合作 \u2067שלום\u2069"
    r = api.post(REGISTER, json=body)
    assert r.status == 201, r
    assert r.body["org"]["description"] == body["org"]["description"]


@pytest.mark.parametrize("missing", ["org.name", "org.org_type", "org.region_code", "email", "password",
                                     "display_name"])
def test_register_missing_required(api, adb, missing):
    body = register_body()
    if missing.startswith("org."):
        del body["org"][missing[4:]]
    else:
        del body[missing]
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 422)
    assert missing in error_fields(b), b
    assert snapshot(adb) == before


def test_register_org_needs_credit_code_unless_person(api, adb):
    body = register_body(org=org_body(credit_code=...))
    before = snapshot(adb)
    r = api.post(REGISTER, json=body)
    assert_problem(r, 422)
    assert snapshot(adb) == before


def test_register_needs_exactly_one_of_org_and_invitation(api, adb, world):
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=register_body(org=False)), 422)
    assert "org" in error_fields(b) or "invitation_code" in error_fields(b)
    inv = _invite(api, world.org_a["id"], world.member_a["h"])
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=register_body(invitation_code=inv["code"])), 422)
    assert "org" in error_fields(b) or "invitation_code" in error_fields(b)
    assert snapshot(adb) == before
    assert query(adb, "SELECT uses FROM invitations WHERE id = %s", inv["id"])[0]["uses"] == 0


@pytest.mark.parametrize("field,value", [
    ("status", "verified"), ("verification_status", "verified"), ("id", 1), ("version", 7),
    ("verified_at", "2024-01-01T00:00:00Z"), ("verified_by", 1), ("created_at", "2024-01-01T00:00:00Z"),
])
def test_register_org_mass_assignment(api, adb, field, value):
    body = register_body()
    body["org"][field] = value
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 400)
    assert f"org.{field}" in error_fields(b), b
    assert not _org_by_code(adb, body["org"]["credit_code"])
    assert snapshot(adb) == before


@pytest.mark.parametrize("field,value", [
    ("role", "admin"), ("org_id", 1), ("status", "active"), ("active", True), ("id", 1), ("office_id", 1),
    ("region_code", "110000"), ("password_hash", "pbkdf2-sha256$1$x$y"), ("email_verified", True),
])
def test_register_top_level_mass_assignment(api, adb, field, value):
    body = register_body()
    body[field] = value
    before = snapshot(adb)
    b = assert_problem(api.post(REGISTER, json=body), 400)
    assert field in error_fields(b), b
    assert not _user_by_email(adb, body["email"])
    assert snapshot(adb) == before


# ====================================================================== organisations

def test_admin_creates_org_with_etag(api, adb, admin):
    body = org_body(contact_name="李四")
    r = api.post(f"{V1}/orgs", json=body, headers=admin["h"])
    assert r.status == 201, r
    o = r.body
    assert o["version"] == 1 and r.headers["ETag"] == etag_of(1)
    assert o["status"] == "pending" and o["org_type_label"] and o["region_name"]
    g = api.get(f"{V1}/orgs/{o['id']}", headers=admin["h"])
    assert g.status == 200 and g.headers["ETag"] == etag_of(1) and g.body == o
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["entity"] == "org" and a[0]["action"] == "create"
    assert a[0]["actor_user_id"] == int(admin["id"]) and a[0]["before"] is None
    assert a[0]["after"]["credit_code"] == body["credit_code"]


@pytest.mark.parametrize("field,value,status,where", [
    ("credit_code", "12511900MB0123456M", 422, "credit_code"),
    ("org_type", "999", 422, "org_type"),
    ("region_code", "000000", 422, "region_code"),
    ("status", "verified", 400, "status"),
    ("verification_status", "verified", 400, "verification_status"),
    ("id", 5, 400, "id"),
    ("version", 9, 400, "version"),
])
def test_admin_create_org_invalid(api, adb, admin, field, value, status, where):
    body = org_body()
    body[field] = value
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/orgs", json=body, headers=admin["h"]), status)
    assert where in error_fields(b)
    assert snapshot(adb) == before


def test_patch_org_if_match(api, adb, world):
    org = new_org(api, world.admin["h"])
    oid = org["id"]
    h = world.admin["h"]
    r = api.patch(f"{V1}/orgs/{oid}", json={"contact_name": "王五"}, headers={**h, "If-Match": etag_of(1)})
    assert r.status == 200, r
    assert r.body["version"] == 2 and r.headers["ETag"] == etag_of(2) and r.body["contact_name"] == "王五"
    row = _org_row(adb, oid)
    assert row["version"] == 2 and row["contact_name"] == "王五"
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["action"] == "update"
    assert a[0]["before"]["contact_name"] is None and a[0]["after"]["contact_name"] == "王五"
    assert a[0]["before"]["version"] == 1 and a[0]["after"]["version"] == 2
    # stale
    before = snapshot(adb)
    for tag in (etag_of(1), etag_of(3), etag_of(0)):
        r = api.patch(f"{V1}/orgs/{oid}", json={"contact_name": "赵六"}, headers={**h, "If-Match": tag})
        assert_problem(r, 412)
    # not an ETag at all
    r = api.patch(f"{V1}/orgs/{oid}", json={"contact_name": "赵六"}, headers={**h, "If-Match": "2"})
    assert_problem(r, 412)
    assert snapshot(adb) == before
    assert _org_row(adb, oid)["contact_name"] == "王五"
    # the current ETag works
    r = api.patch(f"{V1}/orgs/{oid}", json={"address": "新地址"}, headers={**h, "If-Match": etag_of(2)})
    assert r.status == 200 and r.body["version"] == 3


def test_member_patches_own_org_contact_data(api, adb, world):
    oid = world.org_a["id"]
    cur = api.get(f"{V1}/orgs/{oid}", headers=world.member_a["h"])
    assert cur.status == 200
    r = api.patch(f"{V1}/orgs/{oid}", json={"contact_email": "new@example.test", "description": "新简介"},
                  headers={**world.member_a["h"], "If-Match": cur.headers["ETag"]})
    assert r.status == 200, r
    assert r.body["contact_email"] == "new@example.test"
    assert r.body["version"] == cur.body["version"] + 1
    row = _org_row(adb, oid)
    assert row["description"] == "新简介" and row["version"] == cur.body["version"] + 1
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["actor_user_id"] == int(world.member_a["id"])


@pytest.mark.parametrize("field,value", [
    ("name", "新名称"), ("org_type", "200"), ("credit_code", None), ("region_code", "110101"),
    ("state_funded", True),
])
def test_member_may_not_change_identity_fields(api, adb, world, field, value):
    oid = world.org_a["id"]
    if field == "credit_code":
        value = credit_code()
    before = snapshot(adb)
    r = api.patch(f"{V1}/orgs/{oid}", json={field: value, "contact_name": "x"}, headers=world.member_a["h"])
    b = assert_problem(r, 403)
    assert field in error_fields(b), b
    assert snapshot(adb) == before


@pytest.mark.parametrize("field,value", [
    ("verification_status", "verified"), ("status", "verified"), ("id", 1), ("version", 1),
    ("verified_at", "2024-01-01T00:00:00Z"), ("verified_by", 1), ("verification_note", "ok"),
    ("created_at", "2024-01-01T00:00:00Z"),
])
@pytest.mark.parametrize("who", ["member_a", "admin"])
def test_org_patch_mass_assignment(api, adb, world, field, value, who):
    oid = world.org_a["id"]
    before = snapshot(adb)
    r = api.patch(f"{V1}/orgs/{oid}", json={field: value, "contact_name": "mass"}, headers=getattr(world, who)["h"])
    b = assert_problem(r, 400)
    assert field in error_fields(b)
    assert snapshot(adb) == before
    assert _org_row(adb, oid)["contact_name"] != "mass"


def test_admin_identity_change_requires_reverification(api, adb, world):
    org = new_org(api, world.admin["h"])
    r = api.post(f"{V1}/orgs/{org['id']}/verify", json={"decision": "verified"}, headers=world.reviewer["h"])
    assert r.status == 200 and r.body["status"] == "verified"
    r = api.patch(f"{V1}/orgs/{org['id']}", json={"name": "改名 " + uniq()}, headers=world.admin["h"])
    assert r.status == 200, r
    assert r.body["status"] == "pending"
    assert _org_row(adb, org["id"])["verification_status"] == "pending"


def test_admin_patch_duplicate_credit_code(api, adb, world):
    a = new_org(api, world.admin["h"])
    b = new_org(api, world.admin["h"])
    before = snapshot(adb)
    r = api.patch(f"{V1}/orgs/{b['id']}", json={"credit_code": a["credit_code"]}, headers=world.admin["h"])
    assert "credit_code" in error_fields(assert_problem(r, 409))
    assert snapshot(adb) == before


def test_patch_unknown_org_404(api, world):
    assert_problem(api.patch(f"{V1}/orgs/987654321", json={"contact_name": "x"}, headers=world.admin["h"]), 404)
    assert_problem(api.get(f"{V1}/orgs/abc", headers=world.admin["h"]), 404)


def test_org_get_etag(api, world):
    r = api.get(f"{V1}/orgs/{world.org_b['id']}", headers=world.member_b["h"])
    assert r.status == 200
    assert r.headers["ETag"] == etag_of(r.body["version"])


# ---------------------------------------------------------------------- lists

def test_org_list_filters_and_pagination(api, world):
    h = world.admin["h"]
    tag = uniq("页")
    made = [new_org(api, h, name=f"{tag} {i}") for i in range(5)]
    ids = sorted((o["id"] for o in made), reverse=True)
    r = api.get(f"{V1}/orgs", params={"q": tag, "limit": "2"}, headers=h)
    assert r.status == 200, r
    got, pages = [o["id"] for o in r.body["items"]], 1
    cursor = r.body["next_cursor"]
    assert len(got) == 2 and cursor
    while cursor:
        r = api.get(f"{V1}/orgs", params={"q": tag, "limit": "2", "cursor": cursor}, headers=h)
        assert r.status == 200, r
        got += [o["id"] for o in r.body["items"]]
        cursor = r.body["next_cursor"]
        pages += 1
    assert got == ids and pages == 3
    # status filter
    api.post(f"{V1}/orgs/{made[0]['id']}/verify", json={"decision": "verified"}, headers=world.reviewer["h"])
    r = api.get(f"{V1}/orgs", params={"q": tag, "status": "verified"}, headers=h)
    assert [o["id"] for o in r.body["items"]] == [made[0]["id"]]
    r = api.get(f"{V1}/orgs", params={"q": tag, "status": "pending"}, headers=h)
    assert sorted(o["id"] for o in r.body["items"]) == sorted(i for i in ids if i != made[0]["id"])
    assert all(o["status"] == "pending" for o in r.body["items"])


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "101"}, {"limit": "abc"}, {"limit": "-1"}, {"status": "bogus"},
    {"cursor": "garbage"}, {"cursor": "MTA.AAAAAAAAAAAAAAAA"},
])
def test_org_list_bad_query(api, world, params):
    assert_problem(api.get(f"{V1}/orgs", params=params, headers=world.admin["h"]), 400)


def test_org_list_tampered_cursor(api, world):
    h = world.admin["h"]
    r = api.get(f"{V1}/orgs", params={"limit": "1"}, headers=h)
    cursor = r.body["next_cursor"]
    assert cursor and "." in cursor
    key, mac = cursor.split(".", 1)
    import base64
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode()
    forged_key = base64.urlsafe_b64encode(str(int(raw) + 1000).encode()).rstrip(b"=").decode()
    for bad in (f"{forged_key}.{mac}", cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), cursor + "x"):
        assert_problem(api.get(f"{V1}/orgs", params={"limit": "1", "cursor": bad}, headers=h), 400)
    # a cursor of another list is not valid here
    u = api.get(f"{V1}/users", params={"limit": "1"}, headers=h)
    assert u.body["next_cursor"]
    assert_problem(api.get(f"{V1}/orgs", params={"cursor": u.body["next_cursor"]}, headers=h), 400)
    # the genuine cursor works
    assert api.get(f"{V1}/orgs", params={"limit": "1", "cursor": cursor}, headers=h).status == 200


# ====================================================================== verification

def test_verify_and_reject(api, adb, world):
    org = new_org(api, world.admin["h"])
    oid = org["id"]
    rh = world.reviewer["h"]
    r = api.post(f"{V1}/orgs/{oid}/verify", json={"decision": "verified", "note": "材料齐全"}, headers=rh)
    assert r.status == 200, r
    assert r.body["status"] == "verified" and r.body["verified_at"]
    row = _org_row(adb, oid)
    assert row["verification_status"] == "verified" and row["verified_by"] == int(world.reviewer["id"])
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["action"] == "verified" and a[0]["actor_user_id"] == int(world.reviewer["id"])
    assert a[0]["before"]["status"] == "pending" and a[0]["after"]["status"] == "verified"
    # same decision twice
    before = snapshot(adb)
    assert_problem(api.post(f"{V1}/orgs/{oid}/verify", json={"decision": "verified"}, headers=rh), 409)
    # rejected needs a note
    for note in (None, "", "   "):
        body = {"decision": "rejected"} if note is None else {"decision": "rejected", "note": note}
        b = assert_problem(api.post(f"{V1}/orgs/{oid}/verify", json=body, headers=rh), 422)
        assert "note" in error_fields(b)
    # bad decision
    for d in ("pending", "approve", ""):
        b = assert_problem(api.post(f"{V1}/orgs/{oid}/verify", json={"decision": d}, headers=rh), 422)
        assert "decision" in error_fields(b)
    # mass assignment into verify
    b = assert_problem(api.post(f"{V1}/orgs/{oid}/verify", json={"decision": "rejected", "note": "x",
                                                                "verified_by": 1}, headers=rh), 400)
    assert "verified_by" in error_fields(b)
    assert snapshot(adb) == before
    r = api.post(f"{V1}/orgs/{oid}/verify", json={"decision": "rejected", "note": "证照过期"}, headers=rh)
    assert r.status == 200 and r.body["status"] == "rejected" and r.body["verification_note"] == "证照过期"
    assert r.body["verified_at"] is None
    assert _org_row(adb, oid)["verification_status"] == "rejected"
    assert_problem(api.post(f"{V1}/orgs/{oid}/verify", json={"decision": "rejected", "note": "again"},
                            headers=rh), 409)


def test_verify_unknown_org(api, world):
    assert_problem(api.post(f"{V1}/orgs/987654321/verify", json={"decision": "verified"},
                            headers=world.admin["h"]), 404)


# ====================================================================== invitations

def test_invitation_create(api, adb, world):
    r = api.post(f"{V1}/orgs/{world.org_a['id']}/invitations", json={"role": "broker", "max_uses": 3},
                 headers=world.member_a["h"])
    assert r.status == 201, r
    inv = r.body
    assert set(inv) >= {"id", "org_id", "role", "max_uses", "expires_at", "code"}
    assert inv["role"] == "broker" and inv["max_uses"] == 3 and inv["org_id"] == world.org_a["id"]
    assert "no-store" in r.headers.get("Cache-Control", "")
    row = query(adb, "SELECT * FROM invitations WHERE id = %s", inv["id"])[0]
    assert row["code_hash"] == hashlib.sha256(inv["code"].encode()).hexdigest()
    assert inv["code"] not in str(row)
    assert row["created_by"] == int(world.member_a["id"])
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["entity"] == "invitation" and a[0]["entity_id"] == str(inv["id"])
    assert inv["code"] not in str(a[0]["after"])
    # codes are unique
    other = _invite(api, world.org_a["id"], world.member_a["h"])
    assert other["code"] != inv["code"]


@pytest.mark.parametrize("body,status,where", [
    ({"role": "admin"}, 422, "role"), ({"role": "reviewer"}, 422, "role"), ({"max_uses": 0}, 422, "max_uses"),
    ({"max_uses": 101}, 422, "max_uses"), ({"max_uses": "3"}, 400, "max_uses"), ({"org_id": 1}, 400, "org_id"),
    ({"uses": 0}, 400, "uses"), ({"expires_at": "2999-01-01T00:00:00Z"}, 400, "expires_at"),
])
def test_invitation_invalid(api, adb, world, body, status, where):
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/orgs/{world.org_a['id']}/invitations", json=body,
                                headers=world.member_a["h"]), status)
    assert where in error_fields(b)
    assert snapshot(adb) == before


def test_invitation_other_org_404(api, adb, world):
    before = snapshot(adb)
    assert_problem(api.post(f"{V1}/orgs/{world.org_b['id']}/invitations", json={}, headers=world.member_a["h"]), 404)
    assert_problem(api.post(f"{V1}/orgs/987654321/invitations", json={}, headers=world.admin["h"]), 404)
    assert snapshot(adb) == before


# ====================================================================== users (admin)

def test_user_create_and_login(api, adb, world):
    body = {"email": email("adm"), "password": password(), "role": "officer", "display_name": "审查员",
            "phone": "13800000000", "office_id": world.office["id"]}
    r = api.post(f"{V1}/users", json=body, headers=world.admin["h"])
    assert r.status == 201, r
    u = r.body
    assert u["role"] == "officer" and u["office_id"] == world.office["id"] and u["email"] == body["email"]
    assert "password" not in u and "password_hash" not in u
    assert r.headers["ETag"] == etag_of(u["version"])
    row = _user_by_email(adb, body["email"])[0]
    assert row["role"] == "officer" and row["office_id"] == world.office["id"]
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["entity"] == "user" and a[0]["action"] == "create"
    assert a[0]["actor_user_id"] == int(world.admin["id"])
    assert body["password"] not in str(a[0]["after"]) and "pbkdf2" not in str(a[0]["after"])
    t = _login(api, body["email"], body["password"])
    me = api.get(f"{V1}/me", headers=bearer(t["access_token"]))
    assert me.body["office"]["id"] == world.office["id"]
    g = api.get(f"{V1}/users/{u['id']}", headers=world.admin["h"])
    assert g.status == 200 and g.body["email"] == body["email"]


@pytest.mark.parametrize("role,missing", [("member", "org_id"), ("broker", "org_id"), ("officer", "office_id"),
                                          ("bureau", "region_code")])
def test_user_create_scope_required(api, adb, world, role, missing):
    body = {"email": email("adm"), "password": password(), "role": role}
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/users", json=body, headers=world.admin["h"]), 422)
    assert missing in error_fields(b), b
    body[missing] = None
    b = assert_problem(api.post(f"{V1}/users", json=body, headers=world.admin["h"]), 422)
    assert missing in error_fields(b), b
    assert snapshot(adb) == before


@pytest.mark.parametrize("patch,status,where", [
    ({"password": "short"}, 422, "password"),
    ({"role": "superuser"}, 422, "role"),
    ({"email": "bad"}, 422, "email"),
    ({"region_code": "999999", "role": "bureau"}, 422, "region_code"),
    ({"active": False}, 400, "active"),
    ({"id": 5}, 400, "id"),
    ({"version": 2}, 400, "version"),
    ({"password_hash": "pbkdf2-sha256$1$a$b"}, 400, "password_hash"),
    ({"status": "active"}, 400, "status"),
])
def test_user_create_invalid(api, adb, world, patch, status, where):
    body = {"email": email("adm"), "password": password(), "role": "reviewer"}
    body.update(patch)
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/users", json=body, headers=world.admin["h"]), status)
    assert where in error_fields(b), b
    assert snapshot(adb) == before


def test_user_create_duplicate_email(api, adb, world):
    addr = email("dup")
    assert api.post(f"{V1}/users", json={"email": addr, "password": password(), "role": "reviewer"},
                    headers=world.admin["h"]).status == 201
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/users", json={"email": addr.upper(), "password": password(),
                                                     "role": "reviewer"}, headers=world.admin["h"]), 409)
    assert "email" in error_fields(b)
    assert snapshot(adb) == before


def test_user_list_filter_and_pages(api, world):
    h = world.admin["h"]
    r = api.get(f"{V1}/users", params={"role": "officer"}, headers=h)
    assert r.status == 200
    assert r.body["items"] and all(u["role"] == "officer" for u in r.body["items"])
    assert all("password_hash" not in u for u in r.body["items"])
    seen = []
    r = api.get(f"{V1}/users", params={"limit": "2"}, headers=h)
    for _ in range(3):
        assert r.status == 200
        seen += [u["id"] for u in r.body["items"]]
        if not r.body["next_cursor"]:
            break
        r = api.get(f"{V1}/users", params={"limit": "2", "cursor": r.body["next_cursor"]}, headers=h)
    assert len(seen) == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert_problem(api.get(f"{V1}/users", params={"cursor": "abc.def"}, headers=h), 400)
    assert_problem(api.get(f"{V1}/users", params={"limit": "1000"}, headers=h), 400)


def test_user_role_change_seen_on_next_request(api, adb, users, world):
    u = users.create(role="reviewer")
    tok = _login(api, u["email"], u["password"])["access_token"]
    assert_problem(api.get(f"{V1}/users", headers=bearer(tok)), 403)
    g = api.get(f"{V1}/users/{u['id']}", headers=world.admin["h"])
    r = api.patch(f"{V1}/users/{u['id']}", json={"role": "admin"},
                  headers={**world.admin["h"], "If-Match": g.headers["ETag"]})
    assert r.status == 200, r
    assert r.body["role"] == "admin" and r.body["version"] == g.body["version"] + 1
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["before"]["role"] == "reviewer" and a[0]["after"]["role"] == "admin"
    assert api.get(f"{V1}/users", headers=bearer(tok)).status == 200
    r = api.patch(f"{V1}/users/{u['id']}", json={"role": "member", "org_id": world.org_b["id"]},
                  headers=world.admin["h"])
    assert r.status == 200, r
    assert_problem(api.get(f"{V1}/users", headers=bearer(tok)), 403)
    assert_problem(api.get(f"{V1}/orgs/{world.org_a['id']}", headers=bearer(tok)), 404)
    assert api.get(f"{V1}/orgs/{world.org_b['id']}", headers=bearer(tok)).status == 200


@pytest.mark.parametrize("patch,where", [({"role": "superuser"}, "role"), ({"display_name": ""}, "display_name")])
def test_user_patch_invalid_422(api, adb, users, world, patch, where):
    u = users.create(role="reviewer")
    before = snapshot(adb)
    b = assert_problem(api.patch(f"{V1}/users/{u['id']}", json=patch, headers=world.admin["h"]), 422)
    assert error_fields(b) == [where], b
    assert snapshot(adb) == before


def test_user_patch_stale_if_match(api, adb, users, world):
    u = users.create(role="reviewer")
    g = api.get(f"{V1}/users/{u['id']}", headers=world.admin["h"])
    assert api.patch(f"{V1}/users/{u['id']}", json={"display_name": "一"},
                     headers={**world.admin["h"], "If-Match": g.headers["ETag"]}).status == 200
    before = snapshot(adb)
    r = api.patch(f"{V1}/users/{u['id']}", json={"role": "admin"},
                  headers={**world.admin["h"], "If-Match": g.headers["ETag"]})
    assert_problem(r, 412)
    assert snapshot(adb) == before
    assert _user_by_email(adb, u["email"])[0]["role"] == "reviewer"


@pytest.mark.parametrize("patch", [{"role": "reviewer"}, {"active": False}, {"role": "admin", "display_name": "x"}])
def test_admin_cannot_change_own_role_or_active(api, adb, users, patch):
    me = users.create(role="admin")
    h = users.auth(me)
    before = snapshot(adb)
    r = api.patch(f"{V1}/users/{me['id']}", json=patch, headers=h)
    assert_problem(r, 422)
    assert snapshot(adb) == before
    assert api.get(f"{V1}/users", headers=h).status == 200


def test_admin_may_edit_own_display_name(api, users):
    me = users.create(role="admin")
    r = api.patch(f"{V1}/users/{me['id']}", json={"display_name": "管理员"}, headers=users.auth(me))
    assert r.status == 200 and r.body["display_name"] == "管理员"


@pytest.mark.parametrize("field,value", [
    ("email", "x@example.test"), ("password", "NewPassword123"), ("password_hash", "pbkdf2-sha256$1$a$b"),
    ("id", 1), ("version", 99), ("created_at", "2024-01-01T00:00:00Z"), ("last_login_at", None),
    ("password_changed_at", "2030-01-01T00:00:00Z"),
])
def test_user_patch_mass_assignment(api, adb, world, field, value):
    uid = world.target["id"]
    before = snapshot(adb)
    r = api.patch(f"{V1}/users/{uid}", json={field: value, "display_name": "mass"}, headers=world.admin["h"])
    b = assert_problem(r, 400)
    assert field in error_fields(b)
    assert snapshot(adb) == before


def test_user_patch_invalid_role(api, adb, world):
    before = snapshot(adb)
    b = assert_problem(api.patch(f"{V1}/users/{world.target['id']}", json={"role": "root"},
                                 headers=world.admin["h"]), 422)
    assert "role" in error_fields(b)
    assert_problem(api.patch(f"{V1}/users/{world.target['id']}", json={"role": "member", "org_id": None},
                             headers=world.admin["h"]), 422)
    assert snapshot(adb) == before


def test_deactivate_user(api, adb, users, world):
    u = users.create(role="reviewer")
    t = _login(api, u["email"], u["password"])
    t2 = _login(api, u["email"], u["password"])
    assert api.get(f"{V1}/me", headers=bearer(t["access_token"])).status == 200
    r = api.patch(f"{V1}/users/{u['id']}", json={"active": False}, headers=world.admin["h"])
    assert r.status == 200 and r.body["active"] is False
    rows = query(adb, "SELECT * FROM refresh_tokens WHERE user_id = %s", u["id"])
    assert len(rows) == 2 and all(x["revoked_at"] is not None for x in rows)
    assert_problem(api.get(f"{V1}/me", headers=bearer(t["access_token"])), 401)
    for tok in (t, t2):
        assert_problem(api.post(f"{V1}/auth/refresh", json={"refresh_token": tok["refresh_token"]}), 401)
    assert_problem(api.post(LOGIN, json={"email": u["email"], "password": u["password"]}), 401)
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["before"]["active"] is True and a[0]["after"]["active"] is False
    # reactivated: signs in again
    r = api.patch(f"{V1}/users/{u['id']}", json={"active": True}, headers=world.admin["h"])
    assert r.status == 200
    t3 = _login(api, u["email"], u["password"])
    assert api.get(f"{V1}/me", headers=bearer(t3["access_token"])).status == 200


def test_get_unknown_user(api, world):
    assert_problem(api.get(f"{V1}/users/987654321", headers=world.admin["h"]), 404)
    assert_problem(api.patch(f"{V1}/users/987654321", json={"display_name": "x"}, headers=world.admin["h"]), 404)


# ====================================================================== registry offices

def test_offices_public_list(api, world):
    r = api.get(f"{V1}/offices")
    assert r.status == 200, r
    assert "items" in r.body and "next_cursor" in r.body
    mine = [f for f in r.body["items"] if f["id"] == world.office["id"]]
    assert len(mine) == 1
    f = mine[0]
    assert set(f) >= {"id", "name", "region_code", "region_name", "active"}
    assert f["region_name"]


def test_office_create_conflict_and_update(api, adb, world):
    h = world.admin["h"]
    region = free_region(adb)
    r = api.post(f"{V1}/offices", json={"name": "第一登记处", "region_code": region}, headers=h)
    assert r.status == 201, r
    first = r.body
    assert first["active"] is True and first["region_code"] == region and first["region_name"]
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["entity"] == "office" and a[0]["action"] == "create"
    # a second active office for the same region
    before = snapshot(adb)
    r = api.post(f"{V1}/offices", json={"name": "第二登记处", "region_code": region}, headers=h)
    assert "region_code" in error_fields(assert_problem(r, 409))
    assert snapshot(adb) == before
    # rename
    r = api.patch(f"{V1}/offices/{first['id']}", json={"name": "更名登记处"}, headers=h)
    assert r.status == 200 and r.body["name"] == "更名登记处"
    a = audit_for_request(adb, r.headers["X-Request-Id"])
    assert len(a) == 1 and a[0]["action"] == "update" and a[0]["before"]["name"] == "第一登记处"
    # deactivate, then a new office for the region is allowed
    r = api.patch(f"{V1}/offices/{first['id']}", json={"active": False}, headers=h)
    assert r.status == 200 and r.body["active"] is False
    r = api.post(f"{V1}/offices", json={"name": "第二登记处", "region_code": region}, headers=h)
    assert r.status == 201, r
    second = r.body
    # re-activating the first would make two active offices
    before = snapshot(adb)
    assert_problem(api.patch(f"{V1}/offices/{first['id']}", json={"active": True}, headers=h), 409)
    assert snapshot(adb) == before
    assert query(adb, "SELECT count(*) AS n FROM registry_offices WHERE region_code = %s AND active",
                 region)[0]["n"] == 1
    assert second["id"] != first["id"]


@pytest.mark.parametrize("body,status,where", [
    ({"name": "x", "region_code": "999999"}, 422, "region_code"),
    ({"name": "", "region_code": None}, 400, "region_code"),
    ({"name": "x", "region_code": "REGION", "active": False}, 400, "active"),
    ({"name": "x", "region_code": "REGION", "id": 1}, 400, "id"),
    ({"name": "", "region_code": "REGION"}, 422, "name"),
    ({"region_code": "REGION"}, 422, "name"),
])
def test_office_create_invalid(api, adb, world, body, status, where):
    body = dict(body)
    if body.get("region_code") == "REGION":
        body["region_code"] = free_region(adb)
    before = snapshot(adb)
    b = assert_problem(api.post(f"{V1}/offices", json=body, headers=world.admin["h"]), status)
    assert where in error_fields(b), b
    assert snapshot(adb) == before


@pytest.mark.parametrize("field,value", [("id", 1), ("version", 5), ("created_at", "2024-01-01T00:00:00Z")])
def test_office_patch_mass_assignment(api, adb, world, field, value):
    before = snapshot(adb)
    b = assert_problem(api.patch(f"{V1}/offices/{world.office['id']}", json={field: value, "name": "m"},
                                 headers=world.admin["h"]), 400)
    assert field in error_fields(b)
    assert snapshot(adb) == before


def test_office_patch_unknown(api, world):
    assert_problem(api.patch(f"{V1}/offices/987654321", json={"name": "x"}, headers=world.admin["h"]), 404)


# ====================================================================== misc

def test_register_then_timing_of_unique_ids(api, adb):
    # two registrations in a row get distinct users and orgs
    a = api.post(REGISTER, json=register_body())
    b = api.post(REGISTER, json=register_body())
    assert a.status == b.status == 201
    assert a.body["user"]["id"] != b.body["user"]["id"] and a.body["org"]["id"] != b.body["org"]["id"]
