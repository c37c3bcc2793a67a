"""Rate limits: sign-in per account and per IP, registration per IP → 429 with Retry-After,
and the counters in table rate_limits. Every test starts and ends with an empty
rate_limits table (autouse fixture), and settings changed here are restored."""

import contextlib
import json
import math
import time

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import V1, assert_problem, email, query, register_body, snapshot
from helpers import build_request, wait_until

LOGIN = f"{V1}/auth/login"
REGISTER = f"{V1}/auth/register"
IP = "127.0.0.1"


@contextlib.contextmanager
def setting(db, key, value):
    old = query(db, "SELECT value FROM settings WHERE key = %s", key)
    assert old, f"setting {key} missing"
    with db.cursor() as cur:
        cur.execute("UPDATE settings SET value = %s::jsonb WHERE key = %s", (json.dumps(value), key))
    try:
        yield
    finally:
        with db.cursor() as cur:
            cur.execute("UPDATE settings SET value = %s::jsonb WHERE key = %s", (json.dumps(old[0]["value"]), key))
            cur.execute("DELETE FROM rate_limits")


def _hits(db, key):
    rows = query(db, "SELECT hits FROM rate_limits WHERE key = %s", key)
    return rows[0]["hits"] if rows else 0


def _retry_after(r, upper):
    """The first Retry-After value (a duplicate header is the subject of its own test:
    test_429_has_exactly_one_retry_after)."""
    ra = r.headers.get("Retry-After")
    assert ra is not None, f"429 without Retry-After: {r!r}"
    ra = ra.split(",")[0].strip()
    assert ra.isdigit(), f"Retry-After must be integer seconds, got {ra!r}"
    assert 0 < int(ra) <= upper, ra
    return int(ra)


def test_settings_hold_the_contract_limits(adb):
    rows = {r["key"]: r["value"] for r in query(
        adb, "SELECT key, value FROM settings WHERE key IN "
             "('register_limit_per_ip', 'login_limit_per_ip', 'login_limit_per_account')")}
    assert rows == {
        "register_limit_per_ip": {"max": 10, "window_s": 3600},
        "login_limit_per_ip": {"max": 30, "window_s": 60},
        "login_limit_per_account": {"max": 10, "window_s": 900},
    }


def test_login_limit_per_account(api, adb, users):
    u = users.create(role="reviewer")
    other = users.create(role="reviewer")
    key = f"login_limit_per_account:{u['email'].lower()}"
    for i in range(10):
        # mixed case: the counter is per account, not per spelling
        addr = u["email"].upper() if i % 2 else u["email"]
        r = api.post(LOGIN, json={"email": addr, "password": "wrong-password-123"})
        assert_problem(r, 401)
    assert _hits(adb, key) == 10
    last_login = query(adb, "SELECT last_login_at FROM users WHERE id = %s", u["id"])[0]["last_login_at"]
    n_tokens = query(adb, "SELECT count(*) AS n FROM refresh_tokens WHERE user_id = %s", u["id"])[0]["n"]
    # the 11th attempt is refused even with the right password
    r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
    body = assert_problem(r, 429)
    assert "access_token" not in body
    _retry_after(r, 900)
    assert _hits(adb, key) == 11
    assert query(adb, "SELECT count(*) AS n FROM refresh_tokens WHERE user_id = %s", u["id"])[0]["n"] == n_tokens
    assert query(adb, "SELECT last_login_at FROM users WHERE id = %s", u["id"])[0]["last_login_at"] == last_login
    # another account from the same address is not affected
    r = api.post(LOGIN, json={"email": other["email"], "password": other["password"]})
    assert r.status == 200, r
    # an unknown account is limited the same way (no account enumeration through the limiter)
    ghost = email("ghost")
    statuses = [api.post(LOGIN, json={"email": ghost, "password": "whatever-123"}).status for _ in range(11)]
    assert statuses == [401] * 10 + [429], statuses


def test_login_limit_per_ip(api, adb, users):
    u = users.create(role="reviewer")
    key = f"login_limit_per_ip:{IP}"
    # 30 attempts per minute from one address, spread over different accounts
    for i in range(30):
        r = api.post(LOGIN, json={"email": email("ipl"), "password": "wrong-password-123"})
        assert r.status == 401, (i, r)
    assert _hits(adb, key) == 30
    r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
    assert_problem(r, 429)
    _retry_after(r, 60)
    assert _hits(adb, key) == 31
    assert query(adb, "SELECT count(*) AS n FROM refresh_tokens WHERE user_id = %s", u["id"])[0]["n"] == 0


@pytest.mark.slow  # make test-fast leaves it out: waits a rate-limit window out
def test_login_limit_window_resets(api, adb, users):
    u = users.create(role="reviewer")
    # the window must outlast three sign-ins (each hashes a password: slow
    # under the sanitizers), so it is sized from one
    other = users.create(role="reviewer")
    t0 = time.monotonic()
    assert api.post(LOGIN, json={"email": other["email"], "password": other["password"]}).status == 200
    window = max(2, math.ceil(4 * (time.monotonic() - t0)))
    with setting(adb, "login_limit_per_account", {"max": 2, "window_s": window}):
        for _ in range(2):
            assert_problem(api.post(LOGIN, json={"email": u["email"], "password": "wrong-password-123"}), 401)
        r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
        assert_problem(r, 429)
        assert _retry_after(r, window) <= window
        time.sleep(window + 0.2)
        r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
        assert r.status == 200, r
        # a new window; the success is not counted
        assert _hits(adb, f"login_limit_per_account:{u['email'].lower()}") == 0


def test_successful_sign_ins_are_not_counted(api, adb, users):
    """Ten successful sign-ins in 15 minutes locked an account (issue 18): a sign-in counts when it
    starts, so that a flood is refused before its passwords are hashed, and a right password gives
    the hit back, to the account and to the address."""
    u = users.create(role="reviewer")
    key = f"login_limit_per_account:{u['email'].lower()}"
    ip_before = _hits(adb, f"login_limit_per_ip:{IP}")
    for i in range(15):
        r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
        assert r.status == 200, (i, r)
    assert _hits(adb, key) == 0
    assert _hits(adb, f"login_limit_per_ip:{IP}") == ip_before
    # nine failures, then the right password still signs in; the tenth failure locks
    for _ in range(9):
        assert_problem(api.post(LOGIN, json={"email": u["email"], "password": "wrong-password-123"}), 401)
    assert api.post(LOGIN, json={"email": u["email"], "password": u["password"]}).status == 200
    assert _hits(adb, key) == 9
    assert_problem(api.post(LOGIN, json={"email": u["email"], "password": "wrong-password-123"}), 401)
    r = api.post(LOGIN, json={"email": u["email"], "password": u["password"]})
    assert_problem(r, 429)
    assert 0 < int(r.headers["Retry-After"].split(",")[0]) <= 900
    assert _hits(adb, key) == 11, "the refused attempt counts"  # as any attempt that does not succeed


def test_counters_expire_when_their_window_ends(api, adb, spawn):
    """A counter per e-mail string tried was kept for ever (issue 21). Each row now ends with
    its window, and every instance's background sweep (at start, then every minute) deletes
    the ended ones: ten tried addresses leave ten rows that end with their window; once those
    windows are over the rows are gone, and a counter whose window is still open stays."""
    tried = [email("tried") for _ in range(10)]
    for e in tried:
        assert_problem(api.post(LOGIN, json={"email": e, "password": "wrong-password-123"}), 401)
    keys = [f"login_limit_per_account:{e.lower()}" for e in tried]
    rows = query(adb, "SELECT key, expires_at - window_start AS span FROM rate_limits WHERE key = ANY(%s)", keys)
    window = query(adb, "SELECT (value->>'window_s')::int AS w FROM settings WHERE key = 'login_limit_per_account'")[0]["w"]
    assert len(rows) == 10 and all(r["span"].total_seconds() == window for r in rows), rows
    # those windows are over (as if time had passed); the per-address one is still open
    query(adb, "UPDATE rate_limits SET window_start = now() - interval '2 hours', expires_at = now() - interval '1 second'"
               " WHERE key = ANY(%s)", keys)
    spawn()  # its background sweep runs once at start
    wait_until(lambda: not query(adb, "SELECT 1 FROM rate_limits WHERE key = ANY(%s)", keys), 15,
               message="ended counters deleted by the sweep")
    assert _hits(adb, f"login_limit_per_ip:{IP}") >= 10


def test_register_limit_per_ip(api, adb):
    key = f"register_limit_per_ip:{IP}"
    for i in range(10):
        r = api.post(REGISTER, json=register_body())
        assert r.status == 201, (i, r)
    assert _hits(adb, key) == 10
    body = register_body()
    before = snapshot(adb)
    r = api.post(REGISTER, json=body)
    assert_problem(r, 429)
    _retry_after(r, 3600)
    assert _hits(adb, key) == 11
    assert snapshot(adb) == before
    assert not query(adb, "SELECT 1 FROM users WHERE lower(email) = lower(%s)", body["email"])
    # an invitation does not bypass the limit
    r = api.post(REGISTER, json=register_body(org=False, invitation_code="inv_whatever"))
    assert_problem(r, 429)


def test_register_limit_lowered_via_settings(api, adb):
    with setting(adb, "register_limit_per_ip", {"max": 1, "window_s": 120}):
        assert api.post(REGISTER, json=register_body()).status == 201
        r = api.post(REGISTER, json=register_body())
        assert_problem(r, 429)
        ra = _retry_after(r, 120)
        assert ra > 100


@pytest.mark.parametrize("path", [LOGIN, REGISTER])
def test_rate_limited_response_is_problem_json_with_request_id(api, adb, path):
    key = "login_limit_per_ip" if path == LOGIN else "register_limit_per_ip"
    with setting(adb, key, {"max": 0, "window_s": 30}):
        body = {"email": email(), "password": "wrong-password-123"} if path == LOGIN else register_body()
        r = api.post(path, json=body)
        b = assert_problem(r, 429)
        assert b["request_id"] == r.headers["X-Request-Id"]
        _retry_after(r, 30)


@pytest.mark.parametrize("path", [LOGIN, REGISTER])
def test_429_has_exactly_one_retry_after(server, adb, path):
    """Retry-After is sent once, as the seconds until the window resets (not a second,
    conflicting `Retry-After: 1`, which clients merge into the invalid value "30, 1")."""
    key = "login_limit_per_ip" if path == LOGIN else "register_limit_per_ip"
    with setting(adb, key, {"max": 0, "window_s": 30}):
        body = {"email": email(), "password": "wrong-password-123"} if path == LOGIN else register_body()
        req = build_request("POST", path, [("Content-Type", "application/json"), ("Connection", "close")],
                            json.dumps(body).encode())
        resp = server.raw(req).first
        assert resp.status == 429, resp
        values = [v for n, v in resp.header_list if n.lower() == "retry-after"]
        assert len(values) == 1, f"Retry-After sent {len(values)} times: {values}"
        assert values[0].isdigit() and 20 <= int(values[0]) <= 30, values
