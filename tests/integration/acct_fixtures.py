"""Shared fixtures and helpers for the accounts / auth / audit integration tests
(test_accounts.py, test_authz_matrix.py, test_tokens.py, test_audit.py, test_rate_limits.py).

Import with `from acct_fixtures import *` (fixtures are then visible to that module only).

  clean_rate_limits   autouse: empties table rate_limits before and after every test, so that
                      the shared 127.0.0.1 login/registration counters never leak between tests
  adb                 module-scoped autocommit connection (superuser) to the main database
  admin               module-scoped admin user (dict from users.create, plus "h" = auth header)
  world               module-scoped cast: orgs A and B, members of each, a broker of A, a reviewer,
                      an officer with an office, a bureau user, an admin, a spare target user

Helpers: credit_code(), org_body(), email(), password(), new_org(), free_region(), snapshot(),
audit_for_request(), forge_jwt() and claims(), jwt_secret().
"""

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
import uuid

import pytest

from contract_fixtures import free_county
from helpers import assert_problem, error_fields, query  # noqa: F401  (re-exported)

__all__ = [
    "V1", "ALPHABET", "WEIGHTS", "credit_check_char", "credit_code", "uniq", "email", "password", "org_body",
    "register_body", "free_region", "new_org", "snapshot", "audit_for_request", "audit_count", "b64u",
    "b64u_json", "jwt_secret", "claims", "forge_jwt", "bearer", "etag_of", "make_actor",
    "clean_rate_limits", "adb", "admin", "world", "assert_problem", "error_fields", "query",
]

V1 = "/api/v1"

# --------------------------------------------------------------------------------------
# GB 32100-2015 unified social credit codes
# --------------------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_rng = random.SystemRandom()


def credit_check_char(first17):
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code(region="110108"):
    """A fresh random valid credit code."""
    s = _rng.choice("123456789ABCDEFGY") + _rng.choice(ALPHABET) + region + \
        "".join(_rng.choice(ALPHABET) for _ in range(9))
    return s + credit_check_char(s)


assert credit_check_char("12511900MB0123456") == "L"


# --------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------

def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def email(prefix="user"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


def password():
    return "Pw-" + secrets.token_urlsafe(12)


def org_body(**over):
    b = {"name": "测试单位 " + uniq("org"), "org_type": "100", "credit_code": credit_code(),
         "region_code": "110108"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


def register_body(org=True, **over):
    b = {"email": email("reg"), "password": password(), "display_name": "注册用户"}
    if org is True:
        b["org"] = org_body()
    elif org:
        b["org"] = org
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def etag_of(version):
    return f'"{version}"'


# --------------------------------------------------------------------------------------
# Database helpers
# --------------------------------------------------------------------------------------

def free_region(db):
    """A county-level region with no active registry office: contract_fixtures.free_county."""
    return free_county(db)


def snapshot(db):
    """Everything a refused accounts write must leave unchanged (logins excepted:
    last_login_at/version/updated_at of users are left out)."""
    return query(db, """
        SELECT
          (SELECT count(*) FROM orgs) AS orgs,
          (SELECT md5(coalesce(string_agg(o::text, '|' ORDER BY o.id), '')) FROM orgs o) AS orgs_md5,
          (SELECT count(*) FROM users) AS users,
          (SELECT md5(coalesce(string_agg(row(u.id, u.email, u.display_name, u.phone, u.role, u.org_id,
                    u.office_id, u.region_code, u.active, u.password_hash, u.password_changed_at)::text,
                    '|' ORDER BY u.id), '')) FROM users u) AS users_md5,
          (SELECT count(*) FROM registry_offices) AS offices,
          (SELECT md5(coalesce(string_agg(f::text, '|' ORDER BY f.id), '')) FROM registry_offices f) AS offices_md5,
          (SELECT count(*) FROM invitations) AS invitations,
          (SELECT md5(coalesce(string_agg(i::text, '|' ORDER BY i.id), '')) FROM invitations i) AS inv_md5,
          (SELECT count(*) FROM audit_log) AS audit,
          (SELECT max(id) FROM audit_log) AS audit_max,
          (SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL) AS revoked
    """)[0]


def audit_for_request(db, request_id):
    return query(db, "SELECT * FROM audit_log WHERE request_id = %s ORDER BY id", request_id)


def audit_count(db):
    return query(db, "SELECT count(*) AS n FROM audit_log")[0]["n"]


# --------------------------------------------------------------------------------------
# JWT forging (the test knows the server's secret: the harness wrote it)
# --------------------------------------------------------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def jwt_secret(stack):
    data = stack.secret_file.read_bytes()
    # the server strips trailing CR/LF from the secret file
    while data and data[-1:] in (b"\n", b"\r"):
        data = data[:-1]
    return data


def claims(subject, now=None, **over):
    """The claims the server issues; keyword value None removes a claim."""
    now = int(time.time()) if now is None else now
    c = {"iss": "yizhan", "aud": "yizhan-api", "sub": str(subject), "iat": now, "nbf": now, "exp": now + 900,
         "jti": uuid.uuid4().hex}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def forge_jwt(claims_obj, key, header=None, digest=hashlib.sha256, signature=None):
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    h = header if isinstance(header, str) else b64u_json(header)
    p = claims_obj if isinstance(claims_obj, str) else b64u_json(claims_obj)
    signing_input = f"{h}.{p}".encode()
    if signature is None:
        signature = b64u(hmac.new(key, signing_input, digest).digest())
    return f"{h}.{p}.{signature}"


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def clean_rate_limits(_db_conn):
    with _db_conn.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    yield
    with _db_conn.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")


@pytest.fixture(scope="module")
def adb(_db_conn):
    return _db_conn


def make_actor(users, role, **kw):
    u = users.create(role=role, **kw)
    u["h"] = users.auth(u)
    return u


def new_org(api, admin_h, **over):
    r = api.post(f"{V1}/orgs", json=org_body(**over), headers=admin_h)
    assert r.status == 201, r
    return r.body


@pytest.fixture(scope="module")
def admin(users, adb):
    with adb.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    return make_actor(users, "admin")


class World:
    pass


@pytest.fixture(scope="module")
def world(api, users, adb, admin):
    with adb.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    w = World()
    w.admin = admin
    w.org_a = new_org(api, admin["h"], name="甲单位 " + uniq())
    w.org_b = new_org(api, admin["h"], name="乙单位 " + uniq())
    r = api.post(f"{V1}/offices", json={"name": "登记处 " + uniq(), "region_code": free_region(adb)},
                 headers=admin["h"])
    assert r.status == 201, r
    w.office = r.body
    w.member_a = make_actor(users, "member", org=w.org_a["id"])
    w.member_b = make_actor(users, "member", org=w.org_b["id"])
    w.broker = make_actor(users, "broker", org=w.org_a["id"])
    w.reviewer = make_actor(users, "reviewer")
    w.officer = make_actor(users, "officer", office=w.office["id"])
    w.bureau = make_actor(users, "bureau", region="110000")
    w.target = make_actor(users, "reviewer")  # a user that admin PATCH rows act on
    with adb.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    return w
