"""The web front end's session: the refresh token in an HttpOnly, Secure, SameSite=Strict cookie limited to
/api/v1/auth ("session": "cookie" at login), rotated by POST /auth/refresh without a body token, ended by
POST /auth/logout; the JSON body form of refresh and logout keeps working for API clients."""

import hashlib
import re

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import V1, assert_problem, error_fields

ME = f"{V1}/me"
LOGIN = f"{V1}/auth/login"
REFRESH = f"{V1}/auth/refresh"
LOGOUT = f"{V1}/auth/logout"


@pytest.fixture()
def person(users):
    return users.create(role="reviewer")


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _cookie(resp):
    """The yz_refresh Set-Cookie of a response: (value, {attribute: value})."""
    raw = resp.headers.get("Set-Cookie")
    assert raw, f"no Set-Cookie in {resp.status}: {resp.headers}"
    parts = [p.strip() for p in raw.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "yz_refresh", raw
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return value, attrs


def _cookie_login(api, person):
    r = api.post(LOGIN, json={"email": person["email"], "password": person["password"], "session": "cookie"})
    assert r.status == 200, r
    return r


def _tokens(db, user_id):
    return query(db, "SELECT token_hash, used_at IS NOT NULL, revoked_at IS NOT NULL, revoke_reason"
                     " FROM refresh_tokens WHERE user_id = %s ORDER BY id", (user_id,))


def query(db, sql, args=()):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_cookie_login_sets_the_cookie_and_keeps_the_token_out_of_the_body(api, db, person, stack):
    r = _cookie_login(api, person)
    assert r.body["refresh_token"] is None, "the token must not reach a script"
    assert r.body["token_type"] == "Bearer" and r.body["access_token"].count(".") == 2
    value, attrs = _cookie(r)
    assert value.startswith("rt_") and len(value) > 40
    assert attrs["path"] == "/api/v1/auth"
    assert "httponly" in attrs and "secure" in attrs
    assert attrs["samesite"] == "Strict"
    lifetime = query(db, "SELECT extract(epoch FROM auth_token_lifetime())::bigint")[0][0]
    assert int(attrs["max-age"]) == lifetime
    assert r.headers.get("Cache-Control") == "no-store"
    # the server keeps its hash, as for a body token
    rows = _tokens(db, person["id"])
    assert [x[0] for x in rows] == [_hash(value)]


def test_body_login_sets_no_cookie(api, person):
    for body in ({}, {"session": "body"}):
        r = api.post(LOGIN, json={"email": person["email"], "password": person["password"], **body})
        assert r.status == 200, r
        assert isinstance(r.body["refresh_token"], str)
        assert "Set-Cookie" not in r.headers


@pytest.mark.parametrize("value,status", [("Cookie", 400), ("", 400), (1, 400), (None, 400)])
def test_login_bad_session_value(api, person, value, status):
    r = api.post(LOGIN, json={"email": person["email"], "password": person["password"], "session": value})
    body = assert_problem(r, status)
    assert "session" in error_fields(body)
    assert "Set-Cookie" not in r.headers


def test_refresh_with_the_cookie_rotates_it(api, db, person):
    old, _ = _cookie(_cookie_login(api, person))
    r = api.post(REFRESH, json={}, headers={"Cookie": f"other=1; yz_refresh={old}; x=y"})
    assert r.status == 200, r
    assert r.body["refresh_token"] is None
    new, attrs = _cookie(r)
    assert new != old and attrs["path"] == "/api/v1/auth" and "httponly" in attrs
    me = api.get(ME, headers={"Authorization": "Bearer " + r.body["access_token"]})
    assert me.status == 200 and str(me.body["id"]) == str(person["id"])
    rows = _tokens(db, person["id"])
    assert [(x[0], x[1]) for x in rows] == [(_hash(old), True), (_hash(new), False)]


def test_replayed_cookie_revokes_the_family_and_clears_the_cookie(api, db, person):
    old, _ = _cookie(_cookie_login(api, person))
    new, _ = _cookie(api.post(REFRESH, json={}, headers={"Cookie": f"yz_refresh={old}"}))
    r = api.post(REFRESH, json={}, headers={"Cookie": f"yz_refresh={old}"})
    assert_problem(r, 401)
    value, attrs = _cookie(r)
    assert value == "" and attrs["max-age"] == "0" and attrs["path"] == "/api/v1/auth"
    assert all(x[2] for x in _tokens(db, person["id"])), "the whole family is revoked"
    assert_problem(api.post(REFRESH, json={}, headers={"Cookie": f"yz_refresh={new}"}), 401)


def test_refresh_without_any_token_401(api, db):
    before = query(db, "SELECT count(*) FROM refresh_tokens")[0][0]
    for headers in ({}, {"Cookie": "yz_refresh="}, {"Cookie": "yz_refreshx=rt_abc; other=yz_refresh"}):
        r = api.post(REFRESH, json={}, headers=headers)
        body = assert_problem(r, 401)
        assert "refresh_token" in error_fields(body)
    assert query(db, "SELECT count(*) FROM refresh_tokens")[0][0] == before


def test_unknown_cookie_401_and_cleared(api):
    r = api.post(REFRESH, json={}, headers={"Cookie": "yz_refresh=rt_" + "A" * 43})
    assert_problem(r, 401)
    assert _cookie(r)[0] == ""


def test_body_token_wins_over_the_cookie(api, person):
    """An API client's body token is used (and answered in the body) even when a cookie is present."""
    body_rt = api.post(LOGIN, json={"email": person["email"], "password": person["password"]}).body["refresh_token"]
    cookie_rt, _ = _cookie(_cookie_login(api, person))
    r = api.post(REFRESH, json={"refresh_token": body_rt}, headers={"Cookie": f"yz_refresh={cookie_rt}"})
    assert r.status == 200, r
    assert isinstance(r.body["refresh_token"], str) and "Set-Cookie" not in r.headers
    # the cookie's sign-in is untouched
    assert api.post(REFRESH, json={}, headers={"Cookie": f"yz_refresh={cookie_rt}"}).status == 200


def test_json_refresh_still_works(api, person):
    rt = api.post(LOGIN, json={"email": person["email"], "password": person["password"]}).body["refresh_token"]
    r = api.post(REFRESH, json={"refresh_token": rt})
    assert r.status == 200 and isinstance(r.body["refresh_token"], str) and r.body["refresh_token"] != rt
    assert "Set-Cookie" not in r.headers


def test_logout_with_the_cookie(api, db, person):
    rt, _ = _cookie(_cookie_login(api, person))
    r = api.post(LOGOUT, json={}, headers={"Cookie": f"yz_refresh={rt}"})
    assert r.status == 204, r
    value, attrs = _cookie(r)
    assert value == "" and attrs["max-age"] == "0"
    assert [x[3] for x in _tokens(db, person["id"])] == ["logout"]
    assert_problem(api.post(REFRESH, json={}, headers={"Cookie": f"yz_refresh={rt}"}), 401)


def test_logout_without_any_token_401_changes_nothing(api, db, person):
    _cookie_login(api, person)
    r = api.post(LOGOUT, json={})
    assert_problem(r, 401)
    assert [x[2] for x in _tokens(db, person["id"])] == [False]


@pytest.mark.parametrize("body", [{"refresh_token": 5}, {"refresh_token": None}, {"token": "x"}])
def test_refresh_bad_body_400(api, body):
    assert_problem(api.post(REFRESH, json=body), 400)


def test_cookie_name_is_exact(api, person):
    """Only yz_refresh is read, wherever it sits in the header."""
    rt, _ = _cookie(_cookie_login(api, person))
    assert api.post(REFRESH, json={}, headers={"Cookie": f"a=b;yz_refresh={rt}"}).status == 200
    assert re.match(r"^rt_", rt)
