"""Helpers shared by the integration tests: an HTTP client over `requests`, a raw-socket
client for framing/smuggling/limit tests, a tolerant HTTP/1.1 response parser, a
Prometheus text-format parser, and the problem+json assertion.

Nothing here starts processes; conftest.py does that.
"""

import json
import math
import os
import re
import socket
import time

import requests
from requests.structures import CaseInsensitiveDict

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# --------------------------------------------------------------------------------------
# High-level client
# --------------------------------------------------------------------------------------

class Resp:
    """A response: unpacks as (status, headers, body); body is parsed JSON when the
    content type is JSON (application/json or */*+json) and parses, else bytes."""

    def __init__(self, status, headers, content, elapsed):
        self.status = status
        self.headers = headers if isinstance(headers, CaseInsensitiveDict) else CaseInsensitiveDict(headers)
        self.content = content
        self.elapsed = elapsed
        self.body = content
        ct = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ct == "application/json" or ct.endswith("+json"):
            try:
                self.body = json.loads(content.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.body = content

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Resp {self.status} {dict(self.headers)!r} {self.content[:300]!r}>"


_NO_JSON = object()


class Api:
    """`api.get/post/patch/put/delete(path, json=..., data=..., headers=...)` → Resp."""

    def __init__(self, base_url, timeout=10.0):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # never route 127.0.0.1 through an env proxy

    def request(self, method, path, json=_NO_JSON, data=None, headers=None, params=None, timeout=None):
        kw = {}
        if json is not _NO_JSON:
            kw["json"] = json
        t0 = time.monotonic()
        r = self.session.request(method, self.base + path, data=data, headers=headers, params=params,
                                 timeout=timeout or self.timeout, allow_redirects=False, **kw)
        return Resp(r.status_code, r.headers, r.content, time.monotonic() - t0)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=_NO_JSON, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=_NO_JSON, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=_NO_JSON, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def close(self):
        self.session.close()


# --------------------------------------------------------------------------------------
# Raw HTTP/1.1
# --------------------------------------------------------------------------------------

def build_request(method, path, headers=None, body=None, host="127.0.0.1", content_length=True):
    """Bytes of one HTTP/1.1 request. `headers` is a list of (name, value) pairs (kept in
    order, duplicates allowed). Content-Length is added for a body unless
    content_length=False or the caller gave Content-Length/Transfer-Encoding."""
    hdrs = list(headers or [])
    names = {n.lower() for n, _ in hdrs}
    if "host" not in names:
        hdrs.insert(0, ("Host", host))
    if body is not None and content_length and "content-length" not in names \
            and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    out = f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
    for n, v in hdrs:
        out += n.encode("latin-1") + b": " + (v if isinstance(v, bytes) else v.encode("latin-1")) + b"\r\n"
    out += b"\r\n"
    if body is not None:
        out += body
    return out


def chunked(*pieces, final=True):
    """Chunked transfer coding of the given byte strings."""
    out = b""
    for p in pieces:
        out += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    if final:
        out += b"0\r\n\r\n"
    return out


class RawResponse:
    def __init__(self, status, reason, header_list, content):
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = CaseInsensitiveDict()
        for n, v in header_list:
            if n in self.headers:
                self.headers[n] = self.headers[n] + ", " + v
            else:
                self.headers[n] = v
        self.content = content
        self.body = content
        ct = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ct == "application/json" or ct.endswith("+json"):
            try:
                self.body = json.loads(content.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                pass

    def __repr__(self):
        return f"<RawResponse {self.status} {self.header_list!r} {self.content[:300]!r}>"


class _Incomplete(Exception):
    pass


def _parse_one(buf, eof):
    """Parse one response from buf → (RawResponse, rest). Raises _Incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        raise _Incomplete
    head = buf[:end].decode("latin-1")
    rest = buf[end + 4:]
    lines = head.split("\r\n")
    m = re.match(r"^HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
    if not m:
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(m.group(1))
    header_list = []
    for ln in lines[1:]:
        if ":" not in ln:
            raise ValueError(f"bad header line {ln!r}")
        n, v = ln.split(":", 1)
        header_list.append((n.strip(), v.strip()))
    hd = {n.lower(): v for n, v in header_list}
    if 100 <= status < 200 or status in (204, 304):
        return RawResponse(status, m.group(2), header_list, b""), rest
    if "chunked" in hd.get("transfer-encoding", "").lower():
        body = b""
        pos = 0
        while True:
            le = rest.find(b"\r\n", pos)
            if le < 0:
                raise _Incomplete
            size = int(rest[pos:le].split(b";")[0].strip(), 16)
            pos = le + 2
            if size == 0:
                te = rest.find(b"\r\n\r\n", pos - 2)
                if te < 0:
                    raise _Incomplete
                return RawResponse(status, m.group(2), header_list, body), rest[te + 4:]
            if len(rest) < pos + size + 2:
                raise _Incomplete
            body += rest[pos:pos + size]
            pos += size + 2
    if "content-length" in hd:
        n = int(hd["content-length"])
        if len(rest) < n:
            raise _Incomplete
        return RawResponse(status, m.group(2), header_list, rest[:n]), rest[n:]
    if not eof:
        raise _Incomplete
    return RawResponse(status, m.group(2), header_list, rest), b""


def parse_responses(buf, eof=False):
    """All complete responses in buf (a 1xx interim response is skipped)."""
    out = []
    while buf:
        try:
            r, buf = _parse_one(buf, eof)
        except _Incomplete:
            break
        if 100 <= r.status < 200:
            continue
        out.append(r)
    return out


class RawResult:
    """Unpacks as (data, closed). `responses` are the complete responses parsed."""

    def __init__(self, data, closed, elapsed):
        self.data = data
        self.closed = closed
        self.elapsed = elapsed
        try:
            self.responses = parse_responses(data, eof=closed)
        except ValueError:
            self.responses = []

    def __iter__(self):
        return iter((self.data, self.closed))

    @property
    def first(self):
        assert self.responses, f"no complete HTTP response received (closed={self.closed}): {self.data[:500]!r}"
        return self.responses[0]

    def __repr__(self):
        return f"<RawResult closed={self.closed} elapsed={self.elapsed:.2f} data={self.data[:500]!r}>"


def raw_exchange(port, data, read_timeout=3.0, wait_close=True, host="127.0.0.1", pieces_delay=None):
    """Send `data` (bytes, or a list of byte strings sent `pieces_delay` seconds apart) on a
    new connection and read until the server closes or read_timeout passes. With
    wait_close=False, return as soon as one complete response has arrived. A reset counts
    as closed. Errors while sending (the server may close early) are ignored."""
    s = socket.create_connection((host, port), timeout=5)
    t0 = time.monotonic()
    buf = b""
    closed = False
    try:
        try:
            if isinstance(data, (list, tuple)):
                for i, p in enumerate(data):
                    if i and pieces_delay:
                        time.sleep(pieces_delay)
                    s.sendall(p)
            else:
                s.sendall(data)
        except OSError:
            pass
        deadline = time.monotonic() + read_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            s.settimeout(remaining)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:  # ECONNRESET and friends
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            if not wait_close:
                try:
                    if parse_responses(buf):
                        break
                except ValueError:
                    break
    finally:
        s.close()
    return RawResult(buf, closed, time.monotonic() - t0)


class RawConn:
    """One persistent connection: send bytes, read responses one at a time."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server")
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk

    def read_response(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                r, rest = _parse_one(self.buf, self.eof)
                self.buf = rest
                if 100 <= r.status < 200:
                    continue
                return r
            except _Incomplete:
                if self.eof:
                    raise ConnectionError(f"server closed the connection; got {self.buf[:300]!r}")
                self._fill(deadline)

    def wait_closed(self, timeout):
        """True if the server closes (EOF/reset) within timeout; extra bytes kept in buf."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except TimeoutError:
                return False
        return True

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------

_LEAK_PATTERNS = [
    re.compile(r"\bselect\b.+\bfrom\b", re.I | re.S),
    re.compile(r"\binsert\s+into\b", re.I),
    re.compile(r"syntax error at or near", re.I),
    re.compile(r"\bSQLSTATE\b"),
    re.compile(r"\bERROR:\s"),
    re.compile(r"relation \"", re.I),
    re.compile(r"violates .* constraint", re.I),
    re.compile(r"<html", re.I),
    re.compile(r"libpq|PQ[a-z]+\(", re.I),
]


def assert_problem(r, status):
    """r: Resp or RawResponse. status: an int or a collection of ints. Returns the body."""
    allowed = (status,) if isinstance(status, int) else tuple(status)
    assert r.status in allowed, f"expected status {allowed}, got {r.status}: {r.content[:500]!r}"
    ct = r.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == "application/problem+json", \
        f"expected application/problem+json, got Content-Type {ct!r}: {r.content[:300]!r}"
    try:
        body = json.loads(r.content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise AssertionError(f"problem body is not JSON ({e}): {r.content[:300]!r}")
    assert isinstance(body, dict), body
    for k in ("type", "title", "detail", "request_id"):
        assert isinstance(body.get(k), str), f"problem member {k!r} missing or not a string: {body}"
    assert isinstance(body.get("status"), int) and not isinstance(body.get("status"), bool), \
        f"problem status must be an integer: {body}"
    assert body["status"] == r.status, f"problem status {body['status']} != HTTP status {r.status}"
    rid = r.headers.get("X-Request-Id")
    assert rid, f"no X-Request-Id header on {r.status} response"
    assert body["request_id"] == rid, f"problem request_id {body['request_id']!r} != X-Request-Id {rid!r}"
    text = r.content.decode("utf-8", "replace")
    for p in _LEAK_PATTERNS:
        assert not p.search(text), f"problem body leaks internals ({p.pattern}): {text[:400]}"
    if "errors" in body:
        assert isinstance(body["errors"], list), body
        for e in body["errors"]:
            for k in ("field", "code", "message"):
                assert isinstance(e.get(k), str), f"errors[] item without string {k!r}: {e}"
    return body


def error_fields(body):
    return [e.get("field") for e in body.get("errors", [])]


def query(conn, sql, *args):
    """Rows as dicts."""
    with conn.cursor() as cur:
        cur.execute(sql, args or None)
        if cur.description is None:
            return []
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


# Under valgrind (tests/valgrind.sh sets YIZHAN_UNDER_VALGRIND=1) the server runs 20-50 times
# slower; tests that bound how long the server takes scale their bounds by SLOW.
UNDER_VALGRIND = os.environ.get("YIZHAN_UNDER_VALGRIND") == "1"
SLOW = 10.0 if UNDER_VALGRIND else 1.0


def wait_until(pred, timeout, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")


# --------------------------------------------------------------------------------------
# Prometheus text exposition format 0.0.4
# --------------------------------------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$")
_LABEL = re.compile(rf'\s*({_LABEL_NAME})\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _parse_value(v):
    if v in ("+Inf", "Inf"):
        return math.inf
    if v == "-Inf":
        return -math.inf
    if v == "NaN":
        return math.nan
    return float(v)  # raises ValueError on junk


def _parse_labels(s, lineno):
    labels = {}
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _LABEL.match(s, pos)
        if not m:
            raise ValueError(f"line {lineno}: bad label syntax in {{{s}}} at {pos}")
        name, val = m.group(1), m.group(2)
        if name in labels:
            raise ValueError(f"line {lineno}: duplicate label {name}")
        labels[name] = val.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        pos = m.end()
        if m.group(3) == "" and pos < len(s):
            raise ValueError(f"line {lineno}: junk after labels")
    return labels


class Metrics:
    def __init__(self, families, samples):
        self.families = families  # name -> {"type", "help"}
        self.samples = samples    # list of (name, labels, value)

    def find(self, name, **labels):
        return [(n, l, v) for n, l, v in self.samples
                if n == name and all(l.get(k) == str(val) for k, val in labels.items())]

    def value(self, name, **labels):
        found = self.find(name, **labels)
        assert found, f"no sample {name}{labels} in metrics"
        return sum(v for _, _, v in found)


def parse_prometheus(text, strict=True):
    """Parse and validate Prometheus text format; raises ValueError on a violation.
    strict=False only parses (no duplicate-series or histogram checks)."""
    if text and not text.endswith("\n"):
        raise ValueError("exposition must end with a newline")
    families = {}
    samples = []
    seen_samples_of = set()
    seen_series = set()
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(rf"^#\s+(HELP|TYPE)\s+({_NAME})(?:\s+(.*))?$", line)
            if not m:
                continue  # plain comment
            kind, name, rest = m.group(1), m.group(2), (m.group(3) or "")
            fam = families.setdefault(name, {"type": None, "help": None})
            if kind == "TYPE":
                if rest.strip() not in _TYPES:
                    raise ValueError(f"line {lineno}: unknown type {rest!r}")
                if fam["type"] is not None:
                    raise ValueError(f"line {lineno}: second TYPE line for {name}")
                if name in seen_samples_of:
                    raise ValueError(f"line {lineno}: TYPE for {name} after its samples")
                fam["type"] = rest.strip()
            else:
                if fam["help"] is not None:
                    raise ValueError(f"line {lineno}: second HELP line for {name}")
                fam["help"] = rest
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {lineno}: bad sample line {line!r}")
        name, lbl, val = m.group(1), m.group(2), m.group(3)
        labels = _parse_labels(lbl, lineno) if lbl else {}
        try:
            value = _parse_value(val)
        except ValueError:
            raise ValueError(f"line {lineno}: bad value {val!r}")
        key = (name, tuple(sorted(labels.items())))
        if strict and key in seen_series:
            raise ValueError(f"line {lineno}: duplicate series {name}{labels} (two samples with the same "
                             f"name and label set)")
        seen_series.add(key)
        samples.append((name, labels, value))
        seen_samples_of.add(family_of(name, families))
    # histogram rules
    for fname, fam in families.items():
        if not strict:
            break
        if fam["type"] != "histogram":
            continue
        groups = {}
        for n, l, v in samples:
            if n == fname + "_bucket":
                if "le" not in l:
                    raise ValueError(f"{n} sample without le label")
                key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
                groups.setdefault(key, []).append((_parse_value(l["le"]), v))
        counts = {tuple(sorted(l.items())): v for n, l, v in samples if n == fname + "_count"}
        sums = {tuple(sorted(l.items())) for n, l, v in samples if n == fname + "_sum"}
        if not groups:
            raise ValueError(f"histogram {fname} has no buckets")
        for key, buckets in groups.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                raise ValueError(f"histogram {fname}{dict(key)} does not end in le=\"+Inf\"")
            for (_, a), (_, b) in zip(buckets, buckets[1:]):
                if b < a:
                    raise ValueError(f"histogram {fname}{dict(key)} buckets not cumulative")
            if key not in counts:
                raise ValueError(f"histogram {fname}{dict(key)} has no _count")
            if counts[key] != buckets[-1][1]:
                raise ValueError(f"histogram {fname}{dict(key)}: +Inf bucket {buckets[-1][1]} != _count {counts[key]}")
            if key not in sums:
                raise ValueError(f"histogram {fname}{dict(key)} has no _sum")
    return Metrics(families, samples)


def family_of(sample_name, families):
    if sample_name in families:
        return sample_name
    for suf in ("_bucket", "_sum", "_count", "_total", "_created"):
        if sample_name.endswith(suf) and sample_name[: -len(suf)] in families:
            return sample_name[: -len(suf)]
    return sample_name


# --------------------------------------------------------------------------------------
# Many clients at once
# --------------------------------------------------------------------------------------

def hammer(port, plans, timeout=60.0):
    """Run one keep-alive connection per plan, all at once, from one asyncio loop (threads
    and `requests` are too slow to keep a server's pipeline full). A plan is a list of
    (tag, request bytes) sent one after another, each after the previous answer. Returns
    [(client index, tag, RawResponse)] in the order the answers arrived; a connection that
    fails raises."""
    import asyncio

    out = []

    async def client(k, plan):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        buf = b""
        try:
            for tag, data in plan:
                writer.write(data)
                await writer.drain()
                while True:
                    try:
                        r, buf = _parse_one(buf, False)
                    except _Incomplete:
                        chunk = await reader.read(65536)
                        if not chunk:
                            raise ConnectionError(f"client {k}: closed before answering {tag}")
                        buf += chunk
                        continue
                    if 100 <= r.status < 200:
                        continue
                    out.append((k, tag, r))
                    break
        finally:
            writer.close()

    async def main():
        await asyncio.wait_for(asyncio.gather(*(client(k, p) for k, p in enumerate(plans))), timeout)

    asyncio.run(main())
    return out
