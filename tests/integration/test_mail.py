"""E-mail of the message-centre events (issue 19 part 7).

Users opt in on their own account (PATCH /me {email_notifications}); notify() queues one mail_outbox row per
opted-in recipient of a mailed kind in the event's transaction; a server with YIZHAN_SMTP_URL sends them through a
real SMTP sink (aiosmtpd, STARTTLS required, a self-signed certificate made here and given to the server as its
CA), retries with backoff while the SMTP server is down, and gives up after YIZHAN_MAIL_MAX_ATTEMPTS.  Without
YIZHAN_SMTP_URL nothing is sent and nothing fails.  The reminder three working days before a 补正 deadline is
queued once per contract and deadline by the periodic sweep, counted on the working-day calendar (across New
Year's Day 2027)."""
import datetime
import email
import email.header
import email.policy
import re
import ssl
import subprocess
import threading

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port
from contract_fixtures import *  # noqa: F401,F403
from helpers import assert_problem, query, wait_until

V1 = "/api/v1"
PUBLIC = "https://yizhan.example.cn"


# --------------------------------------------------------------------------------------
# The SMTP sink
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("smtp-tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class Sink:
    """An SMTP server on 127.0.0.1 that requires STARTTLS and keeps what it receives."""

    def __init__(self, cert, key, port=None):
        self.port = port or free_port()
        self.messages = []
        self.lock = threading.Lock()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))
        self.ctl = Controller(self, hostname="127.0.0.1", port=self.port, tls_context=ctx, require_starttls=True)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "rcpt": list(envelope.rcpt_tos),
                                  "tls": session.ssl is not None, "raw": envelope.original_content or envelope.content})
        return "250 OK"

    def start(self):
        self.ctl.start()
        return self

    def stop(self):
        self.ctl.stop()

    def to(self, addr):
        with self.lock:
            return [m for m in self.messages if addr in m["rcpt"]]


@pytest.fixture
def sink(tls_cert):
    s = Sink(*tls_cert).start()
    yield s
    s.stop()


def smtp_env(port, cert, **more):
    env = {"YIZHAN_SMTP_URL": f"smtp://127.0.0.1:{port}", "YIZHAN_MAIL_FROM": "noreply@yizhan.example.cn",
           "YIZHAN_SMTP_CA_FILE": str(cert), "YIZHAN_PUBLIC_URL": PUBLIC + "/", "YIZHAN_MAIL_RETRY_BASE_S": "1"}
    env.update({k: str(v) for k, v in more.items()})
    return env


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def metric(srv, name):
    import urllib.request
    text = urllib.request.urlopen(srv.url + "/metrics", timeout=5).read().decode()
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------------------
# The people
# --------------------------------------------------------------------------------------

class W:
    pass


@pytest.fixture(scope="module")
def mw(cdb, users, stack):
    w = W()
    w.office = new_office(cdb)
    region = w.office["region_code"]
    w.uni = new_org(cdb, region, org_type="022", name="邮件大学 " + uniq())
    w.buyer = new_org(cdb, region, org_type="150", name="邮件公司 " + uniq())
    w.on = make_actor(users, "member", org=w.uni["id"])        # opts in
    w.off = make_actor(users, "member", org=w.uni["id"])       # does not
    w.b_on = make_actor(users, "member", org=w.buyer["id"])    # opts in
    w.officer = make_actor(users, "officer", office=w.office["id"])
    w.key = keygen(stack, w.office["id"])
    return w


def opt_in(api, person, on=True):
    r = api.patch(f"{V1}/me", json={"email_notifications": on}, headers=person["h"])
    assert r.status == 200, r
    assert r.body["email_notifications"] is on
    return r.body


def outbox(db, user_id, kind=None):
    return query(db, "SELECT * FROM mail_outbox WHERE user_id = %s AND (%s::text IS NULL OR kind = %s) ORDER BY id",
                 user_id, kind, kind)


def returned_contract(api, db, w):
    c = submitted_contract(api, db, w.on["h"], w.uni, w.buyer)
    r = api.post(f"{V1}/contracts/{c['id']}/return", json={"reason": "请补充技术交易额的计算依据"}, headers=w.officer["h"])
    assert r.status == 200, r
    return r.body


# --------------------------------------------------------------------------------------
# The opt-in
# --------------------------------------------------------------------------------------

def test_opt_in_is_off_by_default_and_checked(api, cdb, users):
    p = make_actor(users, "member", org=new_org(cdb, new_office(cdb)["region_code"])["id"])
    me = api.get(f"{V1}/me", headers=p["h"])
    assert me.status == 200 and me.body["email_notifications"] is False
    audits = query(cdb, "SELECT count(*) AS n FROM audit_log WHERE entity = 'user' AND entity_id = %s", str(p["id"]))[0]["n"]
    for bad, status, code in (({"email_notifications": "true"}, 400, "wrong_type"),
                              ({"email_notifications": 1}, 400, "wrong_type"),
                              ({"email_notifications": None}, 400, "wrong_type"),
                              ({"email_notifications": True, "email": "x@y.z"}, 400, "unknown_field"),
                              ({}, 422, "required")):
        r = api.patch(f"{V1}/me", json=bad, headers=p["h"])
        body = assert_problem(r, status)
        assert any(e["code"] == code for e in body["errors"]), body
        assert query(cdb, "SELECT email_notifications AS e FROM users WHERE id = %s", p["id"])[0]["e"] is False
    r = api.patch(f"{V1}/me", data=b"[true]", headers={**p["h"], "Content-Type": "application/json"})
    assert_problem(r, 400)
    assert api.patch(f"{V1}/me", json={"email_notifications": True}).status == 401
    assert opt_in(api, p)["email"] == p["email"]
    assert query(cdb, "SELECT email_notifications AS e FROM users WHERE id = %s", p["id"])[0]["e"] is True
    assert api.get(f"{V1}/me", headers=p["h"]).body["email_notifications"] is True
    rows = query(cdb, "SELECT actor_user_id, action, after FROM audit_log WHERE entity = 'user' AND entity_id = %s ORDER BY id",
                 str(p["id"]))
    assert len(rows) == audits + 1 and rows[-1]["action"] == "email_notifications"
    assert rows[-1]["after"]["email_notifications"] is True
    opt_in(api, p, False)
    assert query(cdb, "SELECT email_notifications AS e FROM users WHERE id = %s", p["id"])[0]["e"] is False


# --------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------

def test_returned_and_registered_mail_reach_the_opted_in_only(api, cdb, mw, sink, tls_cert, spawn):
    opt_in(api, mw.on)
    opt_in(api, mw.b_on)
    opt_in(api, mw.officer)        # the officer acts: never mailed about their own act
    srv = spawn(env=smtp_env(sink.port, tls_cert[0]))
    c = returned_contract(api, cdb, mw)
    due = c["correction_due_on"]
    msgs = wait_until(lambda: sink.to(mw.on["email"]), 15, message="the 补正 e-mail")
    assert len(msgs) == 1
    m = msgs[0]
    assert m["tls"], "sent without STARTTLS"
    assert m["from"] == "noreply@yizhan.example.cn" and m["rcpt"] == [mw.on["email"]]
    raw = m["raw"]
    assert b"=?UTF-8?B?" in raw.split(b"\r\n\r\n")[0], "the subject is not an encoded-word"
    msg = parse(raw)
    subject = str(msg["subject"])
    assert subject.startswith("【驿站】技术合同退回补正：") and c["title"] in subject and due in subject
    assert msg["Message-ID"] and re.match(r"^<yizhan-mail-\d+-\d+@yizhan\.example\.cn>$", msg["Message-ID"])
    assert msg["Date"] and msg["To"].addresses[0].addr_spec == mw.on["email"]
    assert str(msg["From"].addresses[0].display_name) == "驿站"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    body = msg.get_content()
    assert "事项：技术合同退回补正" in body and c["title"] in body
    assert f"补正期限：{due}" in body and "退回原因：请补充技术交易额的计算依据" in body
    assert f"{PUBLIC}/#/contracts/{c['id']}" in body
    # nobody else: not the member who did not opt in, not the officer, not the buyer (not addressed)
    for p in (mw.off, mw.officer, mw.b_on):
        assert not sink.to(p["email"]), p
    assert not outbox(cdb, mw.off["id"]) and not outbox(cdb, mw.officer["id"])
    row = outbox(cdb, mw.on["id"], "contract_returned")[-1]
    wait_until(lambda: query(cdb, "SELECT status FROM mail_outbox WHERE id = %s", row["id"])[0]["status"] == "sent", 5)
    assert wait_until(lambda: (metric(srv, "yizhan_mail_sent_total") or 0) >= 1, 5)
    assert metric(srv, "yizhan_mail_enabled") == 1

    # resubmitted and registered: both parties' opted-in members hear of it
    submit(api, mw.on["h"], c["id"])
    reg = register(api, mw.officer["h"], c["id"])
    for p in (mw.on, mw.b_on):
        got = wait_until(lambda: [x for x in sink.to(p["email"]) if "已登记" in str(parse(x["raw"])["subject"])], 15,
                         message="the registered e-mail")
        b = parse(got[0]["raw"]).get_content()
        assert f"登记编号：{reg['registration_no']}" in b and f"{PUBLIC}/#/contracts/{c['id']}" in b
    assert not [x for x in sink.to(mw.off["email"])]


def test_smtp_down_retries_with_backoff_then_delivers(api, cdb, mw, tls_cert, spawn):
    opt_in(api, mw.on)
    port = free_port()                       # nothing listens here yet
    srv = spawn(env=smtp_env(port, tls_cert[0]))
    c = returned_contract(api, cdb, mw)
    row = wait_until(lambda: [x for x in outbox(cdb, mw.on["id"], "contract_returned") if x["link_path"].endswith(
        f"/{c['id']}") and x["attempts"] >= 2], 20, message="two failed attempts")[0]
    assert row["status"] == "pending" and row["last_error"] and row["sent_at"] is None
    g = query(cdb, "SELECT attempts, extract(epoch FROM next_attempt_at - now()) AS s FROM mail_outbox WHERE id = %s",
              row["id"])[0]
    if g["attempts"] < 4:   # 1 s, 2 s, 4 s (±20 %) after the 1st, 2nd, 3rd attempt: backing off, not hammering
        assert float(g["s"]) <= 1.2 * 2 ** (g["attempts"] - 1) + 0.3
    assert (metric(srv, "yizhan_mail_retries_total") or 0) >= 2
    s = Sink(*tls_cert, port=port).start()
    try:
        got = wait_until(lambda: s.to(mw.on["email"]), 30, message="delivery once the SMTP server is up")
        assert c["title"] in str(parse(got[0]["raw"])["subject"])
        wait_until(lambda: query(cdb, "SELECT status FROM mail_outbox WHERE id = %s", row["id"])[0]["status"] == "sent", 5)
        done = query(cdb, "SELECT status, attempts, sent_at FROM mail_outbox WHERE id = %s", row["id"])[0]
        assert done["attempts"] >= 3 and done["sent_at"] is not None
        assert len(s.to(mw.on["email"])) == 1
    finally:
        s.stop()


def test_gives_up_after_max_attempts(api, cdb, mw, tls_cert, spawn):
    opt_in(api, mw.on)
    srv = spawn(env=smtp_env(free_port(), tls_cert[0], YIZHAN_MAIL_MAX_ATTEMPTS=2))
    c = returned_contract(api, cdb, mw)
    row = wait_until(lambda: [x for x in outbox(cdb, mw.on["id"], "contract_returned")
                              if x["link_path"] == f"/contracts/{c['id']}" and x["status"] == "failed"], 20,
                     message="the e-mail failed")[0]
    assert row["attempts"] == 2 and row["sent_at"] is None
    assert "connect" in row["last_error"].lower(), row["last_error"]
    assert (metric(srv, "yizhan_mail_failed_total") or 0) >= 1


def test_without_smtp_nothing_is_sent_and_nothing_fails(api, cdb, mw, server):
    opt_in(api, mw.on)
    c = returned_contract(api, cdb, mw)
    rows = [x for x in outbox(cdb, mw.on["id"]) if x["link_path"] == f"/contracts/{c['id']}"]
    assert len(rows) == 1
    import time
    time.sleep(2.5)                              # the main server has no YIZHAN_SMTP_URL
    row = query(cdb, "SELECT * FROM mail_outbox WHERE id = %s", rows[0]["id"])[0]
    assert row["status"] == "pending" and row["attempts"] == 0 and row["last_error"] is None
    assert metric(server, "yizhan_mail_enabled") == 0
    assert metric(server, "yizhan_mail_failed_total") == 0 and metric(server, "yizhan_mail_sent_total") == 0
    assert wait_until(lambda: metric(server, "yizhan_mail_queued") is not None, 12)
    # not piled up forever: the sweep drops what waited longer than mail_pending_max_hours
    query(cdb, "UPDATE mail_outbox SET created_at = now() - interval '73 hours' WHERE id = %s", row["id"])
    query(cdb, "SELECT mail_sweep()")
    assert not query(cdb, "SELECT 1 FROM mail_outbox WHERE id = %s", row["id"])


# --------------------------------------------------------------------------------------
# The reminder
# --------------------------------------------------------------------------------------

def test_reminder_three_working_days_before_across_new_year(api, cdb, mw):
    opt_in(api, mw.on)
    opt_in(api, mw.off, False)
    c = returned_contract(api, cdb, mw)
    # due Tuesday 5 January 2027: Monday the 4th, (Friday 1 January is 元旦), Thursday 31 and Wednesday
    # 30 December are the three working days before it
    query(cdb, "UPDATE contracts SET correction_due_on = '2027-01-05' WHERE id = %s", c["id"])
    assert str(query(cdb, "SELECT add_working_days('2027-01-05', -3) AS d")[0]["d"]) == "2026-12-30"

    def reminders():
        return [x for x in outbox(cdb, mw.on["id"], "contract_reminder") if x["link_path"] == f"/contracts/{c['id']}"]
    query(cdb, "SELECT mail_remind('2026-12-29')")
    assert not reminders()
    query(cdb, "SELECT mail_remind('2026-12-30')")
    assert len(reminders()) == 1
    query(cdb, "SELECT mail_remind('2026-12-31')")     # again, and the next day: once per deadline
    query(cdb, "SELECT mail_remind('2026-12-30')")
    r = reminders()
    assert len(r) == 1
    assert r[0]["subject"] == f"【驿站】技术合同补正期限将至：{c['title']}，请于 2027-01-05 前补正后重新提交"
    assert "补正期限：2027-01-05" in r[0]["body"] and "事项：补正期限提醒" in r[0]["body"]
    assert not [x for x in outbox(cdb, mw.off["id"], "contract_reminder")]
    # a new deadline is a new reminder; a deadline passed or a contract resubmitted gets none
    query(cdb, "UPDATE contracts SET correction_due_on = '2027-01-06' WHERE id = %s", c["id"])
    query(cdb, "SELECT mail_remind('2027-01-06')")
    assert len(reminders()) == 2
    query(cdb, "SELECT mail_remind('2027-01-07')")
    assert len(reminders()) == 2


def test_reminder_sent_by_the_periodic_sweep(api, cdb, mw, sink, tls_cert, spawn):
    opt_in(api, mw.on)
    c = returned_contract(api, cdb, mw)
    query(cdb, "UPDATE contracts SET correction_due_on = add_working_days(today_cn(), 3) WHERE id = %s", c["id"])
    due = str(query(cdb, "SELECT correction_due_on AS d FROM contracts WHERE id = %s", c["id"])[0]["d"])
    spawn(env=smtp_env(sink.port, tls_cert[0]))      # its sweep runs at start, then every minute
    got = wait_until(lambda: [x for x in sink.to(mw.on["email"]) if "补正期限将至" in str(parse(x["raw"])["subject"])
                              and c["title"] in str(parse(x["raw"])["subject"])], 20, message="the reminder")
    assert len(got) == 1
    body = parse(got[0]["raw"]).get_content()
    assert f"补正期限：{due}" in body and f"{PUBLIC}/#/contracts/{c['id']}" in body
