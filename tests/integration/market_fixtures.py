"""Fixtures and helpers for the marketplace tests (test_market*.py): research results, technology
needs, search, matching, subscriptions and webhooks.

Import with `from market_fixtures import *`.

  mk        module-scoped cast (MarketWorld): an admin, a reviewer, org A (a verified university in
            巴州区 511902), org B (a verified enterprise in 通江县 511921), org C (unverified), one
            member of each (dicts with "h" = auth header), and helpers that create listings
  quiet_stats  autouse: search totals are not cached between requests (setting
            search_stats_ttl_s = 0), so a test that writes rows straight into the database sees
            them counted at once; the cache itself is tested with the setting restored

Helpers: result_body(), need_body(), norm() (the search normalisation, in Python), substring
scan over the database (scan_ids), search_all() (pages through /search), counts of rows, and a
tiny HTTP receiver for webhooks (Receiver).
"""

import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from helpers import assert_problem, error_fields, query, wait_until  # noqa: F401  (re-exported)

__all__ = [
    "V1", "credit_code", "uniq", "result_body", "need_body", "MarketWorld", "mk", "quiet_stats", "norm",
    "scan_ids", "search_all", "count", "audit_rows", "etag", "Receiver", "set_setting", "future_date",
    "assert_problem", "error_fields", "query", "wait_until", "urlencode",
]

V1 = "/api/v1"

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_rng = random.SystemRandom()


def credit_code(region="511902"):
    s = "12" + region + "".join(_rng.choice(ALPHABET) for _ in range(9))
    total = sum(ALPHABET.index(c) * w for c, w in zip(s, WEIGHTS))
    return s + ALPHABET[(31 - total % 31) % 31]


def uniq(prefix="t"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def future_date(days=30):
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def result_body(**over):
    """A complete research result (ready to submit)."""
    b = {
        "title": "高能量密度锂离子电池正极材料制备技术",
        "summary": "本成果涉及新能源领域，提出了一种高镍三元正极材料的制备方法，能量密度提高百分之二十。",
        "keywords": ["锂电池", "正极材料"],
        "completers": ["张三", "李四"],
        "domain": "new_energy",
        "industries": ["电池制造"],
        "trl": 6,
        "maturity": "middle",
        "ip_records": [{"type": "patent", "number": "ZL2023 1 0123456.6", "status": "granted"}],
        "transfer_modes": ["transfer", "licence"],
        "pricing_mode": "negotiated",
        "asking_price_fen": 50000000,
        "region_code": "511902",
        "contact": {"name": "王老师", "phone": "0827-5251234", "email": "tt@example.edu.cn"},
    }
    b.update(over)
    return b


def need_body(**over):
    b = {
        "title": "寻求储能电池热管理技术合作",
        "description": "我公司主营储能电站，现有电池热管理方案能耗偏高，希望引进液冷技术。",
        "keywords": ["储能", "电池"],
        "domain": "new_energy",
        "industry": "电力、热力生产和供应业",
        "trl_min": 5,
        "region_code": "511921",
        "budget_min_fen": 10000000,
        "budget_max_fen": 80000000,
        "deadline": future_date(60),
        "cooperation_modes": ["licence", "cooperative_development"],
        "contact": {"name": "刘工", "phone": "13800000000"},
    }
    b.update(over)
    return b


def etag(r):
    return r.headers.get("ETag")


def count(db, table, where="true", *args):
    return query(db, f"SELECT count(*) AS n FROM {table} WHERE {where}", *args)[0]["n"]


def audit_rows(db, entity, entity_id):
    return query(db, "SELECT action, actor_user_id, request_id FROM audit_log WHERE entity = %s AND entity_id = %s"
                     " ORDER BY id", entity, str(entity_id))


def set_setting(db, key, value):
    query(db, "INSERT INTO settings (key, value) VALUES (%s, %s::jsonb) ON CONFLICT (key) DO UPDATE SET value ="
              " excluded.value", key, json.dumps(value))


# --------------------------------------------------------------------------------------
# The search normalisation and a substring scan, in Python (the reference)
# --------------------------------------------------------------------------------------

def norm(s):
    out = []
    for ch in s:
        c = ord(ch)
        if 0xFF01 <= c <= 0xFF5E:
            c -= 0xFEE0
        elif c == 0x3000:
            c = 0x20
        if 0x41 <= c <= 0x5A:
            c += 32
        out.append(chr(c))
    return "".join(out)


def scan_ids(db, q, kind=None, extra=""):
    """(kind, id) of every public listing whose normalised title, keywords or text contains every
    whitespace-separated term of q: the substring match the index must reproduce."""
    terms = [t for t in norm(q).split() if t]
    rows = []
    if kind in (None, "result"):
        rows += [("result", r["id"], r["t"], r["k"], r["s"]) for r in query(
            db, "SELECT id, title AS t, keywords AS k, summary AS s FROM results WHERE status IN ('published',"
                " 'under_notice') AND published_at IS NOT NULL " + extra)]
    if kind in (None, "need"):
        rows += [("need", r["id"], r["t"], r["k"], r["s"]) for r in query(
            db, "SELECT id, title AS t, keywords AS k, description AS s FROM needs WHERE status = 'open'"
                " AND published_at IS NOT NULL AND (deadline IS NULL OR deadline >= (now() AT TIME ZONE"
                " 'Asia/Shanghai')::date) " + extra)]
    out = set()
    for k, i, t, kw, s in rows:
        fields = [norm(t)] + [norm(x) for x in kw] + [norm(s)]
        if all(any(term in f for f in fields) for term in terms):
            out.add((k, i))
    return out


def search_all(api, params, headers=None, limit=100, max_pages=200):
    """Every item of a search, paging with next_cursor; returns (items, first page body)."""
    items, first, cursor = [], None, None
    for _ in range(max_pages):
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        r = api.get(V1 + "/search?" + urlencode(p), headers=headers)
        assert r.status == 200, r
        first = first or r.body
        items += r.body["items"]
        cursor = r.body["next_cursor"]
        if not cursor:
            return items, first
    raise AssertionError("too many pages")


# --------------------------------------------------------------------------------------
# The cast
# --------------------------------------------------------------------------------------

class MarketWorld:
    def __init__(self, api, users, db):
        self.api, self.users, self.db = api, users, db
        self.admin = self._actor(users.create(role="admin"))
        self.reviewer = self._actor(users.create(role="reviewer"))
        self.org_a = self._org("022", "511902", "测试大学 " + uniq(), state_funded=True)
        self.org_b = self._org("150", "511921", "测试科技有限公司 " + uniq())
        self.org_c = self._org("170", "511903", "未认证企业 " + uniq(), verify=False)
        self.a = self._actor(users.create(role="member", org=self.org_a))
        self.a2 = self._actor(users.create(role="member", org=self.org_a))
        self.b = self._actor(users.create(role="member", org=self.org_b))
        self.c = self._actor(users.create(role="member", org=self.org_c))
        self.officer_h = None

    def _actor(self, u):
        u["h"] = self.users.auth(u)
        return u

    def _org(self, org_type, region, name, state_funded=False, verify=True):
        body = {"name": name, "org_type": org_type, "credit_code": credit_code(region), "region_code": region,
                "state_funded": state_funded}
        r = self.api.post(V1 + "/orgs", json=body, headers=self.users.auth(self.admin))
        assert r.status == 201, r
        oid = r.body["id"]
        if verify:
            r = self.api.post(V1 + f"/orgs/{oid}/verify", json={"decision": "verified"},
                              headers=self.users.auth(self.reviewer))
            assert r.status == 200, r
        return oid

    def fresh_member(self, org_type="150", region="511922"):
        """A member of a new verified org of their own (for tests that count what reaches an org)."""
        org = self._org(org_type, region, "独立测试企业 " + uniq())
        m = self._actor(self.users.create(role="member", org=org))
        m["org"] = org
        return m

    # listings through the API
    def create_result(self, who=None, **over):
        r = self.api.post(V1 + "/results", json=result_body(**over), headers=(who or self.a)["h"])
        assert r.status == 201, r
        return r.body

    def create_need(self, who=None, **over):
        r = self.api.post(V1 + "/needs", json=need_body(**over), headers=(who or self.b)["h"])
        assert r.status == 201, r
        return r.body

    def publish_result(self, who=None, **over):
        res = self.create_result(who, **over)
        r = self.api.post(V1 + f"/results/{res['id']}/submit", headers=(who or self.a)["h"])
        assert r.status == 200, r
        r = self.api.post(V1 + f"/results/{res['id']}/approve", headers=self.reviewer["h"])
        assert r.status == 200, r
        return r.body

    def open_need(self, who=None, **over):
        n = self.create_need(who, **over)
        r = self.api.post(V1 + f"/needs/{n['id']}/submit", headers=(who or self.b)["h"])
        assert r.status == 200, r
        r = self.api.post(V1 + f"/needs/{n['id']}/approve", headers=self.reviewer["h"])
        assert r.status == 200, r
        return r.body


@pytest.fixture(scope="module")
def mk(api, users, _db_conn):
    return MarketWorld(api, users, _db_conn)


@pytest.fixture(autouse=True)
def quiet_stats(_db_conn):
    set_setting(_db_conn, "search_stats_ttl_s", 0)
    yield
    set_setting(_db_conn, "search_stats_ttl_s", 10)


# --------------------------------------------------------------------------------------
# A webhook receiver in the test process
# --------------------------------------------------------------------------------------

class Receiver:
    """HTTP server on 127.0.0.1:<free port> recording POSTs. `responses` is a list of status codes
    to answer in turn (then 200); `delay` seconds before answering."""

    def __init__(self, responses=None, delay=0.0):
        self.requests = []
        self.responses = list(responses or [])
        self.delay = delay
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "path": self.path, "at": time.time()})
                    code = outer.responses.pop(0) if outer.responses else 200
                if outer.delay:
                    time.sleep(outer.delay)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/yizhan"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def verify(secret, req):
        sig = req["headers"].get("x-yizhan-signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(","))
        mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + req["body"], hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, parts["v1"])
