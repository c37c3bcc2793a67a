#!/usr/bin/env python3
"""The weight of an anonymous visitor's first page, as a browser fetches it (issue #23).

    weight.py BASE_URL [--accept "br, gzip"] [--json OUT.json] [--max-kb 150]

Fetches / as a browser does (Accept-Encoding: gzip, deflate, br, zstd unless --accept
says otherwise), then what the page loads before anything runs: its stylesheets, icon
and module scripts, the import map's libraries, and every module those import
statically (`import … from '…'`, `import '…'`, `export … from '…'`), recursively.
Dynamic `import('…')` is what a role's screens use to load on demand: those are
listed as deferred, not fetched.  The data the page then asks the API for is not
counted here (tests/e2e/journeys/23-page-weight.test.mjs counts everything a real
browser transfers, API answers included).

Bytes on the wire = status line + headers + body as sent (compressed when the server
compressed it).  Prints one line per file and the totals; with --max-kb exits 1
when the total is above it.  Python's standard library only.
"""
import argparse
import http.client
import json
import re
import sys
from urllib.parse import urljoin, urlsplit

BROWSER = "gzip, deflate, br, zstd"

IMPORT_RE = re.compile(r"""(?:^|[;\s}])(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]""", re.M)
DYNAMIC_RE = re.compile(r"""\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)""")
COMMENT_RE = re.compile(r"/\*.*?\*/|(?<![:'\"\\])//[^\n]*", re.S)


def fetch(base, path, accept):
    u = urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)
    c.putrequest("GET", path, skip_accept_encoding=True)
    c.putheader("Accept-Encoding", accept)
    c.putheader("User-Agent", "yizhan-bench-weight")
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    head = len("HTTP/1.1 %d %s\r\n" % (r.status, r.reason)) + sum(len(k) + len(v) + 4 for k, v in r.getheaders()) + 2
    enc = r.getheader("Content-Encoding") or "identity"
    c.close()
    return r.status, enc, head, body


def decode(body, enc):
    if enc == "identity":
        return body
    if enc == "gzip":
        import gzip
        return gzip.decompress(body)
    if enc == "br":
        import ctypes
        import ctypes.util
        lib = ctypes.CDLL(ctypes.util.find_library("brotlidec") or "libbrotlidec.so.1")
        out = ctypes.create_string_buffer(16 << 20)
        n = ctypes.c_size_t(len(out))
        if lib.BrotliDecoderDecompress(ctypes.c_size_t(len(body)), body, ctypes.byref(n), out) != 1:
            raise ValueError("bad brotli body")
        return out.raw[:n.value]
    raise ValueError("unknown coding " + enc)


def page_refs(html):
    """(stylesheets and icons, module scripts, import map) of an HTML page."""
    links = re.findall(r"<link\b[^>]*\bhref=\"([^\"]+)\"[^>]*>", html)
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"[^>]*>", html)
    imap = {}
    for m in re.finditer(r"<script type=\"importmap\">(.*?)</script>", html, re.S):
        imap.update(json.loads(m.group(1)).get("imports", {}))
    return links, scripts, imap


def resolve(spec, base_path, imap):
    if spec in imap:
        return imap[spec]
    if spec.startswith(("./", "../", "/")):
        return urlsplit(urljoin("http://x" + base_path, spec)).path
    return None  # a bare name the map does not know: the browser would fail too


def measure(base, accept):
    rows, seen, deferred = [], set(), set()
    st, enc, head, body = fetch(base, "/", accept)
    if st != 200:
        raise SystemExit("weight: GET / answered %d" % st)
    rows.append(("/", enc, head, len(body), len(decode(body, enc))))
    seen.add("/")
    html = decode(body, enc).decode("utf-8")
    links, scripts, imap = page_refs(html)
    todo = [(p, False) for p in links] + [(p, True) for p in scripts]
    while todo:
        path, is_module = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        st, enc, head, body = fetch(base, path, accept)
        if st != 200:
            raise SystemExit("weight: GET %s answered %d" % (path, st))
        text = decode(body, enc)
        rows.append((path, enc, head, len(body), len(text)))
        if not is_module:
            continue
        src = COMMENT_RE.sub(" ", text.decode("utf-8"))
        for spec in IMPORT_RE.findall(src):
            p = resolve(spec, path, imap)
            if p and p not in seen:
                todo.append((p, True))
        for spec in DYNAMIC_RE.findall(src):
            p = resolve(spec, path, imap)
            if p:
                deferred.add(p)
    return rows, sorted(deferred - seen)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("--accept", default=BROWSER)
    ap.add_argument("--json")
    ap.add_argument("--max-kb", type=float)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv[1:])
    rows, deferred = measure(a.base.rstrip("/"), a.accept)
    wire = sum(h + b for _, _, h, b, _ in rows)
    plain = sum(t for *_, t in rows)
    if not a.quiet:
        print("%-42s %-8s %9s %9s" % ("file (Accept-Encoding: %s)" % a.accept, "coding", "wire B", "file B"))
        for path, enc, head, blen, tlen in rows:
            print("%-42s %-8s %9d %9d" % (path, enc, head + blen, tlen))
        print("%-42s %-8s %9d %9d  (%.1f KB on the wire, %d files)" % ("total", "", wire, plain, wire / 1024, len(rows)))
        print("loaded on demand, not fetched: %s" % (", ".join(deferred) or "-"))
    out = {"accept": a.accept, "files": [{"path": p, "coding": e, "wire_bytes": h + b, "bytes": t}
                                          for p, e, h, b, t in rows],
           "wire_bytes": wire, "bytes": plain, "deferred": deferred}
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    if a.max_kb is not None and wire > a.max_kb * 1024:
        sys.stderr.write("weight: %.1f KB on the wire, above %.0f KB\n" % (wire / 1024, a.max_kb))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
