"""GET /api/v1/users?q=&active=: the admin's user search (email or name contains q, enabled or disabled), with
the role filter and paging it already had; bad parameters 400; other roles 403."""

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import V1, assert_problem, error_fields, snapshot, uniq

USERS = f"{V1}/users"


@pytest.fixture(scope="module")
def people(users, world, api):
    tag = uniq("find")
    a = users.create(role="reviewer", email=f"{tag}-a@example.test", name=f"检索用户{tag}甲")
    b = users.create(role="officer", email=f"{tag}-b@example.test", office=world.office["id"], name=f"检索用户{tag}乙")
    r = api.patch(f"{USERS}/{b['id']}", json={"active": False}, headers=world.admin["h"])
    assert r.status == 200, r
    return tag, a, b


def _ids(r):
    assert r.status == 200, r
    return [str(x["id"]) for x in r.body["items"]]


def test_q_matches_email_case_insensitively(api, world, people):
    tag, a, b = people
    ids = _ids(api.get(USERS, params={"q": tag.upper() + "-A@"}, headers=world.admin["h"]))
    assert ids == [str(a["id"])]


def test_q_matches_display_name(api, world, people):
    tag, a, b = people
    ids = _ids(api.get(USERS, params={"q": f"检索用户{tag}"}, headers=world.admin["h"]))
    assert ids == [str(b["id"]), str(a["id"])], "newest first"


def test_active_and_role_filters(api, world, people):
    tag, a, b = people
    h = world.admin["h"]
    assert _ids(api.get(USERS, params={"q": tag, "active": "false"}, headers=h)) == [str(b["id"])]
    assert _ids(api.get(USERS, params={"q": tag, "active": "true"}, headers=h)) == [str(a["id"])]
    assert _ids(api.get(USERS, params={"q": tag, "role": "officer"}, headers=h)) == [str(b["id"])]
    assert _ids(api.get(USERS, params={"q": tag, "role": "bureau"}, headers=h)) == []


def test_empty_q_is_no_filter_and_paging_works(api, world, people):
    h = world.admin["h"]
    r = api.get(USERS, params={"q": "", "limit": "1"}, headers=h)
    assert r.status == 200 and len(r.body["items"]) == 1 and r.body["next_cursor"]
    r2 = api.get(USERS, params={"q": "", "limit": "1", "cursor": r.body["next_cursor"]}, headers=h)
    assert r2.status == 200 and r2.body["items"][0]["id"] != r.body["items"][0]["id"]


@pytest.mark.parametrize("params,field", [({"q": "x" * 101}, "q"), ({"active": "yes"}, "active"), ({"active": ""}, "active")])
def test_bad_parameters_400(api, adb, world, params, field):
    before = snapshot(adb)
    body = assert_problem(api.get(USERS, params=params, headers=world.admin["h"]), 400)
    assert field in error_fields(body)
    assert snapshot(adb) == before


@pytest.mark.parametrize("who", ["member_a", "broker", "reviewer", "officer", "bureau"])
def test_other_roles_403(api, world, people, who):
    assert_problem(api.get(USERS, params={"q": people[0]}, headers=getattr(world, who)["h"]), 403)
