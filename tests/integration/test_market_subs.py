"""Saved searches (/subscriptions), notifications, and webhook deliveries from the outbox: signed
with HMAC-SHA256, retried with backoff, never blocking the request that caused them, never sent
twice at once by two servers, and never lost across a restart."""

import json
import time

import pytest

from market_fixtures import *  # noqa: F401,F403


def subscribe(api, who, **body):
    r = api.post(V1 + "/subscriptions", json=dict({"name": "订阅 " + uniq()}, **body), headers=who["h"])
    assert r.status == 201, r
    return r.body


def notes(api, who, **params):
    r = api.get(V1 + "/notifications?" + urlencode(dict({"limit": 100}, **params)), headers=who["h"])
    assert r.status == 200, r
    return r.body["items"]


# --------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------

def test_subscription_crud_and_scope(mk, api, db):
    s = subscribe(api, mk.b, q="锂电池", domain="new_energy", region="511900", trl_min=4, price_max=90000000)
    assert s["query"] == {"q": "锂电池", "domain": "new_energy", "region": "511900", "trl_min": 4,
                          "price_max": 90000000} and s["webhook"] is True
    assert s["id"] in [x["id"] for x in api.get(V1 + "/subscriptions", headers=mk.b["h"]).body["items"]]
    assert s["id"] not in [x["id"] for x in api.get(V1 + "/subscriptions", headers=mk.a["h"]).body["items"]]
    assert_problem(api.delete(V1 + f"/subscriptions/{s['id']}", headers=mk.a["h"]), 404)
    assert api.delete(V1 + f"/subscriptions/{s['id']}", headers=mk.b["h"]).status == 204
    assert_problem(api.delete(V1 + f"/subscriptions/{s['id']}", headers=mk.b["h"]), 404)
    assert [a["action"] for a in audit_rows(db, "subscription", s["id"])] == ["create", "delete"]
    assert_problem(api.get(V1 + "/subscriptions"), 401)


@pytest.mark.parametrize("body,status,field", [
    ({"q": "电池"}, 422, "name"),
    ({"name": "", "q": "电池"}, 422, "name"),
    ({"name": "x" * 101}, 422, "name"),
    ({"name": "x", "q": 5}, 400, "q"),
    ({"name": "x", "q": "%"}, 400, "q"),
    ({"name": "x", "trl_min": "3"}, 400, "trl_min"),
    ({"name": "x", "trl_min": 12}, 400, "trl_min"),
    ({"name": "x", "kind": "contract"}, 400, "kind"),
    ({"name": "x", "domain": "no_such_domain"}, 422, "domain"),
    ({"name": "x", "region": "999999"}, 422, "region"),
    ({"name": "x", "mode": "rent"}, 422, "mode"),
    ({"name": "x", "user_id": 1}, 400, "user_id"),
    ({"name": "x", "webhook": "yes"}, 400, "webhook"),
    ({"name": "x", "sort": "recent"}, 400, "sort"),
])
def test_subscription_refuses_bad_fields(mk, api, db, body, status, field):
    before = count(db, "subscriptions")
    b = assert_problem(api.post(V1 + "/subscriptions", json=body, headers=mk.b["h"]), status)
    assert field in error_fields(b), b
    assert count(db, "subscriptions") == before


def test_subscription_idempotency(mk, api, db):
    key = uniq("sub-")
    h = dict(mk.b["h"], **{"Idempotency-Key": key})
    body = {"name": "幂等订阅", "q": "芯片"}
    r1 = api.post(V1 + "/subscriptions", json=body, headers=h)
    r2 = api.post(V1 + "/subscriptions", json=body, headers=h)
    assert r1.status == r2.status == 201 and r1.body == r2.body and r2.headers.get("Idempotent-Replayed") == "true"
    assert count(db, "subscriptions", "name = '幂等订阅' AND user_id = %s", int(mk.b["id"])) == 1
    assert_problem(api.post(V1 + "/subscriptions", json=dict(body, q="电池"), headers=h), 422)


def test_subscription_limit(mk, api, db, users):
    u = users.create(role="member", org=mk.org_b)
    u["h"] = users.auth(u)
    set_setting(db, "subscriptions_per_user_max", 2)
    try:
        subscribe(api, u, q="一")
        subscribe(api, u, q="二")
        assert_problem(api.post(V1 + "/subscriptions", json={"name": "三", "q": "三"}, headers=u["h"]), 409)
    finally:
        set_setting(db, "subscriptions_per_user_max", 50)


# --------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------

def test_publishing_notifies_matching_subscribers(mk, api, db):
    tag = uniq("钠电")
    hit = subscribe(api, mk.b, q=tag, kind="result", domain="new_energy")
    miss_domain = subscribe(api, mk.b, q=tag, domain="agriculture")
    miss_kind = subscribe(api, mk.b, q=tag, kind="need")
    everything = subscribe(api, mk.b, trl_min=6, q=tag)
    own = subscribe(api, mk.a2, q=tag)                      # the publisher's own org: not notified
    res = mk.publish_result(title=f"{tag}离子电池", trl=7, domain="new_energy")
    got = [n for n in notes(api, mk.b) if n["ref_kind"] == "result" and n["ref_id"] == res["id"]]
    assert {n["subscription"]["id"] for n in got} == {hit["id"], everything["id"]}
    assert all(n["kind"] == "subscription_match" and n["category"] == "subscription" and n["title"] == res["title"]
               and n["read_at"] is None for n in got)
    assert not [n for n in notes(api, mk.a2) if n["ref_kind"] == "result" and n["ref_id"] == res["id"]]
    assert miss_domain and miss_kind and own
    # a draft or a rejected listing notifies nobody
    before = count(db, "notifications")
    r = mk.create_result(title=f"{tag} 草稿")
    api.post(V1 + f"/results/{r['id']}/submit", headers=mk.a["h"])
    api.post(V1 + f"/results/{r['id']}/reject", json={"reason": "不合格"}, headers=mk.reviewer["h"])
    assert count(db, "notifications") == before
    # reading one
    n = got[0]
    assert_problem(api.post(V1 + f"/notifications/{n['id']}/read", headers=mk.a["h"]), 404)
    r = api.post(V1 + f"/notifications/{n['id']}/read", headers=mk.b["h"])
    assert r.status == 200 and r.body["read_at"]
    assert n["id"] not in [x["id"] for x in notes(api, mk.b, unread="true")]
    assert_problem(api.get(V1 + "/notifications?unread=maybe", headers=mk.b["h"]), 400)


def test_need_opening_notifies(mk, api):
    tag = uniq("需求订阅")
    s = subscribe(api, mk.a, q=tag, kind="need", price_min=5000000)
    need = mk.open_need(title=f"征集{tag}方案", budget_min_fen=1000000, budget_max_fen=9000000)
    cheap = mk.open_need(title=f"征集{tag}方案二", budget_min_fen=100, budget_max_fen=200)
    ids = {n["ref_id"] for n in notes(api, mk.a) if n["subscription"] and n["subscription"]["id"] == s["id"]
           and n["ref_kind"] == "need"}
    assert need["id"] in ids and cheap["id"] not in ids


# --------------------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------------------

@pytest.fixture
def receiver():
    rcv = Receiver()
    yield rcv
    rcv.close()


def set_webhook(api, who, url):
    r = api.patch(V1 + f"/orgs/{who['org']}", json={"webhook_url": url}, headers=who["h"])
    assert r.status == 200, r


def deliveries(db, org):
    return query(db, "SELECT id, status, attempts, last_status, last_error FROM webhook_outbox WHERE org_id = %s"
                     " ORDER BY id", org)


def test_webhook_signed_delivery(mk, api, db, receiver):
    m = mk.fresh_member()
    set_webhook(api, m, receiver.url)
    try:
        info = api.get(V1 + "/webhook", headers=m["h"])
        assert info.status == 200 and info.body["url"] == receiver.url and info.body["secret"].startswith("whsec_")
        assert_problem(api.get(V1 + "/webhook", headers=mk.reviewer["h"]), 403)
        secret = info.body["secret"]
        tag = uniq("签名")
        sub = subscribe(api, m, q=tag)
        res = mk.publish_result(title=f"{tag}成果")
        wait_until(lambda: receiver.requests, 10, message="the webhook POST")
        req = receiver.requests[0]
        body = json.loads(req["body"])
        assert body["event"] == "subscription.match" and body["item"] == {
            "kind": "result", "id": res["id"], "title": res["title"], "url": f"/api/v1/results/{res['id']}",
            "domain": "new_energy", "region_code": "511902", "published_at": body["item"]["published_at"]}
        assert body["subscription"] == {"id": sub["id"], "name": sub["name"]}
        assert req["headers"]["x-yizhan-event"] == "subscription.match"
        assert req["headers"]["x-yizhan-delivery"] == str(body["delivery_id"])
        assert req["path"] == "/hooks/yizhan" and req["headers"]["content-type"] == "application/json"
        assert Receiver.verify(secret, req)
        assert not Receiver.verify("whsec_wrong", req)
        wait_until(lambda: query(db, "SELECT status FROM webhook_outbox WHERE id = %s",
                                 body["delivery_id"])[0]["status"] == "delivered", 5, message="delivered")
        # rotating the secret: later deliveries are signed with the new one
        r = api.post(V1 + "/webhook/secret", headers=m["h"])
        assert r.status == 201 and r.body["secret"] != secret
        tag2 = uniq("轮换")
        subscribe(api, m, q=tag2)
        mk.publish_result(title=f"{tag2}成果")
        wait_until(lambda: len(receiver.requests) >= 2, 10, message="the second POST")
        assert Receiver.verify(r.body["secret"], receiver.requests[1])
        assert api.get(V1 + "/webhook", headers=m["h"]).body["deliveries"][0]["status"] == "delivered"
        assert len(receiver.requests) == 2
    finally:
        set_webhook(api, m, None)


@pytest.mark.slow  # make test-fast leaves it out: waits the retry backoff out (~5 s at load 9)
def test_webhook_retries_with_backoff_until_2xx(mk, api, db):
    rcv = Receiver(responses=[500, 503])
    m = mk.fresh_member()
    set_setting(db, "webhook_backoff_base_s", 1)
    set_webhook(api, m, rcv.url)
    try:
        tag = uniq("重试")
        subscribe(api, m, q=tag)
        mk.publish_result(title=f"{tag}成果")
        wait_until(lambda: len(rcv.requests) >= 3, 20, message="three attempts")
        did = rcv.requests[0]["headers"]["x-yizhan-delivery"]
        assert {r["headers"]["x-yizhan-delivery"] for r in rcv.requests} == {did}
        assert [r["headers"]["x-yizhan-attempt"] for r in rcv.requests] == ["1", "2", "3"]
        gaps = [b["at"] - a["at"] for a, b in zip(rcv.requests, rcv.requests[1:])]
        assert gaps[0] >= 0.7 and gaps[1] >= 1.5, gaps            # 1 s, then 2 s (+/- 20 %)
        row = wait_until(lambda: [d for d in deliveries(db, m["org"]) if str(d["id"]) == did
                                  and d["status"] == "delivered"], 5, message="delivered")[0]
        assert row["attempts"] == 3 and row["last_status"] == 200
    finally:
        set_webhook(api, m, None)
        set_setting(db, "webhook_backoff_base_s", 30)
        rcv.close()


def test_webhook_gives_up_after_max_attempts(mk, api, db):
    rcv = Receiver(responses=[500] * 10)
    set_setting(db, "webhook_backoff_base_s", 0)
    set_setting(db, "webhook_max_attempts", 2)
    m = mk.fresh_member()
    set_webhook(api, m, rcv.url)
    try:
        tag = uniq("放弃")
        subscribe(api, m, q=tag)
        mk.publish_result(title=f"{tag}成果")
        wait_until(lambda: len(rcv.requests) >= 2, 15, message="two attempts")
        did = int(rcv.requests[0]["headers"]["x-yizhan-delivery"])
        wait_until(lambda: query(db, "SELECT status FROM webhook_outbox WHERE id = %s", did)[0]["status"] == "failed",
                   5, message="failed")
        time.sleep(1.5)
        assert len(rcv.requests) == 2
        assert query(db, "SELECT last_error FROM webhook_outbox WHERE id = %s", did)[0]["last_error"] == "HTTP 500"
    finally:
        set_webhook(api, m, None)
        set_setting(db, "webhook_backoff_base_s", 30)
        set_setting(db, "webhook_max_attempts", 10)
        rcv.close()


@pytest.mark.slow  # make test-fast leaves it out: waits a receiver's timeout out (~9 s at load 9)
def test_slow_receiver_never_blocks_the_request(mk, api, db):
    rcv = Receiver(delay=4)
    m = mk.fresh_member()
    set_webhook(api, m, rcv.url)
    try:
        tag = uniq("慢")
        subscribe(api, m, q=tag)
        res = mk.create_result(title=f"{tag}成果")
        assert api.post(V1 + f"/results/{res['id']}/submit", headers=mk.a["h"]).status == 200
        t0 = time.monotonic()
        r = api.post(V1 + f"/results/{res['id']}/approve", headers=mk.reviewer["h"])
        assert r.status == 200 and time.monotonic() - t0 < 2.0
        wait_until(lambda: rcv.requests, 10, message="the slow POST to start")
        # the server keeps answering while the delivery waits
        t0 = time.monotonic()
        assert api.get(V1 + "/results?limit=1").status == 200 and time.monotonic() - t0 < 2.0
    finally:
        set_webhook(api, m, None)
        time.sleep(4.5)
        rcv.close()


def test_unreachable_webhook_is_retried_not_lost(mk, api, db):
    rcv = Receiver()
    url = rcv.url
    rcv.close()                       # nothing listens there now
    set_setting(db, "webhook_backoff_base_s", 1)
    m = mk.fresh_member()
    set_webhook(api, m, url)
    try:
        tag = uniq("不可达")
        subscribe(api, m, q=tag)
        mk.publish_result(title=f"{tag}成果")
        rows = wait_until(lambda: [d for d in deliveries(db, m["org"]) if d["status"] == "pending" and d["attempts"] >= 1
                                   and "connect" in (d["last_error"] or "")], 10, message="a failed attempt")
        assert rows[-1]["last_status"] is None
        # removing the URL cancels what is pending
        set_webhook(api, m, None)
        wait_until(lambda: query(db, "SELECT status FROM webhook_outbox WHERE id = %s", rows[-1]["id"])[0]["status"]
                   == "cancelled", 10, message="cancelled")
    finally:
        set_webhook(api, m, None)
        set_setting(db, "webhook_backoff_base_s", 30)


# --------------------------------------------------------------------------------------
# Restarts and several servers: a database of their own
# --------------------------------------------------------------------------------------

@pytest.fixture
def hookdb(fresh_db, stack, pg):
    name, dsn = fresh_db
    p = stack.run(["migrate"], dsn=dsn, timeout=180)
    assert p.returncode == 0, p.stderr
    conn = pg.connect(name)
    yield dsn, conn
    conn.close()


def queue(conn, url, n):
    org = query(conn, "INSERT INTO orgs (name, org_type, region_code, webhook_url) VALUES ('个人', '400', '511902', %s)"
                      " RETURNING id", url)[0]["id"]
    for i in range(n):
        query(conn, "INSERT INTO webhook_outbox (org_id, event, payload) VALUES (%s, 'test', %s)", org,
              json.dumps({"n": i}))
    return org


def test_delivery_survives_a_restart(hookdb, spawn):
    dsn, conn = hookdb
    rcv = Receiver(delay=3)
    try:
        queue(conn, rcv.url, 1)
        a = spawn(dsn=dsn)
        wait_until(lambda: rcv.requests, 10, message="the first attempt")
        a.kill()                      # dies while the receiver is still answering
        assert query(conn, "SELECT status FROM webhook_outbox")[0]["status"] == "pending"
        rcv.delay = 0
        spawn(dsn=dsn)
        wait_until(lambda: query(conn, "SELECT status FROM webhook_outbox")[0]["status"] == "delivered", 15,
                   message="delivered after the restart")
        ids = [r["headers"]["x-yizhan-delivery"] for r in rcv.requests]
        assert len(ids) == 2 and len(set(ids)) == 1   # the same delivery again: receivers deduplicate on it
    finally:
        rcv.close()


def test_two_servers_never_send_a_row_twice(hookdb, spawn):
    dsn, conn = hookdb
    rcv = Receiver(delay=0.05)
    try:
        queue(conn, rcv.url, 40)
        spawn(dsn=dsn)
        spawn(dsn=dsn)
        wait_until(lambda: count(conn, "webhook_outbox", "status = 'delivered'") == 40, 30, message="all delivered")
        ids = [r["headers"]["x-yizhan-delivery"] for r in rcv.requests]
        assert len(ids) == 40 and len(set(ids)) == 40
    finally:
        rcv.close()


# --------------------------------------------------------------------------------------
# Webhook targets: refused when saved and again when delivered (no SSRF)
# --------------------------------------------------------------------------------------

REFUSED_TARGETS = [
    ("http://hooks.example.cn/hook", "https_required"),
    ("https://user:pw@hooks.example.cn/hook", "userinfo"),
    ("https://hooks.example.cn@169.254.169.254/", "userinfo"),
    ("https://169.254.169.254/latest/meta-data/", "forbidden_address"),
    ("https://127.0.0.1/hook", "forbidden_address"),
    ("https://10.1.2.3/hook", "forbidden_address"),
    ("https://100.64.0.1/hook", "forbidden_address"),
    ("https://192.0.2.10/hook", "forbidden_address"),
    ("https://[::1]/hook", "forbidden_address"),
    ("https://[::127.0.0.1]/hook", "forbidden_address"),         # IPv4-compatible
    ("https://[::ffff:169.254.169.254]/hook", "forbidden_address"),  # IPv4-mapped
    ("https://[64:ff9b::7f00:1]/hook", "forbidden_address"),     # NAT64
    ("https://[2002:7f00:1::]/hook", "forbidden_address"),       # 6to4
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "forbidden_address"),  # Teredo
    ("https://[fd00::1]/hook", "forbidden_address"),             # unique-local
    ("https://[fe80::1]/hook", "forbidden_address"),             # link-local
    ("https://[ff02::1]/hook", "forbidden_address"),             # multicast
    ("https://2130706433/hook", "invalid_format"),               # 127.0.0.1 as one number
    ("https://0x7f.1/hook", "invalid_format"),
    ("https://localhost/hook", "forbidden_host"),
    ("https://metadata.google.internal/hook", "forbidden_host"),
    ("https://printer.local/hook", "forbidden_host"),
]


def test_refused_webhook_targets_are_422_when_saved(spawn, mk, db):
    srv = spawn({"YIZHAN_WEBHOOK_ALLOW_PRIVATE": "false"})
    m = mk.b
    ok = "https://hooks.example.cn/yizhan?org=b"
    r = srv.api.patch(V1 + f"/orgs/{m['org']}", json={"webhook_url": ok}, headers=m["h"])
    assert r.status == 200 and r.body["webhook_url"] == ok, r
    before = query(db, "SELECT webhook_url, version FROM orgs WHERE id = %s", m["org"])[0]
    for url, code in REFUSED_TARGETS:
        r = srv.api.patch(V1 + f"/orgs/{m['org']}", json={"webhook_url": url}, headers=m["h"])
        body = assert_problem(r, 422)
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("webhook_url", code)], (url, body)
    assert query(db, "SELECT webhook_url, version FROM orgs WHERE id = %s", m["org"])[0] == before
    # registration with a new org goes through the same check
    from acct_fixtures import org_body, register_body
    r = srv.api.post(V1 + "/auth/register",
                     json=register_body(org=dict(org_body(), webhook_url="https://[64:ff9b::a9fe:a9fe]/")))
    body = assert_problem(r, 422)
    assert ("org.webhook_url", "forbidden_address") in [(e["field"], e["code"]) for e in body["errors"]], body
    srv.api.patch(V1 + f"/orgs/{m['org']}", json={"webhook_url": None}, headers=m["h"])


def test_refused_webhook_targets_are_not_contacted_at_delivery(hookdb, spawn):
    """URLs written past the API (or saved before these rules) are checked again by the delivery
    thread: nothing is sent, the attempt is recorded with the reason, and it is retried later
    (the organisation may fix its URL meanwhile). A receiver on 127.0.0.1 proves no request
    left; the same receiver URL is delivered to when private targets are allowed."""
    dsn, conn = hookdb
    rcv = Receiver()
    try:
        local = rcv.url.replace("http://", "https://")
        targets = REFUSED_TARGETS + [(rcv.url, "https_required"), (local.replace("127.0.0.1", "[::ffff:127.0.0.1]"),
                                                                     "forbidden_address")]
        orgs = {queue(conn, url, 1): (url, code) for url, code in targets}
        srv = spawn({"YIZHAN_WEBHOOK_ALLOW_PRIVATE": "false"}, dsn=dsn)
        wait_until(lambda: count(conn, "webhook_outbox", "attempts >= 1") == len(orgs), 20,
                   message="every delivery attempted once")
        rows = query(conn, "SELECT org_id, status, attempts, last_status, last_error FROM webhook_outbox")
        for row in rows:
            url, code = orgs[row["org_id"]]
            assert row["status"] == "pending" and row["last_status"] is None, (url, row)
            assert row["last_error"].startswith(f"refused ({code})"), (url, row)
        assert not rcv.requests, rcv.requests
        srv.kill()
        # the same receiver, allowed: delivered (the refusal above was the rule, not the receiver)
        query(conn, "UPDATE webhook_outbox SET next_attempt_at = now() WHERE org_id = %s",
              [o for o, (u, _) in orgs.items() if u == rcv.url][0])
        spawn({"YIZHAN_WEBHOOK_ALLOW_PRIVATE": "true"}, dsn=dsn)
        wait_until(lambda: rcv.requests, 10, message="delivered once private targets are allowed")
    finally:
        rcv.close()
