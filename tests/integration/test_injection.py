"""Injection sweep generated from api/openapi.yaml.

SQL and script metacharacters, NUL, backslashes, `$1`, 10,000-character strings, RTL / emoji / CJK,
overlong UTF-8 (C0 AF, E0 80 AF), lone surrogates (ED A0 80) and other invalid bytes go into

* every string field of every implemented JSON request body (found in the spec's schemas, nested
  objects, oneOf branches and first array items included), one field at a time, in an otherwise
  valid request made by a caller the operation allows (the objects and bodies of the authorization
  sweep's table, test_authz_sweep.SWEEP);
* every query parameter and every path parameter of every implemented operation.

Rules: never a 5xx; a status the spec lists; invalid UTF-8 (raw bytes in a JSON string, in a
percent-encoded query value or raw in the request target) → 400; a JSON `\\u0000` or lone-surrogate
escape → 400; valid text that is accepted is stored and returned as sent (read back with GET and
compared code point for code point).  Finally the certificate's HTML page escapes stored text.
"""

import json
import socket
import urllib.parse

import pytest

import test_authz_sweep as az
from helpers import assert_problem, parse_responses
from sweep_fixtures import *  # noqa: F401,F403
from sweep_fixtures import V1, fill_path, get_path, set_path, spec_ops, string_fields, uniq

pytestmark = pytest.mark.slow  # make test-fast leaves it out: a generated sweep, ~400 cases of ~25 payloads

# ---------------------------------------------------------------- payloads

VALID = {
    "sql": "'; DROP TABLE orgs; --",
    "sql_or": "x' OR '1'='1' /*",
    "script": "<script>alert(1)</script>",
    "html_attr": "\"><img src=x onerror=alert(1)>",
    "pct00": "%00",
    "backslashes": "C:\\temp\\..\\x \\' \\\" \\\\",
    "dollar": "$1 $$ $tag$ ${x} %s %n {{7*7}}",
    "long_ascii": "A" * 10000,
    "long_cjk": "技" * 10000,
    "rtl": "\u202eexe.gnp \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji": "😀👍🏽👨‍👩‍👧 ✓",
    "cjk": "技术合同认定登记 驿站 𠀀𪚥",
    "combining": "e\u0301 Z\u0351\u0360\u036b",
    "zero_width": "a\u200bb\ufeffc\u00a0d",
    "newline_tab": "line1\nline2\ttab\r\n",
}

# raw bytes spliced into a JSON string / a query value: never valid UTF-8
INVALID_BYTES = {
    "overlong_c0af": b"\xc0\xaf",
    "overlong_e080af": b"\xe0\x80\xaf",
    "lone_surrogate_eda080": b"\xed\xa0\x80",
    "ff_fe": b"\xff\xfe",
    "stray_continuation": b"a\x80b",
    "truncated": b"\xe6\x8a",
    "above_10ffff": b"\xf4\x90\x80\x80",
}

# JSON escapes the server must refuse (400): NUL and a lone surrogate
BAD_ESCAPES = {"json_nul": "a\\u0000b", "json_lone_surrogate": "\\ud800x"}

PLACEHOLDER = "\ue000INJECT\ue000"

# Fields whose value is a credential or is documented as not stored: nothing to read back.
NOT_ECHOED = {
    ("register", "password"), ("login", "email"), ("login", "password"), ("refreshTokens", "refresh_token"),
    ("logout", "refresh_token"), ("changeMyPassword", "current_password"), ("changeMyPassword", "new_password"),
    ("createUser", "password"), ("registerContract", "note"), ("registerContract", "no_scan_reason"),
    ("verifyCertificate", "algorithm"),
    ("verifyCertificate", "key_id"), ("verifyCertificate", "signature"), ("register", "invitation_code"),
}

# Where an accepted write can be read back (GET as admin); besides, the response itself is searched.
def _rb_contract(w, ctx, body):
    return [f"{V1}/contracts/{ctx.get('id') or body.get('id')}"]


READBACK = {
    "register": lambda w, ctx, b: [f"{V1}/users/{b['user']['id']}", f"{V1}/orgs/{b['org']['id']}"],
    "createOrg": lambda w, ctx, b: [f"{V1}/orgs/{b['id']}"],
    "updateOrg": lambda w, ctx, b: [f"{V1}/orgs/{ctx['id']}"],
    "verifyOrg": lambda w, ctx, b: [f"{V1}/orgs/{ctx['id']}"],
    "createUser": lambda w, ctx, b: [f"{V1}/users/{b['id']}"],
    "updateUser": lambda w, ctx, b: [f"{V1}/users/{ctx['id']}"],
    "createOffice": lambda w, ctx, b: [f"{V1}/offices"],
    "updateOffice": lambda w, ctx, b: [f"{V1}/offices"],
    "createContract": _rb_contract, "updateContract": _rb_contract, "returnContract": _rb_contract,
    "refuseContract": _rb_contract, "registerContract": _rb_contract, "amendContract": _rb_contract,
    "cancelContract": _rb_contract,
    "createPayment": lambda w, ctx, b: [f"{V1}/contracts/{ctx['id']}/payments"],
    "putTarget": lambda w, ctx, b: [f"{V1}/targets?year={w.year}&region={w.region}"],
    "putTargetActual": lambda w, ctx, b: [f"{V1}/targets/actuals?year={w.year}&region={w.region}"],
    "createSubsidyPolicy": lambda w, ctx, b: [f"{V1}/subsidy-policies/{b['id']}"],
    "updateSubsidyPolicy": lambda w, ctx, b: [f"{V1}/subsidy-policies/{ctx['id']}"],
    "createSubsidyRun": lambda w, ctx, b: [f"{V1}/subsidy-runs/{b['id']}"],
    "createInstitutionRecognition": lambda w, ctx, b: [f"{V1}/institution-recognitions?org_id={b['org_id']}&limit=100"],
    "withdrawInstitutionRecognition": lambda w, ctx, b: [f"{V1}/institution-recognitions?org_id={b['org_id']}&limit=100"],
    "createBrokerQualification": lambda w, ctx, b: [f"{V1}/broker-qualifications?user_id={b['user_id']}&limit=100"],
    "withdrawBrokerQualification": lambda w, ctx, b: [f"{V1}/broker-qualifications?user_id={b['user_id']}&limit=100"],
    "createResult": lambda w, ctx, b: [f"{V1}/results/{b['id']}"],
    "updateResult": lambda w, ctx, b: [f"{V1}/results/{ctx['id']}"],
    "rejectResult": lambda w, ctx, b: [f"{V1}/results/{ctx['id']}"],
    "createNeed": lambda w, ctx, b: [f"{V1}/needs/{b['id']}"],
    "updateNeed": lambda w, ctx, b: [f"{V1}/needs/{ctx['id']}"],
    "rejectNeed": lambda w, ctx, b: [f"{V1}/needs/{ctx['id']}"],
    "closeNeed": lambda w, ctx, b: [f"{V1}/needs/{ctx['id']}"],
    "createSubscription": lambda w, ctx, b: [(f"{V1}/subscriptions?limit=100", "member_a")],  # the caller's own
    "createInquiry": lambda w, ctx, b: [f"{V1}/inquiries/{b['id']}"],
    "createInquiryMessage": lambda w, ctx, b: [f"{V1}/inquiries/{ctx['id']}"],
    "declineInquiry": lambda w, ctx, b: [f"{V1}/inquiries/{ctx['id']}"],
    "openAuction": lambda w, ctx, b: [f"{V1}/results/{ctx['id']}/auction"],
    "putCode": lambda w, ctx, b: [f"{V1}/codes/{ctx['list']}?include_inactive=true"],
    "putCalendar": lambda w, ctx, b: [f"{V1}/codes/calendar?year={ctx['year']}"],
    "putSetting": lambda w, ctx, b: [f"{V1}/settings"],
    "closeStatsYear": lambda w, ctx, b: [f"{V1}/stats/closes"],
    "reopenStatsYear": lambda w, ctx, b: [f"{V1}/stats/closes"],
}

# Documented normalisations: the stored form of an accepted value.
NORMALIZED = {
    ("createResult", "ip_records.0.number"): lambda v: "".join(v.split()).upper(),
    ("updateResult", "ip_records.0.number"): lambda v: "".join(v.split()).upper(),
}

# Stored but not shown by any implemented GET: read back from the database.
DB_READBACK = {
    ("amendContract", "note"): "SELECT decision_note AS v FROM contract_changes WHERE id = %(change_id)s",
    ("cancelContract", "note"): "SELECT decision_note AS v FROM contract_changes WHERE id = %(change_id)s",
    # no operation lists objections
    ("createObjection", "name"): "SELECT name AS v FROM objections WHERE notice_id = %(id)s ORDER BY id DESC LIMIT 1",
    ("createObjection", "contact"): "SELECT contact AS v FROM objections WHERE notice_id = %(id)s ORDER BY id DESC LIMIT 1",
    ("createObjection", "body"): "SELECT body AS v FROM objections WHERE notice_id = %(id)s ORDER BY id DESC LIMIT 1",
    ("decideObjection", "note"): "SELECT decision_note AS v FROM objections WHERE id = %(oid)s",
}

PREFERRED = ["member_a", "admin", "officer_a", "bureau_a", "reviewer", "broker_a", "member_b"]
DECISION_FIELDS = {"change_id", "decision", "note"}


# Objects of the injection sweep that differ from the authorization sweep's: org A must stay verified
# (an admin sending `name` sets an organisation back to pending), so updateOrg works on a fresh org.
INJ_SETUP = {
    "updateOrg": lambda w, c: {"id": w.pending_org()["id"]},
}


def injection_caller(op_id, so, field):
    entry = az.SWEEP.get(op_id)
    if op_id == "changeMyPassword":
        return "pw_user"
    if op_id in ("amendContract", "cancelContract"):
        return "officer_a" if field in DECISION_FIELDS else "member_a"
    if op_id == "updateOrg":
        return "admin"  # a member may not send name, org_type, credit_code, region_code (403)
    if so.public:
        return "anon"
    for c in PREFERRED:
        if 200 <= az.expected(entry, so, c) < 300:
            return c
    raise AssertionError(f"{op_id}: no caller of the table succeeds")


def contains(doc, value):
    if isinstance(doc, str):
        return doc == value
    if isinstance(doc, dict):
        return any(contains(v, value) for v in doc.values())
    if isinstance(doc, list):
        return any(contains(v, value) for v in doc)
    return False


BODY_OPS = [o for o in spec_ops("implemented") if o.body_schema is not None]
FIELD_CASES = [(o.op_id, f) for o in BODY_OPS for f, _ in string_fields(o.body_schema)]


def test_every_body_operation_is_in_the_sweep_table():
    assert BODY_OPS, "no implemented operation with a JSON body found in the spec"
    missing = sorted({o.op_id for o in BODY_OPS} - set(az.SWEEP))
    assert not missing, f"implemented operations with a JSON body that the sweep table lacks: {missing}"
    assert FIELD_CASES, "no string field found in any request body schema"


class Sender:
    def __init__(self, api, w, op_id):
        self.api = api
        self.w = w
        self.op_id = op_id
        self.so = az.SPEC_OPS[op_id]
        if op_id not in az.SWEEP:
            pytest.fail(f"{self.so.method} {self.so.path} ({op_id}) is implemented but not in the sweep table "
                        f"(test_authz_sweep.SWEEP): add it there", pytrace=False)
        self.entry = az.SWEEP[op_id]

    def prepare(self, caller):
        ctx = INJ_SETUP.get(self.op_id, self.entry.setup)(self.w, caller) or {}
        if self.op_id == "changeMyPassword":
            # the real current password: a success (204) changes it, so keep track
            base = {"current_password": self.w.user("pw_user")["password"], "new_password": "Pw-" + uniq()}
            return ctx, base, self.so.path
        if self.op_id == "createSubscription":
            self.w.clear_subscriptions(caller)
        base = self.entry.body(self.w, caller, ctx) if self.entry.body else {}
        path = fill_path(self.so.path, ctx)
        if self.entry.query:
            path += "?" + self.entry.query(self.w, caller, ctx)
        return ctx, json.loads(json.dumps(base)), path

    def send(self, caller, path, data):
        self.w.clear_limits()
        headers = {**self.w.h(caller), "Content-Type": "application/json"}
        return self.api.request(self.so.method, path, data=data, headers=headers)


@pytest.mark.parametrize("op_id,field", FIELD_CASES, ids=[f"{o}-{f}" for o, f in FIELD_CASES])
def test_string_field(api, sworld, op_id, field):
    s = Sender(api, sworld, op_id)
    caller = injection_caller(op_id, s.so, field)
    problems = []

    def check_common(name, r, where):
        if r.status >= 500:
            problems.append(f"{name}: server error {r.status} {r.content[:200]!r}")
            return False
        if str(r.status) not in s.so.responses:
            problems.append(f"{name}: status {r.status} not among the spec's {sorted(s.so.responses)}")
        if r.status >= 400:
            try:
                assert_problem(r, r.status)
            except AssertionError as e:
                problems.append(f"{name}: {e}")
        return True

    # valid text: anything but a 5xx; when accepted, stored and returned as sent
    for name, value in VALID.items():
        ctx, body, path = s.prepare(caller)
        set_path(body, field, value)
        r = s.send(caller, path, json.dumps(body, ensure_ascii=False).encode())
        if op_id == "changeMyPassword" and r.status == 204:
            sworld.password_changed("pw_user", body["new_password"])
        if not check_common(name, r, path):
            continue
        if 200 <= r.status < 300 and (op_id, field) in DB_READBACK:
            with sworld.db.cursor() as cur:
                cur.execute(DB_READBACK[(op_id, field)], ctx)
                row = cur.fetchone()
            if not row or row[0] != value:
                problems.append(f"{name}: accepted ({r.status}) but stored as {str(row)[:120]!r}")
        elif 200 <= r.status < 300 and (op_id, field) not in NOT_ECHOED and op_id in READBACK:
            rb = r.body if isinstance(r.body, dict) else {}
            docs = []
            for url in READBACK[op_id](sworld, ctx, rb):
                url, reader = url if isinstance(url, tuple) else (url, "admin")
                g = api.get(url, headers=sworld.h(reader))
                if g.status != 200:
                    problems.append(f"{name}: read-back GET {url} gave {g.status}")
                docs.append(g.body)
            want = NORMALIZED.get((op_id, field), lambda v: v)(value)
            if not any(contains(d, want) for d in docs):
                found = [get_path(d, field) for d in docs if isinstance(d, dict)]
                problems.append(f"{name}: accepted ({r.status}) but not read back as sent "
                                f"(sent {value[:60]!r}…, at {field!r} found {str(found)[:200]})")
        elif 200 <= r.status < 300 and (op_id, field) not in NOT_ECHOED and op_id not in READBACK:
            problems.append(f"{name}: accepted ({r.status}) but the test has no way to read {op_id} back "
                            f"(add it to READBACK or NOT_ECHOED)")

    # invalid UTF-8 bytes inside the JSON string: 400
    for name, raw in INVALID_BYTES.items():
        ctx, body, path = s.prepare(caller)
        set_path(body, field, PLACEHOLDER)
        data = json.dumps(body, ensure_ascii=False).encode().replace(PLACEHOLDER.encode(), b"x" + raw + b"y")
        r = s.send(caller, path, data)
        if check_common(name, r, path) and r.status != 400:
            problems.append(f"{name}: invalid UTF-8 in {field} gave {r.status}, expected 400: {r.content[:200]!r}")

    # JSON escapes for NUL and a lone surrogate: 400
    for name, esc in BAD_ESCAPES.items():
        ctx, body, path = s.prepare(caller)
        set_path(body, field, PLACEHOLDER)
        data = json.dumps(body, ensure_ascii=False).replace(json.dumps(PLACEHOLDER, ensure_ascii=False),
                                                             '"' + esc + '"').encode()
        r = s.send(caller, path, data)
        if check_common(name, r, path) and r.status != 400:
            problems.append(f"{name}: {esc!r} in {field} gave {r.status}, expected 400: {r.content[:200]!r}")

    assert not problems, f"{s.so.method} {s.so.path} field {field!r} as {caller}:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- query and path parameters

QUERY_CASES = [(o.op_id, p["name"]) for o in spec_ops("implemented") for p in o.query_params]
PATH_CASES = [(o.op_id, p["name"]) for o in spec_ops("implemented") for p in o.path_params]


def _query_for(s, caller, name, encoded):
    ctx = s.entry.setup(s.w, caller) or {}
    path = fill_path(s.so.path, ctx)
    pairs = []
    if s.entry.query:
        pairs = [kv for kv in s.entry.query(s.w, caller, ctx).split("&") if kv and kv.split("=")[0] != name]
    pairs.append(f"{name}={encoded}")
    return path + "?" + "&".join(pairs), ctx


def _raw_request(port, method, target_bytes, headers):
    req = method.encode() + b" " + target_bytes + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for k, v in headers.items():
        req += f"{k}: {v}\r\n".encode()
    req += b"Content-Length: 0\r\n\r\n" if method in ("POST", "PUT", "PATCH") else b"\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    buf = b""
    try:
        s.sendall(req)
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    rs = parse_responses(buf, eof=True)
    return rs[0] if rs else None


def _caller_for_params(op_id, so):
    if so.public:
        return "anon"
    for c in PREFERRED:
        if 200 <= az.expected(az.SWEEP[op_id], so, c) < 300:
            return c
    return "admin"


@pytest.mark.parametrize("op_id,name", QUERY_CASES, ids=[f"{o}-{n}" for o, n in QUERY_CASES])
def test_query_parameter(api, server, sworld, op_id, name):
    s = Sender(api, sworld, op_id)
    if op_id not in az.SWEEP:
        pytest.fail(f"{op_id} is not in the sweep table")
    caller = _caller_for_params(op_id, s.so)
    problems = []
    for pname, value in VALID.items():
        enc = urllib.parse.quote(value.encode("utf-8"), safe="")
        url, _ = _query_for(s, caller, name, enc)
        r = api.request(s.so.method, url, headers=sworld.h(caller),
                        **({"data": s.entry.raw(sworld, caller, {})[0]} if s.entry.raw else {}))
        if r.status >= 500:
            problems.append(f"{pname}: {r.status} {r.content[:200]!r}")
        elif r.status in (414, 431) and len(url) > 16000:
            pass  # the request line is over YIZHAN_MAX_HEADER_BYTES: refused before routing
        elif str(r.status) not in s.so.responses:
            problems.append(f"{pname}: status {r.status} not among the spec's {sorted(s.so.responses)}")
    for pname, raw in list(INVALID_BYTES.items()) + [("pct00", b"\x00")]:
        enc = "".join(f"%{b:02X}" for b in raw)
        url, _ = _query_for(s, caller, name, enc)
        r = api.request(s.so.method, url, headers=sworld.h(caller))
        if r.status != 400:
            problems.append(f"{pname} percent-encoded ({enc}): expected 400, got {r.status} {r.content[:160]!r}")
        else:
            assert_problem(r, 400)
    # the same bytes raw in the request target (not percent-encoded)
    for pname, raw in INVALID_BYTES.items():
        url, _ = _query_for(s, caller, name, "")
        r = _raw_request(server.port, s.so.method, url.encode() + raw, sworld.h(caller))
        if r is None or r.status != 400:
            problems.append(f"{pname} raw in the request target: expected 400, got "
                            f"{r.status if r else 'no response'}")
    assert not problems, f"{s.so.method} {s.so.path} ?{name}= as {caller}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("op_id,name", PATH_CASES, ids=[f"{o}-{n}" for o, n in PATH_CASES])
def test_path_parameter(api, sworld, op_id, name):
    s = Sender(api, sworld, op_id)
    caller = _caller_for_params(op_id, s.so)
    problems = []
    values = dict(VALID)
    values.update({"dotdot": "../../etc/passwd", "neg": "-1", "huge": "99999999999999999999999",
                   "float": "1.5", "zero": "0", "hex": "0x10", "space": " 1"})
    for pname, value in values.items():
        ctx = s.entry.setup(sworld, caller) or {}
        ctx = dict(ctx)
        ctx[name] = urllib.parse.quote(value.encode("utf-8"), safe="")
        url = fill_path(s.so.path, ctx)
        kw = {}
        if s.entry.raw:
            kw["data"], ct = s.entry.raw(sworld, caller, ctx)
            kw["headers"] = {**sworld.h(caller), "Content-Type": ct}
        else:
            kw["headers"] = sworld.h(caller)
            if s.entry.body:
                kw["json"] = s.entry.body(sworld, caller, ctx)
        sworld.clear_limits()
        r = api.request(s.so.method, url, **kw)
        if r.status >= 500:
            problems.append(f"{pname}: {r.status} {r.content[:200]!r}")
        elif r.status in (414, 431) and len(url) > 16000:
            pass  # the request line is over YIZHAN_MAX_HEADER_BYTES: refused before routing
        elif r.status not in (400, 404, 422):
            problems.append(f"{pname}: a malformed {name} gave {r.status}, expected 404 (or 400)")
    for pname, raw in INVALID_BYTES.items():
        ctx = dict(s.entry.setup(sworld, caller) or {})
        ctx[name] = "".join(f"%{b:02X}" for b in raw)
        r = api.request(s.so.method, fill_path(s.so.path, ctx), headers=sworld.h(caller))
        if r.status not in (400, 404):
            problems.append(f"{pname}: invalid UTF-8 in {name} gave {r.status}, expected 400 or 404")
    assert not problems, f"{s.so.method} {s.so.path} {{{name}}} as {caller}:\n  " + "\n  ".join(problems)


# ---------------------------------------------------------------- the certificate page escapes stored text

HOSTILE = {
    "title": "<script>alert('title')</script>",
    "buyer_name": "\"><img src=x onerror=alert('buyer')>",
    "script_close": "</script><script>alert('close')</script>",
}


def test_certificate_html_escapes_stored_text(api, sworld):
    w = sworld
    body = w.contract_body(title=HOSTILE["title"] + " " + HOSTILE["script_close"])
    body["buyer"] = {"name": HOSTILE["buyer_name"], "org_type": "150", "region_code": w.region}
    c = w.contract("registered", body=body)
    got = api.get(f"{V1}/contracts/{c['id']}", headers=w.h("admin")).body
    assert got["title"] == body["title"], got["title"]
    assert get_path(got, "buyer.name") == HOSTILE["buyer_name"], got.get("buyer")
    r = w.certificate_page(c["id"])
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers
    html = r.content.decode("utf-8")
    for needle in ("<script>alert", "<img src=x", "</script><script>"):
        assert needle not in html, f"the certificate page carries {needle!r} unescaped:\n" + \
            html[max(0, html.find(needle) - 200):html.find(needle) + 200]
    assert "&lt;script&gt;alert(" in html, "the title is not shown escaped (&lt;script&gt;)"
    assert "&lt;img src=x onerror=alert(" in html or "&lt;img src=x onerror=alert(&#39;" in html \
        or "&lt;img" in html, "the buyer's name is not shown escaped"
    csp = r.headers.get("Content-Security-Policy", "")
    assert "script-src" in csp or "default-src" in csp, f"no restrictive Content-Security-Policy: {csp!r}"
