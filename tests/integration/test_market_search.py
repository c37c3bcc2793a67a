"""GET /api/v1/search: answered from the index, and exactly the rows a substring match gives —
checked against a scan in Python over every public listing, on a generated corpus full of the
tricky cases (full-width forms, mixed scripts, 1-, 2- and 4-character terms, % and _).  Also the
filters, facets, totals and their cap and cache, sorting, cursors, and the SQL copy of the
tokenizer against the pinned corpus of the C one."""

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from market_fixtures import *  # noqa: F401,F403

CORPUS = Path(__file__).resolve().parents[1] / "unit" / "cjk_corpus.tsv"

FRAGMENTS = ["锂电池", "电池", "锂", "芯片", "储能", "电", "池", "芯", "石墨烯", "复合材料", "Ｌｉ", "ＬＩ", "li", "ABC",
             "abc", "Abc", "５Ｇ", "5g", "50%", "a_b", "a%b", "Wi-Fi", "wifi", "，", "、", "（", "）", " ", "　",
             "リチウム", "배터리", "Über", "über", "𠀀𠀁", "正极材料", "锂电池组", "100%纯度", "Ｃ＋＋", "\\", "％"]
QUERIES = ["电", "池", "锂", "芯", "电池", "芯片", "储能", "锂电", "锂电池", "石墨烯", "复合材料", "正极材料",
           "锂电池ABC", "Ｌｉ电池", "li电池", "LI", "abc", "ABC", "５g", "5G", "50%", "a_b", "a%b", "５０％", "wi-fi",
           "WiFi", "über", "Über", "リチウム", "배터리", "𠀀", "𠀀𠀁", "电池 芯片", "锂 abc", "c++", "纯度", "100%纯",
           "b_", "池，", "电池组", "\\a"]


@pytest.fixture(scope="module")
def corpus(mk, _db_conn):
    """~240 public listings made of the fragments, inserted as demo data would be."""
    db = _db_conn
    rng = random.Random(4242)

    def text(lo, hi):
        return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(lo, hi))).strip() or "空"

    ids = []
    for i in range(160):
        title = text(1, 5)[:200]
        kws = list(dict.fromkeys(text(1, 2)[:30] for _ in range(rng.randint(0, 3))))
        kws = [k for k in kws if k.strip()]
        rid = query(db, "INSERT INTO results (holder_org_id, title, summary, keywords, domain, trl, transfer_modes,"
                        " asking_price_fen, region_code, status, submitted_at, published_at) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'published', now(), now() - %s * interval '1 hour')"
                        " RETURNING id",
                    rng.choice([mk.org_a, mk.org_b]), title, text(0, 12), kws,
                    rng.choice(["new_energy", "new_materials", "electronic_information"]), rng.randint(1, 9),
                    rng.sample(["transfer", "licence", "equity_investment"], rng.randint(1, 2)),
                    rng.choice([None, 1000000, 5000000, 20000000]), rng.choice(["511902", "511921", "110101"]),
                    rng.randint(0, 2000))[0]["id"]
        ids.append(("result", rid))
    for i in range(80):
        nid = query(db, "INSERT INTO needs (org_id, title, description, keywords, domain, region_code, budget_min_fen,"
                        " budget_max_fen, deadline, cooperation_modes, status, submitted_at, published_at) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'open', now(), now() - %s * interval '1 hour')"
                        " RETURNING id",
                    mk.org_b, text(1, 5)[:200], text(0, 12), [], rng.choice(["new_energy", "agriculture"]),
                    rng.choice(["511921", "511903"]), rng.choice([None, 2000000]), rng.choice([None, 9000000]),
                    rng.choice([None, future_date(100)]), rng.sample(["licence", "consulting"], 1),
                    rng.randint(0, 2000))[0]["id"]
        ids.append(("need", nid))
    return ids


def found(items):
    return {(i["kind"], i["id"]) for i in items}


# --------------------------------------------------------------------------------------
# The SQL tokenizer agrees with the C one
# --------------------------------------------------------------------------------------

def test_sql_tokenizer_matches_the_pinned_corpus(db):
    lines = [ln.rstrip("\n") for ln in CORPUS.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert len(lines) >= 25
    for ln in lines:
        text, toks, tsq = ln.split("\t")
        got = query(db, "SELECT array_to_string(ARRAY(SELECT t FROM unnest(search_tokens(search_norm(%s))) t"
                        " ORDER BY t COLLATE \"C\"), ' ') AS toks, search_query_tsquery(%s) AS tsq", text, text)[0]
        assert (got["toks"] or "-") == toks, text
        assert (got["tsq"] or "-") == tsq, text
    # normalisation keeps every character in its place
    assert query(db, "SELECT search_norm('Ｌｉ电池，ＡＢＣ　X') AS n")[0]["n"] == "li电池,abc x"


# --------------------------------------------------------------------------------------
# Exactly the substring matches
# --------------------------------------------------------------------------------------

def assert_capped(total, cap, matches):
    """Above the cap: the cap, not exact, and an estimate above the cap (from as few as cap + 1
    hits it can be far off; bench/search reports how far at scale)."""
    assert matches > cap
    assert set(total) == {"value", "exact", "estimate"}, total
    assert total["value"] == cap and total["exact"] is False, total
    assert isinstance(total["estimate"], int) and total["estimate"] > cap, total


@pytest.mark.parametrize("cap", [200, 3])
@pytest.mark.parametrize("q", QUERIES)
def test_search_equals_substring_scan(corpus, api, db, q, cap):
    """With the default cap the few matches are taken at once; with a cap of 3 every search is
    "large" and walks the days newest first (the path a frequent term takes)."""
    want = scan_ids(db, q)
    set_setting(db, "search_count_cap", cap)
    try:
        for sort in ("relevance", "recent"):
            items, first = search_all(api, {"q": q, "sort": sort}, limit=random.choice([7, 30, 100]))
            assert len(items) == len(found(items)), "an item came twice"
            assert found(items) == want, (q, sort, found(items) ^ want)
            if len(want) <= cap:
                assert first["total"] == {"value": len(want), "exact": True}
            else:
                assert_capped(first["total"], cap, len(want))
    finally:
        set_setting(db, "search_count_cap", 200)


def test_symbol_only_queries_are_refused(corpus, api):
    for q in ["%", "_", "%%", "，", "\\", "％"]:
        b = assert_problem(api.get(V1 + "/search?" + urlencode({"q": q})), 400)
        assert error_fields(b) == ["q"]


def test_recent_order_and_cursor_pages(corpus, api, db):
    items, _ = search_all(api, {"q": "电池", "sort": "recent"}, limit=7)
    times = [i["published_at"] for i in items]
    assert times == sorted(times, reverse=True)


def test_relevance_puts_title_matches_first(corpus, api, db):
    items, first = search_all(api, {"q": "锂电池"}, limit=9)
    assert first["sort"] == "relevance"
    tiers = [i["matched_in"] for i in items]
    assert tiers == sorted(tiers, key=lambda t: t != "title")
    titles = {(r["id"]): r["title"] for r in query(db, "SELECT id, title FROM results UNION ALL"
                                                        " SELECT id, title FROM needs")}
    for i in items:
        assert (norm("锂电池") in norm(i["title"])) == (i["matched_in"] == "title")
    for tier in ("title", "text"):
        t = [i["published_at"] for i in items if i["matched_in"] == tier]
        assert t == sorted(t, reverse=True)
    assert titles


def test_snippet_shows_the_match(mk, api, db):
    tail = uniq("尾")
    summary = "开头" * 60 + tail + "结尾"
    rid = query(db, "INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,"
                    " submitted_at, published_at) VALUES (%s, '片段测试', %s, 'agriculture', 3, '511902', 'published',"
                    " now(), now()) RETURNING id", mk.org_a, summary)[0]["id"]
    r = api.get(V1 + "/search?" + urlencode({"q": tail}))
    assert [i["id"] for i in r.body["items"]] == [rid]
    assert tail in r.body["items"][0]["snippet"] and r.body["items"][0]["snippet"].startswith("…")
    assert r.body["terms"] == [norm(tail)]


def snippet_reference(text, terms):
    """The snippet rule, written out: 120 characters from 30 before the first
    occurrence of a term in the normalised text (the start when there is none
    or it is within the first 40), '…' where text was cut."""
    low = norm(text)
    pos = [low.find(t) for t in terms if low.find(t) >= 0]
    best = min(pos) + 1 if pos else None
    if best is None or best <= 40:
        return text[:120] + ("…" if len(text) > 120 else "")
    return "…" + text[best - 31:best + 89] + ("…" if len(text) > best + 89 else "")


def test_snippets_around_the_first_term_byte_for_byte(mk, api, db):
    tag = uniq("片")
    t1, t2 = tag + "甲", tag + "乙"
    cases = [
        "短文" + t1,                                    # short: all of it
        "开" * 39 + t1 + "尾" * 200,                    # at character 40: from the start
        "开" * 40 + t1 + "尾" * 200,                    # at 41: cut on both sides
        "开" * 100 + t1,                                # cut before, the end shown
        "开" * 150 + t2 + "中" * 10 + t1 + "尾" * 30,   # the earlier of two terms
        'JSON "quotes" \\ back\tslash\n' + "开" * 50 + t1 + "</script>",   # escaped as JSON
        "ＦＵＬＬ" + "开" * 60 + t1.upper(),              # full-width and case folded
    ]
    ids = []
    for i, summary in enumerate(cases):
        ids.append(query(db, "INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,"
                             " submitted_at, published_at) VALUES (%s, %s, %s, 'agriculture', 3, '511902',"
                             " 'published', now(), now() - %s * interval '1 second') RETURNING id",
                         mk.org_a, "片段" + str(i), summary, i)[0]["id"])
    for q in (t1, t1 + " " + t2):
        for sort in ("relevance", "recent"):
            r = api.get(V1 + "/search?" + urlencode({"q": q, "sort": sort}))
            assert r.status == 200, r
            got = {i["id"]: i for i in r.body["items"]}
            terms = r.body["terms"]
            want_ids = [rid for rid, s in zip(ids, cases) if all(norm(t) in norm(s) for t in terms)]
            assert sorted(got) == sorted(want_ids), (q, sort)
            for rid, summary in zip(ids, cases):
                if rid in got:
                    assert got[rid]["snippet"] == snippet_reference(summary, terms), (q, rid)
                    assert got[rid]["matched_in"] == ("text" if sort == "relevance" else None)
                    assert got[rid]["title"].startswith("片段")          # the rest of the item is intact
    # the web page shows the snippet escaped: it is plain text in the JSON, never markup
    assert any("</script>" in i["snippet"] for i in api.get(V1 + "/search?" + urlencode({"q": t1})).body["items"])


# --------------------------------------------------------------------------------------
# Filters, facets, totals
# --------------------------------------------------------------------------------------

def expected(db, q, kind=None, extra=""):
    return scan_ids(db, q, kind, extra)


@pytest.mark.parametrize("params,kind,extra", [
    ({"kind": "result"}, "result", ""),
    ({"kind": "need"}, "need", ""),
    ({"domain": "new_energy"}, None, "AND domain = 'new_energy'"),
    ({"region": "511900"}, None, "AND region_code LIKE '5119%'"),          # the subtree of 巴中市
    ({"region": "510000"}, None, "AND region_code LIKE '51%'"),
    ({"region": "511921"}, None, "AND region_code = '511921'"),
    ({"trl_min": 3, "trl_max": 5}, "result", "AND trl BETWEEN 3 AND 5"),
    ({"trl_min": 8}, "result", "AND trl >= 8"),
    ({"mode": "licence"}, None, "MODE"),
    ({"holder_type": "022"}, None, None),
    ({"holder_type": "020"}, None, None),                                  # the parent type covers 022
    ({"price_min": 2000000, "price_max": 6000000}, None, None),
])
def test_filters(corpus, mk, api, db, params, kind, extra):
    q = "电池"
    if extra is None:
        want = filtered_by_python(db, q, params, mk)
    elif extra == "MODE":
        want = expected(db, q, "result", "AND 'licence' = ANY (transfer_modes)") | \
            expected(db, q, "need", "AND 'licence' = ANY (cooperation_modes)")
    else:
        want = expected(db, q, kind, extra)
    items, first = search_all(api, dict(params, q=q))
    assert found(items) == want, params
    assert first["total"]["value"] == len(want)
    # facets count the same rows
    kinds = {f["key"]: f["count"] for f in first["facets"]["kind"]}
    assert kinds == {k: n for k, n in (("result", sum(1 for x in want if x[0] == "result")),
                                       ("need", sum(1 for x in want if x[0] == "need"))) if n}


def filtered_by_python(db, q, params, mk):
    want = scan_ids(db, q)
    out = set()
    for kind, i in want:
        if kind == "result":
            r = query(db, "SELECT r.asking_price_fen AS lo, r.asking_price_fen AS hi, o.org_type FROM results r"
                          " JOIN orgs o ON o.id = r.holder_org_id WHERE r.id = %s", i)[0]
        else:
            r = query(db, "SELECT CASE WHEN n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL THEN NULL"
                          " ELSE coalesce(n.budget_min_fen, 0) END AS lo, n.budget_max_fen AS hi, o.org_type"
                          " FROM needs n JOIN orgs o ON o.id = n.org_id WHERE n.id = %s", i)[0]
        if "holder_type" in params:
            ht = params["holder_type"]
            parent = query(db, "SELECT parent_code FROM codes WHERE list = 'org_types' AND code = %s",
                           r["org_type"])[0]["parent_code"]
            if r["org_type"] != ht and parent != ht:
                continue
        if "price_min" in params:
            if r["lo"] is None or (r["hi"] is not None and r["hi"] < params["price_min"]):
                continue
            if r["lo"] > params["price_max"]:
                continue
        out.add((kind, i))
    return out


def test_facets_match_the_rows(corpus, api, db):
    items, first = search_all(api, {"q": "芯片", "kind": "result"})
    dom = {}
    for kind, i in found(items):
        d = query(db, "SELECT domain FROM results WHERE id = %s", i)[0]["domain"]
        dom[d] = dom.get(d, 0) + 1
    assert {f["key"]: f["count"] for f in first["facets"]["domain"]} == dom
    assert all(f["label"] for f in first["facets"]["domain"])
    assert set(first["facets"]) == {"kind", "domain", "region", "trl", "mode", "holder_type"}
    regions = {f["key"] for f in first["facets"]["region"]}
    assert regions <= {"510000", "110000"}  # provinces without a region filter
    _, sub = search_all(api, {"q": "芯片", "region": "510000"})
    assert {f["key"] for f in sub["facets"]["region"]} <= {"511900"}  # cities within a province


def test_count_cap(corpus, api, db):
    set_setting(db, "search_count_cap", 5)
    try:
        want = scan_ids(db, "电")
        assert len(want) > 5
        items, first = search_all(api, {"q": "电"}, limit=50)
        assert_capped(first["total"], 5, len(want))
        assert found(items) == want  # paging still reaches every match
    finally:
        set_setting(db, "search_count_cap", 200)


def test_totals_are_cached_and_invalidated(mk, api, db):
    set_setting(db, "search_stats_ttl_s", 30)
    word = uniq("缓存")
    insert = ("INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,"
              " published_at) VALUES (%s, %s, '简介', 'agriculture', 3, '511902', 'published', now(), now())")
    query(db, insert, mk.org_a, word + " 一")
    p = V1 + "/search?" + urlencode({"q": word})
    assert api.get(p).body["total"]["value"] == 1
    query(db, insert, mk.org_a, word + " 二")          # behind the server's back
    r = api.get(p).body
    assert r["total"]["value"] == 1 and len(r["items"]) == 2  # the total is cached, the items are not
    mk.publish_result(title=word + " 三")               # a listing published through the API
    r = api.get(p).body
    assert r["total"]["value"] == 3 and len(r["items"]) == 3



def test_expired_totals_are_recounted_once_while_others_get_the_old(mk, api, db):
    set_setting(db, "search_stats_ttl_s", 1)
    try:
        word = uniq("过期")
        insert = ("INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,"
                  " submitted_at, published_at) VALUES (%s, %s, '简介', 'agriculture', 3, '511902', 'published',"
                  " now(), now())")
        query(db, insert, mk.org_a, word + " 一")
        p = V1 + "/search?" + urlencode({"q": word})
        assert api.get(p).body["total"]["value"] == 1
        query(db, insert, mk.org_a, word + " 二")      # behind the server's back
        time.sleep(1.2)
        # a burst after expiry: every answer is whole, with the old total or the recounted one
        with ThreadPoolExecutor(8) as ex:
            bodies = [r.body for r in ex.map(lambda _: api.get(p), range(16))]
        assert all(b["total"]["value"] in (1, 2) and len(b["items"]) == 2 for b in bodies), bodies
        assert any(b["total"]["value"] == 2 for b in bodies)
        # the recount is in: from now on the new total
        assert api.get(p).body["total"] == {"value": 2, "exact": True}
    finally:
        set_setting(db, "search_stats_ttl_s", 0)

def test_cached_totals_outlive_the_entry_they_came_from(mk, api, server, db):
    """A request answered from the cache must not read the cache entry after
    its query: another request of the same worker may have replaced it (a
    recount) or cleared it (caching switched off) meanwhile.  Found by
    bench/search: switching the cache off under load crashed the server."""
    set_setting(db, "search_stats_ttl_s", 1)
    try:
        word = uniq("缓存")
        query(db, "INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,"
                  " submitted_at, published_at) VALUES (%s, %s, '简介', 'agriculture', 3, '511902', 'published',"
                  " now(), now())", mk.org_a, word)
        p = V1 + "/search?" + urlencode({"q": word})
        stop = time.monotonic() + 3.5
        bad = []

        def hammer():
            while time.monotonic() < stop:
                r = api.get(p)
                if r.status != 200 or r.body["total"] != {"value": 1, "exact": True} or len(r.body["items"]) != 1:
                    bad.append(r)
        with ThreadPoolExecutor(10) as ex:
            futs = [ex.submit(hammer) for _ in range(10)]
            time.sleep(2.2)                              # two recounts under load
            set_setting(db, "search_stats_ttl_s", 0)     # then entries cleared under load
            for f in futs:
                f.result()
        assert server.alive(), "the server died"
        assert not bad, bad[:3]
    finally:
        set_setting(db, "search_stats_ttl_s", 0)

# --------------------------------------------------------------------------------------
# Refused parameters
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("params,field", [
    ({"q": "电" * 101}, "q"),
    ({"q": "a b c d e f g h i"}, "q"),
    ({"kind": "contract"}, "kind"),
    ({"domain": "New Energy"}, "domain"),
    ({"domain": "no_such_domain"}, "domain"),
    ({"region": "5119"}, "region"),
    ({"region": "999999"}, "region"),
    ({"trl_min": 0}, "trl_min"),
    ({"trl_max": 10}, "trl_max"),
    ({"trl_min": 6, "trl_max": 2}, "trl_min"),
    ({"mode": "rent"}, "mode"),
    ({"price_min": -1}, "price_min"),
    ({"price_max": "1e9"}, "price_max"),
    ({"price_min": 10, "price_max": 5}, "price_min"),
    ({"holder_type": "22"}, "holder_type"),
    ({"holder_type": "555"}, "holder_type"),
    ({"from": "2025-13-01"}, "from"),
    ({"from": "2025-06-02", "to": "2025-06-01"}, "from"),
    ({"sort": "price"}, "sort"),
    ({"limit": 101}, "limit"),
    ({"cursor": "abc.def"}, "cursor"),
])
def test_bad_parameters(api, params, field):
    b = assert_problem(api.get(V1 + "/search?" + urlencode(params)), 400)
    assert field in error_fields(b), b


def test_cursor_belongs_to_its_sort(corpus, api):
    r = api.get(V1 + "/search?" + urlencode({"q": "电", "sort": "recent", "limit": 2}))
    cur = r.body["next_cursor"]
    assert cur
    assert api.get(V1 + "/search?" + urlencode({"q": "电", "sort": "recent", "limit": 2, "cursor": cur})).status == 200
    b = assert_problem(api.get(V1 + "/search?" + urlencode({"q": "电", "sort": "relevance", "cursor": cur})), 400)
    assert error_fields(b) == ["cursor"]
    tampered = cur[:-2] + ("AA" if not cur.endswith("AA") else "BB")
    assert_problem(api.get(V1 + "/search?" + urlencode({"q": "电", "sort": "recent", "cursor": tampered})), 400)


def test_browse_without_query(corpus, api):
    r = api.get(V1 + "/search?limit=5")
    assert r.status == 200 and r.body["sort"] == "recent" and len(r.body["items"]) == 5
    assert r.body["total"]["value"] > 5
    times = [i["published_at"] for i in r.body["items"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("scan,cap", [(3000, 200), (3000, 3), (4, 3), (1, 200)])
@pytest.mark.parametrize("params,kind,extra", [
    ({"kind": "result"}, "result", ""),
    ({"kind": "need", "domain": "new_energy"}, "need", "AND domain = 'new_energy'"),
    ({"region": "511900"}, None, "AND region_code LIKE '5119%'"),
    ({"trl_min": 3, "trl_max": 5, "kind": "result"}, "result", "AND trl BETWEEN 3 AND 5"),
    ({"mode": "licence"}, None, "MODE"),
])
def test_browse_equals_the_scan(corpus, api, db, params, kind, extra, scan, cap):
    """A browse (filters, no text) walks at most search_browse_scan listings of the recency index,
    then goes on through the GIN index from where it stopped: every page of it, either way, is
    exactly the listings the filters select, newest first."""
    if extra == "MODE":
        want = expected(db, "", "result", "AND 'licence' = ANY (transfer_modes)") | \
            expected(db, "", "need", "AND 'licence' = ANY (cooperation_modes)")
    else:
        want = expected(db, "", kind, extra)
    assert want
    set_setting(db, "search_browse_scan", scan)
    set_setting(db, "search_count_cap", cap)
    try:
        # the whole suite shares one database: the listings other modules made are pages too
        limit = random.choice([2, 7, 30])
        items, first = search_all(api, params, limit=limit, max_pages=len(want) // limit + 3)
        assert len(items) == len(found(items)), "an item came twice"
        assert found(items) == want, (params, found(items) ^ want)
        times = [(i["published_at"]) for i in items]
        assert times == sorted(times, reverse=True)
        if len(want) <= cap:
            assert first["total"] == {"value": len(want), "exact": True}
            kinds = {f["key"]: f["count"] for f in first["facets"]["kind"]}
            assert sum(kinds.values()) == len(want)
        else:
            assert_capped(first["total"], cap, len(want))
    finally:
        set_setting(db, "search_browse_scan", 3000)
        set_setting(db, "search_count_cap", 200)


def test_lexeme_frequencies_bound_the_matches(corpus, api, db):
    """search_lexeme_freq_refresh() copies the planner's lexeme frequencies after an ANALYZE;
    search_match_bound() is then never below the true number of matches (the search takes a
    rare term in one query on that bound: too low would only cost time, but it must not be)."""
    query(db, "ANALYZE search_docs")
    query(db, "DELETE FROM tsv_freq_stats WHERE source = 'search_docs'")
    assert query(db, "SELECT search_lexeme_freq_refresh() AS r")[0]["r"] is True
    assert query(db, "SELECT search_lexeme_freq_refresh() AS r")[0]["r"] is False   # nothing new
    n = query(db, "SELECT count(*) AS n FROM search_docs")[0]["n"]
    st = query(db, "SELECT n_docs, min_freq FROM tsv_freq_stats WHERE source = 'search_docs'")[0]
    assert st["n_docs"] == n and 0 < st["min_freq"] <= 1
    row = query(db, "SELECT lexeme, freq FROM search_lexeme_freq WHERE lexeme = '#k:result'")[0]
    results = query(db, "SELECT count(*) AS n FROM search_docs WHERE kind = 'result'")[0]["n"]
    assert abs(row["freq"] * n - results) < 1, (row, results, n)
    for q in ["电池", "电", "电池 材料", "锂电池"]:
        tsq = query(db, "SELECT search_query_tsquery(%s) AS t", q)[0]["t"]
        for extra in ["", " & '#k:need'", " & ('#t:3' | '#t:4')", " & 'ab':*"]:
            got = query(db, "SELECT search_match_bound(%s) AS b, (SELECT count(*) FROM search_docs"
                            " WHERE tsv @@ %s::tsquery) AS n", tsq + extra, tsq + extra)[0]
            assert got["b"] is not None and got["b"] >= got["n"], (q, extra, got)
    # search_match_estimate() (how a browse starts): one lexeme, its count; ANDed lexemes, the product of
    # their shares; an OR group or a prefix counts for nothing
    needs = n - results
    est = lambda q: query(db, "SELECT search_match_estimate(%s) AS e", q)[0]["e"]  # noqa: E731
    assert abs(est("'#k:result'") - results) < 1
    assert abs(est("'#k:result' & '#k:need'") - results * needs / n) < 1
    assert abs(est("'#k:need' & ('#t:3' | '#t:4') & 'ab':*") - needs) < 1


def test_bounded_terms_in_one_query_equal_the_scan(corpus, api, db):
    """A text search whose bound (search_match_bound) is at most 2,000 matches takes them in one
    query on every page, with the totals counted or cached (market_search: one_q).  With a cap of
    3 every search here has more matches than the count keeps, so the pages after the count come
    from that query (test_search_equals_substring_scan: the day windows): equal to the scan,
    title hits first under relevance, newest first within each tier."""
    query(db, "ANALYZE search_docs")
    query(db, "DELETE FROM tsv_freq_stats WHERE source = 'search_docs'")
    assert query(db, "SELECT search_lexeme_freq_refresh() AS r")[0]["r"] is True
    set_setting(db, "search_count_cap", 3)
    try:
        for q in ["电池", "锂电池", "储能", "复合材料", "电池 芯片", "锂 abc"]:
            want = scan_ids(db, q)
            assert len(want) > 3, q
            b = query(db, "SELECT search_match_bound(search_query_tsquery(%s)) AS b", q)[0]["b"]
            assert b is not None and len(want) <= b <= 2000, (q, b)
            for sort in ("relevance", "recent"):
                for _ in range(2):   # the second time with the totals cached
                    items, first = search_all(api, {"q": q, "sort": sort}, limit=random.choice([2, 7]))
                    assert len(items) == len(found(items)), "an item came twice"
                    assert found(items) == want, (q, sort, found(items) ^ want)
                    if sort == "relevance":
                        tiers = [i["matched_in"] for i in items]
                        assert tiers == sorted(tiers, key=lambda t: t != "title"), (q, tiers)
                    for tier in ("title", "text", None):
                        t = [i["published_at"] for i in items if sort == "recent" or i["matched_in"] == tier]
                        assert t == sorted(t, reverse=True), (q, sort, tier)
    finally:
        set_setting(db, "search_count_cap", 200)


def test_dates(corpus, api, db):
    rows = query(db, "SELECT to_char((published_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD') AS d"
                     " FROM results WHERE status = 'published' ORDER BY published_at DESC LIMIT 1 OFFSET 30")
    day = rows[0]["d"]
    items, _ = search_all(api, {"q": "电", "from": day, "to": day})
    want = scan_ids(db, "电", None, "AND (published_at AT TIME ZONE 'Asia/Shanghai')::date = '%s'" % day)
    assert found(items) == want


def test_few_estimated_matches_counted_in_one_query_equal_the_scan(corpus, api, db):
    """A new search of several words each common on its own (bound, the rarest lexeme's listings,
    above 300) but estimated rare together (search_text_estimate: per word its rarest lexeme's
    share, words and filters multiplied, <= 5 x (cap + 1)) is counted in one query instead of the
    day windows (market_search: one_count).  The shares are this corpus's, the number of listings
    made 5,000, so that the bounds are those of a large index: equal to the scan, the total
    exact, title hits first."""
    query(db, "ANALYZE search_docs")
    query(db, "DELETE FROM tsv_freq_stats WHERE source = 'search_docs'")
    assert query(db, "SELECT search_lexeme_freq_refresh() AS r")[0]["r"] is True
    n = query(db, "SELECT n_docs FROM tsv_freq_stats WHERE source = 'search_docs'")[0]["n_docs"]
    big = 5000
    est = lambda q, pats: query(db, "SELECT search_text_estimate(%s, %s) AS e", q, pats)[0]["e"]  # noqa: E731
    bound = lambda q: query(db, "SELECT search_match_bound(%s) AS b", q)[0]["b"]  # noqa: E731
    tsq = lambda q: query(db, "SELECT search_query_tsquery(%s) AS t", q)[0]["t"]  # noqa: E731
    query(db, "UPDATE tsv_freq_stats SET n_docs = %s WHERE source = 'search_docs'", big)
    try:
        # the estimate: one word's bigrams go together (its rarest lexeme), words and filter lexemes
        # are multiplied, a word run (a prefix) counts for nothing
        assert abs(est(tsq("锂电池"), ["%锂电池%"]) - bound(tsq("锂电池"))) <= 1
        two = est(tsq("电池 芯片"), ["%电池%", "%芯片%"])
        assert abs(two - bound(tsq("电池")) * bound(tsq("芯片")) / big) <= 2 * big / 100, two
        need_share = query(db, "SELECT freq FROM search_lexeme_freq WHERE lexeme = '#k:need'")[0]["freq"]
        assert abs(est(tsq("电池 芯片") + " & '#k:need'", ["%电池%", "%芯片%"]) - two * need_share) < 1
        assert abs(est(tsq("锂 abc"), ["%锂%", "%abc%"]) - bound(tsq("锂"))) <= 1
        for q, params in [("电池 芯片", {}), ("锂 储能", {}), ("电池 复合材料", {}), ("电池 芯片", {"kind": "result"}),
                          ("锂电池 芯片", {"sort": "recent"})]:
            pats = ["%" + t + "%" for t in q.split()]
            t = tsq(q) + (" & '#k:%s'" % params["kind"] if "kind" in params else "")
            b, e = bound(t), est(t, pats)
            assert b > 300 and e <= 5 * 201, (q, b, e)
            want = scan_ids(db, q, params.get("kind"))
            assert 0 < len(want) <= 200, (q, len(want))
            items, first = search_all(api, dict(params, q=q), limit=random.choice([2, 7, 30]))
            assert len(items) == len(found(items)), "an item came twice"
            assert found(items) == want, (q, found(items) ^ want)
            assert first["total"] == {"value": len(want), "exact": True}
            if params.get("sort") != "recent":
                tiers = [i["matched_in"] for i in items]
                assert tiers == sorted(tiers, key=lambda x: x != "title"), (q, tiers)
    finally:
        query(db, "UPDATE tsv_freq_stats SET n_docs = %s WHERE source = 'search_docs'", n)


@pytest.mark.parametrize("cap", [200, 3])
@pytest.mark.parametrize("params,kind", [
    ({"q": "电"}, None), ({"q": "电池 芯片"}, None), ({"q": "锂", "sort": "recent"}, None),
    ({"kind": "need"}, "need"), ({"kind": "result", "domain": "new_energy"}, "result"),
])
@pytest.mark.parametrize("span", ["from", "to", "both"])
def test_dates_bound_the_days_walked(corpus, api, db, params, kind, span, cap):
    """A date filter bounds the day windows of search_collect (the last window ends on the from
    date; none starts after the to date): with a cap of 3 and the browse walk off every search
    here walks windows after the count, and its pages equal the scan over those dates."""
    days = [r["d"] for r in query(
        db, "SELECT to_char((published_at AT TIME ZONE 'Asia/Shanghai')::date, 'YYYY-MM-DD') AS d"
            " FROM results WHERE status = 'published' ORDER BY published_at DESC")]
    lo, hi = days[len(days) * 2 // 3], days[len(days) // 3]
    dates, extra = {}, ""
    if span in ("from", "both"):
        dates["from"] = lo
        extra += " AND (published_at AT TIME ZONE 'Asia/Shanghai')::date >= '%s'" % lo
    if span in ("to", "both"):
        dates["to"] = hi
        extra += " AND (published_at AT TIME ZONE 'Asia/Shanghai')::date <= '%s'" % hi
    if "domain" in params:
        extra += " AND domain = '%s'" % params["domain"]
    set_setting(db, "search_count_cap", cap)
    set_setting(db, "search_browse_scan", 1)
    try:
        want = scan_ids(db, params.get("q", ""), kind, extra)
        items, first = search_all(api, dict(params, **dates), limit=random.choice([2, 7]))
        assert len(items) == len(found(items)), "an item came twice"
        assert found(items) == want, (params, dates, found(items) ^ want)
        if len(want) <= cap:
            assert first["total"] == {"value": len(want), "exact": True}
    finally:
        set_setting(db, "search_browse_scan", 3000)
        set_setting(db, "search_count_cap", 200)


def test_title_hits_bounded_in_one_query_equal_the_scan(corpus, api, db):
    """Under relevance, after a count above the cap, the older title hits are taken in one query
    when the title lexemes' bound (search_match_bound of the '^' lexemes, rarer than the text's) is
    at most 2,000 even where the text's bound is above it (market_search: title_bound).  The number
    of listings is set so that each term here is in that case; with a cap of 3 the title tier is
    walked after the count, and on later pages: equal to the scan, title hits first, newest first."""
    import re
    query(db, "ANALYZE search_docs")
    query(db, "DELETE FROM tsv_freq_stats WHERE source = 'search_docs'")
    assert query(db, "SELECT search_lexeme_freq_refresh() AS r")[0]["r"] is True
    n = query(db, "SELECT n_docs FROM tsv_freq_stats WHERE source = 'search_docs'")[0]["n_docs"]
    bound = lambda q: query(db, "SELECT search_match_bound(%s) AS b", q)[0]["b"]  # noqa: E731
    set_setting(db, "search_count_cap", 3)
    try:
        tried = 0
        for q in ["电池", "芯片", "储能", "电", "锂电池"]:
            tsq = query(db, "SELECT search_query_tsquery(%s) AS t", q)[0]["t"]
            title = re.sub(r"'([^']+)'", r"'^\1'", tsq)
            query(db, "UPDATE tsv_freq_stats SET n_docs = %s WHERE source = 'search_docs'", n)
            s_text, s_title = bound(tsq) / n, bound(title) / n
            if not s_title < s_text:
                continue
            big = int(2000 / s_title)
            query(db, "UPDATE tsv_freq_stats SET n_docs = %s WHERE source = 'search_docs'", big)
            if not (bound(tsq) > 2000 and 0 <= bound(title) <= 2000):
                continue
            tried += 1
            want = scan_ids(db, q)
            assert len(want) > 3
            items, first = search_all(api, {"q": q}, limit=random.choice([2, 7]))
            assert len(items) == len(found(items)), "an item came twice"
            assert found(items) == want, (q, found(items) ^ want)
            tiers = [i["matched_in"] for i in items]
            assert tiers == sorted(tiers, key=lambda t: t != "title"), (q, tiers)
            for tier in ("title", "text"):
                t = [i["published_at"] for i in items if i["matched_in"] == tier]
                assert t == sorted(t, reverse=True), (q, tier)
        assert tried >= 3, tried
    finally:
        query(db, "UPDATE tsv_freq_stats SET n_docs = %s WHERE source = 'search_docs'", n)
        set_setting(db, "search_count_cap", 200)
