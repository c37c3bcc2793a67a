"""Deal flow (issues 5 and 17): inquiries and negotiation by offer and acceptance (a deal needs both
parties: one side's agreement is a proposal, the other side accepting exactly that price concludes it,
once, even when both accept at the same moment), brokers admitted by consent, public notice (公示) with
objections, listed-price purchase, auctions with 50 concurrent bids, contract drafts from concluded
deals, the sweeper (expiry, notice end, auction close, also after a restart), and bad input that changes
nothing."""
import concurrent.futures
import datetime
import threading
import time

import pytest

from contract_fixtures import *  # noqa: F401,F403
from helpers import Api, assert_problem, error_fields, query

V1 = "/api/v1"


def result(db, org, pricing="negotiated", price=5_000_000, status="published", modes=("transfer",)):
    return query(db, """
        INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,
                             published_at, pricing_mode, asking_price_fen, transfer_modes)
        VALUES (%s, %s, '一种用于高原地区的技术成果，测试用。', 'agriculture', 6,
                (SELECT region_code FROM orgs WHERE id = %s), %s, now(), now(), %s, %s, %s)
        RETURNING id, title""", org["id"], "测试成果 " + uniq("r"), org["id"], status, pricing, price,
                 list(modes))[0]


DUE = """SELECT (SELECT count(*) FROM auctions WHERE status = 'open' AND ends_at <= clock_timestamp())
              + (SELECT count(*) FROM notices x WHERE x.status = 'active' AND x.ends_at <= now()
                 AND NOT EXISTS (SELECT 1 FROM objections o WHERE o.notice_id = x.id AND o.status = 'filed'))
              + (SELECT count(*) FROM inquiries WHERE status = 'open' AND last_activity_at
                 <= now() - make_interval(days => setting_int('inquiry_inactivity_days', 30)::int)) AS n"""


def sweep(db):
    """Run the sweeper until nothing due is left: the server's own sweeper runs every second as well and may
    hold a due row (SKIP LOCKED), which ours then skips while the server's commits a moment later."""
    for _ in range(100):
        s = query(db, "SELECT deal_sweep() AS s")[0]["s"]
        if not query(db, DUE)[0]["n"]:
            return s
        time.sleep(0.05)
    raise AssertionError("something due was not swept")


@pytest.fixture(scope="module")
def deal(cdb, users):
    region = free_county(cdb)
    uni = new_org(cdb, region, org_type="022")
    query(cdb, "UPDATE orgs SET state_funded = true WHERE id = %s", uni["id"])
    firm = new_org(cdb, region, org_type="150")
    other = new_org(cdb, region, org_type="150")
    seller_co = new_org(cdb, region, org_type="160")   # not state-funded
    agency = new_org(cdb, region, org_type="160")      # a technology-transfer agency employing a broker
    return {
        "uni": uni, "firm": firm, "other": other, "seller_co": seller_co, "agency": agency,
        "uni_m": make_actor(users, "member", org=uni["id"]),
        "firm_m": make_actor(users, "member", org=firm["id"]),
        "other_m": make_actor(users, "member", org=other["id"]),
        "seller_m": make_actor(users, "member", org=seller_co["id"]),
        "broker": make_actor(users, "broker", org=agency["id"]),
        "reviewer": make_actor(users, "reviewer"),
        "admin": make_actor(users, "admin"),
    }


def counts(db, inquiry_id=None):
    return query(db, "SELECT (SELECT count(*) FROM inquiries) AS inquiries, (SELECT count(*) FROM inquiry_messages) AS msgs,"
                     " (SELECT count(*) FROM contracts) AS contracts, (SELECT count(*) FROM notices) AS notices,"
                     " (SELECT count(*) FROM bids) AS bids, (SELECT count(*) FROM audit_log) AS audit,"
                     " (SELECT count(*) FROM notifications) AS notes")[0]


def inquiry_row(db, iid):
    return query(db, "SELECT i.status, i.agreed_price_fen, i.contract_id, r.status AS rstatus,"
                     " (SELECT count(*) FROM contracts c WHERE c.id = i.contract_id) AS drafts,"
                     " (SELECT count(*) FROM notices x WHERE x.inquiry_id = i.id) AS notices"
                     " FROM inquiries i LEFT JOIN results r ON r.id = i.result_id WHERE i.id = %s", iid)[0]


def notes(db, user, kind, ref_id):
    return query(db, "SELECT count(*) AS n FROM notifications WHERE user_id = %s AND kind = %s AND ref_id = %s",
                 user["id"], kind, ref_id)[0]["n"]


def agree(api, who, iid, price):
    return api.post(f"{V1}/inquiries/{iid}/agree", json={"price_fen": price}, headers=who["h"])


def test_one_sided_agreement_concludes_nothing(api, cdb, deal):
    """The bug of issue 17: the buyer 'agreed' at one yuan and the deal was concluded without the seller."""
    r = result(cdb, deal["seller_co"], price=14_000_000)
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "有意受让"}, headers=deal["firm_m"]["h"]).body
    before = query(cdb, "SELECT count(*) AS n FROM contracts")[0]["n"]
    a = agree(api, deal["firm_m"], inq["id"], 100)
    assert a.status == 200 and a.body["status"] == "open" and a.body["contract_id"] is None
    assert a.body["proposals"]["buyer"]["price_fen"] == 100 and a.body["proposals"]["seller"] is None
    assert a.body["awaiting"] == "seller"
    last = a.body["messages"][-1]
    assert last["kind"] == "proposal" and last["side"] == "buyer" and last["price_fen"] == 100
    assert last["author_user_id"] == deal["firm_m"]["id"] and last["author_name"] and last["created_at"]
    row = inquiry_row(cdb, inq["id"])
    assert row["status"] == "open" and row["agreed_price_fen"] is None and row["rstatus"] == "published"
    assert query(cdb, "SELECT count(*) AS n FROM contracts")[0]["n"] == before
    # the seller hears of the proposal; the buyer who made it does not
    assert notes(cdb, deal["seller_m"], "proposal", inq["id"]) == 1
    assert notes(cdb, deal["firm_m"], "proposal", inq["id"]) == 0
    # the same side agreeing again at its own price changes nothing
    n_msgs = len(a.body["messages"])
    again = agree(api, deal["firm_m"], inq["id"], 100)
    assert again.status == 200 and len(again.body["messages"]) == n_msgs and again.body["status"] == "open"
    assert notes(cdb, deal["seller_m"], "proposal", inq["id"]) == 1
    # the result is still for sale: another buyer may still ask
    assert api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "我们也有兴趣"},
                    headers=deal["other_m"]["h"]).status == 201


def test_counter_proposal_waits_and_matching_acceptance_concludes(api, cdb, deal):
    r = result(cdb, deal["seller_co"], price=14_000_000)
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "报价十万元", "price_fen": 10_000_000},
                   headers=deal["firm_m"]["h"]).body
    assert inq["proposals"]["buyer"]["price_fen"] == 10_000_000 and inq["awaiting"] == "seller"
    # the seller counters at 12 万: that waits for the buyer
    c = agree(api, deal["seller_m"], inq["id"], 12_000_000)
    assert c.status == 200 and c.body["status"] == "open" and c.body["awaiting"] == "buyer"
    assert c.body["proposals"]["seller"]["price_fen"] == 12_000_000
    assert inquiry_row(cdb, inq["id"])["drafts"] == 0
    # the buyer counters again at 11 万 by a message with a price: a proposal too
    m = api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "折中一下，十一万", "price_fen": 11_000_000},
                 headers=deal["firm_m"]["h"])
    assert m.status == 201 and m.body["messages"][-1]["kind"] == "proposal" and m.body["awaiting"] == "seller"
    # accepting a price the other side did not last propose is another counter-proposal, not a deal
    stale = agree(api, deal["seller_m"], inq["id"], 10_000_000)
    assert stale.body["status"] == "open" and stale.body["awaiting"] == "buyer"
    # the buyer accepts the seller's last proposal: concluded, once, with the draft
    ok = agree(api, deal["firm_m"], inq["id"], 10_000_000)
    assert ok.status == 200 and ok.body["status"] == "agreed" and ok.body["agreed_price_fen"] == 10_000_000
    assert ok.body["contract_id"] and ok.body["awaiting"] is None
    kinds = [(x["kind"], x["side"], x["price_fen"]) for x in ok.body["messages"]]
    assert kinds == [("proposal", "buyer", 10_000_000), ("proposal", "seller", 12_000_000),
                     ("proposal", "buyer", 11_000_000), ("proposal", "seller", 10_000_000),
                     ("acceptance", "buyer", 10_000_000)]
    row = inquiry_row(cdb, inq["id"])
    assert row["drafts"] == 1 and row["rstatus"] == "transacted"
    c = query(cdb, "SELECT seller_org_id, buyer_org_id, contract_amount_fen FROM contracts WHERE id = %s", ok.body["contract_id"])[0]
    assert (c["seller_org_id"], c["buyer_org_id"], c["contract_amount_fen"]) == (deal["seller_co"]["id"], deal["firm"]["id"], 10_000_000)
    # both sides see the draft
    for who in ("seller_m", "firm_m"):
        assert api.get(f"{V1}/contracts/{ok.body['contract_id']}", headers=deal[who]["h"]).status == 200
    # agreeing on a closed inquiry: 409 naming why
    late = assert_problem(agree(api, deal["seller_m"], inq["id"], 10_000_000), 409)
    assert [(e["field"], e["code"]) for e in late["errors"]] == [("id", "inquiry_closed")]
    # audit: each proposal and the agreement
    acts = [x["action"] for x in query(cdb, "SELECT action FROM audit_log WHERE entity = 'inquiry' AND entity_id = %s ORDER BY id",
                                       str(inq["id"]))]
    assert acts == ["create", "propose", "propose", "agree"]


@pytest.mark.slow  # make test-fast leaves it out: racing clients (~5 s at load 9)
def test_racing_acceptances_conclude_exactly_once(api, cdb, deal):
    """Both sides accept the same price at the same moment, 20 times: exactly one draft each time."""
    base = Api(api.base)
    outcomes = []
    for run in range(20):
        r = result(cdb, deal["seller_co"], price=3_000_000)
        opening = {"result_id": r["id"], "message": "同时确认 " + str(run)}
        if run % 2:
            opening["price_fen"] = 2_500_000    # odd runs: the buyer proposed first, both accept it
        inq = base.post(f"{V1}/inquiries", json=opening, headers=deal["firm_m"]["h"]).body
        barrier = threading.Barrier(2)

        def accept(who):
            client = Api(api.base)
            barrier.wait()
            return client.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 2_500_000}, headers=deal[who]["h"])

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            got = list(ex.map(accept, ["firm_m", "seller_m"]))
        statuses = sorted(x.status for x in got)
        assert all(s in (200, 409) for s in statuses), statuses
        row = inquiry_row(cdb, inq["id"])
        assert row["status"] == "agreed" and row["agreed_price_fen"] == 2_500_000, (run, statuses, row)
        assert query(cdb, "SELECT count(*) AS n FROM contracts WHERE result_id = %s", r["id"])[0]["n"] == 1
        assert query(cdb, "SELECT count(*) AS n FROM inquiry_messages WHERE inquiry_id = %s AND kind = 'acceptance'",
                     inq["id"])[0]["n"] == 1
        # the draft is announced once to each side, except to the person whose acceptance made it
        accepter = query(cdb, "SELECT author_user_id FROM inquiry_messages WHERE inquiry_id = %s AND kind = 'acceptance'",
                         inq["id"])[0]["author_user_id"]
        for who in ("firm_m", "seller_m"):
            assert notes(cdb, deal[who], "contract_draft", row["contract_id"]) == (0 if deal[who]["id"] == accepter else 1)
        outcomes.append(tuple(statuses))
    assert len(outcomes) == 20


def test_racing_acceptances_of_a_state_funded_seller_publish_one_notice(api, cdb, deal):
    base = Api(api.base)
    for run in range(5):
        r = result(cdb, deal["uni"])
        inq = base.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "并发 " + str(run), "price_fen": 900_000},
                        headers=deal["firm_m"]["h"]).body
        barrier = threading.Barrier(2)

        def accept(who):
            client = Api(api.base)
            barrier.wait()
            return client.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 900_000}, headers=deal[who]["h"])

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            list(ex.map(accept, ["firm_m", "uni_m"]))
        row = inquiry_row(cdb, inq["id"])
        assert row["status"] == "agreed" and row["notices"] == 1 and row["drafts"] == 0 and row["rstatus"] == "under_notice"
        nid = query(cdb, "SELECT id FROM notices WHERE inquiry_id = %s", inq["id"])[0]["id"]
        assert notes(cdb, deal["uni_m"], "notice", nid) + notes(cdb, deal["firm_m"], "notice", nid) == 1   # not to the accepter


def test_admin_and_broker_cannot_conclude_for_a_party(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "请报价", "price_fen": 700_000},
                   headers=deal["firm_m"]["h"]).body
    # the seller admits a broker the buyer named? no: the buyer names, the seller admits
    assert api.post(f"{V1}/inquiries/{inq['id']}/broker", json={"user_id": deal["broker"]["id"]},
                    headers=deal["firm_m"]["h"]).status == 200
    assert api.post(f"{V1}/inquiries/{inq['id']}/broker/accept", headers=deal["seller_m"]["h"]).status == 200
    before = counts(cdb)
    assert_problem(agree(api, deal["admin"], inq["id"], 700_000), 403)
    assert_problem(agree(api, deal["broker"], inq["id"], 700_000), 403)
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/decline", json={}, headers=deal["broker"]["h"]), 403)
    assert counts(cdb) == before
    assert inquiry_row(cdb, inq["id"])["status"] == "open"


def test_a_party_s_own_broker_suggests_but_does_not_propose(api, cdb, deal, users):
    """A user with the role broker employed by the buyer reads the buyer's inquiries, but a price it writes
    is a suggestion: it neither proposes for the buyer nor can be accepted by the seller as the buyer's."""
    inhouse = make_actor(users, "broker", org=deal["firm"]["id"])
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "询价"}, headers=deal["firm_m"]["h"]).body
    m = api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "建议八十万", "price_fen": 800_000}, headers=inhouse["h"])
    assert m.status == 201 and m.body["messages"][-1]["kind"] == "message" and m.body["messages"][-1]["side"] is None
    assert m.body["proposals"] == {"seller": None, "buyer": None}
    a = agree(api, deal["seller_m"], inq["id"], 800_000)
    assert a.body["status"] == "open" and a.body["awaiting"] == "buyer"   # the seller's own proposal, not a deal


def test_broker_named_by_the_buyer_reads_nothing_until_the_seller_accepts(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    b = deal["broker"]
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "我方委托经纪人协助洽谈",
                                            "broker_user_id": b["id"]}, headers=deal["firm_m"]["h"])
    assert inq.status == 201 and inq.body["broker"]["status"] == "pending" and inq.body["broker"]["user_id"] == b["id"]
    iid = inq.body["id"]
    # pending: the broker sees nothing and can write nothing
    assert_problem(api.get(f"{V1}/inquiries/{iid}", headers=b["h"]), 404)
    assert iid not in [x["id"] for x in api.get(f"{V1}/inquiries?limit=100", headers=b["h"]).body["items"]]
    before = counts(cdb)
    assert_problem(api.post(f"{V1}/inquiries/{iid}/messages", json={"body": "您好"}, headers=b["h"]), 404)
    assert counts(cdb) == before
    assert notes(cdb, b, "message", iid) == 0 and notes(cdb, b, "inquiry", iid) == 0
    # the seller is asked for its consent; the buyer cannot consent for it
    assert notes(cdb, deal["seller_m"], "broker_request", iid) == 1
    assert_problem(api.post(f"{V1}/inquiries/{iid}/broker/accept", headers=deal["firm_m"]["h"]), 403)
    ok = api.post(f"{V1}/inquiries/{iid}/broker/accept", headers=deal["seller_m"]["h"])
    assert ok.status == 200 and ok.body["broker"]["status"] == "accepted"
    assert notes(cdb, b, "broker_admitted", iid) == 1
    # admitted: reads the thread, writes in it, hears of new messages
    got = api.get(f"{V1}/inquiries/{iid}", headers=b["h"])
    assert got.status == 200 and any(m["kind"] == "broker_accepted" for m in got.body["messages"])
    assert api.post(f"{V1}/inquiries/{iid}/messages", json={"body": "建议双方以六十万元成交", "price_fen": 600_000},
                    headers=b["h"]).status == 201
    # a broker's price is a suggestion, not a party's proposal
    x = api.get(f"{V1}/inquiries/{iid}", headers=deal["seller_m"]["h"]).body
    assert x["messages"][-1]["kind"] == "message" and x["proposals"] == {"seller": None, "buyer": None}
    api.post(f"{V1}/inquiries/{iid}/messages", json={"body": "可以考虑"}, headers=deal["seller_m"]["h"])
    assert notes(cdb, b, "message", iid) == 1
    # the seller cannot remove the buyer's broker; the buyer can
    assert_problem(api.delete(f"{V1}/inquiries/{iid}/broker", headers=deal["seller_m"]["h"]), 403)
    rm = api.delete(f"{V1}/inquiries/{iid}/broker", headers=deal["firm_m"]["h"])
    assert rm.status == 200 and rm.body["broker"] is None
    assert notes(cdb, b, "broker_removed", iid) == 1
    assert_problem(api.get(f"{V1}/inquiries/{iid}", headers=b["h"]), 404)
    # naming someone who is not an active broker, or the other party's own staff, is refused
    for uid, code in ((deal["other_m"]["id"], "unknown"), (99999999, "unknown")):
        p = assert_problem(api.post(f"{V1}/inquiries/{iid}/broker", json={"user_id": uid}, headers=deal["firm_m"]["h"]), 422)
        assert [(e["field"], e["code"]) for e in p["errors"]] == [("broker_user_id", code)]
    # a pending broker may be refused by the other party
    assert api.post(f"{V1}/inquiries/{iid}/broker", json={"user_id": b["id"]}, headers=deal["seller_m"]["h"]).status == 200
    assert_problem(api.post(f"{V1}/inquiries/{iid}/broker", json={"user_id": b["id"]}, headers=deal["firm_m"]["h"]), 409)
    ref = api.delete(f"{V1}/inquiries/{iid}/broker", headers=deal["firm_m"]["h"])
    assert ref.status == 200 and ref.body["broker"] is None
    assert notes(cdb, b, "broker_removed", iid) == 1   # never admitted the second time: not told


def test_negotiation_of_a_state_funded_result_goes_through_public_notice(api, cdb, deal):
    r = result(cdb, deal["uni"])
    resp = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "我司有意受让，请报价", "price_fen": 3_000_000},
                    headers=deal["firm_m"]["h"])
    assert resp.status == 201, resp
    inq = resp.body
    assert inq["status"] == "open" and inq["seller"]["id"] == deal["uni"]["id"] and inq["buyer"]["id"] == deal["firm"]["id"]
    # the other side is notified; the holder answers with a counter-offer
    assert notes(cdb, deal["uni_m"], "inquiry", inq["id"]) == 1
    m = api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "报价四百万元", "price_fen": 4_000_000},
                 headers=deal["uni_m"]["h"])
    assert m.status == 201 and len(m.body["messages"]) == 2
    # an outsider can neither read nor write it
    before = counts(cdb)
    assert_problem(api.get(f"{V1}/inquiries/{inq['id']}", headers=deal["other_m"]["h"]), 404)
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "插话"}, headers=deal["other_m"]["h"]), 404)
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 1}, headers=deal["other_m"]["h"]), 404)
    assert counts(cdb) == before
    # the buyer accepts the holder's price; a state-funded university: a notice, no contract yet
    a = api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 4_000_000}, headers=deal["firm_m"]["h"])
    assert a.status == 200 and a.body["status"] == "agreed" and a.body["contract_id"] is None
    notice = a.body["notice"]
    assert notice["status"] == "active"
    assert query(cdb, "SELECT status FROM results WHERE id = %s", r["id"])[0]["status"] == "under_notice"
    listed = api.get(f"{V1}/notices")
    assert any(n["id"] == notice["id"] and n["price_fen"] == 4_000_000 and n["result_title"] == r["title"]
               for n in listed.body["items"])
    # the result's page asks for its own notices only
    own = api.get(f"{V1}/notices?result_id={r['id']}").body["items"]
    assert [n["id"] for n in own] == [notice["id"]]
    assert api.get(f"{V1}/notices?result_id=99999999").body["items"] == []
    # a second agree is refused
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 1}, headers=deal["uni_m"]["h"]), 409)
    # anyone may object during the notice; the notice then waits for the decision
    ob = api.post(f"{V1}/notices/{notice['id']}/objections", json={"name": "张三", "contact": "13800000000",
                                                                   "body": "定价明显低于评估价"})
    assert ob.status == 201
    assert api.get(f"{V1}/notices?pending_objections=true&limit=100").body["items"][0]["pending_objections"] >= 1
    # the reviewer reads it with the contact; the parties without; an outsider not at all
    rv = api.get(f"{V1}/notices/{notice['id']}/objections", headers=deal["reviewer"]["h"])
    assert rv.status == 200 and rv.body["items"][0]["contact"] == "13800000000" and rv.body["items"][0]["status"] == "filed"
    pv = api.get(f"{V1}/notices/{notice['id']}/objections", headers=deal["uni_m"]["h"])
    assert pv.status == 200 and pv.body["items"][0]["contact"] is None and pv.body["items"][0]["body"] == "定价明显低于评估价"
    assert_problem(api.get(f"{V1}/notices/{notice['id']}/objections", headers=deal["other_m"]["h"]), 404)
    query(cdb, "UPDATE notices SET ends_at = now() - interval '1 second' WHERE id = %s", notice["id"])
    sweep(cdb)
    assert query(cdb, "SELECT status FROM notices WHERE id = %s", notice["id"])[0]["status"] == "active"
    # a member may not decide objections; the reviewer upholds it → the deal fails, no contract
    assert_problem(api.post(f"{V1}/notices/{notice['id']}/objections/{ob.body['id']}/decide",
                            json={"decision": "upheld"}, headers=deal["firm_m"]["h"]), 403)
    d = api.post(f"{V1}/notices/{notice['id']}/objections/{ob.body['id']}/decide",
                 json={"decision": "upheld", "note": "评估价属实"}, headers=deal["reviewer"]["h"])
    assert d.status == 200 and d.body["status"] == "upheld"
    assert notes(cdb, deal["uni_m"], "objection_decided", notice["id"]) == 1
    sweep(cdb)
    assert query(cdb, "SELECT status FROM notices WHERE id = %s", notice["id"])[0]["status"] == "failed"
    assert query(cdb, "SELECT status FROM results WHERE id = %s", r["id"])[0]["status"] == "published"
    assert query(cdb, "SELECT contract_id FROM inquiries WHERE id = %s", inq["id"])[0]["contract_id"] is None
    # objections after the end are refused
    assert_problem(api.post(f"{V1}/notices/{notice['id']}/objections", json={"name": "李四", "contact": "x", "body": "y"}), 409)


def test_notice_without_upheld_objection_yields_the_contract_draft(api, cdb, deal):
    r = result(cdb, deal["uni"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "意向受让"}, headers=deal["firm_m"]["h"]).body
    assert agree(api, deal["uni_m"], inq["id"], 2_500_000).body["status"] == "open"   # the university proposes
    a = agree(api, deal["firm_m"], inq["id"], 2_500_000).body                          # the buyer accepts
    nid = a["notice"]["id"]
    ob = api.post(f"{V1}/notices/{nid}/objections", json={"name": "王五", "contact": "w@x.cn", "body": "请核实"}).body
    api.post(f"{V1}/notices/{nid}/objections/{ob['id']}/decide", json={"decision": "dismissed"}, headers=deal["reviewer"]["h"])
    query(cdb, "UPDATE notices SET ends_at = now() WHERE id = %s", nid)
    sweep(cdb)
    row = query(cdb, "SELECT i.contract_id, c.status, c.seller_org_id, c.buyer_org_id, c.contract_amount_fen, c.result_id,"
                     " c.contract_type, r.status AS rstatus FROM inquiries i JOIN contracts c ON c.id = i.contract_id"
                     " JOIN results r ON r.id = i.result_id WHERE i.id = %s", inq["id"])[0]
    assert row["status"] == "draft" and row["seller_org_id"] == deal["uni"]["id"] and row["buyer_org_id"] == deal["firm"]["id"]
    assert row["contract_amount_fen"] == 2_500_000 and row["result_id"] == r["id"] and row["contract_type"] == "transfer"
    assert row["rstatus"] == "transacted"
    # the draft is the seller's to complete: the university member sees it, and so does the buyer
    for who in ("uni_m", "firm_m"):   # made by the sweeper: nobody acted, both sides are told
        c = api.get(f"{V1}/contracts/{row['contract_id']}", headers=deal[who]["h"])
        assert c.status == 200 and c.body["status"] == "draft"
        assert notes(cdb, deal[who], "notice_passed", nid) == 1 and notes(cdb, deal[who], "contract_draft", row["contract_id"]) == 1


def test_non_state_seller_agreement_and_need_inquiry_make_a_draft_at_once(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "请洽谈", "price_fen": 900_000},
                   headers=deal["firm_m"]["h"]).body
    a = agree(api, deal["seller_m"], inq["id"], 900_000).body
    assert a["contract_id"] and a["notice"] is None
    # a holder offering its technology on an open need
    need = query(cdb, "INSERT INTO needs (org_id, title, description, domain, region_code, status, published_at,"
                      " submitted_at, deadline) VALUES (%s, '求购节水灌溉技术', '测试需求', 'agriculture',"
                      " (SELECT region_code FROM orgs WHERE id = %s), 'open', now(), now(), current_date + 60)"
                      " RETURNING id", deal["firm"]["id"], deal["firm"]["id"])[0]
    ni = api.post(f"{V1}/inquiries", json={"need_id": need["id"], "message": "我方有成熟技术"}, headers=deal["seller_m"]["h"])
    assert ni.status == 201 and ni.body["seller"]["id"] == deal["seller_co"]["id"] and ni.body["buyer"]["id"] == deal["firm"]["id"]
    d = api.post(f"{V1}/inquiries/{ni.body['id']}/decline", json={"reason": "预算不足"}, headers=deal["firm_m"]["h"])
    assert d.status == 200 and d.body["status"] == "declined" and d.body["messages"][-1]["kind"] == "declined"
    assert notes(cdb, deal["seller_m"], "declined", ni.body["id"]) == 1
    closed = assert_problem(api.post(f"{V1}/inquiries/{ni.body['id']}/messages", json={"body": "再考虑？"},
                                     headers=deal["seller_m"]["h"]), 409)
    assert closed["errors"][0]["code"] == "inquiry_closed"


def test_listed_price_purchase_is_agreed_at_once(api, cdb, deal):
    r = result(cdb, deal["uni"], pricing="listed", price=1_200_000)
    p = api.post(f"{V1}/results/{r['id']}/purchase", headers=deal["firm_m"]["h"])
    assert p.status == 201 and p.body["status"] == "agreed" and p.body["agreed_price_fen"] == 1_200_000
    assert p.body["contract_id"] and p.body["kind"] == "listed"
    assert_problem(api.post(f"{V1}/results/{r['id']}/purchase", headers=deal["other_m"]["h"]), 404)  # no longer published
    neg = result(cdb, deal["uni"])
    assert_problem(api.post(f"{V1}/results/{neg['id']}/purchase", headers=deal["firm_m"]["h"]), 409)
    own = result(cdb, deal["firm"], pricing="listed")
    body = assert_problem(api.post(f"{V1}/results/{own['id']}/purchase", headers=deal["firm_m"]["h"]), 422)
    assert error_fields(body) == ["result_id"]


def test_inquiry_bad_input_changes_nothing(api, cdb, deal):
    r = result(cdb, deal["uni"])
    before = counts(cdb)
    h = deal["firm_m"]["h"]
    cases = [
        ({"result_id": r["id"]}, 422, "message"),
        ({"result_id": r["id"], "message": "x", "status": "agreed"}, 400, "status"),
        ({"result_id": r["id"], "message": "x", "seller_org_id": 1}, 400, "seller_org_id"),
        ({"result_id": "1", "message": "x"}, 400, "result_id"),
        ({"result_id": r["id"], "need_id": 1, "message": "x"}, 422, "result_id"),
        ({"message": "x"}, 422, "result_id"),
        ({"result_id": r["id"], "message": "x" * 4001}, 422, "message"),
        ({"result_id": r["id"], "message": "x", "price_fen": -1}, 422, "price_fen"),
        ({"result_id": r["id"], "message": "x", "price_fen": 0}, 422, "price_fen"),
        ({"result_id": r["id"], "message": "x", "broker_user_id": "x"}, 400, "broker_user_id"),
        ({"result_id": 99999999, "message": "x"}, 404, "result_id"),
    ]
    for body, status, field in cases:
        p = assert_problem(api.post(f"{V1}/inquiries", json=body, headers=h), status)
        assert field in error_fields(p), (body, p)
    assert_problem(api.post(f"{V1}/inquiries", data=b"{nope", headers={**h, "Content-Type": "application/json"}), 400)
    assert_problem(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "x"}, headers=deal["reviewer"]["h"]), 403)
    assert_problem(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "x"}), 401)
    own = assert_problem(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "自己"},
                                  headers=deal["uni_m"]["h"]), 422)
    assert error_fields(own) == ["result_id"]
    assert counts(cdb) == before
    # agree: a price of zero or less, or no price, is refused before anything is read
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "询价"}, headers=h).body
    before = counts(cdb)
    for body, status, code in (({"price_fen": 0}, 422, "too_low"), ({"price_fen": -5}, 422, "too_low"),
                               ({"price_fen": 10 ** 15}, 422, "out_of_range"), ({}, 422, "required"),
                               ({"price_fen": "1"}, 400, "wrong_type"), ({"price_fen": 1, "status": "agreed"}, 400, "unknown_field")):
        p = assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json=body, headers=h), status)
        assert [e["code"] for e in p["errors"]] == [code], (body, p)
    zero = assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 0}, headers=h), 422)
    assert zero["errors"][0]["message"] == "must be at least 1 fen"
    assert counts(cdb) == before


def test_inactive_inquiries_expire(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "问问"}, headers=deal["other_m"]["h"]).body
    query(cdb, "UPDATE inquiries SET last_activity_at = now() - interval '31 days' WHERE id = %s", inq["id"])
    sweep(cdb)
    assert query(cdb, "SELECT status FROM inquiries WHERE id = %s", inq["id"])[0]["status"] == "expired"
    for who in ("other_m", "seller_m"):
        assert notes(cdb, deal[who], "expired", inq["id"]) == 1


def open_auction(api, cdb, deal, reserve=1_000_000, increment=10_000, seconds=120, window=30, ext=60):
    r = result(cdb, deal["uni"], pricing="auction", price=None)
    ends = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    a = api.post(f"{V1}/results/{r['id']}/auction", json={"reserve_fen": reserve, "increment_fen": increment,
                 "ends_at": ends, "extension_window_s": window, "extension_s": ext}, headers=deal["uni_m"]["h"])
    assert a.status == 201, a
    return r, a.body


def test_auction_rules_and_winner(api, cdb, deal):
    r, a = open_auction(api, cdb, deal)
    assert a["reserve_fen"] == 1_000_000 and a["status"] == "open"
    public = api.get(f"{V1}/results/{r['id']}/auction").body
    assert public["reserve_fen"] is None  # the reserve is the holder's secret
    before = counts(cdb)
    own = assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 2_000_000}, headers=deal["uni_m"]["h"]), 403)
    assert [(e["field"], e["code"]) for e in own["errors"]] == [("id", "own")]
    zero = assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 0}, headers=deal["firm_m"]["h"]), 422)
    assert zero["errors"][0]["code"] == "too_low"
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": "9"}, headers=deal["firm_m"]["h"]), 400)
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 5, "bidder_org_id": 1},
                            headers=deal["firm_m"]["h"]), 400)
    assert counts(cdb) == before
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 900_000}, headers=deal["firm_m"]["h"]).status == 201
    low = assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 905_000}, headers=deal["other_m"]["h"]), 422)
    assert error_fields(low) == ["amount_fen"] and low["errors"][0]["message"] == "the bid must be at least 910000 fen"
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 910_000}, headers=deal["other_m"]["h"]).status == 201
    assert notes(cdb, deal["firm_m"], "outbid", a["id"]) == 1 and notes(cdb, deal["uni_m"], "bid", a["id"]) == 2
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 1_200_000}, headers=deal["firm_m"]["h"]).status == 201
    assert notes(cdb, deal["other_m"], "outbid", a["id"]) == 1
    # the 竞价 page lists it with its result, holder and current price
    live = [x for x in api.get(f"{V1}/auctions?limit=100").body["items"] if x["id"] == a["id"]]
    assert live and live[0]["best_bid_fen"] == 1_200_000 and live[0]["result"]["holder"]["id"] == deal["uni"]["id"]
    assert live[0]["reserve_fen"] is None and 0 < live[0]["seconds_left"] <= 120
    # the holder sees every bid with bidders; a bidder sees only its own
    assert len(api.get(f"{V1}/results/{r['id']}/bids", headers=deal["uni_m"]["h"]).body["items"]) == 3
    mine = api.get(f"{V1}/results/{r['id']}/bids", headers=deal["other_m"]["h"]).body["items"]
    assert [b["amount_fen"] for b in mine] == [910_000]
    # close: the highest valid bid at or above the reserve wins and becomes a contract draft
    query(cdb, "UPDATE auctions SET ends_at = now() - interval '1 second' WHERE id = %s", a["id"])
    ended = assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 5_000_000}, headers=deal["other_m"]["h"]), 409)
    assert [(e["field"], e["code"]) for e in ended["errors"]] == [("id", "auction_ended")]
    sweep(cdb)
    assert notes(cdb, deal["firm_m"], "auction_won", a["id"]) == 1 and notes(cdb, deal["other_m"], "auction_lost", a["id"]) == 1
    assert notes(cdb, deal["firm_m"], "auction_lost", a["id"]) == 0 and notes(cdb, deal["uni_m"], "auction_closed", a["id"]) == 1
    assert a["id"] in [x["id"] for x in api.get(f"{V1}/auctions?status=closed&limit=100").body["items"]]
    assert_problem(api.get(f"{V1}/auctions?status=bogus"), 400)
    done = api.get(f"{V1}/results/{r['id']}/auction", headers=deal["uni_m"]["h"]).body
    assert done["status"] == "closed" and done["winner"]["amount_fen"] == 1_200_000 and done["winner"]["org"]["id"] == deal["firm"]["id"]
    c = query(cdb, "SELECT c.buyer_org_id, c.contract_amount_fen FROM inquiries i JOIN contracts c ON c.id = i.contract_id"
                   " WHERE i.result_id = %s AND i.kind = 'auction'", r["id"])[0]
    assert c["buyer_org_id"] == deal["firm"]["id"] and c["contract_amount_fen"] == 1_200_000


def test_auction_below_reserve_has_no_winner(api, cdb, deal):
    r, a = open_auction(api, cdb, deal, reserve=5_000_000)
    api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 100_000}, headers=deal["firm_m"]["h"])
    query(cdb, "UPDATE auctions SET ends_at = now() WHERE id = %s", a["id"])
    sweep(cdb)
    row = query(cdb, "SELECT status, winner_bid_id FROM auctions WHERE id = %s", a["id"])[0]
    assert row["status"] == "closed" and row["winner_bid_id"] is None
    assert query(cdb, "SELECT status FROM results WHERE id = %s", r["id"])[0]["status"] == "published"
    assert notes(cdb, deal["firm_m"], "auction_lost", a["id"]) == 1


def test_bid_in_the_last_window_extends_the_end(api, cdb, deal):
    r, a = open_auction(api, cdb, deal, seconds=120, window=300, ext=600)
    old_end = query(cdb, "SELECT ends_at FROM auctions WHERE id = %s", a["id"])[0]["ends_at"]
    b = api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 50_000}, headers=deal["firm_m"]["h"])
    assert b.status == 201
    new_end = query(cdb, "SELECT ends_at FROM auctions WHERE id = %s", a["id"])[0]["ends_at"]
    assert (new_end - old_end).total_seconds() > 400


def test_fifty_concurrent_bids(api, cdb, deal, users):
    """Every accepted bid beat the best before it by the increment, none is lost, and the winner is
    the highest accepted bid — exactly what the rules give in commit order."""
    r, a = open_auction(api, cdb, deal, reserve=0, increment=1_000, seconds=300, window=0, ext=0)
    bidders = [deal["firm_m"], deal["other_m"], deal["seller_m"]]
    amounts = [100_000 + 1_000 * ((i * 37) % 50) for i in range(50)]
    barrier = threading.Barrier(50)

    def place(i):
        from helpers import Api
        client = Api(api.base)
        barrier.wait()
        resp = client.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": amounts[i]}, headers=bidders[i % 3]["h"])
        return i, resp.status, resp.body

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
        results_ = list(ex.map(place, range(50)))
    assert all(s in (201, 422) for _, s, _ in results_), [s for _, s, _ in results_]
    accepted = sorted(b["bid"]["amount_fen"] for _, s, b in results_ if s == 201)
    rows = query(cdb, "SELECT amount_fen FROM bids WHERE auction_id = %s ORDER BY id", a["id"])
    assert sorted(x["amount_fen"] for x in rows) == accepted  # no accepted bid lost, none extra
    seq = [x["amount_fen"] for x in rows]
    assert all(later >= earlier + 1_000 for earlier, later in zip(seq, seq[1:]))  # each beat the best by the increment
    query(cdb, "UPDATE auctions SET ends_at = now() WHERE id = %s", a["id"])
    sweep(cdb)
    win = query(cdb, "SELECT b.amount_fen FROM auctions a JOIN bids b ON b.id = a.winner_bid_id WHERE a.id = %s", a["id"])
    assert win[0]["amount_fen"] == max(accepted)


def test_auction_closes_by_itself_and_after_a_restart(api, cdb, deal, spawn):
    r, a = open_auction(api, cdb, deal, reserve=0, seconds=120)
    api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 70_000}, headers=deal["firm_m"]["h"])
    # ended "while the server was down": a freshly started server closes it on its first sweep
    query(cdb, "UPDATE auctions SET ends_at = now() - interval '1 hour' WHERE id = %s", a["id"])
    extra = spawn()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if query(cdb, "SELECT status FROM auctions WHERE id = %s", a["id"])[0]["status"] == "closed":
            break
        time.sleep(0.2)
    assert query(cdb, "SELECT status FROM auctions WHERE id = %s", a["id"])[0]["status"] == "closed"
    assert query(cdb, "SELECT count(*) AS n FROM inquiries WHERE result_id = %s AND kind = 'auction'", r["id"])[0]["n"] == 1
    del extra


def test_notices_listing(api, cdb, deal):
    assert_problem(api.get(f"{V1}/notices?status=bogus"), 400)
    assert_problem(api.get(f"{V1}/notices?result_id=x"), 400)
    assert_problem(api.get(f"{V1}/notices?pending_objections=maybe"), 400)
    all_ = api.get(f"{V1}/notices?status=all&limit=2")
    assert all_.status == 200 and len(all_.body["items"]) <= 2
    assert_problem(api.get(f"{V1}/deal-notifications", headers=deal["uni_m"]["h"]), 404)   # folded into /notifications


def test_brokers_found_by_organisation_and_q_bounded(api, cdb, deal):
    """GET /brokers: q matches a broker's name or organisation; empty q is no filter; over 100 characters 400."""
    h = deal["firm_m"]["h"]
    r = api.get(f"{V1}/brokers", params={"q": deal["agency"]["name"]}, headers=h)
    assert r.status == 200, r
    assert [i["id"] for i in r.body["items"]] == [deal["broker"]["id"]]
    assert r.body["items"][0]["org"] == {"id": deal["agency"]["id"], "name": deal["agency"]["name"]}
    r = api.get(f"{V1}/brokers", params={"q": "", "limit": "100"}, headers=h)
    assert r.status == 200 and deal["broker"]["id"] in [i["id"] for i in r.body["items"]], r
    before = counts(cdb)
    p = assert_problem(api.get(f"{V1}/brokers", params={"q": "经" * 101}, headers=h), 400)
    assert error_fields(p) == ["q"]
    assert counts(cdb) == before


@pytest.mark.parametrize("message,code", [("", "required"), (" \t\n", "required"), ("问" * 4001, "too_long")])
def test_inquiry_message_must_say_something_within_4000(api, cdb, deal, message, code):
    r = result(cdb, deal["uni"])
    before = counts(cdb)
    p = assert_problem(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": message},
                                headers=deal["firm_m"]["h"]), 422)
    assert [(e["field"], e["code"]) for e in p["errors"]] == [("message", code)], p
    assert counts(cdb) == before
