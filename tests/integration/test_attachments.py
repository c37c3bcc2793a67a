"""Contract attachments (the scanned signed contract): type judged by content,
size limited, SHA-256 kept and re-checked on every download, parties and the
officer only; added before and after submission (not once refused or
cancelled), removed only before; registering without one needs the officer's
explicit, audited no_scan_reason."""
import base64
import hashlib

from contract_fixtures import *  # noqa: F401,F403
from helpers import assert_problem, query

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n\x00\x01\x02 binary \xff\xfe\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def upload(api, h, cid, data, ctype, name=None):
    q = f"?filename={name}" if name else ""
    return api.post(f"{V1}/contracts/{cid}/attachments{q}", data=data, headers={**h, "Content-Type": ctype})


def att_count(db, cid):
    return query(db, "SELECT count(*) AS n FROM contract_attachments WHERE contract_id = %s", cid)[0]["n"]


def test_upload_download_round_trip_and_digest(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    r = upload(api, w.m_seller["h"], c["id"], PDF, "application/pdf", "%E5%90%88%E5%90%8C.pdf")
    assert r.status == 201, r
    assert r.body["filename"] == "合同.pdf" and r.body["size_bytes"] == len(PDF)
    assert r.body["sha256"] == hashlib.sha256(PDF).hexdigest() and r.body["content_type"] == "application/pdf"
    aid = r.body["id"]
    assert query(cdb, "SELECT count(*) AS n FROM audit_log WHERE entity = 'contract' AND entity_id = %s AND action = 'attach'",
                 str(c["id"]))[0]["n"] == 1
    listed = api.get(f"{V1}/contracts/{c['id']}/attachments", headers=w.m_buyer["h"])
    assert listed.status == 200 and [a["id"] for a in listed.body["items"]] == [aid]
    d = api.get(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_buyer["h"])
    assert d.status == 200 and d.content == PDF and d.headers["Content-Type"] == "application/pdf"
    assert d.headers["Repr-Digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(PDF).digest()).decode() + ":"
    assert "%E5%90%88%E5%90%8C.pdf" in d.headers["Content-Disposition"]
    # PNG too
    assert upload(api, w.m_seller["h"], c["id"], PNG, "image/png").status == 201


def test_a_changed_stored_file_is_detected(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    aid = upload(api, w.m_seller["h"], c["id"], PDF, "application/pdf").body["id"]
    query(cdb, "UPDATE contract_attachments SET data = data || '\\x00'::bytea WHERE id = %s", aid)
    body = assert_problem(api.get(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_seller["h"]), 500)
    assert "SHA-256" in body["detail"]


def test_refused_uploads_change_nothing(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    h = w.m_seller["h"]
    assert_problem(upload(api, h, c["id"], b"MZ\x90\x00 not a pdf", "application/pdf"), 415)  # judged by content
    assert_problem(upload(api, h, c["id"], PDF, "image/png"), 415)                           # declared type disagrees
    assert_problem(upload(api, h, c["id"], PDF, "text/plain"), 415)
    assert_problem(upload(api, h, c["id"], b"", "application/pdf"), 400)
    assert_problem(upload(api, h, c["id"], PDF, "application/pdf", "a%2Fb.pdf"), 422)       # a slash in the name
    query(cdb, "UPDATE settings SET value = '16' WHERE key = 'attachment_max_bytes'")
    try:
        assert_problem(upload(api, h, c["id"], PDF, "application/pdf"), 413)
    finally:
        query(cdb, "UPDATE settings SET value = '1048576' WHERE key = 'attachment_max_bytes'")
    # another org's contract is not found; the officer cannot upload; anonymous must sign in
    assert_problem(upload(api, w.m_third["h"], c["id"], PDF, "application/pdf"), 404)
    assert_problem(upload(api, w.officer["h"], c["id"], PDF, "application/pdf"), 403)
    assert_problem(api.post(f"{V1}/contracts/{c['id']}/attachments", data=PDF, headers={"Content-Type": "application/pdf"}), 401)
    assert att_count(cdb, c["id"]) == 0
    # after submission a file can still be added (the officer may ask for the scan), not removed
    aid = upload(api, h, c["id"], PDF, "application/pdf").body["id"]
    submit(api, h, c["id"])
    assert upload(api, h, c["id"], PNG, "image/png").status == 201
    assert_problem(api.delete(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=h), 409)
    assert att_count(cdb, c["id"]) == 2
    # the officer of the office sees and downloads it; another org does not
    assert api.get(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.officer["h"]).content == PDF
    assert_problem(api.get(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_third["h"]), 404)


def test_delete_in_draft(api, cdb, cworld):
    w = cworld
    c = create_contract(api, w.m_seller["h"], contract_body(cdb, w.seller, w.buyer))
    aid = upload(api, w.m_seller["h"], c["id"], PNG, "image/png").body["id"]
    assert_problem(api.delete(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_third["h"]), 404)
    assert api.delete(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_seller["h"]).status == 204
    assert att_count(cdb, c["id"]) == 0
    assert_problem(api.delete(f"{V1}/contracts/{c['id']}/attachments/{aid}", headers=w.m_seller["h"]), 404)


def _scan_audit(db, cid):
    return query(db, "SELECT action, actor_user_id, after FROM audit_log WHERE entity = 'contract' AND entity_id = %s"
                     " AND action IN ('register', 'register_without_scan') ORDER BY id", str(cid))


def test_registering_without_a_scan_needs_the_reason(api, cdb, cworld):
    """The officer sees whether the scan is attached (the queue says how many files); registering without one
    is refused unless the officer gives no_scan_reason, which is kept in the audit log."""
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    q = api.get(f"{V1}/registry/queue", params={"limit": "100"}, headers=w.officer["h"])
    assert next(i for i in q.body["items"] if i["id"] == c["id"])["attachments"] == 0
    before = state(cdb, c["id"])
    for body in ({}, {"no_scan_reason": ""}, {"no_scan_reason": "   "}, {"no_scan_reason": None}, {"note": "予以登记"}):
        b = assert_problem(api.post(f"{V1}/contracts/{c['id']}/register", json=body, headers=w.officer["h"]), 422)
        assert [(e["field"], e["code"]) for e in b["errors"]] == [("no_scan_reason", "required")], b
    b = assert_problem(api.post(f"{V1}/contracts/{c['id']}/register", json={"no_scan_reason": "长" * 501},
                                headers=w.officer["h"]), 422)
    assert [(e["field"], e["code"]) for e in b["errors"]] == [("no_scan_reason", "too_long")], b
    assert_problem(api.post(f"{V1}/contracts/{c['id']}/register", json={"no_scan_reason": 5}, headers=w.officer["h"]), 400)
    assert_unchanged(cdb, c["id"], before)
    assert _scan_audit(cdb, c["id"]) == []
    r = api.post(f"{V1}/contracts/{c['id']}/register", json={"no_scan_reason": "  原件已当面核验，扫描件随后补交  "},
                 headers=w.officer["h"])
    assert r.status == 200 and r.body["status"] == "registered", r
    a = _scan_audit(cdb, c["id"])
    assert [x["action"] for x in a] == ["register", "register_without_scan"]
    assert a[1]["actor_user_id"] == int(w.officer["id"])
    assert a[1]["after"] == {"no_scan_reason": "原件已当面核验，扫描件随后补交", "registration_no": r.body["registration_no"]}


def test_registering_with_a_scan_needs_no_reason(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    assert upload(api, w.m_seller["h"], c["id"], PDF, "application/pdf").status == 201      # after submission
    q = api.get(f"{V1}/registry/queue", params={"limit": "100"}, headers=w.officer["h"])
    assert next(i for i in q.body["items"] if i["id"] == c["id"])["attachments"] == 1
    r = api.post(f"{V1}/contracts/{c['id']}/register", json={}, headers=w.officer["h"])
    assert r.status == 200, r
    assert [x["action"] for x in _scan_audit(cdb, c["id"])] == ["register"]
    # a supplementary file after registration; none once cancelled
    assert upload(api, w.m_seller["h"], c["id"], PNG, "image/png").status == 201
    assert att_count(cdb, c["id"]) == 2


def test_no_files_once_refused(api, cdb, cworld):
    w = cworld
    c = submitted_contract(api, cdb, w.m_seller["h"], w.seller, w.buyer)
    grounds = query(cdb, "SELECT code FROM codes WHERE list = 'refusal_grounds' AND active ORDER BY sort LIMIT 1")
    r = api.post(f"{V1}/contracts/{c['id']}/refuse", json={"ground": grounds[0]["code"]}, headers=w.officer["h"])
    assert r.status == 200, r
    assert_problem(upload(api, w.m_seller["h"], c["id"], PDF, "application/pdf"), 409)
    assert att_count(cdb, c["id"]) == 0
