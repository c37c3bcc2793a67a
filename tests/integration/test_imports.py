"""Importing past contracts (issue #19 part 2): POST /api/v1/imports/contracts with a CSV (UTF-8 with
or without BOM, GB18030) or XLSX file, ?dry_run=true, the template, and `yizhan import contracts`.

Good files register every contract with its own number and date, marked with the batch, counted in
the statistics and the targets at once, with no certificate signed here (历史导入).  Bad files — wrong
encoding, wrong headers, a bad amount, a duplicate number, too large — are answered with every problem
by row and column, exactly, and write nothing: contracts, batches, counters, statistics and the audit
log are compared before and after."""

import csv
import io
import os
import tempfile
import urllib.parse

import openpyxl
import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, assert_problem, credit_check_char, keygen, make_actor, new_office, new_org, query,
                               registered_contract, today, uniq)

HEAD = ["登记编号", "合同名称", "合同类别", "合同子类", "卖方名称", "卖方统一社会信用代码", "卖方所在地区代码", "卖方单位类型",
        "买方名称", "买方统一社会信用代码", "买方所在地区代码", "买方单位类型", "签订日期", "登记日期", "合同成交额（元）",
        "技术交易额（元）", "技术领域", "生效日期", "终止日期", "知识产权类型", "计划来源", "社会经济目标", "中介方名称",
        "中介方统一社会信用代码", "中介方所在地区代码", "技术进口"]
REQUIRED = ["登记编号", "合同名称", "合同类别", "卖方名称", "卖方统一社会信用代码", "卖方所在地区代码", "买方名称",
            "买方统一社会信用代码", "买方所在地区代码", "签订日期", "登记日期", "合同成交额（元）", "技术交易额（元）", "技术领域"]


class Cast:
    pass


def enterprise_code(region):
    """A valid credit code of an enterprise (91…: 市场监管, 企业)."""
    s = "91" + region + uniq("")[1:10].upper().replace("I", "1").replace("O", "0")
    s = "".join(ch if ch in "0123456789ABCDEFGHJKLMNPQRTUWXY" else "1" for ch in s)
    return s + credit_check_char(s)


@pytest.fixture(scope="module")
def cast(api, users, stack, cdb):
    c = Cast()
    c.office = new_office(cdb)
    c.other = new_office(cdb)
    keygen(stack, c.office["id"])
    c.region = c.office["region_code"]
    c.seller = new_org(cdb, c.region, org_type="022", name="导入测试大学 " + uniq())
    c.buyer = new_org(cdb, c.region, org_type="150", name="导入测试公司 " + uniq())
    c.m_seller = make_actor(users, "member", org=c.seller["id"])
    c.officer = make_actor(users, "officer", office=c.office["id"])
    c.other_officer = make_actor(users, "officer", office=c.other["id"])
    c.bureau = make_actor(users, "bureau", region=c.region)
    c.admin = make_actor(users, "admin")
    c.serial = 100
    return c


def number(cast, year=2023, office=None):
    cast.serial += 1
    return f"{year}{(office or cast.office)['region_code']}{cast.serial:06d}"


def row(cast, **over):
    """One contract as a file row (a dict by Chinese header)."""
    r = {
        "登记编号": number(cast), "合同名称": "历史合同 " + uniq(), "合同类别": "技术开发", "合同子类": "委托开发",
        "卖方名称": cast.seller["name"], "卖方统一社会信用代码": cast.seller["credit_code"], "卖方所在地区代码": cast.region,
        "买方名称": "某外地企业", "买方统一社会信用代码": enterprise_code("110105"), "买方所在地区代码": "110105",
        "签订日期": "2023-03-01", "登记日期": "2023-03-20", "合同成交额（元）": "120000.50", "技术交易额（元）": "100000",
        "技术领域": "农业",
    }
    r.update(over)
    return r


def csv_bytes(rows, head=None, encoding="utf-8", bom=False):
    head = head or HEAD
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(head)
    for r in rows:
        w.writerow([r.get(h, "") for h in head])
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def xlsx_bytes(rows, head=None, numeric=()):
    head = head or HEAD
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "合同"
    ws.append(head)
    for r in rows:
        vals = []
        for h in head:
            v = r.get(h, "")
            if h in numeric and v != "":
                v = numeric[h](v)
            vals.append(v if v != "" else None)
        ws.append(vals)
    b = io.BytesIO()
    wb.save(b)
    return b.getvalue()


def post(api, who, data, dry=False, ctype="text/csv", filename=None):
    qs = []
    if dry:
        qs.append("dry_run=true")
    if filename:
        qs.append("filename=" + filename)
    return api.post(f"{V1}/imports/contracts" + ("?" + "&".join(qs) if qs else ""), data=data,
                    headers={**who["h"], "Content-Type": ctype})


def snapshot(db, cast):
    """What a refused or dry-run import must leave exactly as it was."""
    return {
        "contracts": query(db, "SELECT count(*) AS n, coalesce(max(id), 0) AS m FROM contracts")[0],
        "batches": query(db, "SELECT count(*) AS n FROM import_batches")[0]["n"],
        "counters": query(db, "SELECT office_id, year, last_serial FROM registration_counters WHERE office_id IN (%s, %s)"
                              " ORDER BY 1, 2", cast.office["id"], cast.other["id"]),
        "stats": query(db, "SELECT md5(string_agg(s::text, ',' ORDER BY region_code, year, flow, dim, key, month)) AS h"
                           " FROM contract_stats s")[0]["h"],
        "audit": query(db, "SELECT max(id) AS m FROM audit_log")[0]["m"],
    }


def errors_of(body):
    return [(e["row"], e["column"], e["code"], e["message"]) for e in body["errors"]]


# --------------------------------------------------------------------------------------------------
# the template
# --------------------------------------------------------------------------------------------------

def test_template_csv_and_xlsx(api, cast):
    r = api.get(f"{V1}/imports/contracts/template?format=csv", headers=cast.officer["h"])
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8" and "attachment" in r.headers["Content-Disposition"]
    assert r.content == b"\xef\xbb\xbf" + (",".join(HEAD) + "\r\n").encode()
    x = api.get(f"{V1}/imports/contracts/template", headers=cast.admin["h"])
    assert x.status == 200 and "spreadsheetml" in x.headers["Content-Type"]
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["合同", "填写说明"]
    assert [c.value for c in wb["合同"][1]] == HEAD
    assert wb["合同"].column_dimensions["A"].number_format == "@", "登记编号 is a text column: 16 digits survive Excel"
    notes = {r[0]: (r[1], r[2]) for r in wb["填写说明"].iter_rows(min_row=2, values_only=True)}
    assert set(notes) == set(HEAD)
    assert {h for h, (req, _) in notes.items() if req == "是"} == set(REQUIRED)
    body = assert_problem(api.get(f"{V1}/imports/contracts/template?format=pdf", headers=cast.officer["h"]), 400)
    assert body["errors"][0]["field"] == "format"
    assert_problem(api.get(f"{V1}/imports/contracts/template", headers=cast.bureau["h"]), 403)
    assert_problem(api.get(f"{V1}/imports/contracts/template", headers=cast.m_seller["h"]), 403)
    assert_problem(api.get(f"{V1}/imports/contracts/template"), 401)


# --------------------------------------------------------------------------------------------------
# good files
# --------------------------------------------------------------------------------------------------

def test_dry_run_checks_and_writes_nothing(api, cast, cdb):
    rows = [row(cast), row(cast, **{"登记编号": number(cast, 2024), "登记日期": "2024-01-05", "签订日期": "2023-12-30", "合同成交额（元）": "1,000,000",
                                   "技术交易额（元）": "800000.00元"})]
    before = snapshot(cdb, cast)
    r = post(api, cast.officer, csv_bytes(rows), dry=True)
    assert r.status == 200, r
    b = r.body
    assert b["errors"] == [], b["errors"]
    assert (b["dry_run"], b["valid"], b["format"], b["encoding"], b["rows"], b["errors_total"]) == \
        (True, True, "csv", "utf-8", 2, 0)
    assert b["errors"] == [] and b["batch"] is None
    assert b["summary"] == {"contracts": 2, "contract_amount_fen": 12_000_050 + 100_000_000,
                            "technical_amount_fen": 10_000_000 + 80_000_000,
                            "years": [{"year": 2023, "contracts": 1, "contract_amount_fen": 12_000_050},
                                      {"year": 2024, "contracts": 1, "contract_amount_fen": 100_000_000}]}
    assert snapshot(cdb, cast) == before
    assert not query(cdb, "SELECT 1 FROM contracts WHERE registration_no = %s", rows[0]["登记编号"])


def stats_total(api, cast, year):
    r = api.get(f"{V1}/stats/contracts?year={year}&region={cast.region}", headers=cast.bureau["h"])
    assert r.status == 200, r
    return r.body["total"]


@pytest.mark.parametrize("form", ["csv-utf8", "csv-bom", "csv-gb18030", "xlsx"])
def test_import_registers_every_contract(api, cast, cdb, form):
    rows = [row(cast, **{"合同名称": f"富硒茶加工工艺（{form}）ＡＢＣ　Ｘ-Ray\\t'％_" + uniq(), "合同类别": "委托开发",
                         "合同子类": "", "中介方名称": "某技术经纪公司", "买方名称": "Ｍａｊｏｒ　Buyer 买方"}),
            row(cast, **{"合同类别": "技术转让/专利权转让", "合同子类": "", "卖方名称": "张三", "卖方统一社会信用代码": "",
                         "卖方单位类型": "自然人", "合同成交额（元）": "50000", "技术交易额（元）": "50000",
                         "知识产权类型": "专利", "计划来源": "计划外", "登记日期": "2023-06-30"}),
            row(cast, **{"合同类别": "consulting", "合同子类": "", "技术领域": "electronic_information",
                         "买方单位类型": "170", "生效日期": "2023/3/2", "终止日期": "2025年3月1日"})]
    data = {"csv-utf8": lambda: csv_bytes(rows), "csv-bom": lambda: csv_bytes(rows, bom=True),
            "csv-gb18030": lambda: csv_bytes(rows, encoding="gb18030"), "xlsx": lambda: xlsx_bytes(rows)}[form]()
    if form == "csv-gb18030":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    total0 = stats_total(api, cast, 2023)
    counters0 = dict((r["year"], r["last_serial"]) for r in query(
        cdb, "SELECT year, last_serial FROM registration_counters WHERE office_id = %s", cast.office["id"]))
    ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if form == "xlsx" else "text/csv"
    r = post(api, cast.officer, data, ctype=ctype, filename=f"历史合同-{form}")
    assert r.status == 201, r
    b = r.body
    assert b["valid"] and not b["dry_run"] and b["errors"] == []
    assert b["encoding"] == {"csv-utf8": "utf-8", "csv-bom": "utf-8-bom", "csv-gb18030": "gb18030", "xlsx": None}[form]
    batch = b["batch"]
    assert batch["contracts"] == 3 and batch["office_id"] == cast.office["id"] and batch["filename"] == f"历史合同-{form}"
    assert batch["contract_amount_fen"] == 12_000_050 * 2 + 5_000_000
    nos = [x["登记编号"] for x in rows]
    got = {x["registration_no"]: x for x in query(cdb, "SELECT * FROM contracts WHERE import_batch_id = %s", batch["id"])}
    assert sorted(got) == sorted(nos)
    a, p, k = (got[n] for n in nos)
    # registered with their own number and date, marked with the batch
    assert all(x["status"] == "registered" and x["registered_by"] is None and x["submitted_at"] is None for x in got.values())
    assert str(query(cdb, "SELECT (registered_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM contracts WHERE id = %s",
                     a["id"])[0]["d"]) == "2023-03-20"
    assert (a["registration_year"], a["registration_serial"]) == (2023, int(nos[0][-6:]))
    assert (a["contract_type"], a["contract_subtype"], a["domain"]) == ("development", "commissioned_development", "agriculture")
    assert (p["contract_type"], p["contract_subtype"], p["ip_type"], p["plan_source"]) == \
        ("transfer", "patent_transfer", "patent", "unplanned")
    assert (k["contract_type"], k["contract_subtype"], k["domain"]) == ("consulting", "technical_consulting", "electronic_information")
    assert str(k["effective_on"]) == "2023-03-02" and str(k["end_on"]) == "2025-03-01"
    # the parties: the seller found by its credit code (an organisation here), org types derived or given
    assert a["seller_org_id"] == cast.seller["id"] and a["applicant_org_id"] == cast.seller["id"]
    assert a["seller_org_type"] == "022"          # the organisation's
    assert a["buyer_org_type"] == "100"           # from the credit code (91…: an enterprise)
    assert k["buyer_org_type"] == "170"           # as given
    assert p["seller_org_type"] == "400" and p["seller_credit_code"] is None and p["seller_org_id"] is None
    assert a["technical_amount_fen"] == 10_000_000 and a["non_technical_items"] == [
        {"item": "非技术性费用（历史导入）", "amount_fen": 2_000_050}]
    # searchable: the search columns the server computed (its tokenizer, a batch at a time) are
    # exactly what the database's own tokenizer makes of the row (contracts_search_sync)
    same = query(cdb, "SELECT count(*) AS n FROM contracts c WHERE import_batch_id = %s"
                      " AND search_doc = contract_search_doc(c)"
                      " AND search_tsv = array_to_tsvector(search_tokens(contract_search_doc(c)))", batch["id"])
    assert same[0]["n"] == 3
    hit = api.get(f"{V1}/contracts?q=ｘ-ray%20富硒%20major%20（{form}）", headers=cast.officer["h"])
    assert hit.status == 200 and [x["id"] for x in hit.body["items"]] == [a["id"]], hit.body
    # and by their filters: the bureau's scope, a type and a year are lexemes of contracts_tags_idx
    # (contract_filter_tags of the row), the candidates of a common word with them
    with cdb.cursor() as cur:
        cur.execute("ANALYZE contracts")
    query(cdb, "SELECT contract_token_freq_refresh()")

    def bureau_sees(where, params):
        want = [r["id"] for r in query(
            cdb, "SELECT id FROM contracts WHERE status IN ('registered', 'cancelled') AND registration_year = 2023"
                 " AND (seller_region_code LIKE %s OR buyer_region_code LIKE %s) AND " + where + " ORDER BY id DESC",
            cast.region + "%", cast.region + "%")]
        hit = api.get(f"{V1}/contracts?year=2023&limit=100&" + params, headers=cast.bureau["h"])
        assert hit.status == 200 and [x["id"] for x in hit.body["items"]] == want, (params, hit.body)
        return want

    got = bureau_sees("contract_type = 'development'", "type=development")
    assert a["id"] in got and p["id"] not in got
    got = bureau_sees("contract_subtype = 'patent_transfer' AND search_doc LIKE '%%合同%%'",
                      "type=patent_transfer&q=" + urllib.parse.quote("合同"))
    assert p["id"] in got and a["id"] not in got
    with cdb.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
        cur.execute("SELECT * FROM contract_search(NULL, NULL, %s, false, NULL, NULL, '{}', NULL, NULL, 'development',"
                    " 2023, NULL, NULL, NULL, NULL, NULL, 'newest', NULL, 100)", (cast.region,))
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%contract_filter_tags(%'")
        assert cur.fetchone()[0] == 1
    # counted at once: statistics and targets
    total1 = stats_total(api, cast, 2023)
    assert total1["count"] == total0["count"] + 3
    assert total1["contract_amount_fen"] == total0["contract_amount_fen"] + batch["contract_amount_fen"]
    direct = query(cdb, "SELECT count(*) AS n, sum(contract_amount_fen) AS s FROM contracts WHERE status = 'registered'"
                        " AND registration_year = 2023 AND region_in_subtree(seller_region_code, %s)", cast.region)[0]
    assert (total1["count"], total1["contract_amount_fen"]) == (direct["n"], direct["s"])
    prog = api.get(f"{V1}/targets/progress?year=2023&region={cast.region}", headers=cast.bureau["h"]).body
    actual = {i["metric"]: i["actual"] for i in prog["items"]}
    assert actual["contracts"] == total1["count"] and actual["contract_amount"] == total1["contract_amount_fen"]
    # counters: a later registration never takes an imported number
    counters1 = dict((r["year"], r["last_serial"]) for r in query(
        cdb, "SELECT year, last_serial FROM registration_counters WHERE office_id = %s", cast.office["id"]))
    assert counters1[2023] == max(counters0.get(2023, 0), max(int(n[-6:]) for n in nos))
    # one audit entry for the batch
    au = query(cdb, "SELECT actor_user_id, action, after FROM audit_log WHERE entity = 'import_batch' AND entity_id = %s",
               str(batch["id"]))
    assert len(au) == 1 and au[0]["actor_user_id"] == cast.officer["id"] and au[0]["after"]["contracts"] == 3
    # the officer lists the batch; the seller sees its contract
    lst = api.get(f"{V1}/imports/contracts", headers=cast.officer["h"]).body["items"]
    assert lst[0]["id"] == batch["id"]
    assert api.get(f"{V1}/contracts/{a['id']}", headers=cast.m_seller["h"]).body["import_batch_id"] == batch["id"]


def test_certificate_of_an_import_says_so_and_is_not_signed(api, cast, cdb):
    rows = [row(cast)]
    b = post(api, cast.officer, csv_bytes(rows)).body
    cid = query(cdb, "SELECT id FROM contracts WHERE import_batch_id = %s", b["batch"]["id"])[0]["id"]
    j = api.get(f"{V1}/contracts/{cid}/certificate", headers=cast.officer["h"])
    assert j.status == 200, j
    assert j.body["payload"]["source"] == "import" and j.body["payload"]["registration_no"] == rows[0]["登记编号"]
    assert (j.body["algorithm"], j.body["key_id"], j.body["signature"]) == (None, None, None)
    h = api.get(f"{V1}/contracts/{cid}/certificate?format=html", headers=cast.officer["h"])
    assert h.status == 200 and "历史导入" in h.text and "Ed25519" not in h.text
    pub = api.get(f"{V1}/certificates/{rows[0]['登记编号']}").body
    assert pub["imported"] is True


def test_a_registration_after_an_import_takes_the_next_number(api, cast, cdb):
    """An import of this year's numbers moves the counter: the next registration follows them."""
    import datetime
    year = datetime.date.today().year
    n = f"{year}{cast.region}{990:06d}"
    today = query(cdb, "SELECT today_cn() AS t")[0]["t"].isoformat()
    r = post(api, cast.officer, csv_bytes([row(cast, **{"登记编号": n, "登记日期": today, "签订日期": today})]))
    assert r.status == 201, r
    c = registered_contract(api, cdb, cast.m_seller["h"], cast.officer["h"], cast.seller, cast.buyer)
    assert c["registration_no"] == f"{year}{cast.region}{991:06d}"


# --------------------------------------------------------------------------------------------------
# bad files: exact reports, nothing written
# --------------------------------------------------------------------------------------------------

def refused(api, cdb, cast, data, want, who=None, ctype="text/csv"):
    """Dry run and real import both report exactly `want`; nothing is written."""
    who = who or cast.officer
    before = snapshot(cdb, cast)
    d = post(api, who, data, dry=True, ctype=ctype)
    assert d.status == 200, d
    assert d.body["valid"] is False and d.body["batch"] is None
    assert errors_of(d.body) == want, errors_of(d.body)
    assert d.body["errors_total"] == len(want)
    r = post(api, who, data, ctype=ctype)
    body = assert_problem(r, 422)
    assert [(e["row"], e["column"], e["code"], e["message"]) for e in body["errors"]] == want
    assert [e["field"] for e in body["errors"]] == [w[1] for w in want]
    assert body["detail"] == f"the file has {len(want)} error(s); nothing was imported"
    assert snapshot(cdb, cast) == before
    return d.body


def test_wrong_encoding(api, cast, cdb):
    good = csv_bytes([row(cast)])
    utf16 = "\ufeff".encode("utf-16-le") + good.decode().encode("utf-16-le")
    refused(api, cdb, cast, utf16, [(0, "", "invalid_encoding",
            "文件是 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”后再导入")])
    # bytes that are neither UTF-8 nor GB18030 (0x80 alone, 0xFF) on the fourth line of a UTF-8 file,
    # whose Chinese on line 1 is not GB18030 either
    bad = good + b"\r\n" + b"abc\x80\xff,x\r\n"
    refused(api, cdb, cast, bad, [(0, "", "invalid_encoding",
            "无法识别文件的文字编码：按 UTF-8 读取第 4 行出错，按 GB18030 读取第 1 行出错；"
            "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入")])
    # a GB18030 file with a broken byte on its third line
    gb = csv_bytes([row(cast), row(cast)], encoding="gb18030")
    lines = gb.split(b"\r\n")
    lines[2] = lines[2] + b"\x81"
    refused(api, cdb, cast, b"\r\n".join(lines), [(0, "", "invalid_encoding",
            "无法识别文件的文字编码：按 UTF-8 读取第 1 行出错，按 GB18030 读取第 3 行出错；"
            "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再导入")])
    # a UTF-8 byte-order mark over something else
    refused(api, cdb, cast, b"\xef\xbb\xbf" + good[:-2] + b"\xc0\xaf\r\n", [(0, "", "invalid_encoding",
            "文件以 UTF-8 标记开头，但第 2 行含有无效的 UTF-8 字节")])
    refused(api, cdb, cast, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, [(0, "", "invalid_format",
            "这是旧版 Excel（.xls）文件；请在 Excel 中另存为 .xlsx 或 CSV 后再导入")])


def test_wrong_headers(api, cast, cdb):
    r = row(cast)
    head = [h for h in r if h != "技术领域"] + ["备注"]
    refused(api, cdb, cast, csv_bytes([r], head=head), [
        (1, "备注", "unknown_field", "不认识的列“备注”（可用的列见导入模板）"),
        (1, "技术领域", "required", "缺少必填列“技术领域”"),
    ])
    # no header at all: the first row is a contract
    refused(api, cdb, cast, csv_bytes([r])[csv_bytes([r]).index(b"\r\n") + 2:] * 2, [
        (1, "", "invalid_format", "第 1 行应为表头（登记编号、合同名称、合同类别……），请使用导入模板")])
    # a header twice; ASCII brackets and spaces are the same header
    head2 = ["登记编号", "登记编号"] + [h.replace("（", "(").replace("）", ")") for h in HEAD if h != "登记编号"]
    refused(api, cdb, cast, csv_bytes([r], head=head2), [(1, "登记编号", "duplicate", "表头中“登记编号”出现了两次")])
    refused(api, cdb, cast, (",".join(HEAD) + "\r\n").encode(), [(2, "", "required", "表头之后没有合同数据")])


def test_bad_cells(api, cast, cdb):
    rows = [row(cast, **{"合同成交额（元）": "12万"}),
            row(cast, **{"合同成交额（元）": "100", "技术交易额（元）": "100.001"}),
            row(cast, **{"合同成交额（元）": "100", "技术交易额（元）": "200"}),
            row(cast, **{"签订日期": "2023-02-30", "卖方统一社会信用代码": "91510100MA0000000X", "登记编号": "2023-51-000001"}),
            row(cast, **{"合同名称": "", "买方所在地区代码": "99999", "技术进口": "也许"})]
    refused(api, cdb, cast, csv_bytes(rows, head=HEAD), [
        (2, "合同成交额（元）", "invalid_format", "“12万”不是金额：请填写以元为单位的数字，最多两位小数"),
        (3, "技术交易额（元）", "invalid_format", "“100.001”不是金额：请填写以元为单位的数字，最多两位小数"),
        (4, "技术交易额（元）", "exceeds_contract", "技术交易额不能超过合同成交额"),
        (5, "登记编号", "invalid_number", "“2023-51-000001”不是 16 位数字的登记编号"),
        (5, "卖方统一社会信用代码", "invalid_credit_code", "“91510100MA0000000X”不是有效的统一社会信用代码（格式或校验位不符）"),
        (5, "签订日期", "invalid_date", "“2023-02-30”不是日期（如 2023-05-06），或早于 1990 年"),
        (6, "合同名称", "required", "“合同名称”不能为空"),
        (6, "买方所在地区代码", "unknown_region", "“99999”不是 6 位行政区划代码"),
        (6, "技术进口", "invalid", "请填写“是”或“否”"),
    ])


def test_codes_and_database_checks(api, cast, cdb):
    taken = registered_contract(api, cdb, cast.m_seller["h"], cast.officer["h"], cast.seller, cast.buyer)["registration_no"]
    dup = number(cast)
    t = today(cdb)
    rows = [row(cast, **{"登记编号": taken, "登记日期": t.isoformat(), "签订日期": t.isoformat()}),
            row(cast, **{"登记编号": dup}),
            row(cast, **{"登记编号": dup}),
            row(cast, **{"合同类别": "技术开发", "合同子类": ""}),
            row(cast, **{"合同类别": "其他", "合同子类": ""}),
            row(cast, **{"合同类别": "技术许可", "合同子类": "专利权转让"}),
            row(cast, **{"技术领域": "人工智能", "买方所在地区代码": "119999"}),
            row(cast, **{"登记编号": number(cast, office=cast.other)}),
            row(cast, **{"登记编号": f"2023{'999999'}000001"}),
            row(cast, **{"登记编号": number(cast, year=2022)}),
            row(cast, **{"登记日期": "2099-01-01", "登记编号": number(cast, year=2099)})]
    refused(api, cdb, cast, csv_bytes(rows), [
        (2, "登记编号", "duplicate", f"登记编号 {taken} 已在系统中，不能重复导入"),
        (4, "登记编号", "duplicate", "与第 3 行的登记编号相同"),
        (5, "合同类别", "unknown_code", "技术开发下有多个子类（委托开发、合作开发），请在“合同子类”列写明，或写作“技术开发/子类”"),
        (6, "合同类别", "unknown_code", "“其他”在多个合同类别下都有，请写作“技术转让/其他”或“技术许可/其他”"),
        (7, "合同类别", "unknown_code", "“专利权转让”不是技术许可的子类（可填：专利实施许可、技术秘密使用许可、其他）"),
        (8, "买方所在地区代码", "unknown_region", "119999 不是有效的行政区划代码"),
        (8, "技术领域", "unknown_code", "“人工智能”不是技术领域的代码或名称"),
        (9, "登记编号", "out_of_scope", f"登记编号属于{cast.other['name']}，您只能导入本机构登记的合同"),
        (10, "登记编号", "no_office", "登记编号中的地区代码 999999 没有对应的登记机构"),
        (11, "登记编号", "invalid_number", "登记编号的年份 2022 与登记日期 2023-03-20 不符"),
        (12, "登记日期", "out_of_range", "登记日期 2099-01-01 晚于今天"),
    ])


def test_admin_imports_for_any_office(api, cast, cdb):
    rows = [row(cast, **{"登记编号": number(cast, office=cast.other)}), row(cast)]
    r = post(api, cast.admin, csv_bytes(rows))
    assert r.status == 201, r
    assert r.body["batch"]["office_id"] is None
    offices = {x["office_id"] for x in query(cdb, "SELECT office_id FROM contracts WHERE import_batch_id = %s",
                                                 r.body["batch"]["id"])}
    assert offices == {cast.office["id"], cast.other["id"]}
    # another officer does not see this officer's batches
    ids = [b["id"] for b in api.get(f"{V1}/imports/contracts", headers=cast.other_officer["h"]).body["items"]]
    assert r.body["batch"]["id"] not in ids


def test_xlsx_numbers_and_dates(api, cast, cdb):
    import datetime
    rows = [row(cast, **{"签订日期": datetime.date(2023, 4, 1), "登记日期": datetime.date(2023, 4, 8),
                         "合同成交额（元）": 1234.56, "技术交易额（元）": 1000, "卖方所在地区代码": int(cast.region)})]
    r = post(api, cast.officer, xlsx_bytes(rows), ctype="application/octet-stream")
    assert r.status == 201, r
    c = query(cdb, "SELECT contract_amount_fen, technical_amount_fen, signed_on FROM contracts WHERE import_batch_id = %s",
              r.body["batch"]["id"])[0]
    assert (c["contract_amount_fen"], c["technical_amount_fen"], str(c["signed_on"])) == (123456, 100000, "2023-04-01")
    # a 16-digit number typed as a number has lost its last digits in Excel
    bad = [row(cast, **{"登记编号": int(number(cast))})]
    refused(api, cdb, cast, xlsx_bytes(bad), [(2, "登记编号", "invalid_number",
            "登记编号是数字格式，Excel 只保留 15 位有效数字；请把这一列设为文本格式后重新填写")],
            ctype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    refused(api, cdb, cast, b"PK\x03\x04" + b"\0" * 200, [(0, "", "invalid_format",
            "文件以 ZIP 标记开头但无法打开，不是有效的 XLSX 文件")])


def test_size_limits(api, cast, cdb):
    before = snapshot(cdb, cast)
    big = csv_bytes([row(cast)]) + b"x" * (1024 * 1024)
    body = assert_problem(post(api, cast.officer, big), 413)
    assert "too large" in body["detail"]
    query(cdb, "UPDATE settings SET value = '2' WHERE key = 'import_max_rows'")
    try:
        body = assert_problem(post(api, cast.officer, csv_bytes([row(cast), row(cast), row(cast)]), dry=True), 413)
        assert body["detail"] == "文件超过 3 行（含表头），请分成几个文件导入"
        assert post(api, cast.officer, csv_bytes([row(cast), row(cast)]), dry=True).status == 200
    finally:
        query(cdb, "UPDATE settings SET value = '100000' WHERE key = 'import_max_rows'")
    assert snapshot(cdb, cast) == before


def test_refusals(api, cast):
    data = csv_bytes([row(cast)])
    for who in (cast.bureau, cast.m_seller):
        assert_problem(post(api, who, data), 403)
    assert_problem(api.post(f"{V1}/imports/contracts", data=data, headers={"Content-Type": "text/csv"}), 401)
    assert_problem(post(api, cast.officer, b""), 400)
    assert_problem(post(api, cast.officer, data, ctype="application/json"), 415)
    assert_problem(post(api, cast.officer, data, ctype="multipart/form-data; boundary=x"), 415)
    body = assert_problem(api.post(f"{V1}/imports/contracts?dry_run=maybe", data=data,
                                   headers={**cast.officer["h"], "Content-Type": "text/csv"}), 400)
    assert body["errors"][0]["field"] == "dry_run"


# --------------------------------------------------------------------------------------------------
# the console
# --------------------------------------------------------------------------------------------------

def test_cli_import(stack, cast, cdb):
    rows = [row(cast), row(cast)]
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        f.write(csv_bytes(rows, encoding="gb18030"))
        path = f.name
    try:
        before = snapshot(cdb, cast)
        p = stack.run(["import", "contracts", path, "--dry-run"])
        assert p.returncode == 0, p.stdout + p.stderr
        assert "检查通过：2 份合同可以导入，合同成交额 240001.00 元（试运行，未写入）" in p.stdout
        assert snapshot(cdb, cast) == before
        p = stack.run(["import", "contracts", path])
        assert p.returncode == 0, p.stdout + p.stderr
        assert "已导入 2 份合同" in p.stdout
        b = query(cdb, "SELECT * FROM import_batches ORDER BY id DESC LIMIT 1")[0]
        assert b["contracts"] == 2 and b["created_by"] is None and b["filename"] == os.path.basename(path)
        # again: every number is there already
        before = snapshot(cdb, cast)
        p = stack.run(["import", "contracts", path])
        assert p.returncode == 1
        assert f"第 2 行 登记编号：登记编号 {rows[0]['登记编号']} 已在系统中，不能重复导入" in p.stdout
        assert "共 2 个问题，未导入任何合同" in p.stdout
        assert snapshot(cdb, cast) == before
        assert stack.run(["import", "contracts"]).returncode == 2
        assert stack.run(["import", "contracts", "/nonexistent.csv"]).returncode == 2
    finally:
        os.unlink(path)


def test_cli_import_as_an_officer(stack, cast, cdb):
    """`--as EMAIL` imports as that officer, as the API would: their office's numbers only, the batch
    theirs (on their 历史导入 screen); anyone but an active officer or admin is refused, nothing written."""
    mine, theirs = row(cast), row(cast, **{"登记编号": number(cast, office=cast.other)})
    paths = []
    try:
        for rows in ([mine], [theirs]):
            with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
                f.write(csv_bytes(rows))
                paths.append(f.name)
        before = snapshot(cdb, cast)
        p = stack.run(["import", "contracts", paths[1], "--as", cast.officer["email"]])
        assert p.returncode == 1, p.stdout + p.stderr
        assert f"第 2 行 登记编号：登记编号属于{cast.other['name']}，您只能导入本机构登记的合同" in p.stdout, p.stdout
        for who in (cast.m_seller["email"], "nobody-" + uniq() + "@example.test"):
            p = stack.run(["import", "contracts", paths[0], "--as", who])
            assert p.returncode == 2 and "不是在用的登记员或管理员账户" in p.stderr, p.stdout + p.stderr
        assert stack.run(["import", "contracts", paths[0], "--as"]).returncode == 2
        assert snapshot(cdb, cast) == before
        p = stack.run(["import", "contracts", paths[0], "--as", cast.officer["email"].upper()])
        assert p.returncode == 0 and "已导入 1 份合同" in p.stdout, p.stdout + p.stderr
        b = query(cdb, "SELECT * FROM import_batches ORDER BY id DESC LIMIT 1")[0]
        assert (b["office_id"], str(b["created_by"]), b["contracts"]) == (cast.office["id"], str(cast.officer["id"]), 1)
        au = query(cdb, "SELECT actor_user_id FROM audit_log WHERE entity = 'import_batch' AND entity_id = %s",
                   str(b["id"]))
        assert [str(a["actor_user_id"]) for a in au] == [str(cast.officer["id"])]
    finally:
        for path in paths:
            os.unlink(path)


# --------------------------------------------------------------------------------------------------
# a late import into a closed year
# --------------------------------------------------------------------------------------------------

def test_late_import_into_a_closed_year(api, cast, cdb):
    """Contracts of a year whose figures are closed, imported after the close, leave the closed figures
    as they were: each is an adjustment of that year (kind registration, with its batch), listed by
    GET /stats/adjustments and shown in this year as an adjustment to the prior year — as a late
    cancellation is (test_year_close.py)."""
    bureau = cast.bureau["h"]
    on = {"签订日期": "2025-03-01", "登记日期": "2025-03-20"}
    r = post(api, cast.officer, csv_bytes([row(cast, **{"登记编号": number(cast, 2025), **on})]))
    assert r.status == 201, r
    before = stats_total(api, cast, 2025)
    assert before["count"] == 1
    r = api.post(f"{V1}/stats/closes", json={"year": 2025, "region_code": cast.region, "note": "2025 年报"},
                 headers=bureau)
    assert r.status == 201, r
    close = r.body
    assert close["total"] == before and close["adjustments"] == 0

    late = [row(cast, **{"登记编号": number(cast, 2025), **on}),
            row(cast, **{"登记编号": number(cast, 2025), **on, "合同成交额（元）": "80000", "技术交易额（元）": "80000"})]
    r = post(api, cast.officer, csv_bytes(late), filename="2025年补录")
    assert r.status == 201, r
    batch = r.body["batch"]
    # the closed figures stand; the live aggregates moved
    got = api.get(f"{V1}/stats/contracts?year=2025&region={cast.region}", headers=bureau).body
    assert got["closed"] is True and got["close_id"] == close["id"] and got["total"] == before
    assert got["adjustments_after_close"] == {"changes": 2, "count": 2, "contract_amount_fen": 12_000_050 + 8_000_000,
                                              "technical_amount_fen": 10_000_000 + 8_000_000, "received_amount_fen": 0}
    live = query(cdb, "SELECT sum(n) AS n FROM contract_stats WHERE region_code = %s AND year = 2025 AND flow = 'out'"
                      " AND dim = 'total'", cast.region)[0]["n"]
    assert live == 3
    # listed as adjustments of 2025, each with the batch
    adj = api.get(f"{V1}/stats/adjustments?year=2025&region={cast.region}", headers=bureau)
    assert adj.status == 200, adj
    made_in = query(cdb, "SELECT extract(year FROM today_cn())::int AS y")[0]["y"]
    items = sorted(adj.body["items"], key=lambda a: a["registration_no"])
    assert [(a["registration_no"], a["kind"], a["count"], a["contract_amount_fen"], a["year"], a["made_in"],
             a["import_batch_id"], a["before"]) for a in items] == [
        (late[0]["登记编号"], "registration", 1, 12_000_050, 2025, made_in, batch["id"], None),
        (late[1]["登记编号"], "registration", 1, 8_000_000, 2025, made_in, batch["id"], None)]
    assert all(a["after"]["import_batch_id"] == batch["id"] and a["after"]["status"] == "registered" for a in items)
    # this year shows them as an adjustment to 2025
    if made_in > 2025:
        cur = api.get(f"{V1}/stats/contracts?year={made_in}&region={cast.region}", headers=bureau).body
        assert {"year": 2025, "changes": 2, "count": 2, "contract_amount_fen": 20_000_050,
                "technical_amount_fen": 18_000_000, "received_amount_fen": 0} in cur["prior_year_adjustments"]
    lst = api.get(f"{V1}/stats/closes?year=2025", headers=bureau).body["items"]
    assert [c["adjustments"] for c in lst if c["id"] == close["id"]] == [2]
