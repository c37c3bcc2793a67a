"""Operational endpoints, routing errors, request ids, metrics, access log, shutdown."""

import json
import math
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import psycopg2
import pytest

from conftest import REPO
from helpers import (SANE_REQUEST_ID, UNDER_VALGRIND, Api, RawConn, assert_problem, build_request, parse_prometheus,
                     query, wait_until)


# ---------------------------------------------------------------- health and static

def test_livez(api):
    r = api.get("/livez")
    assert r.status == 200, r
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert r.body["status"] == "ok"


def test_readyz_when_database_up_and_migrated(api):
    r = api.get("/readyz")
    assert r.status == 200, r
    assert r.body["status"] == "ready"


def test_openapi_spec_served_verbatim(api, server):
    spec = REPO / "api" / "openapi.yaml"
    assert spec.exists(), "api/openapi.yaml does not exist in the repo"
    r = api.get("/api/openapi.yaml")
    assert r.status == 200, r
    # the server may read the file once at start: accept the bytes it had then or has now
    assert r.content in (spec.read_bytes(), server.spec_at_start), \
        f"GET /api/openapi.yaml ({len(r.content)} bytes) differs from api/openapi.yaml"


def test_docs_page_is_html(api):
    r = api.get("/docs")
    assert r.status == 200, r
    assert r.headers["Content-Type"].split(";")[0].strip().lower() == "text/html"


# ---------------------------------------------------------------- browser security headers

def _csp(r):
    return {d.split()[0]: d.split()[1:] for d in (x.strip() for x in r.headers["Content-Security-Policy"].split(";")) if d}


@pytest.mark.parametrize("path", ["/", "/index.html", "/app/main.js", "/app/style.css", "/favicon.svg", "/docs",
                                  "/docs/docs.js", "/api/openapi.yaml"])
def test_web_files_carry_the_security_headers(api, path):
    r = api.get(path)
    assert r.status == 200, r
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    pp = r.headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in pp, pp
    csp = _csp(r)
    assert csp["frame-ancestors"] == ["'none'"], csp
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"], csp
    script = csp["script-src"]
    assert "'self'" in script and "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, script
    assert all(s in ("'self'", "'unsafe-hashes'") or s.startswith("'sha256-") for s in script), script
    # a 304 carries them too
    r2 = api.get(path, headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status == 304 and r2.headers["Content-Security-Policy"] == r.headers["Content-Security-Policy"]


def _importmap_hash():
    """index.html's import map is inline (an import map cannot be a separate file): the
    policy allows exactly its SHA-256, which the server computes from the file it serves.
    Any other inline script in the page would be refused by the browser."""
    import base64
    import hashlib
    import re as _re
    from conftest import REPO
    html = (REPO / "web" / "index.html").read_text()
    maps = _re.findall(r'<script type="importmap">(.*?)</script>', html, _re.S)
    assert len(maps) == 1
    others = [m for m in _re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) if "importmap" not in m]
    assert not others, f"inline scripts the policy refuses: {others}"
    return "'sha256-" + base64.b64encode(hashlib.sha256(maps[0].encode()).digest()).decode() + "'"


def test_app_policy_allows_only_the_import_map_and_the_print_button_inline(api):
    """Two inline pieces, each by its hash: the import map, and the certificate page's print
    button (`window.print()`, an event handler, hence 'unsafe-hashes'), which the front end
    shows in a frame that inherits its policy."""
    import base64
    import hashlib
    printer = "'sha256-" + base64.b64encode(hashlib.sha256(b"window.print()").digest()).decode() + "'"
    assert _csp(api.get("/"))["script-src"] == ["'self'", _importmap_hash(), "'unsafe-hashes'", printer]


def test_docs_page_has_redocs_policy(api):
    csp = _csp(api.get("/docs"))
    assert "blob:" in csp["worker-src"] and "'unsafe-inline'" in csp["style-src"], csp
    assert csp["script-src"] == ["'self'"], csp


# ---------------------------------------------------------------- routing errors

@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/registry", "/no/such/page.html"])
def test_unknown_path_is_404_problem(api, path):
    r = api.get(path)
    assert_problem(r, 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/livez", "GET"),
    ("POST", "/api/v1/codes/domains", "GET"),
    ("PUT", "/readyz", "GET"),
    ("GET", "/api/v1/auth/login", "POST"),
])
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    r = api.request(method, path, json={})
    assert_problem(r, 405)
    allow = r.headers.get("Allow")
    assert allow, f"405 without an Allow header: {r!r}"
    methods = {m.strip().upper() for m in allow.split(",")}
    assert allowed in methods, f"Allow: {allow!r} does not list {allowed}"
    assert method not in methods, f"Allow: {allow!r} lists the refused method {method}"


def test_405_allow_lists_every_method_of_the_path(api):
    r = api.delete("/api/v1/orgs")
    assert_problem(r, 405)
    methods = {m.strip().upper() for m in r.headers.get("Allow", "").split(",")}
    assert {"GET", "POST"} <= methods, f"Allow: {r.headers.get('Allow')!r} should list GET and POST"


# ---------------------------------------------------------------- request ids

def test_request_id_echoed_when_sane(api):
    rid = "test-" + uuid.uuid4().hex + ".A_b"
    r = api.get("/livez", headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid


@pytest.mark.parametrize("bad", ["has space", "a" * 65, "semi;colon", "quote\"d", "ü-nicode".encode("utf-8")])
def test_request_id_replaced_when_not_sane(api, bad):
    r = api.get("/livez", headers={"X-Request-Id": bad})
    got = r.headers.get("X-Request-Id")
    assert got, r
    sent = bad.decode("latin-1") if isinstance(bad, bytes) else bad
    assert got != sent, "an unsafe X-Request-Id was echoed back"
    assert SANE_REQUEST_ID.match(got), f"generated request id {got!r} is not [A-Za-z0-9._-]{{1,64}}"


def test_request_id_generated_and_unique(api):
    ids = {api.get("/livez").headers.get("X-Request-Id") for _ in range(5)}
    assert None not in ids
    assert len(ids) == 5, f"generated request ids repeat: {ids}"
    for i in ids:
        assert SANE_REQUEST_ID.match(i), i


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/codes/domains", None),
    ("GET", "/livez", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("GET", "/docs", None),
    ("GET", "/api/openapi.yaml", None),
    ("GET", "/", None),
    ("GET", "/api/v1/nope", None),
    ("DELETE", "/livez", None),
    ("POST", "/api/v1/auth/login", b"{not json"),
])
def test_every_response_has_request_id(api, method, path, body):
    r = api.request(method, path, data=body, headers={"Content-Type": "application/json"} if body else None)
    assert SANE_REQUEST_ID.match(r.headers.get("X-Request-Id", "")), r


def test_request_id_on_framing_error(raw):
    req = build_request("POST", "/api/v1/auth/login",
                        [("Content-Type", "application/json"), ("Content-Length", "2"), ("Content-Length", "2")],
                        body=b"{}")
    res = raw(req)
    assert SANE_REQUEST_ID.match(res.first.headers.get("X-Request-Id", "")), res.first


# ---------------------------------------------------------------- metrics

def _metrics(api):
    r = api.get("/metrics")
    assert r.status == 200, r
    ct = r.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip() == "text/plain", ct
    assert "version=0.0.4" in ct.replace(" ", ""), f"Content-Type {ct!r} lacks version=0.0.4"
    return r.content.decode("utf-8")


def test_metrics_format_is_valid_prometheus_text(api):
    api.get("/api/v1/codes/domains")
    api.get("/api/v1/nope")
    # one path, two methods (two routes): their series must still be distinct
    api.get("/api/v1/orgs")
    api.post("/api/v1/orgs", json={})
    text = _metrics(api)
    m = parse_prometheus(text)  # raises on a syntax or histogram violation
    for fam in ("yizhan_http_request_duration_seconds", "yizhan_db_queue_depth", "yizhan_db_connections"):
        assert fam in m.families, f"no # TYPE/# HELP for {fam}"
        assert m.families[fam]["type"], f"no # TYPE line for {fam}"
        assert m.families[fam]["help"] is not None, f"no # HELP line for {fam}"
    counter = "yizhan_http_requests_total"
    fam = counter if counter in m.families else "yizhan_http_requests"
    assert fam in m.families and m.families[fam]["type"] == "counter", \
        f"yizhan_http_requests_total must be declared with # TYPE ... counter: {m.families.get(fam)}"
    assert m.families[fam]["help"] is not None
    assert m.families["yizhan_http_request_duration_seconds"]["type"] == "histogram"
    assert m.families["yizhan_db_queue_depth"]["type"] == "gauge"
    assert m.families["yizhan_db_connections"]["type"] == "gauge"


def test_event_loops_default_to_half_the_cores_the_process_may_use(spawn):
    """YIZHAN_THREADS=0 (the default) resolves to one loop per two CPUs of the
    affinity mask, at least one; a number is taken as given.  The mask is the
    one the server inherits: narrowed to one CPU, as taskset or a container
    would, the server must run one loop even on a machine with many cores."""
    import os

    def loops(srv):
        m = parse_prometheus(_metrics(srv.api), strict=False)
        assert m.families["yizhan_event_loops"]["type"] == "gauge"
        return m.value("yizhan_event_loops")

    cpus = os.sched_getaffinity(0)
    srv = spawn({"YIZHAN_THREADS": "0"})
    assert loops(srv) == max(1, len(cpus) // 2), f"affinity {sorted(cpus)}"
    srv.stop()
    srv = spawn({"YIZHAN_THREADS": "3"})
    assert loops(srv) == 3
    srv.stop()
    os.sched_setaffinity(0, {min(cpus)})
    try:
        srv = spawn({"YIZHAN_THREADS": "0"})
    finally:
        os.sched_setaffinity(0, cpus)
    assert loops(srv) == 1


def test_metrics_count_requests_by_route_template(api):
    def count(**labels):
        found = parse_prometheus(_metrics(api), strict=False).find("yizhan_http_requests_total", **labels)
        return sum(v for _, _, v in found)

    before = count(route="/api/v1/codes/{list}", method="GET", status="200")
    for lst in ("domains", "ip_types", "plan_sources"):
        assert api.get(f"/api/v1/codes/{lst}").status == 200
    after = count(route="/api/v1/codes/{list}", method="GET", status="200")
    assert after - before == 3, f"codes counter went {before} → {after}, expected +3"

    before = count(route="unmatched", status="404")
    assert api.get("/api/v1/definitely-unmatched-" + uuid.uuid4().hex).status == 404
    after = count(route="unmatched", status="404")
    assert after - before == 1, f"unmatched 404 counter went {before} → {after}"
    # the raw path must never become a label value (cardinality)
    assert "definitely-unmatched" not in _metrics(api)


def test_metrics_histogram_and_gauges(api):
    api.get("/api/v1/codes/domains")
    m = parse_prometheus(_metrics(api), strict=False)  # strict checks: test_metrics_format_is_valid_...
    buckets = m.find("yizhan_http_request_duration_seconds_bucket", route="/api/v1/codes/{list}")
    assert buckets, "no duration buckets for route /api/v1/codes/{list}"
    assert any(l.get("le") == "+Inf" for _, l, _ in buckets)
    assert m.find("yizhan_http_request_duration_seconds_count", route="/api/v1/codes/{list}")
    assert m.find("yizhan_http_request_duration_seconds_sum", route="/api/v1/codes/{list}")
    qd = m.find("yizhan_db_queue_depth")
    assert qd and all(v >= 0 and not math.isnan(v) for _, _, v in qd)
    up = m.value("yizhan_db_connections", state="up")
    assert m.find("yizhan_db_connections", state="down"), "no yizhan_db_connections{state=\"down\"} sample"
    assert up >= 1, f"main server reports {up} database connections up"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_metrics_pass_promtool(api):
    api.get("/api/v1/codes/domains")
    text = _metrics(api)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True, capture_output=True, timeout=30)
    # promtool exits non-zero for lint problems too; only format errors matter here
    assert "error while linting" not in (p.stdout + p.stderr), p.stdout + p.stderr


# ---------------------------------------------------------------- logs

def _log_records(server):
    recs = []
    text = server.log_text()
    for ln in text.splitlines(keepends=True):
        if ln.endswith("\n") and ln.strip():
            recs.append(ln)
    return recs


def test_stderr_is_json_lines(api, server):
    api.get("/livez")
    bad = []
    for ln in _log_records(server):
        try:
            obj = json.loads(ln)
            if not isinstance(obj, dict):
                bad.append(ln)
        except ValueError:
            bad.append(ln)
    assert not bad, f"{len(bad)} stderr lines are not JSON objects, e.g. {bad[:3]}"


def _access_lines(server, rid):
    out = []
    for ln in _log_records(server):
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("request_id") == rid and "status" in obj:
            out.append(obj)
    return out


@pytest.mark.parametrize("send_id", [True, False])
def test_access_log_line_per_request(api, server, send_id):
    rid = "acc-" + uuid.uuid4().hex if send_id else None
    r = api.get("/api/v1/codes/domains", headers={"X-Request-Id": rid} if rid else None)
    assert r.status == 200
    rid = r.headers["X-Request-Id"]
    lines = wait_until(lambda: _access_lines(server, rid), 3, message=f"access log line for {rid}")
    time.sleep(0.2)
    lines = _access_lines(server, rid)
    assert len(lines) == 1, f"expected one access log line for request {rid}, got {lines}"
    rec = lines[0]
    assert rec.get("method") == "GET", rec
    assert rec.get("path") == "/api/v1/codes/domains", rec
    assert int(rec.get("status")) == 200, rec
    dkeys = [k for k in rec if "duration" in k]
    assert dkeys, f"access log line has no duration field: {rec}"
    assert isinstance(rec[dkeys[0]], (int, float)) and rec[dkeys[0]] >= 0, rec


def test_access_log_for_error_response(api, server):
    rid = "acc404-" + uuid.uuid4().hex
    r = api.get("/api/v1/nope", headers={"X-Request-Id": rid})
    assert r.status == 404
    lines = wait_until(lambda: _access_lines(server, rid), 3, message="access log line for a 404")
    assert int(lines[0]["status"]) == 404


def test_access_log_to_a_file(spawn, tmp_path):
    """YIZHAN_ACCESS_LOG=<path>: request lines go to that file (appended, even at log level warn),
    none to stderr; the server's other log lines stay on stderr."""
    path = tmp_path / "logs" / "access.log"
    path.parent.mkdir()
    path.write_text('{"earlier":"line"}\n')
    srv = spawn({"YIZHAN_ACCESS_LOG": str(path), "YIZHAN_LOG_LEVEL": "warn"})
    rid = "accfile-" + uuid.uuid4().hex
    r = srv.api.get("/api/v1/codes/domains", headers={"X-Request-Id": rid})
    assert r.status == 200

    def lines():
        return [json.loads(ln) for ln in path.read_text().splitlines()[1:] if rid in ln]
    got = wait_until(lines, 3, message="access log line in the file")
    assert len(got) == 1 and got[0]["status"] == 200 and got[0]["path"] == "/api/v1/codes/domains", got
    assert path.read_text().startswith('{"earlier":"line"}\n'), "the file was truncated instead of appended to"
    assert rid not in srv.log_text(), "the request was logged to stderr as well"


@pytest.mark.parametrize("value", ["off", "false"])
def test_access_log_off(spawn, value):
    srv = spawn({"YIZHAN_ACCESS_LOG": value})
    rid = "accoff-" + uuid.uuid4().hex
    assert srv.api.get("/livez", headers={"X-Request-Id": rid}).status == 200
    assert srv.api.get("/api/v1/codes/domains", headers={"X-Request-Id": rid}).status == 200
    time.sleep(0.3)
    assert rid not in srv.log_text()


def test_access_log_file_that_cannot_be_opened(stack, migrated, tmp_path):
    p = stack.run(["serve"], env={"YIZHAN_ACCESS_LOG": str(tmp_path / "no" / "such" / "dir" / "access.log")},
                  timeout=15)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "YIZHAN_ACCESS_LOG" in p.stderr, p.stderr


# ---------------------------------------------------------------- graceful shutdown

def _served_200(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return False
    try:
        s.settimeout(1.5)
        s.sendall(build_request("GET", "/livez"))
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
    except OSError:
        return False
    finally:
        s.close()
    return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")


def test_sigterm_drains_in_flight_and_exits_zero(spawn, pg, db):
    srv = spawn({"YIZHAN_QUERY_TIMEOUT_MS": "30000", "YIZHAN_SHUTDOWN_TIMEOUT_MS": "15000"})
    assert srv.api.get("/api/v1/codes/regions/511900").status == 200

    lock = pg.connect(autocommit=False)
    result = {}
    try:
        with lock.cursor() as cur:
            cur.execute("LOCK TABLE regions IN ACCESS EXCLUSIVE MODE")

        def slow():
            try:
                result["r"] = Api(srv.url, timeout=30).get("/api/v1/codes/regions/511900")
            except Exception as e:  # noqa: BLE001
                result["e"] = e
        t = threading.Thread(target=slow)
        t.start()
        wait_until(lambda: query(db, "SELECT count(*) AS n FROM pg_stat_activity "
                                     "WHERE wait_event_type = 'Lock' AND datname = 'yizhan'")[0]["n"] >= 1,
                   5, message="the server's query to wait on the lock")
        t_term = time.monotonic()
        srv.signal(signal.SIGTERM)
        time.sleep(0.7)
        assert srv.alive(), f"server exited at once on SIGTERM (code {srv.proc.returncode}) " \
                            f"instead of finishing the request in flight"
        # new requests refused at once (under valgrind the signal arrives late)
        if UNDER_VALGRIND:
            wait_until(lambda: not _served_200(srv.port), 10, message="the server to stop serving new requests")
        assert not _served_200(srv.port), "server still accepts and serves new requests after SIGTERM"
        time.sleep(0.5)
    finally:
        lock.rollback()
        lock.close()
    t.join(15)
    assert "e" not in result, f"in-flight request failed during shutdown: {result.get('e')!r}"
    assert result["r"].status == 200, f"in-flight request got {result['r']!r}"
    try:
        code = srv.proc.wait(max(0.1, 10 - (time.monotonic() - t_term)))
    except subprocess.TimeoutExpired:
        pytest.fail("server did not exit within 10 s of SIGTERM")
    assert code == 0, f"exit code after SIGTERM was {code}"


def test_sigterm_idle_server_exits_zero_quickly(spawn):
    """Idle keep-alive connections are not requests in flight: they must not delay the exit."""
    srv = spawn()
    conn = RawConn(srv.port)
    try:
        conn.send(build_request("GET", "/livez"))
        assert conn.read_response().status == 200
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        try:
            code = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("idle server did not exit within 10 s of SIGTERM")
        assert code == 0
        assert time.monotonic() - t0 < 3, "an idle server (one idle keep-alive client) should stop promptly"
        assert conn.wait_closed(1), "idle keep-alive connection left open after exit"
    finally:
        conn.close()
