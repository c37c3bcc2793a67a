"""The year-end close (年度结账) of the statistics (issue #19, part 4).

A bureau closes a past year for its region: GET /stats/contracts of that year (for the region and
every region below it) answers the frozen figures with closed_at; a cancellation made afterwards
leaves them unchanged, is listed by GET /stats/adjustments and shows in the open year as an
adjustment to the prior year; target progress reads the frozen figures; an admin reopens the year
with a reason, audited.  The module works in 青海 (630000: 西宁 630100 / 城中区 630103), sellers
there and buyers in 宁夏 (640104), which no other test uses.
"""
import datetime
import uuid

import pytest

from helpers import assert_problem

YEAR = 2025
V1 = "/api/v1"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(region):
    body = "91" + region + "MA" + uuid.uuid4().hex[:7].upper().replace("I", "1").replace("O", "0")
    body = "".join(c if c in ALPHABET else "1" for c in body)[:17]
    s = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + ALPHABET[(31 - s % 31) % 31]


def q(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def db_module(pg):
    import psycopg2
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def w(db_module, users):
    db = db_module
    tag = uuid.uuid4().hex[:6]
    seller = q(db, "INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at)"
                   " VALUES (%s, '150', %s, '630103', 'verified', now()) RETURNING id", f"西宁高原科技{tag}",
               credit_code("630103"))[0][0]
    office = q(db, "INSERT INTO registry_offices (name, region_code) VALUES ('青海省技术市场', '630000')"
                   " ON CONFLICT DO NOTHING RETURNING id")
    office = office[0][0] if office else q(db, "SELECT id FROM registry_offices WHERE region_code = '630000' AND active")[0][0]
    x = {"seller": seller, "office": office, "ids": []}
    for i, amount in enumerate((100_000_00, 200_000_00, 300_000_00)):
        serial = q(db, "SELECT registration_next_serial(%s, %s)", office, YEAR)[0][0]
        x["ids"].append(q(db, """
            INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
                seller_region_code, buyer_name, buyer_org_type, buyer_region_code, signed_on, effective_on, end_on,
                contract_amount_fen, technical_amount_fen, domain, ip_type, plan_source, applicant_org_id, office_id,
                status, submitted_at, due_on, registration_year, registration_serial, registration_no, registered_at)
            VALUES ('结账测试合同', 'development', 'commissioned_development', %s, '西宁高原科技', '150', '630103',
                    '银川制造', '160', '640104', make_date(%s, 3, 1), make_date(%s, 3, 2), make_date(%s, 12, 31), %s, %s,
                    'agriculture', 'patent', 'unplanned', %s, %s, 'registered', make_timestamptz(%s, 3, 5, 2, 0, 0, 'UTC'),
                    make_date(%s, 3, 28), %s, %s, registration_number(%s, '630000', %s),
                    make_timestamptz(%s, 3, 10 + %s, 2, 0, 0, 'UTC'))
            RETURNING id""", seller, YEAR, YEAR, YEAR + 1, amount, amount, seller, office, YEAR, YEAR, YEAR, serial,
            YEAR, serial, YEAR, i)[0][0])
    x["bureau"] = users.create(role="bureau", region="630000")
    x["bureau_city"] = users.create(role="bureau", region="630100")
    x["bureau_nx"] = users.create(role="bureau", region="640000")
    x["member"] = users.create(role="member", org=seller)
    x["officer"] = users.create(role="officer", office=office)
    x["admin"] = users.create(role="admin")
    x["h"] = {k: users.auth(x[k]) for k in ("bureau", "bureau_city", "bureau_nx", "member", "officer", "admin")}
    return x


def stats(api, h, **p):
    r = api.get(f"{V1}/stats/contracts?" + "&".join(f"{k}={v}" for k, v in p.items()), headers=h)
    assert r.status == 200, r
    return r.body


def live_total(db, region="630000"):
    n, cf = q(db, "SELECT count(*), coalesce(sum(contract_amount_fen), 0) FROM contracts WHERE status = 'registered'"
                  " AND registration_year = %s AND region_in_subtree(seller_region_code, %s)", YEAR, region)[0]
    return n, int(cf)


def test_close_then_cancel_leaves_closed_figures_and_lists_the_adjustment(api, w, db_module):
    db, h = db_module, w["h"]
    before = stats(api, h["bureau"], year=YEAR, region="630000", by="type")
    assert (before["total"]["count"], before["total"]["contract_amount_fen"]) == live_total(db) == (3, 600_000_00)
    assert before["closed"] is False and before["closed_at"] is None
    # the bureau closes 2025 for 青海
    r = api.post(f"{V1}/stats/closes", json={"year": YEAR, "region_code": "630000", "note": "2025 年报"},
                 headers=h["bureau"])
    assert r.status == 201, r
    close = r.body
    assert (close["status"], close["year"], close["region_code"], close["region_name"]) == ("closed", YEAR, "630000", "青海省")
    assert close["total"] == before["total"] and close["adjustments"] == 0
    assert q(db, "SELECT action FROM audit_log WHERE entity = 'stats_close' AND entity_id = %s", str(close["id"])) == [("close",)]

    # the seller asks to cancel a 2025 registration in 2026, the officer confirms
    cid = w["ids"][1]
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "双方解除合同"}, headers=h["member"])
    assert r.status == 200, r
    change = r.body["pending_change"]["id"]
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"change_id": change, "decision": "confirm"}, headers=h["officer"])
    assert r.status == 200 and r.body["status"] == "cancelled", r
    assert live_total(db) == (2, 400_000_00)          # the live aggregates moved

    after = stats(api, h["bureau"], year=YEAR, region="630000", by="type")
    assert after["total"] == before["total"] and after["groups"] == before["groups"]     # frozen
    assert after["closed"] is True and after["closed_at"] == close["closed_at"] and after["close_id"] == close["id"]
    assert after["adjustments_after_close"] == {"changes": 1, "count": -1, "contract_amount_fen": -200_000_00,
                                                "technical_amount_fen": -200_000_00, "received_amount_fen": 0}
    # a region below the closed one is frozen too; the public sees the frozen total
    assert stats(api, h["bureau_city"], year=YEAR, region="630100")["total"]["count"] == 3
    assert stats(api, {}, year=YEAR, region="630000")["total"]["count"] == 3

    adj = api.get(f"{V1}/stats/adjustments?year={YEAR}&region=630000", headers=h["bureau"])
    assert adj.status == 200, adj
    assert len(adj.body["items"]) == 1
    a = adj.body["items"][0]
    assert (a["contract_id"], a["kind"], a["count"], a["contract_amount_fen"], a["year"]) == \
        (cid, "cancellation", -1, -200_000_00, YEAR)
    assert a["made_in"] == q(db, "SELECT extract(year FROM today_cn())::int")[0][0]
    assert a["before"]["status"] == "registered" and a["after"]["status"] == "cancelled"
    # 宁夏's bureau sees it as inflow (the buyer is there), 青海's city bureau as outflow
    assert len(api.get(f"{V1}/stats/adjustments?year={YEAR}&region=640000&flow=in", headers=h["bureau_nx"]).body["items"]) == 1
    assert api.get(f"{V1}/stats/adjustments?year={YEAR}&region=640000&flow=out",
                   headers=h["bureau_nx"]).body["items"] == []

    # the open year shows it as an adjustment to the prior year
    now = q(db, "SELECT extract(year FROM today_cn())::int")[0][0]
    if now > YEAR:
        cur = stats(api, h["bureau"], year=now, region="630000")
        assert cur["closed"] is False
        assert {"year": YEAR, "changes": 1, "count": -1, "contract_amount_fen": -200_000_00,
                "technical_amount_fen": -200_000_00, "received_amount_fen": 0} in cur["prior_year_adjustments"]

    # target progress reads the closed figures
    r = api.put(f"{V1}/targets", json={"region_code": "630000", "year": YEAR, "metric": "contracts", "target": 4},
                headers=h["bureau"])
    assert r.status == 200, r
    p = api.get(f"{V1}/targets/progress?year={YEAR}&region=630000", headers=h["bureau"]).body
    assert p["closed_at"] == close["closed_at"]
    assert next(i for i in p["items"] if i["metric"] == "contracts")["actual"] == 3

    # the close is listed for the bureau; refused second close
    lst = api.get(f"{V1}/stats/closes?year={YEAR}", headers=h["bureau"]).body["items"]
    assert [c["id"] for c in lst if c["region_code"] == "630000"] == [close["id"]]
    assert lst[0]["adjustments"] == 1
    assert_problem(api.post(f"{V1}/stats/closes", json={"year": YEAR, "region_code": "630100"}, headers=h["bureau"]), 409)

    # reopening: an admin, with a reason; then the live figures again
    assert_problem(api.post(f"{V1}/stats/closes/{close['id']}/reopen", json={"reason": "补录"}, headers=h["bureau"]), 403)
    r = api.post(f"{V1}/stats/closes/{close['id']}/reopen", json={"reason": " "}, headers=h["admin"])
    assert_problem(r, 422)
    assert [e["field"] for e in r.body["errors"]] == ["reason"]
    r = api.post(f"{V1}/stats/closes/{close['id']}/reopen", json={"reason": "补录历史合同后重新结账"}, headers=h["admin"])
    assert r.status == 200 and r.body["status"] == "reopened" and r.body["reopen_reason"] == "补录历史合同后重新结账", r
    assert_problem(api.post(f"{V1}/stats/closes/{close['id']}/reopen", json={"reason": "x"}, headers=h["admin"]), 409)
    entry = q(db, "SELECT action, actor_user_id, after->>'reopen_reason' FROM audit_log WHERE entity = 'stats_close'"
                  " AND entity_id = %s ORDER BY id", str(close["id"]))
    assert [e[0] for e in entry] == ["close", "reopen"] and entry[1][1] == int(w["admin"]["id"])
    again = stats(api, h["bureau"], year=YEAR, region="630000")
    assert again["closed"] is False and again["total"]["count"] == 2


@pytest.mark.parametrize("who,body,status,field", [
    ("bureau", {"year": YEAR, "region_code": "640000"}, 403, "region_code"),     # outside its region
    ("bureau_city", {"year": YEAR, "region_code": "630000"}, 403, "region_code"),  # above its region
    ("bureau", {"year": YEAR, "region_code": "000000"}, 403, "region_code"),
    ("bureau", {"year": 2999, "region_code": "630000"}, 422, "year"),
    ("bureau", {"year": 1999, "region_code": "630000"}, 422, "year"),
    ("bureau", {"year": YEAR, "region_code": "63"}, 422, "region_code"),
    ("admin", {"year": YEAR, "region_code": "999999"}, 422, "region_code"),
    ("bureau", {"year": "2025", "region_code": "630000"}, 400, "year"),
    ("bureau", {"year": YEAR, "region_code": "630000", "x": 1}, 400, "x"),
    ("bureau", {"region_code": "630000"}, 422, "year"),
])
def test_close_refused(api, w, db_module, who, body, status, field):
    n = q(db_module, "SELECT count(*) FROM stats_closes")[0][0]
    r = api.post(f"{V1}/stats/closes", json=body, headers=w["h"][who])
    assert_problem(r, status)
    assert field in [e["field"] for e in r.body.get("errors", [])], r.body
    assert q(db_module, "SELECT count(*) FROM stats_closes")[0][0] == n


def test_close_current_year_and_roles(api, w, db_module):
    now = q(db_module, "SELECT extract(year FROM today_cn())::int")[0][0]
    r = api.post(f"{V1}/stats/closes", json={"year": now, "region_code": "630000"}, headers=w["h"]["bureau"])
    assert_problem(r, 422)
    for who in ("member", "officer"):
        assert_problem(api.post(f"{V1}/stats/closes", json={"year": YEAR, "region_code": "630000"}, headers=w["h"][who]), 403)
        assert_problem(api.get(f"{V1}/stats/adjustments?year={YEAR}&region=630000", headers=w["h"][who]), 403)
    assert_problem(api.get(f"{V1}/stats/adjustments?year={YEAR}&region=640000", headers=w["h"]["bureau"]), 403)
    assert_problem(api.post(f"{V1}/stats/closes/999999999/reopen", json={"reason": "x"}, headers=w["h"]["admin"]), 404)
    assert_problem(api.get(f"{V1}/stats/closes?year=abc", headers=w["h"]["admin"]), 400)


def test_late_registration_after_a_national_close(api, w, db_module):
    """An admin closes 2024 for the whole country; a 2024 contract imported afterwards (a late import)
    is an adjustment of 2024, and the national figures of 2024 stay as closed."""
    db, h = db_module, w["h"]
    base = stats(api, h["admin"], year=2024, region="000000")
    r = api.post(f"{V1}/stats/closes", json={"year": 2024, "region_code": "000000"}, headers=h["admin"])
    assert r.status == 201, r
    try:
        serial = q(db, "SELECT registration_next_serial(%s, 2024)", w["office"])[0][0]
        cid = q(db, """
            INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
                seller_region_code, buyer_name, buyer_org_type, buyer_region_code, signed_on, contract_amount_fen,
                technical_amount_fen, applicant_org_id, office_id, status, submitted_at, registration_year,
                registration_serial, registration_no, registered_at)
            VALUES ('补录的历史合同', 'service', 'technical_service', %s, '西宁高原科技', '150', '630103', '银川制造', '160',
                    '640104', '2024-05-01', 5000000, 5000000, %s, %s, 'registered', '2024-05-02', 2024, %s,
                    registration_number(2024, '630000', %s), '2024-05-03') RETURNING id""",
                w["seller"], w["seller"], w["office"], serial, serial)[0][0]
        after = stats(api, h["admin"], year=2024, region="000000")
        assert after["total"] == base["total"] and after["closed"] is True
        adj = api.get(f"{V1}/stats/adjustments?year=2024&region=000000", headers=h["admin"]).body["items"]
        assert [(a["contract_id"], a["kind"], a["count"], a["contract_amount_fen"]) for a in adj] == \
            [(cid, "registration", 1, 5000000)]
    finally:
        r2 = api.post(f"{V1}/stats/closes/{r.body['id']}/reopen", json={"reason": "测试结束"}, headers=h["admin"])
        assert r2.status == 200, r2
