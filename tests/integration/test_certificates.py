"""Registration certificates (技术合同登记证明): Ed25519 over the RFC 8785 canonical payload, signed
with the registry office's key. Tampering fails verification; rotated keys stay published so old
certificates still verify; offline verification with the openssl CLI exactly as the README shows;
the printable HTML page; public keys and public facts."""

import copy
import json
import os
import re
import subprocess

import pytest

from contract_fixtures import *  # noqa: F401,F403
from contract_fixtures import (V1, assert_problem, certificate, contract_body, create_contract, error_fields,
                               iso, keygen, make_actor, new_office, new_org, query, register, registered_contract,
                               submit, submitted_contract, today, uniq, verify)


class Cast:
    pass


@pytest.fixture(scope="module")
def cast(api, users, stack, cdb):
    c = Cast()
    c.office = new_office(cdb)
    c.other_office = new_office(cdb)
    c.key_id = keygen(stack, c.office["id"])
    c.other_key_id = keygen(stack, c.other_office["id"])
    region = c.office["region_code"]
    c.seller = new_org(cdb, region, org_type="021", name="某研究院 " + uniq())
    c.buyer = new_org(cdb, region, org_type="170", name="某科技有限公司 " + uniq())
    c.third = new_org(cdb, region)
    c.m_seller = make_actor(users, "member", org=c.seller["id"])
    c.m_third = make_actor(users, "member", org=c.third["id"])
    c.officer = make_actor(users, "officer", office=c.office["id"])
    c.other_officer = make_actor(users, "officer", office=c.other_office["id"])
    c.contract = registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller, c.buyer,
                                     amount=88_000_000, technical=80_000_000)
    c.contract2 = registered_contract(api, cdb, c.m_seller["h"], c.officer["h"], c.seller, c.buyer,
                                      amount=77_000_000, technical=70_000_000)
    r = certificate(api, c.m_seller["h"], c.contract["id"])
    assert r.status == 200, r
    c.cert_resp = r
    c.cert = r.body
    return c


def _keys(api):
    r = api.get(f"{V1}/certificates/keys")
    assert r.status == 200, r
    return r.body["items"]


def _key_file(stack, key_id):
    return stack.keys_dir / f"{key_id}.pem"


def _run(cmd, cwd, input=None):
    return subprocess.run(cmd, cwd=cwd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=30, shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str)
                          else None)


def _canonical(obj):
    """RFC 8785 for what certificates hold (integers, strings, objects; ASCII keys)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sign_with(stack, key_id, payload_bytes, tmp_path):
    """A genuine Ed25519 signature by key_id's private key (the test can read the key dir)."""
    (tmp_path / "forge.bin").write_bytes(payload_bytes)
    p = _run(["openssl", "pkeyutl", "-sign", "-inkey", str(_key_file(stack, key_id)), "-rawin",
              "-in", "forge.bin", "-out", "forge.sig"], tmp_path)
    assert p.returncode == 0, p.stdout
    import base64
    return base64.urlsafe_b64encode((tmp_path / "forge.sig").read_bytes()).rstrip(b"=").decode()


# ====================================================================== genuine

def test_certificate_shape_and_verification(api, cdb, cast):
    cert = cast.cert
    assert cast.cert_resp.headers["Content-Type"].split(";")[0] == "application/json"
    assert set(cert) == {"payload", "algorithm", "key_id", "signature"}
    assert cert["algorithm"] == "Ed25519" and cert["key_id"] == cast.key_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", cert["signature"]), cert["signature"]
    # the served text carries the canonical bytes of the payload verbatim
    raw = cast.cert_resp.content
    assert raw.startswith(b'{"payload":' + _canonical(cert["payload"]) + b',"algorithm":"Ed25519","key_id":')
    p = cert["payload"]
    assert set(p) == {"registration_no", "title", "contract_type", "contract_type_label", "contract_subtype",
                      "contract_subtype_label", "seller", "buyer", "term", "domain", "domain_label",
                      "registration_note", "contract_amount_fen", "technical_amount_fen", "office", "registered_on",
                      "amendments"}
    assert set(p["seller"]) == set(p["buyer"]) == {"name", "credit_code", "role"}
    assert set(p["term"]) == {"signed_on", "effective_on", "end_on"}
    assert p["registration_no"] == cast.contract["registration_no"]
    assert p["contract_amount_fen"] == 88_000_000 and p["technical_amount_fen"] == 80_000_000
    assert p["office"]["id"] == cast.office["id"] and p["registered_on"] == iso(today(cdb))
    v = verify(api, cert)
    assert v["valid"] is True and v["registration_status"] == "registered", v
    # the same certificate for every reader allowed to see it
    r = certificate(api, cast.officer["h"], cast.contract["id"])
    assert r.status == 200 and r.content == raw


def test_certificate_access(api, cdb, cast):
    cid = cast.contract["id"]
    assert_problem(certificate(api, cast.m_third["h"], cid), 404)
    assert_problem(certificate(api, cast.other_officer["h"], cid), 404)
    assert_problem(api.get(f"{V1}/contracts/{cid}/certificate"), 401)
    b = assert_problem(api.get(f"{V1}/contracts/{cid}/certificate?format=docx", headers=cast.m_seller["h"]), 400)
    assert "format" in error_fields(b)
    # not registered → no certificate
    c = submitted_contract(api, cdb, cast.m_seller["h"], cast.seller, cast.buyer)
    assert_problem(certificate(api, cast.m_seller["h"], c["id"]), 409)
    d = create_contract(api, cast.m_seller["h"], contract_body(cdb, cast.seller, cast.buyer))
    assert_problem(certificate(api, cast.m_seller["h"], d["id"]), 409)


def test_office_without_a_key_answers_503(api, users, cdb, cast):
    office = new_office(cdb)
    officer = make_actor(users, "officer", office=office["id"])
    admin = make_actor(users, "admin")
    s = new_org(cdb, office["region_code"])
    b = new_org(cdb, office["region_code"])
    c = registered_contract(api, cdb, admin["h"], officer["h"], s, b)
    r = api.get(f"{V1}/contracts/{c['id']}/certificate", headers=officer["h"])
    assert_problem(r, 503)


# ====================================================================== tampering

def _tamper(cast):
    other_no = cast.contract2["registration_no"]
    return {
        "contract_amount": lambda c: c["payload"].__setitem__("contract_amount_fen",
                                                              c["payload"]["contract_amount_fen"] + 1),
        "technical_amount": lambda c: c["payload"].__setitem__("technical_amount_fen", 90_000_000),
        "seller_name": lambda c: c["payload"]["seller"].__setitem__("name", c["payload"]["seller"]["name"] + "X"),
        "buyer_name": lambda c: c["payload"]["buyer"].__setitem__("name", "冒名公司"),
        "buyer_credit_code": lambda c: c["payload"]["buyer"].__setitem__("credit_code", None),
        "title": lambda c: c["payload"].__setitem__("title", c["payload"]["title"] + " "),
        "registration_no": lambda c: c["payload"].__setitem__("registration_no", other_no),
        "registered_on": lambda c: c["payload"].__setitem__("registered_on", "2020-01-01"),
        "office_id": lambda c: c["payload"]["office"].__setitem__("id", cast.other_office["id"]),
        "amendments": lambda c: c["payload"].__setitem__("amendments", 1),
        "seller_role": lambda c: c["payload"]["seller"].__setitem__("role", "受让方"),
        "end_on": lambda c: c["payload"]["term"].__setitem__("end_on", "2099-12-31"),
        "domain": lambda c: c["payload"].__setitem__("domain", "aerospace"),
        "note": lambda c: c["payload"].__setitem__("registration_note", "核定技术交易额 1 元"),
        "extra_member": lambda c: c["payload"].__setitem__("note", "免税"),
        "dropped_member": lambda c: c["payload"].pop("buyer"),
        "other_office_key": lambda c: c.__setitem__("key_id", cast.other_key_id),
        "unknown_key": lambda c: c.__setitem__("key_id", "office0-0000000000000000"),
        "signature_char": lambda c: c.__setitem__("signature", ("B" if c["signature"][0] == "A" else "A")
                                                  + c["signature"][1:]),
        "signature_middle": lambda c: c.__setitem__("signature", c["signature"][:40]
                                                    + ("x" if c["signature"][40] != "x" else "y")
                                                    + c["signature"][41:]),
        "signature_truncated": lambda c: c.__setitem__("signature", c["signature"][:-2]),
        "signature_padded": lambda c: c.__setitem__("signature", c["signature"] + "=="),
        "signature_empty": lambda c: c.__setitem__("signature", ""),
        "other_certificate_signature": None,  # filled in below
        "algorithm": lambda c: c.__setitem__("algorithm", "RS256"),
        "algorithm_case": lambda c: c.__setitem__("algorithm", "ed25519"),
        "float_amount": lambda c: c["payload"].__setitem__("contract_amount_fen",
                                                           float(c["payload"]["contract_amount_fen"])),
        "float_amendments": lambda c: c["payload"].__setitem__("amendments", 0.0),
    }


TAMPERS = ["contract_amount", "technical_amount", "seller_name", "buyer_name", "buyer_credit_code", "title",
           "registration_no", "registered_on", "office_id", "amendments", "seller_role", "end_on", "domain", "note",
           "extra_member", "dropped_member",
           "other_office_key", "unknown_key", "signature_char", "signature_middle", "signature_truncated",
           "signature_padded", "signature_empty", "other_certificate_signature", "algorithm", "algorithm_case",
           "float_amount", "float_amendments"]


@pytest.mark.parametrize("how", TAMPERS)
def test_tampered_certificates_fail(api, cast, how):
    cert = copy.deepcopy(cast.cert)
    if how == "other_certificate_signature":
        other = certificate(api, cast.m_seller["h"], cast.contract2["id"])
        assert other.status == 200, other
        cert["signature"] = other.body["signature"]
    else:
        _tamper(cast)[how](cert)
    assert json.dumps(cert) != json.dumps(cast.cert)
    if how.startswith("float"):
        # send the float as JSON text with a fraction, as a client would
        body = json.dumps(cert)
        assert ".0" in body
        r = api.post(f"{V1}/certificates/verify", data=body.encode(), headers={"Content-Type": "application/json"})
        assert r.status == 200, r
        v = r.body
    else:
        v = verify(api, cert)
    assert v["valid"] is False, f"tampered certificate ({how}) verified: {v}"
    assert isinstance(v["reason"], str) and v["reason"]
    # the genuine one still verifies
    assert verify(api, cast.cert)["valid"] is True


def test_genuine_signature_by_another_offices_key_fails(api, stack, cast, tmp_path):
    """Office B's key signs a payload that names office A: the signature is genuine, the
    certificate is not."""
    cert = copy.deepcopy(cast.cert)
    cert["key_id"] = cast.other_key_id
    cert["signature"] = _sign_with(stack, cast.other_key_id, _canonical(cert["payload"]), tmp_path)
    v = verify(api, cert)
    assert v["valid"] is False and "office" in v["reason"], v


def test_signed_payload_for_a_registration_that_does_not_exist(api, stack, cast, tmp_path):
    cert = copy.deepcopy(cast.cert)
    no = cert["payload"]["registration_no"]
    cert["payload"]["registration_no"] = no[:10] + "999999"
    cert["signature"] = _sign_with(stack, cast.key_id, _canonical(cert["payload"]), tmp_path)
    v = verify(api, cert)
    assert v["valid"] is False and "registration" in v["reason"], v


@pytest.mark.parametrize("body,status,field", [
    ({"algorithm": "Ed25519", "key_id": "k", "signature": "s"}, 422, "payload"),
    ({"payload": {}, "algorithm": "Ed25519", "key_id": "k"}, 422, "signature"),
    ({"payload": "x", "algorithm": "Ed25519", "key_id": "k", "signature": "s"}, 400, "payload"),
    ({"payload": {}, "algorithm": "Ed25519", "key_id": "k", "signature": "s", "valid": True}, 400, "valid"),
])
def test_verify_request_shape(api, body, status, field):
    b = assert_problem(api.post(f"{V1}/certificates/verify", json=body), status)
    assert field in error_fields(b), b


# ====================================================================== key rotation

def test_key_rotation_keeps_old_certificates_valid(api, users, stack, cdb, cast):
    office = new_office(cdb)
    officer = make_actor(users, "officer", office=office["id"])
    admin = make_actor(users, "admin")
    s = new_org(cdb, office["region_code"])
    b = new_org(cdb, office["region_code"])
    key1 = keygen(stack, office["id"])
    c = registered_contract(api, cdb, admin["h"], officer["h"], s, b)
    old = certificate(api, officer["h"], c["id"])
    assert old.status == 200 and old.body["key_id"] == key1, old

    key2 = keygen(stack, office["id"])
    assert key2 != key1
    mine = [k for k in _keys(api) if k["office_id"] == office["id"]]
    assert [k["key_id"] for k in mine] == [key1, key2], mine
    assert mine[0]["valid_to"] is not None and mine[1]["valid_to"] is None
    rows = query(cdb, "SELECT key_id, valid_to FROM signing_keys WHERE office_id = %s ORDER BY valid_from",
                 office["id"])
    assert [r["key_id"] for r in rows] == [key1, key2] and rows[0]["valid_to"] and rows[1]["valid_to"] is None
    for k in mine:
        assert k["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", k["public_key"]), k

    # the old certificate still verifies
    v = verify(api, old.body)
    assert v["valid"] is True and v["registration_status"] == "registered", v
    # a certificate issued now is signed with the new key (the server may need ~2 s to see it)
    new = certificate(api, officer["h"], c["id"])
    assert new.status == 200, new
    assert new.body["key_id"] == key2 and new.body["payload"] == old.body["payload"]
    assert new.body["signature"] != old.body["signature"]
    assert verify(api, new.body)["valid"] is True
    c2 = registered_contract(api, cdb, admin["h"], officer["h"], s, b)
    r = certificate(api, officer["h"], c2["id"])
    assert r.status == 200 and r.body["key_id"] == key2 and verify(api, r.body)["valid"] is True
    # the old signature does not pass for the new key
    forged = dict(old.body, key_id=key2)
    assert verify(api, forged)["valid"] is False


# ====================================================================== offline, with openssl

README_SCRIPT = r"""
set -e
sed -E 's/^\{"payload":(.*),"algorithm":"Ed25519","key_id":"[^"]*","signature":"[^"]*"\}$/\1/' cert.json \
  | tr -d '\n' > payload.bin                                     # the signed bytes
sig=$(sed -E 's/.*"signature":"([^"]*)".*/\1/' cert.json | tr '_-' '/+')
printf '%s==' "$sig" | openssl base64 -d -A > sig.bin            # base64url → raw 64 bytes
openssl pkeyutl -verify -pubin -inkey office.pem -rawin -in payload.bin -sigfile sig.bin
"""


def test_offline_verification_with_openssl_as_the_readme_shows(api, cast, tmp_path):
    readme = (os.path.dirname(__file__) + "/../../README.md")
    text = open(readme, encoding="utf-8").read()
    for line in ("openssl pkeyutl -verify -pubin -inkey office.pem -rawin -in payload.bin -sigfile sig.bin",
                 "printf '%s==' \"$sig\" | openssl base64 -d -A > sig.bin"):
        assert line in text, f"README no longer shows {line!r}; update this test with it"
    (tmp_path / "cert.json").write_bytes(cast.cert_resp.content)
    pem = [k for k in _keys(api) if k["key_id"] == cast.cert["key_id"]][0]["public_key_pem"]
    (tmp_path / "office.pem").write_text(pem)
    p = _run(README_SCRIPT, tmp_path)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and "Signature Verified Successfully" in out, out
    payload = (tmp_path / "payload.bin").read_bytes()
    assert payload == _canonical(cast.cert["payload"])
    assert len((tmp_path / "sig.bin").read_bytes()) == 64

    # change one byte of payload.bin and it fails
    i = payload.index(str(cast.cert["payload"]["contract_amount_fen"]).encode())
    bad = bytearray(payload)
    bad[i] = ord("9") if bad[i] != ord("9") else ord("8")
    (tmp_path / "payload.bin").write_bytes(bytes(bad))
    p = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "office.pem", "-rawin", "-in", "payload.bin",
              "-sigfile", "sig.bin"], tmp_path)
    out = p.stdout.decode(errors="replace")
    assert p.returncode != 0 and "Signature Verified Successfully" not in out, out
    # and another office's key does not verify the genuine bytes
    (tmp_path / "payload.bin").write_bytes(payload)
    other = [k for k in _keys(api) if k["key_id"] == cast.other_key_id][0]["public_key_pem"]
    (tmp_path / "other.pem").write_text(other)
    p = _run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "other.pem", "-rawin", "-in", "payload.bin",
              "-sigfile", "sig.bin"], tmp_path)
    assert p.returncode != 0, p.stdout


# ====================================================================== HTML

def test_html_certificate(api, cdb, cast):
    r = certificate(api, cast.m_seller["h"], cast.contract["id"], fmt="html")
    assert r.status == 200, r
    assert r.headers["Content-Type"].split(";")[0].strip() == "text/html"
    html = r.text
    assert cast.contract["registration_no"] in html
    assert "技术合同登记证明" in html
    assert "<svg" in html
    assert cast.seller["name"] in html and cast.buyer["name"] in html
    # both amounts in figures with separators and in capitals (人民币大写)
    assert "880,000.00 元（人民币捌拾捌万元整）" in html and "800,000.00 元（人民币捌拾万元整）" in html
    assert cast.cert["key_id"] in html
    # how to verify it, where the QR code points; not the signature's JSON
    assert "核验方法" in html and f"/#/verify" in html and cast.contract["registration_no"] in html
    assert '"signature"' not in html and '"payload"' not in html
    # its own policy, not the front end's: nothing loads from anywhere, the print button's handler runs
    csp = r.headers.get("Content-Security-Policy", "")
    assert csp.startswith("default-src 'none'") and "script-src 'unsafe-inline'" in csp, csp


def test_html_certificate_escapes_what_users_typed(api, cdb, cast):
    title = "<script>alert('x')</script> & \"引号\""
    c = create_contract(api, cast.m_seller["h"], contract_body(cdb, cast.seller, cast.buyer, title=title))
    submit(api, cast.m_seller["h"], c["id"])
    register(api, cast.officer["h"], c["id"])
    r = certificate(api, cast.m_seller["h"], c["id"], fmt="html")
    assert r.status == 200, r
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;引号&quot;" in r.text
    j = certificate(api, cast.m_seller["h"], c["id"])
    assert j.body["payload"]["title"] == title and verify(api, j.body)["valid"] is True


# ====================================================================== party roles, term, domain, 核定 note

ROLES = {  # 民法典 技术合同: the parties of each type, as the certificate names them (codes.extra.party_roles)
    ("development", "commissioned_development"): ("研究开发方", "委托方"),
    ("transfer", "patent_transfer"): ("让与方", "受让方"),
    ("licence", "patent_licence"): ("许可方", "被许可方"),
    ("consulting", "technical_consulting"): ("受托方", "委托方"),
    ("service", "technical_service"): ("受托方", "委托方"),
}


@pytest.mark.parametrize("ctype,subtype", list(ROLES))
def test_certificate_names_the_parties_by_their_roles(api, cdb, cast, ctype, subtype):
    seller_role, buyer_role = ROLES[(ctype, subtype)]
    body = contract_body(cdb, cast.seller, cast.buyer, ctype, subtype, domain="new_energy")
    c = create_contract(api, cast.m_seller["h"], body)
    assert c["party_roles"] == {"seller": seller_role, "buyer": buyer_role}
    submit(api, cast.m_seller["h"], c["id"])
    note = f"核定：扣除设备费 15,000 元，技术交易额按 {ctype} 合同登记"
    reg = register(api, cast.officer["h"], c["id"], {"note": note})
    assert reg["registration_note"] == note
    assert query(cdb, "SELECT registration_note FROM contracts WHERE id = %s", c["id"])[0]["registration_note"] == note
    r = certificate(api, cast.m_seller["h"], c["id"])
    assert r.status == 200, r
    p = r.body["payload"]
    assert (p["seller"]["role"], p["buyer"]["role"]) == (seller_role, buyer_role)
    assert p["term"] == {"signed_on": body["signed_on"], "effective_on": body["effective_on"], "end_on": body["end_on"]}
    assert (p["domain"], p["domain_label"]) == ("new_energy", "新能源与高效节能")
    assert p["registration_note"] == note
    assert verify(api, r.body)["valid"] is True
    h = certificate(api, cast.m_seller["h"], c["id"], fmt="html").text
    assert f"<td>{seller_role}（卖方）</td>" in h and f"<td>{buyer_role}（买方）</td>" in h
    assert "卖方（受托方）" not in h or seller_role == "受托方"
    assert f"<td>{body['effective_on']} 至 {body['end_on']}（签订日期 {body['signed_on']}）</td>" in h
    assert "<td>新能源与高效节能</td>" in h and "核定意见" in h and "扣除设备费 15,000 元" in h


def test_roles_are_data(api, cdb, cast):
    """The wording comes from the code list: a subtype's own roles win over its type's."""
    query(cdb, """UPDATE codes SET extra = extra || '{"party_roles": {"seller": "合作开发方（甲）", "buyer": "合作开发方（乙）"}}'
                  WHERE list = 'contract_types' AND code = 'cooperative_development' RETURNING code""")
    try:
        c = registered_contract(api, cdb, cast.m_seller["h"], cast.officer["h"], cast.seller, cast.buyer,
                                ctype="development", subtype="cooperative_development")
        p = certificate(api, cast.m_seller["h"], c["id"]).body["payload"]
        assert (p["seller"]["role"], p["buyer"]["role"]) == ("合作开发方（甲）", "合作开发方（乙）")
        assert c["registration_note"] is None and p["registration_note"] is None
        assert "核定意见" not in certificate(api, cast.m_seller["h"], c["id"], fmt="html").text
    finally:
        query(cdb, "UPDATE codes SET extra = extra - 'party_roles' WHERE list = 'contract_types'"
                   " AND code = 'cooperative_development' RETURNING code")


def test_register_note_is_checked(api, cdb, cast):
    c = submitted_contract(api, cdb, cast.m_seller["h"], cast.seller, cast.buyer)
    r = api.post(f"{V1}/contracts/{c['id']}/register", json={"note": "长" * 1001}, headers=cast.officer["h"])
    assert "note" in error_fields(assert_problem(r, 422))
    r = api.post(f"{V1}/contracts/{c['id']}/register", json={"note": 5}, headers=cast.officer["h"])
    assert "note" in error_fields(assert_problem(r, 400))
    assert query(cdb, "SELECT status FROM contracts WHERE id = %s", c["id"])[0]["status"] == "submitted"


# ====================================================================== public endpoints

def test_public_keys_and_facts(api, cast):
    keys = {k["key_id"]: k for k in _keys(api)}
    assert cast.key_id in keys and keys[cast.key_id]["office_id"] == cast.office["id"]
    assert keys[cast.key_id]["valid_to"] is None and keys[cast.key_id]["valid_from"]
    no = cast.contract["registration_no"]
    r = api.get(f"{V1}/certificates/{no}")
    assert r.status == 200 and r.body["registration_no"] == no and r.body["status"] == "registered", r
    assert r.body["office"]["id"] == cast.office["id"]
    # nothing private (contacts, payments, internal ids of people) on the public page
    for k in ("seller_org_id", "buyer_org_id", "received_amount_fen", "registered_by", "created_by",
              "payment_schedule"):
        assert k not in r.body, k
    assert_problem(api.get(f"{V1}/certificates/{no[:10]}999999"), 404)
    assert_problem(api.get(f"{V1}/certificates/not-a-number"), 404)
    assert_problem(api.get(f"{V1}/certificates/{no}0"), 404)
