"""Access-token attacks against GET /api/v1/me, refresh-token rotation and replay,
logout, and revocation by password change."""

import hashlib
import hmac
import json
import time

import pytest

from acct_fixtures import *  # noqa: F401,F403
from acct_fixtures import (V1, assert_problem, b64u, b64u_json, bearer, claims, error_fields, forge_jwt,
                           jwt_secret, password, query)

ME = f"{V1}/me"
LOGIN = f"{V1}/auth/login"
REFRESH = f"{V1}/auth/refresh"
LOGOUT = f"{V1}/auth/logout"
PASSWORD = f"{V1}/me/password"


@pytest.fixture(scope="module")
def victim(users):
    return users.create(role="reviewer")


@pytest.fixture(scope="module")
def key(stack):
    return jwt_secret(stack)


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _login(api, user, pw=None):
    r = api.post(LOGIN, json={"email": user["email"], "password": pw or user["password"]})
    assert r.status == 200, r
    return r.body


def _assert_401(r):
    body = assert_problem(r, 401)
    assert "email" not in body and "role" not in body
    return body


# ------------------------------------------------------------------ the forging helper is right

def test_control_forged_token_with_our_secret_is_accepted(api, victim, key):
    tok = forge_jwt(claims(victim["id"]), key)
    r = api.get(ME, headers=bearer(tok))
    assert r.status == 200, r
    assert str(r.body["id"]) == str(victim["id"])
    assert r.body["email"] == victim["email"]
    assert r.body["role"] == "reviewer"


def test_control_forged_without_typ_and_without_nbf_accepted(api, victim, key):
    tok = forge_jwt(claims(victim["id"], nbf=None), key, header={"alg": "HS256"})
    r = api.get(ME, headers=bearer(tok))
    assert r.status == 200, r


def test_issued_token_carries_the_expected_claims(api, victim):
    tok = _login(api, victim)["access_token"]
    h, p, _ = tok.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    import base64
    header = json.loads(base64.urlsafe_b64decode(pad(h)))
    payload = json.loads(base64.urlsafe_b64decode(pad(p)))
    assert header["alg"] == "HS256"
    assert payload["iss"] == "yizhan" and payload["aud"] == "yizhan-api"
    assert payload["sub"] == str(victim["id"])
    assert payload["exp"] - payload["iat"] == 900
    assert payload["jti"]


# ------------------------------------------------------------------ forged / broken tokens

def _attacks(uid, key):
    now = int(time.time())
    good = claims(uid)
    signing_input = f"{b64u_json({'alg': 'HS256', 'typ': 'JWT'})}.{b64u_json(good)}"
    return {
        "alg none": f"{b64u_json({'alg': 'none', 'typ': 'JWT'})}.{b64u_json(good)}.",
        "alg None": f"{b64u_json({'alg': 'None', 'typ': 'JWT'})}.{b64u_json(good)}.",
        "alg nOnE": f"{b64u_json({'alg': 'nOnE', 'typ': 'JWT'})}.{b64u_json(good)}.",
        "alg none with our signature": forge_jwt(good, key, header={"alg": "none", "typ": "JWT"}),
        "alg none, no signature part": f"{b64u_json({'alg': 'none'})}.{b64u_json(good)}",
        "HS256 empty key": forge_jwt(good, b""),
        "HS256 other secret": forge_jwt(good, b"another secret, 32 bytes or more!!"),
        # HMAC pads a short key with zero bytes, so a key ending in zeros equals
        # itself without them: drop those and one real byte (a truly other key).
        "HS256 secret prefix": forge_jwt(good, key.rstrip(b"\0")[:-1]),
        "RS256 header, HMAC with our secret": forge_jwt(good, key, header={"alg": "RS256", "typ": "JWT"}),
        "ES256 header": forge_jwt(good, key, header={"alg": "ES256", "typ": "JWT"}),
        "HS512 with our secret": forge_jwt(good, key, header={"alg": "HS512", "typ": "JWT"},
                                           digest=hashlib.sha512),
        "HS384 with our secret": forge_jwt(good, key, header={"alg": "HS384", "typ": "JWT"},
                                           digest=hashlib.sha384),
        "lower-case hs256": forge_jwt(good, key, header={"alg": "hs256", "typ": "JWT"}),
        "header with kid": forge_jwt(good, key, header={"alg": "HS256", "typ": "JWT", "kid": "../../dev/null"}),
        "header with jku": forge_jwt(good, key, header={"alg": "HS256", "jku": "http://evil.test/k"}),
        "header with crit": forge_jwt(good, key, header={"alg": "HS256", "crit": ["exp"]}),
        "header not an object": forge_jwt(good, key, header=b64u(b'"HS256"')),
        "duplicate alg in header": forge_jwt(good, key, header=b64u(b'{"alg":"none","alg":"HS256"}')),
        "expired": forge_jwt(claims(uid, now=now - 2000), key),
        "expired just now (beyond leeway)": forge_jwt(claims(uid, now=now - 1000, exp=now - 60), key),
        "lifetime longer than 15 minutes": forge_jwt(claims(uid, exp=now + 86400 * 365), key),
        "issued in the future": forge_jwt(claims(uid, now=now + 600), key),
        "nbf in the future": forge_jwt(claims(uid, nbf=now + 600), key),
        "wrong iss": forge_jwt(claims(uid, iss="evil"), key),
        "wrong aud": forge_jwt(claims(uid, aud="other-api"), key),
        "missing iss": forge_jwt(claims(uid, iss=None), key),
        "missing aud": forge_jwt(claims(uid, aud=None), key),
        "missing exp": forge_jwt(claims(uid, exp=None), key),
        "missing iat": forge_jwt(claims(uid, iat=None), key),
        "missing sub": forge_jwt(claims(uid, sub=None), key),
        "missing jti": forge_jwt(claims(uid, jti=None), key),
        "empty jti": forge_jwt(claims(uid, jti=""), key),
        "sub of a non-existent user": forge_jwt(claims(987654321987), key),
        "sub zero": forge_jwt(claims(0), key),
        "sub negative": forge_jwt(claims(-1), key),
        "sub not a number": forge_jwt(claims("admin"), key),
        "sub with trailing junk": forge_jwt(claims(f"{uid} OR 1=1"), key),
        "exp as string": forge_jwt(claims(uid, exp=str(now + 900)), key),
        "payload tampered, original signature":
            signing_input.split(".")[0] + "." + b64u_json(claims(uid, sub="1")) + "." +
            b64u(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()),
        "signature stripped": signing_input + ".",
        "signature of other token": signing_input + "." + forge_jwt(claims(uid), key).split(".")[2],
        "garbage": "garbage",
        "three dots of garbage": "a.b.c",
        "empty parts": "..",
        "four parts": forge_jwt(good, key) + ".x",
        "non-base64 payload": f"{b64u_json({'alg': 'HS256'})}.!!!.{b64u(b'x' * 32)}",
        "very long": forge_jwt(claims(uid, pad="x" * 5000), key),
    }


ATTACK_NAMES = list(_attacks(1, b"k" * 32).keys())


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_forged_or_broken_token_refused(api, victim, key, name):
    tok = _attacks(victim["id"], key)[name]
    r = api.get(ME, headers=bearer(tok))
    _assert_401(r)


def test_tampered_payload_of_a_real_token_refused(api, victim, users):
    other = users.create(role="admin")
    tok = _login(api, victim)["access_token"]
    h, p, s = tok.split(".")
    import base64
    payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    payload["sub"] = str(other["id"])
    r = api.get(ME, headers=bearer(f"{h}.{b64u_json(payload)}.{s}"))
    _assert_401(r)
    # the untouched token still works
    assert api.get(ME, headers=bearer(tok)).status == 200


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer  ", "", "Token abc", "Basic dXNlcjpwYXNzd29yZA==", "bearer",
    "BearerXYZ",
])
def test_bad_authorization_header_refused(api, header):
    r = api.get(ME, headers={"Authorization": header})
    _assert_401(r)


def test_basic_with_real_credentials_refused(api, victim):
    import base64
    cred = base64.b64encode(f"{victim['email']}:{victim['password']}".encode()).decode()
    _assert_401(api.get(ME, headers={"Authorization": f"Basic {cred}"}))


def test_no_authorization_header(api):
    r = api.get(ME)
    _assert_401(r)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers


def test_every_401_carries_www_authenticate(api, users, adb, key):
    """RFC 9110 §15.5.2 / RFC 6750 §3: a 401 MUST carry WWW-Authenticate, also when the
    token is well-signed but its account is gone, disabled or the session was revoked."""
    u = users.create(role="reviewer")
    cases = {"bad signature": forge_jwt(claims(u["id"]), b"x" * 40),
             "unknown subject": forge_jwt(claims(987654321987), key)}
    old = forge_jwt(claims(u["id"], now=int(time.time()) - 5), key)
    with adb.cursor() as cur:
        cur.execute("UPDATE users SET password_changed_at = now() WHERE id = %s", (u["id"],))
    cases["revoked by password change"] = old
    missing = []
    for name, tok in cases.items():
        r = api.get(ME, headers=bearer(tok))
        _assert_401(r)
        if not r.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            missing.append(name)
    assert not missing, f"401 without WWW-Authenticate: {missing}"


def test_refresh_token_is_not_an_access_token(api, victim):
    rt = _login(api, victim)["refresh_token"]
    _assert_401(api.get(ME, headers=bearer(rt)))


def test_token_of_deleted_subject_refused_even_with_valid_signature(api, users, adb, key):
    u = users.create(role="reviewer")
    tok = forge_jwt(claims(u["id"]), key)
    assert api.get(ME, headers=bearer(tok)).status == 200
    with adb.cursor() as cur:
        cur.execute("UPDATE users SET active = false WHERE id = %s", (u["id"],))
    _assert_401(api.get(ME, headers=bearer(tok)))


# ------------------------------------------------------------------ refresh rotation

def test_refresh_rotates_and_replay_revokes_family(api, users, adb):
    u = users.create(role="reviewer")
    t1 = _login(api, u)
    r = api.post(REFRESH, json={"refresh_token": t1["refresh_token"]})
    assert r.status == 200, r
    t2 = r.body
    assert set(t2) >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert t2["token_type"] == "Bearer"
    assert t2["refresh_token"] != t1["refresh_token"]
    assert api.get(ME, headers=bearer(t2["access_token"])).status == 200
    rows = {x["token_hash"]: x for x in query(adb, "SELECT * FROM refresh_tokens WHERE user_id = %s", u["id"])}
    old, new = rows[_hash(t1["refresh_token"])], rows[_hash(t2["refresh_token"])]
    assert old["used_at"] is not None and old["revoked_at"] is None
    assert new["used_at"] is None and new["revoked_at"] is None
    assert old["family_id"] == new["family_id"]
    for x in (old, new):   # setting refresh_token_days (30, 0002)
        assert abs((x["expires_at"] - x["created_at"]).total_seconds() - 30 * 86400) < 60
    # a second, independent sign-in (another family)
    other = _login(api, u)

    # rotate once more so the family has three generations
    t3 = api.post(REFRESH, json={"refresh_token": t2["refresh_token"]}).body
    assert "refresh_token" in t3

    # replay of the first (used) token
    r = api.post(REFRESH, json={"refresh_token": t1["refresh_token"]})
    body = assert_problem(r, 401)
    assert "access_token" not in body
    # the newest token of that family no longer works
    assert_problem(api.post(REFRESH, json={"refresh_token": t3["refresh_token"]}), 401)
    fam = query(adb, "SELECT * FROM refresh_tokens WHERE family_id = %s", old["family_id"])
    assert len(fam) == 3
    assert all(x["revoked_at"] is not None for x in fam), fam
    assert any(x["revoke_reason"] == "replay" for x in fam)
    # the other family is untouched
    r = api.post(REFRESH, json={"refresh_token": other["refresh_token"]})
    assert r.status == 200, r


def test_refresh_token_single_use_even_without_replay_detection_race(api, users):
    u = users.create(role="reviewer")
    t1 = _login(api, u)
    assert api.post(REFRESH, json={"refresh_token": t1["refresh_token"]}).status == 200
    assert_problem(api.post(REFRESH, json={"refresh_token": t1["refresh_token"]}), 401)


@pytest.mark.parametrize("tok", ["rt_garbage", "", "x" * 300])
def test_refresh_with_unknown_token_401(api, adb, tok):
    before = query(adb, "SELECT count(*) AS n FROM refresh_tokens")[0]["n"]
    assert_problem(api.post(REFRESH, json={"refresh_token": tok}), 401)
    assert query(adb, "SELECT count(*) AS n FROM refresh_tokens")[0]["n"] == before


def test_refresh_of_expired_refresh_token_401(api, users, adb):
    u = users.create(role="reviewer")
    t = _login(api, u)
    with adb.cursor() as cur:
        cur.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = %s",
                    (_hash(t["refresh_token"]),))
    assert_problem(api.post(REFRESH, json={"refresh_token": t["refresh_token"]}), 401)


def test_refresh_for_deactivated_user_401(api, users, adb):
    u = users.create(role="reviewer")
    t = _login(api, u)
    with adb.cursor() as cur:
        cur.execute("UPDATE users SET active = false WHERE id = %s", (u["id"],))
    assert_problem(api.post(REFRESH, json={"refresh_token": t["refresh_token"]}), 401)


def test_refresh_body_rejects_unknown_fields(api, users):
    u = users.create(role="reviewer")
    t = _login(api, u)
    body = assert_problem(api.post(REFRESH, json={"refresh_token": t["refresh_token"], "user_id": 1}), 400)
    assert "user_id" in error_fields(body)


# ------------------------------------------------------------------ logout

def test_logout_revokes_family(api, users, adb):
    u = users.create(role="reviewer")
    t1 = _login(api, u)
    t2 = api.post(REFRESH, json={"refresh_token": t1["refresh_token"]}).body
    other = _login(api, u)
    r = api.post(LOGOUT, json={"refresh_token": t2["refresh_token"]})
    assert r.status == 204, r
    assert r.content == b""
    assert_problem(api.post(REFRESH, json={"refresh_token": t2["refresh_token"]}), 401)
    fam = query(adb, "SELECT f.* FROM refresh_tokens f JOIN refresh_tokens t ON t.family_id = f.family_id"
                     " WHERE t.token_hash = %s", _hash(t2["refresh_token"]))
    assert len(fam) == 2 and all(x["revoked_at"] is not None for x in fam), fam
    assert {x["revoke_reason"] for x in fam} == {"logout"}
    # other sign-ins of the same user are not affected
    assert api.post(REFRESH, json={"refresh_token": other["refresh_token"]}).status == 200


def test_logout_with_older_token_of_family_revokes_newest(api, users):
    u = users.create(role="reviewer")
    t1 = _login(api, u)
    t2 = api.post(REFRESH, json={"refresh_token": t1["refresh_token"]}).body
    assert api.post(LOGOUT, json={"refresh_token": t1["refresh_token"]}).status == 204
    assert_problem(api.post(REFRESH, json={"refresh_token": t2["refresh_token"]}), 401)


def test_logout_unknown_token_changes_nothing(api, adb):
    before = query(adb, "SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS live FROM refresh_tokens")[0]
    r = api.post(LOGOUT, json={"refresh_token": "rt_unknown"})
    assert r.status == 204, r
    after = query(adb, "SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS live FROM refresh_tokens")[0]
    assert after == before


# ------------------------------------------------------------------ password change

def test_password_change_revokes_everything(api, users, adb):
    u = users.create(role="reviewer")
    t1 = _login(api, u)
    t2 = _login(api, u)
    assert api.get(ME, headers=bearer(t1["access_token"])).status == 200
    time.sleep(1.1)
    new_pw = password()
    r = api.post(PASSWORD, json={"current_password": u["password"], "new_password": new_pw},
                 headers=bearer(t1["access_token"]))
    assert r.status == 204, r
    rid = r.headers["X-Request-Id"]
    # access tokens issued before the change are refused
    _assert_401(api.get(ME, headers=bearer(t1["access_token"])))
    _assert_401(api.get(ME, headers=bearer(t2["access_token"])))
    # every refresh token of the user is revoked
    for t in (t1, t2):
        assert_problem(api.post(REFRESH, json={"refresh_token": t["refresh_token"]}), 401)
    rows = query(adb, "SELECT * FROM refresh_tokens WHERE user_id = %s", u["id"])
    assert rows and all(x["revoked_at"] is not None for x in rows)
    assert {x["revoke_reason"] for x in rows} == {"password"}
    # the old password no longer signs in, the new one does
    assert_problem(api.post(LOGIN, json={"email": u["email"], "password": u["password"]}), 401)
    t3 = _login(api, u, new_pw)
    assert api.get(ME, headers=bearer(t3["access_token"])).status == 200
    assert api.post(REFRESH, json={"refresh_token": t3["refresh_token"]}).status == 200
    # audited, with actor and request id
    a = query(adb, "SELECT * FROM audit_log WHERE request_id = %s", rid)
    assert len(a) == 1, a
    assert a[0]["entity"] == "user" and a[0]["entity_id"] == str(u["id"])
    assert a[0]["action"] == "password_change"
    assert a[0]["actor_user_id"] == int(u["id"])
    assert "password" not in json.dumps(a[0]["after"] or {}) and "pbkdf2" not in json.dumps(a[0]["before"] or {})


def test_password_change_wrong_current_changes_nothing(api, users, adb):
    u = users.create(role="reviewer")
    t = _login(api, u)
    before = query(adb, "SELECT password_hash, password_changed_at FROM users WHERE id = %s", u["id"])[0]
    n_audit = query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    r = api.post(PASSWORD, json={"current_password": u["password"] + "x", "new_password": password()},
                 headers=bearer(t["access_token"]))
    body = assert_problem(r, 422)
    assert "current_password" in error_fields(body)
    assert query(adb, "SELECT password_hash, password_changed_at FROM users WHERE id = %s", u["id"])[0] == before
    assert query(adb, "SELECT count(*) AS n FROM audit_log")[0]["n"] == n_audit
    assert api.get(ME, headers=bearer(t["access_token"])).status == 200
    assert api.post(REFRESH, json={"refresh_token": t["refresh_token"]}).status == 200


def test_password_change_weak_new_password(api, users, adb):
    u = users.create(role="reviewer")
    t = _login(api, u)
    before = query(adb, "SELECT password_hash FROM users WHERE id = %s", u["id"])[0]
    r = api.post(PASSWORD, json={"current_password": u["password"], "new_password": "short9"},
                 headers=bearer(t["access_token"]))
    body = assert_problem(r, 422)
    assert "new_password" in error_fields(body)
    assert query(adb, "SELECT password_hash FROM users WHERE id = %s", u["id"])[0] == before


def test_password_change_requires_auth(api):
    _assert_401(api.post(PASSWORD, json={"current_password": "x" * 12, "new_password": "y" * 12}))


# ------------------------------------------------------------------ roles come from the database

def test_role_is_read_from_database_per_request(api, users, adb, key):
    u = users.create(role="reviewer")
    tok = _login(api, u)["access_token"]
    assert_problem(api.get(f"{V1}/users", headers=bearer(tok)), 403)
    with adb.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin' WHERE id = %s", (u["id"],))
    try:
        assert api.get(f"{V1}/users", headers=bearer(tok)).status == 200
        assert api.get(ME, headers=bearer(tok)).body["role"] == "admin"
    finally:
        with adb.cursor() as cur:
            cur.execute("UPDATE users SET role = 'reviewer' WHERE id = %s", (u["id"],))
    assert_problem(api.get(f"{V1}/users", headers=bearer(tok)), 403)
    # a token cannot grant itself a role
    forged = forge_jwt(claims(u["id"], role="admin", roles=["admin"]), key)
    assert_problem(api.get(f"{V1}/users", headers=bearer(forged)), 403)
