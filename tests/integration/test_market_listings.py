"""Research results and technology needs: validation field by field, roles and scope, ETag /
If-Match, Idempotency-Key, the lifecycles, visibility, and needs expiring at their deadline.
Every refused request is checked for its precise status and for the database being unchanged."""

import datetime as dt
import json

import pytest

from market_fixtures import *  # noqa: F401,F403


def bad_body(api, path, headers, body, status, fields=None, raw=None):
    if raw is not None:
        r = api.post(path, data=raw, headers=dict(headers, **{"Content-Type": "application/json"}))
    else:
        r = api.post(path, json=body, headers=headers)
    b = assert_problem(r, status)
    if fields:
        assert set(fields) <= set(error_fields(b)), b
    return b


# --------------------------------------------------------------------------------------
# Creating a result
# --------------------------------------------------------------------------------------

def test_create_result_draft_with_every_field(mk, api, db):
    r = api.post(V1 + "/results", json=result_body(), headers=mk.a["h"])
    assert r.status == 201, r
    b = r.body
    assert b["status"] == "draft" and b["holder"]["id"] == mk.org_a and b["version"] == 1
    assert etag(r) == '"1"'
    assert b["domain_label"] == "新能源与高效节能" and b["trl"] == 6 and b["maturity_label"] == "中期"
    assert b["ip_records"] == [{"type": "patent", "type_label": "专利", "number": "ZL202310123456.6",
                                "status": "granted"}]  # spaces removed: the canonical form
    assert [m["code"] for m in b["transfer_modes"]] == ["transfer", "licence"]
    assert b["asking_price_fen"] == 50000000 and b["negotiable"] is False
    assert b["region_name"] == "巴州区" and b["contact"]["name"] == "王老师"
    row = query(db, "SELECT status, holder_org_id, created_by FROM results WHERE id = %s", b["id"])[0]
    assert row["status"] == "draft" and row["holder_org_id"] == mk.org_a and str(row["created_by"]) == mk.a["id"]
    assert [a["action"] for a in audit_rows(db, "result", b["id"])] == ["create"]


def test_create_minimal_draft_defaults_region_to_the_holder(mk, api):
    r = api.post(V1 + "/results", json={"title": "只有标题的草稿"}, headers=mk.a["h"])
    assert r.status == 201, r
    assert r.body["region_code"] == "511902" and r.body["summary"] == "" and r.body["asking_price_fen"] is None


@pytest.mark.parametrize("body,status,fields", [
    ({"summary": "x"}, 422, ["title"]),                                   # title required
    (result_body(title=""), 422, ["title"]),
    (result_body(title="  "), 422, ["title"]),
    (result_body(title="a" * 201), 422, ["title"]),
    (result_body(title="line\nbreak"), 422, ["title"]),
    (result_body(summary="电" * 2001), 422, ["summary"]),
    (result_body(trl=0), 422, ["trl"]),
    (result_body(trl=10), 422, ["trl"]),
    (result_body(trl="6"), 400, ["trl"]),                                  # wrong type
    (result_body(trl=6.5), 400, ["trl"]),
    (result_body(keywords="锂电池"), 400, ["keywords"]),
    (result_body(keywords=["a"] * 11), 422, ["keywords"]),
    (result_body(keywords=["锂电池", "锂电池"]), 422, ["keywords[1]"]),
    (result_body(keywords=["锂电池", 5]), 400, ["keywords[1]"]),
    (result_body(domain="Not A Code"), 422, ["domain"]),
    (result_body(domain="no_such_domain"), 422, ["domain"]),              # checked against the code list
    (result_body(maturity="late"), 422, ["maturity"]),
    (result_body(transfer_modes=["transfer", "rent"]), 422, ["transfer_modes[1]"]),
    (result_body(pricing_mode="barter"), 422, ["pricing_mode"]),
    (result_body(asking_price_fen=-1), 422, ["asking_price_fen"]),
    (result_body(asking_price_fen=12.5), 400, ["asking_price_fen"]),
    (result_body(asking_price_fen="100"), 400, ["asking_price_fen"]),
    (result_body(region_code="51190"), 422, ["region_code"]),
    (result_body(region_code="999999"), 422, ["region_code"]),             # not a GB/T 2260 code
    (result_body(ip_records=[{"type": "patent", "number": "ZL2023 1 0123456.7"}]), 422,
     ["ip_records[0].number"]),                                            # wrong check digit
    (result_body(ip_records=[{"type": "patent", "number": "12345"}]), 422, ["ip_records[0].number"]),
    (result_body(ip_records=[{"type": "software_copyright", "number": "2023XX1"}]), 422,
     ["ip_records[0].number"]),
    (result_body(ip_records=[{"type": "know_how", "number": "123"}]), 422, ["ip_records[0].number"]),
    (result_body(ip_records=[{"type": "trademark", "number": "ABC123"}]), 422, ["ip_records[0].type"]),
    (result_body(ip_records=[{"type": "patent", "status": "pending"}]), 422, ["ip_records[0].status"]),
    (result_body(ip_records=[{"number": "ZL202310123456.6"}]), 422, ["ip_records[0].type"]),
    (result_body(ip_records=[{"type": "patent", "owner": "x"}]), 400, ["ip_records[0].owner"]),
    (result_body(contact={"name": "x", "wechat": "y"}), 400, ["contact.wechat"]),
    (result_body(contact={"email": "not-an-email"}), 422, ["contact.email"]),
    (result_body(contact={"phone": "call me"}), 422, ["contact.phone"]),
    (result_body(title="电池\u202eexe.gnp"), 422, ["title"]),              # bidirectional controls in a title
    (result_body(title="电池\u2066技术\u2069"), 422, ["title"]),
    (result_body(contact={"name": "\u202d王老师"}), 422, ["contact.name"]),  # … or a name
    (result_body(status="published"), 400, ["status"]),                    # unknown fields
    (result_body(holder_org_id=1), 400, ["holder_org_id"]),
    (result_body(id=5), 400, ["id"]),
    (result_body(version=9), 400, ["version"]),
])
def test_create_result_refuses_bad_fields(mk, api, db, body, status, fields):
    before = count(db, "results")
    bad_body(api, V1 + "/results", mk.a["h"], body, status, fields)
    assert count(db, "results") == before


def test_create_result_malformed_and_wrong_media(mk, api, db):
    before = count(db, "results")
    bad_body(api, V1 + "/results", mk.a["h"], None, 400, raw=b'{"title": "x",')
    bad_body(api, V1 + "/results", mk.a["h"], None, 400, raw=b'["title"]')
    bad_body(api, V1 + "/results", mk.a["h"], None, 400, raw=b'{"title": "a", "title": "b"}')
    r = api.post(V1 + "/results", data=b'{"title": "x"}', headers=dict(mk.a["h"], **{"Content-Type": "text/plain"}))
    assert_problem(r, 415)
    assert count(db, "results") == before


def test_create_result_roles(mk, api, users, db):
    before = count(db, "results")
    assert_problem(api.post(V1 + "/results", json=result_body()), 401)
    assert_problem(api.post(V1 + "/results", json=result_body(), headers=mk.reviewer["h"]), 403)
    assert_problem(api.post(V1 + "/results", json=result_body(), headers=mk.admin["h"]), 403)
    assert count(db, "results") == before


# --------------------------------------------------------------------------------------
# Idempotency-Key
# --------------------------------------------------------------------------------------

def test_idempotency_replay_and_reuse(mk, api, db):
    key = uniq("idem-")
    h = dict(mk.a["h"], **{"Idempotency-Key": key})
    body = result_body(title="幂等创建 " + key)
    r1 = api.post(V1 + "/results", json=body, headers=h)
    assert r1.status == 201 and "Idempotent-Replayed" not in r1.headers
    # the same body, keys in another order: the first answer again, no second row
    r2 = api.post(V1 + "/results", data=json.dumps(dict(reversed(list(body.items())))).encode(),
                  headers=dict(h, **{"Content-Type": "application/json"}))
    assert r2.status == 201 and r2.headers.get("Idempotent-Replayed") == "true"
    assert r2.body == r1.body and etag(r2) == etag(r1)
    assert count(db, "results", "title = %s", body["title"]) == 1
    # the same key with another body, or on another route: 422, nothing written
    before = count(db, "results")
    b = assert_problem(api.post(V1 + "/results", json=dict(body, trl=7), headers=h), 422)
    assert error_fields(b) == ["Idempotency-Key"]
    assert_problem(api.post(V1 + "/needs", json=need_body(), headers=dict(mk.a["h"], **{"Idempotency-Key": key})),
                   422)
    assert count(db, "results") == before and count(db, "needs", "org_id = %s AND title = %s", mk.org_a,
                                                     need_body()["title"]) == 0
    # keys belong to their user: another user may use the same key
    r3 = api.post(V1 + "/results", json=body, headers=dict(mk.a2["h"], **{"Idempotency-Key": key}))
    assert r3.status == 201 and r3.body["id"] != r1.body["id"]
    # a malformed key is 400
    for bad in ["", "x" * 201, "naïve"]:
        r = api.post(V1 + "/results", json=body, headers=dict(mk.a["h"], **{"Idempotency-Key": bad.encode()}))
        assert_problem(r, 400)
    # a failed request stores nothing: the key can be used again once the body is fixed
    key2 = uniq("idem-")
    h2 = dict(mk.a["h"], **{"Idempotency-Key": key2})
    assert_problem(api.post(V1 + "/results", json=result_body(domain="no_such_domain"), headers=h2), 422)
    assert api.post(V1 + "/results", json=result_body(), headers=h2).status == 201


def test_idempotency_keys_expire(mk, api, db):
    key = uniq("old-")
    h = dict(mk.a["h"], **{"Idempotency-Key": key})
    assert api.post(V1 + "/results", json=result_body(title="过期的键"), headers=h).status == 201
    query(db, "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = %s", key)
    r = api.post(V1 + "/results", json=result_body(title="过期的键，新请求"), headers=h)
    assert r.status == 201 and "Idempotent-Replayed" not in r.headers


# --------------------------------------------------------------------------------------
# Reading, scope, ETag / If-Match
# --------------------------------------------------------------------------------------

def test_draft_visible_to_its_org_and_staff_only(mk, api):
    res = mk.create_result()
    p = V1 + f"/results/{res['id']}"
    r = api.get(p, headers=mk.a2["h"])
    assert r.status == 200 and etag(r) == '"1"' and r.body["submitted_at"] is None
    assert api.get(p, headers=mk.reviewer["h"]).status == 200
    assert_problem(api.get(p), 404)
    assert_problem(api.get(p, headers=mk.b["h"]), 404)
    assert_problem(api.get(V1 + "/results/abc"), 404)
    assert_problem(api.get(V1 + "/results/999999999999"), 404)
    # an invalid token on a public route is still 401
    assert_problem(api.get(p, headers={"Authorization": "Bearer nonsense"}), 401)


def test_update_with_if_match(mk, api, db):
    res = mk.create_result()
    p = V1 + f"/results/{res['id']}"
    r = api.patch(p, json={"title": "改过的标题", "trl": 7}, headers=dict(mk.a["h"], **{"If-Match": '"1"'}))
    assert r.status == 200 and r.body["title"] == "改过的标题" and etag(r) == '"2"'
    # stale ETag: 412 and nothing changes
    b = api.patch(p, json={"title": "迟到的修改"}, headers=dict(mk.a["h"], **{"If-Match": '"1"'}))
    assert_problem(b, 412)
    assert query(db, "SELECT title, version FROM results WHERE id = %s", res["id"])[0] == \
        {"title": "改过的标题", "version": 2}
    assert_problem(api.patch(p, json={"title": "x"}, headers=dict(mk.a["h"], **{"If-Match": "garbage"})), 412)
    # another org's result is not found; unknown fields are refused; no If-Match is allowed
    assert_problem(api.patch(p, json={"title": "x"}, headers=mk.b["h"]), 404)
    assert_problem(api.patch(p, json={"status": "published"}, headers=mk.a["h"]), 400)
    assert_problem(api.patch(p, json={"trl": 11}, headers=mk.a["h"]), 422)
    assert_problem(api.patch(p, json={"title": None}, headers=mk.a["h"]), 400)
    assert_problem(api.patch(p, json={"title": "x"}, headers=mk.reviewer["h"]), 403)
    assert query(db, "SELECT version FROM results WHERE id = %s", res["id"])[0]["version"] == 2
    r = api.patch(p, json={"summary": "新的简介"}, headers=mk.a2["h"])
    assert r.status == 200 and r.body["version"] == 3
    assert [a["action"] for a in audit_rows(db, "result", res["id"])] == ["create", "update", "update"]


def test_delete_draft(mk, api, db):
    res = mk.create_result()
    p = V1 + f"/results/{res['id']}"
    assert_problem(api.delete(p, headers=mk.b["h"]), 404)
    assert_problem(api.delete(p, headers=dict(mk.a["h"], **{"If-Match": '"7"'})), 412)
    assert count(db, "results", "id = %s", res["id"]) == 1
    r = api.delete(p, headers=dict(mk.a["h"], **{"If-Match": '"1"'}))
    assert r.status == 204
    assert count(db, "results", "id = %s", res["id"]) == 0
    assert [a["action"] for a in audit_rows(db, "result", res["id"])] == ["create", "delete"]
    assert_problem(api.delete(p, headers=mk.a["h"]), 404)


# --------------------------------------------------------------------------------------
# The result lifecycle
# --------------------------------------------------------------------------------------

def test_result_lifecycle(mk, api, db):
    res = mk.create_result(title="生命周期 " + uniq())
    p = V1 + f"/results/{res['id']}"
    # a member cannot approve; a reviewer cannot approve a draft
    assert_problem(api.post(p + "/approve", headers=mk.a["h"]), 403)
    b = assert_problem(api.post(p + "/approve", headers=mk.reviewer["h"]), 409)
    assert error_fields(b) == ["status"]
    # submit (stale If-Match first)
    assert_problem(api.post(p + "/submit", headers=dict(mk.a["h"], **{"If-Match": '"5"'})), 412)
    r = api.post(p + "/submit", headers=dict(mk.a["h"], **{"If-Match": '"1"'}))
    assert r.status == 200 and r.body["status"] == "submitted" and r.body["submitted_at"]
    assert_problem(api.post(p + "/submit", headers=mk.a["h"]), 409)
    # no edits under review
    assert_problem(api.patch(p, json={"title": "x"}, headers=mk.a["h"]), 409)
    # not public yet; the review queue shows it to reviewers
    assert_problem(api.get(p), 404)
    q = api.get(V1 + "/results?status=submitted&limit=100", headers=mk.reviewer["h"])
    assert res["id"] in [i["id"] for i in q.body["items"]]
    # reject needs a reason
    assert_problem(api.post(p + "/reject", json={}, headers=mk.reviewer["h"]), 422)
    assert_problem(api.post(p + "/reject", json={"reason": "  "}, headers=mk.reviewer["h"]), 422)
    assert_problem(api.post(p + "/reject", json={"reason": "x", "status": "draft"}, headers=mk.reviewer["h"]), 400)
    r = api.post(p + "/reject", json={"reason": "缺少专利证书"}, headers=mk.reviewer["h"])
    assert r.status == 200 and r.body["status"] == "rejected" and r.body["reject_reason"] == "缺少专利证书"
    # edit after rejection: back to draft; submit again; approve
    r = api.patch(p, json={"summary": "补充了专利证书的简介"}, headers=mk.a["h"])
    assert r.status == 200 and r.body["status"] == "draft"
    assert api.post(p + "/submit", headers=mk.a["h"]).status == 200
    r = api.post(p + "/approve", headers=mk.reviewer["h"])
    assert r.status == 200 and r.body["status"] == "published" and r.body["published_at"]
    # public now, without the review notes
    r = api.get(p)
    assert r.status == 200 and r.body["reject_reason"] is None and r.body["status"] == "published"
    assert res["id"] in [i["id"] for i in api.get(V1 + "/results?limit=100").body["items"]]
    # published: no edit, no delete; withdraw hides it
    assert_problem(api.patch(p, json={"title": "x"}, headers=mk.a["h"]), 409)
    assert_problem(api.delete(p, headers=mk.a["h"]), 409)
    assert_problem(api.post(p + "/withdraw", headers=mk.b["h"]), 404)
    r = api.post(p + "/withdraw", headers=mk.a["h"])
    assert r.status == 200 and r.body["status"] == "withdrawn"
    assert_problem(api.get(p), 404)
    assert_problem(api.post(p + "/withdraw", headers=mk.a["h"]), 409)
    actions = [a["action"] for a in audit_rows(db, "result", res["id"])]
    assert actions == ["create", "submit", "reject", "update", "submit", "approve", "withdraw"]


def test_submit_needs_a_complete_result_and_a_verified_org(mk, api, db):
    res = mk.create_result(domain=None, trl=None)
    b = assert_problem(api.post(V1 + f"/results/{res['id']}/submit", headers=mk.a["h"]), 422)
    assert error_fields(b) == ["domain"] and "trl" in b["detail"]
    res = mk.create_result(pricing_mode="listed", asking_price_fen=None)
    b = assert_problem(api.post(V1 + f"/results/{res['id']}/submit", headers=mk.a["h"]), 422)
    assert error_fields(b) == ["asking_price_fen"]
    res = mk.create_result(who=mk.c)
    assert_problem(api.post(V1 + f"/results/{res['id']}/submit", headers=mk.c["h"]), 403)
    assert query(db, "SELECT status FROM results WHERE id = %s", res["id"])[0]["status"] == "draft"


def test_withdraw_from_review_returns_to_draft(mk, api):
    res = mk.create_result()
    p = V1 + f"/results/{res['id']}"
    assert api.post(p + "/submit", headers=mk.a["h"]).status == 200
    r = api.post(p + "/withdraw", headers=mk.a["h"])
    assert r.status == 200 and r.body["status"] == "draft"


def test_lists_and_cursor(mk, api):
    mine = [mk.create_result(title=f"列表 {i}")["id"] for i in range(3)]
    r = api.get(V1 + "/results?mine=true&limit=2", headers=mk.a["h"])
    assert r.status == 200 and len(r.body["items"]) == 2 and r.body["next_cursor"]
    ids = [i["id"] for i in r.body["items"]]
    r2 = api.get(V1 + "/results?mine=true&limit=2&cursor=" + r.body["next_cursor"], headers=mk.a["h"])
    ids += [i["id"] for i in r2.body["items"]]
    assert ids[:3] == sorted(mine, reverse=True)
    assert all(i["holder"]["id"] == mk.org_a for i in r.body["items"] + r2.body["items"])
    # the public list has no drafts; bad parameters are 400
    assert all(i["status"] in ("published", "under_notice") for i in api.get(V1 + "/results?limit=100").body["items"])
    assert api.get(V1 + "/results?status=draft").body["items"] == []
    assert_problem(api.get(V1 + "/results?status=nope"), 400)
    assert_problem(api.get(V1 + "/results?mine=yes", headers=mk.a["h"]), 400)
    assert_problem(api.get(V1 + "/results?mine=true"), 400)
    assert_problem(api.get(V1 + "/results?limit=0"), 400)
    assert_problem(api.get(V1 + "/results?cursor=forged.abc"), 400)
    # a cursor of one list is not accepted by another
    assert_problem(api.get(V1 + "/needs?mine=true&cursor=" + r.body["next_cursor"], headers=mk.a["h"]), 400)


# --------------------------------------------------------------------------------------
# Needs
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,status,fields", [
    (need_body(deadline="2020-01-01"), 422, ["deadline"]),                 # in the past
    (need_body(deadline=dt.date.today().isoformat()), 422, ["deadline"]),  # today is not the future
    (need_body(deadline="2026-02-30"), 422, ["deadline"]),
    (need_body(deadline="tomorrow"), 422, ["deadline"]),
    (need_body(budget_min_fen=100, budget_max_fen=10), 422, ["budget_min_fen"]),
    (need_body(budget_max_fen=-5), 422, ["budget_max_fen"]),
    (need_body(description="需" * 4001), 422, ["description"]),
    (need_body(cooperation_modes=["transfer", "equity_investment"]), 422, ["cooperation_modes[1]"]),
    (need_body(trl_min=0), 422, ["trl_min"]),
    (need_body(org_id=3), 400, ["org_id"]),
    (need_body(status="open"), 400, ["status"]),
])
def test_create_need_refuses_bad_fields(mk, api, db, body, status, fields):
    before = count(db, "needs")
    bad_body(api, V1 + "/needs", mk.b["h"], body, status, fields)
    assert count(db, "needs") == before


def test_need_lifecycle_and_close(mk, api, db):
    n = mk.create_need(title="需求生命周期 " + uniq())
    assert n["status"] == "draft" and n["org"]["id"] == mk.org_b and n["negotiable"] is False
    p = V1 + f"/needs/{n['id']}"
    assert_problem(api.post(p + "/close", headers=mk.b["h"]), 409)
    assert api.post(p + "/submit", headers=mk.b["h"]).status == 200
    assert_problem(api.post(p + "/approve", headers=mk.b["h"]), 403)
    r = api.post(p + "/approve", headers=mk.reviewer["h"])
    assert r.status == 200 and r.body["status"] == "open"
    assert api.get(p).status == 200
    assert_problem(api.post(p + "/close", json={"outcome": "sold"}, headers=mk.b["h"]), 422)
    assert_problem(api.post(p + "/close", json={"outcome": "matched"}, headers=mk.a["h"]), 404)
    r = api.post(p + "/close", json={"outcome": "matched", "reason": "已与某大学签约"}, headers=mk.b["h"])
    assert r.status == 200 and r.body["status"] == "matched" and r.body["closed_at"]
    assert_problem(api.get(p), 404)
    assert [a["action"] for a in audit_rows(db, "need", n["id"])] == ["create", "submit", "approve", "close"]


def test_need_expires_at_its_deadline(mk, api, db, spawn):
    n = mk.open_need(title="到期需求 " + uniq())
    p = V1 + f"/needs/{n['id']}"
    assert api.get(p).status == 200
    # the deadline passes (the server refuses past deadlines, so move it in the database)
    query(db, "UPDATE needs SET deadline = (now() AT TIME ZONE 'Asia/Shanghai')::date - 1 WHERE id = %s", n["id"])
    # at once: hidden from the public, shown as expired to its org, out of search
    assert_problem(api.get(p), 404)
    r = api.get(p, headers=mk.b["h"])
    assert r.status == 200 and r.body["status"] == "expired"
    assert n["id"] not in [i["id"] for i in api.get(V1 + "/needs?limit=100").body["items"]]
    assert_problem(api.post(p + "/close", headers=mk.b["h"]), 409)
    # and the sweep writes it down, with an audit entry (it runs when a server starts, then every minute)
    spawn()
    wait_until(lambda: query(db, "SELECT status FROM needs WHERE id = %s", n["id"])[0]["status"] == "expired", 10,
               message="the expiry sweep")
    assert audit_rows(db, "need", n["id"])[-1]["action"] == "expire"
    assert count(db, "search_docs", "kind = 'need' AND ref_id = %s", n["id"]) == 0


def test_need_reject_and_resubmit(mk, api):
    n = mk.create_need()
    p = V1 + f"/needs/{n['id']}"
    assert api.post(p + "/submit", headers=mk.b["h"]).status == 200
    r = api.post(p + "/reject", json={"reason": "预算不明确"}, headers=mk.reviewer["h"])
    assert r.status == 200 and r.body["status"] == "rejected"
    r = api.patch(p, json={"budget_max_fen": 90000000}, headers=dict(mk.b["h"], **{"If-Match": etag(r)}))
    assert r.status == 200 and r.body["status"] == "draft"
    assert api.post(p + "/submit", headers=mk.b["h"]).status == 200


def test_listing_inserted_directly_is_searchable(mk, api, db):
    """Demo data goes straight into the tables: the trigger indexes it."""
    title = "直接插入的成果 " + uniq()
    rid = query(db, "INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,"
                    " submitted_at, published_at) VALUES (%s, %s, '直接写入数据库的简介', 'agriculture', 3, '511902',"
                    " 'published', now(), now()) RETURNING id", mk.org_a, title)[0]["id"]
    r = api.get(V1 + "/search?" + urlencode({"q": title.split()[-1]}))
    assert [i["id"] for i in r.body["items"]] == [rid]


def test_every_write_refuses_malformed_bodies_and_changes_nothing(mk, api, db):
    res = mk.create_result()
    need = mk.create_need()
    writes = [
        ("POST", V1 + "/results", mk.a),
        ("PATCH", V1 + f"/results/{res['id']}", mk.a),
        ("POST", V1 + f"/results/{res['id']}/submit", mk.a),
        ("POST", V1 + f"/results/{res['id']}/reject", mk.reviewer),
        ("POST", V1 + "/needs", mk.b),
        ("PATCH", V1 + f"/needs/{need['id']}", mk.b),
        ("POST", V1 + f"/needs/{need['id']}/close", mk.b),
        ("POST", V1 + f"/needs/{need['id']}/reject", mk.reviewer),
        ("POST", V1 + "/subscriptions", mk.b),
    ]
    tables = ["results", "needs", "subscriptions", "audit_log", "idempotency_keys"]
    before = {t: count(db, t) for t in tables}
    versions = (query(db, "SELECT version FROM results WHERE id = %s", res["id"])[0]["version"],
                query(db, "SELECT version FROM needs WHERE id = %s", need["id"])[0]["version"])
    for method, path, who in writes:
        h = dict(who["h"], **{"Content-Type": "application/json", "Idempotency-Key": uniq("k")})
        for raw in (b'{"title": ', b'"just a string"', b'[1, 2]', b'{"a": 1, "a": 2}', b'{"id": 7}'):
            r = api.request(method, path, data=raw, headers=h)
            assert_problem(r, 400), (method, path, raw)
        # a body on a route that takes none, or of the wrong type
        r = api.request(method, path, data=b"title=x", headers=dict(h, **{"Content-Type": "text/plain"}))
        assert_problem(r, 415)
    assert {t: count(db, t) for t in tables} == before
    assert (query(db, "SELECT version FROM results WHERE id = %s", res["id"])[0]["version"],
            query(db, "SELECT version FROM needs WHERE id = %s", need["id"])[0]["version"]) == versions


def test_needs_roles(mk, api, db):
    before = count(db, "needs")
    assert_problem(api.post(V1 + "/needs", json=need_body()), 401)
    assert_problem(api.post(V1 + "/needs", json=need_body(), headers=mk.reviewer["h"]), 403)
    n = mk.create_need()
    assert_problem(api.post(V1 + f"/needs/{n['id']}/submit", headers=mk.a["h"]), 404)     # another org's
    assert_problem(api.post(V1 + f"/needs/{n['id']}/submit", headers=mk.reviewer["h"]), 403)
    assert_problem(api.patch(V1 + f"/needs/{n['id']}", json={"title": "x"}, headers=mk.a["h"]), 404)
    assert_problem(api.delete(V1 + f"/needs/{n['id']}", headers=mk.a["h"]), 404)
    assert_problem(api.get(V1 + f"/needs/{n['id']}", headers=mk.a["h"]), 404)
    assert count(db, "needs") == before + 1
    r = api.delete(V1 + f"/needs/{n['id']}", headers=dict(mk.b["h"], **{"If-Match": etag(api.get(
        V1 + f"/needs/{n['id']}", headers=mk.b["h"]))}))
    assert r.status == 204 and count(db, "needs") == before


# --------------------------------------------------------------------------------------
# The kept public document of a result (result_docs, migration 0042)
# --------------------------------------------------------------------------------------

def _rendered(db, rid, full=False):
    return query(db, "SELECT market_result_json(r, %s) AS j FROM results r WHERE id = %s", full, rid)[0]["j"]


def _kept(db, rid):
    rows = query(db, "SELECT doc FROM result_docs WHERE id = %s", rid)
    return json.loads(rows[0]["doc"]) if rows else None


def test_public_document_is_kept_for_exactly_the_public_results(mk, api, db):
    draft = mk.create_result()
    assert _kept(db, draft["id"]) is None
    res = mk.publish_result(title="保存的公开文档 " + uniq())
    p = V1 + f"/results/{res['id']}"
    kept = _kept(db, res["id"])
    assert kept == _rendered(db, res["id"]) and kept["status"] == "published"
    # the public is served the kept document; the holder sees its review fields as well
    pub = api.get(p)
    assert pub.status == 200 and pub.body == kept and etag(pub) == f'"{kept["version"]}"'
    assert pub.body["submitted_at"] is None
    own = api.get(p, headers=mk.a["h"])
    assert own.status == 200 and own.body == _rendered(db, res["id"], True) and own.body["submitted_at"]
    assert api.get(p, headers=mk.reviewer["h"]).body["submitted_at"]
    # withdrawn: no longer kept, and no longer public
    assert api.post(p + "/withdraw", headers=mk.a["h"]).status == 200
    assert _kept(db, res["id"]) is None
    assert_problem(api.get(p), 404)


def test_public_document_follows_the_labels_it_shows(mk, api, db):
    m = mk.fresh_member()  # its own org: a renamed org is verified again
    res = mk.publish_result(who=m, title="标签变化 " + uniq())
    p = V1 + f"/results/{res['id']}"
    # the holder is renamed
    new_name = "改名后的企业 " + uniq()
    r = api.patch(V1 + f"/orgs/{m['org']}", json={"name": new_name}, headers=mk.admin["h"])
    assert r.status == 200, r
    assert api.get(p).body["holder"]["name"] == new_name
    # an administrator relabels a code and a region (reference data), then puts them back
    dom, old_dom = res["domain"], res["domain_label"]
    old_mode = res["transfer_modes"][0]["label"]
    old_region = res["region_name"]
    try:
        query(db, "UPDATE codes SET label = '新标签' WHERE list = 'domains' AND code = %s", dom)
        query(db, "UPDATE codes SET label = '新方式' WHERE list = 'transfer_modes' AND code = 'transfer'")
        query(db, "UPDATE regions SET name = '新区名' WHERE code = %s", res["region_code"])
        b = api.get(p).body
        assert b["domain_label"] == "新标签" and b["transfer_modes"][0]["label"] == "新方式"
        assert b["region_name"] == "新区名"
    finally:
        query(db, "UPDATE codes SET label = %s WHERE list = 'domains' AND code = %s", old_dom, dom)
        query(db, "UPDATE codes SET label = %s WHERE list = 'transfer_modes' AND code = 'transfer'", old_mode)
        query(db, "UPDATE regions SET name = %s WHERE code = %s", old_region, res["region_code"])
    b = api.get(p).body
    assert (b["domain_label"], b["transfer_modes"][0]["label"], b["region_name"]) == (old_dom, old_mode, old_region)
    assert b == _rendered(db, res["id"])


def test_public_document_missing_is_rendered_instead(mk, api, db):
    res = mk.publish_result(title="文档丢失时 " + uniq())
    before = api.get(V1 + f"/results/{res['id']}").body
    query(db, "DELETE FROM result_docs WHERE id = %s", res["id"])
    r = api.get(V1 + f"/results/{res['id']}")
    assert r.status == 200 and r.body == before
