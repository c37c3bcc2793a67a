"""Subsidy policies (后补助), runs with their awards, claw-backs, and estimated tax relief.

Every expected amount below was worked out by hand (in fen; 1 yuan = 100 fen) from the rules
in migrations/functions/subsidies.sql: flat rates per contract, exact
arithmetic, ONE rounding half up to the fen per award, caps, thresholds (reached = >=),
conditional caps (exceeded = >), marginal tiers, budget pro-rating (floor, then the left-over
fen by largest remainder, then line, then recipient id), claw-back of cancelled contracts.
"""

import pytest

from subsidy_fixtures import *  # noqa: F401,F403
from subsidy_fixtures import dumps

pytestmark = pytest.mark.usefixtures("server")


# --------------------------------------------------------------------------------------
# The seeded Yanshi (偃师) policy: award year 2021, contracts registered in 2020
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def yanshi(sdb):
    db = sdb
    R = "410307"
    o = {k: new_org(db, R) for k in ("S1", "S2", "S3", "S4", "B1", "B2", "B3", "B4")}
    c = {}
    T, D, S = ("transfer", "patent_transfer"), ("development", "commissioned_development"), \
        ("service", "technical_service")
    # c1: tech 250,000,000 → buyer 5 % = 12,500,000 → per-contract cap 10,000,000; seller 1 % = 2,500,000
    c["c1"] = contract(db, o["S1"], o["B1"], *T, 300000000, 250000000, at="2020-03-01 10:00+08")
    # c2: tech 80,000,000 → buyer 4,000,000; seller 800,000
    c["c2"] = contract(db, o["S1"], o["B1"], *D, 100000000, 80000000, at="2020-05-01 10:00+08")
    # c3: tech 12,345,678 → buyer 617,283.9 (exact, rounded only per award); seller 123,456.78
    c["c3"] = contract(db, o["S1"], o["B2"], *S, 12345678, at="2020-06-01 10:00+08", plan_source="unplanned")
    # c4: 已享受财政资金补贴 (a provincial-plan project that says so): the buyer line excludes it; the seller
    #     line (no exclusions) 200,000
    c["c4"] = contract(db, o["S1"], o["B2"], *T, 20000000, at="2020-07-01 10:00+08", plan_source="provincial",
                       fiscal_subsidy=True)
    # c7: 2020-12-31 23:30 in China is still 2020: buyer 50,000; seller 10,000
    c["c7"] = contract(db, o["S1"], o["B2"], *T, 1000000, at="2020-12-31 23:30+08")
    # c8: 2021-01-01 00:30 in China (still 2020 in UTC): not in base year 2020
    c["c8"] = contract(db, o["S1"], o["B2"], *T, 1000000, at="2021-01-01 00:30+08")
    # c6: 2019: not in the base year
    c["c6"] = contract(db, o["S1"], o["B1"], *T, 1000000, at="2019-12-31 23:30+08")
    # c9: registered in 2020, then cancelled: does not count
    c["c9"] = contract(db, o["S1"], o["B1"], *T, 5000000, at="2020-08-01 10:00+08")
    cancel(db, c["c9"])
    # c10: S2 sells tech 15,000,000,000 (1.5 亿元 > 1 亿元) → seller 1 % = 150,000,000 → cap 20,000,000;
    #      buyer B3 5 % = 750,000,000 → per-contract cap 10,000,000
    c["c10"] = contract(db, o["S2"], o["B3"], *T, 15000000000, at="2020-09-01 10:00+08")
    # S3 → B3: 11 contracts of tech 200,000,000 → buyer 10,000,000 each (exactly the cap, not over)
    #      B3: 10,000,000 + 11 × 10,000,000 = 120,000,000 → per-org cap 100,000,000
    #      S3: 2,200,000,000 × 1 % = 22,000,000 → cap 10,000,000 (total 2.2e9 is not over 1e10)
    c["s3"] = [contract(db, o["S3"], o["B3"], *D, 200000000, at=f"2020-10-{d:02d} 10:00+08") for d in range(1, 12)]
    # S4: exactly 1 亿元 = 10,000,000,000 (not OVER it) → seller 100,000,000 → cap 10,000,000;
    #      B4 buyer 500,000,000 → cap 10,000,000
    c["c11"] = contract(db, o["S4"], o["B4"], *T, 10000000000, at="2020-11-01 10:00+08")
    return o, c


def yanshi_policy(api, actors):
    return policy_by_name(api, actors["admin"]["h"], "偃师区技术合同交易奖励")


def test_yanshi_seeded_policy_is_the_plan(api, actors):
    p = yanshi_policy(api, actors)
    assert p["region_code"] == "410307" and p["valid_from_year"] == 2021 and p["active"]
    buyer, seller = p["rules"]["lines"]
    assert buyer["party"] == "buyer" and buyer["base"] == "technical_amount" and buyer["base_year"] == "previous"
    assert buyer["rate"] == {"flat_bp": 500}                                  # 5 %
    assert buyer["cap_per_contract_fen"] == 10000000                          # 10 万元 a contract
    assert buyer["cap_per_org_year_fen"] == 100000000                         # 100 万元 an org a year
    assert set(buyer["exclude"]) == {"government_funded", "already_subsidised"}
    assert seller["party"] == "seller" and seller["rate"] == {"flat_bp": 100}  # 1 %
    assert seller["cap_per_org_year_fen"] == {"default_fen": 10000000,         # 10 万元,
                                              "steps": [{"total_over_fen": 10000000000, "cap_fen": 20000000}]}
    assert "budget_fen" not in p["rules"]                                     # 20 万元 over 1 亿元


def test_yanshi_awards(api, actors, yanshi, sdb):
    o, c = yanshi
    p = yanshi_policy(api, actors)
    body = run(api, actors["ys"]["h"], 2021, [p["id"]])
    pol = body["policies"][0]
    assert pol["scope_region_code"] == "410307" and pol["budget_fen"] is None and not pol["pro_rated"]
    a = awards_by(body)
    buyer, seller = 0, 1
    # B1: c1 capped 10,000,000 + c2 4,000,000 (c6 is 2019, c9 cancelled)
    b1 = a[(buyer, o["B1"]["id"])]
    assert b1["amount_fen"] == 14000000
    assert b1["reasons"]["contracts_capped"] == 1 and b1["reasons"]["base_total_fen"] == 330000000
    assert {x["contract_id"]: x["share_fen"] for x in b1["contracts"]} == {c["c1"]: 10000000, c["c2"]: 4000000}
    assert [x["capped"] for x in b1["contracts"] if x["contract_id"] == c["c1"]] == [True]
    # B2: 617,283.9 + 50,000 = 667,283.9 → 667,284 (half up, once); c4 excluded government_funded
    b2 = a[(buyer, o["B2"]["id"])]
    assert b2["amount_fen"] == 667284
    assert b2["reasons"]["excluded"] == [{"contract_id": c["c4"], "reason": "government_funded"}]
    assert {x["contract_id"] for x in b2["contracts"]} == {c["c3"], c["c4"], c["c7"]}
    assert sum(x["share_fen"] for x in b2["contracts"]) == 667284
    # B3: per-org cap 100,000,000 (1,000,000 yuan)
    b3 = a[(buyer, o["B3"]["id"])]
    assert b3["amount_fen"] == 100000000 and b3["reasons"]["year_capped"]
    assert b3["reasons"]["amount_exact_fen"] == 120000000
    assert a[(buyer, o["B4"]["id"])]["amount_fen"] == 10000000
    # S1: 2,500,000 + 800,000 + 123,456.78 + 200,000 + 10,000 = 3,633,456.78 → 3,633,457
    s1 = a[(seller, o["S1"]["id"])]
    assert s1["amount_fen"] == 3633457 and s1["reasons"]["cap_rule"] == "default"
    # S2: over 1 亿元 → cap 20,000,000;  S3 and S4 (exactly 1 亿元): 10,000,000
    s2 = a[(seller, o["S2"]["id"])]
    assert s2["amount_fen"] == 20000000 and s2["reasons"]["cap_per_year_fen"] == 20000000
    assert s2["reasons"]["cap_rule"] == "total over 10000000000 fen"
    assert a[(seller, o["S3"]["id"])]["amount_fen"] == 10000000
    s4 = a[(seller, o["S4"]["id"])]
    assert s4["amount_fen"] == 10000000 and s4["reasons"]["cap_rule"] == "default"
    # every award in 偃师 comes from our orgs, and the total is their sum
    ours = {x["id"] for x in o.values()}
    assert {r[1] for r in a} <= ours
    assert pol["awarded_fen"] == 14000000 + 667284 + 100000000 + 10000000 + 3633457 + 20000000 + 10000000 + 10000000
    # stored as returned, and visible to the bureau and the admin
    for h in (actors["ys"]["h"], actors["admin"]["h"]):
        r = api.get(f"{V1}/subsidy-runs/{body['id']}", headers=h)
        assert r.status == 200 and r.body == body
    # audit entry in the same transaction
    rows = query(sdb, "SELECT action, after FROM audit_log WHERE entity = 'subsidy_run' AND entity_id = %s",
                 str(body["id"]))
    assert [r["action"] for r in rows] == ["create"] and rows[0]["after"]["year"] == 2021


def test_yanshi_already_subsidised_by_a_luoyang_award(api, actors, yanshi):
    """洛阳市级同类奖励只能享受一次: a contract whose buyer got a Luoyang (410300) buyer award is
    left out of the Yanshi buyer line; the Yanshi seller line (no exclusion) still counts it."""
    o, c = yanshi
    admin = actors["admin"]["h"]
    ly = create_policy(api, admin, "410300", [{"party": "buyer", "base": "technical_amount", "base_year": "previous",
                                               "contract_types": ["development"], "rate": {"flat_bp": 100}}],
                       name="洛阳市技术合同买方奖励（测试）", years=(2021, 2021))
    lrun = run(api, admin, 2021, [ly["id"]])
    # the development contracts of 2020 in 洛阳: c2 (B1) and S3's eleven (B3)
    la = awards_by(lrun)
    assert la[(0, o["B1"]["id"])]["amount_fen"] == 800000                   # 80,000,000 × 1 %
    assert la[(0, o["B3"]["id"])]["amount_fen"] == 22000000                 # 11 × 200,000,000 × 1 %
    y = yanshi_policy(api, actors)
    body = run(api, actors["ys"]["h"], 2021, [y["id"]])
    a = awards_by(body)
    b1 = a[(0, o["B1"]["id"])]
    assert b1["amount_fen"] == 10000000                                      # c1 only
    assert b1["reasons"]["excluded"] == [{"contract_id": c["c2"], "reason": "already_subsidised"}]
    assert b1["previous_amount_fen"] == 14000000 and b1["change_fen"] == -4000000
    b3 = a[(0, o["B3"]["id"])]
    assert b3["amount_fen"] == 10000000 and b3["reasons"]["contracts_excluded"] == 11   # c10 only
    assert a[(1, o["S1"]["id"])]["amount_fen"] == 3633457                     # seller line unchanged
    assert body["policies"][0]["clawback_fen"] == 0                            # nothing was cancelled
    # retire the Luoyang test policy (its run stays in force: runs never change)
    r = api.patch(f"{V1}/subsidy-policies/{ly['id']}", json={"active": False}, headers=admin)
    assert r.status == 200 and r.body["active"] is False


# --------------------------------------------------------------------------------------
# The seeded Yueyang (岳阳) policy: amounts received in 2018, with a budget
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def yueyang(sdb):
    db = sdb
    o = {k: new_org(db, "430602") for k in ("S1", "S2", "S3", "B1", "B2", "B3", "B4")}
    D, T, L = ("development", "cooperative_development"), ("transfer", "know_how_transfer"), \
        ("licence", "patent_licence")
    C, V = ("consulting", "technical_consulting"), ("service", "technical_service")
    c = {}
    # seller line (dev/transfer/licence, ≥ 50,000,000 received, 2 %, cap 20,000,000)
    # S1→B1 development, received 30,000,000 + 20,000,000 in 2018 = exactly 50,000,000: threshold reached
    #   seller 2 % = 1,000,000;  buyer (≥ 25,000,000, 4 %) = 2,000,000
    c["d1"] = contract(db, o["S1"], o["B1"], *D, 80000000, at="2017-11-01 10:00+08")
    pay(db, c["d1"], 30000000, "2018-01-15")
    pay(db, c["d1"], 20000000, "2018-12-31")
    pay(db, c["d1"], 10000000, "2019-01-01")          # next year: not counted
    # S2→B2 transfer, 49,999,999 received in 2018: one fen short for the seller (0);
    #   the buyer (≥ 25,000,000): 4 % = 1,999,999.96 → 2,000,000
    c["t2"] = contract(db, o["S2"], o["B2"], *T, 90000000, at="2018-02-01 10:00+08")
    pay(db, c["t2"], 10000000, "2017-12-31")           # previous year: not counted
    pay(db, c["t2"], 49999999, "2018-06-30")
    # S3→B3 licence (a kind of 转让 in 2017), 2,000,000,000 received: seller 40,000,000 → cap 20,000,000;
    #   buyer 80,000,000 → cap 10,000,000
    c["l3"] = contract(db, o["S3"], o["B3"], *L, 2500000000, at="2018-03-01 10:00+08")
    pay(db, c["l3"], 2000000000, "2018-04-01")
    # consulting/service sellers (≥ 50,000,000, 1 %, cap 10,000,000):
    # S1→B4 consulting 60,000,000 received → 600,000 (the buyer line does not count consulting)
    c["k1"] = contract(db, o["S1"], o["B4"], *C, 60000000, at="2018-03-05 10:00+08")
    pay(db, c["k1"], 60000000, "2018-05-01")
    # S2→B4 service 45,000,000 received → below threshold, 0
    c["v2"] = contract(db, o["S2"], o["B4"], *V, 45000000, at="2018-03-06 10:00+08")
    pay(db, c["v2"], 45000000, "2018-05-02")
    return o, c


def yueyang_policy(api, actors):
    return policy_by_name(api, actors["admin"]["h"], "岳阳市技术合同交易后补助")


def test_yueyang_seeded_policy_is_the_plan(api, actors):
    p = yueyang_policy(api, actors)
    assert p["region_code"] == "430600" and p["active"]
    dev_s, dev_b, cs_s = p["rules"]["lines"]
    assert (dev_s["party"], dev_s["base"], dev_s["threshold_fen"], dev_s["rate"], dev_s["cap_per_org_year_fen"]) == \
        ("seller", "received_amount", 50000000, {"flat_bp": 200}, 20000000)        # 50 万元, 2 %, 20 万元
    assert (dev_b["party"], dev_b["threshold_fen"], dev_b["rate"], dev_b["cap_per_org_year_fen"]) == \
        ("buyer", 25000000, {"flat_bp": 400}, 10000000)                             # 25 万元, 4 %, 10 万元
    assert (cs_s["party"], cs_s["threshold_fen"], cs_s["rate"], cs_s["cap_per_org_year_fen"]) == \
        ("seller", 50000000, {"flat_bp": 100}, 10000000)                            # 50 万元, 1 %, 10 万元
    assert set(dev_s["contract_types"]) == {"development", "transfer", "licence"} == set(dev_b["contract_types"])
    assert set(cs_s["contract_types"]) == {"consulting", "service"}
    assert all(ln["base_year"] == "same" for ln in p["rules"]["lines"])
    assert p["rules"]["budget_fen"] == {}                                           # set per year


def test_yueyang_budget_and_pro_rating(api, actors, yueyang, sdb):
    o, c = yueyang
    h = actors["yy"]["h"]
    p = yueyang_policy(api, actors)
    # without a budget for 2018 the run is refused and nothing is stored
    before = counts(sdb)
    r = api.post(f"{V1}/subsidy-runs", json={"year": 2018, "policy_ids": [p["id"]]}, headers=h)
    assert "year" in error_fields(assert_problem(r, 422))
    assert counts(sdb) == before

    # a budget above the claims: every award as computed
    rules = dict(p["rules"], budget_fen={"2018": 50000000})
    p = set_rules(api, h, p, rules)
    full = run(api, h, 2018, [p["id"]])
    a = awards_by(full)
    expect = {(0, "S1"): 1000000, (0, "S2"): 0, (0, "S3"): 20000000,
              (1, "B1"): 2000000, (1, "B2"): 2000000, (1, "B3"): 10000000,
              (2, "S1"): 600000, (2, "S2"): 0}
    assert {k: a[(k[0], o[k[1]]["id"])]["amount_fen"] for k in expect} == expect
    assert len(a) == len(expect)                                   # B4 bought consulting/service only
    assert a[(0, o["S2"]["id"])]["reasons"]["threshold"] == {"threshold_fen": 50000000, "met": False}
    assert a[(0, o["S2"]["id"])]["base_total_fen"] == 49999999
    assert a[(0, o["S1"]["id"])]["reasons"]["threshold"]["met"] is True      # exactly 50,000,000
    assert a[(0, o["S1"]["id"])]["base_total_fen"] == 50000000              # the 2019 payment is out
    pol = full["policies"][0]
    assert (pol["claims_fen"], pol["budget_fen"], pol["pro_rated"], pol["awarded_fen"]) == \
        (35600000, 50000000, False, 35600000)

    # budget 10,000,000 < claims 35,600,000: factor 10/35.6
    #   S1 l0 1,000,000 → 280,898.876…  floor 280,898   (+1: remainder .876, the largest)
    #   S3 l0 20,000,000 → 5,617,977.528… floor 5,617,977
    #   B1 l1 2,000,000 → 561,797.752…  floor 561,797   (+1: .752, tie with B2, lower org id first)
    #   B2 l1 2,000,000 → 561,797.752…  floor 561,797   (+1)
    #   B3 l1 10,000,000 → 2,808,988.764… floor 2,808,988 (+1: .764)
    #   S1 l2 600,000 → 168,539.325…   floor 168,539
    #   floors sum to 9,999,996: the 4 fen left go to S1 l0, B3, B1, B2; the total is exactly 10,000,000
    assert o["B1"]["id"] < o["B2"]["id"]
    p = set_rules(api, h, p, dict(rules, budget_fen={"2018": 10000000}))
    cut = run(api, h, 2018, [p["id"]])
    a = awards_by(cut)
    expect = {(0, "S1"): 280899, (0, "S2"): 0, (0, "S3"): 5617977,
              (1, "B1"): 561798, (1, "B2"): 561798, (1, "B3"): 2808989,
              (2, "S1"): 168539, (2, "S2"): 0}
    assert {k: a[(k[0], o[k[1]]["id"])]["amount_fen"] for k in expect} == expect
    assert sum(expect.values()) == 10000000
    pol = cut["policies"][0]
    assert (pol["claims_fen"], pol["budget_fen"], pol["pro_rated"], pol["awarded_fen"]) == \
        (35600000, 10000000, True, 10000000)
    pr = a[(0, o["S1"]["id"])]["reasons"]["pro_rating"]
    assert (pr["floor_fen"], pr["remainder_fen_added"], pr["claims_fen"]) == (280898, 1, 35600000)
    assert a[(0, o["S1"]["id"])]["amount_before_budget_fen"] == 1000000
    assert a[(0, o["S3"]["id"])]["reasons"]["pro_rating"]["remainder_fen_added"] == 0
    # compared with the previous run of the same policy, year and region
    assert pol["previous_run_id"] == full["id"]
    assert a[(1, o["B3"]["id"])]["previous_amount_fen"] == 10000000
    assert a[(1, o["B3"]["id"])]["change_fen"] == 2808989 - 10000000
    # each award is apportioned to its contracts: shares add up to the award
    for aw in a.values():
        assert sum(x["share_fen"] for x in aw["contracts"]) == aw["amount_fen"]


# --------------------------------------------------------------------------------------
# Policies of our own in 青海 (630000): tiers, caps, exclusions, brokers, offices, claw-back
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def qinghai(sdb):
    db = sdb
    d = {}
    T, D, K = ("transfer", "patent_transfer"), ("development", "commissioned_development"), \
        ("development", "cooperative_development")
    # 城东区 630102: sellers for the tiered policy (contract amount, 2015)
    sellers = {k: new_org(db, "630102") for k in ("T1", "T2", "T3", "T4", "T5", "T7")}
    buyer = new_org(db, "630102")
    at = "2015-06-01 10:00+08"
    d["tier_c"] = {
        "T1": [contract(db, sellers["T1"], buyer, *T, 60000000, at=at), contract(db, sellers["T1"], buyer, *T, 90000000, at=at)],
        "T2": [contract(db, sellers["T2"], buyer, *T, 700000000, at=at)],
        "T3": [contract(db, sellers["T3"], buyer, *T, 10000000, at=at)],
        "T4": [contract(db, sellers["T4"], buyer, *T, 9999999, at=at)],
        "T5": [contract(db, sellers["T5"], buyer, *T, 10000050, at=at)],
        "T7": [contract(db, sellers["T7"], buyer, *T, 10000001, at=at), contract(db, sellers["T7"], buyer, *T, 10000002, at=at)],
    }
    d["tier_o"] = sellers
    # 城中区 630103: buyers for the flat policy with per-contract and conditional yearly caps
    seller = new_org(db, "630106", phone="0971-5550000")
    b = {k: new_org(db, "630103") for k in ("F1", "F2", "F3", "F5")}
    b["F4"] = new_org(db, "630103", phone="0971-5550000")          # related: the contract says so
    at = "2015-07-01 10:00+08"
    d["flat_c"] = {
        "F1": [contract(db, seller, b["F1"], *T, 40000000, at=at), contract(db, seller, b["F1"], *D, 30000000, at=at),
               contract(db, seller, b["F1"], *K, 50000000, at=at),
               contract(db, seller, b["F1"], "consulting", "technical_consulting", 50000000, at=at)],
        "F2": [contract(db, seller, b["F2"], *T, 60000000, at=at), contract(db, seller, b["F2"], *T, 40000000, at=at)],
        "F3": [contract(db, seller, b["F3"], *T, 60000000, at=at), contract(db, seller, b["F3"], *T, 40000001, at=at)],
        "F4": [contract(db, seller, b["F4"], *T, 10000000, at=at, related_party="related")],
        "F5": [contract(db, seller, b["F5"], *T, 10000000, at=at, plan_source="national", fiscal_subsidy=True),
               contract(db, seller, b["F5"], *T, 20000000, at=at)],
    }
    d["flat_o"] = b
    # 城西区 630104: brokers (K1 with its own region, K2 through its org's region)
    korg = new_org(db, "630104")
    far = new_org(db, "110108")                                       # parties far away: the broker's region counts
    k1, k2 = new_broker(db, korg, region="630104"), new_broker(db, korg)
    d["brokers"] = (k1, k2)
    d["broker_c"] = [contract(db, far, buyer, *T, 100000000, at=at, broker=k1, office=office_in(db, "630104")),
                     contract(db, far, buyer, *T, 80000000, at=at, broker=k1, office=office_in(db, "630104")),
                     contract(db, far, buyer, *T, 50000000, at=at, broker=k2, office=office_in(db, "630104"))]
    # 城北区 630105: an office paid per registration
    of = office_in(db, "630105")
    d["office"] = of
    s105 = new_org(db, "630105")
    d["office_c"] = [contract(db, s105, buyer, *T, 30000000, at=at, office=of),
                     contract(db, s105, buyer, *T, 40000000, at=at, office=of)]
    # 乐都区 630202: the claw-back policy (2014)
    l1, l2 = new_org(db, "630202"), new_org(db, "630202")
    at = "2014-05-01 10:00+08"
    d["claw_o"] = (l1, l2)
    d["claw_c"] = {"a": contract(db, l1, buyer, *T, 10000000, at=at), "b": contract(db, l1, buyer, *T, 20000000, at=at),
                   "c": contract(db, l2, buyer, *T, 10000000, at=at)}
    return d


TIERS = [{"up_to_fen": 100000000, "bp": 300}, {"up_to_fen": 500000000, "bp": 200}, {"up_to_fen": None, "bp": 100}]


def test_marginal_tiers_threshold_and_rounding(api, actors, qinghai):
    h = actors["xn"]["h"]
    p = create_policy(api, h, "630102", [{"party": "seller", "base": "contract_amount",
                                          "threshold_fen": 10000000, "rate": {"tiers": TIERS},
                                          "cap_per_org_year_fen": 10000000}])
    body = run(api, h, 2015, [p["id"]])
    a = awards_by(body)
    o, c = qinghai["tier_o"], qinghai["tier_c"]
    got = {k: a[(0, o[k]["id"])]["amount_fen"] for k in o}
    assert got == {
        "T1": 4000000,     # 150,000,000: 100,000,000 × 3 % + 50,000,000 × 2 %
        "T2": 10000000,    # 700,000,000: 3,000,000 + 8,000,000 + 2,000,000 = 13,000,000 → cap 10,000,000
        "T3": 300000,      # exactly the threshold 10,000,000: reached
        "T4": 0,           # 9,999,999: one fen short
        "T5": 300002,      # 10,000,050 × 3 % = 300,001.5 → half up → 300,002
        "T7": 600000,      # 20,000,003 × 3 % = 600,000.09 → 600,000
    }
    t1 = a[(0, o["T1"]["id"])]
    assert [(t["base_fen"], t["bp"], t["amount_exact_fen"]) for t in t1["reasons"]["rate"]["tiers"]] == \
        [(100000000, 300, 3000000), (50000000, 200, 1000000), (0, 100, 0)]
    # shares in proportion to the bases: 60/150 and 90/150 of 4,000,000
    assert {x["contract_id"]: x["share_fen"] for x in t1["contracts"]} == {c["T1"][0]: 1600000, c["T1"][1]: 2400000}
    # T7: 600,000 × 10,000,001 / 20,000,003 = 299,999.98… and 300,000.01…: floors 299,999 + 300,000,
    # the one fen left goes to the larger remainder (the first contract)
    assert {x["contract_id"]: x["share_fen"] for x in a[(0, o["T7"]["id"])]["contracts"]} == \
        {c["T7"][0]: 300000, c["T7"][1]: 300000}
    assert a[(0, o["T4"]["id"])]["reasons"]["threshold"] == {"threshold_fen": 10000000, "met": False}
    assert a[(0, o["T2"]["id"])]["reasons"]["year_capped"] is True


def test_flat_caps_types_and_exclusions(api, actors, qinghai):
    h = actors["xn"]["h"]
    p = create_policy(api, h, "630103", [{
        "party": "buyer", "base": "technical_amount", "contract_types": ["transfer", "commissioned_development"],
        "rate": {"flat_bp": 1000}, "cap_per_contract_fen": 5000000,
        "cap_per_org_year_fen": {"default_fen": 8000000, "steps": [{"total_over_fen": 100000000, "cap_fen": 12000000}]},
        "exclude": ["related_parties", "government_funded"]}])
    body = run(api, h, 2015, [p["id"]])
    a = awards_by(body)
    o, c = qinghai["flat_o"], qinghai["flat_c"]
    # F1: transfer 4,000,000 + commissioned development 3,000,000 (cooperative development and
    #     consulting are other types) = 7,000,000 (< 8,000,000)
    f1 = a[(0, o["F1"]["id"])]
    assert f1["amount_fen"] == 7000000 and {x["contract_id"] for x in f1["contracts"]} == set(c["F1"][:2])
    # F2: 6,000,000 → per-contract cap 5,000,000, + 4,000,000 = 9,000,000; total 100,000,000 is not
    #     over 100,000,000 → yearly cap 8,000,000
    f2 = a[(0, o["F2"]["id"])]
    assert f2["amount_fen"] == 8000000 and f2["reasons"]["contracts_capped"] == 1
    assert f2["reasons"]["cap_per_year_fen"] == 8000000 and f2["reasons"]["year_capped"]
    # F3: 5,000,000 (capped) + 4,000,000.1; total 100,000,001 is over → cap 12,000,000 → 9,000,000.1 → 9,000,000
    f3 = a[(0, o["F3"]["id"])]
    assert f3["amount_fen"] == 9000000 and f3["reasons"]["cap_per_year_fen"] == 12000000
    assert f3["reasons"]["amount_exact_fen"] == 9000000.1
    # F4: the contract says the parties are related (关联交易) → excluded
    f4 = a[(0, o["F4"]["id"])]
    assert f4["amount_fen"] == 0 and f4["reasons"]["excluded"] == [{"contract_id": c["F4"][0], "reason": "related_parties"}]
    # F5: the contract that already received government funding (已享受财政资金补贴) is excluded, the
    #     other gives 2,000,000
    f5 = a[(0, o["F5"]["id"])]
    assert f5["amount_fen"] == 2000000
    assert f5["reasons"]["excluded"] == [{"contract_id": c["F5"][0], "reason": "government_funded"}]


def test_broker_cap_and_office_party(api, actors, qinghai):
    h = actors["qh"]["h"]
    k1, k2 = qinghai["brokers"]
    pb = create_policy(api, h, "630104", [{"party": "broker", "base": "contract_amount", "rate": {"flat_bp": 100},
                                           "cap_per_broker_year_fen": 1500000}])
    a = awards_by(run(api, h, 2015, [pb["id"]]))
    # K1: 1,000,000 + 800,000 = 1,800,000 → broker cap 1,500,000;  K2 (its org's region): 500,000
    assert a[(0, k1["id"])]["amount_fen"] == 1500000 and a[(0, k1["id"])]["recipient"]["broker_user_id"] == k1["id"]
    assert a[(0, k2["id"])]["amount_fen"] == 500000
    assert len(a) == 2
    po = create_policy(api, h, "630105", [{"party": "office", "base": "contract_amount", "rate": {"flat_bp": 10},
                                           "cap_per_org_year_fen": 50000}])
    a = awards_by(run(api, h, 2015, [po["id"]]))
    # office: 30,000 + 40,000 = 70,000 → cap 50,000
    oid = qinghai["office"]["id"]
    assert list(a) == [(0, oid)] and a[(0, oid)]["amount_fen"] == 50000
    assert a[(0, oid)]["recipient"]["office_id"] == oid
    # the same with a fixed budget of 40,000 for every year: the single claim is cut to it
    po = set_rules(api, h, po, dict(po["rules"], budget_fen=40000))
    body = run(api, h, 2015, [po["id"]])
    assert awards_by(body)[(0, oid)]["amount_fen"] == 40000
    assert awards_by(body)[(0, oid)]["reasons"]["pro_rating"]["factor"] == "0.8"
    assert body["policies"][0]["pro_rated"] is True


def test_determinism_and_clawback(api, actors, qinghai, sdb):
    h = actors["ld"]["h"]
    l1, l2 = qinghai["claw_o"]
    cc = qinghai["claw_c"]
    p = create_policy(api, h, "630202", [{"party": "seller", "base": "contract_amount", "rate": {"flat_bp": 500}}])
    r1 = run(api, h, 2014, [p["id"]])
    r2 = run(api, h, 2014, [p["id"]])
    # the same inputs give the same run: same digest, same awards
    assert r1["digest"] == r2["digest"] and r1["policies"][0]["digest"] == r2["policies"][0]["digest"]

    def strip(body):
        out = []
        for aw in body["policies"][0]["awards"]:
            aw = {k: v for k, v in aw.items() if k not in ("id", "previous_amount_fen", "change_fen")}
            out.append(aw)
        return dumps(out)
    assert strip(r1) == strip(r2)
    a1 = awards_by(r1)
    # L1: 500,000 + 1,000,000;  L2: 500,000
    assert a1[(0, l1["id"])]["amount_fen"] == 1500000 and a1[(0, l2["id"])]["amount_fen"] == 500000
    assert {x["contract_id"]: x["share_fen"] for x in a1[(0, l1["id"])]["contracts"]} == {cc["a"]: 500000, cc["b"]: 1000000}
    a2 = awards_by(r2)
    assert r2["policies"][0]["previous_run_id"] == r1["id"] and a2[(0, l1["id"])]["change_fen"] == 0
    assert awards_by(r2, kind="clawback") == {}

    # cancel b (L1) and c (L2, its only contract): the next run claws their shares back
    cancel(sdb, cc["b"])
    cancel(sdb, cc["c"])
    r3 = run(api, h, 2014, [p["id"]])
    a3, cb = awards_by(r3), awards_by(r3, kind="clawback")
    assert a3[(0, l1["id"])]["amount_fen"] == 500000
    assert a3[(0, l1["id"])]["previous_amount_fen"] == 1500000 and a3[(0, l1["id"])]["change_fen"] == -1000000
    assert a3[(0, l2["id"])]["amount_fen"] == 0 and a3[(0, l2["id"])]["change_fen"] == -500000
    assert set(cb) == {(0, l1["id"], cc["b"]), (0, l2["id"], cc["c"])}
    b = cb[(0, l1["id"], cc["b"])]
    assert b["amount_fen"] == -1000000
    why = b["reasons"]["clawback"]
    assert why["previous_run_id"] == r2["id"] and why["previous_share_fen"] == 1000000
    assert why["cancel_reason"] == "双方协议解除（注销）" and why["registration_no"]
    assert cb[(0, l2["id"], cc["c"])]["amount_fen"] == -500000
    pol = r3["policies"][0]
    assert (pol["awarded_fen"], pol["clawback_fen"], pol["previous_awarded_fen"], pol["change_fen"]) == \
        (500000, -1500000, 2000000, -1500000)
    # claw-backs happen once: the next run has none
    r4 = run(api, h, 2014, [p["id"]])
    assert awards_by(r4, kind="clawback") == {} and r4["policies"][0]["change_fen"] == 0
    # earlier runs never change
    assert api.get(f"{V1}/subsidy-runs/{r1['id']}", headers=h).body == r1
    with pytest.raises(Exception):
        query(sdb, "UPDATE subsidy_awards SET amount_fen = 1 WHERE run_id = %s", r1["id"])
    # and the list shows them, newest first
    lst = api.get(f"{V1}/subsidy-runs?policy_id={p['id']}", headers=h)
    assert lst.status == 200 and [x["id"] for x in lst.body["items"]] == [r4["id"], r3["id"], r2["id"], r1["id"]]
    assert "awards" not in lst.body["items"][0]["policies"][0]


# --------------------------------------------------------------------------------------
# Scope and roles
# --------------------------------------------------------------------------------------

def test_scope_of_bureaus(api, actors, qinghai, sdb):
    xn, ld, gs, qh, admin = (actors[k]["h"] for k in ("xn", "ld", "gs", "qh", "admin"))
    lines = [{"party": "seller", "base": "contract_amount", "rate": {"flat_bp": 500}}]
    before = counts(sdb)
    # a bureau makes policies only in its subtree
    r = api.post(f"{V1}/subsidy-policies", json=policy_body("630202", lines), headers=xn)
    assert "region_code" in error_fields(assert_problem(r, 403))
    assert counts(sdb) == before
    p = create_policy(api, ld, "630202", lines, years=(2014, 2014))
    # … and sees only those
    for h in (xn, gs):
        assert_problem(api.get(f"{V1}/subsidy-policies/{p['id']}", headers=h), 404)
        assert_problem(api.patch(f"{V1}/subsidy-policies/{p['id']}", json={"name": "x"}, headers=h), 404)
        assert p["id"] not in [x["id"] for x in api.get(f"{V1}/subsidy-policies?limit=100", headers=h).body["items"]]
        r = api.post(f"{V1}/subsidy-runs", json={"year": 2014, "policy_ids": [p["id"]]}, headers=h)
        assert "policy_ids[0]" in error_fields(assert_problem(r, 404))
    assert api.get(f"{V1}/subsidy-policies/{p['id']}", headers=qh).status == 200
    # a region outside the bureau's subtree
    before = counts(sdb)
    r = api.post(f"{V1}/subsidy-runs", json={"year": 2014, "region": "630000"}, headers=xn)
    assert "region" in error_fields(assert_problem(r, 403))
    assert counts(sdb) == before
    # runs: visible to the bureaus above the region covered, 404 to others
    body = run(api, admin, 2014, [p["id"]])
    assert api.get(f"{V1}/subsidy-runs/{body['id']}", headers=qh).status == 200
    assert api.get(f"{V1}/subsidy-runs/{body['id']}", headers=ld).status == 200
    for h in (xn, gs):
        assert_problem(api.get(f"{V1}/subsidy-runs/{body['id']}", headers=h), 404)
        assert body["id"] not in [x["id"] for x in api.get(f"{V1}/subsidy-runs?limit=100", headers=h).body["items"]]
    # a run narrowed to a region inside the policy's: only parties there count
    narrow = run(api, qh, 2014, [p["id"]], region="630202")
    assert narrow["policies"][0]["scope_region_code"] == "630202"
    # a run without policy_ids takes every active policy of the caller's region valid that year
    every = run(api, ld, 2014)
    assert p["id"] in [x["policy_id"] for x in every["policies"]]
    assert all(x["scope_region_code"].startswith("6302") for x in every["policies"])


def test_roles(api, actors):
    h = actors["reviewer"]["h"]      # stands for every role that is not bureau or admin
    for method, path, body in (("GET", "/subsidy-policies", None), ("POST", "/subsidy-policies", {}),
                               ("GET", "/subsidy-policies/1", None), ("PATCH", "/subsidy-policies/1", {}),
                               ("GET", "/subsidy-runs", None), ("POST", "/subsidy-runs", {"year": 2015}),
                               ("GET", "/subsidy-runs/1", None), ("GET", "/tax-relief?year=2015", None)):
        kw = {"headers": h}
        if body is not None:
            kw["json"] = body
        assert_problem(api.request(method, V1 + path, **kw), 403)
        kw.pop("headers")
        assert_problem(api.request(method, V1 + path, **kw), 401)


# --------------------------------------------------------------------------------------
# Bad input: refused, and the database unchanged
# --------------------------------------------------------------------------------------

GOOD_LINE = {"party": "seller", "base": "contract_amount", "rate": {"flat_bp": 100}}


def rules_with(**line):
    ln = dict(GOOD_LINE)
    ln.update(line)
    return {"lines": [ln]}


BAD_RULES = [
    ({"lines": [GOOD_LINE], "bogus": 1}, "rules.bogus"),
    ({"lines": []}, "rules.lines"),
    ({"lines": "x"}, "rules.lines"),
    ({"lines": [GOOD_LINE], "budget_fen": -1}, "rules.budget_fen"),
    ({"lines": [GOOD_LINE], "budget_fen": 1.5}, "rules.budget_fen"),
    ({"lines": [GOOD_LINE], "budget_fen": {"20x4": 1}}, "rules.budget_fen.20x4"),
    ({"lines": [GOOD_LINE], "budget_fen": {"2015": "1"}}, "rules.budget_fen.2015"),
    ({"lines": [[1]]}, "rules.lines[0]"),
    (rules_with(bogus=True), "rules.lines[0].bogus"),
    ({"lines": [{"base": "contract_amount", "rate": {"flat_bp": 1}}]}, "rules.lines[0].party"),
    (rules_with(party="agent"), "rules.lines[0].party"),
    (rules_with(base="profit"), "rules.lines[0].base"),
    (rules_with(base_year="next"), "rules.lines[0].base_year"),
    (rules_with(contract_types=["transfer", "nonsense"]), "rules.lines[0].contract_types[1]"),
    (rules_with(contract_types="transfer"), "rules.lines[0].contract_types"),
    (rules_with(contract_types=["transfer", "transfer"]), "rules.lines[0].contract_types"),
    (rules_with(threshold_fen=-5), "rules.lines[0].threshold_fen"),
    (rules_with(threshold_fen="100"), "rules.lines[0].threshold_fen"),
    (rules_with(rate={"flat_bp": 100, "tiers": []}), "rules.lines[0].rate"),
    (rules_with(rate={}), "rules.lines[0].rate"),
    (rules_with(rate={"flat_bp": 10001}), "rules.lines[0].rate.flat_bp"),
    (rules_with(rate={"flat_bp": 2.5}), "rules.lines[0].rate.flat_bp"),
    (rules_with(rate={"percent": 5}), "rules.lines[0].rate.percent"),
    (rules_with(rate={"tiers": [{"up_to_fen": 100, "bp": 1}, {"up_to_fen": 100, "bp": 1}]}),
     "rules.lines[0].rate.tiers[1].up_to_fen"),
    (rules_with(rate={"tiers": [{"up_to_fen": None, "bp": 1}, {"up_to_fen": 100, "bp": 1}]}),
     "rules.lines[0].rate.tiers[0].up_to_fen"),
    (rules_with(rate={"tiers": [{"up_to_fen": 100, "bp": 1, "x": 1}]}), "rules.lines[0].rate.tiers[0].x"),
    (rules_with(rate={"tiers": TIERS}, cap_per_contract_fen=5), "rules.lines[0].cap_per_contract_fen"),
    (rules_with(cap_per_broker_year_fen=5), "rules.lines[0].cap_per_broker_year_fen"),
    (rules_with(party="broker", cap_per_org_year_fen=5), "rules.lines[0].cap_per_org_year_fen"),
    (rules_with(cap_per_org_year_fen={"default_fen": 5, "steps": [{"total_over_fen": 10}], "x": 1}),
     "rules.lines[0].cap_per_org_year_fen.x"),
    (rules_with(cap_per_org_year_fen={"default_fen": 5, "steps": [{"total_over_fen": 10}]}),
     "rules.lines[0].cap_per_org_year_fen.steps[0].cap_fen"),
    (rules_with(cap_per_org_year_fen={"steps": [{"total_over_fen": 10, "cap_fen": 1}]}),
     "rules.lines[0].cap_per_org_year_fen.default_fen"),
    (rules_with(cap_per_org_year_fen={"default_fen": 5, "steps": [{"total_over_fen": 10, "cap_fen": 1},
                                                                  {"total_over_fen": 9, "cap_fen": 1}]}),
     "rules.lines[0].cap_per_org_year_fen.steps[1].total_over_fen"),
    (rules_with(exclude=["friends"]), "rules.lines[0].exclude[0]"),
    (rules_with(exclude=["related_parties", "related_parties"]), "rules.lines[0].exclude"),
]


@pytest.mark.parametrize("rules,field", BAD_RULES, ids=[f for _, f in BAD_RULES])
def test_bad_rules_are_422_naming_the_field(api, actors, sdb, rules, field):
    h = actors["qh"]["h"]
    before = counts(sdb)
    r = api.post(f"{V1}/subsidy-policies", json=dict(policy_body("630000", [GOOD_LINE]), rules=rules), headers=h)
    assert field in error_fields(assert_problem(r, 422)), r.body
    assert counts(sdb) == before


def test_bad_policy_bodies(api, actors, sdb):
    h = actors["qh"]["h"]
    good = policy_body("630000", [GOOD_LINE])
    before = counts(sdb)
    cases = [
        (400, None, {"data": b"{not json", "headers": {**h, "Content-Type": "application/json"}}),
        (400, None, {"json": [good]}),
        (400, "id", {"json": dict(good, id=5)}),
        (400, "created_by", {"json": dict(good, created_by=1)}),
        (400, "name", {"json": dict(good, name=7)}),
        (400, "rules", {"json": dict(good, rules=[])}),
        (400, "valid_from_year", {"json": dict(good, valid_from_year="2015")}),
        (400, "active", {"json": dict(good, active="yes")}),
        (422, "rules", {"json": {k: v for k, v in good.items() if k != "rules"}}),
        (422, "name", {"json": dict(good, name="")}),
        (422, "region_code", {"json": dict(good, region_code="63")}),
        (422, "region_code", {"json": dict(good, region_code="639999")}),
        (422, "valid_from_year", {"json": dict(good, valid_from_year=1999)}),
        (422, "valid_to_year", {"json": dict(good, valid_from_year=2015, valid_to_year=2014)}),
    ]
    for status, field, kw in cases:
        kw.setdefault("headers", h)
        r = api.post(f"{V1}/subsidy-policies", **kw)
        body = assert_problem(r, status)
        if field:
            assert field in error_fields(body), (field, body)
    assert counts(sdb) == before
    # PATCH
    p = create_policy(api, h, "630000", [GOOD_LINE], years=(2011, 2011))
    before = counts(sdb)
    pid = p["id"]
    for status, field, body, extra in (
            (400, "region_code", {"region_code": "630100"}, {}),
            (400, "rules", {"rules": "x"}, {}),
            (422, "rules.lines[0].rate.flat_bp", {"rules": rules_with(rate={"flat_bp": -1})}, {}),
            (422, "valid_to_year", {"valid_to_year": 2010}, {}),
            (412, None, {"name": "新名称"}, {"If-Match": '"999"'}),
            (412, None, {"name": "新名称"}, {"If-Match": "garbage"})):
        r = api.patch(f"{V1}/subsidy-policies/{pid}", json=body, headers={**h, **extra})
        b = assert_problem(r, status)
        if field:
            assert field in error_fields(b), (field, b)
    assert_problem(api.patch(f"{V1}/subsidy-policies/999999999", json={"name": "x"}, headers=h), 404)
    assert_problem(api.patch(f"{V1}/subsidy-policies/abc", json={"name": "x"}, headers=h), 404)
    assert_problem(api.get(f"{V1}/subsidy-policies/abc", headers=h), 404)
    assert_problem(api.get(f"{V1}/subsidy-policies?year=abc", headers=h), 400)
    assert_problem(api.get(f"{V1}/subsidy-policies?limit=0", headers=h), 400)
    assert counts(sdb) == before
    # a good PATCH with the right ETag works and bumps the version
    r = api.get(f"{V1}/subsidy-policies/{pid}", headers=h)
    etag = r.headers["ETag"]
    r = api.patch(f"{V1}/subsidy-policies/{pid}", json={"name": "改名后的政策"}, headers={**h, "If-Match": etag})
    assert r.status == 200 and r.body["name"] == "改名后的政策" and r.body["version"] == p["version"] + 1


def test_bad_run_requests(api, actors, sdb, qinghai):
    h = actors["qh"]["h"]
    p = create_policy(api, h, "630202", [GOOD_LINE], years=(2012, 2013))
    before = counts(sdb)
    cases = [
        (400, None, {"data": b'{"year": 20', "headers": {**h, "Content-Type": "application/json"}}),
        (400, None, {"data": b'2015', "headers": {**h, "Content-Type": "application/json"}}),
        (400, "bogus", {"json": {"year": 2012, "bogus": 1}}),
        (400, "year", {"json": {"year": "2012"}}),
        (400, "policy_ids", {"json": {"year": 2012, "policy_ids": "1"}}),
        (400, "policy_ids[0]", {"json": {"year": 2012, "policy_ids": ["x"]}}),
        (400, "region", {"json": {"year": 2012, "region": 630202}}),
        (422, "year", {"json": {}}),
        (422, "year", {"json": {"year": 1999}}),
        (422, "region", {"json": {"year": 2012, "region": "6302"}}),
        (422, "region", {"json": {"year": 2012, "region": "639999"}}),
        (404, "policy_ids[0]", {"json": {"year": 2012, "policy_ids": [999999999]}}),
        (422, "policy_ids[1]", {"json": {"year": 2012, "policy_ids": [p["id"], p["id"]]}}),
        (422, "policy_ids", {"json": {"year": 2012, "policy_ids": []}}),
        (422, "year", {"json": {"year": 2015, "policy_ids": [p["id"]]}}),            # outside 2012-2013
        (422, "region", {"json": {"year": 2012, "policy_ids": [p["id"]], "region": "630100"}}),  # no overlap
        (422, "year", {"json": {"year": 2012, "policy_ids": [p["id"]]}}),            # no data in 2012
    ]
    for status, field, kw in cases:
        kw.setdefault("headers", h)
        r = api.post(f"{V1}/subsidy-runs", **kw)
        body = assert_problem(r, status)
        if field:
            assert field in error_fields(body), (field, body)
    assert counts(sdb) == before
    assert_problem(api.get(f"{V1}/subsidy-runs/abc", headers=h), 404)
    assert_problem(api.get(f"{V1}/subsidy-runs/999999999", headers=h), 404)
    assert_problem(api.get(f"{V1}/subsidy-runs?year=20x5", headers=h), 400)
    assert_problem(api.get(f"{V1}/subsidy-runs?policy_id=x", headers=h), 400)
    assert_problem(api.get(f"{V1}/subsidy-runs?cursor=forged", headers=h), 400)
