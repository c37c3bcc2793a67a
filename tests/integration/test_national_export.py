"""The national reporting export (issue #19 part 6): the registered contracts of a period,
one row a contract, in the layout of the national 技术合同登记表 with national codes, as CSV
(UTF-8 with BOM, or GB18030) and XLSX (read back with openpyxl); and formula injection
neutralised in every CSV and XLSX the server writes (this export and the annual one)."""

import csv
import io

import openpyxl
import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, assert_problem, keygen, make_actor, new_office, new_org, query,
                               registered_contract, today, uniq)

HEAD = ["登记编号", "项目名称", "合同类别代码", "合同类别", "合同子类代码", "合同子类", "签订日期", "合同有效期起",
        "合同有效期止", "卖方名称", "卖方统一社会信用代码", "卖方行政区划代码", "卖方单位性质代码", "卖方单位性质",
        "卖方地址", "卖方联系人", "卖方联系电话", "买方名称", "买方统一社会信用代码", "买方行政区划代码",
        "买方单位性质代码", "买方单位性质", "买方地址", "买方联系人", "买方联系电话", "中介方名称",
        "中介方统一社会信用代码", "合同成交额（元）", "技术交易额（元）", "非技术性费用（元）", "实际到账额（元）",
        "支付方式", "技术领域代码", "技术领域", "社会经济目标代码", "社会经济目标", "知识产权类型代码", "知识产权类型",
        "项目计划来源代码", "项目计划来源", "技术进口", "登记机构", "登记机构行政区划代码", "登记日期"]

EVIL = ["=HYPERLINK(\"http://evil.example/\",\"点我\")", "+1+1", "-2+3", "@SUM(A1:A2)"]


class Cast:
    pass


@pytest.fixture(scope="module")
def cast(api, users, stack, cdb):
    c = Cast()
    c.office = new_office(cdb)
    keygen(stack, c.office["id"])
    region = c.office["region_code"]
    c.region = region
    c.seller = new_org(cdb, region, org_type="022", name="国家报送大学 " + uniq(), contact_name="张老师",
                       contact_phone="0827-5550101")
    c.buyer = new_org(cdb, region, org_type="170", name="国家报送公司 " + uniq())
    c.m_seller = make_actor(users, "member", org=c.seller["id"])
    c.officer = make_actor(users, "officer", office=c.office["id"])
    c.bureau = make_actor(users, "bureau", region=region)
    other = "110101" if not region.startswith("11") else "310101"
    c.other_bureau = make_actor(users, "bureau", region=other)
    c.admin = make_actor(users, "admin")
    c.contracts = [
        registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller, c.buyer, amount=12_345_678,
                            technical=10_000_000, title=EVIL[0], socio_economic_objective="industry"),
        registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller,
                            {"org_id": c.buyer["id"], "name": EVIL[1]}, ctype="transfer", subtype="patent_transfer",
                            amount=50_000_000, technical=50_000_000, title="专利权转让 " + uniq(), payment_schedule=[]),
        registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller, c.buyer, ctype="service",
                            subtype="technical_training", amount=3_000_000, technical=3_000_000, title=EVIL[3],
                            intermediary={"name": EVIL[2]}, domain="electronic_information",
                            ip_type="none", plan_source="provincial"),
    ]
    c.today = today(cdb).isoformat()
    return c


def export(api, who, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return api.get(f"{V1}/exports/national?{qs}", headers=who["h"])


def rows_of_csv(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_utf8_layout_codes_and_amounts(api, cast):
    r = export(api, cast.bureau, **{"from": cast.today, "to": cast.today})
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = rows_of_csv(r.content.decode("utf-8-sig"))
    assert rows[0] == HEAD
    body = [dict(zip(HEAD, x)) for x in rows[1:]]
    assert sorted(b["登记编号"] for b in body) == sorted(c["registration_no"] for c in cast.contracts)
    by_no = {b["登记编号"]: b for b in body}
    dev, pat, trn = (by_no[c["registration_no"]] for c in cast.contracts)
    assert (dev["合同类别代码"], dev["合同类别"], dev["合同子类代码"], dev["合同子类"]) == ("10", "技术开发", "11", "委托开发")
    assert (pat["合同类别代码"], pat["合同子类代码"], pat["合同子类"]) == ("20", "21", "专利权转让")
    assert (trn["合同类别代码"], trn["合同子类代码"]) == ("50", "52")
    assert dev["合同成交额（元）"] == "123456.78" and dev["技术交易额（元）"] == "100000.00"
    assert dev["非技术性费用（元）"] == "23456.78" and dev["实际到账额（元）"] == "0.00"
    assert pat["合同成交额（元）"] == "500000.00" and pat["非技术性费用（元）"] == "0.00"
    assert (dev["技术领域代码"], dev["技术领域"]) == ("09", "农业")
    assert (trn["技术领域代码"], trn["知识产权类型代码"], trn["项目计划来源代码"]) == ("01", "99", "3")
    assert (dev["社会经济目标代码"], dev["社会经济目标"]) == ("10", "促进工业发展")
    assert dev["卖方单位性质代码"] == "022" and dev["卖方单位性质"] == "高等院校"
    assert dev["买方单位性质代码"] == "170" and dev["卖方行政区划代码"] == cast.region
    assert dev["卖方联系人"] == "张老师" and dev["卖方联系电话"] == "0827-5550101"
    assert dev["卖方统一社会信用代码"] == cast.seller["credit_code"]
    assert dev["支付方式"] == "分期支付" and pat["支付方式"] == ""
    assert dev["技术进口"] == "否" and dev["登记日期"] == cast.today
    assert dev["登记机构"] == cast.office["name"] and dev["登记机构行政区划代码"] == cast.region
    # formula injection: every text cell that would start a formula starts with an apostrophe
    assert dev["项目名称"] == "'" + EVIL[0]
    assert pat["买方名称"] == "'" + EVIL[1]
    assert trn["中介方名称"] == "'" + EVIL[2] and trn["项目名称"] == "'" + EVIL[3]
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), row


def test_csv_gb18030_is_the_same_table(api, cast):
    u = export(api, cast.bureau, **{"from": cast.today, "to": cast.today})
    g = export(api, cast.bureau, **{"from": cast.today, "to": cast.today, "encoding": "gb18030"})
    assert g.status == 200, g
    assert g.headers["Content-Type"] == "text/csv; charset=gb18030"
    assert not g.content.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        g.content.decode("utf-8")  # really GB18030: the Chinese is not UTF-8
    assert g.content.decode("gb18030") == u.content.decode("utf-8-sig")
    assert "国家报送大学".encode("gb18030") in g.content


def test_xlsx_read_back(api, cast):
    r = export(api, cast.admin, **{"from": cast.today, "to": cast.today, "format": "xlsx", "region": cast.region})
    assert r.status == 200, r
    assert "spreadsheetml" in r.headers["Content-Type"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["技术合同登记表"]
    ws = wb["技术合同登记表"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEAD
    assert len(rows) == 1 + len(cast.contracts)
    body = {row[0]: dict(zip(HEAD, row)) for row in rows[1:]}
    dev = body[cast.contracts[0]["registration_no"]]
    assert dev["合同成交额（元）"] == 123456.78 and isinstance(dev["合同成交额（元）"], float)
    assert dev["技术交易额（元）"] == 100000 and dev["实际到账额（元）"] == 0
    assert dev["合同类别代码"] == "10" and dev["技术领域代码"] == "09" and dev["卖方单位性质代码"] == "022"
    assert dev["项目名称"] == "'" + EVIL[0]
    # every cell is a value, never a formula
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
            if isinstance(cell.value, str):
                assert cell.value[:1] not in ("=", "+", "-", "@"), cell.coordinate


def test_period_and_region_select_the_rows(api, cast, cdb):
    t = today(cdb)
    import datetime
    later = (t + datetime.timedelta(days=1)).isoformat()
    r = export(api, cast.bureau, **{"from": later, "to": later})
    assert r.status == 200
    assert rows_of_csv(r.content.decode("utf-8-sig")) == [HEAD]  # only the header: nothing registered tomorrow
    # another province's contracts are not this county's report
    other = "110101" if not cast.region.startswith("11") else "310101"
    r = export(api, cast.admin, **{"from": cast.today, "to": cast.today, "region": other})
    nos = {row[0] for row in rows_of_csv(r.content.decode("utf-8-sig"))[1:]}
    assert not nos & {c["registration_no"] for c in cast.contracts}
    # the whole country includes them
    r = export(api, cast.admin, **{"from": cast.today, "to": cast.today})
    nos = {row[0] for row in rows_of_csv(r.content.decode("utf-8-sig"))[1:]}
    assert {c["registration_no"] for c in cast.contracts} <= nos


def test_refusals(api, cast, users):
    d = cast.today
    for q, status, field in (({"to": d}, 400, "from"), ({"from": d}, 400, "to"),
                             ({"from": "2025-02-30", "to": d}, 400, "from"),
                             ({"from": d, "to": "2020-01-01"}, 400, "to"),
                             ({"from": d, "to": d, "format": "pdf"}, 400, "format"),
                             ({"from": d, "to": d, "encoding": "big5"}, 400, "encoding"),
                             ({"from": d, "to": d, "format": "xlsx", "encoding": "gb18030"}, 400, "encoding"),
                             ({"from": d, "to": d, "region": "12345"}, 400, "region")):
        body = assert_problem(export(api, cast.bureau, **q), status)
        assert field in [e["field"] for e in body["errors"]], (q, body)
    body = assert_problem(export(api, cast.other_bureau, **{"from": d, "to": d, "region": cast.region}), 403)
    assert body["errors"][0]["field"] == "region"
    assert_problem(export(api, cast.officer, **{"from": d, "to": d}), 403)
    assert_problem(export(api, cast.m_seller, **{"from": d, "to": d}), 403)
    assert_problem(api.get(f"{V1}/exports/national?from={d}&to={d}"), 401)


def test_annual_export_neutralises_formulas_too(api, cast):
    year = cast.today[:4]
    r = api.get(f"{V1}/exports/annual?year={year}&region={cast.region}&format=csv", headers=cast.bureau["h"])
    assert r.status == 200, r
    text = r.content.decode("utf-8-sig")
    assert "'" + EVIL[3] in text and "'" + EVIL[1] in text
    for row in rows_of_csv(text):
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), row
    x = api.get(f"{V1}/exports/annual?year={year}&region={cast.region}&format=xlsx", headers=cast.bureau["h"])
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert cell.value[:1] not in ("=", "+", "-", "@"), (ws.title, cell.coordinate)
                    seen += cell.value == "'" + EVIL[0]
    assert seen == 1
