"""Technology contracts and their registration (技术合同认定登记): the whole workflow per contract
type, every refused transition (checked against the database: a refusal changes nothing),
return → fix → resubmit, the officer's queue with its integrity flags, the review deadline
(15 / 30 working days), amendment (变更) and cancellation (注销), amounts received."""

import datetime
import json
import uuid

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (TYPES, V1, assert_problem, assert_unchanged, audit_rows, certificate,
                               contract_body, contract_row, counter, create_contract, error_fields, iso, make_actor,
                               new_office, new_org, query, reg_no_re, register, registered_contract, state, submit,
                               submitted_contract, today, uniq, verify)

SCAN = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def problem(r, status, field=None):
    body = assert_problem(r, status)
    if field is not None:
        assert field in error_fields(body), f"expected errors[].field {field!r}: {body}"
    return body


def sql1(db, sql, *args):
    return query(db, sql, *args)[0]


def label(db, lst, code):
    return sql1(db, "SELECT label FROM codes WHERE list = %s AND code = %s", lst, code)["label"]


def add_wd(db, n):
    return sql1(db, "SELECT add_working_days(today_cn(), %s) AS d", n)["d"]


def queue(api, officer, limit=100):
    r = api.get(f"{V1}/registry/queue?limit={limit}", headers=officer["h"])
    assert r.status == 200, r
    return r.body["items"]


# ====================================================================== 1. the whole workflow

@pytest.mark.parametrize("ctype,subtype", TYPES)
def test_whole_workflow_per_contract_type(api, cdb, cworld, ctype, subtype):
    w = cworld
    t = today(cdb)
    body = contract_body(cdb, w.seller, w.buyer, ctype, subtype)
    rid = "ct-" + uuid.uuid4().hex[:16]
    r = api.post(f"{V1}/contracts", json=body, headers={**w.m_seller["h"], "X-Request-Id": rid})
    assert r.status == 201, r
    c = r.body
    cid = c["id"]
    assert r.headers.get("ETag") == f'"{c["version"]}"'
    assert c["status"] == "draft" and c["registration_no"] is None and c["office_id"] is None
    assert c["contract_type"] == ctype and c["contract_subtype"] == subtype
    assert c["contract_type_label"] == label(cdb, "contract_types", ctype)
    assert c["contract_subtype_label"] == label(cdb, "contract_types", subtype)
    # the parties are copied from their orgs
    assert c["seller"] == {"org_id": w.seller["id"], "name": w.seller["name"], "org_type": "022",
                           "region_code": w.office["region_code"], "credit_code": w.seller["credit_code"]}
    assert c["buyer"]["name"] == w.buyer["name"] and c["buyer"]["credit_code"] == w.buyer["credit_code"]
    assert c["contract_amount_fen"] == body["contract_amount_fen"]
    assert c["technical_amount_fen"] == body["technical_amount_fen"]
    assert c["non_technical_items"] == body["non_technical_items"]
    assert c["payment_schedule"] == body["payment_schedule"]
    row = contract_row(cdb, cid)
    assert row["status"] == "draft" and row["created_by"] == w.m_seller["id"]
    assert row["seller_org_id"] == w.seller["id"] and row["seller_credit_code"] == w.seller["credit_code"]
    assert row["contract_amount_fen"] == body["contract_amount_fen"] and row["office_id"] is None

    # an officer does not see drafts; the buyer (a party) does
    problem(api.get(f"{V1}/contracts/{cid}", headers=w.officer["h"]), 404)
    rb = api.get(f"{V1}/contracts/{cid}", headers=w.m_buyer["h"])
    assert rb.status == 200 and rb.body["id"] == cid and "flags" not in rb.body

    # submit: routed to the office of the seller's county, due in 15 working days
    r = api.post(f"{V1}/contracts/{cid}/submit", headers=w.m_seller["h"])
    assert r.status == 200, r
    s = r.body
    assert s["status"] == "submitted" and s["office_id"] == w.office["id"]
    assert s["applicant_org_id"] == w.seller["id"]
    assert s["due_on"] == iso(add_wd(cdb, 15)) and s["overdue"] is False
    row = contract_row(cdb, cid)
    assert row["status"] == "submitted" and row["office_id"] == w.office["id"] and row["submitted_at"] is not None
    assert row["due_on"] == add_wd(cdb, 15) and row["applicant_org_id"] == w.seller["id"]

    # the officer of that office sees it in the queue (with flags and the days left), the other office does not
    items = {i["id"]: i for i in queue(api, w.officer)}
    assert cid in items, "submitted contract missing from its office's queue"
    q = items[cid]
    assert isinstance(q["flags"], list) and q["working_days_left"] == 15 and q["status"] == "submitted"
    for f in q["flags"]:
        assert {"code", "label", "detail"} <= set(f), f
    assert cid not in {i["id"] for i in queue(api, w.officer2)}
    ro = api.get(f"{V1}/contracts/{cid}", headers=w.officer["h"])
    assert ro.status == 200 and isinstance(ro.body["flags"], list)

    # the seller attaches the signed scan while the application is under review
    r = api.post(f"{V1}/contracts/{cid}/attachments?filename=scan.pdf", data=SCAN,
                 headers={**w.m_seller["h"], "Content-Type": "application/pdf"})
    assert r.status == 201, r

    # register (with the scan, no override needed)
    before_counter = dict(counter(cdb, w.office["id"]))
    r = api.post(f"{V1}/contracts/{cid}/register", json={"note": "材料齐全，予以登记"}, headers=w.officer["h"])
    assert r.status == 200, r
    reg = r.body
    no = reg["registration_no"]
    m = reg_no_re(t.year, w.office["region_code"]).match(no or "")
    assert m, f"registration number {no!r} is not YYYY + office region + 6 digits"
    serial = int(m.group(1))
    assert reg["status"] == "registered" and reg["registered_at"]
    row = contract_row(cdb, cid)
    assert row["status"] == "registered" and row["registration_no"] == no
    assert row["registration_year"] == t.year and row["registration_serial"] == serial
    assert row["registered_by"] == w.officer["id"]
    assert dict(counter(cdb, w.office["id"]))[t.year] == before_counter.get(t.year, 0) + 1 == serial

    # the certificate verifies
    rc = certificate(api, w.m_seller["h"], cid)
    assert rc.status == 200, rc
    cert = rc.body
    assert set(cert) == {"payload", "algorithm", "key_id", "signature"}
    assert cert["algorithm"] == "Ed25519" and cert["key_id"] == w.key_id
    p = cert["payload"]
    assert p["registration_no"] == no and p["title"] == body["title"]
    assert p["contract_type"] == ctype and p["contract_subtype"] == subtype
    assert p["contract_type_label"] == label(cdb, "contract_types", ctype)
    roles = sql1(cdb, "SELECT extra->'party_roles' AS r FROM codes WHERE list = 'contract_types' AND code = %s", ctype)["r"]
    assert p["seller"] == {"name": w.seller["name"], "credit_code": w.seller["credit_code"], "role": roles["seller"]}
    assert p["buyer"] == {"name": w.buyer["name"], "credit_code": w.buyer["credit_code"], "role": roles["buyer"]}
    assert p["registration_note"] == "材料齐全，予以登记" == reg["registration_note"]
    assert p["contract_amount_fen"] == body["contract_amount_fen"]
    assert p["technical_amount_fen"] == body["technical_amount_fen"]
    assert p["office"] == {"id": w.office["id"], "name": w.office["name"], "region_code": w.office["region_code"]}
    assert p["registered_on"] == iso(t) and p["amendments"] == 0
    # deterministic: the same registration yields the same bytes
    assert certificate(api, w.officer["h"], cid).content == rc.content
    v = verify(api, cert)
    assert v == {"valid": True, "reason": v["reason"], "registration_status": "registered"}, v
    assert "current" in v["reason"]

    # public facts, without a token
    r = api.get(f"{V1}/certificates/{no}")
    assert r.status == 200, r
    f = r.body
    assert f["registration_no"] == no and f["status"] == "registered" and f["title"] == body["title"]
    assert f["seller_name"] == w.seller["name"] and f["buyer_name"] == w.buyer["name"]
    assert f["contract_amount_fen"] == body["contract_amount_fen"]
    assert f["technical_amount_fen"] == body["technical_amount_fen"]
    assert f["contract_type"] == ctype and f["contract_subtype"] == subtype
    assert f["office"]["id"] == w.office["id"] and f["registered_on"] == iso(t) and f["cancelled_at"] is None

    # the audit trail: who did what, in order
    a = audit_rows(cdb, cid)
    assert [(x["action"], x["actor_user_id"], x["actor_role"]) for x in a] == [
        ("create", w.m_seller["id"], "member"),
        ("submit", w.m_seller["id"], "member"),
        ("attach", w.m_seller["id"], "member"),
        ("register", w.officer["id"], "officer"),
    ], a
    assert a[0]["request_id"] == rid and a[0]["before"] is None and a[0]["after"]["status"] == "draft"
    assert a[1]["before"]["status"] == "draft" and a[1]["after"]["status"] == "submitted"
    assert a[3]["before"]["status"] == "submitted" and a[3]["after"]["registration_no"] == no


def test_officer_reclassifies_and_fixes_the_technical_amount(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, amount=20_000_000, technical=18_000_000)
    cid = c["id"]
    # a technical amount that no longer adds up with the items → 422, nothing changes
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/register", json={"technical_amount_fen": 15_000_000},
                     headers=w.officer["h"]), 422, "non_technical_items")
    problem(api.post(f"{V1}/contracts/{cid}/register", json={"contract_type": "service",
                                                             "contract_subtype": "patent_licence"},
                     headers=w.officer["h"]), 422, "contract_subtype")
    problem(api.post(f"{V1}/contracts/{cid}/register", json={"technical_amount_fen": -1},
                     headers=w.officer["h"]), 422, "technical_amount_fen")
    assert_unchanged(cdb, cid, before)
    # the officer's classification and amounts are what is registered
    items = [{"item": "仪器设备", "amount_fen": 3_000_000}, {"item": "原材料", "amount_fen": 2_000_000}]
    reg = register(api, w.officer["h"], cid, {"contract_type": "service", "contract_subtype": "technical_training",
                                              "technical_amount_fen": 15_000_000, "non_technical_items": items,
                                              "note": "技术交易额核定"})
    assert (reg["contract_type"], reg["contract_subtype"], reg["technical_amount_fen"]) == \
        ("service", "technical_training", 15_000_000)
    row = contract_row(cdb, cid)
    assert (row["contract_type"], row["contract_subtype"], row["technical_amount_fen"], row["contract_amount_fen"]) \
        == ("service", "technical_training", 15_000_000, 20_000_000)
    assert row["non_technical_items"] == items
    cert = certificate(api, w.m_seller["h"], cid)
    assert cert.status == 200, cert
    assert cert.body["payload"]["technical_amount_fen"] == 15_000_000
    assert cert.body["payload"]["contract_subtype"] == "technical_training"


def test_technology_import_is_applied_for_by_the_domestic_buyer(api, cdb, cworld):
    w = cworld
    foreign = {"name": "Foreign Technology GmbH " + uniq(), "org_type": "300", "region_code": None,
               "credit_code": None}
    body = contract_body(cdb, foreign, w.buyer, "licence", "know_how_licence", is_import=True, ip_type="know_how")
    c = create_contract(api, w.m_buyer["h"], body)
    assert c["is_import"] is True and c["seller"]["org_id"] is None and c["seller"]["region_code"] is None
    s = submit(api, w.m_buyer["h"], c["id"])
    assert s["applicant_org_id"] == w.buyer["id"] and s["office_id"] == w.office["id"]
    reg = register(api, w.officer["h"], c["id"])
    assert reg["registration_no"].startswith(str(today(cdb).year) + w.office["region_code"])


def test_import_cannot_be_submitted_by_anyone_but_the_buyer(api, cdb, cworld):
    w = cworld
    # the seller is a party here but the contract is an import: the buyer applies
    body = contract_body(cdb, w.seller, w.buyer, is_import=True)
    c = create_contract(api, w.m_seller["h"], body)
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_seller["h"]), 403)
    assert_unchanged(cdb, c["id"], before)


# ====================================================================== 2. refused transitions

def test_registering_twice_is_409_and_changes_nothing(api, cdb, cworld):
    w = cworld
    c = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer)
    cid = c["id"]
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/register", json={}, headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/register", headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "other"}, headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/return", json={"reason": "补正"}, headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/submit", headers=w.m_seller["h"]), 409)
    assert_unchanged(cdb, cid, before)
    assert contract_row(cdb, cid)["registration_no"] == c["registration_no"]


def test_buyer_cannot_submit(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_buyer["h"]), 403)
    assert_unchanged(cdb, c["id"], before)
    # a contract the buyer drafted is still submitted by the seller
    c2 = create_contract(api, w.m_buyer["h"], contract_body(cdb, w.seller, w.buyer))
    problem(api.post(f"{V1}/contracts/{c2['id']}/submit", headers=w.m_buyer["h"]), 403)
    assert submit(api, w.m_seller["h"], c2["id"])["applicant_org_id"] == w.seller["id"]


def test_officer_of_another_office_gets_404(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    cid = c["id"]
    before = state(cdb, cid)
    h2 = w.officer2["h"]
    problem(api.get(f"{V1}/contracts/{cid}", headers=h2), 404)
    problem(api.post(f"{V1}/contracts/{cid}/register", json={}, headers=h2), 404)
    problem(api.post(f"{V1}/contracts/{cid}/return", json={"reason": "补正"}, headers=h2), 404)
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "other"}, headers=h2), 404)
    problem(api.get(f"{V1}/contracts/{cid}/payments", headers=h2), 404)
    assert cid not in {i["id"] for i in api.get(f"{V1}/contracts?limit=100", headers=h2).body["items"]}
    assert_unchanged(cdb, cid, before)
    # and after registration, its certificate and amendments are not theirs either
    register(api, w.officer["h"], cid)
    before = state(cdb, cid)
    problem(api.get(f"{V1}/contracts/{cid}/certificate", headers=h2), 404)
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 100, "received_on": iso(today(cdb))},
                     headers=h2), 404)
    assert_unchanged(cdb, cid, before)


THIRD_ON_DRAFT = {
    "get": lambda api, cid, h, t: api.get(f"{V1}/contracts/{cid}", headers=h),
    "patch": lambda api, cid, h, t: api.patch(f"{V1}/contracts/{cid}", json={"title": "抢注"}, headers=h),
    "delete": lambda api, cid, h, t: api.delete(f"{V1}/contracts/{cid}", headers=h),
    "submit": lambda api, cid, h, t: api.post(f"{V1}/contracts/{cid}/submit", headers=h),
    "payments_list": lambda api, cid, h, t: api.get(f"{V1}/contracts/{cid}/payments", headers=h),
}
THIRD_ON_REGISTERED = {
    "get": THIRD_ON_DRAFT["get"],
    "certificate": lambda api, cid, h, t: api.get(f"{V1}/contracts/{cid}/certificate", headers=h),
    "payments_list": THIRD_ON_DRAFT["payments_list"],
    "payment_add": lambda api, cid, h, t: api.post(f"{V1}/contracts/{cid}/payments",
                                                   json={"amount_fen": 100, "received_on": t}, headers=h),
    "amend": lambda api, cid, h, t: api.post(f"{V1}/contracts/{cid}/amend",
                                             json={"reason": "x", "changes": {"title": "y"}}, headers=h),
    "cancel": lambda api, cid, h, t: api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "x"}, headers=h),
}


@pytest.mark.parametrize("action", sorted(THIRD_ON_DRAFT))
def test_member_of_a_third_org_gets_404_on_a_draft(api, cdb, cworld, action):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    cid = c["id"]
    before = state(cdb, cid)
    problem(THIRD_ON_DRAFT[action](api, cid, w.m_third["h"], iso(today(cdb))), 404)
    assert_unchanged(cdb, cid, before)


@pytest.mark.parametrize("action", sorted(THIRD_ON_REGISTERED))
def test_member_of_a_third_org_gets_404_on_a_registration(api, cdb, cworld, action):
    w = cworld
    c = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer)
    cid = c["id"]
    before = state(cdb, cid)
    problem(THIRD_ON_REGISTERED[action](api, cid, w.m_third["h"], iso(today(cdb))), 404)
    assert_unchanged(cdb, cid, before)


def test_member_of_a_third_org_neither_lists_nor_drafts_for_others(api, cdb, cworld):
    w = cworld
    h3 = w.m_third["h"]
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    cid = c["id"]
    assert cid not in {i["id"] for i in api.get(f"{V1}/contracts?limit=100", headers=h3).body["items"]}
    # the parties list it
    for m in (w.m_seller, w.m_buyer):
        assert cid in {i["id"] for i in api.get(f"{V1}/contracts?limit=100", headers=m["h"]).body["items"]}
    # they cannot draft a contract between two other orgs
    body = contract_body(cdb, w.seller, w.buyer)
    problem(api.post(f"{V1}/contracts", json=body, headers=h3), 403, "seller.org_id")
    assert not query(cdb, "SELECT 1 FROM contracts WHERE title = %s", body["title"])
    # nor make themselves a party of someone else's draft
    before = state(cdb, cid)
    problem(api.patch(f"{V1}/contracts/{cid}", json={"buyer": {"org_id": w.third["id"]}}, headers=h3), 404)
    assert_unchanged(cdb, cid, before)


def test_submit_of_an_unverified_org_is_422(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_unverified["h"], contract_body(cdb, w.unverified, w.buyer))
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_unverified["h"]), 422, "seller.org_id")
    assert_unchanged(cdb, c["id"], before)


def test_submit_before_effective_or_after_end_is_422(api, cdb, cworld):
    w = cworld
    t = today(cdb)
    early = create_contract(api, w.m_seller["h"], contract_body(
        cdb, w.seller, w.buyer, signed_on=iso(t - datetime.timedelta(days=1)),
        effective_on=iso(t + datetime.timedelta(days=3))))
    late = create_contract(api, w.m_seller["h"], contract_body(
        cdb, w.seller, w.buyer, signed_on=iso(t - datetime.timedelta(days=100)),
        effective_on=iso(t - datetime.timedelta(days=90)), end_on=iso(t - datetime.timedelta(days=1))))
    for c, field in ((early, "effective_on"), (late, "end_on")):
        before = state(cdb, c["id"])
        problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_seller["h"]), 422, field)
        assert_unchanged(cdb, c["id"], before)
    # the edges: effective today and ending today are fine
    ok = create_contract(api, w.m_seller["h"], contract_body(
        cdb, w.seller, w.buyer, signed_on=iso(t), effective_on=iso(t), end_on=iso(t)))
    submit(api, w.m_seller["h"], ok["id"])


def test_incomplete_draft_cannot_be_submitted(api, cdb, cworld):
    w = cworld
    body = {"title": "草稿 " + uniq(), "seller": {"org_id": w.seller["id"]}, "buyer": {"org_id": w.buyer["id"]}}
    c = create_contract(api, w.m_seller["h"], body)
    assert c["contract_amount_fen"] == 0 and c["non_technical_items"] == []
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_seller["h"]), 422, "contract_type")
    assert_unchanged(cdb, c["id"], before)
    full = contract_body(cdb, w.seller, w.buyer, domain=None)
    c2 = create_contract(api, w.m_seller["h"], full)
    problem(api.post(f"{V1}/contracts/{c2['id']}/submit", headers=w.m_seller["h"]), 422, "domain")


def _create_refused(api, cdb, w, status, field, /, **over):
    body = contract_body(cdb, w.seller, w.buyer, **over)
    r = api.post(f"{V1}/contracts", json=body, headers=w.m_seller["h"])
    problem(r, status, field)
    assert not query(cdb, "SELECT 1 FROM contracts WHERE title = %s", body["title"]), "a refused create left a row"
    assert not query(cdb, "SELECT 1 FROM audit_log WHERE entity = 'contract' AND after->>'title' = %s",
                     body["title"]), "a refused create was audited"


@pytest.mark.parametrize("over,field", [
    # amounts that do not add up: contract ≠ technical + items
    ({"contract_amount_fen": 10_000_000, "technical_amount_fen": 9_000_000,
      "non_technical_items": [{"item": "设备", "amount_fen": 500_000}]}, "non_technical_items"),
    ({"contract_amount_fen": 10_000_000, "technical_amount_fen": 9_000_000, "non_technical_items": []},
     "non_technical_items"),
    ({"non_technical_items": [{"item": "", "amount_fen": 1}]}, "non_technical_items"),
    ({"non_technical_items": [{"item": "设备", "amount_fen": -5}]}, "non_technical_items"),
    ({"non_technical_items": [{"item": "设备", "amount_fen": 1.5}]}, "non_technical_items"),
    # technical > contract
    ({"contract_amount_fen": 10_000_000, "technical_amount_fen": 10_000_001, "non_technical_items": []},
     "technical_amount_fen"),
    ({"contract_amount_fen": -1}, "contract_amount_fen"),
    # classification
    ({"contract_type": "development", "contract_subtype": "patent_transfer"}, "contract_subtype"),
    ({"contract_type": "commissioned_development", "contract_subtype": "commissioned_development"}, "contract_type"),
    ({"contract_type": "no_such_type"}, "contract_type"),
    ({"contract_subtype": "no_such_subtype"}, "contract_subtype"),
    # unknown codes
    ({"domain": "alchemy"}, "domain"),
    ({"ip_type": "trademark"}, "ip_type"),
    ({"plan_source": "galactic"}, "plan_source"),
    ({"socio_economic_objective": "world_domination"}, "socio_economic_objective"),
    ({"buyer": {"name": "某公司", "org_type": "999", "region_code": "110108"}}, "buyer.org_type"),
    ({"buyer": {"name": "某公司", "org_type": "150", "region_code": "999999"}}, "buyer.region_code"),
    ({"buyer": {"name": "某公司", "org_type": "150", "region_code": "110108",
                "credit_code": "91110108MA00000000"}}, "buyer.credit_code"),
    ({"buyer": {"org_id": 9_000_000_000}}, "buyer.org_id"),
    # dates
    ({"signed_on": "2024-02-30"}, "signed_on"),
    ({"effective_on": "yesterday"}, "effective_on"),
    ({"signed_on": "2024-03-10", "effective_on": "2024-03-01"}, "effective_on"),
    ({"effective_on": "2024-03-10", "end_on": "2024-03-01", "signed_on": "2024-03-01"}, "end_on"),
    # payment schedule
    ({"payment_schedule": [{"due_on": "2030-01-01", "amount_fen": 0}]}, "payment_schedule"),
    ({"payment_schedule": [{"due_on": "2030-01-01", "amount_fen": 100_000_000_000}]}, "payment_schedule"),
    ({"title": ""}, "title"),
    ({"broker_user_id": 9_000_000_000}, "broker_user_id"),
    ({"related_party": "cousins"}, "related_party"),
    ({"related_contract_id": 9_000_000_000}, "related_contract_id"),
])
def test_invalid_values_are_422_naming_the_field(api, cdb, cworld, over, field):
    _create_refused(api, cdb, cworld, 422, field, **over)


@pytest.mark.parametrize("field,value", [
    ("status", "registered"), ("registration_no", "2025110108000001"), ("office_id", 1), ("id", 1),
    ("applicant_org_id", 1), ("due_on", "2030-01-01"), ("received_amount_fen", 1), ("version", 7),
    ("created_by", 1), ("registered_at", "2025-01-01T00:00:00Z"),
])
def test_mass_assignment_on_create_is_400(api, cdb, cworld, field, value):
    _create_refused(api, cdb, cworld, 400, field, **{field: value})


@pytest.mark.parametrize("over,field", [
    ({"seller": {"org_id": None, "name": "x", "org_type": "150", "region_code": "110108",
                 "verification_status": "verified"}}, "seller.verification_status"),
    ({"buyer": "某公司"}, "buyer"),
    ({"contract_amount_fen": "100"}, "contract_amount_fen"),
    ({"contract_amount_fen": 100.5}, "contract_amount_fen"),
    ({"non_technical_items": {}}, "non_technical_items"),
    ({"is_import": "yes"}, "is_import"),
    ({"fiscal_subsidy": "yes"}, "fiscal_subsidy"),
    ({"related_party": None}, "related_party"),
    ({"related_contract_id": "12"}, "related_contract_id"),
])
def test_mistyped_fields_on_create_are_400(api, cdb, cworld, over, field):
    _create_refused(api, cdb, cworld, 400, field, **over)


def test_mass_assignment_on_update_and_register_is_400(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    cid = c["id"]
    before = state(cdb, cid)
    for field, value in (("status", "registered"), ("registration_no", "2025110108000001"), ("office_id", 1),
                         ("id", cid + 1), ("applicant_org_id", w.seller["id"]), ("version", 99)):
        problem(api.patch(f"{V1}/contracts/{cid}", json={"title": "改名", field: value}, headers=w.m_seller["h"]),
                400, field)
    assert_unchanged(cdb, cid, before)
    submit(api, w.m_seller["h"], cid)
    before = state(cdb, cid)
    for field, value in (("status", "registered"), ("registration_no", "2025110108000001"),
                         ("registration_serial", 1), ("office_id", w.office2["id"]), ("id", 1),
                         ("contract_amount_fen", 1)):
        problem(api.post(f"{V1}/contracts/{cid}/register", json={field: value}, headers=w.officer["h"]), 400, field)
    problem(api.post(f"{V1}/contracts/{cid}/return", json={"reason": "补正", "status": "draft"},
                     headers=w.officer["h"]), 400, "status")
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "other", "office_id": 1},
                     headers=w.officer["h"]), 400, "office_id")
    problem(api.post(f"{V1}/contracts/{cid}/submit", json={"office_id": w.office2["id"]},
                     headers=w.m_seller["h"]), 400, "office_id")
    assert_unchanged(cdb, cid, before)


def test_malformed_json_and_wrong_content_type(api, cdb, cworld):
    w = cworld
    title = "畸形 " + uniq()
    h = {**w.m_seller["h"], "Content-Type": "application/json"}
    problem(api.post(f"{V1}/contracts", data=('{"title": "%s", ' % title).encode(), headers=h), 400)
    problem(api.post(f"{V1}/contracts", data=b'[1, 2]', headers=h), 400)
    problem(api.post(f"{V1}/contracts", data=('{"title": "%s", "title": "b"}' % title).encode(), headers=h), 400)
    body = json.dumps(contract_body(cdb, w.seller, w.buyer, title=title)).encode()
    problem(api.post(f"{V1}/contracts", data=body, headers={**w.m_seller["h"], "Content-Type": "text/plain"}), 415)
    problem(api.post(f"{V1}/contracts", data=body,
                     headers={**w.m_seller["h"], "Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert not query(cdb, "SELECT 1 FROM contracts WHERE title = %s", title)
    # the same on PATCH
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    before = state(cdb, c["id"])
    problem(api.patch(f"{V1}/contracts/{c['id']}", data=b'{"title": ', headers=h), 400)
    problem(api.patch(f"{V1}/contracts/{c['id']}", data=b'{"title": "x"}',
                      headers={**w.m_seller["h"], "Content-Type": "text/plain"}), 415)
    problem(api.patch(f"{V1}/contracts/{c['id']}", headers=w.m_seller["h"]), 400)
    assert_unchanged(cdb, c["id"], before)


def test_refuse_needs_an_official_ground(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    cid = c["id"]
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "i_dont_like_it"}, headers=w.officer["h"]),
            422, "ground")
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "return_reasons"}, headers=w.officer["h"]),
            422, "ground")
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={}, headers=w.officer["h"]), 422, "ground")
    problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": 7}, headers=w.officer["h"]), 400, "ground")
    # members cannot refuse at all
    assert_problem(api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "other"}, headers=w.m_seller["h"]), 403)
    assert_unchanged(cdb, cid, before)
    r = api.post(f"{V1}/contracts/{cid}/refuse", json={"ground": "price_unclear", "detail": "价款未约定"},
                 headers=w.officer["h"])
    assert r.status == 200, r
    assert r.body["status"] == "refused" and r.body["refusal_ground"] == "price_unclear"
    assert r.body["refusal_ground_label"] == label(cdb, "refusal_grounds", "price_unclear")
    row = contract_row(cdb, cid)
    assert (row["status"], row["refusal_ground"], row["refusal_detail"]) == ("refused", "price_unclear", "价款未约定")
    assert row["registration_no"] is None
    assert audit_rows(cdb, cid)[-1]["action"] == "refuse"
    # refused is final
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/register", json={}, headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/submit", headers=w.m_seller["h"]), 409)
    problem(api.patch(f"{V1}/contracts/{cid}", json={"title": "再来"}, headers=w.m_seller["h"]), 409)
    problem(api.get(f"{V1}/contracts/{cid}/certificate", headers=w.m_seller["h"]), 409)
    assert_unchanged(cdb, cid, before)


def test_return_needs_a_reason(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    cid = c["id"]
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/return", json={}, headers=w.officer["h"]), (400, 422), "reason")
    problem(api.post(f"{V1}/contracts/{cid}/return", json={"reason": "   "}, headers=w.officer["h"]), 422, "reason")
    problem(api.post(f"{V1}/contracts/{cid}/return", json={"reason": None}, headers=w.officer["h"]), (400, 422),
            "reason")
    problem(api.post(f"{V1}/contracts/{cid}/return", headers=w.officer["h"]), 400)
    assert_unchanged(cdb, cid, before)


def test_edit_and_delete_after_submit_are_409(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    cid = c["id"]
    # a draft: edit with the right ETag, stale ETag → 412
    r = api.patch(f"{V1}/contracts/{cid}", json={"title": "改过的名称"},
                  headers={**w.m_seller["h"], "If-Match": f'"{c["version"]}"'})
    assert r.status == 200 and r.body["title"] == "改过的名称" and r.body["version"] == c["version"] + 1, r
    assert r.headers["ETag"] == f'"{c["version"] + 1}"'
    before = state(cdb, cid)
    problem(api.patch(f"{V1}/contracts/{cid}", json={"title": "过期"},
                      headers={**w.m_seller["h"], "If-Match": f'"{c["version"]}"'}), 412)
    assert_unchanged(cdb, cid, before)
    assert audit_rows(cdb, cid)[-1]["action"] == "update"
    submit(api, w.m_seller["h"], cid)
    before = state(cdb, cid)
    problem(api.patch(f"{V1}/contracts/{cid}", json={"title": "提交后修改"}, headers=w.m_seller["h"]), 409)
    problem(api.delete(f"{V1}/contracts/{cid}", headers=w.m_seller["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/submit", headers=w.m_seller["h"]), 409)
    assert_unchanged(cdb, cid, before)
    # a draft can be deleted (by a party), and the deletion is audited
    c2 = create_contract(api, w.m_buyer["h"], contract_body(cdb, w.seller, w.buyer))
    r = api.delete(f"{V1}/contracts/{c2['id']}", headers=w.m_buyer["h"])
    assert r.status == 204, r
    assert contract_row(cdb, c2["id"]) is None
    assert [a["action"] for a in audit_rows(cdb, c2["id"])] == ["create", "delete"]
    problem(api.get(f"{V1}/contracts/{c2['id']}", headers=w.m_buyer["h"]), 404)


def test_payments(api, cdb, cworld):
    w = cworld
    t = iso(today(cdb))
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, amount=10_000_000, technical=9_000_000)
    cid = c["id"]
    # not registered yet → 409
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 100, "received_on": t},
                     headers=w.m_seller["h"]), 409)
    assert_unchanged(cdb, cid, before)
    register(api, w.officer["h"], cid)
    r = api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 6_000_000, "received_on": t, "note": "首期"},
                 headers=w.m_seller["h"])
    assert r.status == 201, r
    assert r.body["amount_fen"] == 6_000_000 and r.body["contract_id"] == cid
    assert contract_row(cdb, cid)["received_amount_fen"] == 6_000_000
    # beyond the contract amount → 422, nothing recorded
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 4_000_001, "received_on": t},
                     headers=w.m_seller["h"]), 422, "amount_fen")
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 0, "received_on": t},
                     headers=w.m_seller["h"]), 422, "amount_fen")
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": "2999-01-01"},
                     headers=w.m_seller["h"]), 422, "received_on")
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": "2024-13-01"},
                     headers=w.m_seller["h"]), 422, "received_on")
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": t, "contract_id": 1},
                     headers=w.m_seller["h"]), 400, "contract_id")
    # the buyer does not record receipts
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": t},
                     headers=w.m_buyer["h"]), 403)
    assert_unchanged(cdb, cid, before)
    # up to exactly the contract amount is fine (an officer may record too)
    r = api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 4_000_000, "received_on": t},
                 headers=w.officer["h"])
    assert r.status == 201, r
    r = api.get(f"{V1}/contracts/{cid}/payments", headers=w.m_buyer["h"])
    assert r.status == 200, r
    assert [p["amount_fen"] for p in r.body["items"]] == [6_000_000, 4_000_000]
    assert r.body["received_amount_fen"] == 10_000_000 == r.body["contract_amount_fen"]
    assert contract_row(cdb, cid)["received_amount_fen"] == 10_000_000
    assert [a["action"] for a in audit_rows(cdb, cid)].count("payment") == 2
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": t},
                     headers=w.m_seller["h"]), 422, "amount_fen")


# ====================================================================== 3. return, resubmit, the queue

def test_return_fix_resubmit_restarts_the_clock(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    cid = c["id"]
    # pretend the first submission was long ago: the clock then had run out
    with cdb.cursor() as cur:
        cur.execute("UPDATE contracts SET due_on = '2020-01-01', submitted_at = '2019-12-01' WHERE id = %s", (cid,))
    r = api.post(f"{V1}/contracts/{cid}/return", json={"reason": "非技术性费用未列明"}, headers=w.officer["h"])
    assert r.status == 200, r
    assert r.body["status"] == "returned" and r.body["return_reason"] == "非技术性费用未列明"
    row = contract_row(cdb, cid)
    assert row["status"] == "returned" and row["returned_at"] is not None
    assert cid not in {i["id"] for i in queue(api, w.officer)}
    # the seller fixes it (the officer sees returned applications but does not edit them)
    g = api.get(f"{V1}/contracts/{cid}", headers=w.m_seller["h"])
    assert g.status == 200 and g.body["status"] == "returned"
    problem(api.patch(f"{V1}/contracts/{cid}", json={"title": "x"}, headers=w.officer["h"]), 403)
    items = [{"item": "设备", "amount_fen": 1_000_000}, {"item": "原材料", "amount_fen": 500_000}]
    r = api.patch(f"{V1}/contracts/{cid}", json={"non_technical_items": items},
                  headers={**w.m_seller["h"], "If-Match": g.headers["ETag"]})
    assert r.status == 200, r
    assert r.body["status"] == "returned" and r.body["non_technical_items"] == items
    # resubmission: due_on counted from today again
    s = submit(api, w.m_seller["h"], cid)
    assert s["due_on"] == iso(add_wd(cdb, 15)) and s["overdue"] is False
    row = contract_row(cdb, cid)
    assert row["due_on"] == add_wd(cdb, 15) and row["submitted_at"].year >= today(cdb).year
    assert [a["action"] for a in audit_rows(cdb, cid)] == ["create", "submit", "return", "update", "resubmit"]
    assert audit_rows(cdb, cid)[2]["actor_user_id"] == w.officer["id"]
    assert cid in {i["id"] for i in queue(api, w.officer)}


def test_queue_orders_overdue_first_and_shows_integrity_flags(api, users, cdb, cworld):
    w = cworld
    office = new_office(cdb)
    region = office["region_code"]
    officer = make_actor(users, "officer", office=office["id"])
    other_officer = make_actor(users, "officer", office=office["id"])
    ah = w.admin["h"]

    def pair(**kw):
        return new_org(cdb, region, org_type="022", **kw), new_org(cdb, region, org_type="150", **kw)

    # duplicate: the same parties and amount were registered before
    s1, b1 = pair()
    first = create_contract(api, ah, contract_body(cdb, s1, b1, amount=12_345_600, technical=12_000_000))
    submit(api, ah, first["id"])
    register(api, officer["h"], first["id"])
    dup = submitted_contract(api, cdb, ah, s1, b1, amount=12_345_600, technical=12_000_000)
    # just above a subsidy threshold (250,000 yuan = 25,000,000 fen)
    s2, b2 = pair()
    above = submitted_contract(api, cdb, ah, s2, b2, amount=25_500_000, technical=25_000_000)
    # related parties: seller and buyer share a contact phone
    phone = "0" + str(uuid.uuid4().int)[:10]
    s3 = new_org(cdb, region, org_type="022", contact_phone=phone)
    b3 = new_org(cdb, region, org_type="150", contact_phone=phone)
    related = submitted_contract(api, cdb, ah, s3, b3, amount=13_000_000, technical=12_000_000)
    # split: two applications between the same parties, each under the expert-review threshold
    # (5,000,000 yuan), together above it
    s4, b4 = pair()
    split_a = submitted_contract(api, cdb, ah, s4, b4, amount=261_000_000, technical=260_000_000)
    split_b = submitted_contract(api, cdb, ah, s4, b4, amount=262_000_000, technical=255_000_000)
    # a plain one and one that is overdue
    s5, b5 = pair()
    plain = submitted_contract(api, cdb, ah, s5, b5, amount=14_000_000, technical=13_000_000)
    late = submitted_contract(api, cdb, ah, s5, b5, amount=15_000_000, technical=14_000_000)
    with cdb.cursor() as cur:
        cur.execute("UPDATE contracts SET due_on = '2020-01-01' WHERE id = %s", (late["id"],))

    items = queue(api, officer)
    ids = [i["id"] for i in items]
    expected = [late["id"], dup["id"], above["id"], related["id"], split_a["id"], split_b["id"], plain["id"]]
    assert ids == expected, f"queue order {ids}, expected overdue first then by due date and submission {expected}"
    by = {i["id"]: i for i in items}
    assert by[late["id"]]["overdue"] is True
    assert by[late["id"]]["working_days_left"] == sql1(cdb, "SELECT working_days_between(today_cn(), '2020-01-01')"
                                                             " AS n")["n"] < 0
    assert all(by[i]["overdue"] is False and by[i]["working_days_left"] == 15 for i in expected[1:])

    def codes(c):
        return sorted(f["code"] for f in by[c["id"]]["flags"])

    assert codes(dup) == ["duplicate"]
    assert codes(above) == ["just_above_threshold"]
    assert codes(related) == ["related_parties"]
    assert codes(split_a) == ["split"] and codes(split_b) == ["split"]
    assert codes(plain) == [] and codes(late) == []
    # the same flags on the officer's GET; none for a party
    r = api.get(f"{V1}/contracts/{dup['id']}", headers=other_officer["h"])
    assert r.status == 200 and [f["code"] for f in r.body["flags"]] == ["duplicate"]
    # the queue belongs to this office only
    assert not set(ids) & {i["id"] for i in queue(api, w.officer)}
    # limit
    r = api.get(f"{V1}/registry/queue?limit=2", headers=officer["h"])
    assert r.status == 200 and [i["id"] for i in r.body["items"]] == expected[:2]
    problem(api.get(f"{V1}/registry/queue?limit=0", headers=officer["h"]), 400, "limit")
    # members have no queue
    problem(api.get(f"{V1}/registry/queue", headers=w.m_seller["h"]), 403)


# ====================================================================== 4. expert review deadline

@pytest.mark.parametrize("technical,days", [(499_999_999, 15), (500_000_000, 30), (800_000_000, 30)])
def test_review_deadline_depends_on_the_technical_amount(api, cdb, cworld, technical, days):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, amount=technical + 1_000_000,
                           technical=technical)
    expected = add_wd(cdb, days)
    assert c["due_on"] == iso(expected)
    assert contract_row(cdb, c["id"])["due_on"] == expected
    item = {i["id"]: i for i in queue(api, w.officer)}[c["id"]]
    assert item["working_days_left"] == days


# ====================================================================== 5. amendment and cancellation

def test_amendment_and_cancellation(api, cdb, cworld):
    w = cworld
    c = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer,
                            amount=30_000_000, technical=28_000_000)
    cid, no = c["id"], c["registration_no"]
    old = certificate(api, w.m_seller["h"], cid)
    assert old.status == 200, old
    assert old.body["payload"]["amendments"] == 0

    # refused requests first: not the applicant, unknown fields, nonsense values, no reason
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "增加金额", "changes": {"title": "x"}},
                     headers=w.m_buyer["h"]), 403)
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改", "changes": {"status": "draft"}},
                     headers=w.m_seller["h"]), 400, "changes.status")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改", "changes": {"registration_no": "1"}},
                     headers=w.m_seller["h"]), 400, "changes.registration_no")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改", "changes": {"seller": {"name": "x"}}},
                     headers=w.m_seller["h"]), 400, "changes.seller")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改", "changes": {"contract_amount_fen": 1}},
                     headers=w.m_seller["h"]), 422, "technical_amount_fen")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": " ", "changes": {"title": "新名称"}},
                     headers=w.m_seller["h"]), 422, "reason")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改", "changes": {}},
                     headers=w.m_seller["h"]), 422, "changes")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"changes": {"title": "新名称"}},
                     headers=w.m_seller["h"]), 422, "reason")
    assert_unchanged(cdb, cid, before)

    # the amendment request is pending until an officer decides
    changes = {"contract_amount_fen": 40_000_000, "technical_amount_fen": 37_000_000,
               "non_technical_items": [{"item": "设备", "amount_fen": 3_000_000}]}
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "补充协议增加开发内容", "changes": changes},
                 headers=w.m_seller["h"])
    assert r.status == 200, r
    g = api.get(f"{V1}/contracts/{cid}", headers=w.m_seller["h"])
    pc = g.body["pending_change"]
    assert pc and pc["kind"] == "amend" and pc["changes"] == changes and pc["reason"] == "补充协议增加开发内容", g.body
    assert r.body["pending_change"] == pc, "the response to the request should show the pending change"
    assert g.body["contract_amount_fen"] == 30_000_000
    row = contract_row(cdb, cid)
    assert row["contract_amount_fen"] == 30_000_000 and row["status"] == "registered"
    x = query(cdb, "SELECT * FROM contract_changes WHERE id = %s", pc["id"])[0]
    assert (x["kind"], x["status"], x["requested_by"]) == ("amend", "pending", w.m_seller["id"])
    # one pending request at a time
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "不做了"}, headers=w.m_seller["h"]), 409)
    # an officer of another office cannot decide; a bad decision is refused
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc["id"], "decision": "confirm"},
                     headers=w.officer2["h"]), 404)
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc["id"], "decision": "maybe"},
                     headers=w.officer["h"]), 422, "decision")
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc["id"] + 100000, "decision": "confirm"},
                     headers=w.officer["h"]), 404)
    problem(api.post(f"{V1}/contracts/{cid}/cancel", json={"change_id": pc["id"], "decision": "confirm"},
                     headers=w.officer["h"]), 404)
    assert_unchanged(cdb, cid, before)

    # the officer confirms: the amounts change, the certificate re-derives
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc["id"], "decision": "confirm",
                                                      "note": "同意变更"}, headers=w.officer["h"])
    assert r.status == 200, r
    assert r.body["contract_amount_fen"] == 40_000_000 and r.body["pending_change"] is None
    row = contract_row(cdb, cid)
    assert (row["status"], row["registration_no"], row["contract_amount_fen"], row["technical_amount_fen"]) == \
        ("registered", no, 40_000_000, 37_000_000)
    x = query(cdb, "SELECT * FROM contract_changes WHERE id = %s", pc["id"])[0]
    assert (x["status"], x["decided_by"], x["decision_note"]) == ("confirmed", w.officer["id"], "同意变更")
    assert x["before"]["contract_amount_fen"] == 30_000_000 and x["after"]["contract_amount_fen"] == 40_000_000
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc["id"], "decision": "reject"},
                     headers=w.officer["h"]), 409)
    new = certificate(api, w.m_seller["h"], cid)
    assert new.status == 200, new
    assert new.body["payload"]["amendments"] == 1
    assert new.body["payload"]["contract_amount_fen"] == 40_000_000
    assert new.body["payload"]["technical_amount_fen"] == 37_000_000
    assert new.body["payload"]["registration_no"] == no and new.body["signature"] != old.body["signature"]
    v = verify(api, new.body)
    assert v["valid"] is True and "current" in v["reason"], v
    v = verify(api, old.body)
    assert v["valid"] is True and "superseded" in v["reason"] and v["registration_status"] == "registered", v
    assert api.get(f"{V1}/certificates/{no}").body["contract_amount_fen"] == 40_000_000

    # a rejected amendment changes nothing but the request
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改名", "changes": {"title": "新名称 " + uniq()}},
                 headers=w.m_seller["h"])
    assert r.status == 200, r
    pc2 = api.get(f"{V1}/contracts/{cid}", headers=w.officer["h"]).body["pending_change"]
    v_before = contract_row(cdb, cid)["version"]
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": pc2["id"], "decision": "reject"},
                 headers=w.officer["h"])
    assert r.status == 200, r
    row = contract_row(cdb, cid)
    assert row["title"] == c["title"] and row["version"] == v_before
    assert query(cdb, "SELECT status FROM contract_changes WHERE id = %s", pc2["id"])[0]["status"] == "rejected"

    # cancellation (注销)
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "合同解除"}, headers=w.m_seller["h"])
    assert r.status == 200, r
    pc3 = api.get(f"{V1}/contracts/{cid}", headers=w.m_seller["h"]).body["pending_change"]
    assert pc3["kind"] == "cancel" and pc3["reason"] == "合同解除"
    assert contract_row(cdb, cid)["status"] == "registered"
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"change_id": pc3["id"], "decision": "confirm"},
                 headers=w.officer["h"])
    assert r.status == 200, r
    assert r.body["status"] == "cancelled" and r.body["registration_no"] == no
    row = contract_row(cdb, cid)
    assert (row["status"], row["registration_no"], row["cancel_reason"]) == ("cancelled", no, "合同解除")
    assert row["cancelled_at"] is not None
    v = verify(api, new.body)
    assert v["valid"] is False and "cancelled" in v["reason"] and v["registration_status"] == "cancelled", v
    f = api.get(f"{V1}/certificates/{no}")
    assert f.status == 200 and f.body["status"] == "cancelled" and f.body["cancelled_at"], f
    problem(api.get(f"{V1}/contracts/{cid}/certificate", headers=w.m_seller["h"]), 409)
    # cancelled is final
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "x", "changes": {"title": "y"}},
                     headers=w.m_seller["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "x"}, headers=w.m_seller["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 1, "received_on": iso(today(cdb))},
                     headers=w.m_seller["h"]), 409)
    problem(api.post(f"{V1}/contracts/{cid}/register", json={}, headers=w.officer["h"]), 409)
    assert_unchanged(cdb, cid, before)

    acts = [(a["action"], a["actor_user_id"]) for a in audit_rows(cdb, cid)]
    assert acts[-6:] == [("amend_request", w.m_seller["id"]), ("amend", w.officer["id"]),
                         ("amend_request", w.m_seller["id"]), ("amend_rejected", w.officer["id"]),
                         ("cancel_request", w.m_seller["id"]), ("cancel", w.officer["id"])], acts


def test_change_requests_list_their_decisions_and_notes(api, cdb, cworld):
    """The applicant sees why an amendment was rejected: every request, oldest
    first, with the officer's decision and note; the note is bounded."""
    w = cworld
    c = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer,
                            amount=30_000_000, technical=28_000_000)
    cid = c["id"]
    empty = api.get(f"{V1}/contracts/{cid}/changes", headers=w.m_seller["h"])
    assert empty.status == 200 and empty.body == {"items": [], "next_cursor": None}, empty

    title = "新名称 " + uniq()
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"reason": "改名", "changes": {"title": title}},
                 headers=w.m_seller["h"])
    assert r.status == 200, r
    a = r.body["pending_change"]
    # a note longer than 1,000 characters is refused and decides nothing
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/amend",
                     json={"change_id": a["id"], "decision": "reject", "note": "理" * 1001},
                     headers=w.officer["h"]), 422, "note")
    assert_unchanged(cdb, cid, before)
    assert query(cdb, "SELECT status FROM contract_changes WHERE id = %s", a["id"])[0]["status"] == "pending"
    # the pending request is listed like the contract's pending_change
    p = api.get(f"{V1}/contracts/{cid}/changes", headers=w.m_seller["h"])
    assert p.status == 200, p
    [item] = p.body["items"]
    assert (item["id"], item["kind"], item["status"], item["reason"], item["changes"]) == \
        (a["id"], "amend", "pending", "改名", {"title": title}), item
    assert (item["decided_by"], item["decided_at"], item["decision_note"]) == (None, None, None), item
    assert item["requested_by"] == w.m_seller["id"] and item["requested_at"] == a["requested_at"], item

    head = "名称与合同文本不一致，请上传补充协议后重新申请"
    note = head + "。" * (1000 - len(head))
    assert len(note) == 1000
    r = api.post(f"{V1}/contracts/{cid}/amend", json={"change_id": a["id"], "decision": "reject", "note": note},
                 headers=w.officer["h"])
    assert r.status == 200, r
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"reason": "合同解除"}, headers=w.m_seller["h"])
    assert r.status == 200, r
    k = r.body["pending_change"]
    r = api.post(f"{V1}/contracts/{cid}/cancel", json={"change_id": k["id"], "decision": "confirm"},
                 headers=w.officer["h"])
    assert r.status == 200 and r.body["status"] == "cancelled", r

    rows = query(cdb, "SELECT id, kind, status, decided_by, decision_note, to_json(decided_at)#>>'{}' AS at"
                      " FROM contract_changes WHERE contract_id = %s ORDER BY id", cid)
    for who in (w.m_seller, w.m_buyer, w.officer, w.admin):
        g = api.get(f"{V1}/contracts/{cid}/changes", headers=who["h"])
        assert g.status == 200, (who["role"], g)
        got = [(i["id"], i["kind"], i["status"], i["decided_by"], i["decision_note"], i["decided_at"])
               for i in g.body["items"]]
        assert got == [(x["id"], x["kind"], x["status"], x["decided_by"], x["decision_note"], x["at"]) for x in rows]
        assert got[0][2:5] == ("rejected", w.officer["id"], note) and got[1][2:5] == ("confirmed", w.officer["id"], None)
        assert g.body["items"][1]["reason"] == "合同解除" and g.body["items"][1]["changes"] == {}
    # outside the scope: another organisation's member, another office's officer, a malformed id
    for who in (w.m_third, w.officer2):
        problem(api.get(f"{V1}/contracts/{cid}/changes", headers=who["h"]), 404)
    problem(api.get(f"{V1}/contracts/abc/changes", headers=w.m_seller["h"]), 404)
    problem(api.get(f"{V1}/contracts/{cid}/changes"), 401)


def test_amendment_cannot_go_below_the_amount_received(api, cdb, cworld):
    w = cworld
    c = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer,
                            amount=10_000_000, technical=10_000_000)
    cid = c["id"]
    r = api.post(f"{V1}/contracts/{cid}/payments", json={"amount_fen": 8_000_000, "received_on": iso(today(cdb))},
                 headers=w.m_seller["h"])
    assert r.status == 201, r
    before = state(cdb, cid)
    problem(api.post(f"{V1}/contracts/{cid}/amend",
                     json={"reason": "减少金额", "changes": {"contract_amount_fen": 5_000_000,
                                                         "technical_amount_fen": 5_000_000,
                                                         "payment_schedule": []}},
                     headers=w.m_seller["h"]), 422, "changes.contract_amount_fen")
    assert_unchanged(cdb, cid, before)


def test_import_with_an_unverified_buyer_names_the_buyer(api, cdb, cworld):
    """For an import the applicant is the buyer, so the field at fault is buyer.org_id."""
    w = cworld
    foreign = {"name": "Overseas Labs Ltd " + uniq(), "org_type": "900", "region_code": None}
    c = create_contract(api, w.m_unverified["h"],
                        contract_body(cdb, foreign, w.unverified, is_import=True))
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=w.m_unverified["h"]), 422, "buyer.org_id")
    assert_unchanged(cdb, c["id"], before)


# ====================================================================== routing and scopes

def _county_without_any_office(db):
    rows = query(db, "SELECT code FROM regions r WHERE level = 3 AND NOT EXISTS (SELECT 1 FROM registry_offices f"
                     " WHERE f.active AND region_in_subtree(r.code, f.region_code)) ORDER BY random() LIMIT 1")
    assert rows, "every county is served"
    return rows[0]["code"].strip()


def test_applications_go_to_the_deepest_office_covering_the_applicant(api, users, cdb, cworld):
    w = cworld
    rows = query(cdb, """
        SELECT p.code AS p, array_agg(c.code ORDER BY c.code) AS counties FROM regions p JOIN regions c
          ON c.parent_code = p.code AND c.level = 3
        WHERE p.level = 2 AND NOT EXISTS (SELECT 1 FROM registry_offices f WHERE f.active
                                          AND region_in_subtree(c.code, f.region_code))
        GROUP BY p.code HAVING count(*) >= 2 ORDER BY random() LIMIT 1""")
    assert rows, "no prefecture with two unserved counties"
    pref, (c1, c2) = rows[0]["p"].strip(), [x.strip() for x in rows[0]["counties"][:2]]
    office_p = new_office(cdb, region=pref)
    office_c1 = new_office(cdb, region=c1)
    officer_p = make_actor(users, "officer", office=office_p["id"])
    officer_c1 = make_actor(users, "officer", office=office_c1["id"])
    ah = w.admin["h"]
    in_c1 = submitted_contract(api, cdb, ah, new_org(cdb, c1), new_org(cdb, c2))
    in_c2 = submitted_contract(api, cdb, ah, new_org(cdb, c2), new_org(cdb, c1))
    assert in_c1["office_id"] == office_c1["id"], "the county office serves its county"
    assert in_c2["office_id"] == office_p["id"], "the prefecture office serves a county without its own office"
    assert {i["id"] for i in queue(api, officer_p)} >= {in_c2["id"]}
    assert in_c1["id"] not in {i["id"] for i in queue(api, officer_p)}
    problem(api.post(f"{V1}/contracts/{in_c1['id']}/register", json={}, headers=officer_p["h"]), 404)
    reg = register(api, officer_p["h"], in_c2["id"])
    assert reg["registration_no"][4:10] == pref
    reg = register(api, officer_c1["h"], in_c1["id"])
    assert reg["registration_no"][4:10] == c1
    # nobody serves the seller's region → 422 naming it
    lonely = _county_without_any_office(cdb)
    c = create_contract(api, ah, contract_body(cdb, new_org(cdb, lonely), w.buyer))
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/submit", headers=ah), 422, "seller.region_code")
    assert_unchanged(cdb, c["id"], before)


def test_bureau_sees_registrations_of_its_region_only(api, users, cdb, cworld):
    w = cworld
    province = w.office["region_code"][:2] + "0000"
    bureau = make_actor(users, "bureau", region=province)
    elsewhere = make_actor(users, "bureau", region="650000" if not province.startswith("65") else "540000")
    draft = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    pending = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    done = registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer)
    problem(api.get(f"{V1}/contracts/{draft['id']}", headers=bureau["h"]), 404)
    problem(api.get(f"{V1}/contracts/{pending['id']}", headers=bureau["h"]), 404)
    r = api.get(f"{V1}/contracts/{done['id']}", headers=bureau["h"])
    assert r.status == 200 and r.body["registration_no"] == done["registration_no"], r
    problem(api.get(f"{V1}/contracts/{done['id']}", headers=elsewhere["h"]), 404)
    listed = api.get(f"{V1}/contracts?status=registered&limit=100", headers=bureau["h"])
    assert listed.status == 200 and all(i["status"] == "registered" for i in listed.body["items"])
    problem(api.get(f"{V1}/contracts?status=bogus", headers=bureau["h"]), 400, "status")
    # a bureau user neither drafts nor registers
    problem(api.post(f"{V1}/contracts", json=contract_body(cdb, w.seller, w.buyer), headers=bureau["h"]), 403)
    before = state(cdb, pending["id"])
    problem(api.post(f"{V1}/contracts/{pending['id']}/register", json={}, headers=bureau["h"]), 403)
    assert_unchanged(cdb, pending["id"], before)


def test_returned_application_is_not_registrable_until_resubmitted(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    r = api.post(f"{V1}/contracts/{c['id']}/return", json={"reason": "签章不清"}, headers=w.officer["h"])
    assert r.status == 200, r
    before = state(cdb, c["id"])
    problem(api.post(f"{V1}/contracts/{c['id']}/register", json={}, headers=w.officer["h"]), 409)
    problem(api.post(f"{V1}/contracts/{c['id']}/refuse", json={"ground": "other"}, headers=w.officer["h"]), 409)
    problem(api.delete(f"{V1}/contracts/{c['id']}", headers=w.m_seller["h"]), 409)
    assert_unchanged(cdb, c["id"], before)


def test_review_time_limits_are_data(api, cdb, cworld):
    """review_days_normal / review_days_expert / expert_review_threshold_fen live in settings."""
    w = cworld
    keys = ("review_days_normal", "review_days_expert", "expert_review_threshold_fen")
    old = {r["key"]: r["value"] for r in query(cdb, "SELECT key, value FROM settings WHERE key = ANY(%s)", list(keys))}
    assert set(old) == set(keys)
    try:
        with cdb.cursor() as cur:
            cur.execute("UPDATE settings SET value = '7' WHERE key = 'review_days_normal'")
            cur.execute("UPDATE settings SET value = '11' WHERE key = 'review_days_expert'")
            cur.execute("UPDATE settings SET value = '20000000' WHERE key = 'expert_review_threshold_fen'")
        small = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, amount=10_000_000,
                                   technical=9_000_000)
        big = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, amount=21_000_000,
                                 technical=20_000_000)
        assert small["due_on"] == iso(add_wd(cdb, 7))
        assert big["due_on"] == iso(add_wd(cdb, 11))
    finally:
        with cdb.cursor() as cur:
            for k, v in old.items():
                cur.execute("UPDATE settings SET value = %s::jsonb WHERE key = %s", (json.dumps(v), k))


# ---------------------------------------------------------------------- attributes for tax and subsidies

def test_related_party_fiscal_subsidy_and_related_contract(api, cdb, cworld):
    """是否关联交易, 已享受财政资金补贴, and the transfer or development contract a consulting or service
    contract serves (财税〔2016〕36号附件3: the same two parties)."""
    w = cworld
    h = w.m_seller["h"]
    transfer = create_contract(api, h, contract_body(cdb, w.seller, w.buyer, "transfer", "patent_transfer",
                                                     related_party="wholly_related", fiscal_subsidy=True))
    assert (transfer["related_party"], transfer["related_party_label"], transfer["fiscal_subsidy"]) == \
        ("wholly_related", "100%关联方交易（直接或间接持股之和达到100%）", True)
    plain = create_contract(api, h, contract_body(cdb, w.seller, w.buyer))
    assert (plain["related_party"], plain["fiscal_subsidy"], plain["related_contract_id"]) == ("none", False, None)
    # a consulting contract between the same parties may name the transfer
    consulting = create_contract(api, h, contract_body(cdb, w.seller, w.buyer, "consulting", "technical_consulting",
                                                       related_contract_id=transfer["id"]))
    assert consulting["related_contract_id"] == transfer["id"]
    row = contract_row(cdb, consulting["id"])
    assert row["related_contract_id"] == transfer["id"]
    n_before = query(cdb, "SELECT count(*) AS n FROM contracts")[0]["n"]
    before = state(cdb, consulting["id"])

    def refused(body, code, cid=None):
        r = api.patch(f"{V1}/contracts/{cid}", json=body, headers={**h, "If-Match": f'"{consulting["version"]}"'}) \
            if cid else api.post(f"{V1}/contracts", json=body, headers=h)
        b = problem(r, 422, "related_contract_id")
        assert [e["code"] for e in b["errors"] if e["field"] == "related_contract_id"] == [code], b

    # only consulting and service contracts name one
    refused(contract_body(cdb, w.seller, w.buyer, related_contract_id=transfer["id"]), "not_allowed")
    # it must be a transfer, licence or development contract
    refused(contract_body(cdb, w.seller, w.buyer, "service", "technical_service", related_contract_id=consulting["id"]),
            "not_transfer_or_development")
    # between the same parties
    other = create_contract(api, h, contract_body(cdb, w.seller, w.third, "transfer", "patent_transfer"))
    refused(contract_body(cdb, w.seller, w.buyer, "service", "technical_service", related_contract_id=other["id"]),
            "other_parties")
    # not itself
    refused({"related_contract_id": consulting["id"]}, "unknown", cid=consulting["id"])
    assert state(cdb, consulting["id"]) == before
    assert query(cdb, "SELECT count(*) AS n FROM contracts")[0]["n"] == n_before + 1   # + other


# ====================================================================== the contract's JSON, planned once

def test_contract_json_is_planned_once_a_session_and_reads_labels_live(api, cdb, cworld):
    # PostgreSQL 15 plans a SQL function it cannot inline at every call (~2 ms for contract_json:
    # three calls a registration, one per row of a list); PL/pgSQL keeps the plan for the session.
    langs = query(cdb, """SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                          WHERE p.proname IN ('contract_json', 'contract_party_roles') ORDER BY 1""")
    assert [(x["proname"], x["lanname"]) for x in langs] == [("contract_json", "plpgsql"),
                                                             ("contract_party_roles", "plpgsql")]
    # the plan is kept, the labels are not: a label changed by the admin shows in the next answer
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer, "transfer", "patent_transfer"))
    old = label(cdb, "contract_types", "patent_transfer")
    with cdb.cursor() as cur:
        cur.execute("UPDATE codes SET label = label || '（测）' WHERE list = 'contract_types' AND code = 'patent_transfer'")
    try:
        r = api.get(f"{V1}/contracts/{c['id']}", headers=w.m_seller["h"])
        assert r.status == 200, r
        assert r.body["contract_subtype_label"] == old + "（测）"
        assert r.body["contract_type_label"] == label(cdb, "contract_types", "transfer")
        assert r.body["party_roles"] == sql1(cdb, """SELECT extra->'party_roles' AS r FROM codes
                                                      WHERE list = 'contract_types' AND code = 'patent_transfer'""")["r"] \
            or r.body["party_roles"] == sql1(cdb, """SELECT extra->'party_roles' AS r FROM codes
                                                      WHERE list = 'contract_types' AND code = 'transfer'""")["r"]
    finally:
        with cdb.cursor() as cur:
            cur.execute("UPDATE codes SET label = %s WHERE list = 'contract_types' AND code = 'patent_transfer'", (old,))
    assert label(cdb, "contract_types", "patent_transfer") == old


@pytest.mark.parametrize("party,field,code,message", [
    ({"extra": 1}, "seller.extra", "unknown_field", "this field is not accepted here"),
    ({"name": 12}, "seller.name", "wrong_type", "must be a string or null"),
    ({"org_id": "7"}, "seller.org_id", "wrong_type", "must be an integer or null"),
    ({"name": "名" * 201}, "seller.name", "too_long", "at most 200 characters"),
])
def test_a_malformed_party_is_400_and_writes_nothing(api, cdb, cworld, party, field, code, message):
    w = cworld
    body = contract_body(cdb, w.seller, w.buyer)
    body["seller"] = dict(body["seller"], **party)
    p = problem(api.post(f"{V1}/contracts", json=body, headers=w.m_seller["h"]), 400, field)
    assert {"field": field, "code": code, "message": message} in [
        {k: e[k] for k in ("field", "code", "message")} for e in p["errors"]], p
    assert not query(cdb, "SELECT 1 FROM contracts WHERE title = %s", body["title"])
