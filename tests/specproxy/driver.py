#!/usr/bin/python3
"""Representative calls through a validating OpenAPI proxy (Prism), see run.sh.

    driver.py http://127.0.0.1:<prism port>

Every operation marked `x-status: implemented` in api/openapi.yaml is called at least once on its
success path and, where it has them, with its main errors (no token → 401, a role not allowed → 403,
an unknown id → 404, a bad body → 400 / 422).  Prism validates each request and response against the
spec and reports what differs in the `sl-violations` header (or, with --errors, answers 422 / 500).
The driver prints every violation by operation and exits 1 if there is any, if a call got another
status than the one the driver expected, or if an implemented operation is not covered here.

Setup goes through the API as well (an admin made with `yizhan user create`, signing keys with
`yizhan keygen`); the environment (YIZHAN_*) is the one run.sh exported for the server.
"""

import datetime
import json
import os
import random
import secrets
import struct
import subprocess
import sys
import time
import uuid
import zlib
from urllib.parse import quote
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:4010"
BIN = os.environ.get("SPECPROXY_BIN", str(REPO / "build" / "yizhan"))
V1 = "/api/v1"
SPEC = yaml.safe_load((REPO / "api" / "openapi.yaml").read_text(encoding="utf-8"))

S = requests.Session()
S.trust_env = False

RECORDS = []          # (op_id, method, path, status, expected, violations, bad_request)
COVERED = set()


def uniq(p="t"):
    return f"{p}-{uuid.uuid4().hex[:10]}"


def pw():
    return "Pw-" + secrets.token_urlsafe(12)


ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(region):
    s = random.choice("123456789ABCDEFGY") + random.choice(ALPHABET) + region + \
        "".join(random.choice(ALPHABET) for _ in range(9))
    return s + ALPHABET[(31 - sum(ALPHABET.index(c) * w for c, w in zip(s, WEIGHTS)) % 31) % 31]


def prism_made(r):
    """Prism's own answer (with --errors): the server never saw the request, or its response broke the spec."""
    try:
        t = r.json().get("type", "") if r.headers.get("Content-Type", "").endswith("json") else ""
    except ValueError:
        return False
    return isinstance(t, str) and t.startswith("https://stoplight.io/prism/errors#")


def violations_of(r):
    v = r.headers.get("sl-violations")
    out = []
    if v:
        try:
            out = json.loads(v)
        except ValueError:
            out = [{"message": v}]
    elif prism_made(r):
        body = r.json()
        out = body.get("validation") or [{"location": ["prism"], "message": body.get("detail", r.text[:300])}]
        if "UNPROCESSABLE_ENTITY" in body.get("type", "") or "UNAUTHORIZED" in body.get("type", ""):
            for x in out:   # a request Prism refused itself
                x.setdefault("location", ["request"])
                if x["location"] and x["location"][0] != "request":
                    x["location"] = ["request", *x["location"]]
    return out


def call(op_id, method, path, expect, json_body=None, headers=None, data=None, bad_request=False, auth=None):
    """One request through Prism.  `bad_request`: the request itself breaks the spec on purpose
    (no token, a malformed body); Prism's request-side violations are then expected and ignored."""
    COVERED.add(op_id)
    h = dict(headers or {})
    if auth:
        h["Authorization"] = f"Bearer {auth}"
    kw = {}
    if json_body is not None:
        kw["json"] = json_body
    if data is not None:
        kw["data"] = data
    r = S.request(method, BASE + path, headers=h, timeout=30, **kw)
    v = violations_of(r)
    if bad_request and prism_made(r) and all(str(x.get("location", ["request"])[0]) == "request" for x in v):
        expect = None   # with --errors Prism answers a bad request itself; the server never sees it
    RECORDS.append((op_id, method, path, r.status_code, expect, v, bad_request, r.text[:300]))
    return r


def cli(*args):
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                       timeout=120)
    if p.returncode != 0:
        sys.exit(f"driver: `yizhan {' '.join(args)}` failed: {p.stderr}")
    return p.stdout


def login(email, password):
    r = call("login", "POST", f"{V1}/auth/login", 200, {"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def today_cn():
    return (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).date()


# --------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------

class W:
    pass


def setup():
    w = W()
    w.admin_email, w.admin_pw = f"admin-{uuid.uuid4().hex[:8]}@example.test", pw()
    pwfile = Path(os.environ.get("SPECPROXY_WORK", "/tmp")) / f"pw-{uuid.uuid4().hex[:8]}"
    pwfile.write_text(w.admin_pw)
    pwfile.chmod(0o600)
    cli("user", "create", "--email", w.admin_email, "--password-file", str(pwfile), "--role", "admin")
    pwfile.unlink()
    w.admin = login(w.admin_email, w.admin_pw)["access_token"]
    counties = call("listRegions", "GET", f"{V1}/codes/regions?parent=511900", 200).json()["items"]
    w.region = counties[0]["code"]
    w.region2 = counties[1]["code"]
    r = call("createOffice", "POST", f"{V1}/offices", 201, {"name": "登记处 " + uniq(), "region_code": w.region},
             auth=w.admin)
    w.office = r.json()
    cli("keygen", "--office", str(w.office["id"]))
    w.orgs = {}
    for k, t in (("a", "022"), ("b", "150"), ("c", "150")):
        r = call("createOrg", "POST", f"{V1}/orgs", 201, {"name": f"单位{k} " + uniq(), "org_type": t,
                                                           "credit_code": credit_code(w.region),
                                                           "region_code": w.region}, auth=w.admin)
        w.orgs[k] = r.json()
        call("verifyOrg", "POST", f"{V1}/orgs/{r.json()['id']}/verify", 200, {"decision": "verified"}, auth=w.admin)
    w.users = {}
    for name, role, extra in (("member_a", "member", {"org_id": w.orgs["a"]["id"]}),
                              ("member_b", "member", {"org_id": w.orgs["b"]["id"]}),
                              ("broker", "broker", {"org_id": w.orgs["a"]["id"]}),
                              ("reviewer", "reviewer", {}), ("officer", "officer", {"office_id": w.office["id"]}),
                              ("bureau", "bureau", {"region_code": "511900"})):
        e, p = f"{name}-{uuid.uuid4().hex[:8]}@example.test", pw()
        r = call("createUser", "POST", f"{V1}/users", 201, {"email": e, "password": p, "role": role,
                                                              "display_name": name, **extra}, auth=w.admin)
        w.users[name] = {"id": r.json()["id"], "email": e, "password": p}
        w.users[name]["token"] = login(e, p)["access_token"]
    w.t = {k: v["token"] for k, v in w.users.items()}
    w.t["admin"] = w.admin
    w.year = today_cn().year
    return w


def contract_body(w, **over):
    t = today_cn()
    amount = 10_000_000 + random.randrange(1, 9999) * 100
    b = {"title": "技术合同 " + uniq(), "contract_type": "development", "contract_subtype": "commissioned_development",
         "seller": {"org_id": w.orgs["a"]["id"]}, "buyer": {"org_id": w.orgs["c"]["id"]},
         "signed_on": (t - datetime.timedelta(days=10)).isoformat(),
         "effective_on": (t - datetime.timedelta(days=5)).isoformat(),
         "end_on": (t + datetime.timedelta(days=365)).isoformat(),
         "contract_amount_fen": amount, "technical_amount_fen": amount - 1_500_000,
         "non_technical_items": [{"item": "设备", "amount_fen": 1_500_000}],
         "payment_schedule": [{"due_on": (t + datetime.timedelta(days=30)).isoformat(), "amount_fen": amount // 2,
                               "note": "首期"}],
         "domain": "agriculture", "ip_type": "patent", "plan_source": "unplanned"}
    b.update(over)
    return b


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def png(side):
    """A side×side red PNG (a stand-in for an office's seal)."""
    raw = b"".join(b"\x00" + b"\xc8\x1e\x1e\xff" * side for _ in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def contract(w, state="draft", attachment=False):
    r = call("createContract", "POST", f"{V1}/contracts", 201, contract_body(w), auth=w.t["member_a"])
    c = r.json()
    if attachment:
        r = call("createAttachment", "POST", f"{V1}/contracts/{c['id']}/attachments?filename=scan.pdf", 201,
                 data=PDF, headers={"Content-Type": "application/pdf"}, auth=w.t["member_a"])
        c["aid"] = r.json()["id"]
    if state in ("submitted", "registered"):
        call("submitContract", "POST", f"{V1}/contracts/{c['id']}/submit", 200, auth=w.t["member_a"])
    if state == "registered":
        r = call("registerContract", "POST", f"{V1}/contracts/{c['id']}/register", 200,
                 {} if attachment else {"no_scan_reason": "驱动测试：未附扫描件"}, auth=w.t["officer"])
        c["registration_no"] = r.json()["registration_no"]
    return c


# --------------------------------------------------------------------------------------
# The calls, by area
# --------------------------------------------------------------------------------------

def ops_and_codes(w):
    call("getLivez", "GET", "/livez", 200)
    call("getReadyz", "GET", "/readyz", 200)
    call("getMetrics", "GET", "/metrics", 200)
    call("getOpenapiDocument", "GET", "/api/openapi.yaml", 200)
    call("getDocs", "GET", "/docs", 200)
    call("getDocsAsset", "GET", "/docs/docs.js", 200)
    call("getDocsAsset", "GET", "/docs/nothing-here.js", 404)
    call("getCodeList", "GET", f"{V1}/codes/domains", 200)
    call("getCodeList", "GET", f"{V1}/codes/no_such_list", 404, bad_request=True)
    call("listRegions", "GET", f"{V1}/codes/regions", 200)
    call("listRegions", "GET", f"{V1}/codes/regions?parent=12", 400, bad_request=True)
    call("getRegion", "GET", f"{V1}/codes/regions/511900", 200)
    call("getRegion", "GET", f"{V1}/codes/regions/999999", 404)
    call("getCalendar", "GET", f"{V1}/codes/calendar?year=2025", 200)
    call("getCalendar", "GET", f"{V1}/codes/calendar?year=abc", 400, bad_request=True)
    # editable reference data (admin): a code list, the calendar of a year nobody uses, a setting
    call("listCodeLists", "GET", f"{V1}/codes", 200)
    call("getCodeList", "GET", f"{V1}/codes/return_reasons?include_inactive=true", 200)
    code = "spec_" + uuid.uuid4().hex[:8]
    call("putCode", "PUT", f"{V1}/codes/return_reasons/{code}", 200, {"label": "规范检查", "source": "规范检查"},
         auth=w.admin)
    call("putCode", "PUT", f"{V1}/codes/return_reasons/{code}", 200, {"label": "规范检查", "active": False,
                                                                     "source": "规范检查"}, auth=w.admin)
    call("putCode", "PUT", f"{V1}/codes/return_reasons/{code}", 422, {"label": ""}, auth=w.admin, bad_request=True)
    call("putCode", "PUT", f"{V1}/codes/return_reasons/{code}", 403, {"label": "x", "source": "x"},
         auth=w.t["officer"], bad_request=True)
    call("putCode", "PUT", f"{V1}/codes/no_such_list/{code}", 404, {"label": "x", "source": "x"}, auth=w.admin,
         bad_request=True)
    cal = {"status": "provisional", "source": "规范检查", "days": [{"day": "2099-01-01", "kind": "holiday", "name": "元旦"}]}
    call("putCalendar", "PUT", f"{V1}/calendar/2099", 200, cal, auth=w.admin)
    call("putCalendar", "PUT", f"{V1}/calendar/2099", 412, cal, auth=w.admin, headers={"If-Match": '"99"'},
         bad_request=True)
    call("putCalendar", "PUT", f"{V1}/calendar/2099", 422, {**cal, "status": "final"}, auth=w.admin, bad_request=True)
    call("putCalendar", "PUT", f"{V1}/calendar/2099", 401, cal, bad_request=True)
    settings = call("listSettings", "GET", f"{V1}/settings", 200, auth=w.admin).json()["items"]
    call("listSettings", "GET", f"{V1}/settings", 403, auth=w.t["bureau"], bad_request=True)
    days = next(x for x in settings if x["key"] == "invitation_days")
    call("putSetting", "PUT", f"{V1}/settings/invitation_days", 200, {"value": days["value"], "source": "规范检查"},
         auth=w.admin)
    call("putSetting", "PUT", f"{V1}/settings/invitation_days", 422, {"value": "14", "source": "规范检查"},
         auth=w.admin, bad_request=True)
    call("putSetting", "PUT", f"{V1}/settings/no_such_key", 404, {"value": 1, "source": "x"}, auth=w.admin,
         bad_request=True)


def auth_and_me(w):
    e, p = f"reg-{uuid.uuid4().hex[:8]}@example.test", pw()
    call("register", "POST", f"{V1}/auth/register", 201,
         {"email": e, "password": p, "display_name": "注册者",
          "org": {"name": "自注册单位 " + uniq(), "org_type": "150", "credit_code": credit_code(w.region),
                  "region_code": w.region}})
    call("register", "POST", f"{V1}/auth/register", 409,
         {"email": e, "password": p, "display_name": "注册者",
          "org": {"name": "自注册单位 " + uniq(), "org_type": "150", "credit_code": credit_code(w.region),
                  "region_code": w.region}})
    call("register", "POST", f"{V1}/auth/register", 422, {"email": "x@example.test", "password": p,
                                                           "display_name": "x"}, bad_request=True)
    call("register", "POST", f"{V1}/auth/register", 400, {"email": e, "password": p, "display_name": "x",
                                                           "role": "admin"}, bad_request=True)
    tok = login(e, p)
    call("login", "POST", f"{V1}/auth/login", 401, {"email": e, "password": "wrong-password"})
    call("login", "POST", f"{V1}/auth/login", 422, {"email": e}, bad_request=True)
    r = call("refreshTokens", "POST", f"{V1}/auth/refresh", 200, {"refresh_token": tok["refresh_token"]})
    call("refreshTokens", "POST", f"{V1}/auth/refresh", 401, {"refresh_token": tok["refresh_token"]})
    call("logout", "POST", f"{V1}/auth/logout", 204, {"refresh_token": r.json()["refresh_token"]})
    # the web front end's form: the refresh token in the HttpOnly cookie yz_refresh
    r = call("login", "POST", f"{V1}/auth/login", 200, {"email": e, "password": p, "session": "cookie"})
    rt = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    r = call("refreshTokens", "POST", f"{V1}/auth/refresh", 200, {}, headers={"Cookie": f"yz_refresh={rt}"})
    rt2 = r.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    call("refreshTokens", "POST", f"{V1}/auth/refresh", 401, {}, headers={"Cookie": f"yz_refresh={rt}"})
    call("refreshTokens", "POST", f"{V1}/auth/refresh", 401, {})
    call("logout", "POST", f"{V1}/auth/logout", 204, {}, headers={"Cookie": f"yz_refresh={rt2}"})
    call("logout", "POST", f"{V1}/auth/logout", 401, {})
    call("logout", "POST", f"{V1}/auth/logout", 415, data=b"x", headers={"Content-Type": "text/plain"},
         bad_request=True)
    for who in ("member_a", "officer", "admin"):
        call("getMe", "GET", f"{V1}/me", 200, auth=w.t[who])
    call("getMe", "GET", f"{V1}/me", 401, bad_request=True)
    call("getMe", "GET", f"{V1}/me", 401, auth="not-a-token")
    call("updateMe", "PATCH", f"{V1}/me", 200, {"email_notifications": True}, auth=w.t["member_a"])
    call("updateMe", "PATCH", f"{V1}/me", 200, {"email_notifications": False}, auth=w.t["member_a"])
    call("updateMe", "PATCH", f"{V1}/me", 400, {"email_notifications": "yes"}, auth=w.t["member_a"], bad_request=True)
    call("updateMe", "PATCH", f"{V1}/me", 422, {}, auth=w.t["member_a"], bad_request=True)
    call("changeMyPassword", "POST", f"{V1}/me/password", 422,
         {"current_password": "wrong-password", "new_password": pw()}, auth=w.t["reviewer"])
    call("changeMyPassword", "POST", f"{V1}/me/password", 204,
         {"current_password": p, "new_password": pw()}, auth=tok["access_token"])


def accounts(w):
    a = w.orgs["a"]["id"]
    call("listOrgs", "GET", f"{V1}/orgs", 200, auth=w.t["admin"])
    call("listOrgs", "GET", f"{V1}/orgs?status=pending&limit=5", 200, auth=w.t["reviewer"])
    call("listOrgs", "GET", f"{V1}/orgs?limit=0", 400, auth=w.t["admin"], bad_request=True)
    call("listOrgs", "GET", f"{V1}/orgs", 401, bad_request=True)
    call("listOrgDirectory", "GET", f"{V1}/orgs/directory?q=" + quote("巴中"), 200, auth=w.t["member_a"])
    call("listOrgDirectory", "GET", f"{V1}/orgs/directory?q=x", 400, auth=w.t["member_a"], bad_request=True)
    call("listOrgDirectory", "GET", f"{V1}/orgs/directory?q=" + quote("巴中"), 401, bad_request=True)
    call("createOrg", "POST", f"{V1}/orgs", 403, {"name": "x", "org_type": "150", "region_code": w.region,
                                                   "credit_code": credit_code(w.region)}, auth=w.t["member_a"])
    call("createOrg", "POST", f"{V1}/orgs", 422, {"name": "x", "org_type": "150", "region_code": w.region,
                                                   "credit_code": "123"}, auth=w.t["admin"], bad_request=True)
    call("createOrg", "POST", f"{V1}/orgs", 409, {"name": "重复", "org_type": "150", "region_code": w.region,
                                                   "credit_code": w.orgs["b"]["credit_code"]}, auth=w.t["admin"])
    r = call("getOrg", "GET", f"{V1}/orgs/{a}", 200, auth=w.t["member_a"])
    etag = r.headers.get("ETag")
    call("getOrg", "GET", f"{V1}/orgs/{a}", 404, auth=w.t["member_b"])
    call("getOrg", "GET", f"{V1}/orgs/999999999", 404, auth=w.t["admin"])
    call("updateOrg", "PATCH", f"{V1}/orgs/{a}", 200, {"contact_name": "联系人"}, auth=w.t["member_a"],
         headers={"If-Match": etag} if etag else None)
    call("updateOrg", "PATCH", f"{V1}/orgs/{a}", 412, {"contact_name": "联系人2"}, auth=w.t["member_a"],
         headers={"If-Match": '"1"'})
    call("updateOrg", "PATCH", f"{V1}/orgs/{a}", 403, {"name": "改名"}, auth=w.t["member_a"])
    call("updateOrg", "PATCH", f"{V1}/orgs/{a}", 404, {"contact_name": "x"}, auth=w.t["member_b"])
    r = call("createOrg", "POST", f"{V1}/orgs", 201, {"name": "待核验 " + uniq(), "org_type": "150",
                                                       "region_code": w.region, "credit_code": credit_code(w.region)},
             auth=w.t["admin"])
    pend = r.json()["id"]
    call("verifyOrg", "POST", f"{V1}/orgs/{pend}/verify", 422, {"decision": "rejected"}, auth=w.t["reviewer"])
    call("verifyOrg", "POST", f"{V1}/orgs/{pend}/verify", 200, {"decision": "rejected", "note": "材料不全"},
         auth=w.t["reviewer"])
    call("verifyOrg", "POST", f"{V1}/orgs/{pend}/verify", 403, {"decision": "verified"}, auth=w.t["member_a"])
    call("createInvitation", "POST", f"{V1}/orgs/{a}/invitations", 201, {"role": "broker", "max_uses": 2},
         auth=w.t["member_a"])
    call("createInvitation", "POST", f"{V1}/orgs/{a}/invitations", 201, auth=w.t["admin"])
    call("createInvitation", "POST", f"{V1}/orgs/{a}/invitations", 422, {"max_uses": 1000}, auth=w.t["admin"],
         bad_request=True)
    call("createInvitation", "POST", f"{V1}/orgs/{a}/invitations", 404, {}, auth=w.t["member_b"])
    call("listUsers", "GET", f"{V1}/users?role=member&limit=5", 200, auth=w.t["admin"])
    call("listUsers", "GET", f"{V1}/users", 403, auth=w.t["bureau"])
    call("listUsers", "GET", f"{V1}/users?q=example&active=true", 200, auth=w.t["admin"])
    call("listUsers", "GET", f"{V1}/users?active=maybe", 400, auth=w.t["admin"], bad_request=True)
    call("createUser", "POST", f"{V1}/users", 409, {"email": w.users["reviewer"]["email"], "password": pw(),
                                                     "role": "reviewer"}, auth=w.t["admin"])
    call("createUser", "POST", f"{V1}/users", 422, {"email": "x@example.test", "password": pw(),
                                                     "role": "member"}, auth=w.t["admin"])
    uid = w.users["reviewer"]["id"]
    r = call("getUser", "GET", f"{V1}/users/{uid}", 200, auth=w.t["admin"])
    call("getUser", "GET", f"{V1}/users/999999999", 404, auth=w.t["admin"])
    call("getUser", "GET", f"{V1}/users/{uid}", 403, auth=w.t["member_a"])
    call("updateUser", "PATCH", f"{V1}/users/{uid}", 200, {"display_name": "评审员", "phone": "13800000000"},
         auth=w.t["admin"])
    call("updateUser", "PATCH", f"{V1}/users/{uid}", 412, {"display_name": "x"}, auth=w.t["admin"],
         headers={"If-Match": '"99999"'})
    call("updateUser", "PATCH", f"{V1}/users/{uid}", 422, {"role": "emperor"}, auth=w.t["admin"],
         bad_request=True)
    call("listOffices", "GET", f"{V1}/offices", 200)
    call("createOffice", "POST", f"{V1}/offices", 409, {"name": "重复", "region_code": w.region}, auth=w.t["admin"])
    call("createOffice", "POST", f"{V1}/offices", 403, {"name": "x", "region_code": w.region2},
         auth=w.t["officer"])
    call("updateOffice", "PATCH", f"{V1}/offices/{w.office['id']}", 200, {"name": "登记处（改）"}, auth=w.t["admin"])
    call("updateOffice", "PATCH", f"{V1}/offices/999999999", 404, {"name": "x"}, auth=w.t["admin"])
    # Prism passes a request body on as text, so a PNG (0x89 first) cannot reach the server through it: the
    # seal is stored by SQL (as PUT stores it), and PUT is driven with the refusals a text body can carry.
    seal = {"Content-Type": "image/png"}
    call("putOfficeSeal", "PUT", f"{V1}/offices/{w.office['id']}/seal", 415, data=PDF, headers=seal,
         auth=w.t["admin"])
    call("putOfficeSeal", "PUT", f"{V1}/offices/{w.office['id']}/seal", 403, data=PDF, headers=seal,
         auth=w.t["officer"])
    img = png(96)
    sql("INSERT INTO office_seals (office_id, png, sha256, width, height) VALUES (%s, %s, encode(sha256(%s), 'hex'), 96, 96)",
        w.office["id"], img, img)
    call("getOfficeSeal", "GET", f"{V1}/offices/{w.office['id']}/seal", 200, auth=w.t["officer"])
    call("deleteOfficeSeal", "DELETE", f"{V1}/offices/{w.office['id']}/seal", 204, auth=w.t["admin"])
    call("getOfficeSeal", "GET", f"{V1}/offices/{w.office['id']}/seal", 404, auth=w.t["admin"])
    call("deleteOfficeSeal", "DELETE", f"{V1}/offices/{w.office['id']}/seal", 403, auth=w.t["officer"])
    call("listAudit", "GET", f"{V1}/audit?entity=org&id={a}", 200, auth=w.t["admin"])
    call("listAudit", "GET", f"{V1}/audit?entity=org", 200, auth=w.t["bureau"])
    call("listAudit", "GET", f"{V1}/audit?limit=5", 200, auth=w.t["admin"])
    call("listAudit", "GET", f"{V1}/audit?id={a}", 400, auth=w.t["admin"], bad_request=True)
    call("listAudit", "GET", f"{V1}/audit?entity=org&id={a}", 403, auth=w.t["member_a"])
    call("verifyAudit", "GET", f"{V1}/audit/verify", 200, auth=w.t["bureau"])
    call("verifyAudit", "GET", f"{V1}/audit/verify", 401, bad_request=True)


def contracts(w):
    ma, mb, off = w.t["member_a"], w.t["member_b"], w.t["officer"]
    call("listContracts", "GET", f"{V1}/contracts", 200, auth=ma)
    call("listContracts", "GET", f"{V1}/contracts?status=registered", 200, auth=w.t["bureau"])
    call("listContracts", "GET", f"{V1}/contracts", 403, auth=w.t["reviewer"])
    call("listContracts", "GET", f"{V1}/contracts?q={quote('技术合同')}&sort=amount_desc&status=registered&limit=5", 200,
         auth=w.admin)
    call("listContracts", "GET", f"{V1}/contracts?q=2025511&year=2025&region=511900&overdue=false&amount_min=0", 200,
         auth=w.t["officer"])
    call("listContracts", "GET", f"{V1}/contracts?type=no_such_type", 400, auth=w.admin, bad_request=True)
    call("listContracts", "GET", f"{V1}/contracts?sort=relevance", 400, auth=w.admin, bad_request=True)
    call("createContract", "POST", f"{V1}/contracts", 403, contract_body(w), auth=mb)
    call("createContract", "POST", f"{V1}/contracts", 422, contract_body(w, title=""), auth=ma, bad_request=True)
    call("createContract", "POST", f"{V1}/contracts", 400, contract_body(w, status="registered"), auth=ma,
         bad_request=True)
    call("createContract", "POST", f"{V1}/contracts", 201, {"title": "最简草稿 " + uniq(),
                                                            "seller": {"org_id": w.orgs["a"]["id"]},
                                                            "buyer": {"name": "无账号买方"}}, auth=ma)
    d = contract(w, attachment=True)
    r = call("getContract", "GET", f"{V1}/contracts/{d['id']}", 200, auth=ma)
    call("getContract", "GET", f"{V1}/contracts/{d['id']}", 404, auth=mb)
    call("updateContract", "PATCH", f"{V1}/contracts/{d['id']}", 200, {"title": "改过 " + uniq()}, auth=ma,
         headers={"If-Match": r.headers["ETag"]} if r.headers.get("ETag") else None)
    call("updateContract", "PATCH", f"{V1}/contracts/{d['id']}", 412, {"title": "x"}, auth=ma,
         headers={"If-Match": '"999"'})
    call("updateContract", "PATCH", f"{V1}/contracts/{d['id']}", 404, {"title": "x"}, auth=mb)
    call("listAttachments", "GET", f"{V1}/contracts/{d['id']}/attachments", 200, auth=ma)
    call("getAttachment", "GET", f"{V1}/contracts/{d['id']}/attachments/{d['aid']}", 200, auth=ma)
    call("getAttachment", "GET", f"{V1}/contracts/{d['id']}/attachments/999999999", 404, auth=ma)
    call("createAttachment", "POST", f"{V1}/contracts/{d['id']}/attachments", 415, data=b"plain text",
         headers={"Content-Type": "text/plain"}, auth=ma, bad_request=True)
    call("createAttachment", "POST", f"{V1}/contracts/{d['id']}/attachments", 415, data=PDF,
         headers={"Content-Type": "image/png"}, auth=ma)
    call("deleteAttachment", "DELETE", f"{V1}/contracts/{d['id']}/attachments/{d['aid']}", 204, auth=ma)
    call("deleteAttachment", "DELETE", f"{V1}/contracts/{d['id']}/attachments/{d['aid']}", 404, auth=ma)
    call("submitContract", "POST", f"{V1}/contracts/{d['id']}/submit", 404, auth=mb)
    call("submitContract", "POST", f"{V1}/contracts/{d['id']}/submit", 200, auth=ma)
    call("submitContract", "POST", f"{V1}/contracts/{d['id']}/submit", 409, auth=ma)
    call("deleteContract", "DELETE", f"{V1}/contracts/{d['id']}", 409, auth=ma)
    call("returnContract", "POST", f"{V1}/contracts/{d['id']}/return", 422, {"reason": " "}, auth=off)
    call("returnContract", "POST", f"{V1}/contracts/{d['id']}/return", 200, {"reason": "请补充附件"}, auth=off)
    call("returnContract", "POST", f"{V1}/contracts/{d['id']}/return", 403, {"reason": "x"}, auth=ma)
    call("submitContract", "POST", f"{V1}/contracts/{d['id']}/submit", 200, auth=ma)
    call("refuseContract", "POST", f"{V1}/contracts/{d['id']}/refuse", 422, {"ground": "no_such_ground"}, auth=off)
    call("refuseContract", "POST", f"{V1}/contracts/{d['id']}/refuse", 200,
         {"ground": "not_technology_contract", "detail": "非技术合同"}, auth=off)
    e = contract(w)
    call("deleteContract", "DELETE", f"{V1}/contracts/{e['id']}", 404, auth=mb)
    call("deleteContract", "DELETE", f"{V1}/contracts/{e['id']}", 204, auth=ma)
    s = contract(w, "submitted")
    call("getRegistryQueue", "GET", f"{V1}/registry/queue?limit=10", 200, auth=off)
    call("getRegistryQueue", "GET", f"{V1}/registry/queue", 403, auth=ma)
    call("registerContract", "POST", f"{V1}/contracts/{s['id']}/register", 422, {"technical_amount_fen": -1},
         auth=off, bad_request=True)
    call("registerContract", "POST", f"{V1}/contracts/{s['id']}/register", 422, {}, auth=off)   # no scan, no reason
    r = call("registerContract", "POST", f"{V1}/contracts/{s['id']}/register", 200,
             {"no_scan_reason": "原件已当面核验"}, auth=off)
    reg_no = r.json()["registration_no"]
    call("registerContract", "POST", f"{V1}/contracts/{s['id']}/register", 409, {}, auth=off)
    call("listPayments", "GET", f"{V1}/contracts/{s['id']}/payments", 200, auth=w.t["bureau"])
    call("createPayment", "POST", f"{V1}/contracts/{s['id']}/payments", 201,
         {"amount_fen": 100000, "received_on": today_cn().isoformat(), "note": "首期"}, auth=ma)
    call("createPayment", "POST", f"{V1}/contracts/{s['id']}/payments", 422,
         {"amount_fen": 0, "received_on": today_cn().isoformat()}, auth=off, bad_request=True)
    call("createPayment", "POST", f"{V1}/contracts/{s['id']}/payments", 403,
         {"amount_fen": 1, "received_on": today_cn().isoformat()}, auth=w.t["broker"])
    for _ in range(10):
        r = call("getContractCertificate", "GET", f"{V1}/contracts/{s['id']}/certificate", None, auth=ma)
        if r.status_code != 503:
            break
        time.sleep(0.3)
    RECORDS[-1] = RECORDS[-1][:4] + (200,) + RECORDS[-1][5:]
    cert = r.json()
    call("getContractCertificate", "GET", f"{V1}/contracts/{s['id']}/certificate?format=html", 200, auth=off)
    call("getContractCertificate", "GET", f"{V1}/contracts/{s['id']}/certificate?format=pdf", 200, auth=off)
    call("getContractCertificate", "GET", f"{V1}/contracts/{s['id']}/certificate?format=docx", 400, auth=off,
         bad_request=True)
    call("getContractRegistrationForm", "GET", f"{V1}/contracts/{s['id']}/registration-form", 200, auth=ma)
    call("getContractRegistrationForm", "GET", f"{V1}/contracts/{s['id']}/registration-form?format=html", 400,
         auth=off, bad_request=True)
    call("getContractCertificate", "GET", f"{V1}/contracts/{e['id']}/certificate", 404, auth=ma)
    call("verifyCertificate", "POST", f"{V1}/certificates/verify", 200, cert)
    call("verifyCertificate", "POST", f"{V1}/certificates/verify", 200, {**cert, "signature": "AAAA"})
    call("verifyCertificate", "POST", f"{V1}/certificates/verify", 422, {"payload": {}}, bad_request=True)
    call("listCertificateKeys", "GET", f"{V1}/certificates/keys", 200)
    call("getRegistrationFacts", "GET", f"{V1}/certificates/{reg_no}", 200)
    call("getRegistrationFacts", "GET", f"{V1}/certificates/12", 404, bad_request=True)
    call("amendContract", "POST", f"{V1}/contracts/{s['id']}/amend", 422, {"reason": "变更", "changes": {}},
         auth=ma, bad_request=True)
    r = call("amendContract", "POST", f"{V1}/contracts/{s['id']}/amend", 200,
             {"reason": "名称有误", "changes": {"title": "更正后的名称 " + uniq()}}, auth=ma)
    cid = r.json()["pending_change"]["id"]
    call("amendContract", "POST", f"{V1}/contracts/{s['id']}/amend", 200,
         {"change_id": cid, "decision": "confirm", "note": "同意"}, auth=off)
    call("amendContract", "POST", f"{V1}/contracts/{s['id']}/amend", 403,
         {"reason": "x", "changes": {"title": "y"}}, auth=w.t["broker"])
    r = call("cancelContract", "POST", f"{V1}/contracts/{s['id']}/cancel", 200, {"reason": "双方解除"}, auth=ma)
    cid = r.json()["pending_change"]["id"]
    call("cancelContract", "POST", f"{V1}/contracts/{s['id']}/cancel", 409, {"reason": "再来"}, auth=ma)
    call("cancelContract", "POST", f"{V1}/contracts/{s['id']}/cancel", 200,
         {"change_id": cid, "decision": "reject", "note": "材料不足"}, auth=off)
    call("listContractChanges", "GET", f"{V1}/contracts/{s['id']}/changes", 200, auth=ma)
    call("listContractChanges", "GET", f"{V1}/contracts/{s['id']}/changes", 404, auth=mb)
    call("amendContract", "POST", f"{V1}/contracts/{s['id']}/amend", 422,
         {"change_id": cid, "decision": "reject", "note": "长" * 1001}, auth=off, bad_request=True)
    w.registered = contract(w, "registered")


def statistics(w):
    b, adm = w.t["bureau"], w.t["admin"]
    y = w.year
    call("getContractStats", "GET", f"{V1}/stats/contracts?year={y}&region=511900", 200)
    call("getContractStats", "GET", f"{V1}/stats/contracts?year={y}&region=511900&by=domain", 200, auth=b)
    call("getContractStats", "GET", f"{V1}/stats/contracts?year={y}&by=domain", 401, bad_request=True)
    call("getContractStats", "GET", f"{V1}/stats/contracts?year=1900", 400, bad_request=True)
    call("getContractStats", "GET", f"{V1}/stats/contracts?year={y}&region=110000", 403, auth=b)
    for by in ("socio_economic_objective", "seller_category", "buyer_category", "partner"):
        call("getContractStats", "GET", f"{V1}/stats/contracts?year={y}&region=511900&by={by}", 200, auth=b)
    call("getStatsFlows", "GET", f"{V1}/stats/flows?year={y}&region=511900", 200, auth=b)
    call("getStatsFlows", "GET", f"{V1}/stats/flows?year={y}&region=000000", 200, auth=adm)
    call("getStatsFlows", "GET", f"{V1}/stats/flows?year={y}&region=110000", 403, auth=b)
    call("getStatsFlows", "GET", f"{V1}/stats/flows?year={y}", 401, bad_request=True)
    call("listIndicators", "GET", f"{V1}/stats/indicators", 200)
    call("listTargets", "GET", f"{V1}/targets?year={y}", 200, auth=b)
    call("listTargets", "GET", f"{V1}/targets?year={y}", 403, auth=w.t["member_a"])
    call("putTarget", "PUT", f"{V1}/targets", 200, {"region_code": "511900", "year": y, "metric": "contracts",
                                                     "target": 100, "note": "年度目标"}, auth=b)
    call("putTarget", "PUT", f"{V1}/targets", 403, {"region_code": "110000", "year": y, "metric": "contracts",
                                                     "target": 1}, auth=b)
    call("putTarget", "PUT", f"{V1}/targets", 422, {"region_code": "511900", "year": y, "metric": "nonsense",
                                                     "target": 1}, auth=b, bad_request=True)
    call("putTarget", "PUT", f"{V1}/targets", 200, {"region_code": "511900", "from_year": y - 2, "year": y,
                                                     "metric": "brokers_trained", "target": 10, "note": "三年累计",
                                                     "source": "规范检查方案"}, auth=b)
    call("putTargetActual", "PUT", f"{V1}/targets/actuals", 200,
         {"region_code": "511900", "year": y, "indicator": "brokers_trained", "value": 3, "note": "年度结业",
          "evidence": "巴科技〔2024〕31号"}, auth=b)
    call("putTargetActual", "PUT", f"{V1}/targets/actuals", 422,
         {"region_code": "511900", "year": y, "indicator": "contracts", "value": 3, "note": "计算指标",
          "evidence": "无"}, auth=b)
    call("listTargetActuals", "GET", f"{V1}/targets/actuals?year={y}", 200, auth=b)
    call("listTargetActuals", "GET", f"{V1}/targets/actuals?year={y}", 403, auth=w.t["member_a"])
    call("getTargetProgress", "GET", f"{V1}/targets/progress?year={y}", 200, auth=b)
    call("getTargetProgress", "GET", f"{V1}/targets/progress?region=999999", 404, auth=adm)
    # the year-end close of a year nobody uses (2003), for the bureau's region; then reopened
    c = call("closeStatsYear", "POST", f"{V1}/stats/closes", 201, {"year": 2003, "region_code": "511900",
                                                                     "note": "规范检查"}, auth=b).json()
    call("closeStatsYear", "POST", f"{V1}/stats/closes", 409, {"year": 2003, "region_code": "511900"}, auth=b,
         bad_request=True)
    call("closeStatsYear", "POST", f"{V1}/stats/closes", 403, {"year": 2003, "region_code": "110000"}, auth=b,
         bad_request=True)
    call("getContractStats", "GET", f"{V1}/stats/contracts?year=2003&region=511900", 200, auth=b)
    call("listStatsCloses", "GET", f"{V1}/stats/closes?year=2003", 200, auth=b)
    call("listStatsAdjustments", "GET", f"{V1}/stats/adjustments?year=2003&region=511900", 200, auth=b)
    call("listStatsAdjustments", "GET", f"{V1}/stats/adjustments?year=2003&region=110000", 403, auth=b,
         bad_request=True)
    call("reopenStatsYear", "POST", f"{V1}/stats/closes/{c['id']}/reopen", 403, {"reason": "x"}, auth=b,
         bad_request=True)
    call("reopenStatsYear", "POST", f"{V1}/stats/closes/{c['id']}/reopen", 200, {"reason": "规范检查"}, auth=adm)
    call("reopenStatsYear", "POST", f"{V1}/stats/closes/{c['id']}/reopen", 409, {"reason": "规范检查"}, auth=adm,
         bad_request=True)
    for fmt in ("json", "csv", "xlsx"):
        call("exportAnnual", "GET", f"{V1}/exports/annual?year={y}&region=511900&format={fmt}", 200, auth=b)
    call("exportAnnual", "GET", f"{V1}/exports/annual?format=json", 400, auth=b, bad_request=True)
    for q in ("format=csv", "format=csv&encoding=gb18030", "format=xlsx"):
        call("exportNational", "GET", f"{V1}/exports/national?from={y}-01-01&to={y}-12-31&region=511900&{q}", 200, auth=b)
    call("exportNational", "GET", f"{V1}/exports/national?from={y}-12-31&to={y}-01-01", 400, auth=b, bad_request=True)
    call("getTaxRelief", "GET", f"{V1}/tax-relief?year={y}", 200, auth=b)
    call("getTaxRelief", "GET", f"{V1}/tax-relief?year={y}&region=999999", 422, auth=adm)
    policy = {"name": "补助政策 " + uniq(), "region_code": "511900", "valid_from_year": y, "valid_to_year": y + 1,
              "source": "测试", "rules": {"lines": [{"label": "输出方1%", "party": "seller", "base": "contract_amount",
                                                     "contract_types": ["development"], "rate": {"flat_bp": 100}}],
                                          "budget_fen": 100000000}}
    r = call("createSubsidyPolicy", "POST", f"{V1}/subsidy-policies", 201, policy, auth=b)
    pid = r.json()["id"]
    call("createSubsidyPolicy", "POST", f"{V1}/subsidy-policies", 403, {**policy, "region_code": "110000"}, auth=b)
    call("createSubsidyPolicy", "POST", f"{V1}/subsidy-policies", 422, {**policy, "name": ""}, auth=b,
         bad_request=True)
    call("listSubsidyPolicies", "GET", f"{V1}/subsidy-policies?year={y}", 200, auth=b)
    call("getSubsidyPolicy", "GET", f"{V1}/subsidy-policies/{pid}", 200, auth=b)
    call("getSubsidyPolicy", "GET", f"{V1}/subsidy-policies/999999999", 404, auth=adm)
    call("updateSubsidyPolicy", "PATCH", f"{V1}/subsidy-policies/{pid}", 200, {"source": "更新的来源"}, auth=b)
    call("updateSubsidyPolicy", "PATCH", f"{V1}/subsidy-policies/{pid}", 400, {"region_code": "511900"}, auth=b,
         bad_request=True)
    r = call("createSubsidyRun", "POST", f"{V1}/subsidy-runs", 201, {"year": y, "policy_ids": [pid]}, auth=b)
    rid = r.json()["id"]
    call("createSubsidyRun", "POST", f"{V1}/subsidy-runs", 404, {"year": y, "policy_ids": [999999999]}, auth=b)
    call("listSubsidyRuns", "GET", f"{V1}/subsidy-runs?year={y}", 200, auth=b)
    call("getSubsidyRun", "GET", f"{V1}/subsidy-runs/{rid}", 200, auth=b)
    call("getSubsidyRun", "GET", f"{V1}/subsidy-runs/{rid}", 403, auth=w.t["member_a"])
    # registers of demonstration institutions and brokers, and a fixed-amount policy that reads them
    org = w.orgs["b"]["id"]
    rec = {"org_id": org, "level": "provincial", "recognised_by": "四川省科学技术厅", "recognised_on": today_cn().isoformat(),
           "document_no": "川科〔" + uniq() + "〕号", "evidence": "认定通知"}
    r = call("createInstitutionRecognition", "POST", f"{V1}/institution-recognitions", 201, rec, auth=b)
    call("createInstitutionRecognition", "POST", f"{V1}/institution-recognitions", 409, rec, auth=b, bad_request=True)
    call("createInstitutionRecognition", "POST", f"{V1}/institution-recognitions", 422, {**rec, "level": "county"},
         auth=b, bad_request=True)
    call("createInstitutionRecognition", "POST", f"{V1}/institution-recognitions", 400, {**rec, "org_id": "x"},
         auth=b, bad_request=True)
    call("listInstitutionRecognitions", "GET", f"{V1}/institution-recognitions?org_id={org}", 200, auth=b)
    call("listInstitutionRecognitions", "GET", f"{V1}/institution-recognitions?region=110000", 403, auth=b,
         bad_request=True)
    q = {"user_id": w.users["broker"]["id"], "kind": "certification", "certificate_no": "JJR-" + uniq(),
         "issuer": "中国科学技术交流中心", "obtained_on": today_cn().isoformat(), "evidence": "证书"}
    rq = call("createBrokerQualification", "POST", f"{V1}/broker-qualifications", 201, q, auth=b)
    call("createBrokerQualification", "POST", f"{V1}/broker-qualifications", 201,
         {**q, "kind": "training", "certificate_no": "PX-" + uniq(), "course": "技术经纪人培训", "hours": 48.5}, auth=b)
    call("createBrokerQualification", "POST", f"{V1}/broker-qualifications", 422, {**q, "kind": "x"}, auth=b,
         bad_request=True)
    call("listBrokerQualifications", "GET", f"{V1}/broker-qualifications?kind=certification", 200, auth=b)
    call("listBrokerRegister", "GET", f"{V1}/broker-register?q=broker", 200, auth=b)
    call("listBrokerRegister", "GET", f"{V1}/broker-register?q=" + "x" * 101, 400, auth=b, bad_request=True)
    fixed = {**policy, "name": "示范机构奖励 " + uniq(), "rules": {"lines": [
        {"label": "示范机构", "party": "institution", "amount_by_level_fen": {"national": 30000000, "provincial": 10000000,
                                                                             "city": 5000000}},
        {"label": "新取得证书的经纪人", "party": "broker", "amount_per_broker_fen": 500000}]}}
    fid = call("createSubsidyPolicy", "POST", f"{V1}/subsidy-policies", 201, fixed, auth=b).json()["id"]
    call("createSubsidyRun", "POST", f"{V1}/subsidy-runs", 201, {"year": y, "policy_ids": [fid]}, auth=b)
    call("withdrawInstitutionRecognition", "POST", f"{V1}/institution-recognitions/{r.json()['id']}/withdraw", 200,
         {"reason": "认定被撤销"}, auth=b)
    call("withdrawInstitutionRecognition", "POST", f"{V1}/institution-recognitions/{r.json()['id']}/withdraw", 409,
         {"reason": "再次"}, auth=b, bad_request=True)
    call("createSubsidyRun", "POST", f"{V1}/subsidy-runs", 201, {"year": y, "policy_ids": [fid]}, auth=b)
    call("withdrawBrokerQualification", "POST", f"{V1}/broker-qualifications/{rq.json()['id']}/withdraw", 200,
         {"reason": "证书编号录错"}, auth=b)
    call("withdrawBrokerQualification", "POST", f"{V1}/broker-qualifications/999999999/withdraw", 404,
         {"reason": "x"}, auth=b, bad_request=True)


def canary(w):
    """Prism must really validate bodies: a request body of the wrong type has to be reported."""
    r = call("createOrg", "POST", f"{V1}/orgs", 400, {"name": 123, "org_type": "150", "region_code": w.region},
             auth=w.t["admin"], bad_request=True)
    v = violations_of(r)
    if not any(str(x.get("location", [""])[0:2]) == "['request', 'body']" for x in v):
        sys.exit(f"driver: Prism reported no request-body violation for a name of type integer ({v!r}): it is "
                 f"not validating bodies, so a clean run would mean nothing")


def sql(q, *args):
    import psycopg2
    conn = psycopg2.connect(os.environ["YIZHAN_DATABASE_URL"])
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(q, args or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def published_result(w, org, pricing="negotiated", price=5_000_000):
    """Results are still `x-status: planned`: made by SQL, as tests/integration/test_deals.py does."""
    return sql("""INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,
                                       published_at, pricing_mode, asking_price_fen, transfer_modes)
                  VALUES (%s, %s, '规范检查用的技术成果。', 'agriculture', 6, %s, 'published', now(), now(), %s, %s,
                          ARRAY['transfer']) RETURNING id""",
               org["id"], "成果 " + uniq(), org["region_code"], pricing, price)[0][0]


def user(w, role, org):
    """One more account (a broker of another organisation, a member of the university)."""
    e, p = f"{role}-{uuid.uuid4().hex[:8]}@example.test", pw()
    r = call("createUser", "POST", f"{V1}/users", 201, {"email": e, "password": p, "role": role, "display_name": role,
                                                        "org_id": org["id"]}, auth=w.admin)
    return {"id": r.json()["id"], "token": login(e, p)["access_token"]}


def deals(w):
    ma, mb, rv, adm = w.t["member_a"], w.t["member_b"], w.t["reviewer"], w.t["admin"]
    # org A sells (a plain company here), org B buys
    rid = published_result(w, w.orgs["a"])
    r = call("createInquiry", "POST", f"{V1}/inquiries", 201, {"result_id": rid, "message": "有意受让",
                                                                "price_fen": 3_000_000}, auth=mb)
    inq = r.json()["id"]
    call("createInquiry", "POST", f"{V1}/inquiries", 409, {"result_id": rid, "message": "再问一次"}, auth=mb)
    call("createInquiry", "POST", f"{V1}/inquiries", 422, {"result_id": rid, "message": "自己的"}, auth=ma)
    call("createInquiry", "POST", f"{V1}/inquiries", 403, {"result_id": rid, "message": "x"}, auth=adm)
    call("createInquiry", "POST", f"{V1}/inquiries", 404, {"result_id": 999999999, "message": "x"}, auth=mb)
    call("listInquiries", "GET", f"{V1}/inquiries?status=open", 200, auth=ma)
    call("listInquiries", "GET", f"{V1}/inquiries", 403, auth=rv)
    call("getInquiry", "GET", f"{V1}/inquiries/{inq}", 200, auth=ma)
    call("getInquiry", "GET", f"{V1}/inquiries/{inq}", 403, auth=w.t["officer"])
    call("getInquiry", "GET", f"{V1}/inquiries/999999999", 404, auth=mb)
    call("createInquiryMessage", "POST", f"{V1}/inquiries/{inq}/messages", 201,
         {"body": "报价四百万元", "price_fen": 4_000_000}, auth=ma)
    call("createInquiryMessage", "POST", f"{V1}/inquiries/{inq}/messages", 422, {"body": " "}, auth=ma,
         bad_request=True)
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 422, {}, auth=ma, bad_request=True)
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 422, {"price_fen": 0}, auth=ma, bad_request=True)
    # brokers by consent: the buyer names one (a broker outside both organisations), the seller consents
    broker = user(w, "broker", w.orgs["c"])
    call("listBrokers", "GET", f"{V1}/brokers?q=" + quote("broker"), 200, auth=mb)
    call("listBrokers", "GET", f"{V1}/brokers", 403, auth=rv)
    call("nameInquiryBroker", "POST", f"{V1}/inquiries/{inq}/broker", 422, {"user_id": w.users["reviewer"]["id"]},
         auth=mb, bad_request=True)
    call("nameInquiryBroker", "POST", f"{V1}/inquiries/{inq}/broker", 200, {"user_id": broker["id"]}, auth=mb)
    call("getInquiry", "GET", f"{V1}/inquiries/{inq}", 404, auth=broker["token"])
    call("acceptInquiryBroker", "POST", f"{V1}/inquiries/{inq}/broker/accept", 403, auth=mb)
    call("acceptInquiryBroker", "POST", f"{V1}/inquiries/{inq}/broker/accept", 200, auth=ma)
    call("acceptInquiryBroker", "POST", f"{V1}/inquiries/{inq}/broker/accept", 409, auth=ma)
    call("getInquiry", "GET", f"{V1}/inquiries/{inq}", 200, auth=broker["token"])
    call("removeInquiryBroker", "DELETE", f"{V1}/inquiries/{inq}/broker", 403, auth=ma)
    call("removeInquiryBroker", "DELETE", f"{V1}/inquiries/{inq}/broker", 200, auth=mb)
    call("removeInquiryBroker", "DELETE", f"{V1}/inquiries/{inq}/broker", 404, auth=mb)
    # offer and acceptance: the seller's proposal waits; the buyer accepting it concludes
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 200, {"price_fen": 3_500_000}, auth=ma)
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 403, {"price_fen": 3_500_000}, auth=adm)
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 200, {"price_fen": 3_500_000}, auth=mb)
    call("agreeInquiry", "POST", f"{V1}/inquiries/{inq}/agree", 409, {"price_fen": 3_500_000}, auth=mb)
    call("createInquiryMessage", "POST", f"{V1}/inquiries/{inq}/messages", 409, {"body": "还在吗"}, auth=ma)
    rid2 = published_result(w, w.orgs["a"])
    inq2 = call("createInquiry", "POST", f"{V1}/inquiries", 201, {"need_id": None, "result_id": rid2,
                                                                  "message": "问问"}, auth=mb).json()["id"]
    call("declineInquiry", "POST", f"{V1}/inquiries/{inq2}/decline", 200, {"reason": "预算不足"}, auth=ma)
    call("declineInquiry", "POST", f"{V1}/inquiries/{inq2}/decline", 409, auth=mb)
    listed = published_result(w, w.orgs["a"], pricing="listed", price=2_000_000)
    call("purchaseResult", "POST", f"{V1}/results/{listed}/purchase", 422, auth=ma)
    call("purchaseResult", "POST", f"{V1}/results/{listed}/purchase", 201, auth=mb)
    call("purchaseResult", "POST", f"{V1}/results/{listed}/purchase", 404, {}, auth=mb)
    # a state-funded university sells at a negotiated price: public notice
    uni = call("createOrg", "POST", f"{V1}/orgs", 201, {"name": "国有大学 " + uniq(), "org_type": "022",
                                                        "state_funded": True, "region_code": w.region,
                                                        "credit_code": credit_code(w.region)}, auth=adm).json()
    uni_m = user(w, "member", uni)
    rid3 = published_result(w, uni)
    inq3 = call("createInquiry", "POST", f"{V1}/inquiries", 201, {"result_id": rid3, "message": "受让",
                                                                  "price_fen": 1_000_000}, auth=mb).json()["id"]
    notice = call("agreeInquiry", "POST", f"{V1}/inquiries/{inq3}/agree", 200, {"price_fen": 1_000_000},
                  auth=uni_m["token"]).json()["notice"]["id"]
    call("listNotices", "GET", f"{V1}/notices", 200)
    call("listNotices", "GET", f"{V1}/notices?result_id={rid3}&pending_objections=false", 200)
    call("listNotices", "GET", f"{V1}/notices?result_id=abc", 400, bad_request=True)
    call("listNotices", "GET", f"{V1}/notices?status=whatever", 400, bad_request=True)
    call("getNotice", "GET", f"{V1}/notices/{notice}", 200)
    call("getNotice", "GET", f"{V1}/notices/999999999", 404)
    ob = call("createObjection", "POST", f"{V1}/notices/{notice}/objections", 201,
              {"name": "张三", "contact": "13800000000", "body": "价格偏低"}).json()["id"]
    call("createObjection", "POST", f"{V1}/notices/{notice}/objections", 422,
         {"name": " ", "contact": "x", "body": "y"}, bad_request=True)
    call("listObjections", "GET", f"{V1}/notices/{notice}/objections", 200, auth=rv)
    call("listObjections", "GET", f"{V1}/notices/{notice}/objections", 200, auth=uni_m["token"])
    call("listObjections", "GET", f"{V1}/notices/{notice}/objections", 404, auth=ma)
    call("decideObjection", "POST", f"{V1}/notices/{notice}/objections/{ob}/decide", 403, {"decision": "upheld"},
         auth=ma)
    call("decideObjection", "POST", f"{V1}/notices/{notice}/objections/{ob}/decide", 200,
         {"decision": "dismissed", "note": "理由不足"}, auth=rv)
    call("decideObjection", "POST", f"{V1}/notices/{notice}/objections/{ob}/decide", 409, {"decision": "upheld"},
         auth=rv)
    # auctions
    ar = published_result(w, w.orgs["a"], pricing="auction", price=None)
    ends = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    call("openAuction", "POST", f"{V1}/results/{ar}/auction", 404,
         {"reserve_fen": 1_000_000, "increment_fen": 10_000, "ends_at": ends}, auth=mb)
    call("openAuction", "POST", f"{V1}/results/{ar}/auction", 422,
         {"reserve_fen": 1_000_000, "increment_fen": 10_000, "ends_at": "tomorrow"}, auth=ma, bad_request=True)
    call("openAuction", "POST", f"{V1}/results/{ar}/auction", 201,
         {"reserve_fen": 1_000_000, "increment_fen": 10_000, "ends_at": ends}, auth=ma)
    call("openAuction", "POST", f"{V1}/results/{ar}/auction", 409,
         {"reserve_fen": 1_000_000, "increment_fen": 10_000, "ends_at": ends}, auth=ma)
    call("getAuction", "GET", f"{V1}/results/{ar}/auction", 200)
    call("getAuction", "GET", f"{V1}/results/{ar}/auction", 200, auth=ma)
    call("getAuction", "GET", f"{V1}/results/{rid2}/auction", 404)
    call("createBid", "POST", f"{V1}/results/{ar}/bids", 201, {"amount_fen": 20_000}, auth=mb)
    call("createBid", "POST", f"{V1}/results/{ar}/bids", 422, {"amount_fen": 20_001}, auth=mb)
    call("createBid", "POST", f"{V1}/results/{ar}/bids", 403, {"amount_fen": 50_000}, auth=ma)
    call("listAuctions", "GET", f"{V1}/auctions", 200)
    call("listAuctions", "GET", f"{V1}/auctions?status=closed", 200, auth=mb)
    call("listAuctions", "GET", f"{V1}/auctions?status=x", 400, bad_request=True)
    call("listBids", "GET", f"{V1}/results/{ar}/bids", 200, auth=ma)
    call("listBids", "GET", f"{V1}/results/{ar}/bids", 200, auth=mb)
    call("listBids", "GET", f"{V1}/results/{ar}/bids", 403, auth=w.t["broker"])


def market(w):
    ma, mb, rv, adm, off = w.t["member_a"], w.t["member_b"], w.t["reviewer"], w.t["admin"], w.t["officer"]
    complete = {"title": "高效节水灌溉技术 " + uniq(), "summary": "适用于丘陵地区的滴灌系统。", "keywords": ["节水灌溉", "滴灌"],
                "domain": "agriculture", "trl": 6, "transfer_modes": ["transfer"], "pricing_mode": "negotiated",
                "region_code": w.region, "contact": {"name": "李老师", "phone": "0827-1234567"}}
    key = "spec-" + uniq()
    r = call("createResult", "POST", f"{V1}/results", 201, complete, auth=ma, headers={"Idempotency-Key": key})
    res = r.json()["id"]
    call("createResult", "POST", f"{V1}/results", 201, complete, auth=ma, headers={"Idempotency-Key": key})
    call("createResult", "POST", f"{V1}/results", 422, {**complete, "title": "其他"}, auth=ma,
         headers={"Idempotency-Key": key})
    call("createResult", "POST", f"{V1}/results", 403, {"title": "x"}, auth=adm)
    call("createResult", "POST", f"{V1}/results", 422, {"summary": "无标题"}, auth=ma, bad_request=True)
    call("getResult", "GET", f"{V1}/results/{res}", 200, auth=ma)
    call("getResult", "GET", f"{V1}/results/{res}", 404)
    r = call("updateResult", "PATCH", f"{V1}/results/{res}", 200, {"trl": 7}, auth=ma)
    call("updateResult", "PATCH", f"{V1}/results/{res}", 412, {"trl": 8}, auth=ma, headers={"If-Match": '"999"'})
    call("updateResult", "PATCH", f"{V1}/results/{res}", 404, {"trl": 8}, auth=mb)
    call("matchResult", "GET", f"{V1}/results/{res}/matches?limit=5", 200, auth=ma)
    call("matchResult", "GET", f"{V1}/results/{res}/matches", 404, auth=mb)
    call("submitResult", "POST", f"{V1}/results/{res}/submit", 200, auth=ma)
    call("submitResult", "POST", f"{V1}/results/{res}/submit", 409, auth=ma)
    call("listResults", "GET", f"{V1}/results?status=submitted", 200, auth=rv)
    call("listResults", "GET", f"{V1}/results?limit=0", 400, bad_request=True)
    call("rejectResult", "POST", f"{V1}/results/{res}/reject", 403, {"reason": "x"}, auth=ma)
    call("rejectResult", "POST", f"{V1}/results/{res}/reject", 200, {"reason": "缺少专利证书扫描件"}, auth=rv)
    call("submitResult", "POST", f"{V1}/results/{res}/submit", 200, auth=ma)
    call("approveResult", "POST", f"{V1}/results/{res}/approve", 200, auth=rv)
    call("approveResult", "POST", f"{V1}/results/{res}/approve", 409, auth=rv)
    call("listResults", "GET", f"{V1}/results?q=节水", 200)
    call("search", "GET", f"{V1}/search?q=节水灌溉&kind=result", 200)
    call("search", "GET", f"{V1}/search?q=%20%20", 400, bad_request=True)
    call("withdrawResult", "POST", f"{V1}/results/{res}/withdraw", 200, auth=ma)
    call("withdrawResult", "POST", f"{V1}/results/{res}/withdraw", 409, auth=ma)
    d = call("createResult", "POST", f"{V1}/results", 201, {"title": "待删草稿 " + uniq()}, auth=ma).json()["id"]
    call("deleteResult", "DELETE", f"{V1}/results/{d}", 404, auth=mb)
    call("deleteResult", "DELETE", f"{V1}/results/{d}", 204, auth=ma)
    call("deleteResult", "DELETE", f"{V1}/results/{d}", 404, auth=ma)
    need = {"title": "求购节水灌溉技术 " + uniq(), "description": "丘陵果园滴灌改造。", "keywords": ["节水灌溉"],
            "domain": "agriculture", "region_code": w.region, "cooperation_modes": ["transfer"],
            "deadline": (today_cn() + datetime.timedelta(days=60)).isoformat()}
    sub = call("createSubscription", "POST", f"{V1}/subscriptions", 201,
               {"name": "节水需求", "q": "节水灌溉", "kind": "need"}, auth=ma).json()["id"]
    call("createSubscription", "POST", f"{V1}/subscriptions", 400, {"name": "x", "sort": "new"}, auth=ma,
         bad_request=True)
    call("listSubscriptions", "GET", f"{V1}/subscriptions", 200, auth=ma)
    n = call("createNeed", "POST", f"{V1}/needs", 201, need, auth=mb).json()["id"]
    call("createNeed", "POST", f"{V1}/needs", 403, {"title": "x"}, auth=w.t["broker"])
    call("getNeed", "GET", f"{V1}/needs/{n}", 200, auth=mb)
    call("getNeed", "GET", f"{V1}/needs/{n}", 404, auth=ma)
    call("updateNeed", "PATCH", f"{V1}/needs/{n}", 200, {"budget_max_fen": 90_000_000}, auth=mb)
    call("updateNeed", "PATCH", f"{V1}/needs/{n}", 404, {"budget_max_fen": 1}, auth=ma)
    call("matchNeed", "GET", f"{V1}/needs/{n}/matches", 200, auth=mb)
    call("matchNeed", "GET", f"{V1}/needs/{n}/matches", 403, auth=off)
    call("submitNeed", "POST", f"{V1}/needs/{n}/submit", 200, auth=mb)
    call("rejectNeed", "POST", f"{V1}/needs/{n}/reject", 200, {"reason": "预算不明确"}, auth=rv)
    call("submitNeed", "POST", f"{V1}/needs/{n}/submit", 200, auth=mb)
    call("approveNeed", "POST", f"{V1}/needs/{n}/approve", 200, auth=rv)
    call("approveNeed", "POST", f"{V1}/needs/{n}/approve", 403, auth=mb)
    call("listNeeds", "GET", f"{V1}/needs?status=open", 200)
    call("listNeeds", "GET", f"{V1}/needs?status=bogus", 400, bad_request=True)
    nl = call("listNotifications", "GET", f"{V1}/notifications?unread=true", 200, auth=ma).json()["items"]
    if nl:
        call("readNotification", "POST", f"{V1}/notifications/{nl[0]['id']}/read", 200, auth=ma)
    call("readNotification", "POST", f"{V1}/notifications/999999999/read", 404, auth=ma)
    call("listNotifications", "GET", f"{V1}/notifications?category=deal&kind=proposal", 200, auth=ma)
    call("listNotifications", "GET", f"{V1}/notifications?category=x", 400, auth=ma, bad_request=True)
    call("countUnreadNotifications", "GET", f"{V1}/notifications/unread-count", 200, auth=ma)
    call("readAllNotifications", "POST", f"{V1}/notifications/read-all", 200, {"up_to_id": 999999999}, auth=ma)
    call("readAllNotifications", "POST", f"{V1}/notifications/read-all", 200, auth=mb)
    call("readAllNotifications", "POST", f"{V1}/notifications/read-all", 400, {"all": True}, auth=ma, bad_request=True)
    call("closeNeed", "POST", f"{V1}/needs/{n}/close", 422, {"outcome": "bogus"}, auth=mb, bad_request=True)
    call("closeNeed", "POST", f"{V1}/needs/{n}/close", 200, {"outcome": "matched", "reason": "已签约"}, auth=mb)
    d = call("createNeed", "POST", f"{V1}/needs", 201, {"title": "待删需求 " + uniq()}, auth=mb).json()["id"]
    call("deleteNeed", "DELETE", f"{V1}/needs/{d}", 204, auth=mb)
    call("deleteSubscription", "DELETE", f"{V1}/subscriptions/{sub}", 404, auth=mb)
    call("deleteSubscription", "DELETE", f"{V1}/subscriptions/{sub}", 204, auth=ma)
    call("getWebhook", "GET", f"{V1}/webhook", 200, auth=ma)
    call("getWebhook", "GET", f"{V1}/webhook", 403, auth=adm)
    call("rotateWebhookSecret", "POST", f"{V1}/webhook/secret", 201, auth=ma)
    call("rotateWebhookSecret", "POST", f"{V1}/webhook/secret", 401, bad_request=True)


def imports(w):
    """Past contracts from a file: the template, a dry run, an import, a refused file, the list."""
    off, adm = w.t["officer"], w.t["admin"]
    call("getImportTemplate", "GET", f"{V1}/imports/contracts/template", 200, auth=off)
    call("getImportTemplate", "GET", f"{V1}/imports/contracts/template?format=csv", 200, auth=adm)
    call("getImportTemplate", "GET", f"{V1}/imports/contracts/template?format=pdf", 400, auth=off, bad_request=True)
    y = w.year - 1
    head = ("登记编号,合同名称,合同类别,卖方名称,卖方统一社会信用代码,卖方所在地区代码,买方名称,买方统一社会信用代码,"
            "买方所在地区代码,签订日期,登记日期,合同成交额（元）,技术交易额（元）,技术领域")
    a, b = w.orgs["a"], w.orgs["b"]
    row = (f"{y}{w.office['region_code']}000777,历史合同 {uniq()},委托开发,{a['name']},{a['credit_code']},{w.region},"
           f"{b['name']},{b['credit_code']},{w.region},{y}-05-01,{y}-05-20,10000.00,9000,农业")
    good = (head + "\r\n" + row + "\r\n").encode()   # UTF-8: Prism passes a body on as text
    csv = {"Content-Type": "text/csv"}
    call("importContracts", "POST", f"{V1}/imports/contracts?dry_run=true&filename=历史.csv", 200, data=good,
         headers=csv, auth=off)
    call("importContracts", "POST", f"{V1}/imports/contracts?filename=历史.csv", 201, data=good, headers=csv, auth=off)
    call("importContracts", "POST", f"{V1}/imports/contracts", 422, data=good, headers=csv, auth=off)  # again
    call("importContracts", "POST", f"{V1}/imports/contracts", 415, data=good,
         headers={"Content-Type": "multipart/form-data; boundary=yz"}, auth=off, bad_request=True)
    call("importContracts", "POST", f"{V1}/imports/contracts", 403, data=good, headers=csv, auth=w.t["bureau"])
    call("listImports", "GET", f"{V1}/imports/contracts", 200, auth=off)
    call("listImports", "GET", f"{V1}/imports/contracts?limit=0", 400, auth=adm, bad_request=True)


AREAS = [canary, ops_and_codes, auth_and_me, accounts, contracts, statistics, market, deals, imports]


def main():
    try:
        S.get(BASE + "/livez", timeout=5)
    except requests.RequestException as e:
        sys.exit(f"driver: {BASE} does not answer: {e}")
    w = setup()
    for area in AREAS:
        area(w)
    implemented = {o["operationId"] for item in SPEC["paths"].values() for m, o in item.items()
                   if isinstance(o, dict) and o.get("x-status") == "implemented"}
    missing = sorted(implemented - COVERED)
    failures = 0
    by_op = {}
    for op_id, method, path, status, expect, viol, bad_request, text in RECORDS:
        relevant = [v for v in viol if not (bad_request and str(v.get("location", ["request"])[0]) == "request")]
        key = (op_id, method, path, status)
        if relevant:
            by_op.setdefault(op_id, []).append((method, path, status, relevant))
        if expect is not None and status != expect:
            by_op.setdefault(op_id, []).append((method, path, status, [{"message": f"expected status {expect}",
                                                                          "body": text[:200]}]))
        _ = key
    print(f"driver: {len(RECORDS)} calls over {len(COVERED & implemented)} of {len(implemented)} implemented "
          f"operations")
    for op_id in sorted(by_op):
        print(f"\n  {op_id}")
        seen = set()
        for method, path, status, vs in by_op[op_id]:
            for v in vs:
                loc = ".".join(str(x) for x in v.get("location", []))
                line = f"    {method} {path} → {status}: [{v.get('severity', '')}] {loc}: {v.get('message')}"
                if "body" in v:
                    line += f" — {v['body']}"
                if (loc, v.get("message"), status) in seen:
                    continue
                seen.add((loc, v.get("message"), status))
                print(line)
                failures += 1
    if missing:
        print(f"\n  implemented operations the driver does not call (add them to {Path(__file__).name}): "
              f"{missing}")
        failures += 1
    print(f"\ndriver: {failures} problem(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
