"""Shared pieces of the spec-driven sweeps (test_authz_sweep.py, test_injection.py) and the
robustness tests (test_abuse.py, test_crash.py).

Import with `from sweep_fixtures import *` (fixtures are then visible to that module only).

Spec (api/openapi.yaml, parsed with Debian's python3-yaml):
  load_spec()           the document (cached)
  spec_ops(status=...)  [SpecOp]: method, path, op_id, op, responses (set of str), public
                        (`security: []`), params (resolved), body_schema (JSON request body or None)
  resolve(node)         follows a $ref
  string_fields(schema) dotted paths of every string-typed field of a request schema, nested
                        objects, oneOf/anyOf/allOf branches and first array items included
  fill_path(template, ctx)

Database:
  fingerprint(db, tables)  per table: row count, max(updated_at), sum(version) when the columns
                           exist, and an md5 of every row; plus the audit_log count and max(id)

Fixtures:
  clean_rate_limits     autouse: empties rate_limits around every test (everything comes from
                        127.0.0.1, so the per-address login/registration counters would leak)
  sdb                   the main database (autocommit)
  sworld                module-scoped cast, everything in a county nobody else uses:
                        office X (own, with a signing key) and office Y (another), verified orgs
                        A (seller, 022), B (another org) and C (buyer), one caller per role and
                        scope (see CALLERS), a spare office, a target user, a login user; and
                        factories for contracts in every state (w.contract(...)), pending orgs,
                        fresh users and refresh tokens.
"""

import datetime
import functools
import json
import re
import secrets
import time
import uuid
from pathlib import Path

import pytest
import yaml

from helpers import query
from contract_fixtures import contract_body, keygen, new_office, new_org, today, uniq  # noqa: F401

__all__ = [
    "REPO", "V1", "SPEC_PATH", "CALLERS", "ROLE_OF", "OTHER_SCOPE", "ROLES", "load_spec", "resolve", "SpecOp",
    "spec_ops", "string_fields", "fill_path", "set_path", "get_path", "fingerprint", "PDF", "clean_rate_limits",
    "sdb", "sworld", "SweepWorld", "uniq", "email", "password", "org_body", "query",
]

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "api" / "openapi.yaml"
V1 = "/api/v1"

# Every caller of the sweeps.  *_a callers share the object's organisation / office / region;
# *_b callers are the same roles in another organisation / office / region.
CALLERS = ["anon", "member_a", "member_b", "broker_a", "broker_b", "reviewer", "officer_a", "officer_b",
           "bureau_a", "bureau_b", "admin"]
ROLE_OF = {c: c.split("_")[0] for c in CALLERS}
OTHER_SCOPE = {"member_b", "broker_b", "officer_b", "bureau_b"}
ROLES = ("member", "broker", "reviewer", "officer", "bureau", "admin")

# A minimal PDF (the server judges attachments by their magic number).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# --------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def load_spec():
    # libyaml's loader when PyYAML has it: 0.8 MB of spec in ~3 s instead of ~20 s under load
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def resolve(node, spec=None):
    spec = spec or load_spec()
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"external $ref not supported: {ref}"
        cur = spec
        for part in ref[2:].split("/"):
            cur = cur[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**cur, **extra} if extra else cur
        seen += 1
        assert seen < 50, f"$ref loop at {ref}"
    return node


class SpecOp:
    def __init__(self, method, path, item, op, spec):
        self.method = method.upper()
        self.path = path
        self.op = op
        self.item = item
        self.op_id = op.get("operationId") or f"{self.method} {path}"
        self.status = op.get("x-status")
        self.responses = {str(k) for k in op.get("responses", {})}
        sec = op.get("security", spec.get("security"))
        self.public = sec == [] or (isinstance(sec, list) and {} in sec)
        self.optional_auth = isinstance(sec, list) and {} in sec and len(sec) > 1
        params = {}
        for p in item.get("parameters", []) + op.get("parameters", []):
            p = resolve(p, spec)
            params[(p["in"], p["name"])] = p
        self.params = list(params.values())
        self.body_schema = None
        self.body_types = []
        rb = op.get("requestBody")
        if rb:
            rb = resolve(rb, spec)
            self.body_types = list(rb.get("content", {}))
            js = rb.get("content", {}).get("application/json")
            if js is not None:
                self.body_schema = js.get("schema", {})
        self.description = op.get("description", "") or ""

    @property
    def query_params(self):
        return [p for p in self.params if p["in"] == "query"]

    @property
    def path_params(self):
        return [p for p in self.params if p["in"] == "path"]

    def success_statuses(self):
        return sorted(int(s) for s in self.responses if s.isdigit() and 200 <= int(s) < 300)

    def __repr__(self):
        return f"<{self.method} {self.path} {self.op_id} {self.status}>"


def spec_ops(status=None, spec=None):
    spec = spec or load_spec()
    out = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "put", "post", "patch", "delete", "head", "options"):
                continue
            so = SpecOp(method, path, item, op, spec)
            if status is None or so.status == status:
                out.append(so)
    return out


def _types(schema):
    t = schema.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


def string_fields(schema, prefix="", spec=None, depth=0, branch=None):
    """[(dotted path, branch index or None)] of string-typed fields.  Arrays contribute their
    first item as `<name>.0`; a oneOf/anyOf branch index is kept (the first level that has one)."""
    spec = spec or load_spec()
    if depth > 12 or schema is None:
        return []
    schema = resolve(schema, spec)
    out = []
    for sub in schema.get("allOf", []):
        out += string_fields(sub, prefix, spec, depth + 1, branch)
    for key in ("oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key, [])):
            out += string_fields(sub, prefix, spec, depth + 1, branch if branch is not None else i)
    types = _types(schema)
    if "string" in types and prefix:
        out.append((prefix, branch))
    if "object" in types or "properties" in schema:
        for name, sub in (schema.get("properties") or {}).items():
            out += string_fields(sub, f"{prefix}.{name}" if prefix else name, spec, depth + 1, branch)
    if "array" in types and isinstance(schema.get("items"), dict):
        out += string_fields(schema["items"], f"{prefix}.0" if prefix else "0", spec, depth + 1, branch)
    # de-duplicate, keeping the first branch seen
    seen, uniq_out = set(), []
    for p, b in out:
        if p not in seen:
            seen.add(p)
            uniq_out.append((p, b))
    return uniq_out


def fill_path(template, ctx):
    def sub(m):
        name = m.group(1)
        assert name in ctx, f"no value for path parameter {{{name}}} of {template} (have {sorted(ctx)})"
        return str(ctx[name])
    return re.sub(r"\{([^}]+)\}", sub, template)


def set_path(obj, dotted, value):
    """Set obj[a][b]... creating objects (or a one-item list for a digit) on the way."""
    parts = dotted.split(".")
    cur = obj
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(cur, list):
            idx = int(part)
            while len(cur) <= idx:
                cur.append([] if nxt_is_index else {})
            if not isinstance(cur[idx], (dict, list)):
                cur[idx] = [] if nxt_is_index else {}
            cur = cur[idx]
        else:
            if not isinstance(cur.get(part), (dict, list)):
                cur[part] = [] if nxt_is_index else {}
            cur = cur[part]
    last = parts[-1]
    if isinstance(cur, list):
        idx = int(last)
        while len(cur) <= idx:
            cur.append(None)
        cur[idx] = value
    else:
        cur[last] = value
    return obj


def get_path(obj, dotted, default=None):
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return default
    return cur


# --------------------------------------------------------------------------------------
# Database fingerprints
# --------------------------------------------------------------------------------------

_COLS = {}


def _columns(db, table):
    if table not in _COLS:
        _COLS[table] = {r["column_name"] for r in query(
            db, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = %s", table)}
    return _COLS[table]


def fingerprint(db, tables):
    """What a refused write must leave unchanged in `tables` (plus the audit log)."""
    out = {}
    for t in sorted(set(tables) | {"audit_log"}):
        cols = _columns(db, t)
        if not cols:
            continue
        parts = ["count(*) AS n"]
        if "updated_at" in cols:
            parts.append("max(updated_at)::text AS max_updated")
        if "version" in cols:
            parts.append("sum(version)::text AS sum_version")
        if t == "audit_log":
            parts.append("max(id) AS max_id")
        else:
            parts.append("md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS rows_md5")
        out[t] = query(db, f"SELECT {', '.join(parts)} FROM {t} x")[0]
    return out


# --------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------

def email(prefix="sw"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


def password():
    return "Pw-" + secrets.token_urlsafe(12)


ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(region):
    import random
    rng = random.SystemRandom()
    s = rng.choice("123456789ABCDEFGY") + rng.choice(ALPHABET) + region + \
        "".join(rng.choice(ALPHABET) for _ in range(9))
    total = sum(ALPHABET.index(c) * w for c, w in zip(s, WEIGHTS))
    return s + ALPHABET[(31 - total % 31) % 31]


def org_body(region, **over):
    b = {"name": "扫描单位 " + uniq("org"), "org_type": "150", "credit_code": credit_code(region),
         "region_code": region}
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------

def _clear_rate_limits(conn):
    with conn.cursor() as cur:
        cur.execute("DELETE FROM rate_limits")


@pytest.fixture(autouse=True)
def clean_rate_limits(_db_conn):
    _clear_rate_limits(_db_conn)
    yield
    _clear_rate_limits(_db_conn)


@pytest.fixture(scope="module")
def sdb(_db_conn):
    return _db_conn


class SweepWorld:
    """The cast of the sweeps.  Callers log in lazily and again after 10 minutes (tokens live 15)."""

    def __init__(self, api, users, stack, db):
        self.api = api
        self.users = users
        self.stack = stack
        self.db = db
        self._tokens = {}
        self._shared = {}
        _clear_rate_limits(db)
        self.office_a = new_office(db, name="扫描登记处甲 " + uniq())
        self.office_b = new_office(db, name="扫描登记处乙 " + uniq())
        self.office_spare = new_office(db, name="扫描登记处备 " + uniq())
        self.key_a = keygen(stack, self.office_a["id"])
        self.region = self.office_a["region_code"]
        self.org_a = new_org(db, self.region, org_type="022", name="扫描大学甲 " + uniq())
        self.org_b = new_org(db, self.region, org_type="150", name="扫描公司乙 " + uniq())
        self.org_c = new_org(db, self.region, org_type="150", name="扫描公司丙 " + uniq())
        self.org_d = new_org(db, self.region, org_type="022", name="扫描国有大学丁 " + uniq())  # state-funded
        query(db, "UPDATE orgs SET state_funded = true WHERE id = %s", self.org_d["id"])
        other_province = "110000" if not self.region.startswith("11") else "510000"
        self.accounts = {
            "member_a": self._user("member", org=self.org_a["id"]),
            "member_b": self._user("member", org=self.org_b["id"]),
            "broker_a": self._user("broker", org=self.org_a["id"]),
            "broker_b": self._user("broker", org=self.org_b["id"]),
            "reviewer": self._user("reviewer"),
            "officer_a": self._user("officer", office=self.office_a["id"]),
            "officer_b": self._user("officer", office=self.office_b["id"]),
            "bureau_a": self._user("bureau", region=self.region),
            "bureau_b": self._user("bureau", region=other_province),
            "admin": self._user("admin"),
        }
        self.accounts["member_c"] = self._user("member", org=self.org_c["id"])  # the other side of deals
        self.accounts["member_d"] = self._user("member", org=self.org_d["id"])  # accepts the price of a notice
        self.target = self._user("reviewer")     # a user the admin routes act on
        self.accounts["pw_user"] = self._user("reviewer")  # changes its password (injection sweep)
        self.login_user = self._user("reviewer")  # signs in for the auth routes
        self.year = today(db).year
        self.refusal_ground = query(db, "SELECT code FROM codes WHERE list = 'refusal_grounds' AND active "
                                        "ORDER BY sort, code LIMIT 1")[0]["code"]
        _clear_rate_limits(db)

    # ---- accounts
    def _user(self, role, **kw):
        u = self.users.create(role=role, **kw)
        u["id"] = int(u["id"])
        return u

    def login(self, user):
        _clear_rate_limits(self.db)
        r = self.api.post(f"{V1}/auth/login", json={"email": user["email"], "password": user["password"]})
        assert r.status == 200, f"login of {user['email']} failed: {r!r}"
        return r.body

    def h(self, caller):
        """Headers for a caller ("anon" → none)."""
        if caller == "anon":
            return {}
        tok = self._tokens.get(caller)
        if tok is None or time.monotonic() - tok[1] > 600:
            body = self.login(self.accounts[caller])
            tok = (body["access_token"], time.monotonic())
            self._tokens[caller] = tok
        return {"Authorization": f"Bearer {tok[0]}"}

    def password_changed(self, caller, new):
        self.accounts[caller]["password"] = new
        self._tokens.pop(caller, None)

    def user(self, caller):
        return self.accounts[caller]

    def refresh_token(self):
        return self.login(self.login_user)["refresh_token"]

    # ---- objects
    def shared(self, key, factory):
        if key not in self._shared:
            self._shared[key] = factory()
        return self._shared[key]

    def reopen_closes(self, year, region):
        """Reopen (by SQL) any open year-end close of year for region, so the next close can be made."""
        with self.db.cursor() as cur:
            cur.execute("UPDATE stats_closes SET reopened_at = now(), reopen_reason = '扫描' WHERE year = %s"
                        " AND region_code = %s AND reopened_at IS NULL", (year, region))
        return True

    def stats_close(self, year, region):
        """An open year-end close of year for region (made by SQL, any open one reopened first): its id."""
        self.reopen_closes(year, region)
        return query(self.db, "INSERT INTO stats_closes (year, region_code, note) VALUES (%s, %s, '扫描')"
                              " RETURNING id", year, region)[0]["id"]

    def pending_org(self):
        o = new_org(self.db, self.region, verified=False, org_type="150", name="待核验单位 " + uniq())
        return o

    def fresh_user(self, role="reviewer"):
        return self._user(role)

    def free_region(self):
        # not 青海 (63): test_year_close.py asserts its 2025 totals exactly
        rows = query(self.db, "SELECT code FROM regions r WHERE level = 3 AND code NOT LIKE '11%%' "
                              "AND code NOT LIKE '31%%' AND code NOT LIKE '63%%' AND NOT EXISTS (SELECT 1 FROM registry_offices f "
                              "WHERE f.region_code = r.code AND f.active) ORDER BY random() LIMIT 1")
        return rows[0]["code"].strip()

    def contract_body(self, **over):
        return contract_body(self.db, self.org_a, self.org_c, **over)

    def contract(self, state="draft", attachment=False, pending=None, body=None):
        """A contract of org A (seller) and org C (buyer) in `state` (draft, submitted, returned,
        registered), with one PDF attachment when asked, and a pending `amend`/`cancel` request."""
        api, ma = self.api, self.h("member_a")
        r = api.post(f"{V1}/contracts", json=body or self.contract_body(), headers=ma)
        assert r.status == 201, r
        c = {"id": r.body["id"], "version": r.body.get("version")}
        if attachment:
            r = api.post(f"{V1}/contracts/{c['id']}/attachments?filename=scan.pdf", data=PDF,
                         headers={**ma, "Content-Type": "application/pdf"})
            assert r.status == 201, r
            c["aid"] = r.body["id"]
        if state in ("submitted", "returned", "registered"):
            r = api.post(f"{V1}/contracts/{c['id']}/submit", headers=ma)
            assert r.status == 200, r
        if state == "returned":
            r = api.post(f"{V1}/contracts/{c['id']}/return", json={"reason": "请补正"}, headers=self.h("officer_a"))
            assert r.status == 200, r
        if state == "registered":
            r = api.post(f"{V1}/contracts/{c['id']}/register", json={"no_scan_reason": "扫描测试：未附扫描件"},
                         headers=self.h("officer_a"))
            assert r.status == 200, r
            c["registration_no"] = r.body["registration_no"]
        if pending:
            b = {"reason": "变更请求"}
            if pending == "amend":
                b["changes"] = {"title": "变更后的合同 " + uniq()}
            r = api.post(f"{V1}/contracts/{c['id']}/{pending}", json=b, headers=ma)
            assert r.status == 200, r
            c["change_id"] = r.body["pending_change"]["id"]
        return c

    def clear_limits(self):
        _clear_rate_limits(self.db)

    def certificate_page(self, cid, fmt="html"):
        """GET the certificate (retrying a 503 while the server re-reads its key directory)."""
        deadline = time.monotonic() + 5
        while True:
            r = self.api.get(f"{V1}/contracts/{cid}/certificate" + (f"?format={fmt}" if fmt else ""),
                             headers=self.h("admin"))
            if r.status != 503 or time.monotonic() > deadline:
                return r
            time.sleep(0.25)

    # ---- marketplace deals (results are made by SQL, as test_deals.py does)
    def result(self, org=None, pricing="negotiated", price=5_000_000, status="published"):
        """A complete research result of org A (by default) in `status`."""
        org = org or self.org_a
        return query(self.db, """
            INSERT INTO results (holder_org_id, title, summary, domain, trl, region_code, status, submitted_at,
                                 published_at, pricing_mode, asking_price_fen, transfer_modes, keywords)
            VALUES (%s, %s, '扫描测试用的技术成果。', 'agriculture', 6, (SELECT region_code FROM orgs WHERE id = %s),
                    %s, CASE WHEN %s <> 'draft' THEN now() END,
                    CASE WHEN %s IN ('published', 'under_notice', 'transacted', 'withdrawn') THEN now() END,
                    %s, %s, ARRAY['transfer'], ARRAY['节水灌溉'])
            RETURNING id, title""", org["id"], "扫描成果 " + uniq("r"), org["id"], status, status, status,
                     pricing, price)[0]

    def need(self, org=None, status="open"):
        """A complete technology need of org A (by default) in `status`, deadline in 60 days."""
        org = org or self.org_a
        return query(self.db, """
            INSERT INTO needs (org_id, title, description, domain, region_code, status, submitted_at, published_at,
                               deadline, cooperation_modes, keywords)
            VALUES (%s, %s, '扫描测试用的技术需求。', 'agriculture', (SELECT region_code FROM orgs WHERE id = %s), %s,
                    CASE WHEN %s <> 'draft' THEN now() END,
                    CASE WHEN %s IN ('open', 'matched', 'closed', 'expired') THEN now() END,
                    current_date + 60, ARRAY['transfer'], ARRAY['节水灌溉'])
            RETURNING id, title""", org["id"], "扫描需求 " + uniq("n"), org["id"], status, status, status)[0]

    def clear_subscriptions(self, caller="member_a"):
        """Saved searches per user are capped (409 too_many): start from none."""
        query(self.db, "DELETE FROM subscriptions WHERE user_id = %s", self.accounts[caller]["id"])

    def subscription(self, caller="member_a"):
        self.clear_subscriptions(caller)
        r = self.api.post(f"{V1}/subscriptions", json={"name": "订阅 " + uniq(), "q": "节水灌溉"},
                          headers=self.h(caller))
        assert r.status == 201, r
        return {"id": r.body["id"]}

    def notification(self, caller="member_a"):
        r = self.result(self.org_c)
        return query(self.db, "INSERT INTO notifications (user_id, kind, ref_kind, ref_id, title)"
                              " VALUES (%s, 'subscription_match', 'result', %s, %s) RETURNING id",
                     self.accounts[caller]["id"], r["id"], r["title"])[0]

    def inquiry(self, result=None, broker=None):
        """An open inquiry: org C asks about a result of org A (A sells, C buys), naming `broker` (a caller
        name) when given: that broker then waits for org A's consent."""
        r = result or self.result()
        body = {"result_id": r["id"], "message": "有意受让，请洽谈"}
        if broker:
            body["broker_user_id"] = self.user(broker)["id"]
        resp = self.api.post(f"{V1}/inquiries", json=body, headers=self.h("member_c"))
        assert resp.status == 201, resp
        return {"id": resp.body["id"], "result_id": r["id"]}

    def notice(self):
        """An active public notice: org A agrees to buy a result of the state-funded university D."""
        r = self.result(self.org_d)
        resp = self.api.post(f"{V1}/inquiries", json={"result_id": r["id"], "message": "有意受让", "price_fen": 3_000_000},
                             headers=self.h("member_a"))
        assert resp.status == 201, resp
        a = self.api.post(f"{V1}/inquiries/{resp.body['id']}/agree", json={"price_fen": 3_000_000},
                          headers=self.h("member_d"))
        assert a.status == 200 and a.body.get("notice"), a
        return {"id": a.body["notice"]["id"]}

    def objection(self):
        n = self.shared("notice", self.notice)
        r = self.api.post(f"{V1}/notices/{n['id']}/objections", json={"name": "异议人", "contact": "13800000000",
                                                                        "body": "价格偏低"})
        assert r.status == 201, r
        return {"id": n["id"], "oid": r.body["id"]}

    def auction(self, opened=True):
        """A published result of org A offered by auction, with an open auction when asked."""
        r = self.result(pricing="auction", price=None)
        if opened:
            resp = self.api.post(f"{V1}/results/{r['id']}/auction", json=self.auction_body(),
                                 headers=self.h("member_a"))
            assert resp.status == 201, resp
        return {"id": r["id"]}

    @staticmethod
    def auction_body():
        ends = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).replace(microsecond=0)
        return {"reserve_fen": 1_000_000, "increment_fen": 10_000, "ends_at": ends.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def certificate(self):
        def make():
            c = self.contract("registered")
            r = self.certificate_page(c["id"], fmt=None)
            assert r.status == 200, r
            c["certificate"] = r.body
            return c
        return self.shared("certificate", make)


@pytest.fixture(scope="module")
def sworld(api, users, stack, sdb):
    return SweepWorld(api, users, stack, sdb)


def today_iso(db):
    return today(db).isoformat()


def now_cn_date():
    return (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).date()


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)
