"""The estimated tax relief that follows registration (GET /tax-relief), by the rules.

Every figure was worked out by hand (in fen; 1 yuan = 100 fen) from the rules as the
migrations seed them (0002, 0017) and migrations/functions/subsidies.sql states them:

  VAT (财税〔2016〕36号附件3 一（二十六）): transfer, licence and development contracts are
      exempt, and consulting / service contracts that name a registered one of those between
      the same parties; the base is the TECHNICAL amount (no equipment or materials); 6 %.
  CIT (企业所得税法实施条例第九十条, 财税〔2010〕111号, 财税〔2015〕116号): the technical amount of
      transfers — and licences of at least 5 years — of patents, software copyright, IC
      layouts, plant varieties, new biomedicine varieties; not know-how, not a patent
      application; not between 100 % related parties; not for natural persons.  Up to
      5,000,000 yuan a year exempt, the rest halved; 25 %.

Each rule is a row: the last test changes rows and sees the estimate change.
"""

import pytest

from subsidy_fixtures import *  # noqa: F401,F403

pytestmark = pytest.mark.usefixtures("server")

R = "630121"
AT = "2013-04-01 10:00+08"
T = ("transfer", "patent_transfer")
KT = ("transfer", "know_how_transfer")
D = ("development", "commissioned_development")
PL = ("licence", "patent_licence")


@pytest.fixture(scope="module")
def taxes(sdb):
    db = sdb
    x = {k: new_org(db, R) for k in ("X1", "X2", "X3", "X4", "X6")}
    x["X5"] = new_org(db, R, org_type="400")
    buyer = new_org(db, R)
    c = {}
    # X1: a patent transfer of 3,500,000 yuan of which 500,000 yuan is equipment (technical 3,000,000 yuan),
    #     a development contract, a consulting contract that serves the transfer (related), a service
    #     contract that serves nothing (not related), and a consulting contract whose transfer was cancelled
    c["a"] = contract(db, x["X1"], buyer, *T, 350000000, 300000000, at=AT, ip_type="patent")
    c["b"] = contract(db, x["X1"], buyer, *D, 100000000, at=AT)
    c["c"] = contract(db, x["X1"], buyer, "consulting", "technical_consulting", 20000000, at=AT, related_contract=c["a"])
    c["d"] = contract(db, x["X1"], buyer, "service", "technical_service", 30000000, at=AT)
    c["f"] = contract(db, x["X1"], buyer, *T, 40000000, at=AT)
    cancel(db, c["f"])
    c["e"] = contract(db, x["X1"], buyer, "consulting", "technical_consulting", 5000000, at=AT, related_contract=c["f"])
    # X2: a know-how transfer (技术秘密转让) of 10,000,000 yuan, nothing else
    c["k"] = contract(db, x["X2"], buyer, *KT, 1000000000, at=AT, ip_type="know_how")
    # X3: a patent transfer between 100 % related parties, and one between parties related at less than 100 %
    c["w"] = contract(db, x["X3"], buyer, *T, 200000000, at=AT, related_party="wholly_related")
    c["r"] = contract(db, x["X3"], buyer, *T, 100000000, at=AT, related_party="related")
    # X4: licences and "other" transfers, decided by term and by the IP named on the contract
    c["l6"] = contract(db, x["X4"], buyer, *PL, 100000000, at=AT, effective_on="2013-04-01", end_on="2019-04-01")
    c["l3"] = contract(db, x["X4"], buyer, *PL, 50000000, at=AT, effective_on="2013-04-01", end_on="2016-04-01")
    c["kl"] = contract(db, x["X4"], buyer, "licence", "know_how_licence", 40000000, at=AT,
                       effective_on="2013-04-01", end_on="2020-04-01")
    c["ol"] = contract(db, x["X4"], buyer, "licence", "other_licence", 60000000, at=AT, ip_type="software_copyright",
                       effective_on="2013-04-01", end_on="2018-04-01")
    c["on"] = contract(db, x["X4"], buyer, "transfer", "other_transfer", 10000000, at=AT, ip_type="none")
    c["ob"] = contract(db, x["X4"], buyer, "transfer", "other_transfer", 800000000, at=AT, ip_type="biomedical_variety")
    c["pa"] = contract(db, x["X4"], buyer, "transfer", "patent_application_transfer", 7000000, at=AT, ip_type="patent")
    # not counted: another year, a cancelled registration
    contract(db, x["X4"], buyer, *T, 999000000, at="2014-01-01 00:30+08")
    cancel(db, contract(db, x["X4"], buyer, *T, 777000000, at=AT))
    # X5, a natural person: VAT only
    c["p"] = contract(db, x["X5"], buyer, *T, 10000000, at=AT)
    # X6: development 10,000,025 → VAT 600,001.5 → 600,002 (half up)
    c["h"] = contract(db, x["X6"], buyer, *D, 10000025, at=AT)
    return x, c


def relief(api, h, year=2013, region=None):
    r = api.get(f"{V1}/tax-relief?year={year}" + (f"&region={region}" if region else ""), headers=h)
    assert r.status == 200, r
    return r.body


def by_seller(body):
    return {i["seller"]["org_id"]: i for i in body["items"]}


def reasons(item):
    return {d["contract_id"]: (d["vat_reason"], d["vat_base_fen"], d["cit_reason"], d["cit_income_fen"])
            for d in item["details"]}


@pytest.fixture(scope="module")
def bureau(users):
    u = users.create(role="bureau", region=R)
    return users.auth(u)


def test_patent_transfer_has_relief_and_vat_base_is_without_equipment(api, taxes, bureau):
    x, c = taxes
    i1 = by_seller(relief(api, bureau))[x["X1"]["id"]]
    assert reasons(i1) == {
        c["a"]: ("exempt_type", 300000000, "qualifying", 300000000),      # technical amount, not 350,000,000
        c["b"]: ("exempt_type", 100000000, "not_transfer_type", 0),
        c["c"]: ("related_to_exempt_contract", 20000000, "not_transfer_type", 0),
        c["d"]: ("not_related", 0, "not_transfer_type", 0),
        c["e"]: ("not_related", 0, "not_transfer_type", 0),             # its transfer is cancelled
    }
    # VAT: (300,000,000 + 100,000,000 + 20,000,000) × 6 % = 25,200,000; the 50,000,000 of equipment is
    # not exempt.  CIT: 300,000,000, all within 5,000,000 yuan: × 25 % = 75,000,000.
    assert (i1["vat_exempt_amount_fen"], i1["vat_non_technical_fen"], i1["vat_saved_fen"]) == \
        (420000000, 50000000, 25200000)
    assert (i1["vat_exempt_contracts"], i1["vat_related_contracts"], i1["vat_unrelated_service_amount_fen"]) == \
        (3, 1, 35000000)
    assert (i1["cit_transfer_income_fen"], i1["cit_exempt_part_fen"], i1["cit_halved_part_fen"], i1["cit_relief_fen"]) == \
        (300000000, 300000000, 0, 75000000)
    assert i1["cit_transfer_contracts"] == 1 and i1["contracts"] == 5
    assert i1["total_relief_fen"] == 100200000


def test_know_how_transfer_has_no_income_tax_relief(api, taxes, bureau):
    x, c = taxes
    i2 = by_seller(relief(api, bureau))[x["X2"]["id"]]
    # VAT yes (10,000,000 yuan × 6 % = 600,000 yuan); income tax no: 技术秘密 is not among the technologies
    # of 财税〔2010〕111号 (before the rule: 500万 × 25 % + 500万 × 12.5 % = 1,875,000 yuan)
    assert reasons(i2) == {c["k"]: ("exempt_type", 1000000000, "ip_not_qualifying", 0)}
    assert (i2["vat_saved_fen"], i2["cit_transfer_income_fen"], i2["cit_relief_fen"]) == (60000000, 0, 0)
    assert i2["total_relief_fen"] == 60000000


def test_wholly_related_transfer_has_no_income_tax_relief(api, taxes, bureau):
    x, c = taxes
    i3 = by_seller(relief(api, bureau))[x["X3"]["id"]]
    # 100 % related: excluded (财税〔2010〕111号 四); related at less than 100 %: qualifies
    assert reasons(i3) == {c["w"]: ("exempt_type", 200000000, "wholly_related_party", 0),
                           c["r"]: ("exempt_type", 100000000, "qualifying", 100000000)}
    assert (i3["vat_saved_fen"], i3["cit_transfer_income_fen"], i3["cit_relief_fen"]) == (18000000, 100000000, 25000000)


def test_licences_and_other_transfers(api, taxes, bureau):
    x, c = taxes
    i4 = by_seller(relief(api, bureau))[x["X4"]["id"]]
    assert {k: v[2] for k, v in reasons(i4).items()} == {
        c["l6"]: "qualifying", c["l3"]: "licence_too_short", c["kl"]: "ip_not_qualifying",
        c["ol"]: "qualifying",           # "other" licence: decided by the IP named, software copyright
        c["on"]: "ip_not_qualifying",    # "other" transfer of no IP
        c["ob"]: "qualifying",           # "other" transfer of a new biomedicine variety
        c["pa"]: "ip_not_qualifying",    # a patent APPLICATION right is not a patent
    }
    # CIT income 100,000,000 + 60,000,000 + 800,000,000 = 960,000,000: 500,000,000 × 25 % = 125,000,000
    # + 460,000,000 × 12.5 % = 57,500,000 → 182,500,000.
    # VAT: every contract is a transfer or licence: 1,067,000,000 × 6 % = 64,020,000
    assert (i4["cit_transfer_income_fen"], i4["cit_exempt_part_fen"], i4["cit_halved_part_fen"], i4["cit_relief_fen"]) == \
        (960000000, 500000000, 460000000, 182500000)
    assert (i4["vat_exempt_amount_fen"], i4["vat_saved_fen"]) == (1067000000, 64020000)
    assert i4["contracts"] == 7 and i4["cit_transfer_contracts"] == 3


def test_natural_person_rounding_and_totals(api, actors, taxes, bureau):
    x, c = taxes
    t = relief(api, bureau)
    assert t["region_code"] == R and t["year"] == 2013
    items = by_seller(t)
    assert set(items) == {o["id"] for o in x.values()}
    i5 = items[x["X5"]["id"]]
    assert reasons(i5) == {c["p"]: ("exempt_type", 10000000, "seller_not_cit_payer", 0)}
    assert (i5["vat_saved_fen"], i5["cit_relief_fen"]) == (600000, 0)
    assert items[x["X6"]["id"]]["vat_saved_fen"] == 600002
    assert t["totals"]["total_relief_fen"] == 100200000 + 60000000 + 43000000 + 246520000 + 600000 + 600002
    assert t["totals"]["sellers"] == 6
    # the bureau above sees the same sellers; another province's bureau may not ask
    assert relief(api, actors["qh"]["h"], region=R)["items"] == t["items"]
    assert_problem(api.get(f"{V1}/tax-relief?year=2013&region={R}", headers=actors["gs"]["h"]), 403)
    assert_problem(api.get(f"{V1}/tax-relief?year=2013&region=000000", headers=bureau), 403)
    r = relief(api, bureau, year=2001)
    assert r["items"] == [] and r["totals"]["total_relief_fen"] == 0
    assert_problem(api.get(f"{V1}/tax-relief?year=abc", headers=bureau), 400)
    assert_problem(api.get(f"{V1}/tax-relief?year=1999", headers=bureau), 400)
    assert_problem(api.get(f"{V1}/tax-relief?region=63", headers=bureau), 400)
    assert "region" in error_fields(assert_problem(
        api.get(f"{V1}/tax-relief?region=639999", headers=actors["admin"]["h"]), 422))


def test_the_answer_states_its_assumptions_with_sources(api, taxes, bureau):
    a = relief(api, bureau)["assumptions"]
    assert (a["vat_rate_bp"], a["cit_rate_bp"], a["cit_exempt_threshold_fen"]) == (600, 2500, 500000000)
    assert a["vat_base"] == "technical_amount"
    assert a["vat_exempt_types"] == ["development", "transfer", "licence"]
    assert a["vat_exempt_if_related_types"] == ["consulting", "service"]
    assert a["cit_income_types"] == ["transfer", "licence"]
    assert a["cit_qualifying_ip_types"] == ["patent", "software_copyright", "ic_layout", "plant_variety",
                                            "biomedical_variety"]
    assert a["cit_qualifying_subtypes"]["know_how_transfer"] is False
    assert a["cit_qualifying_subtypes"]["patent_transfer"] is True
    assert a["cit_excluded_related_party"] == ["wholly_related"]
    codes = {s["code"]: s for s in a["statements"]}
    assert set(codes) == {"vat_exempt", "vat_base", "cit_scope", "cit_income", "cit_related_party", "cit_relief"}
    assert "国税函〔2009〕212号" in codes["cit_income"]["source"]
    assert "财税〔2016〕36号" in codes["vat_exempt"]["source"] and "财税〔2016〕36号" in codes["vat_base"]["source"]
    assert "财税〔2010〕111号" in codes["cit_scope"]["source"] and "财税〔2015〕116号" in codes["cit_scope"]["source"]
    assert "111号 四" in codes["cit_related_party"]["source"] and "实施条例第九十条" in codes["cit_relief"]["source"]
    assert all(s["text"] for s in a["statements"])


def test_each_rule_is_data(api, sdb, taxes, bureau):
    """Change the rows, and the estimate follows: no rule is in the code."""
    x, c = taxes

    def item(k):
        return by_seller(relief(api, bureau))[x[k]["id"]]

    try:
        # know-how declared qualifying → X2's income counts: 500万 × 25 % + 500万 × 12.5 % = 1,875,000 yuan
        query(sdb, "UPDATE codes SET extra = extra || '{\"cit_qualifying\": true}' WHERE list = 'contract_types'"
                   " AND code = 'know_how_transfer' RETURNING code")
        assert item("X2")["cit_relief_fen"] == 187500000
        # the 100 % related exclusion lifted → X3's first transfer counts too: 300,000,000 × 25 %
        query(sdb, "UPDATE codes SET extra = extra - 'cit_excluded' WHERE list = 'related_party_kinds'"
                   " AND code = 'wholly_related' RETURNING code")
        assert item("X3")["cit_relief_fen"] == 75000000
        # the VAT base set to the contract amount → X1's equipment counts: 470,000,000 × 6 %
        query(sdb, "UPDATE settings SET value = '\"contract_amount\"' WHERE key = 'tax_vat_base' RETURNING key")
        assert item("X1")["vat_saved_fen"] == 28200000
    finally:
        query(sdb, "UPDATE codes SET extra = extra - 'cit_qualifying' || '{\"cit_qualifying\": false}'"
                   " WHERE list = 'contract_types' AND code = 'know_how_transfer' RETURNING code")
        query(sdb, "UPDATE codes SET extra = extra || '{\"cit_excluded\": true}' WHERE list = 'related_party_kinds'"
                   " AND code = 'wholly_related' RETURNING code")
        query(sdb, "UPDATE settings SET value = '\"technical_amount\"' WHERE key = 'tax_vat_base' RETURNING key")
    assert item("X2")["cit_relief_fen"] == 0 and item("X3")["cit_relief_fen"] == 25000000
    assert item("X1")["vat_saved_fen"] == 25200000
