"""Content codings: the web files compressed once at start (gzip, brotli) and chosen by
Accept-Encoding, with Vary and an ETag per form; JSON answers over 1 KB gzipped when the
client accepts gzip (issue #23)."""

import ctypes
import ctypes.util
import gzip
import http.client
import json

import pytest

from conftest import REPO
from helpers import parse_prometheus, wait_until

_BROTLI = ctypes.CDLL(ctypes.util.find_library("brotlidec") or "libbrotlidec.so.1")


def unbrotli(data, limit=8 << 20):
    out = ctypes.create_string_buffer(limit)
    n = ctypes.c_size_t(limit)
    ok = _BROTLI.BrotliDecoderDecompress(ctypes.c_size_t(len(data)), data, ctypes.byref(n), out)
    assert ok == 1, "not a brotli stream"
    return out.raw[:n.value]


def fetch(server, path, accept=None, method="GET", headers=None):
    """(status, headers as a dict of lists, raw body): the bytes as they came, not decoded."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    h = dict(headers or {})
    if accept is not None:
        h["Accept-Encoding"] = accept
    c.putrequest(method, path, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    hd = {}
    for k, v in r.getheaders():
        hd.setdefault(k.lower(), []).append(v)
    c.close()
    return r.status, hd, body


def one(hd, name):
    v = hd.get(name.lower(), [])
    assert len(v) <= 1, f"{name} sent {len(v)} times: {v}"
    return v[0] if v else None


@pytest.fixture(scope="module")
def compressed(server):
    """Wait until the compressor thread has made every file's forms."""
    def done():
        m = parse_prometheus(server.api.get("/metrics").text, strict=False)
        text, ready = m.value("yizhan_static_files", state="text"), m.value("yizhan_static_files", state="compressed")
        return (text, ready) if text and ready == text else None
    return wait_until(done, 60, interval=0.2, message="the web files' compressed forms")


FILES = ["/app/main.js", "/app/style.css", "/vendor/preact/preact.module.js", "/favicon.svg", "/docs/docs.js"]


@pytest.mark.parametrize("path", FILES)
def test_web_file_in_each_coding_is_the_file(server, compressed, path):
    raw = (REPO / "web" / path.lstrip("/")).read_bytes()
    st, hd, body = fetch(server, path, accept=None)
    assert st == 200 and body == raw and one(hd, "content-encoding") is None
    assert one(hd, "vary") == "Accept-Encoding"
    etag = one(hd, "etag")
    st, hz, bz = fetch(server, path, accept="gzip")
    assert st == 200 and one(hz, "content-encoding") == "gzip" and one(hz, "vary") == "Accept-Encoding"
    assert gzip.decompress(bz) == raw and len(bz) < len(raw)
    assert int(one(hz, "content-length")) == len(bz)
    st, hb, bb = fetch(server, path, accept="gzip, deflate, br, zstd")
    assert st == 200 and one(hb, "content-encoding") == "br" and one(hb, "vary") == "Accept-Encoding"
    assert unbrotli(bb) == raw and len(bb) < len(raw)
    # one ETag per form (a strong validator names the bytes), the same security headers on each
    tags = {etag, one(hz, "etag"), one(hb, "etag")}
    assert len(tags) == 3, tags
    assert one(hz, "etag") == etag[:-1] + '-gz"' and one(hb, "etag") == etag[:-1] + '-br"'
    assert one(hb, "content-security-policy") == one(hd, "content-security-policy")
    assert one(hb, "content-type") == one(hd, "content-type")


def test_accept_encoding_q_values_choose_the_form(server, compressed):
    path = "/app/ui.js"
    cases = {
        "br;q=0.5, gzip;q=0.8": "gzip",
        "br;q=0.9, gzip;q=0.8": "br",
        "gzip;q=0, br;q=0": None,
        "identity": None,
        "*": "br",
        "*;q=0.3, br;q=0": "gzip",
        "x-gzip": "gzip",
        "deflate, zstd": None,
        "": None,
    }
    for accept, want in cases.items():
        st, hd, _ = fetch(server, path, accept=accept)
        assert st == 200 and one(hd, "content-encoding") == want, (accept, hd)


def test_conditional_get_and_head_per_form(server, compressed):
    path = "/app/api.js"
    _, hb, bb = fetch(server, path, accept="br")
    _, hi, bi = fetch(server, path)
    # the br ETag matches only when br is what the client gets
    st, h, body = fetch(server, path, accept="br", headers={"If-None-Match": one(hb, "etag")})
    assert st == 304 and body == b"" and one(h, "etag") == one(hb, "etag") and one(h, "vary") == "Accept-Encoding"
    st, h, body = fetch(server, path, accept="gzip", headers={"If-None-Match": one(hb, "etag")})
    assert st == 200 and one(h, "content-encoding") == "gzip" and gzip.decompress(body) == bi
    st, h, body = fetch(server, path, headers={"If-None-Match": one(hi, "etag")})
    assert st == 304
    # HEAD: the length of the form that GET would send
    st, h, body = fetch(server, path, accept="br", method="HEAD")
    assert st == 200 and body == b"" and int(one(h, "content-length")) == len(bb)
    assert one(h, "content-encoding") == "br"


def test_files_not_worth_compressing_go_as_they_are(server, compressed, tmp_path):
    # a PNG is compressed already: no coding, no Vary (the web root has none, so the server's own 404
    # page stands for "not a text file" here: a problem+json under 1 KB is not compressed either)
    st, hd, body = fetch(server, "/app/no-such-file.png", accept="gzip, br")
    assert st == 404 and one(hd, "content-encoding") is None and one(hd, "vary") is None
    assert json.loads(body)["status"] == 404


def test_openapi_file_compressed_too(server, compressed):
    raw = server.spec_at_start or (REPO / "api" / "openapi.yaml").read_bytes()
    st, hd, body = fetch(server, "/api/openapi.yaml", accept="br")
    assert st == 200 and one(hd, "content-encoding") == "br"
    assert unbrotli(body) == raw and len(body) * 5 < len(raw)


# ---------------------------------------------------------------- JSON answers

def test_json_over_1kb_is_gzipped_when_accepted(server, api):
    path = "/api/v1/codes/regions"
    st, hi, plain = fetch(server, path)
    assert st == 200 and len(plain) > 1024, len(plain)
    assert one(hi, "content-encoding") is None and one(hi, "vary") == "Accept-Encoding"
    st, hz, z = fetch(server, path, accept="gzip, deflate, br")
    assert st == 200 and one(hz, "content-encoding") == "gzip" and one(hz, "vary") == "Accept-Encoding"
    assert one(hz, "content-type") == "application/json"
    assert int(one(hz, "content-length")) == len(z) < len(plain) / 2
    assert json.loads(gzip.decompress(z)) == json.loads(plain)
    # q=0 for gzip, or only codings the server does not make: as it is
    for accept in ("gzip;q=0", "br", "identity", "deflate"):
        st, h, b = fetch(server, path, accept=accept)
        assert st == 200 and one(h, "content-encoding") is None and b == plain, accept


def test_small_json_and_problems_are_not_compressed(server):
    st, hd, body = fetch(server, "/livez", accept="gzip")
    assert st == 200 and one(hd, "content-encoding") is None and one(hd, "vary") is None
    assert json.loads(body)["status"] == "ok"
    st, hd, body = fetch(server, "/api/v1/results/not-a-number", accept="gzip")
    assert 400 <= st < 500 and one(hd, "content-encoding") is None
    assert json.loads(body)["status"] == st


def test_head_of_gzipped_json_has_the_gzipped_length(server):
    path = "/api/v1/codes/regions"
    _, hz, z = fetch(server, path, accept="gzip")
    st, h, body = fetch(server, path, accept="gzip", method="HEAD")
    assert st == 200 and body == b"" and one(h, "content-encoding") == "gzip"
    assert int(one(h, "content-length")) == len(z)


def test_a_browser_client_gets_the_same_json(api):
    """requests asks for gzip and decodes: every JSON test of the suite goes through this path."""
    r = api.get("/api/v1/codes/regions")
    assert r.status == 200 and r.headers.get("Content-Encoding") == "gzip"
    assert r.body["list"] == "regions" and r.body["items"]


def _gzip_kept(server):
    m = parse_prometheus(server.api.get("/metrics").text, strict=False)
    return (m.value("yizhan_json_gzip_total", kept="hit") or 0, m.value("yizhan_json_gzip_total", kept="miss") or 0,
            int(m.value("yizhan_event_loops")))


def test_kept_gzip_form_is_reused_and_follows_the_result(server, api, users, db):
    """Each event loop keeps the gzipped forms of the answers it sent, addressed by their bytes: the same
    answer again is not deflated again, and a result that changes is never answered with its old form."""
    from market_fixtures import MarketWorld, query, uniq
    mk = MarketWorld(api, users, db)
    res = mk.publish_result(title="压缩缓存 " + uniq(), summary="缓存的压缩形式随成果的内容变化。" * 40)
    path = f"/api/v1/results/{res['id']}"
    st, _, plain = fetch(server, path)
    assert st == 200 and len(plain) > 1024, len(plain)
    h0, m0, loops = _gzip_kept(server)
    n = loops + 3  # one connection each: at most one deflate per loop, the rest from the kept form
    for _ in range(n):
        st, hz, z = fetch(server, path, accept="gzip")
        assert st == 200 and one(hz, "content-encoding") == "gzip" and gzip.decompress(z) == plain
        assert int(one(hz, "content-length")) == len(z)
    h, m, _ = _gzip_kept(server)
    assert h + m == h0 + m0 + n and 1 <= m - m0 <= loops and h - h0 >= 3, (h0, m0, h, m, loops)
    # the result changes (its kept public document follows by trigger): the new bytes, gzipped anew
    query(db, "UPDATE results SET title = %s WHERE id = %s", "改过的标题 " + uniq(), res["id"])
    st, _, plain2 = fetch(server, path)
    assert st == 200 and plain2 != plain and "改过的标题".encode() in plain2
    for _ in range(n):
        st, hz, z = fetch(server, path, accept="gzip")
        assert st == 200 and one(hz, "content-encoding") == "gzip" and gzip.decompress(z) == plain2
    h2, m2, _ = _gzip_kept(server)
    assert 1 <= m2 - m <= loops and h2 - h >= 3, (h, m, h2, m2, loops)
    # withdrawn: a 404, not the kept form
    r = api.post(path + "/withdraw", headers=mk.a["h"])
    assert r.status == 200
    st, _, body = fetch(server, path, accept="gzip")
    assert st == 404 and json.loads(body)["status"] == 404
