"""Statistics, plan targets and the annual export (issue 7, without subsidies).

The module works in regions no other test uses (西藏 540000: 拉萨 540100 / 城关区
540102; 新疆 650000: 乌鲁木齐 650100 / 天山区 650102), so counts are its own.
Every figure the API gives is compared with a direct aggregate over contracts."""
import csv
import io
import json
import uuid
import zipfile

import pytest

from helpers import assert_problem

YEAR = 2024
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(region, serial):
    body = f"91{region}MA{serial:07d}"[:17]
    s = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + ALPHABET[(31 - s % 31) % 31]


def q(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def world(db_module, users):
    """Two orgs (seller in 拉萨城关, buyer in 乌鲁木齐天山), an office for 西藏, users."""
    db = db_module
    tag = uuid.uuid4().hex[:6]
    seller = q(db, "INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at)"
                   " VALUES (%s, '150', %s, '540102', 'verified', now()) RETURNING id",
               f"拉萨高原科技{tag}", credit_code("540102", 1000 + int(tag, 16) % 900000))[0][0]
    buyer = q(db, "INSERT INTO orgs (name, org_type, credit_code, region_code, verification_status, verified_at)"
                  " VALUES (%s, '160', %s, '650102', 'verified', now()) RETURNING id",
              f"天山制造{tag}", credit_code("650102", 2000 + int(tag, 16) % 900000))[0][0]
    office = q(db, "INSERT INTO registry_offices (name, region_code) VALUES ('西藏自治区技术市场', '540000')"
                   " ON CONFLICT DO NOTHING RETURNING id")
    office = office[0][0] if office else q(db, "SELECT id FROM registry_offices WHERE region_code = '540000' AND active")[0][0]
    return {
        "seller": seller, "buyer": buyer, "office": office,
        "bureau_xz": users.create(role="bureau", region="540000"),
        "bureau_xj": users.create(role="bureau", region="650000"),
        "member": users.create(role="member", org=seller),
        "officer": users.create(role="officer", office=office),
        "admin": users.create(role="admin"),
    }


@pytest.fixture(scope="module")
def db_module(pg):
    import psycopg2
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    yield conn
    conn.close()


def insert_registered(db, w, n, amount, type_="development", subtype="commissioned_development", domain="agriculture",
                      month=3):
    """n registered contracts straight into the table (the trigger keeps the aggregates)."""
    ids = []
    for _ in range(n):
        serial = q(db, "SELECT registration_next_serial(%s, %s)", w["office"], YEAR)[0][0]
        ids.append(q(db, """
            INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
                seller_region_code, seller_credit_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code,
                signed_on, effective_on, end_on, contract_amount_fen, technical_amount_fen, received_amount_fen, domain,
                ip_type, plan_source, applicant_org_id, office_id, status, submitted_at, due_on, registration_year,
                registration_serial, registration_no, registered_at)
            SELECT '统计测试合同', %s, %s, %s, '拉萨高原科技', '150', '540102', NULL, %s, '天山制造', '160', '650102',
                   make_date(%s, %s, 1), make_date(%s, %s, 2), make_date(%s + 1, 12, 31), %s, %s, %s, %s, 'patent',
                   'unplanned', %s, %s, 'registered', make_timestamptz(%s, %s, 5, 2, 0, 0, 'UTC'),
                   make_date(%s, %s, 28), %s, %s, registration_number(%s, '540000', %s),
                   make_timestamptz(%s, %s, 10, 2, 0, 0, 'UTC')
            RETURNING id""", type_, subtype, w["seller"], w["buyer"], YEAR, month, YEAR, month, YEAR, amount,
            amount * 9 // 10, amount // 2, domain, w["seller"], w["office"], YEAR, month, YEAR, month, YEAR, serial,
            YEAR, serial, YEAR, month)[0][0])
    return ids


def stats(api, auth, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = api.get(f"/api/v1/stats/contracts?{query}", headers=auth)
    assert r.status == 200, r
    return r.body


def direct(db, region, flow, by):
    col = "seller_region_code" if flow == "out" else "buyer_region_code"
    key = {"type": "contract_type", "subtype": "contract_subtype", "domain": "domain",
           "month": "lpad(extract(month FROM registered_at AT TIME ZONE 'Asia/Shanghai')::int::text, 2, '0')"}[by]
    rows = q(db, f"SELECT {key}, count(*), sum(contract_amount_fen), sum(technical_amount_fen), sum(received_amount_fen)"
                 f" FROM contracts WHERE status = 'registered' AND registration_year = %s"
                 f" AND region_in_subtree({col}, %s) GROUP BY 1", YEAR, region)
    return {r[0]: (r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows}


def groups(body):
    return {g["key"]: (g["count"], g["contract_amount_fen"], g["technical_amount_fen"], g["received_amount_fen"])
            for g in body["groups"]}


def test_figures_equal_direct_aggregates(api, users, world, db_module):
    insert_registered(db_module, world, 3, 1_000_000_00, month=2)
    insert_registered(db_module, world, 2, 250_000_00, "transfer", "patent_transfer", "new_materials", month=7)
    auth_xz, auth_xj = users.auth(world["bureau_xz"]), users.auth(world["bureau_xj"])
    for region, auth, flow in (("540000", auth_xz, "out"), ("540102", auth_xz, "out"), ("650000", auth_xj, "in")):
        for by in ("type", "subtype", "domain", "month"):
            body = stats(api, auth, year=YEAR, region=region, flow=flow, by=by)
            want = direct(db_module, region, flow, by)
            assert groups(body) == want, (region, flow, by)
            assert body["total"]["count"] == sum(v[0] for v in want.values())
            assert body["total"]["contract_amount_fen"] == sum(v[1] for v in want.values())
    # quarters add up to the year, outflow of 西藏 is inflow of nothing there
    q_body = stats(api, auth_xz, year=YEAR, region="540000", by="quarter")
    assert sum(g["count"] for g in q_body["groups"]) == q_body["total"]["count"]
    assert stats(api, auth_xz, year=YEAR, region="540000", flow="in")["total"]["count"] == 0


def test_by_region_groups_children_and_labels(api, users, world, db_module):
    body = stats(api, users.auth(world["bureau_xz"]), year=YEAR, region="540000", by="region")
    assert [g["key"] for g in body["groups"]] == ["540100"]
    assert body["groups"][0]["label"] == "拉萨市"
    assert body["region_name"] == "西藏自治区"
    nat = stats(api, users.auth(world["admin"]), year=YEAR, region="000000", by="region")
    assert nat["region_name"] == "全国"
    keys = {g["key"] for g in nat["groups"]}
    assert "540000" in keys and all(k.endswith("0000") for k in keys)


def test_registration_cancellation_amendment_and_payment_move_the_figures(api, users, world, db_module):
    auth = users.auth(world["bureau_xz"])
    before = stats(api, auth, year=YEAR, region="540000")["total"]
    [cid] = insert_registered(db_module, world, 1, 777_00)
    after = stats(api, auth, year=YEAR, region="540000")["total"]
    assert after["count"] == before["count"] + 1
    assert after["contract_amount_fen"] == before["contract_amount_fen"] + 777_00
    # amendment: latest figures count
    q(db_module, "UPDATE contracts SET contract_amount_fen = 100000, technical_amount_fen = 90000 WHERE id = %s", cid)
    amended = stats(api, auth, year=YEAR, region="540000")["total"]
    assert amended["contract_amount_fen"] == before["contract_amount_fen"] + 1000_00
    # a payment received raises the received figure
    q(db_module, "INSERT INTO contract_payments (contract_id, amount_fen, received_on) VALUES (%s, 10000, %s)",
      cid, f"{YEAR}-06-01")
    paid = stats(api, auth, year=YEAR, region="540000")["total"]
    assert paid["received_amount_fen"] == amended["received_amount_fen"] + 100_00
    # cancellation drops it out
    q(db_module, "UPDATE contracts SET status = 'cancelled', cancelled_at = now(), cancel_reason = '测试注销' WHERE id = %s", cid)
    assert stats(api, auth, year=YEAR, region="540000")["total"] == before
    # and the aggregates still equal a full rebuild, row for row
    q(db_module, "CREATE TEMP TABLE IF NOT EXISTS kept AS SELECT * FROM contract_stats WHERE false")
    q(db_module, "TRUNCATE kept; INSERT INTO kept SELECT * FROM contract_stats WHERE n <> 0")
    q(db_module, "SELECT stats_rebuild()")
    assert q(db_module, "SELECT count(*) FROM ((SELECT * FROM kept EXCEPT SELECT * FROM contract_stats WHERE n <> 0)"
                        " UNION ALL (SELECT * FROM contract_stats WHERE n <> 0 EXCEPT SELECT * FROM kept)) d")[0][0] == 0


def test_scope_public_and_roles(api, users, world):
    # the public: yearly totals only
    r = api.get(f"/api/v1/stats/contracts?year={YEAR}&region=540000")
    assert r.status == 200 and r.body["groups"] == [] and r.body["by"] == "year"
    assert_problem(api.get(f"/api/v1/stats/contracts?year={YEAR}&region=540000&by=type"), 401)
    assert_problem(api.get(f"/api/v1/stats/contracts?year={YEAR}&by=type", headers=users.auth(world["member"])), 403)
    # a bureau sees its own subtree only
    body = assert_problem(api.get(f"/api/v1/stats/contracts?year={YEAR}&region=650000&by=type",
                                  headers=users.auth(world["bureau_xz"])), 403)
    assert body["errors"][0]["field"] == "region"
    assert stats(api, users.auth(world["bureau_xz"]), year=YEAR, by="type")["region"] == "540000"  # default: own region
    # bad parameters
    for qs, field in (("year=abc", "year"), ("year=1999", "year"), ("by=colour", "by"), ("flow=sideways", "flow"),
                      ("region=54", "region"), ("region=%FF", "region")):
        body = assert_problem(api.get(f"/api/v1/stats/contracts?{qs}", headers=users.auth(world["admin"])), 400)
        assert body["errors"][0]["field"] == field
    assert_problem(api.get("/api/v1/stats/contracts?region=999999", headers=users.auth(world["admin"])), 404)


def test_targets_and_progress(api, users, world, db_module):
    auth = users.auth(world["bureau_xz"])
    audit_before = q(db_module, "SELECT count(*) FROM audit_log WHERE entity = 'target'")[0][0]
    r = api.put("/api/v1/targets", json={"region_code": "540000", "year": YEAR, "metric": "contract_amount",
                                         "target": 5_000_000_00, "note": "测试目标"}, headers=auth)
    assert r.status == 200 and r.body["target"] == 5_000_000_00
    assert q(db_module, "SELECT count(*) FROM audit_log WHERE entity = 'target'")[0][0] == audit_before + 1
    prog = api.get(f"/api/v1/targets/progress?year={YEAR}&region=540000", headers=auth)
    assert prog.status == 200
    item = {i["metric"]: i for i in prog.body["items"]}["contract_amount"]
    actual = stats(api, auth, year=YEAR, region="540000")["total"]["contract_amount_fen"]
    assert item["actual"] == actual and item["target"] == 5_000_000_00
    assert abs(item["share"] - actual / 5_000_000_00) < 1e-3
    assert prog.body["elapsed_share"] == 1.0 and item["projection"] == actual  # a past year: projection = actual
    listed = api.get(f"/api/v1/targets?year={YEAR}", headers=auth)
    assert any(t["region_code"] == "540000" and t["metric"] == "contract_amount" for t in listed.body["items"])
    # refused: another region, unknown metric, unknown field, wrong type, wrong role — nothing changes
    rows_before = q(db_module, "SELECT count(*), coalesce(sum(target), 0) FROM plan_targets")[0]
    cases = [
        ({"region_code": "650000", "year": YEAR, "metric": "contract_amount", "target": 1}, auth, 403, "region_code"),
        ({"region_code": "540000", "year": YEAR, "metric": "happiness", "target": 1}, auth, 422, "metric"),
        ({"region_code": "540000", "year": YEAR, "metric": "contracts", "target": 1, "status": "x"}, auth, 400, "status"),
        ({"region_code": "540000", "year": "2024", "metric": "contracts", "target": 1}, auth, 400, "year"),
        ({"region_code": "540000", "year": YEAR, "metric": "contracts", "target": -5}, auth, 422, "target"),
    ]
    for body, a, status, field in cases:
        p = assert_problem(api.put("/api/v1/targets", json=body, headers=a), status)
        assert p["errors"][0]["field"] == field, p
    assert_problem(api.put("/api/v1/targets", json=cases[0][0], headers=users.auth(world["member"])), 403)
    assert_problem(api.put("/api/v1/targets", data=b"{bad", headers={**auth, "Content-Type": "application/json"}), 400)
    assert q(db_module, "SELECT count(*), coalesce(sum(target), 0) FROM plan_targets")[0] == rows_before


def test_bazhong_targets_are_seeded(api, users, db_module):
    rows = dict(q(db_module, "SELECT year, target FROM plan_targets WHERE region_code = '511900'"
                             " AND metric = 'contract_amount' ORDER BY year"))
    assert rows[2020] == 2_0000_0000_00 and rows[2025] == 3_0000_0000_00 and rows[2022] == 2_4000_0000_00


def test_annual_export_csv_xlsx_json_agree(api, users, world, db_module):
    auth = users.auth(world["bureau_xz"])
    j = api.get(f"/api/v1/exports/annual?year={YEAR}&region=540000&format=json", headers=auth)
    assert j.status == 200, j
    doc = j.body
    titles = [t["title"] for t in doc["tables"]]
    assert "按合同类别" in titles and "按月份" in titles
    want = stats(api, auth, year=YEAR, region="540000")["total"]
    for t in doc["tables"]:
        assert t["total"]["out"] == want, t["title"]
        if t["by"] != "region" or t["rows"]:
            assert sum(r["out"]["count"] for r in t["rows"]) == want["count"], t["title"]
            assert sum(r["out"]["contract_amount_fen"] for r in t["rows"]) == want["contract_amount_fen"], t["title"]
    outs = [c for c in doc["contracts"] if c["is_out"]]
    assert len(outs) == want["count"]
    assert sum(c["contract_amount_fen"] for c in outs) == want["contract_amount_fen"]
    # CSV: UTF-8 with BOM, Chinese intact, the list's sums equal the totals
    c = api.get(f"/api/v1/exports/annual?year={YEAR}&region=540000&format=csv", headers=auth)
    assert c.status == 200 and c.headers["Content-Type"].startswith("text/csv")
    assert c.content.startswith(b"\xef\xbb\xbf")
    text = c.content.decode("utf-8-sig")
    assert "技术合同登记统计" in text and "西藏自治区" in text
    lines = text.split("\r\n")
    start = lines.index("合同清单") + 1
    rows = list(csv.DictReader(io.StringIO("\r\n".join(lines[start:]))))
    out_rows = [r for r in rows if r["输出"] == "是"]
    assert len(out_rows) == want["count"]
    assert round(sum(float(r["合同成交额(元)"]) for r in out_rows) * 100) == want["contract_amount_fen"]
    # XLSX: a workbook with a sheet per table and the list
    x = api.get(f"/api/v1/exports/annual?year={YEAR}&region=540000&format=xlsx", headers=auth)
    assert x.status == 200 and "spreadsheetml" in x.headers["Content-Type"]
    wb = zipfile.ZipFile(io.BytesIO(x.content))
    workbook = wb.read("xl/workbook.xml").decode()
    for name in ("按合同类别", "按技术领域", "合同清单"):
        assert name in workbook
    assert len([n for n in wb.namelist() if n.startswith("xl/worksheets/sheet")]) == len(doc["tables"]) + 1


def test_export_refusals(api, users, world):
    auth = users.auth(world["bureau_xz"])
    for qs, status, field in (("year=2024&region=650000", 403, "region"), ("year=2024&format=pdf", 400, "format"),
                              ("format=csv", 400, "year"), ("year=20x4", 400, "year")):
        body = assert_problem(api.get(f"/api/v1/exports/annual?{qs}", headers=auth), status)
        assert body["errors"][0]["field"] == field
    assert_problem(api.get("/api/v1/exports/annual?year=2024", headers=users.auth(world["member"])), 403)
    assert_problem(api.get("/api/v1/exports/annual?year=2024"), 401)


def test_annual_export_xlsx_reads_in_chinese(api, users, world, db_module):
    """The XLSX a bureau opens in Excel: every classification by its Chinese label (no code such as
    `development` or `unknown`), regions by name (the region table keeps the code in its own column),
    the header row of every sheet frozen, and the Chinese file name in filename* (RFC 6266 / 8187)."""
    import re
    import urllib.parse

    import openpyxl
    insert_registered(db_module, world, 2, 1_500_000, month=5)
    auth = users.auth(world["bureau_xz"])
    x = api.get(f"/api/v1/exports/annual?year={YEAR}&region=540000&format=xlsx", headers=auth)
    assert x.status == 200, x
    cd = x.headers["Content-Disposition"]
    m = re.search(r"filename\*=UTF-8''([^;]+)", cd)
    assert m and urllib.parse.unquote(m.group(1)) == f"技术合同统计_{YEAR}_540000.xlsx", cd
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", (ws.title, ws.freeze_panes)
    t = wb["按合同类别"]
    head = [c.value for c in t[1]]
    assert head[0] == "分类" and head[1] == "输出合同数", head
    labels = [r[0].value for r in t.iter_rows(min_row=2)]
    assert labels and labels[-1] == "合计"
    assert all(not re.search(r"[A-Za-z_]", v or "") for v in labels), labels
    reg = wb["按地区"]
    assert [c.value for c in reg[1]][:2] == ["地区", "行政区划代码"]
    for r in reg.iter_rows(min_row=2):
        if r[0].value == "合计":
            continue
        assert re.fullmatch(r"\d{6}", r[1].value or "") and not re.search(r"\d", r[0].value), [c.value for c in r[:2]]
    lst = wb["合同清单"]
    head = [c.value for c in lst[1]]
    si, bi = head.index("卖方地区"), head.index("买方地区")
    rows = list(lst.iter_rows(min_row=2, values_only=True))
    assert rows
    for r in rows:
        for v in (r[si], r[bi]):
            assert v is None or (not re.fullmatch(r"\d{6}", v) and not re.search(r"[A-Za-z]", v)), r
    assert any((r[si] or "").startswith("西藏自治区") for r in rows)
