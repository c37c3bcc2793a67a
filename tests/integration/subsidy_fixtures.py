"""Fixtures and helpers for test_subsidies.py (subsidy policies, runs, tax relief).

Data is inserted by SQL (organisations, registry offices, registered contracts with the
amounts, registration times and payments each test needs) in regions and YEARS that no other
test module uses: 偃师 410307 (2020 contracts, award year 2021), 岳阳 4306xx (2018),
青海 630xxx (2011-2016).  Other modules register contracts now (the current year), so their
rows never fall into these years.  Offices: one per county used, created when the county has
no active office, else the existing one is reused (registration numbers come from
registration_next_serial(), so they never collide).

Import with `from subsidy_fixtures import *`.
"""

import json
import random
import uuid

import pytest

from helpers import assert_problem, error_fields, query  # noqa: F401  (re-exported)

__all__ = [
    "V1", "credit_code", "uniq", "office_in", "new_org", "new_broker", "contract", "pay", "cancel", "sdb",
    "actors", "policy_body", "create_policy", "run", "award_of", "awards_by", "counts", "assert_problem",
    "error_fields", "query", "policy_by_name", "set_rules",
]

V1 = "/api/v1"

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_rng = random.SystemRandom()


def credit_code(region):
    """A fresh valid GB 32100-2015 code whose characters 3-8 are the region code."""
    s = _rng.choice("123456789ABCDEFGY") + _rng.choice(ALPHABET) + region + \
        "".join(_rng.choice(ALPHABET) for _ in range(9))
    total = sum(ALPHABET.index(c) * w for c, w in zip(s, WEIGHTS))
    return s + ALPHABET[(31 - total % 31) % 31]


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sdb(pg, migrated):
    conn = pg.connect("yizhan")
    yield conn
    conn.close()


def office_in(db, region):
    """The active registry office of a region (created if there is none)."""
    rows = query(db, "SELECT id, region_code FROM registry_offices WHERE region_code = %s AND active", region)
    if not rows:
        try:
            rows = query(db, "INSERT INTO registry_offices (name, region_code) VALUES (%s, %s) RETURNING id, region_code",
                         "补助测试登记处 " + uniq("off"), region)
        except Exception:  # noqa: BLE001  (someone created it meanwhile)
            rows = query(db, "SELECT id, region_code FROM registry_offices WHERE region_code = %s AND active", region)
    o = rows[0]
    o["region_code"] = o["region_code"].strip()
    return o


def new_org(db, region, org_type="150", name=None, phone=None):
    code = None if org_type in ("400", "900") else credit_code(region)
    rows = query(db, """
        INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at, contact_phone)
        VALUES (%s, %s, %s, %s, 'verified', now(), %s) RETURNING id, name, org_type, credit_code, region_code""",
                 name or "补助测试单位 " + uniq("org"), org_type, code, region, phone)
    o = rows[0]
    o["region_code"] = o["region_code"].strip()
    return o


def new_broker(db, org, region=None):
    """A technology broker (users.role = broker) of org; region NULL = the org's region counts."""
    rows = query(db, """
        INSERT INTO users (email, display_name, password_hash, role, org_id, region_code)
        VALUES (%s, %s, 'pbkdf2-sha256$1$eA$eA', 'broker', %s, %s) RETURNING id, display_name""",
                 uniq("broker") + "@example.test", "经纪人 " + uniq("k"), org["id"], region)
    return rows[0]


def contract(db, seller, buyer, ctype, subtype, amount, technical=None, at="2020-06-01 10:00+08", office=None,
             plan_source=None, broker=None, effective_on=None, end_on=None, fiscal_subsidy=False, related_party="none",
             ip_type=None, related_contract=None):
    """A registered contract (inserted by SQL) → its id.  Amounts in fen; `at` is registered_at."""
    technical = amount if technical is None else technical
    office = office or office_in(db, seller["region_code"])
    rows = _q(db, """
        WITH y AS (SELECT extract(year FROM %(at)s::timestamptz AT TIME ZONE 'Asia/Shanghai')::int AS y),
             s AS (SELECT registration_next_serial(%(office)s, (SELECT y FROM y)) AS s)
        INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
            seller_region_code, seller_credit_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code,
            buyer_credit_code, broker_user_id, signed_on, effective_on, end_on, contract_amount_fen,
            technical_amount_fen, plan_source, applicant_org_id, office_id, status, submitted_at,
            registration_no, registration_year, registration_serial, registered_at, fiscal_subsidy, related_party, ip_type,
            related_contract_id)
        SELECT %(title)s, %(ctype)s, %(subtype)s, %(s_id)s, %(s_name)s, %(s_type)s, %(s_region)s, %(s_code)s,
               %(b_id)s, %(b_name)s, %(b_type)s, %(b_region)s, %(b_code)s, %(broker)s,
               (%(at)s::timestamptz AT TIME ZONE 'Asia/Shanghai')::date - 10, %(eff)s, %(end)s, %(amount)s,
               %(tech)s, %(plan)s, %(s_id)s, %(office)s, 'registered', %(at)s::timestamptz - interval '5 days',
               registration_number((SELECT y FROM y), %(office_region)s, (SELECT s FROM s)), (SELECT y FROM y),
               (SELECT s FROM s), %(at)s::timestamptz, %(fiscal)s, %(related)s, %(ip)s,
               %(rel_c)s
        RETURNING id""",
               dict(at=at, office=office["id"], office_region=office["region_code"],
                    title="补助测试合同 " + uniq("c"), ctype=ctype, subtype=subtype,
                    s_id=seller["id"], s_name=seller["name"], s_type=seller["org_type"],
                    s_region=seller["region_code"], s_code=seller["credit_code"],
                    b_id=buyer["id"], b_name=buyer["name"], b_type=buyer["org_type"],
                    b_region=buyer["region_code"], b_code=buyer["credit_code"],
                    broker=broker["id"] if broker else None, eff=effective_on, end=end_on,
                    amount=amount, tech=technical, plan=plan_source, fiscal=fiscal_subsidy, related=related_party,
                    ip=ip_type, rel_c=related_contract))
    return rows[0]["id"]


def _q(conn, sql, params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def pay(db, contract_id, amount, on):
    query(db, "INSERT INTO contract_payments (contract_id, amount_fen, received_on) VALUES (%s, %s, %s)",
          contract_id, amount, on)


def cancel(db, contract_id, reason="双方协议解除（注销）"):
    """Cancel a registration the way contract_decide_change() does."""
    query(db, "UPDATE contracts SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s WHERE id = %s",
          reason, contract_id)


@pytest.fixture(scope="module")
def actors(users):
    """admin; bureau users of 青海 630000, 西宁 630100, 乐都 630202, 甘肃 620000, 偃师 410307,
    岳阳 430600; a member."""
    def mk(role, **kw):
        u = users.create(role=role, **kw)
        u["h"] = users.auth(u)
        return u
    return {
        "admin": mk("admin"),
        "qh": mk("bureau", region="630000"),
        "xn": mk("bureau", region="630100"),
        "ld": mk("bureau", region="630202"),
        "gs": mk("bureau", region="620000"),
        "ys": mk("bureau", region="410307"),
        "yy": mk("bureau", region="430600"),
        "reviewer": mk("reviewer"),
    }


def policy_body(region, lines, name=None, years=(2011, 2016), budget=None, **extra):
    rules = {"lines": lines}
    if budget is not None:
        rules["budget_fen"] = budget
    body = {"name": name or "测试补助政策 " + uniq("p"), "region_code": region, "valid_from_year": years[0],
            "valid_to_year": years[1], "rules": rules}
    body.update(extra)
    return body


def create_policy(api, h, *args, **kw):
    r = api.post(f"{V1}/subsidy-policies", json=policy_body(*args, **kw), headers=h)
    assert r.status == 201, r
    return r.body


def policy_by_name(api, h, name):
    r = api.get(f"{V1}/subsidy-policies?limit=100", headers=h)
    assert r.status == 200, r
    found = [p for p in r.body["items"] if p["name"] == name]
    assert len(found) == 1, [p["name"] for p in r.body["items"]]
    return found[0]


def set_rules(api, h, policy, rules):
    r = api.patch(f"{V1}/subsidy-policies/{policy['id']}", json={"rules": rules}, headers=h)
    assert r.status == 200, r
    return r.body


def run(api, h, year, policy_ids=None, region=None, status=201):
    body = {"year": year}
    if policy_ids is not None:
        body["policy_ids"] = policy_ids
    if region is not None:
        body["region"] = region
    r = api.post(f"{V1}/subsidy-runs", json=body, headers=h)
    assert r.status == status, r
    return r.body


def awards_by(run_body, policy_id=None, kind="award"):
    """{(line, org_id or broker_user_id or office_id): award} of a run."""
    out = {}
    for p in run_body["policies"]:
        if policy_id is not None and p["policy_id"] != policy_id:
            continue
        for a in p["awards"]:
            if a["kind"] != kind:
                continue
            rc = a["recipient"]
            key = (a["line"], rc["org_id"] or rc["broker_user_id"] or rc["office_id"])
            if kind == "clawback":
                key = key + (a["reasons"]["clawback"]["contract_id"],)
            assert key not in out, key
            out[key] = a
    return out


def award_of(run_body, line, recipient_id, policy_id=None):
    return awards_by(run_body, policy_id)[(line, recipient_id)]


def counts(db):
    """Row counts that a refused request must leave unchanged."""
    return query(db, """SELECT (SELECT count(*) FROM subsidy_policies) AS policies,
                               (SELECT coalesce(sum(version), 0) FROM subsidy_policies) AS versions,
                               (SELECT count(*) FROM subsidy_runs) AS runs,
                               (SELECT count(*) FROM subsidy_awards) AS awards,
                               (SELECT count(*) FROM subsidy_award_contracts) AS shares,
                               (SELECT count(*) FROM audit_log WHERE entity LIKE 'subsidy%') AS audit""")[0]


def dumps(x):
    return json.dumps(x, ensure_ascii=False, sort_keys=True)
