"""GET /needs/{id}/matches and GET /results/{id}/matches: ranked, each match with the reasons for
its score; only the owning org (or an admin) may ask."""

from market_fixtures import *  # noqa: F401,F403


def codes(match):
    return {r["code"] for r in match["reasons"]}


def test_need_matches_rank_and_explain(mk, api):
    tag = uniq("液冷")
    need = mk.open_need(title=f"储能电站{tag}热管理", keywords=[tag, "储能"], domain="nuclear_applications",
                        region_code="511921", trl_min=5, budget_min_fen=1000000, budget_max_fen=90000000,
                        cooperation_modes=["licence"])
    # best: shares the keyword, same domain, same county, TRL above the minimum, price within budget
    best = mk.publish_result(title=f"储能电站{tag}热管理系统", keywords=[tag], domain="nuclear_applications",
                             region_code="511921", trl=7, asking_price_fen=50000000, transfer_modes=["licence"])
    # weaker: the keyword only, another domain and province, TRL too low
    weak = mk.publish_result(title="其他成果", summary=f"涉及{tag}的一点应用", keywords=["其他"],
                             domain="agriculture", region_code="110101", trl=2, transfer_modes=["transfer"])
    # unrelated: nothing in common
    other = mk.publish_result(title="无关的成果" + uniq(), keywords=["无关"], domain="aerospace",
                              region_code="110101", trl=1, transfer_modes=["transfer"])
    r = api.get(V1 + f"/needs/{need['id']}/matches?limit=100", headers=mk.b["h"])
    assert r.status == 200, r
    items = r.body["items"]
    ids = [m["item"]["id"] for m in items]
    assert best["id"] in ids and weak["id"] in ids and other["id"] not in ids
    assert ids.index(best["id"]) < ids.index(weak["id"])
    scores = [m["score"] for m in items]
    assert scores == sorted(scores, reverse=True)
    b = items[ids.index(best["id"])]
    assert {"shared_terms", "same_domain", "same_region", "trl_fit", "price_fit", "mode_fit",
            "title_similarity"} <= codes(b)
    st = next(x for x in b["reasons"] if x["code"] == "shared_terms")
    assert tag in st["terms"] and st["points"] > 0 and tag in st["message"]
    assert b["score"] == sum(x["points"] for x in b["reasons"])
    w = items[ids.index(weak["id"])]
    assert "shared_terms" in codes(w) and "trl_fit" not in codes(w) and "same_domain" not in codes(w)
    assert b["item"]["kind"] == "result" and b["item"]["title"] == best["title"]


def test_result_matches_open_needs(mk, api):
    tag = uniq("秸秆")
    res = mk.publish_result(title=f"{tag}综合利用技术", keywords=[tag], domain="agriculture", trl=6,
                            region_code="511902")
    need = mk.open_need(title=f"寻求{tag}处理方案", keywords=[tag], domain="agriculture", trl_min=4,
                        region_code="511921")
    closed = mk.open_need(title=f"已关闭的{tag}需求", keywords=[tag], domain="agriculture")
    assert api.post(V1 + f"/needs/{closed['id']}/close", headers=mk.b["h"]).status == 200
    r = api.get(V1 + f"/results/{res['id']}/matches", headers=mk.a["h"])
    assert r.status == 200
    by_id = {m["item"]["id"]: m for m in r.body["items"]}
    assert need["id"] in by_id and closed["id"] not in by_id
    m = by_id[need["id"]]
    assert {"shared_terms", "same_domain", "trl_fit"} <= codes(m)
    region = next(x for x in m["reasons"] if x["code"] == "same_region")
    assert region["level"] == "city"  # 巴州区 and 通江县 are both in 巴中市


def test_matches_are_for_the_owner(mk, api):
    need = mk.create_need()
    p = V1 + f"/needs/{need['id']}/matches"
    assert api.get(p, headers=mk.b["h"]).status == 200   # a draft can be matched too
    assert_problem(api.get(p, headers=mk.a["h"]), 404)
    assert_problem(api.get(p), 401)
    assert_problem(api.get(p, headers=mk.reviewer["h"]), 403)
    assert api.get(p, headers=mk.admin["h"]).status == 200
    assert_problem(api.get(V1 + "/needs/0/matches", headers=mk.b["h"]), 404)
    res = mk.create_result()
    assert_problem(api.get(V1 + f"/results/{res['id']}/matches", headers=mk.b["h"]), 404)
    assert_problem(api.get(V1 + f"/results/{res['id']}/matches?limit=500", headers=mk.a["h"]), 400)


def test_own_org_listings_are_not_matches(mk, api):
    tag = uniq("自匹配")
    need = mk.open_need(who=mk.b, title=f"{tag}需求", keywords=[tag])
    own = mk.publish_result(who=None, title=f"{tag}成果", keywords=[tag])  # org A's: a match
    mine = mk.publish_result(who=mk.b, title=f"{tag}乙方自己的成果", keywords=[tag])
    r = api.get(V1 + f"/needs/{need['id']}/matches", headers=mk.b["h"])
    ids = [m["item"]["id"] for m in r.body["items"]]
    assert own["id"] in ids and mine["id"] not in ids
