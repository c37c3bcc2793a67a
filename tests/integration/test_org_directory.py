"""GET /api/v1/orgs/directory: verified organisations in brief, found by name or credit code, for choosing
a contract's other party; every signed-in role; bad queries 400; nothing but the brief is shown."""

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import V1, assert_problem, credit_code, error_fields, new_org, snapshot, uniq

DIR = f"{V1}/orgs/directory"
BRIEF = {"id", "name", "org_type", "org_type_label", "region_code", "region_name", "credit_code"}


@pytest.fixture(scope="module")
def dirw(api, adb, world):
    """Three organisations sharing a made-up word: verified, pending and rejected."""
    word = "检索词" + uniq()
    h = world.admin["h"]
    orgs = {}
    for state in ("verified", "pending", "rejected"):
        o = new_org(api, h, name=f"{word}{state}科技有限公司", credit_code=credit_code("511902"), region_code="511902")
        if state != "pending":
            r = api.post(f"{V1}/orgs/{o['id']}/verify", json={"decision": state, "note": "目录测试"}, headers=h)
            assert r.status == 200, r
        orgs[state] = o
    # a second verified one whose name starts with the word: it ranks before names merely containing it
    first = new_org(api, h, name=f"{word}", credit_code=credit_code("511902"), region_code="511902")
    api.post(f"{V1}/orgs/{first['id']}/verify", json={"decision": "verified", "note": "目录测试"}, headers=h)
    inner = new_org(api, h, name=f"四川{word}有限公司", credit_code=credit_code("511902"), region_code="511902")
    api.post(f"{V1}/orgs/{inner['id']}/verify", json={"decision": "verified", "note": "目录测试"}, headers=h)
    orgs["first"], orgs["inner"] = first, inner
    return word, orgs


def test_finds_verified_orgs_by_name_in_brief(api, world, dirw):
    word, orgs = dirw
    r = api.get(DIR, params={"q": word}, headers=world.member_a["h"])
    assert r.status == 200, r
    assert r.body["next_cursor"] is None
    ids = [x["id"] for x in r.body["items"]]
    assert orgs["verified"]["id"] in ids and orgs["first"]["id"] in ids and orgs["inner"]["id"] in ids
    assert orgs["pending"]["id"] not in ids and orgs["rejected"]["id"] not in ids, "only verified organisations"
    assert ids.index(orgs["first"]["id"]) < ids.index(orgs["inner"]["id"]), "a name starting with q comes first"
    hit = next(x for x in r.body["items"] if x["id"] == orgs["verified"]["id"])
    assert set(hit) == BRIEF, "no contact details, no webhook, no verification note"
    assert hit["name"] == orgs["verified"]["name"] and hit["credit_code"] == orgs["verified"]["credit_code"]
    assert hit["region_code"] == "511902" and hit["region_name"] == "巴州区"
    assert hit["org_type"] == "100" and hit["org_type_label"]


def test_finds_by_credit_code_any_case_first(api, world, dirw):
    _, orgs = dirw
    code = orgs["verified"]["credit_code"]
    r = api.get(DIR, params={"q": code.lower()}, headers=world.officer["h"])
    assert r.status == 200, r
    assert [x["id"] for x in r.body["items"]][:1] == [orgs["verified"]["id"]]


@pytest.mark.parametrize("who", ["member_a", "member_b", "broker", "reviewer", "officer", "bureau", "admin"])
def test_every_signed_in_role(api, world, dirw, who):
    word, orgs = dirw
    actor = world.admin if who == "admin" else getattr(world, who)
    r = api.get(DIR, params={"q": word}, headers=actor["h"])
    assert r.status == 200, r
    assert orgs["verified"]["id"] in [x["id"] for x in r.body["items"]]


def test_anonymous_401(api, dirw):
    assert_problem(api.get(DIR, params={"q": dirw[0]}), 401)


def test_limit(api, world, dirw):
    word, _ = dirw
    r = api.get(DIR, params={"q": word, "limit": "1"}, headers=world.member_a["h"])
    assert r.status == 200 and len(r.body["items"]) == 1


@pytest.mark.parametrize("params,field,code", [
    ({}, "q", "too_short"),
    ({"q": "甲"}, "q", "too_short"),
    ({"q": "x" * 101}, "q", "too_long"),
    ({"q": "甲乙", "limit": "0"}, "limit", "out_of_range"),
    ({"q": "甲乙", "limit": "21"}, "limit", "out_of_range"),
    ({"q": "甲乙", "limit": "ten"}, "limit", "out_of_range"),
])
def test_bad_query_400(api, adb, world, params, field, code):
    before = snapshot(adb)
    r = api.get(DIR, params=params, headers=world.member_a["h"])
    body = assert_problem(r, 400)
    assert field in error_fields(body)
    assert any(e["code"] == code for e in body["errors"] if e["field"] == field), body
    assert snapshot(adb) == before


def test_bad_encoding_400(api, world):
    r = api.get(DIR + "?q=%FF%FE", headers=world.member_a["h"])
    assert_problem(r, 400)


def test_literal_not_pattern(api, world, dirw):
    """% and _ are taken literally, not as LIKE wildcards."""
    r = api.get(DIR, params={"q": "%%"}, headers=world.member_a["h"])
    assert r.status == 200 and r.body["items"] == []


def test_org_by_id_route_still_answers(api, world):
    """/orgs/directory is matched before /orgs/{id}; ids keep working."""
    r = api.get(f"{V1}/orgs/{world.org_a['id']}", headers=world.member_a["h"])
    assert r.status == 200 and r.body["id"] == world.org_a["id"]
