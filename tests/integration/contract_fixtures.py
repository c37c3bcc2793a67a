"""Shared fixtures and helpers for the technology-contract registration tests
(test_contracts.py, test_registration_concurrency.py, test_certificates.py).

Import with `from contract_fixtures import *` (fixtures are then visible to that module only).

Everything a module needs is made here, never assumed: registry offices are inserted by SQL in
county-level regions that have no active office yet (so the main database, shared with the
other test files, never collides), organisations are inserted by SQL (verified unless asked
otherwise) with valid GB 32100-2015 credit codes carrying their region, users come from the
`users` fixture (`yizhan user create`), and signing keys from `yizhan keygen --office ID`.

  clean_rate_limits   autouse: empties rate_limits around every test (all logins share 127.0.0.1)
  cdb                 module-scoped autocommit connection to the main database
  cworld              module-scoped cast: office A (with a signing key) and its officer, office B
                      (with a key) and its officer, verified orgs seller / buyer / third and an
                      unverified org (all in A's region), a member of each, an admin

Helpers: credit_code(), new_office(), new_org(), keygen(), make_actor(), today(), contract_body(),
create_contract(), submit(), register(), submitted_contract(), registered_contract(),
certificate(), verify(), contract_row(), audit_rows(), state(), assert_unchanged().
"""

import datetime
import random
import re
import time
import uuid

import pytest

from helpers import assert_problem, error_fields, query  # noqa: F401  (re-exported)

__all__ = [
    "V1", "ALPHABET", "WEIGHTS", "credit_check_char", "credit_code", "uniq", "free_county", "new_office",
    "new_org", "keygen", "make_actor", "today", "iso", "contract_body", "create_contract", "submit", "register",
    "submitted_contract", "registered_contract", "certificate", "verify", "contract_row", "audit_rows",
    "audit_count", "state", "assert_unchanged", "counter", "reg_no_re", "clean_rate_limits", "cdb", "cworld",
    "assert_problem", "error_fields", "query", "TYPES", "NO_SCAN",
]

V1 = "/api/v1"

# one subtype of each of the five top-level contract types
TYPES = [
    ("development", "commissioned_development"),
    ("transfer", "patent_transfer"),
    ("licence", "patent_licence"),
    ("consulting", "technical_consulting"),
    ("service", "technical_service"),
]

# --------------------------------------------------------------------------------------
# GB 32100-2015 unified social credit codes
# --------------------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_rng = random.SystemRandom()


def credit_check_char(first17):
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code(region):
    """A fresh random valid credit code whose characters 3–8 are the region code."""
    s = _rng.choice("123456789ABCDEFGY") + _rng.choice(ALPHABET) + region + \
        "".join(_rng.choice(ALPHABET) for _ in range(9))
    return s + credit_check_char(s)


assert credit_check_char("12511900MB0123456") == "L"


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------
# Offices, organisations, keys, users
# --------------------------------------------------------------------------------------

def free_county(db):
    """A county-level region with no active registry office (avoiding Beijing and Shanghai,
    which other tests are likelier to use, and 青海 63, whose 2025 totals test_year_close.py
    asserts exactly)."""
    rows = query(db, "SELECT code FROM regions r WHERE level = 3 AND code NOT LIKE '11%%' AND code NOT LIKE '31%%'"
                     " AND code NOT LIKE '63%%'"
                     " AND NOT EXISTS (SELECT 1 FROM registry_offices f WHERE f.region_code = r.code AND f.active)"
                     " ORDER BY random() LIMIT 1")
    assert rows, "no free county left"
    return rows[0]["code"].strip()


def new_office(db, region=None, name=None):
    """An active registry office (by SQL) in a county nobody serves yet."""
    for _ in range(5):
        region_code = region or free_county(db)
        try:
            rows = query(db, "INSERT INTO registry_offices (name, region_code) VALUES (%s, %s) RETURNING id, name,"
                             " region_code", name or "技术合同登记处 " + uniq("off"), region_code)
        except Exception:  # noqa: BLE001  (unique active region: someone took it meanwhile)
            if region:
                raise
            continue
        o = rows[0]
        o["region_code"] = o["region_code"].strip()
        return o
    raise AssertionError("could not create a registry office")


def new_org(db, region, verified=True, org_type="100", name=None, contact_phone=None, contact_name=None,
            contact_email=None, credit=True):
    """An organisation inserted by SQL (verified by default)."""
    code = credit_code(region) if credit else None
    rows = query(db, """
        INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at,
                          contact_phone, contact_name, contact_email)
        VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END, %s, %s, %s)
        RETURNING id, name, org_type, credit_code, region_code, verification_status""",
                 name or "测试单位 " + uniq("org"), org_type, code, region,
                 "verified" if verified else "pending", verified, contact_phone, contact_name, contact_email)
    o = rows[0]
    o["region_code"] = o["region_code"].strip()
    return o


def keygen(stack, office_id):
    """`yizhan keygen --office ID` → the new key_id."""
    p = stack.run(["keygen", "--office", str(office_id)])
    assert p.returncode == 0, f"keygen failed ({p.returncode}): {p.stdout}\n{p.stderr}"
    m = re.search(r"key (\S+)", p.stdout)
    assert m, p.stdout
    return m.group(1)


def make_actor(users, role, **kw):
    u = users.create(role=role, **kw)
    u["h"] = users.auth(u)
    u["id"] = int(u["id"])
    return u


# --------------------------------------------------------------------------------------
# Dates and bodies
# --------------------------------------------------------------------------------------

def today(db):
    """The server's idea of today (Asia/Shanghai)."""
    return query(db, "SELECT today_cn() AS t")[0]["t"]


def iso(day):
    return day.isoformat()


def contract_body(db, seller, buyer, ctype="development", subtype="commissioned_development", amount=None,
                  technical=None, /, **over):
    """A complete, valid application: effective five days ago, ending in a year; the contract
    amount is the technical amount plus one non-technical item; two payments."""
    t = today(db)
    amount = over.pop("amount", amount)
    technical = over.pop("technical", technical)
    ctype = over.pop("ctype", ctype)
    subtype = over.pop("subtype", subtype)
    amount = amount if amount is not None else 10_000_000 + _rng.randrange(1, 9999) * 100
    technical = technical if technical is not None else amount - 1_500_000
    b = {
        "title": "技术合同 " + uniq("c"),
        "contract_type": ctype,
        "contract_subtype": subtype,
        "seller": {"org_id": seller["id"]} if isinstance(seller, dict) and "id" in seller else seller,
        "buyer": {"org_id": buyer["id"]} if isinstance(buyer, dict) and "id" in buyer else buyer,
        "signed_on": iso(t - datetime.timedelta(days=10)),
        "effective_on": iso(t - datetime.timedelta(days=5)),
        "end_on": iso(t + datetime.timedelta(days=365)),
        "contract_amount_fen": amount,
        "technical_amount_fen": technical,
        "non_technical_items": ([{"item": "设备及原材料", "amount_fen": amount - technical}]
                                if amount != technical else []),
        "payment_schedule": [{"due_on": iso(t + datetime.timedelta(days=30)), "amount_fen": amount // 2,
                              "note": "首期"},
                             {"due_on": iso(t + datetime.timedelta(days=180)), "amount_fen": amount - amount // 2}],
        "domain": "agriculture",
        "ip_type": "patent",
        "plan_source": "unplanned",
    }
    for k, v in over.items():
        if v is ...:
            b.pop(k, None)
        else:
            b[k] = v
    return b


# --------------------------------------------------------------------------------------
# API steps (each asserts success)
# --------------------------------------------------------------------------------------

def create_contract(api, h, body):
    r = api.post(f"{V1}/contracts", json=body, headers=h)
    assert r.status == 201, r
    assert r.body["status"] == "draft"
    return r.body


def submit(api, h, cid):
    r = api.post(f"{V1}/contracts/{cid}/submit", headers=h)
    assert r.status == 200, r
    assert r.body["status"] == "submitted"
    return r.body


# What the test contracts register with: they carry no scan, so the officer's
# explicit override (no_scan_reason) goes with them; test_attachments.py holds
# the registration of a contract with its scan and the refusal without either.
NO_SCAN = {"no_scan_reason": "测试：签章扫描件另行报送"}


def register(api, h, cid, body=None):
    r = api.post(f"{V1}/contracts/{cid}/register", json={**NO_SCAN, **(body or {})}, headers=h)
    assert r.status == 200, r
    assert r.body["status"] == "registered"
    return r.body


def submitted_contract(api, db, creator_h, seller, buyer, **kw):
    c = create_contract(api, creator_h, contract_body(db, seller, buyer, **kw))
    return submit(api, creator_h, c["id"])


def registered_contract(api, db, creator_h, officer_h, seller, buyer, **kw):
    c = submitted_contract(api, db, creator_h, seller, buyer, **kw)
    return register(api, officer_h, c["id"])


def certificate(api, h, cid, fmt=None, timeout=4.0):
    """GET the certificate; retries a 503 for a while (the server re-reads its key directory
    at most every 2 s after a key it does not know yet)."""
    path = f"{V1}/contracts/{cid}/certificate" + (f"?format={fmt}" if fmt else "")
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(path, headers=h)
        if r.status != 503 or time.monotonic() > deadline:
            return r
        time.sleep(0.25)


def verify(api, cert):
    r = api.post(f"{V1}/certificates/verify", json=cert)
    assert r.status == 200, r
    assert set(r.body) <= {"valid", "reason", "registration_status"} and isinstance(r.body["valid"], bool), r.body
    return r.body


# --------------------------------------------------------------------------------------
# Database state
# --------------------------------------------------------------------------------------

def contract_row(db, cid):
    rows = query(db, "SELECT * FROM contracts WHERE id = %s", cid)
    return rows[0] if rows else None


def audit_rows(db, cid):
    return query(db, "SELECT id, actor_user_id, actor_role, request_id, action, before, after FROM audit_log"
                     " WHERE entity = 'contract' AND entity_id = %s ORDER BY id", str(cid))


def audit_count(db, cid):
    return query(db, "SELECT count(*) AS n FROM audit_log WHERE entity = 'contract' AND entity_id = %s",
                 str(cid))[0]["n"]


def counter(db, office_id):
    rows = query(db, "SELECT year, last_serial FROM registration_counters WHERE office_id = %s ORDER BY year",
                 office_id)
    return [(r["year"], r["last_serial"]) for r in rows]


def state(db, cid):
    """Everything a refused action on contract cid must leave unchanged."""
    row = contract_row(db, cid)
    return {
        "row": row,
        "audit": audit_count(db, cid),
        "changes": query(db, "SELECT id, status FROM contract_changes WHERE contract_id = %s ORDER BY id", cid),
        "payments": query(db, "SELECT count(*) AS n FROM contract_payments WHERE contract_id = %s", cid)[0]["n"],
        "counter": counter(db, row["office_id"]) if row and row["office_id"] else None,
    }


def assert_unchanged(db, cid, before):
    after = state(db, cid)
    assert after["row"] is not None, f"contract {cid} vanished"
    assert (after["row"]["version"], after["row"]["status"]) == (before["row"]["version"], before["row"]["status"]), \
        (before["row"], after["row"])
    assert after == before, f"a refused action changed contract {cid}:\nbefore {before}\nafter  {after}"


def reg_no_re(year, region):
    return re.compile(rf"^{year}{region}(\d{{6}})$")


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
def cdb(_db_conn):
    return _db_conn


class World:
    pass


@pytest.fixture(scope="module")
def cworld(api, users, stack, cdb):
    with cdb.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    w = World()
    w.office = new_office(cdb)
    w.office2 = new_office(cdb)
    w.key_id = keygen(stack, w.office["id"])
    w.key_id2 = keygen(stack, w.office2["id"])
    region = w.office["region_code"]
    w.seller = new_org(cdb, region, org_type="022", name="测试大学 " + uniq())
    w.buyer = new_org(cdb, region, org_type="150", name="测试公司 " + uniq())
    w.third = new_org(cdb, region, org_type="150", name="无关公司 " + uniq())
    w.unverified = new_org(cdb, region, verified=False, org_type="021", name="待核验研究所 " + uniq())
    w.m_seller = make_actor(users, "member", org=w.seller["id"])
    w.m_buyer = make_actor(users, "member", org=w.buyer["id"])
    w.m_third = make_actor(users, "member", org=w.third["id"])
    w.m_unverified = make_actor(users, "member", org=w.unverified["id"])
    w.officer = make_actor(users, "officer", office=w.office["id"])
    w.officer2 = make_actor(users, "officer", office=w.office2["id"])
    w.admin = make_actor(users, "admin")
    with cdb.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")
    return w
