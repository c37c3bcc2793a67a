"""Statistics tables of issue 20: socio-economic objective, the national seller/buyer
categories, the flow tables, and the computed indicators as data (引进转化).

Hand-worked cases in 内蒙古 (150000; 呼和浩特 150100 / 新城区 150102, 包头 150200 / 东河区
150202) and 宁夏 (640000 / 兴庆区 640104), year 2019, which no other module uses:

  no  seller  buyer   type          seller/buyer type  objective     amount   result
  c1  150102  150102  development   021 / 150         industry      100万    -
  c2  150102  640104  transfer      021 / 022         health        200万    -
  c3  150102  150202  service       021 / 010         (none)         30万    -
  c4  150102  abroad  licence       021 / 300         energy         50万    -
  c5  640104  150102  development   150 / 170         industry       80万    -
  c6  640104  150102  transfer      150 / 170         industry       40万    r1
  c7  640104  150102  transfer      150 / 170         industry       40万    r1
  c8  640104  150102  consulting    150 / 170         industry       10万    -
  c9  150102  150102  development   021 / 023         agriculture    60万    r2

Outflow of 呼和浩特 (seller there): c1 c2 c3 c4 c9 — inside c1 c9, 宁夏 c2, the rest of 内蒙古 c3,
abroad c4.  Inflow (buyer there): c1 c5 c6 c7 c8 c9 — inside c1 c9, from 宁夏 c5–c8.
引进转化科技成果 of 呼和浩特 (buyer there; development, transfer, licence; a shared result once):
c1, c5, {c6, c7} = r1, c9 = 4 (c8 is consulting).  The old definition (seller there, linked to
a result) gave 1 (c9)."""
import uuid

import pytest

from helpers import assert_problem

YEAR = 2019
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
BYS = ["year", "month", "quarter", "type", "subtype", "domain", "seller_type", "buyer_type", "seller_category",
       "buyer_category", "ip_type", "plan_source", "socio_economic_objective", "region", "partner"]


def credit_code(region, serial):
    body = f"91{region}MA{serial:07d}"[:17]
    s = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + ALPHABET[(31 - s % 31) % 31]


def q(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def db_module(pg):
    import psycopg2
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    yield conn
    conn.close()


def org(db, name, org_type, region, serial):
    return q(db, "INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at)"
                 " VALUES (%s, %s, %s, %s, 'verified', now()) RETURNING id",
             name, org_type, credit_code(region, serial), region)[0][0]


def register(db, w, seller, buyer, type_, subtype, seller_type, buyer_type, seo, yuan, result=None):
    """One registered contract straight into the table (the triggers keep the aggregates)."""
    serial = q(db, "SELECT registration_next_serial(%s, %s)", w["office"], YEAR)[0][0]
    s_org, s_region = seller
    b_org, b_region = buyer
    return q(db, """
        INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
            seller_region_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code, signed_on, effective_on,
            end_on, contract_amount_fen, technical_amount_fen, domain, socio_economic_objective, ip_type, plan_source,
            result_id, applicant_org_id, office_id, status, submitted_at, due_on, registration_year,
            registration_serial, registration_no, registered_at)
        VALUES ('流向统计测试合同', %s, %s, %s, '卖方单位', %s, %s, %s, '买方单位', %s, %s,
                make_date(%s, 3, 1), make_date(%s, 3, 2), make_date(%s, 12, 31), %s, %s, 'agriculture', %s,
                'patent', 'unplanned', %s, %s, %s, 'registered', make_timestamptz(%s, 3, 5, 2, 0, 0, 'UTC'),
                make_date(%s, 3, 28), %s, %s, registration_number(%s, '150000', %s),
                make_timestamptz(%s, 3, 10, 2, 0, 0, 'UTC'))
        RETURNING id""", type_, subtype, s_org, seller_type, s_region, b_org, buyer_type, b_region, YEAR, YEAR, YEAR,
             yuan * 100, yuan * 90, seo, result, s_org, w["office"], YEAR, YEAR, YEAR, serial, YEAR, serial,
             YEAR)[0][0]


@pytest.fixture(scope="module")
def world(db_module, users):
    db = db_module
    n = int(uuid.uuid4().hex[:5], 16)
    hohhot = (org(db, "呼和浩特研究院", "021", "150102", 3000 + n), "150102")
    ningxia = (org(db, "银川制造", "150", "640104", 4000 + n), "640104")
    baotou = (None, "150202")
    hohhot_buyer = (None, "150102")
    abroad = (None, None)
    office = q(db, "INSERT INTO registry_offices (name, region_code) VALUES ('内蒙古自治区技术市场', '150000')"
                   " ON CONFLICT DO NOTHING RETURNING id")
    office = office[0][0] if office else q(db, "SELECT id FROM registry_offices WHERE region_code = '150000'"
                                               " AND active")[0][0]
    w = {"office": office}
    results = [q(db, """INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status,
                                             submitted_at, published_at)
                        VALUES (%s, %s, '用于流向统计测试的成果。', 'agriculture', 6, '640104', 'published', now(), now())
                        RETURNING id""", ningxia[0], f"测试成果{i}-{n}")[0][0] for i in (1, 2)]
    r1, r2 = results
    register(db, w, hohhot, hohhot_buyer, "development", "commissioned_development", "021", "150", "industry", 1_000_000)
    register(db, w, hohhot, (None, "640104"), "transfer", "patent_transfer", "021", "022", "health", 2_000_000)
    register(db, w, hohhot, baotou, "service", "technical_service", "021", "010", None, 300_000)
    register(db, w, hohhot, abroad, "licence", "patent_licence", "021", "300", "energy", 500_000)
    register(db, w, ningxia, hohhot_buyer, "development", "commissioned_development", "150", "170", "industry", 800_000)
    register(db, w, ningxia, hohhot_buyer, "transfer", "patent_transfer", "150", "170", "industry", 400_000, r1)
    register(db, w, ningxia, hohhot_buyer, "transfer", "patent_transfer", "150", "170", "industry", 400_000, r1)
    register(db, w, ningxia, hohhot_buyer, "consulting", "technical_consulting", "150", "170", "industry", 100_000)
    register(db, w, hohhot, hohhot_buyer, "development", "commissioned_development", "021", "023", "agriculture",
             600_000, r2)
    w.update({
        "bureau_nm": users.create(role="bureau", region="150000"),
        "bureau_hh": users.create(role="bureau", region="150100"),
        "bureau_nx": users.create(role="bureau", region="640000"),
        "admin": users.create(role="admin"),
        "member": users.create(role="member", org=hohhot[0]),
    })
    return w


def get(api, auth, path):
    r = api.get(path, headers=auth)
    assert r.status == 200, r
    return r.body


def stats(api, auth, **params):
    return get(api, auth, "/api/v1/stats/contracts?" + "&".join(f"{k}={v}" for k, v in params.items()))


def counts(body):
    return {g["key"]: g["count"] for g in body["groups"]}


def test_every_breakdown_adds_up_to_the_total(api, users, world):
    for region, who in (("150100", "bureau_hh"), ("150000", "bureau_nm"), ("150102", "bureau_nm"),
                        ("640000", "bureau_nx"), ("000000", "admin")):
        auth = users.auth(world[who])
        for flow in ("out", "in"):
            total = stats(api, auth, year=YEAR, region=region, flow=flow)["total"]
            for by in BYS:
                body = stats(api, auth, year=YEAR, region=region, flow=flow, by=by)
                assert body["total"] == total, (region, flow, by)
                if by == "year":
                    continue
                for f in ("count", "contract_amount_fen", "technical_amount_fen", "received_amount_fen"):
                    assert sum(g[f] for g in body["groups"]) == total[f], (region, flow, by, f)
                assert all(g["label"] for g in body["groups"]), (region, flow, by)
    hh = users.auth(world["bureau_hh"])
    assert stats(api, hh, year=YEAR, region="150100", flow="out")["total"]["count"] == 5
    assert stats(api, hh, year=YEAR, region="150100", flow="in")["total"]["count"] == 6


def test_socio_economic_objective_and_categories(api, users, world):
    auth = users.auth(world["bureau_hh"])
    seo = stats(api, auth, year=YEAR, region="150100", flow="out", by="socio_economic_objective")
    assert counts(seo) == {"industry": 1, "health": 1, "unknown": 1, "energy": 1, "agriculture": 1}
    labels = {g["key"]: g["label"] for g in seo["groups"]}
    assert labels["health"] == "卫生事业发展" and labels["unknown"] == "未填写"
    amounts = {g["key"]: g["contract_amount_fen"] for g in seo["groups"]}
    assert amounts["health"] == 200_000_000
    sc = stats(api, auth, year=YEAR, region="150100", flow="out", by="seller_category")
    assert counts(sc) == {"research": 5}
    assert sc["groups"][0]["label"] == "科研机构"
    bc = stats(api, auth, year=YEAR, region="150100", flow="out", by="buyer_category")
    # 150 and 300 are enterprises, 022 a university, 010 (government) and 023 (medical) are 其他
    assert counts(bc) == {"enterprise": 2, "university": 1, "other": 2}
    assert {g["key"]: g["label"] for g in bc["groups"]} == {"enterprise": "企业", "university": "高等院校",
                                                            "other": "其他"}
    inflow = stats(api, auth, year=YEAR, region="150100", flow="in", by="seller_category")
    assert counts(inflow) == {"research": 2, "enterprise": 4}


def test_category_mapping_is_data(api, users, world, db_module):
    """Moving 010 机关法人 to 企业 in the code list moves its contract at once (no rebuild)."""
    auth = users.auth(world["bureau_hh"])
    q(db_module, "UPDATE codes SET extra = extra || '{\"category\": \"enterprise\"}' WHERE list = 'org_types' AND code = '010'")
    try:
        bc = stats(api, auth, year=YEAR, region="150100", flow="out", by="buyer_category")
        assert counts(bc) == {"enterprise": 3, "university": 1, "other": 1}
    finally:
        q(db_module, "UPDATE codes SET extra = extra || '{\"category\": \"other\"}' WHERE list = 'org_types' AND code = '010'")
    # a code without a category takes its parent's (021's parent 020 is 其他, 021 itself 科研机构)
    assert q(db_module, "SELECT stats_org_category('021'), stats_org_category('020'), stats_org_category('999')") == \
        [("research", "other", "other")]


def test_flow_tables(api, users, world):
    auth = users.auth(world["bureau_hh"])
    out = stats(api, auth, year=YEAR, region="150100", flow="out", by="partner")
    assert counts(out) == {"inside": 2, "640000": 1, "150000": 1, "abroad": 1}
    labels = {g["key"]: g["label"] for g in out["groups"]}
    assert labels == {"inside": "本地区内", "640000": "宁夏回族自治区", "150000": "内蒙古自治区（本地区外）",
                      "abroad": "境外"}
    inn = stats(api, auth, year=YEAR, region="150100", flow="in", by="partner")
    assert counts(inn) == {"inside": 2, "640000": 4}
    # the province: 包头 is inside it
    prov = stats(api, users.auth(world["bureau_nm"]), year=YEAR, region="150000", flow="out", by="partner")
    assert counts(prov) == {"inside": 3, "640000": 1, "abroad": 1}
    # 宁夏's side of the same contracts: inflow from 内蒙古 (c2), outflow to it (c5–c8)
    nx = users.auth(world["bureau_nx"])
    assert counts(stats(api, nx, year=YEAR, region="640000", flow="in", by="partner")) == {"150000": 1}
    assert counts(stats(api, nx, year=YEAR, region="640000", flow="out", by="partner")) == {"150000": 4}

    # GET /stats/flows: both directions in one table
    fl = get(api, auth, f"/api/v1/stats/flows?year={YEAR}&region=150100")
    assert fl["region"] == "150100" and fl["region_name"] == "呼和浩特市" and fl["by"] == "partner"
    rows = {r["key"]: (r["out"]["count"], r["in"]["count"]) for r in fl["rows"]}
    assert rows == {"inside": (2, 2), "640000": (1, 4), "150000": (1, 0), "abroad": (1, 0)}
    assert [r["key"] for r in fl["rows"]] == ["inside", "150000", "640000", "abroad"]
    assert fl["total"]["out"]["count"] == 5 and fl["total"]["in"]["count"] == 6
    assert sum(r["out"]["contract_amount_fen"] for r in fl["rows"]) == fl["total"]["out"]["contract_amount_fen"]
    assert sum(r["in"]["contract_amount_fen"] for r in fl["rows"]) == fl["total"]["in"]["contract_amount_fen"]
    # roles and scope
    assert_problem(api.get(f"/api/v1/stats/flows?year={YEAR}&region=150100"), 401)
    assert_problem(api.get(f"/api/v1/stats/flows?year={YEAR}", headers=users.auth(world["member"])), 403)
    assert_problem(api.get(f"/api/v1/stats/flows?year={YEAR}&region=640000", headers=auth), 403)
    assert_problem(api.get(f"/api/v1/stats/flows?year=abc", headers=auth), 400)
    assert_problem(api.get(f"/api/v1/stats/flows?region=999999", headers=users.auth(world["admin"])), 404)


def test_contract_moving_province_moves_its_flow(api, users, world, db_module):
    """An amendment of the buyer's region moves the contract from one flow row to another."""
    auth = users.auth(world["bureau_hh"])
    cid = q(db_module, "SELECT id FROM contracts WHERE registration_year = %s AND seller_region_code = '150102'"
                       " AND buyer_region_code = '640104'", YEAR)[0][0]
    q(db_module, "UPDATE contracts SET buyer_region_code = '110101' WHERE id = %s", cid)
    try:
        out = counts(stats(api, auth, year=YEAR, region="150100", flow="out", by="partner"))
        assert out == {"inside": 2, "110000": 1, "150000": 1, "abroad": 1}
    finally:
        q(db_module, "UPDATE contracts SET buyer_region_code = '640104' WHERE id = %s", cid)
    assert counts(stats(api, auth, year=YEAR, region="150100", flow="out", by="partner"))["640000"] == 1


def test_results_transferred_counts_introduced_results(api, users, world, db_module):
    auth = users.auth(world["bureau_hh"])
    prog = get(api, auth, f"/api/v1/targets/progress?year={YEAR}&region=150100")
    items = {i["metric"]: i for i in prog["items"]}
    assert items["results_transferred"]["actual"] == 4
    # contract metrics stay outflow: 5 contracts sold from 呼和浩特
    assert items["contracts"]["actual"] == 5
    assert items["contract_amount"]["actual"] == 4_400_000_00
    assert q(db_module, "SELECT indicator_actual('results_transferred', '640000', %s, %s)", YEAR, YEAR)[0][0] == 1
    assert q(db_module, "SELECT indicator_actual('results_transferred', '150000', %s, %s)", YEAR, YEAR)[0][0] == 4
    # the definition is data: requiring a link to a listed result leaves r1 and r2
    q(db_module, "UPDATE codes SET extra = extra || '{\"require_result\": true}'"
                 " WHERE list = 'indicators' AND code = 'results_transferred'")
    try:
        assert q(db_module, "SELECT indicator_actual('results_transferred', '150100', %s, %s)", YEAR, YEAR)[0][0] == 2
    finally:
        q(db_module, "UPDATE codes SET extra = extra || '{\"require_result\": false}'"
                     " WHERE list = 'indicators' AND code = 'results_transferred'")


def test_indicators_readable_with_definitions(api):
    r = api.get("/api/v1/stats/indicators")
    assert r.status == 200, r
    items = {i["code"]: i for i in r.body["items"]}
    rt = items["results_transferred"]
    assert rt["computed"] is True and rt["party"] == "buyer" and rt["measure"] == "results"
    assert rt["contract_types"] == ["development", "transfer", "licence"]
    assert "引进" in rt["definition"] and rt["source"]
    assert items["contract_amount"]["party"] == "seller" and items["contract_amount"]["unit"] == "fen"


def test_annual_export_has_the_new_tables(api, users, world, db_module):
    tables = q(db_module, "SELECT export_tables('150100', %s)", YEAR)[0][0]["tables"]
    by = {t["by"]: t for t in tables}
    assert {"socio_economic_objective", "seller_category", "buyer_category", "partner"} <= set(by)
    assert by["partner"]["title"] == "技术流向" and by["seller_category"]["title"] == "按卖方类别"
    rows = {r["label"]: (r["out"]["count"], r["in"]["count"]) for r in by["partner"]["rows"]}
    assert rows["宁夏回族自治区"] == (1, 4) and rows["境外"] == (1, 0)
    for t in tables:
        for flow in ("out", "in"):
            if t["by"] != "year":
                assert sum(r[flow]["count"] for r in t["rows"]) == t["total"][flow]["count"], (t["by"], flow)


def test_annual_export_xlsx_sheets(api, users, world):
    import io
    import openpyxl
    r = api.get(f"/api/v1/exports/annual?year={YEAR}&region=150100&format=xlsx", headers=users.auth(world["bureau_hh"]))
    assert r.status == 200, r
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert {"按社会经济目标", "按卖方类别", "按买方类别", "技术流向"} <= set(wb.sheetnames)
    ws = wb["技术流向"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][:3] == ["输出去向／吸纳来源", "输出合同数", "输出成交额(元)"]
    body = {r[0]: (r[1], r[5]) for r in rows[1:]}
    assert body["本地区内"] == (2, 2) and body["宁夏回族自治区"] == (1, 4) and body["境外"] == (1, 0)
    assert body["内蒙古自治区（本地区外）"] == (1, 0) and body["合计"] == (5, 6)
    cat = {r[0]: r[1] for r in ([c.value for c in row] for row in wb["按卖方类别"].iter_rows())}
    assert cat["科研机构"] == 5 and cat["合计"] == 5
