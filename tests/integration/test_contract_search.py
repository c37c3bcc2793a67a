"""Staff search over contracts: GET /api/v1/contracts?q=&filters&sort (issue #19, part 3).

Every key: the registration number (exact and prefix), a title word (two characters from the index,
longer ones rechecked — exactly the rows a substring match gives), a party's name, a credit code
(whole, lower case, a prefix); the filters (status, office, type, year, region, amount range,
overdue, party organisation), each sort with its keyset cursor; and always the caller's scope: an
officer sees their office's applications, a bureau its region's registrations, a member their
organisation's contracts.  Refused parameters are 400 with the parameter named.
"""
import datetime
import uuid

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, assert_problem, contract_body, create_contract, make_actor, new_office, new_org,
                               query, register, submit)

# A letter first: an all-digit tag (about 1 in 17 of hex[:6]) reads as a registration number prefix.
TAG = "k" + uuid.uuid4().hex[:5]


def ids(r):
    assert r.status == 200, r
    return [x["id"] for x in r.body["items"]]


def everything(api, h, path):
    """Every page of a search, with the cursor."""
    out, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        r = api.get(path + sep + "limit=2" + ("&cursor=" + cursor if cursor else ""), headers=h)
        assert r.status == 200, r
        out += [x["id"] for x in r.body["items"]]
        cursor = r.body["next_cursor"]
        if not cursor:
            return out


@pytest.fixture(scope="module")
def s(api, cdb, cworld, users):
    """Contracts of office A (seller, buyer of cworld) with chosen titles and amounts; one of office B."""
    w = cworld
    x = type("S", (), {})()
    x.w = w
    titles = [f"锂电池回收技术开发合同{TAG}", f"锂电设备与电池检测技术服务合同{TAG}", f"富硒茶深加工技术转让合同{TAG}",
              f"银耳多糖提取工艺技术开发合同{TAG}"]
    x.c = []
    for i, t in enumerate(titles):
        ctype, sub = [("development", "commissioned_development"), ("service", "technical_service"),
                      ("transfer", "patent_transfer"), ("development", "cooperative_development")][i]
        amount = [20_000_000, 5_000_000, 80_000_000, 1_000_000][i]
        c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer, ctype, sub, amount, amount,
                                                                title=t, non_technical_items=[]))
        c = submit(api, w.m_seller["h"], c["id"])
        if i < 3:
            c = register(api, w.officer["h"], c["id"])
        x.c.append(c)
    # one application of another office, same words in its title
    x.region_b = w.office2["region_code"]
    x.seller_b = new_org(cdb, x.region_b, org_type="150", name=f"锂电池回收公司{TAG}")
    x.m_b = make_actor(users, "member", org=x.seller_b["id"])
    cb = create_contract(api, x.m_b["h"], contract_body(cdb, x.seller_b, w.buyer, title=f"锂电池回收合同乙{TAG}"))
    x.cb = submit(api, x.m_b["h"], cb["id"])
    x.bureau_a = make_actor(users, "bureau", region=w.office["region_code"])
    x.bureau_far = make_actor(users, "bureau", region="650000" if not w.office["region_code"].startswith("65") else "540000")
    return x


def test_registration_number_exact_and_prefix(api, s):
    a = s.w.admin["h"]
    no = s.c[0]["registration_no"]
    assert ids(api.get(f"{V1}/contracts?q={no}", headers=a)) == [s.c[0]["id"]]
    prefix = no[:10]       # year + the office's region code: every registration of the office that year
    got = ids(api.get(f"{V1}/contracts?q={prefix}&limit=100", headers=a))
    assert {c["id"] for c in s.c[:3]} <= set(got)
    assert all(api.get(f"{V1}/contracts/{i}", headers=a).body["registration_no"].startswith(prefix) for i in got)
    assert ids(api.get(f"{V1}/contracts?q={no[:15]}9", headers=a)) == ([s.c[0]["id"]] if no[15] == "9" else [])


@pytest.mark.parametrize("n", [4, 8, 10, 12, 14, 15])
def test_registration_prefix_pages_and_count(api, cdb, s, n):
    """A prefix alone is answered from its index's ids, sorted in the server: every page in order and
    the count equal the registered contracts whose number starts with it, newest and oldest first."""
    a = s.w.admin["h"]
    prefix = s.c[0]["registration_no"][:n]
    want = [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE registration_no LIKE %s ORDER BY id DESC",
                                   prefix + "%")]
    assert s.c[0]["id"] in want
    assert everything(api, a, f"{V1}/contracts?q={prefix}") == want
    assert everything(api, a, f"{V1}/contracts?q={prefix}&sort=oldest") == want[::-1]
    r = api.get(f"{V1}/contracts?q={prefix}", headers=a)
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    assert r.body["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, r.body["total"]


def test_title_words_exact_as_substrings(api, s):
    a = s.w.admin["h"]
    # 锂电池 is in contract 0 only: contract 1 has 锂电 and 电池 but not 锂电池 (the recheck)
    assert set(ids(api.get(f"{V1}/contracts?q=锂电池%20{TAG}", headers=a))) == {s.c[0]["id"], s.cb["id"]}
    assert ids(api.get(f"{V1}/contracts?q=锂电池{TAG}", headers=a)) == []   # not one substring
    got = set(ids(api.get(f"{V1}/contracts?q=锂电池&limit=100", headers=a)))
    assert s.c[0]["id"] in got and s.c[1]["id"] not in got and s.cb["id"] in got
    # two terms: both must occur; a two-character term from the index alone
    assert ids(api.get(f"{V1}/contracts?q=富硒%20{TAG}", headers=a)) == [s.c[2]["id"]]
    assert s.c[3]["id"] in ids(api.get(f"{V1}/contracts?q=多糖&limit=100", headers=a))
    # full-width letters and digits fold like the marketplace's
    fw = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in TAG)
    assert set(ids(api.get(f"{V1}/contracts?q={fw}&limit=100", headers=a))) >= {c["id"] for c in s.c}


def test_party_names_and_credit_codes(api, s):
    w, a = s.w, s.w.admin["h"]
    mine = {c["id"] for c in s.c}
    got = set(ids(api.get(f"{V1}/contracts?q={w.buyer['name']}&limit=100", headers=a)))
    assert mine <= got
    cc = w.seller["credit_code"]
    for q in (cc, cc.lower(), cc[:12]):
        got = set(everything(api, a, f"{V1}/contracts?q={q}"))
        assert mine <= got, q
        for i in got:
            c = api.get(f"{V1}/contracts/{i}", headers=a).body
            assert any(q.upper() in (p["credit_code"] or "") for p in (c["seller"], c["buyer"])), (q, c["id"])


def test_scope(api, s):
    w = s.w
    q = f"{V1}/contracts?q={TAG}&limit=100"
    everyone = {c["id"] for c in s.c} | {s.cb["id"]}
    assert set(ids(api.get(q, headers=w.admin["h"]))) == everyone
    assert set(ids(api.get(q, headers=w.officer["h"]))) == {c["id"] for c in s.c}
    assert set(ids(api.get(q, headers=w.officer2["h"]))) == {s.cb["id"]}
    assert set(ids(api.get(q, headers=w.m_seller["h"]))) == {c["id"] for c in s.c}
    assert set(ids(api.get(q, headers=w.m_third["h"]))) == set()
    assert set(ids(api.get(q, headers=s.m_b["h"]))) == {s.cb["id"]}
    # a bureau: registrations whose seller or buyer is in its region
    assert set(ids(api.get(q, headers=s.bureau_a["h"]))) == {c["id"] for c in s.c[:3]}
    assert ids(api.get(q, headers=s.bureau_far["h"])) == []
    assert_problem(api.get(q), 401)


def test_filters(api, s):
    a = s.w.admin["h"]
    base = f"{V1}/contracts?q={TAG}&limit=100"
    c = s.c
    assert set(ids(api.get(base + "&status=submitted", headers=a))) == {c[3]["id"], s.cb["id"]}
    assert set(ids(api.get(base + f"&office_id={s.w.office['id']}", headers=a))) == {x["id"] for x in c}
    assert set(ids(api.get(base + "&type=development", headers=a))) >= {c[0]["id"], c[3]["id"]}
    assert c[1]["id"] not in ids(api.get(base + "&type=development", headers=a))
    assert set(ids(api.get(base + "&type=cooperative_development", headers=a))) == {c[3]["id"]}
    year = c[0]["registration_no"][:4]
    assert set(ids(api.get(base + f"&year={year}", headers=a))) == {x["id"] for x in c[:3]}
    assert ids(api.get(base + "&year=1999", headers=a)) == []
    assert set(ids(api.get(base + f"&region={s.region_b}", headers=a))) == {s.cb["id"]}
    prov = s.w.office["region_code"][:2] + "0000"
    assert {x["id"] for x in c} <= set(ids(api.get(base + f"&region={prov}", headers=a)))
    assert set(ids(api.get(base + f"&amount_min=5000000&amount_max=20000000&org_id={s.w.seller['id']}", headers=a))) == \
        {c[0]["id"], c[1]["id"]}
    assert set(ids(api.get(base + f"&org_id={s.seller_b['id']}", headers=a))) == {s.cb["id"]}
    assert ids(api.get(base + "&overdue=true", headers=a)) == []
    assert set(ids(api.get(base + "&overdue=false", headers=a))) == {x["id"] for x in c} | {s.cb["id"]}


def test_overdue(api, cdb, s):
    a = s.w.admin["h"]
    with cdb.cursor() as cur:
        cur.execute("UPDATE contracts SET due_on = due_on - 400 WHERE id = %s", (s.c[3]["id"],))
    try:
        assert ids(api.get(f"{V1}/contracts?q={TAG}&overdue=true", headers=a)) == [s.c[3]["id"]]
    finally:
        with cdb.cursor() as cur:
            cur.execute("UPDATE contracts SET due_on = due_on + 400 WHERE id = %s", (s.c[3]["id"],))


def test_sorts_and_cursors(api, s):
    a = s.w.admin["h"]
    c = s.c
    mine = [x["id"] for x in c]
    base = f"{V1}/contracts?q={TAG}&org_id={s.w.seller['id']}"
    assert everything(api, a, base) == sorted(mine, reverse=True)
    assert everything(api, a, base + "&sort=oldest") == sorted(mine)
    # amounts 2000万, 500万, 8000万, 100万 (yuan ×100)
    assert everything(api, a, base + "&sort=amount_desc") == [c[2]["id"], c[0]["id"], c[1]["id"], c[3]["id"]]
    assert everything(api, a, base + "&sort=amount_asc") == [c[3]["id"], c[1]["id"], c[0]["id"], c[2]["id"]]
    reg = everything(api, a, base + "&sort=registered")
    assert set(reg) == set(mine[:3]) and reg == sorted(reg, key=lambda i: [x for x in c if x["id"] == i][0]["registered_at"],
                                                       reverse=True)
    # a cursor belongs to its sort
    r = api.get(base + "&limit=1&sort=amount_desc", headers=a)
    r2 = api.get(base + "&limit=1&sort=newest&cursor=" + r.body["next_cursor"], headers=a)
    assert_problem(r2, 400)
    assert "cursor" in [e["field"] for e in r2.body["errors"]]


@pytest.mark.parametrize("qs,field,code", [
    ("status=open", "status", "invalid"),
    ("sort=relevance", "sort", "invalid"),
    ("year=1980", "year", "out_of_range"),
    ("year=abc", "year", "out_of_range"),
    ("amount_min=5&amount_max=4", "amount_min", "out_of_order"),
    ("amount_min=-1", "amount_min", "out_of_range"),
    ("office_id=0", "office_id", "out_of_range"),
    ("org_id=x", "org_id", "out_of_range"),
    ("type=Patent-Transfer", "type", "invalid"),
    ("type=no_such_type", "type", "unknown_code"),
    ("region=51", "region", "invalid"),
    ("region=999999", "region", "unknown_region"),
    ("overdue=yes", "overdue", "invalid"),
    ("q=%E3%80%81%EF%BC%8C", "q", "no_searchable_character"),
    ("q=" + "技" * 101, "q", "invalid"),
    ("cursor=abc", "cursor", "invalid"),
])
def test_bad_parameters(api, s, qs, field, code):
    r = api.get(f"{V1}/contracts?{qs}", headers=s.w.admin["h"])
    assert_problem(r, 400)
    assert (field, code) in [(e["field"], e["code"]) for e in r.body["errors"]], r.body


def test_reindex_fills_missing_search_columns(api, cdb, s):
    """Rows loaded with the triggers off (or older than the search) are made searchable by
    contract_search_reindex(), with the database's own tokenizer."""
    a = s.w.admin["h"]
    cid = s.c[2]["id"]
    with cdb.cursor() as cur:
        cur.execute("ALTER TABLE contracts DISABLE TRIGGER contracts_search")
        cur.execute("UPDATE contracts SET search_doc = NULL, search_tsv = NULL WHERE id = %s", (cid,))
        cur.execute("ALTER TABLE contracts ENABLE TRIGGER contracts_search")
    assert ids(api.get(f"{V1}/contracts?q=富硒茶%20{TAG}", headers=a)) == []
    assert query(cdb, "SELECT contract_search_reindex() AS n")[0]["n"] >= 1
    assert ids(api.get(f"{V1}/contracts?q=富硒茶%20{TAG}", headers=a)) == [cid]


def test_pages_past_the_probe(api, cdb, s):
    """A text search first reads the next 1,000 rows of the sort order (the probe of
    contract_search()): a page it fills is the page; a term whose matches lie further back is
    found through the index all the same.  1,100 newer applications, copies of one of ours under
    another title, stand in front of our four."""
    a = s.w.admin["h"]
    mine = [x["id"] for x in s.c]
    cols = [r["column_name"] for r in query(cdb, "SELECT column_name FROM information_schema.columns"
                                                 " WHERE table_name = 'contracts' AND column_name NOT IN"
                                                 " ('id', 'title', 'search_doc', 'search_tsv')"
                                                 " AND is_generated = 'NEVER' ORDER BY ordinal_position")]
    cl = ", ".join(cols)
    fill = f"填充{TAG[::-1]}"
    with cdb.cursor() as cur:
        cur.execute(f"INSERT INTO contracts (title, {cl}) SELECT %s || ' ' || g, {cl}"
                    " FROM contracts, generate_series(1, 1100) g WHERE id = %s RETURNING id",
                    (f"光伏组件{fill}合同", s.c[3]["id"]))
        new = [r[0] for r in cur.fetchall()]
    try:
        base = f"{V1}/contracts?org_id={s.w.seller['id']}"
        # our four, behind 1,100 newer rows: past the probe, through the index
        assert everything(api, a, base + f"&q={TAG}") == sorted(mine, reverse=True)
        assert everything(api, a, base + f"&q={TAG}&sort=amount_asc") == [s.c[3]["id"], s.c[1]["id"], s.c[0]["id"],
                                                                              s.c[2]["id"]]
        # the newer ones fill the probe's pages: the same pages as a scan gives
        want = sorted(new, reverse=True)
        r = api.get(base + f"&q={fill}&limit=50", headers=a)
        assert ids(r) == want[:50]
        r2 = api.get(base + f"&q={fill}&limit=50&cursor=" + r.body["next_cursor"], headers=a)
        assert ids(r2) == want[50:100]
        assert ids(api.get(base + f"&q={fill}%20光伏&sort=oldest&limit=30", headers=a)) == sorted(new)[:30]
    finally:
        with cdb.cursor() as cur:
            cur.execute("DELETE FROM contracts WHERE id = ANY (%s)", (new,))


def test_admin_list_without_conditions_counts(api, cdb, s):
    """No q, no filter, no scope (the admin): a full page, then the count apart, up to the cap."""
    r = api.get(f"{V1}/contracts?limit=1", headers=s.w.admin["h"])
    assert r.status == 200, r
    n = query(cdb, "SELECT count(*) AS n FROM contracts")[0]["n"]
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    assert n > 1 and r.body["next_cursor"]
    assert r.body["total"] == {"value": min(n, cap), "exact": n <= cap}, r.body["total"]
