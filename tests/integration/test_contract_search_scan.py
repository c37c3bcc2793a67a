"""Staff search over contracts equals a substring scan, with near-universal tokens (issue #19, part 3).

contract_search() intersects only a query's rare tokens and rechecks the common ones (in more than
5 % of the contracts, from the planner's statistics copied into contract_token_freq) with LIKE on the
candidates.  Here 2,400 contracts share 技术 and 合同 (every title), 开发 / 服务 / 转让 (a third each),
an English company word, and a few carry rare words; after ANALYZE and contract_token_freq_refresh()
every query — common, rare, mixed, single characters, bigrams across words, Latin prefixes, terms
that match nothing — gives, page by page, exactly the contracts a LIKE scan of the normalised title,
party names and credit codes gives, as the admin and as the officer (their office's applications),
with filters and sorts, and the first page counts them exactly up to the cap (search_count_cap).
"""
import urllib.parse
import uuid

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, contract_body, create_contract, make_actor, query, register, registered_contract,
                               submit, submitted_contract)
from market_fixtures import set_setting

TAG = "zq" + uuid.uuid4().hex[:6]
N = 2400


@pytest.fixture(scope="module")
def big(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer, title=f"基础合同{TAG}"))
    c = submit(api, w.m_seller["h"], c["id"])
    cols = [r["column_name"] for r in query(cdb, "SELECT column_name FROM information_schema.columns"
                                                 " WHERE table_name = 'contracts' AND column_name NOT IN"
                                                 " ('id', 'title', 'buyer_name', 'contract_amount_fen',"
                                                 " 'technical_amount_fen', 'search_doc', 'search_tsv')"
                                                 " AND is_generated = 'NEVER' ORDER BY ordinal_position")]
    cl = ", ".join(cols)
    with cdb.cursor() as cur:
        # the search columns are filled by the insert trigger (the server's own path)
        cur.execute(f"""
            INSERT INTO contracts (title, buyer_name, contract_amount_fen, technical_amount_fen, {cl})
            SELECT (ARRAY['锂电池', '储氢材料', '光伏组件', '智能电网', '富硒茶', '工业机器人', '基因检测'])[g %% 7 + 1]
                   || (ARRAY['制备', '回收', '检测', '优化', '集成', '示范应用', '关键工艺', '在线监测', '节能改造',
                             '数字孪生', '边缘计算', '质量追溯', '安全评估'])[g %% 13 + 1]
                   || CASE WHEN g %% 400 = 0 THEN '钒液流储能' ELSE '' END
                   || (ARRAY['技术开发合同', '技术服务合同', '技术转让合同'])[g %% 3 + 1] || %s,
                   (ARRAY['巴中', '偃师', '岳阳', '重庆', '成都', '绵阳', '洛阳', '长沙', '南充', '达州', '宜宾'])[g %% 11 + 1]
                   || 'Alpha' || (g %% 97) || '科技有限公司',
                   1000000 + (g * 7919) %% 100000, 1000000 + (g * 7919) %% 100000, {cl}
            FROM contracts, generate_series(1, %s) g WHERE id = %s RETURNING id""", (TAG, N, c["id"]))
        new = [r[0] for r in cur.fetchall()]
        cur.execute("ANALYZE contracts")
    query(cdb, "SELECT contract_token_freq_refresh()")
    yield type("B", (), {"w": w, "ids": new, "base": c})()
    with cdb.cursor() as cur:
        cur.execute("DELETE FROM contracts WHERE id = ANY (%s)", (new,))


def pages(api, h, path, limit=100):
    out, cursor, first = [], None, None
    while True:
        r = api.get(path + f"&limit={limit}" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""), headers=h)
        assert r.status == 200, r
        if first is None:
            first = r.body
        else:
            assert "total" not in r.body, r.body   # counted on the first page only
        out += [x["id"] for x in r.body["items"]]
        cursor = r.body["next_cursor"]
        if not cursor:
            return out, first


def scan(cdb, q, where="true"):
    """The contracts in which every term of q is a substring of the normalised title, a party's name
    or a credit code."""
    conds, args = [], []
    for t in q.lower().split():
        p = "%" + t + "%"
        conds.append("(search_norm(title) LIKE %s OR search_norm(seller_name) LIKE %s OR search_norm(buyer_name)"
                     " LIKE %s OR coalesce(search_norm(intermediary_name), '') LIKE %s"
                     " OR coalesce(search_norm(seller_credit_code), '') LIKE %s"
                     " OR coalesce(search_norm(buyer_credit_code), '') LIKE %s)")
        args += [p] * 6
    rows = query(cdb, f"SELECT id FROM contracts WHERE {where} AND " + " AND ".join(conds) + " ORDER BY id DESC", *args)
    return [r["id"] for r in rows]


QUERIES = ["技术", "合同", "技术开发", "开发", "技术 合同", "开发合同", "服务", "技术服务合同", "钒液流", "钒液流 技术",
           "液流 合同", "储能技术", "科技有限公司", "alpha", "ALPHA1", "alpha12", "有限", "术开", "转让 开发", "术",
           "技 术", "锂电池回收", "回收 合同 技术", "制备技术", "测技", "示范应用技术开发合同", "巴中alpha", "α技术",
           TAG, TAG + " 技术", "成都 服务"]


def test_common_tokens_are_rechecked_not_intersected(cdb, big):
    f = {r["token"]: r["freq"] for r in query(cdb, "SELECT token, freq FROM contract_token_freq"
                                                   " WHERE token IN ('技术', '合同', '钒液')")}
    assert f.get("技术", 0) > 0.5 and f.get("合同", 0) > 0.5, f
    assert "钒液" not in f or f["钒液"] < 0.02, f
    sp = query(cdb, "SELECT * FROM contract_search_split(%s, 0.02)", "'钒液' & '技术' & '液流'")[0]
    assert sp["rare_tsq"] == "'钒液' & '液流'" or sp["rare_tsq"] == "'液流' & '钒液'", sp
    assert sp["common_patterns"] == ["%技术%"], sp
    assert 0 < sp["rare_n"] < 200, sp
    sp = query(cdb, "SELECT * FROM contract_search_split(%s, 0.02)", "'技术' & 'alpha':*")[0]
    assert sp["rare_tsq"] is None and sp["common_patterns"] == ["%技术%", "%alpha%"], sp


@pytest.mark.parametrize("q", QUERIES)
def test_admin_equals_scan(api, cdb, big, q):
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    want = scan(cdb, q)
    got, first = pages(api, big.w.admin["h"], f"{V1}/contracts?q=" + urllib.parse.quote(q))
    assert got == want, (q, len(got), len(want))
    assert first["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, (q, first["total"])


@pytest.mark.parametrize("q", ["技术", "开发合同", "钒液流 技术", "alpha1", "服务 成都", "转让 开发"])
def test_officer_filters_and_sorts_equal_scan(api, cdb, big, q):
    w = big.w
    office = w.office["id"]
    scope = f"office_id = {int(office)} AND status <> 'draft'"
    qq = urllib.parse.quote(q)
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={qq}")
    assert got == scan(cdb, q, scope), q
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={qq}&status=submitted&amount_min=1050000")
    assert got == scan(cdb, q, scope + " AND status = 'submitted' AND contract_amount_fen >= 1050000"), q
    got, _ = pages(api, w.admin["h"], f"{V1}/contracts?q={qq}&sort=amount_asc")
    want = [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                        " ORDER BY contract_amount_fen, id", scan(cdb, q))]
    assert got == want, q
    got, _ = pages(api, w.admin["h"], f"{V1}/contracts?q={qq}&sort=oldest")
    assert got == sorted(scan(cdb, q)), q


@pytest.fixture
def windows(cdb):
    """Every query with a rare token is read a window of ids at a time (contract_search_direct_n 1)."""
    set_setting(cdb, "contract_search_direct_n", 1)
    yield
    set_setting(cdb, "contract_search_direct_n", 3000)


@pytest.mark.parametrize("q", ["钒液流", "钒液流 技术", "alpha12", "巴中alpha", "锂电池回收", "测技", TAG, "成都 服务"])
def test_id_windows_equal_scan(api, cdb, big, windows, q):
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    qq = urllib.parse.quote(q)
    want = scan(cdb, q)
    got, first = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}", limit=7)
    assert got == want, (q, len(got), len(want))
    assert first["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, (q, first["total"])
    got, _ = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}&sort=oldest", limit=30)
    assert got == sorted(want), q
    # the amount order: windows of amounts by the histogram; the count apart
    got, first = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}&sort=amount_desc", limit=11)
    assert got == [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                               " ORDER BY contract_amount_fen DESC, id DESC", want)], q
    assert first["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, (q, first["total"])
    got, _ = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}&sort=amount_asc", limit=13)
    assert got == [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                               " ORDER BY contract_amount_fen, id", want)], q
    w = big.w
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={qq}&status=submitted", limit=9)
    assert got == scan(cdb, q, f"office_id = {int(w.office['id'])} AND status = 'submitted'"), q
    # the windows were what ran: the statement bounded by ids is among the session's prepared ones
    tsq = query(cdb, "SELECT rare_tsq FROM contract_search_split(%s, 0.02)",
                " & ".join("'%s'" % t for t in ["钒液", "液流"]))[0]["rare_tsq"]
    assert tsq
    query(cdb, "SELECT * FROM contract_search(NULL, NULL, NULL, true, NULL, %s, '{}', NULL, NULL, NULL, NULL,"
               " NULL, NULL, NULL, NULL, NULL, 'newest', NULL, 5)", tsq)
    assert query(cdb, "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE %s",
                 "%c.id >= $16::bigint%")[0]["n"] == 1
    query(cdb, "SELECT * FROM contract_search(NULL, NULL, NULL, true, NULL, %s, '{}', NULL, NULL, NULL, NULL,"
               " NULL, NULL, NULL, NULL, NULL, 'amount_desc', NULL, 5)", tsq)
    assert query(cdb, "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE %s",
                 "%c.contract_amount_fen >= $21%")[0]["n"] == 1


@pytest.mark.parametrize("q", ["技术", "开发合同", "钒液流 技术", "成都 服务"])
def test_region_filter_equals_scan(api, cdb, big, q):
    """A region of few contracts is read from the two region indexes: every page and the count as
    the scan gives them, in the id and the amount order."""
    reg = query(cdb, "SELECT seller_region_code AS r FROM contracts WHERE id = %s", big.base["id"])[0]["r"]
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    where = ("(seller_region_code::text LIKE region_prefix('%s') || '%%%%'"
             " OR buyer_region_code::text LIKE region_prefix('%s') || '%%%%')" % (reg, reg))
    want = scan(cdb, q, where)
    assert want
    qq = urllib.parse.quote(q)
    got, first = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}&region={reg}", limit=13)
    assert got == want, (q, len(got), len(want))
    assert first["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, (q, first["total"])
    got, _ = pages(api, big.w.admin["h"], f"{V1}/contracts?q={qq}&region={reg}&sort=amount_asc", limit=50)
    assert got == [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                               " ORDER BY contract_amount_fen, id", want)], q


def tag_path(cdb, **kw):
    """Whether contract_search() takes the query's candidates from the filter lexemes' index
    (contracts_tags_idx): it ran a statement on contract_filter_tags in this session."""
    a = dict(p_org=None, p_office=None, p_region=None, p_admin=True, p_tsq=None, p_patterns="{}", p_status=None,
             p_office_f=None, p_type=None, p_year=None, p_region_f=None)
    a.update(kw)
    with cdb.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
        cur.execute("SELECT * FROM contract_search(%(p_org)s::bigint, %(p_office)s::bigint, %(p_region)s::text,"
                    " %(p_admin)s::boolean, NULL, %(p_tsq)s::text, %(p_patterns)s::text[], %(p_status)s::text,"
                    " %(p_office_f)s::bigint, %(p_type)s::text, %(p_year)s::int, %(p_region_f)s::text, NULL, NULL,"
                    " NULL, NULL, 'newest', NULL, 20)", a)
    return query(cdb, "SELECT count(*) AS n FROM pg_prepared_statements"
                      " WHERE statement LIKE '%%contract_filter_tags(%%'")[0]["n"] > 0


@pytest.fixture(scope="module")
def varied(cdb, big):
    """A fifth of the contracts a patent transfer, a seventh bought from Beijing (110105)."""
    with cdb.cursor() as cur:
        cur.execute("UPDATE contracts SET contract_type = 'transfer', contract_subtype = 'patent_transfer'"
                    " WHERE id = ANY (%s) AND id %% 5 = 0", (big.ids,))
        cur.execute("UPDATE contracts SET buyer_region_code = '110105' WHERE id = ANY (%s) AND id %% 7 = 0", (big.ids,))
        cur.execute("ANALYZE contracts")
    query(cdb, "SELECT contract_token_freq_refresh()")
    return big


@pytest.mark.parametrize("q", ["技术", "开发合同", "钒液流 技术", "alpha1", "服务 成都", "转让 开发"])
def test_filter_lexemes_equal_scan(api, cdb, varied, q):
    """A common word with narrow filters: the candidates of the filters' lexemes (office, status,
    type at either level, region prefix of seller or buyer), the words rechecked on them — every
    page and the count as the scan gives them, in the id and the amount order."""
    filter_cases(api, cdb, varied, q)


@pytest.mark.parametrize("q", ["钒液流 技术", "alpha12", "巴中alpha", "锂电池回收", TAG])
def test_filter_lexemes_and_rare_tokens_equal_scan(api, cdb, varied, windows, q):
    """With contract_search_direct_n 1 no token is rare enough to be read alone: the filters'
    posting lists intersected with the rare tokens' (or, with the officer's scope, windows of ids
    with the filters on their matches) — the same pages and counts."""
    filter_cases(api, cdb, varied, q)
    w = varied.w
    qq = urllib.parse.quote(q)
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={qq}&amount_min=1050000", limit=9)
    assert got == scan(cdb, q, f"office_id = {int(w.office['id'])} AND status <> 'draft'"
                               " AND contract_amount_fen >= 1050000"), q


def filter_cases(api, cdb, varied, q):
    w = varied.w
    cap = query(cdb, "SELECT setting_int('search_count_cap', 200) AS c")[0]["c"]
    reg = query(cdb, "SELECT seller_region_code AS r FROM contracts WHERE id = %s", varied.base["id"])[0]["r"].strip()
    office = int(w.office["id"])
    qq = urllib.parse.quote(q)
    cases = [
        (f"office_id={office}&status=submitted", f"office_id = {office} AND status = 'submitted'"),
        (f"office_id={office}&type=transfer", f"office_id = {office} AND contract_type = 'transfer'"),
        ("type=patent_transfer&region=110000", "contract_subtype = 'patent_transfer'"
                                               " AND (seller_region_code LIKE '11%%' OR buyer_region_code LIKE '11%%')"),
        (f"region={reg}&type=development&status=submitted",
         f"(seller_region_code = '{reg}' OR buyer_region_code = '{reg}') AND contract_type = 'development'"
         " AND status = 'submitted'"),
        ("region=110105", "(seller_region_code = '110105' OR buyer_region_code = '110105')"),
    ]
    for params, where in cases:
        want = scan(cdb, q, where)
        got, first = pages(api, w.admin["h"], f"{V1}/contracts?q={qq}&{params}", limit=17)
        assert got == want, (q, params, len(got), len(want))
        assert first["total"] == {"value": min(len(want), cap), "exact": len(want) <= cap}, (q, params, first["total"])
        got, _ = pages(api, w.admin["h"], f"{V1}/contracts?q={qq}&{params}&sort=amount_desc", limit=60)
        assert got == [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                                   " ORDER BY contract_amount_fen DESC, id DESC", want)], (q, params)
    # the officer's scope is among the lexemes too
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={qq}&type=transfer", limit=23)
    assert got == scan(cdb, q, f"office_id = {office} AND status <> 'draft' AND contract_type = 'transfer'"), q


def test_filter_lexemes_are_the_key_of_a_common_word(cdb, varied):
    """技术 (in every contract) with a filter of fewer contracts than the setting: read from
    contracts_tags_idx; without a filter, or with the setting below the filter's contracts, not."""
    w = varied.w
    tsq = "'技术'"
    assert tag_path(cdb, p_tsq=tsq, p_office_f=w.office["id"], p_type="transfer")
    assert tag_path(cdb, p_tsq=tsq, p_admin=False, p_office=w.office2["id"])    # an officer's scope
    assert tag_path(cdb, p_tsq=tsq, p_region_f="110000")
    assert not tag_path(cdb, p_tsq=tsq)
    set_setting(cdb, "contract_search_tags_n", 0)
    try:
        assert not tag_path(cdb, p_tsq=tsq, p_office_f=w.office["id"], p_type="transfer")
    finally:
        set_setting(cdb, "contract_search_tags_n", 30000)


def test_status_change_moves_a_contract_between_filters(api, cdb, users, varied):
    """Registering a contract moves it out of status=submitted and into status=registered, its
    registration year and the bureau's scope (registered or cancelled in the region) at once."""
    w = varied.w
    reg = w.office["region_code"]
    bureau = make_actor(users, "bureau", region=reg)
    cid = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer, title="技术合同 " + TAG)["id"]
    office = int(w.office["id"])
    q = urllib.parse.quote("技术 合同")

    def ids(h, params, limit=100):
        return pages(api, h, f"{V1}/contracts?q={q}&{params}", limit=limit)[0]

    assert cid in ids(w.officer["h"], "status=submitted")
    assert cid not in ids(w.officer["h"], "status=registered")
    assert cid not in ids(bureau["h"], "type=development")
    c = register(api, w.officer["h"], cid)
    year = int(c["registration_no"][:4])
    assert cid not in ids(w.officer["h"], "status=submitted")
    assert cid in ids(w.officer["h"], "status=registered")
    assert ids(w.officer["h"], f"year={year}") == scan(cdb, "技术 合同", f"office_id = {office} AND status <> 'draft'"
                                                                       f" AND registration_year = {year}")
    got = ids(bureau["h"], "type=development", limit=50)
    assert cid in got
    assert got == scan(cdb, "技术 合同", "status IN ('registered', 'cancelled') AND contract_type = 'development'"
                                        f" AND (seller_region_code LIKE '{reg}%%' OR buyer_region_code LIKE '{reg}%%')")


def test_registration_order_by_windows_equals_scan(api, cdb, big, windows):
    """A token in more than contract_search_direct_n contracts in the registration order: windows
    of registration times cut by their histogram — every page as the registration order gives it."""
    w = big.w
    tag = "zr" + uuid.uuid4().hex[:6]
    made = [registered_contract(api, cdb, w.m_seller["h"], w.officer["h"], w.seller, w.buyer,
                                title=f"登记顺序{tag} 技术合同")["id"] for _ in range(40)]
    with cdb.cursor() as cur:
        cur.execute("ANALYZE contracts")
    query(cdb, "SELECT contract_token_freq_refresh()")
    want = [r["id"] for r in query(cdb, "SELECT id FROM contracts WHERE id = ANY (%s)"
                                        " ORDER BY registered_at DESC, id DESC", made)]
    got, first = pages(api, w.admin["h"], f"{V1}/contracts?q={tag}&sort=registered", limit=7)
    assert got == want
    assert first["total"] == {"value": 40, "exact": True}
    got, _ = pages(api, w.officer["h"], f"{V1}/contracts?q={tag}%20技术&sort=registered&status=registered", limit=6)
    assert got == want
    tsq = query(cdb, "SELECT rare_tsq FROM contract_search_split(%s, 0.05, 1)", f"'{tag}':*")[0]["rare_tsq"]
    query(cdb, "SELECT * FROM contract_search(NULL, NULL, NULL, true, NULL, %s, '{}', NULL, NULL, NULL, NULL,"
               " NULL, NULL, NULL, NULL, NULL, 'registered', NULL, 5)", tsq)
    assert query(cdb, "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE %s",
                 "%c.registered_at >= to_timestamp($21%")[0]["n"] == 1
