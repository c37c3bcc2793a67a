"""Official documents as PDF (issue #19 part 5): the registration certificate (技术合同登记证明,
GET /contracts/{id}/certificate?format=pdf) and the registration form (技术合同登记表, GET
/contracts/{id}/registration-form), read back with poppler's pdftotext: the number, the title, the
parties with their roles, both amounts in figures and in 大写, the office; the CJK font embedded as a
subset (pdffonts); and the office's seal (PUT/GET/DELETE /offices/{id}/seal, admin) drawn on them."""

import io
import re
import struct
import subprocess
import tempfile
import zlib

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, assert_problem, create_contract, contract_body, keygen, make_actor, new_office,
                               new_org, query, registered_contract, submitted_contract, uniq)


def png(w, h, rgba=(200, 30, 30, 255)):
    """A w×h PNG of one colour (a stand-in for a seal)."""
    raw = b"".join(b"\x00" + bytes(rgba) * w for _ in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf_run(tool, data, *args):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        p = subprocess.run([tool, *args, f.name, *(["-"] if tool == "pdftotext" else [])], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout


def pdf_text(data):
    """The text of a PDF, white space removed (pdftotext breaks lines where the layout does)."""
    return re.sub(r"\s+", "", pdf_run("pdftotext", data, "-enc", "UTF-8"))


class Cast:
    pass


@pytest.fixture(scope="module")
def cast(api, users, stack, cdb):
    c = Cast()
    c.office = new_office(cdb, name="巴中市技术合同登记处 " + uniq())
    c.other_office = new_office(cdb)
    keygen(stack, c.office["id"])
    region = c.office["region_code"]
    c.seller = new_org(cdb, region, org_type="022", name="巴中职业技术学院 " + uniq())
    c.buyer = new_org(cdb, region, org_type="170", name="四川秦巴富硒茶业有限公司 " + uniq())
    c.third = new_org(cdb, region)
    c.m_seller = make_actor(users, "member", org=c.seller["id"])
    c.m_third = make_actor(users, "member", org=c.third["id"])
    c.officer = make_actor(users, "officer", office=c.office["id"])
    c.other_officer = make_actor(users, "officer", office=c.other_office["id"])
    c.admin = make_actor(users, "admin")
    c.title = "富硒茶深加工工艺技术开发合同 " + uniq()
    c.contract = registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller, c.buyer,
                                     amount=12_345_678, technical=10_000_000, title=c.title)
    return c


def get_pdf(api, path, who):
    r = api.get(path, headers=who["h"])
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return r.content


def test_certificate_pdf_shows_the_registration(api, cast):
    pdf = get_pdf(api, f"{V1}/contracts/{cast.contract['id']}/certificate?format=pdf", cast.m_seller)
    t = pdf_text(pdf)
    c = cast.contract
    for want in ("技术合同登记证明", c["registration_no"], cast.title.replace(" ", ""), cast.seller["name"].replace(" ", ""),
                 cast.buyer["name"].replace(" ", ""), cast.seller["credit_code"], "技术开发·委托开发",
                 "123,456.78元", "大写：人民币壹拾贰万叁仟肆佰伍拾陆元柒角捌分",
                 "100,000.00元", "大写：人民币壹拾万元整", cast.office["name"].replace(" ", ""), "登记机构（盖章）", "Ed25519"):
        assert want in t, (want, t)
    assert t.index("卖方") < t.index(cast.seller["name"].replace(" ", "")) < t.index("买方")
    # the CJK font is embedded, as a subset
    fonts = pdf_run("pdffonts", pdf)
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk, fonts
    for line in cjk:
        cols = line.split()
        assert re.match(r"^[A-Z]{6}\+", cols[0]), line            # subset tag
        assert cols[-5:-3] == ["yes", "yes"], line                 # emb yes, sub yes
    # no seal uploaded: an empty slot, no image
    assert pdf_run("pdfimages", pdf, "-list").count("\n") <= 2


def test_registration_form_pdf(api, cast, cdb):
    pdf = get_pdf(api, f"{V1}/contracts/{cast.contract['id']}/registration-form", cast.officer)
    t = pdf_text(pdf)
    for want in ("技术合同登记表", cast.contract["registration_no"], cast.title.replace(" ", ""),
                 cast.seller["name"].replace(" ", ""), cast.buyer["name"].replace(" ", ""),
                 "单位性质：高等院校（022）", "单位性质：私营企业（170）", "123,456.78元", "大写：人民币壹拾贰万叁仟肆佰伍拾陆元柒角捌分",
                 "100,000.00元", "设备及原材料：23,456.78元", "首期", "技术领域农业", "知识产权类型专利", "状态已登记"):
        assert want in t, (want, t)
    # a submitted application: the form as submitted, no number yet
    s = submitted_contract(api, cdb, cast.m_seller["h"], cast.seller, cast.buyer, amount=5_000_000, technical=5_000_000)
    t = pdf_text(get_pdf(api, f"{V1}/contracts/{s['id']}/registration-form?format=pdf", cast.m_seller))
    assert "（登记时填写）" in t and "状态已受理，待审查" in t and "50,000.00元" in t and "大写：人民币伍万元整" in t
    # a draft has none yet
    d = create_contract(api, cast.m_seller["h"], contract_body(cdb, cast.seller, cast.buyer))
    body = assert_problem(api.get(f"{V1}/contracts/{d['id']}/registration-form", headers=cast.m_seller["h"]), 409)
    assert "draft" in body["detail"]


def test_documents_refusals(api, cast):
    cid = cast.contract["id"]
    for path in (f"{V1}/contracts/{cid}/certificate?format=pdf", f"{V1}/contracts/{cid}/registration-form"):
        assert_problem(api.get(path), 401)
        assert_problem(api.get(path, headers=cast.m_third["h"]), 404)      # not a party
        assert_problem(api.get(path, headers=cast.other_officer["h"]), 404)  # another office
    body = assert_problem(api.get(f"{V1}/contracts/{cid}/certificate?format=docx", headers=cast.officer["h"]), 400)
    assert body["errors"][0]["field"] == "format"
    body = assert_problem(api.get(f"{V1}/contracts/{cid}/registration-form?format=html", headers=cast.officer["h"]), 400)
    assert body["errors"][0]["field"] == "format"
    assert_problem(api.get(f"{V1}/contracts/99999999/registration-form", headers=cast.admin["h"]), 404)


def test_seal_upload_drawn_on_the_documents(api, cast, cdb):
    oid = cast.office["id"]
    seal = png(240, 240)
    path = f"{V1}/offices/{oid}/seal"
    assert_problem(api.get(path, headers=cast.admin["h"]), 404)
    audit0 = query(cdb, "SELECT count(*) AS n FROM audit_log WHERE entity = 'office' AND entity_id = %s", str(oid))[0]["n"]
    # refused: not an admin, not a PNG, the wrong size, sent as something else — nothing stored
    assert_problem(api.put(path, data=seal, headers={**cast.officer["h"], "Content-Type": "image/png"}), 403)
    assert_problem(api.put(path, data=b"GIF89a" + b"\0" * 100, headers={**cast.admin["h"], "Content-Type": "image/png"}), 415)
    assert_problem(api.put(path, data=seal, headers={**cast.admin["h"], "Content-Type": "image/jpeg"}), 415)
    body = assert_problem(api.put(path, data=png(32, 32), headers={**cast.admin["h"], "Content-Type": "image/png"}), 422)
    assert body["errors"][0]["code"] == "out_of_range"
    assert_problem(api.put(path, data=b"", headers={**cast.admin["h"], "Content-Type": "image/png"}), 400)
    assert_problem(api.put(f"{V1}/offices/99999999/seal", data=seal, headers={**cast.admin["h"], "Content-Type": "image/png"}), 404)
    assert not query(cdb, "SELECT 1 FROM office_seals WHERE office_id = %s", oid)
    # uploaded
    r = api.put(path, data=seal, headers={**cast.admin["h"], "Content-Type": "image/png"})
    assert r.status == 200, r
    assert (r.body["office_id"], r.body["width"], r.body["height"], r.body["size_bytes"]) == (oid, 240, 240, len(seal))
    audit = query(cdb, "SELECT action, after FROM audit_log WHERE entity = 'office' AND entity_id = %s ORDER BY id", str(oid))
    assert len(audit) == audit0 + 1 and audit[-1]["action"] == "seal_upload" and "png" not in audit[-1]["after"]
    for who in (cast.admin, cast.officer):
        g = api.get(path, headers=who["h"])
        assert g.status == 200 and g.headers["Content-Type"] == "image/png" and g.content == seal
    assert_problem(api.get(path, headers=cast.other_officer["h"]), 404)
    assert_problem(api.get(path, headers=cast.m_seller["h"]), 403)
    # drawn on the certificate and the form
    for p in (f"{V1}/contracts/{cast.contract['id']}/certificate?format=pdf",
              f"{V1}/contracts/{cast.contract['id']}/registration-form"):
        listing = pdf_run("pdfimages", get_pdf(api, p, cast.officer), "-list")
        assert re.search(r"^\s*\d+\s+\d+\s+image\s+240\s+240\s", listing, re.M), listing  # on its page
    # removed
    assert api.delete(path, headers=cast.admin["h"]).status == 204
    assert_problem(api.delete(path, headers=cast.admin["h"]), 404)
    assert_problem(api.get(path, headers=cast.admin["h"]), 404)
    assert query(cdb, "SELECT action FROM audit_log WHERE entity = 'office' AND entity_id = %s ORDER BY id DESC LIMIT 1",
                 str(oid))[0]["action"] == "seal_delete"


def test_imported_certificate_pdf_says_so(api, cast, cdb):
    no = f"2023{cast.office['region_code']}777001"
    head = "登记编号,合同名称,合同类别,卖方名称,卖方统一社会信用代码,卖方所在地区代码,买方名称,买方统一社会信用代码," \
           "买方所在地区代码,签订日期,登记日期,合同成交额（元）,技术交易额（元）,技术领域"
    row = f"{no},历史合同 {uniq()},委托开发,{cast.seller['name']},{cast.seller['credit_code']},{cast.office['region_code']}," \
          f"{cast.buyer['name']},{cast.buyer['credit_code']},{cast.office['region_code']},2023-01-05,2023-01-20,30800.00,30800,农业"
    r = api.post(f"{V1}/imports/contracts", data=(head + "\r\n" + row + "\r\n").encode(),
                 headers={**cast.officer["h"], "Content-Type": "text/csv"})
    assert r.status == 201, r
    cid = query(cdb, "SELECT id FROM contracts WHERE registration_no = %s", no)[0]["id"]
    t = pdf_text(get_pdf(api, f"{V1}/contracts/{cid}/certificate?format=pdf", cast.officer))
    assert "（历史导入）" in t and no in t and "本证明不是本系统签发的电子证明，没有数字签名" in t
    assert "Ed25519" not in t and "大写：人民币叁万零捌佰元整" in t
