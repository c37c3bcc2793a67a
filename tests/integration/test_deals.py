"""Deal flow (issue 5): inquiries and negotiation, public notice (公示) with
objections, listed-price purchase, auctions with 50 concurrent bids, contract
drafts from concluded deals, the sweeper (expiry, notice end, auction close,
also after a restart), and bad input that changes nothing."""
import concurrent.futures
import datetime
import threading
import time

import pytest

from contract_fixtures import *  # noqa: F401,F403
from helpers import assert_problem, error_fields, query

V1 = "/api/v1"


def result(db, org, pricing="negotiated", price=5_000_000, status="published", modes=("transfer",)):
    return query(db, """
        INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,
                             published_at, pricing_mode, asking_price_fen, transfer_modes)
        VALUES (%s, %s, '一种用于高原地区的技术成果，测试用。', 'agriculture', 6,
                (SELECT region_code FROM orgs WHERE id = %s), %s, now(), now(), %s, %s, %s)
        RETURNING id, title""", org["id"], "测试成果 " + uniq("r"), org["id"], status, pricing, price,
                 list(modes))[0]


def sweep(db):
    return query(db, "SELECT deal_sweep() AS s")[0]["s"]


@pytest.fixture(scope="module")
def deal(cdb, users):
    region = free_county(cdb)
    uni = new_org(cdb, region, org_type="022")
    query(cdb, "UPDATE orgs SET state_funded = true WHERE id = %s", uni["id"])
    firm = new_org(cdb, region, org_type="150")
    other = new_org(cdb, region, org_type="150")
    seller_co = new_org(cdb, region, org_type="160")   # not state-funded
    return {
        "uni": uni, "firm": firm, "other": other, "seller_co": seller_co,
        "uni_m": make_actor(users, "member", org=uni["id"]),
        "firm_m": make_actor(users, "member", org=firm["id"]),
        "other_m": make_actor(users, "member", org=other["id"]),
        "seller_m": make_actor(users, "member", org=seller_co["id"]),
        "reviewer": make_actor(users, "reviewer"),
    }


def counts(db, inquiry_id=None):
    return query(db, "SELECT (SELECT count(*) FROM inquiries) AS inquiries, (SELECT count(*) FROM inquiry_messages) AS msgs,"
                     " (SELECT count(*) FROM contracts) AS contracts, (SELECT count(*) FROM notices) AS notices,"
                     " (SELECT count(*) FROM bids) AS bids, (SELECT count(*) FROM audit_log) AS audit")[0]


def test_negotiation_of_a_state_funded_result_goes_through_public_notice(api, cdb, deal):
    r = result(cdb, deal["uni"])
    resp = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "我司有意受让，请报价", "price_fen": 3_000_000},
                    headers=deal["firm_m"]["h"])
    assert resp.status == 201, resp
    inq = resp.body
    assert inq["status"] == "open" and inq["seller"]["id"] == deal["uni"]["id"] and inq["buyer"]["id"] == deal["firm"]["id"]
    # the other side is notified; the holder answers
    assert query(cdb, "SELECT count(*) AS n FROM deal_notifications WHERE org_id = %s AND kind = 'inquiry' AND ref_id = %s",
                 deal["uni"]["id"], inq["id"])[0]["n"] == 1
    m = api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "报价四百万元", "price_fen": 4_000_000},
                 headers=deal["uni_m"]["h"])
    assert m.status == 201 and len(m.body["messages"]) == 2
    # an outsider can neither read nor write it
    before = counts(cdb)
    assert_problem(api.get(f"{V1}/inquiries/{inq['id']}", headers=deal["other_m"]["h"]), 404)
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "插话"}, headers=deal["other_m"]["h"]), 404)
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 1}, headers=deal["other_m"]["h"]), 404)
    assert counts(cdb) == before
    # agreement at a negotiated price by a state-funded university: a notice, no contract yet
    a = api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 4_000_000}, headers=deal["firm_m"]["h"])
    assert a.status == 200 and a.body["status"] == "agreed" and a.body["contract_id"] is None
    notice = a.body["notice"]
    assert notice["status"] == "active"
    assert query(cdb, "SELECT status FROM results WHERE id = %s", r["id"])[0]["status"] == "under_notice"
    listed = api.get(f"{V1}/notices")
    assert any(n["id"] == notice["id"] and n["price_fen"] == 4_000_000 and n["result_title"] == r["title"]
               for n in listed.body["items"])
    # a second agree is refused
    assert_problem(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 1}, headers=deal["uni_m"]["h"]), 409)
    # anyone may object during the notice; the notice then waits for the decision
    ob = api.post(f"{V1}/notices/{notice['id']}/objections", json={"name": "张三", "contact": "13800000000",
                                                                   "body": "定价明显低于评估价"})
    assert ob.status == 201
    query(cdb, "UPDATE notices SET ends_at = now() - interval '1 second' WHERE id = %s", notice["id"])
    sweep(cdb)
    assert query(cdb, "SELECT status FROM notices WHERE id = %s", notice["id"])[0]["status"] == "active"
    # a member may not decide objections; the reviewer upholds it → the deal fails, no contract
    assert_problem(api.post(f"{V1}/notices/{notice['id']}/objections/{ob.body['id']}/decide",
                            json={"decision": "upheld"}, headers=deal["firm_m"]["h"]), 403)
    d = api.post(f"{V1}/notices/{notice['id']}/objections/{ob.body['id']}/decide",
                 json={"decision": "upheld", "note": "评估价属实"}, headers=deal["reviewer"]["h"])
    assert d.status == 200 and d.body["status"] == "upheld"
    sweep(cdb)
    assert query(cdb, "SELECT status FROM notices WHERE id = %s", notice["id"])[0]["status"] == "failed"
    assert query(cdb, "SELECT status FROM results WHERE id = %s", r["id"])[0]["status"] == "published"
    assert query(cdb, "SELECT contract_id FROM inquiries WHERE id = %s", inq["id"])[0]["contract_id"] is None
    # objections after the end are refused
    assert_problem(api.post(f"{V1}/notices/{notice['id']}/objections", json={"name": "李四", "contact": "x", "body": "y"}), 409)


def test_notice_without_upheld_objection_yields_the_contract_draft(api, cdb, deal):
    r = result(cdb, deal["uni"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "意向受让"}, headers=deal["firm_m"]["h"]).body
    a = api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 2_500_000}, headers=deal["uni_m"]["h"]).body
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
    # the draft is the seller's to complete: the university member sees it
    c = api.get(f"{V1}/contracts/{row['contract_id']}", headers=deal["uni_m"]["h"])
    assert c.status == 200 and c.body["status"] == "draft"


def test_non_state_seller_agreement_and_need_inquiry_make_a_draft_at_once(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "请洽谈"}, headers=deal["firm_m"]["h"]).body
    a = api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 900_000}, headers=deal["seller_m"]["h"]).body
    assert a["contract_id"] and a["notice"] is None
    # a holder offering its technology on an open need
    need = query(cdb, "INSERT INTO needs (org_id, title, description, domain, region_code, status, published_at,"
                      " submitted_at, deadline) VALUES (%s, '求购节水灌溉技术', '测试需求', 'agriculture',"
                      " (SELECT region_code FROM orgs WHERE id = %s), 'open', now(), now(), current_date + 60)"
                      " RETURNING id", deal["firm"]["id"], deal["firm"]["id"])[0]
    ni = api.post(f"{V1}/inquiries", json={"need_id": need["id"], "message": "我方有成熟技术"}, headers=deal["seller_m"]["h"])
    assert ni.status == 201 and ni.body["seller"]["id"] == deal["seller_co"]["id"] and ni.body["buyer"]["id"] == deal["firm"]["id"]
    d = api.post(f"{V1}/inquiries/{ni.body['id']}/decline", json={"reason": "预算不足"}, headers=deal["firm_m"]["h"])
    assert d.status == 200 and d.body["status"] == "declined"
    assert_problem(api.post(f"{V1}/inquiries/{ni.body['id']}/messages", json={"body": "再考虑？"},
                            headers=deal["seller_m"]["h"]), 409)


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


def test_inactive_inquiries_expire(api, cdb, deal):
    r = result(cdb, deal["seller_co"])
    inq = api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "问问"}, headers=deal["other_m"]["h"]).body
    query(cdb, "UPDATE inquiries SET last_activity_at = now() - interval '31 days' WHERE id = %s", inq["id"])
    sweep(cdb)
    assert query(cdb, "SELECT status FROM inquiries WHERE id = %s", inq["id"])[0]["status"] == "expired"


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
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 2_000_000}, headers=deal["uni_m"]["h"]), 403)
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 0}, headers=deal["firm_m"]["h"]), 422)
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": "9"}, headers=deal["firm_m"]["h"]), 400)
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 5, "bidder_org_id": 1},
                            headers=deal["firm_m"]["h"]), 400)
    assert counts(cdb) == before
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 900_000}, headers=deal["firm_m"]["h"]).status == 201
    low = assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 905_000}, headers=deal["other_m"]["h"]), 422)
    assert error_fields(low) == ["amount_fen"]
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 910_000}, headers=deal["other_m"]["h"]).status == 201
    assert api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 1_200_000}, headers=deal["firm_m"]["h"]).status == 201
    # the holder sees every bid with bidders; a bidder sees only its own
    assert len(api.get(f"{V1}/results/{r['id']}/bids", headers=deal["uni_m"]["h"]).body["items"]) == 3
    mine = api.get(f"{V1}/results/{r['id']}/bids", headers=deal["other_m"]["h"]).body["items"]
    assert [b["amount_fen"] for b in mine] == [910_000]
    # close: the highest valid bid at or above the reserve wins and becomes a contract draft
    query(cdb, "UPDATE auctions SET ends_at = now() - interval '1 second' WHERE id = %s", a["id"])
    assert_problem(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 5_000_000}, headers=deal["other_m"]["h"]), 409)
    sweep(cdb)
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


def test_notices_and_notifications_listing(api, cdb, deal):
    assert_problem(api.get(f"{V1}/notices?status=bogus"), 400)
    all_ = api.get(f"{V1}/notices?status=all&limit=2")
    assert all_.status == 200 and len(all_.body["items"]) <= 2
    notes = api.get(f"{V1}/deal-notifications", headers=deal["uni_m"]["h"])
    assert notes.status == 200 and notes.body["items"]
    assert_problem(api.get(f"{V1}/deal-notifications"), 401)
