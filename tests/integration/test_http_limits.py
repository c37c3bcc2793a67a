"""HTTP/1.1 framing and limits: header and body size, request smuggling vectors,
NUL bytes in the target, slow and idle clients, keep-alive and pipelining."""

import json
import socket
import time
import uuid
from pathlib import Path

import pytest

from helpers import RawConn, assert_problem, build_request, chunked

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/api/v1/auth/login"
JSON_CT = ("Content-Type", "application/json")
LOGIN_BODY = json.dumps({"email": "nobody@example.test", "password": "x"}).encode()


# ---------------------------------------------------------------- header size

def test_many_headers_over_16k_get_431(raw):
    hdrs = [(f"X-Pad-{i}", "v" * 1000) for i in range(20)]  # ≈ 20 KiB
    res = raw(build_request("GET", "/livez", hdrs), read_timeout=5)
    assert res.responses, f"no response to oversized headers (closed={res.closed}): {res.data[:200]!r}"
    assert_problem(res.first, (431, 400))


def test_single_huge_header_gets_431(raw):
    res = raw(build_request("GET", "/livez", [("X-Huge", "h" * 17000)]), read_timeout=5)
    assert res.responses, f"no response to a 17 KB header (closed={res.closed}): {res.data[:200]!r}"
    assert_problem(res.first, (431, 400))


def test_huge_request_line_gets_4xx(raw):
    res = raw(build_request("GET", "/livez?q=" + "a" * 20000), read_timeout=5)
    assert res.responses, f"no response to a 20 KB request line (closed={res.closed})"
    assert_problem(res.first, (414, 431, 400))


def test_headers_just_under_limit_are_fine(raw):
    hdrs = [(f"X-Pad-{i}", "v" * 1000) for i in range(12)]  # ≈ 12 KiB
    res = raw(build_request("GET", "/livez", hdrs), wait_close=False)
    assert res.first.status == 200, res.first


# ---------------------------------------------------------------- body size

def test_declared_content_length_over_limit_is_413_without_reading_body(raw):
    # default MAX_BODY_BYTES is 1048576; declare one byte more and send no body at all
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", "1048577")])
    res = raw(req, read_timeout=5, wait_close=False)
    assert res.responses, "server waited for a body it must refuse (no response within 5 s)"
    assert_problem(res.first, 413)


def test_huge_content_length_is_413(raw):
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", "100000000000")])
    res = raw(req, read_timeout=5, wait_close=False)
    assert res.responses, "no response within 5 s"
    assert_problem(res.first, (413, 400))


def test_max_body_bytes_is_configurable(spawn):
    srv = spawn({"YIZHAN_MAX_BODY_BYTES": "4096"})
    # a 5000-byte body: over this server's limit
    body = b'{"email":"' + b"a" * 4970 + b'","password":"x"}'
    res = srv.raw(build_request("POST", LOGIN, [JSON_CT, ("Content-Length", str(len(body)))]),
                  read_timeout=5, wait_close=False)
    assert res.responses, "no response within 5 s"
    assert_problem(res.first, 413)
    # under it: handled normally (wrong credentials)
    r = srv.api.post(LOGIN, json={"email": "nobody@example.test", "password": "x" * 3000})
    assert r.status == 401, r


def test_chunked_body_growing_over_limit_is_413(spawn):
    srv = spawn({"YIZHAN_MAX_BODY_BYTES": "4096"})
    head = build_request("POST", LOGIN, [JSON_CT, ("Transfer-Encoding", "chunked")])
    # 4097 bytes in two chunks, no terminating chunk: the limit is crossed by what was sent
    pieces = [head, chunked(b"{" + b" " * 2047, final=False), chunked(b" " * 2049, final=False)]
    res = srv.raw(pieces, read_timeout=5, wait_close=False, pieces_delay=0.05)
    assert res.responses, f"no response to a chunked body over the limit (closed={res.closed})"
    assert_problem(res.first, 413)


def test_chunked_body_within_limit_is_processed(raw):
    req = build_request("POST", LOGIN, [JSON_CT, ("Transfer-Encoding", "chunked")],
                        body=chunked(LOGIN_BODY[:10], LOGIN_BODY[10:]))
    res = raw(req, wait_close=False)
    assert res.first.status == 401, res.first  # parsed, credentials wrong


# ---------------------------------------------------------------- smuggling vectors

def _assert_400_and_close(res):
    assert res.responses, f"no response (closed={res.closed}): {res.data[:200]!r}"
    assert_problem(res.first, 400)
    assert res.closed, "server kept the connection open after a framing error"
    assert len(res.responses) == 1, f"more than one response to one ambiguous request: {res.responses}"


def test_content_length_and_chunked_together(raw):
    body = b"0\r\n\r\n"
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", str(len(body))),
                                        ("Transfer-Encoding", "chunked")], body=body)
    _assert_400_and_close(raw(req, read_timeout=4))


def test_chunked_then_content_length(raw):
    body = chunked(LOGIN_BODY)
    req = build_request("POST", LOGIN, [JSON_CT, ("Transfer-Encoding", "chunked"),
                                        ("Content-Length", "4")], body=body)
    _assert_400_and_close(raw(req, read_timeout=4))


@pytest.mark.parametrize("a,b", [("2", "2"), ("2", "30")])
def test_two_content_length_headers(raw, a, b):
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", a), ("Content-Length", b)], body=b"{}")
    _assert_400_and_close(raw(req, read_timeout=4))


def test_content_length_list_value(raw):
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", "2, 2")], body=b"{}")
    _assert_400_and_close(raw(req, read_timeout=4))


@pytest.mark.parametrize("value", ["+5", "5 5", "-1", "0x5", "5.0", "abc", ""])
def test_non_digit_content_length(raw, value):
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", value)], body=b"{}   ")
    _assert_400_and_close(raw(req, read_timeout=4))


def test_smuggled_request_is_not_executed(raw):
    """CL.TE: if the server used Content-Length, the trailing GET would be a second request."""
    inner = build_request("GET", "/api/v1/codes/domains", [("X-Request-Id", "smuggled-" + uuid.uuid4().hex)])
    body = b"0\r\n\r\n" + inner
    req = build_request("POST", LOGIN, [JSON_CT, ("Content-Length", str(len(body))),
                                        ("Transfer-Encoding", "chunked")], body=body)
    res = raw(req, read_timeout=4)
    assert all(r.status != 200 for r in res.responses), f"smuggled request answered: {res.responses}"


@pytest.mark.parametrize("te", ["gzip, chunked", "chunked, identity", "xchunked"])
def test_unsupported_transfer_encoding_rejected(raw, te):
    req = build_request("POST", LOGIN, [JSON_CT, ("Transfer-Encoding", te)], body=chunked(b"{}"))
    res = raw(req, read_timeout=4)
    assert res.responses, f"no response to Transfer-Encoding: {te} (closed={res.closed})"
    assert_problem(res.first, (400, 501))
    assert res.closed


# ---------------------------------------------------------------- NUL in the target

@pytest.mark.parametrize("target", [
    "/api/v1/codes/domains%00",
    "/api/v1/codes/dom%00ains",
    "/api/v1/codes/regions?parent=5119%0000",
    "/api/v1/codes/calendar?year=2025%00",
    "/livez?x=%00",
])
def test_percent_00_in_target_is_400(api, target):
    assert_problem(api.get(target), 400)


def test_raw_nul_in_request_line_is_400(raw):
    res = raw(b"GET /livez\x00 HTTP/1.1\r\nHost: x\r\n\r\n", read_timeout=3)
    assert res.responses, f"no response (closed={res.closed})"
    assert_problem(res.first, 400)


# ---------------------------------------------------------------- slow and idle clients

def test_slow_request_is_cut_off_by_read_timeout(spawn):
    srv = spawn({"YIZHAN_READ_TIMEOUT_MS": "1000"})
    assert srv.api.get("/livez").status == 200  # the setting does not break normal requests
    conn = RawConn(srv.port)
    try:
        t0 = time.monotonic()
        conn.send(b"GET /livez HT")
        closed = conn.wait_closed(6)
        elapsed = time.monotonic() - t0
        assert closed, "server kept a half-sent request open for 6 s with READ_TIMEOUT_MS=1000"
        assert elapsed < 3.0, f"closed only after {elapsed:.1f}s (READ_TIMEOUT_MS=1000)"
        if conn.buf:
            from helpers import parse_responses
            rs = parse_responses(conn.buf, eof=True)
            assert rs and rs[0].status == 408, f"unexpected bytes before close: {conn.buf[:200]!r}"
            assert_problem(rs[0], 408)
    finally:
        conn.close()


def test_trickled_headers_are_cut_off_by_read_timeout(spawn):
    """A client sending one header line every 300 ms never finishes within READ_TIMEOUT."""
    srv = spawn({"YIZHAN_READ_TIMEOUT_MS": "1000"})
    conn = RawConn(srv.port)
    try:
        t0 = time.monotonic()
        conn.send(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for i in range(20):
            time.sleep(0.3)
            try:
                conn.send(f"X-Trickle-{i}: y\r\n".encode())
            except OSError:
                closed = True
                break
            if conn.wait_closed(0.01):
                closed = True
                break
        closed = closed or conn.wait_closed(2)
        elapsed = time.monotonic() - t0
        assert closed, "a trickling client kept the connection for 6 s with READ_TIMEOUT_MS=1000"
        assert elapsed < 3.5, f"closed only after {elapsed:.1f}s"
    finally:
        conn.close()


def test_idle_keepalive_connection_is_closed(spawn):
    srv = spawn({"YIZHAN_IDLE_TIMEOUT_MS": "1000"})
    conn = RawConn(srv.port)
    try:
        conn.send(build_request("GET", "/livez"))
        r = conn.read_response()
        assert r.status == 200
        assert "close" not in r.headers.get("Connection", "").lower()
        t0 = time.monotonic()
        closed = conn.wait_closed(6)
        elapsed = time.monotonic() - t0
        assert closed, "idle keep-alive connection still open after 6 s with IDLE_TIMEOUT_MS=1000"
        assert elapsed < 3.0, f"idle connection closed only after {elapsed:.1f}s"
    finally:
        conn.close()


def test_default_idle_timeout_keeps_connection(server):
    conn = RawConn(server.port)
    try:
        conn.send(build_request("GET", "/livez"))
        assert conn.read_response().status == 200
        assert not conn.wait_closed(2.0), "keep-alive connection closed after 2 s with the 60 s default"
        conn.send(build_request("GET", "/livez"))
        assert conn.read_response().status == 200
    finally:
        conn.close()


# ---------------------------------------------------------------- keep-alive and pipelining

def test_keepalive_several_requests_one_connection(server):
    conn = RawConn(server.port)
    try:
        for path, status in [("/livez", 200), ("/api/v1/codes/domains", 200), ("/api/v1/nope", 404),
                             ("/api/v1/codes/regions/511900", 200), ("/readyz", 200)]:
            conn.send(build_request("GET", path))
            r = conn.read_response()
            assert r.status == status, (path, r)
        conn.send(build_request("POST", LOGIN, [JSON_CT], body=LOGIN_BODY))
        assert conn.read_response().status == 401
        conn.send(build_request("GET", "/livez"))
        assert conn.read_response().status == 200
    finally:
        conn.close()


def test_connection_close_is_honoured(server):
    conn = RawConn(server.port)
    try:
        conn.send(build_request("GET", "/livez", [("Connection", "close")]))
        r = conn.read_response()
        assert r.status == 200
        assert conn.wait_closed(3), "server did not close after Connection: close"
    finally:
        conn.close()


def test_pipelined_requests_answered_in_order(server):
    plan = [("/api/v1/codes/regions/511900", 200), ("/livez", 200), ("/api/v1/nope", 404),
            ("/api/v1/codes/domains", 200), ("/api/v1/codes/regions/999999", 404), ("/livez", 200)]
    ids = [f"pipe-{i}-{uuid.uuid4().hex[:8]}" for i in range(len(plan))]
    data = b"".join(build_request("GET", p, [("X-Request-Id", rid)]) for (p, _), rid in zip(plan, ids))
    conn = RawConn(server.port)
    try:
        conn.send(data)  # one write
        for (path, status), rid in zip(plan, ids):
            r = conn.read_response(timeout=10)
            assert r.headers.get("X-Request-Id") == rid, \
                f"responses out of order: expected {rid} ({path}), got {r.headers.get('X-Request-Id')}"
            assert r.status == status, (path, r)
    finally:
        conn.close()


def test_pipelined_posts_with_bodies(server):
    one = build_request("POST", LOGIN, [JSON_CT], body=LOGIN_BODY)
    conn = RawConn(server.port)
    try:
        conn.send(one * 3 + build_request("GET", "/livez"))
        assert [conn.read_response().status for _ in range(4)] == [401, 401, 401, 200]
    finally:
        conn.close()


def test_http10_request_is_answered_and_closed(raw):
    res = raw(b"GET /livez HTTP/1.0\r\n\r\n", read_timeout=3)
    assert res.responses and res.first.status == 200, res
    assert res.closed, "HTTP/1.0 request without keep-alive left the connection open"


# ---------------------------------------------------------------- versions and Host (RFC 9112 §2.3, §3.2)

def _unmatched(srv_api, status):
    from helpers import parse_prometheus
    m = parse_prometheus(srv_api.get("/metrics").text, strict=False)
    return sum(v for _, _, v in m.find("yizhan_http_requests_total", route="unmatched", status=status))


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9"])
def test_unsupported_http_version_is_505_and_counted_as_such(spawn, version):
    srv = spawn({})
    res = srv.raw(f"GET /livez {version}\r\nHost: x\r\n\r\n".encode(), read_timeout=3)
    body = assert_problem(res.first, 505)
    assert body["type"].endswith("http-version-not-supported"), body
    assert res.closed
    assert _unmatched(srv.api, "505") == 1 and _unmatched(srv.api, "500") == 0, "505 must be counted as sent"


@pytest.mark.parametrize("line", [b"GET /livez HTTP/11", b"GET /livez http/1.1", b"GET /livez HTTP/1.1x"])
def test_malformed_http_version_is_400(raw, line):
    res = raw(line + b"\r\nHost: x\r\n\r\n", read_timeout=3)
    assert_problem(res.first, 400)


@pytest.mark.parametrize("hosts", [[], ["a", "a"], ["a", "b"], ["a b"], ["a/b"], ["u@a"], ["a:8o"]])
def test_http11_needs_exactly_one_valid_host(raw, hosts):
    head = b"GET /livez HTTP/1.1\r\n" + b"".join(b"Host: " + h.encode() + b"\r\n" for h in hosts) + b"\r\n"
    res = raw(head, read_timeout=3)
    body = assert_problem(res.first, 400)
    assert "Host" in body["detail"], body
    assert res.closed


def test_host_forms_that_are_valid_are_served(raw):
    for h in (b"example.org", b"example.org:8080", b"127.0.0.1", b"[::1]:80", b""):
        res = raw(b"GET /livez HTTP/1.1\r\nHost: " + h + b"\r\nConnection: close\r\n\r\n", read_timeout=3)
        assert res.first.status == 200, (h, res)
    res = raw(b"GET /livez HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", read_timeout=3)
    assert_problem(res.first, 400)


# ---------------------------------------------------------------- configurable limits

def test_max_header_bytes_is_configurable(spawn):
    srv = spawn({"YIZHAN_MAX_HEADER_BYTES": "2048"})
    ok = srv.raw(build_request("GET", "/livez", [("X-Pad", "v" * 1200)]), wait_close=False)
    assert ok.first.status == 200, ok.first
    res = srv.raw(build_request("GET", "/livez", [("X-Pad", "v" * 3000)]), read_timeout=5)
    assert res.responses, f"no response to 3 KB of headers with MAX_HEADER_BYTES=2048 (closed={res.closed})"
    assert_problem(res.first, (431, 400))


def test_client_not_reading_is_cut_off_by_write_timeout(spawn):
    """WRITE_TIMEOUT_MS: a client that stops taking its responses is disconnected."""
    import socket
    srv = spawn({"YIZHAN_WRITE_TIMEOUT_MS": "1000"})
    size = len(srv.api.get("/api/openapi.yaml").content)
    assert size > 0
    n = min(2000, 16_000_000 // size + 1)  # ≥ 16 MB of responses: more than socket buffers hold
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(build_request("GET", "/api/openapi.yaml") * n)
        time.sleep(4)  # read nothing for 4× the write timeout
        total, closed = 0, False
        s.settimeout(3)
        while True:
            try:
                chunk = s.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            total += len(chunk)
        assert closed, "server kept writing to / waiting on a client that read nothing for 4 s " \
                       f"(WRITE_TIMEOUT_MS=1000; drained {total} of ≥ {n * size} bytes afterwards)"
        assert total < n * size, "every response was delivered: the write timeout never fired"
    finally:
        s.close()
    assert srv.alive()
    assert srv.api.get("/livez").status == 200


def test_half_closed_client_still_gets_its_answer(server):
    """A client may shut down its sending side once the request is out; the answer still comes, then the close."""
    conn = RawConn(server.port)
    try:
        conn.send(build_request("GET", "/api/v1/codes/regions/511900"))
        conn.sock.shutdown(socket.SHUT_WR)
        r = conn.read_response(timeout=10)
        assert r.status == 200 and r.body["code"] == "511900"
        assert conn.wait_closed(5), "server kept a half-closed connection open after answering"
    finally:
        conn.close()


@pytest.mark.slow  # make test-fast leaves it out: a reader taking a large answer slowly, on purpose (~19 s at load 9)
def test_large_answer_to_a_slow_reader_arrives_whole(server):
    """More than the socket buffer takes at once: the rest is written as the client reads, byte for byte."""
    path = ROOT / "web" / "vendor" / "echarts" / "echarts.common.min.js"
    want = path.read_bytes()
    assert len(want) > 500_000
    conn = RawConn(server.port)
    try:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.send(build_request("GET", "/vendor/echarts/echarts.common.min.js") +
                  build_request("GET", "/livez"))  # pipelined behind it
        time.sleep(0.5)  # the server fills the socket and waits
        r = conn.read_response(timeout=30)
        assert r.status == 200 and r.body == want
        assert conn.read_response(timeout=10).status == 200
    finally:
        conn.close()
