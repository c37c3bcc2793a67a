"""The message centre (issue 17): every event a person should see is one row of `notifications` for each
recipient — saved-search matches, inquiries and messages, proposals and agreements, brokers, notices and
objections, bids, outbid, auctions won / lost / closed, contract drafts, and registration events (returned
for 补正 with its deadline, registered, refused, amendment decided).  Each kind reaches exactly the users it
should (every active user of the organisations addressed, the admitted broker, never the person who acted)
and no one else, exactly once; one webhook delivery per addressed organisation goes through the one outbox.
GET /notifications lists them with filters, GET /notifications/unread-count counts the unread ones, and
one or all are marked read."""
import collections
import datetime
import json
import time

import pytest

from contract_fixtures import *  # noqa: F401,F403
from helpers import assert_problem, query
from market_fixtures import Receiver, result_body, wait_until

V1 = "/api/v1"


class MC:
    pass


@pytest.fixture(scope="module")
def mc(cdb, users):
    w = MC()
    w.office = new_office(cdb)
    region = w.office["region_code"]
    w.S = new_org(cdb, region, org_type="160", name="卖方公司 " + uniq())
    w.B = new_org(cdb, region, org_type="150", name="买方公司 " + uniq())
    w.U = new_org(cdb, region, org_type="022", name="国有高校 " + uniq())
    query(cdb, "UPDATE orgs SET state_funded = true WHERE id = %s", w.U["id"])
    w.O = new_org(cdb, region, org_type="150", name="另一公司 " + uniq())
    w.G = new_org(cdb, region, org_type="160", name="技术转移机构 " + uniq())
    w.s1, w.s2 = (make_actor(users, "member", org=w.S["id"]) for _ in range(2))
    w.b1, w.b2 = (make_actor(users, "member", org=w.B["id"]) for _ in range(2))
    w.u1 = make_actor(users, "member", org=w.U["id"])
    w.o1 = make_actor(users, "member", org=w.O["id"])
    w.k = make_actor(users, "broker", org=w.G["id"])
    w.reviewer = make_actor(users, "reviewer")
    w.officer = make_actor(users, "officer", office=w.office["id"])
    w.admin = make_actor(users, "admin")
    # an inactive member of the seller: never notified
    w.s_off = make_actor(users, "member", org=w.S["id"])
    query(cdb, "UPDATE users SET active = false WHERE id = %s", w.s_off["id"])
    w.people = {n: getattr(w, n) for n in ("s1", "s2", "b1", "b2", "u1", "o1", "k", "reviewer", "officer", "admin",
                                           "s_off")}
    return w


def result(db, org, pricing="negotiated", price=5_000_000):
    return query(db, """
        INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,
                             published_at, pricing_mode, asking_price_fen, transfer_modes)
        VALUES (%s, %s, '测试成果', 'agriculture', 6, (SELECT region_code FROM orgs WHERE id = %s), 'published',
                now(), now(), %s, %s, '{transfer}') RETURNING id, title""",
                 org["id"], "消息测试成果 " + uniq(), org["id"], pricing, price)[0]


def mark(db):
    return query(db, "SELECT coalesce(max(id), 0) AS m FROM notifications")[0]["m"]


def received(db, w, since, *refs):
    """(person, kind) → count, for rows after `since` about one of the objects refs ((ref_kind, ref_id) pairs):
    whoever was told, in the world or not.  Rows about other objects are left out: the server's own sweeper may
    close an earlier test's auction or notice at any moment and tell the same people about that.  A stranger's
    own saved search matching a new listing is that stranger's business (other modules leave broad ones behind
    in the same database), so subscription matches count only within the world."""
    names = {p["id"]: n for n, p in w.people.items()}
    about = " OR ".join(["(ref_kind = %s AND ref_id = %s)"] * len(refs)) or "false"
    rows = query(db, f"""SELECT user_id, kind FROM notifications
                         WHERE id > %s AND ({about}) AND (kind <> 'subscription_match' OR user_id = ANY(%s))""",
                 since, *[x for r in refs for x in r], list(names))
    return collections.Counter((names.get(r["user_id"], f"user {r['user_id']}"), r["kind"]) for r in rows)


def expect(db, w, since, ref, *spec):
    """spec: (kind, "s1 s2 ...") pairs; each named person gets exactly one of that kind, nobody else anything."""
    want = collections.Counter()
    for kind, who in spec:
        for n in who.split():
            want[(n, kind)] += 1
    got = received(db, w, since, ref)
    assert got == want, f"\n  got  {sorted(got.items())}\n  want {sorted(want.items())}"


def ok(resp, status=200):
    assert resp.status == status, resp
    return resp.body


def sweep(db, done_sql, *args):
    """Run the sweeper until done_sql answers true.  The server's own sweeper runs every second as well and
    may hold the row (SKIP LOCKED): then ours skips it and the server's commits a moment later."""
    for _ in range(100):
        query(db, "SELECT deal_sweep()")
        if query(db, done_sql, *args)[0]["done"]:
            return
        time.sleep(0.05)
    raise AssertionError("the sweeper did not close it: " + done_sql)


def test_inquiry_events_reach_the_right_people_once(api, cdb, mc):
    w = mc
    r = result(cdb, w.S)
    m = mark(cdb)
    inq = ok(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "有意受让", "broker_user_id": w.k["id"]},
                      headers=w.b1["h"]), 201)
    iid = inq["id"]
    ref = ("inquiry", iid)
    expect(cdb, w, m, ref, ("inquiry", "s1 s2"), ("broker_request", "s1 s2"))
    n = query(cdb, "SELECT org_id, title, data FROM notifications WHERE kind = 'inquiry' AND ref_id = %s AND user_id = %s",
              iid, w.s1["id"])[0]
    assert n["org_id"] == w.S["id"] and r["title"] in n["title"] and n["data"] == {"inquiry_id": iid, "result_id": r["id"]}

    m = mark(cdb)
    ok(api.post(f"{V1}/inquiries/{iid}/broker/accept", headers=w.s1["h"]))
    expect(cdb, w, m, ref, ("broker_admitted", "k b1 b2"))

    m = mark(cdb)
    ok(api.post(f"{V1}/inquiries/{iid}/messages", json={"body": "欢迎"}, headers=w.s2["h"]), 201)
    expect(cdb, w, m, ref, ("message", "b1 b2 k"))

    m = mark(cdb)
    ok(api.post(f"{V1}/inquiries/{iid}/messages", json={"body": "经纪人建议"}, headers=w.k["h"]), 201)
    expect(cdb, w, m, ref, ("message", "s1 s2 b1 b2"))

    m = mark(cdb)
    ok(api.post(f"{V1}/inquiries/{iid}/agree", json={"price_fen": 4_200_000}, headers=w.s1["h"]))
    expect(cdb, w, m, ref, ("proposal", "b1 b2 k"))
    assert query(cdb, "SELECT data FROM notifications WHERE kind = 'proposal' AND ref_id = %s AND user_id = %s",
                 iid, w.b1["id"])[0]["data"]["price_fen"] == 4_200_000

    m = mark(cdb)
    done = ok(api.post(f"{V1}/inquiries/{iid}/agree", json={"price_fen": 4_200_000}, headers=w.b2["h"]))
    got = received(cdb, w, m, ref, ("contract", done["contract_id"]))
    assert got == collections.Counter({("s1", "agreed"): 1, ("s2", "agreed"): 1, ("b1", "agreed"): 1, ("k", "agreed"): 1,
                                       ("s1", "contract_draft"): 1, ("s2", "contract_draft"): 1,
                                       ("b1", "contract_draft"): 1}), got

    # declined
    r2 = result(cdb, w.S)
    inq2 = ok(api.post(f"{V1}/inquiries", json={"result_id": r2["id"], "message": "询价"}, headers=w.b1["h"]), 201)
    m = mark(cdb)
    ok(api.post(f"{V1}/inquiries/{inq2['id']}/decline", json={"reason": "暂不转让"}, headers=w.s1["h"]))
    expect(cdb, w, m, ("inquiry", inq2["id"]), ("declined", "b1 b2"))

    # a broker removed by the party that brought them
    r3 = result(cdb, w.S)
    inq3 = ok(api.post(f"{V1}/inquiries", json={"result_id": r3["id"], "message": "委托经纪人", "broker_user_id": w.k["id"]},
                       headers=w.b1["h"]), 201)
    ok(api.post(f"{V1}/inquiries/{inq3['id']}/broker/accept", headers=w.s2["h"]))
    m = mark(cdb)
    ok(api.delete(f"{V1}/inquiries/{inq3['id']}/broker", headers=w.b2["h"]))
    expect(cdb, w, m, ("inquiry", inq3["id"]), ("broker_removed", "k s1 s2"))

    # expired by the sweeper: both sides, nobody acted
    m = mark(cdb)
    query(cdb, "UPDATE inquiries SET last_activity_at = now() - interval '400 days' WHERE id = %s", inq3["id"])
    sweep(cdb, "SELECT status = 'expired' AS done FROM inquiries WHERE id = %s", inq3["id"])
    expect(cdb, w, m, ("inquiry", inq3["id"]), ("expired", "s1 s2 b1 b2"))


def test_notice_events(api, cdb, mc):
    w = mc
    r = result(cdb, w.U)
    inq = ok(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "报价", "price_fen": 800_000},
                      headers=w.b1["h"]), 201)
    m = mark(cdb)
    a = ok(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 800_000}, headers=w.u1["h"]))
    nid = a["notice"]["id"]
    got = received(cdb, w, m, ("notice", nid), ("inquiry", inq["id"]))
    assert got == collections.Counter({("b1", "agreed"): 1, ("b2", "agreed"): 1, ("b1", "notice"): 1, ("b2", "notice"): 1}), got

    m = mark(cdb)
    ob = ok(api.post(f"{V1}/notices/{nid}/objections", json={"name": "公众", "contact": "c@x.cn", "body": "请核实价格"}), 201)
    expect(cdb, w, m, ("notice", nid), ("objection", "u1 b1 b2"))
    m = mark(cdb)
    ok(api.post(f"{V1}/notices/{nid}/objections/{ob['id']}/decide", json={"decision": "dismissed", "note": "价格合理"},
                headers=w.reviewer["h"]))
    expect(cdb, w, m, ("notice", nid), ("objection_decided", "u1 b1 b2"))
    m = mark(cdb)
    query(cdb, "UPDATE notices SET ends_at = now() WHERE id = %s", nid)
    sweep(cdb, "SELECT status = 'passed' AS done FROM notices WHERE id = %s", nid)
    cid = query(cdb, "SELECT contract_id FROM inquiries WHERE id = %s", inq["id"])[0]["contract_id"]
    got = received(cdb, w, m, ("notice", nid), ("contract", cid))
    assert got == collections.Counter({(p, k): 1 for p in ("u1", "b1", "b2") for k in ("notice_passed", "contract_draft")}), got
    assert query(cdb, "SELECT count(*) AS n FROM notifications WHERE kind = 'contract_draft' AND ref_id = %s", cid)[0]["n"] == 3

    # an upheld objection: the notice fails
    r2 = result(cdb, w.U)
    inq2 = ok(api.post(f"{V1}/inquiries", json={"result_id": r2["id"], "message": "报价", "price_fen": 500_000},
                       headers=w.b1["h"]), 201)
    nid2 = ok(api.post(f"{V1}/inquiries/{inq2['id']}/agree", json={"price_fen": 500_000}, headers=w.u1["h"]))["notice"]["id"]
    ob2 = ok(api.post(f"{V1}/notices/{nid2}/objections", json={"name": "公众", "contact": "c@x.cn", "body": "低价"}), 201)
    ok(api.post(f"{V1}/notices/{nid2}/objections/{ob2['id']}/decide", json={"decision": "upheld"}, headers=w.reviewer["h"]))
    m = mark(cdb)
    query(cdb, "UPDATE notices SET ends_at = now() WHERE id = %s", nid2)
    sweep(cdb, "SELECT status = 'failed' AS done FROM notices WHERE id = %s", nid2)
    expect(cdb, w, m, ("notice", nid2), ("notice_failed", "u1 b1 b2"))


def test_auction_and_purchase_events(api, cdb, mc):
    w = mc
    r = result(cdb, w.S, pricing="auction", price=None)
    ends = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    a = ok(api.post(f"{V1}/results/{r['id']}/auction", json={"reserve_fen": 100_000, "increment_fen": 10_000,
                                                              "ends_at": ends}, headers=w.s1["h"]), 201)
    ref = ("auction", a["id"])
    m = mark(cdb)
    ok(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 100_000}, headers=w.b1["h"]), 201)
    expect(cdb, w, m, ref, ("bid", "s1 s2"))
    m = mark(cdb)
    ok(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 120_000}, headers=w.o1["h"]), 201)
    expect(cdb, w, m, ref, ("bid", "s1 s2"), ("outbid", "b1 b2"))
    m = mark(cdb)
    ok(api.post(f"{V1}/results/{r['id']}/bids", json={"amount_fen": 130_000}, headers=w.o1["h"]), 201)
    expect(cdb, w, m, ref, ("bid", "s1 s2"))   # raising one's own lead outbids nobody
    m = mark(cdb)
    query(cdb, "UPDATE auctions SET ends_at = now() WHERE id = %s", a["id"])
    sweep(cdb, "SELECT status = 'closed' AS done FROM auctions WHERE id = %s", a["id"])
    cid = query(cdb, "SELECT contract_id FROM inquiries WHERE result_id = %s AND kind = 'auction'", r["id"])[0]["contract_id"]
    got = received(cdb, w, m, ref, ("contract", cid))
    assert got == collections.Counter({("o1", "auction_won"): 1, ("s1", "auction_closed"): 1, ("s2", "auction_closed"): 1,
                                       ("b1", "auction_lost"): 1, ("b2", "auction_lost"): 1, ("s1", "contract_draft"): 1,
                                       ("s2", "contract_draft"): 1, ("o1", "contract_draft"): 1}), got
    d = query(cdb, "SELECT data FROM notifications WHERE kind = 'auction_won' AND user_id = %s AND ref_id = %s",
              w.o1["id"], a["id"])[0]["data"]
    assert d["result_id"] == r["id"] and d["amount_fen"] == 130_000

    # listed price: the buyer accepts the standing offer
    lr = result(cdb, w.S, pricing="listed", price=2_000_000)
    m = mark(cdb)
    p = ok(api.post(f"{V1}/results/{lr['id']}/purchase", headers=w.b1["h"]), 201)
    got = received(cdb, w, m, ("inquiry", p["id"]), ("contract", p["contract_id"]))
    assert got == collections.Counter({("s1", "agreed"): 1, ("s2", "agreed"): 1, ("s1", "contract_draft"): 1,
                                       ("s2", "contract_draft"): 1, ("b2", "contract_draft"): 1}), got


def test_registration_events(api, cdb, mc):
    w = mc
    c = create_contract(api, w.s1["h"], contract_body(cdb, w.S, w.B))
    submit(api, w.s1["h"], c["id"])
    ref = ("contract", c["id"])
    m = mark(cdb)
    ret = ok(api.post(f"{V1}/contracts/{c['id']}/return", json={"reason": "请补充技术交易额的计算依据"}, headers=w.officer["h"]))
    expect(cdb, w, m, ref, ("contract_returned", "s1 s2"))
    due = query(cdb, "SELECT add_working_days(today_cn(), setting_int('correction_days', 10)::int)::text AS d")[0]["d"]
    assert ret["correction_due_on"] == due
    n = query(cdb, "SELECT title, data FROM notifications WHERE kind = 'contract_returned' AND user_id = %s AND ref_id = %s",
              w.s2["id"], c["id"])[0]
    assert n["data"] == {"due_on": due, "reason": "请补充技术交易额的计算依据"} and due in n["title"]
    # the deadline is shown on the contract to its parties, and cleared when resubmitted
    assert api.get(f"{V1}/contracts/{c['id']}", headers=w.b1["h"]).body["correction_due_on"] == due
    assert submit(api, w.s1["h"], c["id"])["correction_due_on"] is None
    m = mark(cdb)
    reg = register(api, w.officer["h"], c["id"])
    expect(cdb, w, m, ref, ("contract_registered", "s1 s2 b1 b2"))
    assert query(cdb, "SELECT data FROM notifications WHERE kind = 'contract_registered' AND user_id = %s AND ref_id = %s",
                 w.b1["id"], c["id"])[0]["data"] == {"registration_no": reg["registration_no"]}

    m = mark(cdb)
    ok(api.post(f"{V1}/contracts/{c['id']}/amend", json={"reason": "调整合同名称", "changes": {"title": "变更后 " + uniq()}},
                headers=w.s1["h"]))
    expect(cdb, w, m, ref)   # a request by the applicant itself: nobody else is told yet
    change_id = api.get(f"{V1}/contracts/{c['id']}", headers=w.s1["h"]).body["pending_change"]["id"]
    m = mark(cdb)
    ok(api.post(f"{V1}/contracts/{c['id']}/amend", json={"change_id": change_id, "decision": "confirm", "note": "同意"},
                headers=w.officer["h"]))
    expect(cdb, w, m, ref, ("contract_change_decided", "s1 s2"))

    c2 = create_contract(api, w.s1["h"], contract_body(cdb, w.S, w.B))
    submit(api, w.s1["h"], c2["id"])
    m = mark(cdb)
    ok(api.post(f"{V1}/contracts/{c2['id']}/refuse", json={"ground": "not_technology_contract", "detail": "属于设备采购"},
                headers=w.officer["h"]))
    expect(cdb, w, m, ("contract", c2["id"]), ("contract_refused", "s1 s2"))


def test_saved_search_match_reaches_its_owner_only(api, cdb, mc):
    w = mc
    tag = uniq("订阅")
    sub = ok(api.post(f"{V1}/subscriptions", json={"name": "关注 " + tag, "q": tag}, headers=w.b1["h"]), 201)
    res = ok(api.post(f"{V1}/results", json=result_body(title=f"{tag}成果"), headers=w.s1["h"]), 201)
    ok(api.post(f"{V1}/results/{res['id']}/submit", headers=w.s1["h"]))
    m = mark(cdb)
    ok(api.post(f"{V1}/results/{res['id']}/approve", headers=w.reviewer["h"]))
    expect(cdb, w, m, ("result", res["id"]), ("subscription_match", "b1"))
    n = [x for x in api.get(f"{V1}/notifications?category=subscription", headers=w.b1["h"]).body["items"]
         if x["ref_id"] == res["id"]][0]
    assert n["kind"] == "subscription_match" and n["ref_kind"] == "result" and n["category"] == "subscription"
    assert n["subscription"] == {"id": sub["id"], "name": sub["name"]} and n["url"] == f"/api/v1/results/{res['id']}"
    assert n["org_id"] is None


def test_the_message_centre_endpoints(api, cdb, mc):
    w = mc
    me = w.b2
    count = lambda: ok(api.get(f"{V1}/notifications/unread-count", headers=me["h"]))["unread"]  # noqa: E731
    before = count()
    assert before == query(cdb, "SELECT count(*) AS n FROM notifications WHERE user_id = %s AND read_at IS NULL", me["id"])[0]["n"]
    assert before > 0
    r = result(cdb, w.S)
    inq = ok(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "询价"}, headers=w.b1["h"]), 201)
    ok(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 300_000}, headers=w.s1["h"]))
    ok(api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "请确认"}, headers=w.s2["h"]), 201)
    assert count() == before + 2
    items = ok(api.get(f"{V1}/notifications?unread=true&limit=2", headers=me["h"]))["items"]
    assert [x["kind"] for x in items] == ["message", "proposal"]
    top = items[0]
    assert top["category"] == "deal" and top["ref_kind"] == "inquiry" and top["url"] == f"/api/v1/inquiries/{inq['id']}"
    assert top["data"]["result_id"] == r["id"] and top["org_id"] == w.B["id"] and top["read_at"] is None
    # filters
    assert all(x["kind"] == "proposal" for x in ok(api.get(f"{V1}/notifications?kind=proposal", headers=me["h"]))["items"])
    deal = ok(api.get(f"{V1}/notifications?category=deal&limit=100", headers=me["h"]))["items"]
    assert deal and all(x["category"] == "deal" for x in deal)
    regs = ok(api.get(f"{V1}/notifications?category=registration&limit=100", headers=me["h"]))["items"]
    assert regs and all(x["kind"].startswith("contract_") and x["kind"] != "contract_draft" for x in regs)
    for q, field in (("unread=maybe", "unread"), ("category=mail", "category"), ("kind=bogus", "kind"), ("limit=0", "limit")):
        p = assert_problem(api.get(f"{V1}/notifications?{q}", headers=me["h"]), 400)
        assert p["errors"][0]["field"] == field, (q, p)
    # mark one read: the count goes down; another user's is 404 and stays unread
    rd = ok(api.post(f"{V1}/notifications/{top['id']}/read", headers=me["h"]))
    assert rd["read_at"] and count() == before + 1
    assert_problem(api.post(f"{V1}/notifications/{items[1]['id']}/read", headers=w.b1["h"]), 404)
    assert query(cdb, "SELECT read_at FROM notifications WHERE id = %s", items[1]["id"])[0]["read_at"] is None
    # mark all read up to what the page showed: a newer one stays unread
    shown = ok(api.get(f"{V1}/notifications?limit=1", headers=me["h"]))["items"][0]["id"]
    ok(api.post(f"{V1}/inquiries/{inq['id']}/messages", json={"body": "还在吗"}, headers=w.s2["h"]), 201)
    res = ok(api.post(f"{V1}/notifications/read-all", json={"up_to_id": shown}, headers=me["h"]))
    assert res["marked"] == before + 1 and res["unread"] == 1 and count() == 1
    assert ok(api.post(f"{V1}/notifications/read-all", headers=me["h"])) == {"marked": 1, "unread": 0}
    assert count() == 0
    for body, status in (({"up_to_id": "x"}, 400), ({"up_to_id": 0}, 422), ({"all": True}, 400)):
        assert_problem(api.post(f"{V1}/notifications/read-all", json=body, headers=me["h"]), status)
    assert_problem(api.get(f"{V1}/notifications/unread-count"), 401)
    # staff without any notification see an empty centre
    assert ok(api.get(f"{V1}/notifications/unread-count", headers=w.officer["h"]))["unread"] == 0


def test_one_webhook_delivery_per_organisation(api, cdb, mc):
    w = mc
    rcv = Receiver()
    query(cdb, "UPDATE orgs SET webhook_url = %s WHERE id = %s", rcv.url, w.B["id"])
    try:
        r = result(cdb, w.S)
        inq = ok(api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "询价"}, headers=w.b1["h"]), 201)
        ok(api.post(f"{V1}/inquiries/{inq['id']}/agree", json={"price_fen": 660_000}, headers=w.s1["h"]))
        wait_until(lambda: rcv.requests, 10, message="the webhook POST")
        rows = query(cdb, "SELECT event, payload FROM webhook_outbox WHERE org_id = %s AND payload->'item'->>'id' = %s",
                     w.B["id"], str(inq["id"]))
        assert [x["event"] for x in rows] == ["deal.proposal"]   # two members, one delivery
        body = json.loads(rcv.requests[0]["body"])
        assert body["event"] == "deal.proposal" and body["kind"] == "proposal"
        assert body["item"] == {"kind": "inquiry", "id": inq["id"], "url": f"/api/v1/inquiries/{inq['id']}"}
        assert body["data"]["price_fen"] == 660_000 and rcv.requests[0]["headers"]["x-yizhan-event"] == "deal.proposal"
    finally:
        query(cdb, "UPDATE orgs SET webhook_url = NULL WHERE id = %s", w.B["id"])
        rcv.close()
