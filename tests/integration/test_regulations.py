"""Calendars, regulatory settings and code lists edited by an admin (issue #19, part 1).

* the calendar of a year: 2026 confirmed from 国办发明电〔2025〕7号, 2027 provisional with its
  statutory holidays (lunar dates of 2027), PUT /api/v1/calendar/{year} replacing a year, confirming
  it with its 调休 days, each change audited with its source; the review deadline of an application
  submitted on 2026-12-28 runs into 2027: counted on weekdays less 元旦 and flagged
  `calendar_provisional` (on the contract, in the officer's queue, in /metrics), and counted again
  when the year is confirmed;
* settings: PUT /api/v1/settings/{key} keeps the value's shape and the setting's bounds;
* code lists: PUT /api/v1/codes/{list}/{code} creates and changes codes, retires them, never deletes.

Every refusal leaves the rows and the audit log as they were.  The module puts 2027's calendar and
every setting it touches back as they were.
"""
import datetime
import json

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import V1, assert_problem, error_fields, query, submit, create_contract, contract_body
from helpers import parse_prometheus, wait_until

D = datetime.date


def calendar_rows(db, year):
    return [(r["day"].isoformat(), r["kind"], r["name"]) for r in
            query(db, "SELECT day, kind, name FROM calendar_days WHERE day >= make_date(%s, 1, 1)"
                      " AND day < make_date(%s + 1, 1, 1) ORDER BY day", year, year)]


def audit_max(db):
    return query(db, "SELECT coalesce(max(id), 0) AS n FROM audit_log")[0]["n"]


def year_state(db, year):
    return {"rows": calendar_rows(db, year),
            "year": query(db, "SELECT status, source, version FROM calendar_years WHERE year = %s", year),
            "audit": audit_max(db)}


@pytest.fixture(scope="module")
def seed_2027(cdb):
    """2027 as the migration seeded it; put back at the end of the module."""
    rows = calendar_rows(cdb, 2027)
    y = query(cdb, "SELECT status, source, note FROM calendar_years WHERE year = 2027")[0]
    yield {"rows": rows, "year": y}
    with cdb.cursor() as cur:
        cur.execute("DELETE FROM calendar_days WHERE day >= '2027-01-01' AND day < '2028-01-01'")
        for day, kind, name in rows:
            cur.execute("INSERT INTO calendar_days (day, kind, name) VALUES (%s, %s, %s)", (day, kind, name))
        cur.execute("UPDATE calendar_years SET status = %s, source = %s, note = %s, confirmed_at = NULL,"
                    " confirmed_by = NULL WHERE year = 2027", (y["status"], y["source"], y["note"]))


# --------------------------------------------------------------------------------------
# The seeded calendars
# --------------------------------------------------------------------------------------

def test_2026_confirmed_from_the_notice(api):
    r = api.get(f"{V1}/codes/calendar?year=2026")
    assert r.status == 200, r
    assert r.body["status"] == "confirmed"
    assert "国办发明电〔2025〕7号" in r.body["source"]
    days = {i["day"]: (i["kind"], i["name"]) for i in r.body["items"]}
    # 国办发明电〔2025〕7号: every holiday block and every 调休 working day
    holidays = [("2026-01-01", "2026-01-03"), ("2026-02-15", "2026-02-23"), ("2026-04-04", "2026-04-06"),
                ("2026-05-01", "2026-05-05"), ("2026-06-19", "2026-06-21"), ("2026-09-25", "2026-09-27"),
                ("2026-10-01", "2026-10-07")]
    want = set()
    for a, b in holidays:
        d = D.fromisoformat(a)
        while d <= D.fromisoformat(b):
            want.add(d.isoformat())
            d += datetime.timedelta(days=1)
    assert {k for k, v in days.items() if v[0] == "holiday"} == want
    assert {k for k, v in days.items() if v[0] == "workday"} == {
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}
    # 248 working days: 365 − 104 weekend days − 19 holidays on weekdays + 6 调休 days
    assert r.body["working_days"] == 365 - 104 - sum(1 for k in want if D.fromisoformat(k).isoweekday() < 6) + 6


def test_2027_provisional_with_statutory_holidays(api):
    r = api.get(f"{V1}/codes/calendar?year=2027")
    assert r.status == 200, r
    assert r.body["status"] == "provisional" and r.body["confirmed_at"] is None
    assert "全国年节及纪念日放假办法" in r.body["source"]
    # 除夕 2027-02-05 … 初三 02-08; 清明 04-05; 端午 06-09; 中秋 09-15
    assert [(i["day"], i["name"]) for i in r.body["items"]] == [
        ("2027-01-01", "元旦"), ("2027-02-05", "春节"), ("2027-02-06", "春节"), ("2027-02-07", "春节"),
        ("2027-02-08", "春节"), ("2027-04-05", "清明节"), ("2027-05-01", "劳动节"), ("2027-05-02", "劳动节"),
        ("2027-06-09", "端午节"), ("2027-09-15", "中秋节"), ("2027-10-01", "国庆节"), ("2027-10-02", "国庆节"),
        ("2027-10-03", "国庆节")]
    assert {i["kind"] for i in r.body["items"]} == {"holiday"}


def test_year_without_calendar_is_provisional_and_empty(api):
    r = api.get(f"{V1}/codes/calendar?year=2031")
    assert r.status == 200, r
    assert (r.body["status"], r.body["items"], r.body["version"], r.body["source"]) == ("provisional", [], 0, None)


def test_working_days_across_new_year(cdb):
    """The deadline arithmetic itself: 15 working days from Monday 2026-12-28."""
    r = query(cdb, "SELECT add_working_days('2026-12-28', 15) AS due,"
                   " calendar_provisional('2026-12-28', add_working_days('2026-12-28', 15)) AS prov,"
                   " calendar_provisional('2026-12-01', '2026-12-28') AS prov_2026")[0]
    # Dec 29, 30, 31, (Jan 1 元旦), Jan 4-8, 11-15, 18, 19: the 15th is Tuesday 2027-01-19
    assert r["due"] == D(2027, 1, 19)
    assert r["prov"] is True and r["prov_2026"] is False


# --------------------------------------------------------------------------------------
# A deadline across New Year, on the API
# --------------------------------------------------------------------------------------

def metric(api, name, pred, **labels):
    """The value of a gauge once pred(value) holds: the server reads these from the database
    every 5 seconds."""
    def read():
        m = parse_prometheus(api.get("/metrics").content.decode(), strict=False)
        try:
            return m.value(name, **labels)
        except (AssertionError, KeyError):
            return None
    wait_until(lambda: read() is not None and pred(read()), 20, message=f"{name} in /metrics")
    return read()


def test_deadline_across_new_year_flagged_then_confirmed(api, cdb, cworld, seed_2027):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    c = submit(api, w.m_seller["h"], c["id"])
    # As if submitted on Monday 2026-12-28 (10:00 in China) with the deadline of the old rule
    # (New Year's Day counted as a working day): 2027-01-18.
    with cdb.cursor() as cur:
        cur.execute("UPDATE contracts SET submitted_at = '2026-12-28 02:00:00+00', due_on = '2027-01-18',"
                    " review_days = 15, calendar_provisional = false WHERE id = %s", (c["id"],))
    a = w.admin["h"]
    before = api.get(f"{V1}/codes/calendar?year=2027").body
    # an admin saves 2027 unchanged (provisional): the deadlines through 2027 are counted again
    r = api.put(f"{V1}/calendar/2027", json={"status": "provisional", "source": before["source"], "note": before["note"],
                                             "days": [{k: i[k] for k in ("day", "kind", "name")} for i in before["items"]]},
                headers={**a, "If-Match": f'"{before["version"]}"'})
    assert r.status == 200, r
    assert r.body["deadlines_recounted"] >= 1
    assert r.headers["ETag"] == f'"{before["version"] + 1}"'
    got = api.get(f"{V1}/contracts/{c['id']}", headers=w.officer["h"]).body
    assert (got["due_on"], got["calendar_provisional"]) == ("2027-01-19", True)
    # the officer's queue warns, and so does /metrics
    q = api.get(f"{V1}/registry/queue?limit=100", headers=w.officer["h"]).body
    assert q["calendar"]["provisional_deadlines"] >= 1
    item = next(i for i in q["items"] if i["id"] == c["id"])
    assert item["calendar_provisional"] is True and item["due_on"] == "2027-01-19"
    today = query(cdb, "SELECT today_cn() AS t")[0]["t"]
    if today.year in (2026, 2027):
        assert 2027 in q["calendar"]["unconfirmed_years"]
    assert metric(api, "yizhan_calendar_provisional_deadlines", lambda v: v >= 1) >= 1
    assert metric(api, "yizhan_calendar_confirmed", lambda v: v in (0, 1), year=str(today.year + 1)) in (0, 1)
    recount = query(cdb, "SELECT before, after FROM audit_log WHERE entity = 'contract' AND entity_id = %s"
                         " AND action = 'deadline_recount' ORDER BY id DESC LIMIT 1", str(c["id"]))[0]
    assert recount["before"] == {"due_on": "2027-01-18", "calendar_provisional": False}
    assert recount["after"]["due_on"] == "2027-01-19" and recount["after"]["calendar_year"] == 2027

    # The State Council's notice arrives (a test notice): 元旦 1-3 January, 调休 Sunday 2027-01-10.
    days = [{"day": "2027-01-01", "kind": "holiday", "name": "元旦"},
            {"day": "2027-01-02", "kind": "holiday", "name": "元旦"},
            {"day": "2027-01-03", "kind": "holiday", "name": "元旦"},
            {"day": "2027-01-10", "kind": "workday", "name": "元旦调休上班"}] + \
        [{k: i[k] for k in ("day", "kind", "name")} for i in before["items"] if i["day"] > "2027-01-01"]
    r = api.put(f"{V1}/calendar/2027", json={"status": "confirmed", "source": "国办发明电〔2026〕9号（测试）", "days": days},
                headers={**a, "If-Match": r.headers["ETag"]})
    assert r.status == 200, r
    assert r.body["status"] == "confirmed" and r.body["confirmed_by"] == w.admin["id"] and r.body["confirmed_at"]
    got = api.get(f"{V1}/contracts/{c['id']}", headers=w.officer["h"]).body
    # Dec 29-31 (3), Jan 4-8 (8), Sunday Jan 10 (9), Jan 11-15 (14), Jan 18 (15)
    assert (got["due_on"], got["calendar_provisional"]) == ("2027-01-18", False)
    entry = query(cdb, "SELECT action, actor_user_id, before, after FROM audit_log WHERE entity = 'calendar'"
                       " AND entity_id = '2027' ORDER BY id DESC LIMIT 1")[0]
    assert entry["action"] == "confirm" and entry["actor_user_id"] == w.admin["id"]
    assert entry["before"]["status"] == "provisional" and entry["after"]["source"] == "国办发明电〔2026〕9号（测试）"
    # the history is readable
    h = api.get(f"{V1}/audit?entity=calendar&id=2027&limit=100", headers=a)
    assert h.status == 200 and [e["action"] for e in h.body["items"]][-2:] == ["update", "confirm"]


# --------------------------------------------------------------------------------------
# Calendar edits refused
# --------------------------------------------------------------------------------------

GOOD = {"status": "provisional", "source": "测试依据", "days": [{"day": "2030-01-01", "kind": "holiday", "name": "元旦"}]}


@pytest.mark.parametrize("body,status,field,code", [
    ({**GOOD, "status": "final"}, 422, "status", "one_of"),
    ({**GOOD, "source": " "}, 422, "source", "required"),
    ({k: v for k, v in GOOD.items() if k != "source"}, 422, "source", "required"),
    ({**GOOD, "source": "依" * 501}, 422, "source", "too_long"),
    ({**GOOD, "note": "注" * 1001}, 422, "note", "too_long"),
    ({**GOOD, "days": [{"day": "2031-01-01", "kind": "holiday", "name": "元旦"}]}, 422, "days[0].day", "out_of_range"),
    ({**GOOD, "days": [{"day": "2030-02-30", "kind": "holiday", "name": "春节"}]}, 422, "days[0].day", "invalid_date"),
    ({**GOOD, "days": [{"day": "2030-01-02", "kind": "workday", "name": "调休"}]}, 422, "days[0].kind", "invalid"),
    ({**GOOD, "days": [{"day": "2030-01-01", "kind": "off", "name": "元旦"}]}, 422, "days[0].kind", "one_of"),
    ({**GOOD, "days": [{"day": "2030-01-01", "kind": "holiday", "name": ""}]}, 422, "days[0].name", "required"),
    ({**GOOD, "days": GOOD["days"] * 2}, 422, "days[0].day", "duplicate"),
    ({**GOOD, "days": [{"day": "2030-01-01", "kind": "holiday", "name": "元旦", "x": "1"}]}, 400, "days[0].x",
     "unknown_field"),
    ({**GOOD, "days": [{"day": 20300101, "kind": "holiday", "name": "元旦"}]}, 400, "days[0].day", "wrong_type"),
    ({**GOOD, "days": "2030-01-01"}, 400, "days", "wrong_type"),
    ({**GOOD, "extra": 1}, 400, "extra", "unknown_field"),
])
def test_calendar_put_refused(api, cdb, cworld, body, status, field, code):
    before = year_state(cdb, 2030)
    r = api.put(f"{V1}/calendar/2030", json=body, headers=cworld.admin["h"])
    assert_problem(r, status)
    assert (field, code) in [(e["field"], e["code"]) for e in r.body.get("errors", [])], r.body
    assert year_state(cdb, 2030) == before


def test_calendar_put_roles_year_and_if_match(api, cdb, cworld):
    w = cworld
    before = year_state(cdb, 2030)
    assert_problem(api.put(f"{V1}/calendar/2030", json=GOOD), 401)
    for who in (w.officer, w.m_seller):
        assert_problem(api.put(f"{V1}/calendar/2030", json=GOOD, headers=who["h"]), 403)
    assert_problem(api.put(f"{V1}/calendar/1999", json=GOOD, headers=w.admin["h"]), 404)
    assert_problem(api.put(f"{V1}/calendar/x", json=GOOD, headers=w.admin["h"]), 404)
    assert_problem(api.put(f"{V1}/calendar/2030", json=GOOD, headers={**w.admin["h"], "If-Match": '"7"'}), 412)
    assert year_state(cdb, 2030) == before
    # a year never entered: If-Match "0" creates it
    r = api.put(f"{V1}/calendar/2030", json=GOOD, headers={**w.admin["h"], "If-Match": '"0"'})
    assert r.status == 200, r
    assert (r.body["version"], r.body["status"], r.body["items"][0]["day"]) == (1, "provisional", "2030-01-01")
    assert query(cdb, "SELECT action FROM audit_log WHERE entity = 'calendar' AND entity_id = '2030'")[-1]["action"] == "update"


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------

def setting(db, key):
    return query(db, "SELECT key, value, source, version FROM settings WHERE key = %s", key)[0]


@pytest.fixture()
def restore_settings(cdb):
    saved = {r["key"]: r["value"] for r in query(cdb, "SELECT key, value FROM settings")}
    yield
    with cdb.cursor() as cur:
        for k, v in saved.items():
            cur.execute("UPDATE settings SET value = %s WHERE key = %s AND value <> %s",
                        (json.dumps(v), k, json.dumps(v)))


def test_settings_listed_for_admin_only(api, cworld):
    r = api.get(f"{V1}/settings", headers=cworld.admin["h"])
    assert r.status == 200, r
    s = {i["key"]: i for i in r.body["items"]}
    assert s["review_days_normal"]["value"] == 15 and s["review_days_normal"]["rule"] == {"min": 1, "max": 120}
    assert s["review_days_normal"]["description"]
    assert_problem(api.get(f"{V1}/settings", headers=cworld.officer["h"]), 403)
    assert_problem(api.get(f"{V1}/settings"), 401)


def test_setting_put_audited_with_source(api, cdb, cworld, restore_settings):
    a = cworld.admin["h"]
    old = setting(cdb, "review_days_normal")
    r = api.put(f"{V1}/settings/review_days_normal", json={"value": 20, "source": "某省技术合同认定登记管理办法（测试）第十条"},
                headers={**a, "If-Match": f'"{old["version"]}"'})
    assert r.status == 200, r
    assert (r.body["value"], r.body["version"], r.body["updated_by"]) == (20, old["version"] + 1, cworld.admin["id"])
    assert r.headers["ETag"] == f'"{old["version"] + 1}"'
    e = query(cdb, "SELECT action, before, after FROM audit_log WHERE entity = 'setting' AND entity_id = 'review_days_normal'"
                   " ORDER BY id DESC LIMIT 1")[0]
    assert (e["action"], e["before"]["value"], e["after"]["value"]) == ("update", 15, 20)
    assert e["after"]["source"].startswith("某省技术合同认定登记管理办法")
    # the new time limit applies to the next application
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    c = submit(api, w.m_seller["h"], c["id"])
    assert query(cdb, "SELECT review_days FROM contracts WHERE id = %s", c["id"])[0]["review_days"] == 20
    # an object setting keeps its keys; an array of codes takes codes of its list
    r = api.put(f"{V1}/settings/login_limit_per_ip", json={"value": {"max": 60, "window_s": 60}, "source": "运维决定"},
                headers=a)
    assert r.status == 200 and r.body["value"] == {"max": 60, "window_s": 60}, r
    r = api.put(f"{V1}/settings/tax_cit_excluded_org_types", json={"value": ["400", "900"], "source": "测试"}, headers=a)
    assert r.status == 200 and r.body["value"] == ["400", "900"], r


@pytest.mark.parametrize("key,body,status,field,code", [
    ("review_days_normal", {"value": "15", "source": "x"}, 422, "value", "wrong_type"),
    ("review_days_normal", {"value": 0, "source": "x"}, 422, "value", "out_of_range"),
    ("review_days_normal", {"value": 121, "source": "x"}, 422, "value", "out_of_range"),
    ("review_days_normal", {"value": 15.5, "source": "x"}, 422, "value", "out_of_range"),
    ("review_days_normal", {"value": 16}, 422, "source", "required"),
    ("review_days_normal", {"value": 16, "source": "  "}, 422, "source", "required"),
    ("review_days_normal", {"value": 16, "source": "依" * 501}, 422, "source", "too_long"),
    ("review_days_normal", {"value": 16, "source": "x", "why": 1}, 400, "why", "unknown_field"),
    ("review_days_normal", {"value": 16, "source": 1}, 400, "source", "wrong_type"),
    ("login_limit_per_ip", {"value": {"max": 60}, "source": "x"}, 422, "value.window_s", "required"),
    ("login_limit_per_ip", {"value": {"max": 60, "window_s": 60, "burst": 1}, "source": "x"}, 422, "value.burst",
     "unknown_field"),
    ("tax_cit_excluded_org_types", {"value": ["400", "999"], "source": "x"}, 422, "value[1]", "unknown_code"),
])
def test_setting_put_refused(api, cdb, cworld, key, body, status, field, code):
    before = (setting(cdb, key), audit_max(cdb))
    r = api.put(f"{V1}/settings/{key}", json=body, headers=cworld.admin["h"])
    assert_problem(r, status)
    assert (field, code) in [(e["field"], e["code"]) for e in r.body.get("errors", [])], r.body
    assert (setting(cdb, key), audit_max(cdb)) == before


def test_setting_put_unknown_stale_and_roles(api, cdb, cworld):
    w = cworld
    before = (setting(cdb, "review_days_normal"), audit_max(cdb))
    body = {"value": 16, "source": "x"}
    assert_problem(api.put(f"{V1}/settings/no_such_setting", json=body, headers=w.admin["h"]), 404)
    assert_problem(api.put(f"{V1}/settings/review_days_normal", json=body, headers={**w.admin["h"], "If-Match": '"999"'}),
                   412)
    assert_problem(api.put(f"{V1}/settings/review_days_normal", json=body, headers=w.officer["h"]), 403)
    assert_problem(api.put(f"{V1}/settings/review_days_normal", json=body), 401)
    assert (setting(cdb, "review_days_normal"), audit_max(cdb)) == before


# --------------------------------------------------------------------------------------
# Code lists
# --------------------------------------------------------------------------------------

def code_row(db, lst, code):
    rows = query(db, "SELECT label, parent_code, active, source, version FROM codes WHERE list = %s AND code = %s", lst, code)
    return rows[0] if rows else None


def test_code_lists_listed(api):
    r = api.get(f"{V1}/codes")
    assert r.status == 200, r
    lists = {i["list"]: i for i in r.body["items"]}
    assert lists["domains"]["count"] == 11 and lists["domains"]["label"] == "技术领域"
    assert {"contract_types", "org_types", "refusal_grounds", "return_reasons"} <= set(lists)


def test_code_create_change_retire(api, cdb, cworld):
    a = cworld.admin["h"]
    code = "test_" + uniq("r").replace("-", "_")[-10:]
    r = api.put(f"{V1}/codes/return_reasons/{code}", json={"label": "缺少技术合同登记表", "sort": 140,
                                                           "source": "某市技术合同登记工作规程（测试）"}, headers=a)
    assert r.status == 200, r
    assert (r.body["code"], r.body["label"], r.body["active"], r.body["version"]) == (code, "缺少技术合同登记表", True, 1)
    assert code in [i["code"] for i in api.get(f"{V1}/codes/return_reasons").body["items"]]
    r = api.put(f"{V1}/codes/return_reasons/{code}", json={"label": "缺少技术合同登记表（纸质）", "source": "修订"},
                headers={**a, "If-Match": r.headers["ETag"]})
    assert r.status == 200 and r.body["version"] == 2 and r.body["sort"] == 140, r
    r = api.put(f"{V1}/codes/return_reasons/{code}", json={"label": "缺少技术合同登记表（纸质）", "active": False,
                                                           "source": "停用"}, headers=a)
    assert r.status == 200 and r.body["active"] is False, r
    assert code not in [i["code"] for i in api.get(f"{V1}/codes/return_reasons").body["items"]]
    listed = api.get(f"{V1}/codes/return_reasons?include_inactive=true").body["items"]
    assert next(i for i in listed if i["code"] == code)["active"] is False
    assert [e["action"] for e in query(cdb, "SELECT action FROM audit_log WHERE entity = 'code' AND entity_id = %s"
                                            " ORDER BY id", f"return_reasons/{code}")] == ["create", "update", "update"]
    # a relabelled domain is what contracts show next
    old = code_row(cdb, "domains", "agriculture")
    try:
        r = api.put(f"{V1}/codes/domains/agriculture", json={"label": "现代农业", "source": "测试"}, headers=a)
        assert r.status == 200, r
        assert api.get(f"{V1}/codes/domains").body["items"][8]["label"] == "现代农业"
    finally:
        with cdb.cursor() as cur:
            cur.execute("UPDATE codes SET label = %s WHERE list = 'domains' AND code = 'agriculture'", (old["label"],))


@pytest.mark.parametrize("path,body,status,field,code", [
    ("return_reasons/x1", {"source": "s"}, 422, "label", "required"),
    ("return_reasons/x1", {"label": "标签"}, 422, "source", "required"),
    ("return_reasons/x1", {"label": "标签", "source": "依" * 501}, 422, "source", "too_long"),
    ("return_reasons/x1", {"label": "标签", "label_en": "x" * 201, "source": "s"}, 422, "label_en", "too_long"),
    ("return_reasons/X-1", {"label": "标签", "source": "s"}, 422, "code", "invalid_format"),
    ("org_types/abc", {"label": "标签", "source": "s"}, 422, "code", "invalid_format"),
    ("contract_types/x1", {"label": "标签", "source": "s", "parent_code": "patent_transfer"}, 422, "parent_code",
     "unknown_code"),
    ("contract_types/transfer", {"label": "技术转让", "source": "s", "parent_code": "development"}, 422, "parent_code",
     "referenced"),
    ("contract_types/transfer", {"label": "技术转让", "source": "s", "active": False}, 422, "active", "referenced"),
    ("return_reasons/x1", {"label": "标签", "source": "s", "sort": "1"}, 400, "sort", "wrong_type"),
    ("return_reasons/x1", {"label": "标签", "source": "s", "code": "y"}, 400, "code", "unknown_field"),
])
def test_code_put_refused(api, cdb, cworld, path, body, status, field, code):
    lst, c = path.split("/")
    before = (code_row(cdb, lst, c), audit_max(cdb))
    r = api.put(f"{V1}/codes/{path}", json=body, headers=cworld.admin["h"])
    assert_problem(r, status)
    assert (field, code) in [(e["field"], e["code"]) for e in r.body.get("errors", [])], r.body
    assert (code_row(cdb, lst, c), audit_max(cdb)) == before


def test_code_put_unknown_list_roles_and_if_match(api, cdb, cworld):
    w = cworld
    body = {"label": "标签", "source": "s"}
    before = audit_max(cdb)
    assert_problem(api.put(f"{V1}/codes/no_such_list/x1", json=body, headers=w.admin["h"]), 404)
    assert_problem(api.put(f"{V1}/codes/domains/agriculture", json=body, headers={**w.admin["h"], "If-Match": '"99"'}), 412)
    assert_problem(api.put(f"{V1}/codes/domains/agriculture", json=body, headers=w.officer["h"]), 403)
    assert_problem(api.put(f"{V1}/codes/domains/agriculture", json=body), 401)
    assert audit_max(cdb) == before
    assert_problem(api.get(f"{V1}/codes/domains?include_inactive=maybe"), 400)
