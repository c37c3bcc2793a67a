"""Awards by institution level and per broker (issue #20 part 6): the registers of technology-transfer
demonstration institutions and of technology brokers, fixed-amount subsidy lines that read them, the
explicit 已享受财政资金补贴 exclusion, and runs that never claw back more than a recipient's award fell.

Data lives in 兰州 620102 / 620103 and the years 2008-2010, which no other module uses (the Yanshi
seeded institution policy is run for its own years with organisations of 偃师 410307 made here).
Every amount is worked by hand, in fen (1 万元 = 1,000,000 fen).
"""

import pytest

from subsidy_fixtures import *  # noqa: F401,F403

pytestmark = pytest.mark.usefixtures("server")

R, R2 = "620102", "620103"
T = ("transfer", "patent_transfer")


@pytest.fixture(scope="module")
def people(users, sdb):
    def mk(role, **kw):
        u = users.create(role=role, **kw)
        u["id"] = int(u["id"])
        u["h"] = users.auth(u)
        return u
    employer = new_org(sdb, R)
    return {
        "admin": mk("admin"),
        "lz": mk("bureau", region="620100"),       # 兰州市
        "qlh": mk("bureau", region=R2),            # 七里河区: not 城关区
        "sh": mk("bureau", region="310000"),       # another province
        "ys": mk("bureau", region="410307"),       # 偃师
        "officer": mk("officer", office=office_in(sdb, R)["id"]),
        "member": mk("member", org=employer["id"]),
        "broker": mk("broker", org=employer["id"]),
        "employer": employer,
    }


def recognise(api, h, org, level, on, status=201, **kw):
    body = {"org_id": org["id"], "level": level, "recognised_by": kw.pop("by", "甘肃省科学技术厅"),
            "recognised_on": on, "document_no": kw.pop("doc", "甘科发〔2009〕1号"),
            "evidence": kw.pop("evidence", "认定文件扫描件 https://example.test/doc.pdf")}
    body.update(kw)
    r = api.post(f"{V1}/institution-recognitions", json=body, headers=h)
    assert r.status == status, r
    return r.body


def qualify(api, h, user, kind, on, status=201, **kw):
    body = {"user_id": user["id"], "kind": kind, "issuer": kw.pop("issuer", "中国科学技术交流中心"),
            "obtained_on": on, "evidence": kw.pop("evidence", "证书扫描件")}
    if kind == "training":
        body.update(course="技术经纪人初级培训", hours=48)
    else:
        body["certificate_no"] = kw.pop("certificate_no", "JJR-" + uniq())
    body.update(kw)
    r = api.post(f"{V1}/broker-qualifications", json=body, headers=h)
    assert r.status == status, r
    return r.body


def register_counts(db):
    return query(db, """SELECT (SELECT count(*) FROM institution_recognitions) AS recognitions,
                               (SELECT count(*) FILTER (WHERE withdrawn_at IS NOT NULL) FROM institution_recognitions) AS rw,
                               (SELECT count(*) FROM broker_qualifications) AS qualifications,
                               (SELECT count(*) FILTER (WHERE withdrawn_at IS NOT NULL) FROM broker_qualifications) AS qw,
                               (SELECT count(*) FROM audit_log WHERE entity IN ('institution_recognition',
                                                                                'broker_qualification')) AS audit""")[0]


# --------------------------------------------------------------------------------------
# The registers
# --------------------------------------------------------------------------------------

def test_institution_register_create_list_withdraw_audited(api, sdb, people):
    org = new_org(sdb, R)
    h = people["lz"]["h"]
    r = recognise(api, h, org, "provincial", "2009-04-01", note="首批")
    assert (r["org_id"], r["level"], r["level_label"], r["recognised_by"], r["recognised_on"], r["document_no"]) == \
        (org["id"], "provincial", "省级技术转移示范机构", "甘肃省科学技术厅", "2009-04-01", "甘科发〔2009〕1号")
    assert r["withdrawn"] is False and r["note"] == "首批"
    row = query(sdb, "SELECT level, created_by FROM institution_recognitions WHERE id = %s", r["id"])[0]
    assert row == {"level": "provincial", "created_by": people["lz"]["id"]}
    assert query(sdb, "SELECT institution_level_of(%s) AS l", org["id"])[0]["l"] == "provincial"
    # a higher level later: the org's level is the highest not withdrawn
    n = recognise(api, people["admin"]["h"], org, "national", "2010-02-01", by="科学技术部", doc="国科发火〔2010〕9号")
    assert query(sdb, "SELECT institution_level_of(%s) AS l", org["id"])[0]["l"] == "national"
    # the list, by org
    lst = api.get(f"{V1}/institution-recognitions?org_id={org['id']}", headers=h)
    assert lst.status == 200 and [x["id"] for x in lst.body["items"]] == [n["id"], r["id"]]
    # withdraw: the row stays, with the reason; the level falls back
    w = api.post(f"{V1}/institution-recognitions/{n['id']}/withdraw", json={"reason": "录入错误"}, headers=h)
    assert w.status == 200 and w.body["withdrawn"] is True and w.body["withdrawn_reason"] == "录入错误"
    assert query(sdb, "SELECT institution_level_of(%s) AS l", org["id"])[0]["l"] == "provincial"
    assert api.get(f"{V1}/institution-recognitions?org_id={org['id']}&withdrawn=true", headers=h).body["items"][0]["id"] \
        == n["id"]
    # withdrawing twice is a conflict
    assert_problem(api.post(f"{V1}/institution-recognitions/{n['id']}/withdraw", json={"reason": "再次"}, headers=h), 409)
    audit = query(sdb, "SELECT action, actor_user_id FROM audit_log WHERE entity = 'institution_recognition' "
                       "AND entity_id IN (%s, %s) ORDER BY id", str(r["id"]), str(n["id"]))
    assert [(a["action"], a["actor_user_id"]) for a in audit] == \
        [("create", people["lz"]["id"]), ("create", people["admin"]["id"]), ("withdraw", people["lz"]["id"])]


def test_broker_register_training_and_certification(api, sdb, people):
    h = people["lz"]["h"]
    t = qualify(api, h, people["broker"], "training", "2009-05-20")
    assert (t["kind"], t["course"], t["hours"], t["employer_org_id"], t["employer_name"]) == \
        ("training", "技术经纪人初级培训", 48, people["employer"]["id"], people["employer"]["name"])
    c = qualify(api, h, people["broker"], "certification", "2009-06-01", certificate_no="GS-2009-001")
    assert (c["kind"], c["certificate_no"], c["issuer"], c["obtained_on"]) == \
        ("certification", "GS-2009-001", "中国科学技术交流中心", "2009-06-01")
    assert query(sdb, "SELECT broker_certified_on(%s, '2009-06-01') AS a, broker_certified_on(%s, '2009-05-31') AS b",
                 people["broker"]["id"], people["broker"]["id"])[0] == {"a": True, "b": False}
    # the same certificate twice is a conflict
    qualify(api, h, people["broker"], "certification", "2009-06-02", certificate_no="GS-2009-001", status=409)
    lst = api.get(f"{V1}/broker-qualifications?user_id={people['broker']['id']}&kind=certification", headers=h)
    assert lst.status == 200 and [x["id"] for x in lst.body["items"]] == [c["id"]]
    reg = api.get(f"{V1}/broker-register?q=" + people["employer"]["name"], headers=h)
    assert reg.status == 200
    mine = [x for x in reg.body["items"] if x["user_id"] == people["broker"]["id"]][0]
    assert (mine["trainings"], mine["training_hours"], mine["certified"], mine["certification"]["certificate_no"],
            mine["employer_org_id"]) == (1, 48, True, "GS-2009-001", people["employer"]["id"])
    # another province's bureau does not see the broker
    assert all(x["user_id"] != people["broker"]["id"]
               for x in api.get(f"{V1}/broker-register", headers=people["sh"]["h"]).body["items"])
    assert_problem(api.get(f"{V1}/broker-register?q=" + "经" * 101, headers=h), 400)
    assert query(sdb, "SELECT count(*) AS n FROM audit_log WHERE entity = 'broker_qualification' AND entity_id IN (%s, %s)",
                 str(t["id"]), str(c["id"]))[0]["n"] == 2


@pytest.mark.parametrize("who,status", [("member", 403), ("officer", 403), ("sh", 404), ("qlh", 404)])
def test_register_refusals_by_role_and_scope_change_nothing(api, sdb, people, who, status):
    org = new_org(sdb, R)
    rec = recognise(api, people["admin"]["h"], org, "city", "2009-01-05")
    before = register_counts(sdb)
    h = people[who]["h"]
    assert_problem(api.post(f"{V1}/institution-recognitions", json={
        "org_id": org["id"], "level": "national", "recognised_by": "科学技术部", "recognised_on": "2009-03-01",
        "evidence": "文件"}, headers=h), status)
    assert_problem(api.post(f"{V1}/institution-recognitions/{rec['id']}/withdraw", json={"reason": "x"}, headers=h),
                   status)
    assert_problem(api.post(f"{V1}/broker-qualifications", json={
        "user_id": people["broker"]["id"], "kind": "certification", "certificate_no": "X-1", "issuer": "某机构",
        "obtained_on": "2009-03-01", "evidence": "证书"}, headers=h), status)
    assert register_counts(sdb) == before
    if status == 404:   # a bureau elsewhere does not see them in the lists either
        lst = api.get(f"{V1}/institution-recognitions?org_id={org['id']}", headers=h)
        assert lst.status == 200 and lst.body["items"] == []


@pytest.mark.parametrize("body,status,field", [
    ({"level": "county"}, 422, "level"),
    ({"level": "Nat!"}, 422, "level"),
    ({"recognised_on": "2009-13-01"}, 422, "recognised_on"),
    ({"recognised_on": "2999-01-01"}, 422, "recognised_on"),
    ({"recognised_by": "  "}, 422, "recognised_by"),
    ({"recognised_by": "部" * 201}, 422, "recognised_by"),
    ({"evidence": ""}, 422, "evidence"),
    ({"document_no": 12}, 400, "document_no"),
    ({"org_id": "1"}, 400, "org_id"),
    ({"org_id": 0}, 422, "org_id"),
    ({"org_id": 999999999}, 404, "org_id"),
    ({"extra": 1}, 400, "extra"),
])
def test_recognition_bad_input_changes_nothing(api, sdb, people, body, status, field):
    org = new_org(sdb, R)
    b = {"org_id": org["id"], "level": "city", "recognised_by": "兰州市科学技术局", "recognised_on": "2009-01-05",
         "evidence": "文件"}
    b.update(body)
    before = register_counts(sdb)
    p = assert_problem(api.post(f"{V1}/institution-recognitions", json=b, headers=people["admin"]["h"]), status)
    if status != 404:
        assert field in error_fields(p)
    assert register_counts(sdb) == before


@pytest.mark.parametrize("day,code", [("2009-13-01", "invalid_date"), ("1985-06-01", "invalid_date"),
                                      ("2999-01-01", "out_of_range")])
def test_recognition_dates_as_every_date_and_not_future(api, sdb, people, day, code):
    """A date is checked as every date of the API (1990 to 2999, invalid_date); a register
    entry's also not after today (out_of_range)."""
    org = new_org(sdb, R)
    b = {"org_id": org["id"], "level": "city", "recognised_by": "兰州市科学技术局", "recognised_on": day,
         "evidence": "文件"}
    before = register_counts(sdb)
    p = assert_problem(api.post(f"{V1}/institution-recognitions", json=b, headers=people["admin"]["h"]), 422)
    assert ("recognised_on", code) in [(e["field"], e["code"]) for e in p["errors"]], p
    assert register_counts(sdb) == before


@pytest.mark.parametrize("body,status,field", [
    ({"kind": "diploma"}, 422, "kind"),
    ({"kind": "training", "course": None}, 400, "course"),
    ({"kind": "training"}, 422, "course"),
    ({"kind": "training", "course": "培训", "hours": 0}, 422, "hours"),
    ({"kind": "training", "course": "培训", "hours": "48"}, 400, "hours"),
    ({"kind": "training", "course": "培训", "hours": [48]}, 400, "hours"),
    ({"certificate_no": "  "}, 422, "certificate_no"),
    ({"obtained_on": "yesterday"}, 422, "obtained_on"),
    ({"issuer": "证" * 201}, 422, "issuer"),
])
def test_qualification_bad_input_changes_nothing(api, sdb, people, body, status, field):
    b = {"user_id": people["broker"]["id"], "kind": "certification", "certificate_no": "C-" + uniq(),
         "issuer": "甘肃省技术市场协会", "obtained_on": "2009-02-01", "evidence": "证书"}
    b.update(body)
    before = register_counts(sdb)
    p = assert_problem(api.post(f"{V1}/broker-qualifications", json=b, headers=people["admin"]["h"]), status)
    assert field in error_fields(p)
    assert register_counts(sdb) == before


def test_qualification_hours_may_be_fractional(api, sdb, people):
    q = qualify(api, people["admin"]["h"], people["broker"], "training", "2009-03-01", hours=12.5)
    assert q["hours"] == 12.5
    assert float(query(sdb, "SELECT hours FROM broker_qualifications WHERE id = %s", q["id"])[0]["hours"]) == 12.5


def test_qualification_only_for_brokers(api, sdb, people):
    before = register_counts(sdb)
    p = assert_problem(api.post(f"{V1}/broker-qualifications", json={
        "user_id": people["member"]["id"], "kind": "certification", "certificate_no": "M-1", "issuer": "某机构",
        "obtained_on": "2009-02-01", "evidence": "证书"}, headers=people["admin"]["h"]), 422)
    assert error_fields(p) == ["user_id"]
    assert register_counts(sdb) == before


# --------------------------------------------------------------------------------------
# Fixed amounts by institution level (the seeded Yanshi policy: 30 / 10 / 5 万元)
# --------------------------------------------------------------------------------------

def test_yanshi_institutions_30_10_5(api, sdb, people):
    h = people["ys"]["h"]
    pol = policy_by_name(api, h, "偃师区技术转移示范机构奖励")
    assert pol["source"].startswith("偃政〔2021〕2号") and pol["region_code"] == "410307"
    assert pol["rules"]["lines"][0]["amount_by_level_fen"] == {"national": 30000000, "provincial": 10000000,
                                                               "city": 5000000}
    nat, prov, city, both, old = (new_org(sdb, "410307") for _ in range(5))
    recognise(api, h, nat, "national", "2022-03-01", by="科学技术部")
    recognise(api, h, prov, "provincial", "2022-05-01", by="河南省科学技术厅")
    recognise(api, h, city, "city", "2022-06-01", by="洛阳市科学技术局")
    # city and provincial in the same year: the highest level only (10 万元)
    recognise(api, h, both, "city", "2022-01-10", by="洛阳市科学技术局")
    recognise(api, h, both, "provincial", "2022-11-10", by="河南省科学技术厅")
    # recognised in 2021: not new in 2022
    recognise(api, h, old, "national", "2021-12-31", by="科学技术部")
    body = run(api, h, 2022, [pol["id"]])
    a = awards_by(body)
    assert {k[1]: v["amount_fen"] for k, v in a.items()} == \
        {nat["id"]: 30000000, prov["id"]: 10000000, city["id"]: 5000000, both["id"]: 10000000}
    assert a[(0, both["id"])]["reasons"]["recognition"]["level"] == "provincial"
    assert a[(0, nat["id"])]["party"] == "institution" and a[(0, nat["id"])]["contracts"] == []
    assert body["policies"][0]["awarded_fen"] == 55000000
    parties = {p["recipient_key"]: p for p in body["policies"][0]["parties"]}
    assert parties[f"org:{nat['id']}"]["amount_fen"] == 30000000

    # "洛阳市级同类奖励只能享受一次": the national institution recognised again the next year gets nothing more;
    # the city one, now provincial, gets the provincial amount
    recognise(api, h, nat, "national", "2023-02-01", by="科学技术部", doc="国科发〔2023〕2号")
    recognise(api, h, city, "provincial", "2023-02-01", by="河南省科学技术厅")
    a23 = awards_by(run(api, h, 2023, [pol["id"]]))
    assert a23[(0, nat["id"])]["amount_fen"] == 0 and "already_awarded" in a23[(0, nat["id"])]["reasons"]["note"]
    assert a23[(0, city["id"])]["amount_fen"] == 10000000

    # a recognition withdrawn before a re-run: the award falls to 0, the net change says so
    rid = query(sdb, "SELECT id FROM institution_recognitions WHERE org_id = %s", prov["id"])[0]["id"]
    assert api.post(f"{V1}/institution-recognitions/{rid}/withdraw", json={"reason": "认定被撤销"}, headers=h).status == 200
    again = run(api, h, 2022, [pol["id"]])
    p = awards_by(again)[(0, prov["id"])]
    assert (p["previous_amount_fen"], p["amount_fen"], p["change_fen"]) == (10000000, 0, -10000000)


def test_institution_rule_validation(api, people):
    h = people["lz"]["h"]
    for line, field in [
        ({"party": "institution", "amount_by_level_fen": {"county": 1}}, "rules.lines[0].amount_by_level_fen.county"),
        ({"party": "institution", "amount_by_level_fen": {"city": -1}}, "rules.lines[0].amount_by_level_fen.city"),
        ({"party": "institution", "amount_by_level_fen": {}}, "rules.lines[0].amount_by_level_fen"),
        ({"party": "institution", "amount_by_level_fen": {"city": 1}, "rate": {"flat_bp": 1}}, "rules.lines[0].rate"),
        ({"party": "seller", "amount_by_level_fen": {"city": 1}}, "rules.lines[0].amount_by_level_fen"),
        ({"party": "broker", "amount_per_broker_fen": "5"}, "rules.lines[0].amount_per_broker_fen"),
        ({"party": "seller", "base": "contract_amount", "rate": {"per_contract_fen": 1, "flat_bp": 1}},
         "rules.lines[0].rate"),
        ({"party": "seller", "base": "contract_amount", "rate": {"flat_bp": 1}, "certified_brokers_only": True},
         "rules.lines[0].certified_brokers_only"),
    ]:
        r = api.post(f"{V1}/subsidy-policies", json=policy_body("620100", [line], years=(2008, 2010)), headers=h)
        p = assert_problem(r, 422)
        assert field in error_fields(p), (line, p)


# --------------------------------------------------------------------------------------
# Brokers: per newly certified broker, per contract brokered by a certified broker
# --------------------------------------------------------------------------------------

def test_broker_awards(api, sdb, users, people):
    h = people["lz"]["h"]
    org = new_org(sdb, R2)
    b_cert = new_broker(sdb, org)            # certified 2008-03-01
    b_late = new_broker(sdb, org)            # certified 2008-09-01: after his first contract
    b_none = new_broker(sdb, org)            # never certified
    for b, on in ((b_cert, "2008-03-01"), (b_late, "2008-09-01")):
        qualify(api, h, b, "certification", on)
    qualify(api, h, b_none, "training", "2008-03-01")   # trained, not certified
    s, y = new_org(sdb, R2), new_org(sdb, R2)
    c1 = contract(sdb, s, y, *T, 10000000, at="2008-04-01 10:00+08", broker=b_cert)
    c2 = contract(sdb, s, y, *T, 20000000, at="2008-05-01 10:00+08", broker=b_cert)
    contract(sdb, s, y, *T, 30000000, at="2008-06-01 10:00+08", broker=b_late)     # before his certificate
    c4 = contract(sdb, s, y, *T, 30000000, at="2008-10-01 10:00+08", broker=b_late)
    contract(sdb, s, y, *T, 30000000, at="2008-10-01 10:00+08", broker=b_none)
    pol = create_policy(api, h, "620100", [
        {"label": "新取得证书的技术经纪人每人0.5万元", "party": "broker", "amount_per_broker_fen": 500000},
        {"label": "持证技术经纪人每促成一项合同0.2万元", "party": "broker", "base": "contract_amount",
         "rate": {"per_contract_fen": 200000}, "certified_brokers_only": True},
    ], years=(2008, 2010))
    body = run(api, h, 2008, [pol["id"]])
    a = awards_by(body)
    assert {k: v["amount_fen"] for k, v in a.items() if k[0] == 0} == {(0, b_cert["id"]): 500000,
                                                                         (0, b_late["id"]): 500000}
    assert {k: v["amount_fen"] for k, v in a.items() if k[0] == 1} == {(1, b_cert["id"]): 400000,
                                                                         (1, b_late["id"]): 200000}
    assert {x["contract_id"]: x["share_fen"] for x in a[(1, b_cert["id"])]["contracts"]} == {c1: 200000, c2: 200000}
    assert [x["contract_id"] for x in a[(1, b_late["id"])]["contracts"]] == [c4]
    parties = {p["recipient_key"]: p for p in body["policies"][0]["parties"]}
    assert parties[f"broker:{b_cert['id']}"]["amount_fen"] == 900000
    assert f"broker:{b_none['id']}" not in parties
    # the next year they are not newly certified: no award to them
    r = api.post(f"{V1}/subsidy-runs", json={"year": 2009, "policy_ids": [pol["id"]]}, headers=h)
    assert r.status in (201, 422), r
    if r.status == 201:
        assert not {k for k in awards_by(r.body) if k[1] in (b_cert["id"], b_late["id"]) and k[0] == 0}


# --------------------------------------------------------------------------------------
# 已享受财政资金补贴: an explicit contract attribute the exclusion reads
# --------------------------------------------------------------------------------------

def test_fiscal_subsidy_excludes_the_contract_not_the_plan_source(api, sdb, people):
    h = people["lz"]["h"]
    s = new_org(sdb, R)
    b1, b2, b3 = new_org(sdb, R), new_org(sdb, R), new_org(sdb, R)
    at = "2010-03-01 10:00+08"
    # a national-plan project that did NOT receive funding counts; an unplanned one that did is excluded
    c1 = contract(sdb, s, b1, *T, 10000000, at=at, plan_source="national", fiscal_subsidy=False)
    c2 = contract(sdb, s, b2, *T, 10000000, at=at, plan_source="unplanned", fiscal_subsidy=True)
    c3 = contract(sdb, s, b3, *T, 10000000, at=at, plan_source=None, fiscal_subsidy=False)
    pol = create_policy(api, h, R, [{"party": "buyer", "base": "technical_amount", "rate": {"flat_bp": 500},
                                     "exclude": ["government_funded"]}], years=(2008, 2010))
    a = awards_by(run(api, h, 2010, [pol["id"]]))
    assert a[(0, b1["id"])]["amount_fen"] == 500000 and a[(0, b3["id"])]["amount_fen"] == 500000
    assert a[(0, b2["id"])]["amount_fen"] == 0
    assert a[(0, b2["id"])]["contracts"] == [{"contract_id": c2, "registration_no": a[(0, b2["id"])]["contracts"][0]
                                              ["registration_no"], "base_fen": 10000000, "amount_exact_fen": None,
                                              "capped": False, "excluded": "government_funded", "share_fen": 0}]
    assert c1 != c3


# --------------------------------------------------------------------------------------
# Claw-backs never exceed the fall of the net award
# --------------------------------------------------------------------------------------

def test_cancellation_rerun_shows_net_change_and_no_excess_clawback(api, sdb, people):
    h = people["lz"]["h"]
    capped, partial, plain = new_org(sdb, R2), new_org(sdb, R2), new_org(sdb, R2)
    buyer = new_org(sdb, R2)
    at = "2009-08-01 10:00+08"
    # 5 % with a yearly cap of 50 万元 = 500,000 fen... worked per seller:
    #  capped:  a 10,000,000 → 500,000; b 20,000,000 → 1,000,000; gross 1,500,000 → cap 500,000
    #           shares: a 166,667, b 333,333.  Cancel b: gross 500,000 → still 500,000: no fall, no claw-back
    ca = contract(sdb, capped, buyer, *T, 10000000, at=at)
    cb = contract(sdb, capped, buyer, *T, 20000000, at=at)
    #  partial: a 4,000,000 → 200,000; b 16,000,000 → 800,000; gross 1,000,000 → cap 500,000
    #           shares: a 100,000, b 400,000.  Cancel b: gross 200,000: fall 300,000 < share 400,000
    contract(sdb, partial, buyer, *T, 4000000, at=at)
    pb = contract(sdb, partial, buyer, *T, 16000000, at=at)
    #  plain:   one contract 2,000,000 → 100,000.  Cancel it: fall 100,000 = share: claw back 100,000
    pc = contract(sdb, plain, buyer, *T, 2000000, at=at)
    pol = create_policy(api, h, R2, [{"party": "seller", "base": "contract_amount", "rate": {"flat_bp": 500},
                                      "cap_per_org_year_fen": 500000}], years=(2008, 2010))
    r1 = run(api, h, 2009, [pol["id"]])
    a1 = awards_by(r1)
    assert (a1[(0, capped["id"])]["amount_fen"], a1[(0, partial["id"])]["amount_fen"], a1[(0, plain["id"])]["amount_fen"]) \
        == (500000, 500000, 100000)
    assert {x["contract_id"]: x["share_fen"] for x in a1[(0, capped["id"])]["contracts"]} == {ca: 166667, cb: 333333}
    for c in (cb, pb, pc):
        cancel(sdb, c)
    r2 = run(api, h, 2009, [pol["id"]])
    a2, cbk = awards_by(r2), awards_by(r2, kind="clawback")
    assert (a2[(0, capped["id"])]["previous_amount_fen"], a2[(0, capped["id"])]["amount_fen"],
            a2[(0, capped["id"])]["change_fen"]) == (500000, 500000, 0)
    assert (a2[(0, partial["id"])]["amount_fen"], a2[(0, partial["id"])]["change_fen"]) == (200000, -300000)
    assert (a2[(0, plain["id"])]["amount_fen"], a2[(0, plain["id"])]["change_fen"]) == (0, -100000)
    # no claw-back where the award did not fall; never more than the fall
    assert set(cbk) == {(0, partial["id"], pb), (0, plain["id"], pc)}
    assert cbk[(0, partial["id"], pb)]["amount_fen"] == -300000
    assert cbk[(0, partial["id"], pb)]["reasons"]["clawback"]["previous_share_fen"] == 400000
    assert cbk[(0, partial["id"], pb)]["reasons"]["clawback"]["net_fall_fen"] == 300000
    assert cbk[(0, plain["id"], pc)]["amount_fen"] == -100000
    pol2 = r2["policies"][0]
    assert (pol2["previous_awarded_fen"], pol2["awarded_fen"], pol2["change_fen"], pol2["clawback_fen"]) == \
        (1100000, 700000, -400000, -400000)
    parties = {p["recipient_key"]: p for p in pol2["parties"]}
    assert {k: (p["previous_amount_fen"], p["amount_fen"], p["change_fen"], p["clawback_fen"]) for k, p in parties.items()
            if k != f"org:{buyer['id']}"} == {
        f"org:{capped['id']}": (500000, 500000, 0, 0),
        f"org:{partial['id']}": (500000, 200000, -300000, -300000),
        f"org:{plain['id']}": (100000, 0, -100000, -100000)}
    for p in parties.values():
        assert p["clawback_fen"] >= min(p["change_fen"], 0)
    assert query(sdb, "SELECT sum(amount_fen) AS s FROM subsidy_awards WHERE run_id = %s AND kind = 'clawback'",
                 r2["id"])[0]["s"] == -400000
