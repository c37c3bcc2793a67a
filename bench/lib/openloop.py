#!/usr/bin/env python3
"""An open-loop HTTP load at a constant arrival rate, latency corrected for coordinated omission.

    openloop.py --url BASE --rate R --seconds S --conns N [--timeout T] [--label L] (--path P | rush options)

What wrk2 does, in Python asyncio (wrk2 is not in Debian): N keep-alive connections, each
given its own schedule so that together they send R requests a second at evenly spaced
intended times (connection c sends its k-th request at t0 + (c + k*N)/R). A request whose
connection is still waiting for an earlier answer is sent as soon as that answer arrives,
and its latency is counted from its *intended* time, not from when it was sent: a server
that stalls is charged for every request that should have been sent during the stall
(coordinated omission, Gil Tene). That is the latency a crowd of users sees at rate R,
where a closed loop (wrk) measures connections / throughput once the server is saturated.

--path P: every request is GET P (the driver's own overhead, against nginx's fixed 200).
The rush (bench/lib/wrk/yizhan.lua: RUSH, the same cycle of 40 requests, taken in turn by
every request sent): --ids LO HI (anonymous GET /api/v1/results/{id}, uniform),
--search-paths FILE, --result-body FILE, --member-token T, --member-path P,
--contract-body FILE, --officer-token T, --pool LO HI (registration ids, each once; past
HI the id is 0, a 404).

Prints one JSON line: figure, rate, conns, seconds, requests, rps, p50/p90/p99/p999/max ms
(from the intended times), the same p99 from the actual send (service time), the driver's
send lag p99 (actual send - intended), non_2xx, socket_errors, per-kind counts and p99,
and the driver's own CPU seconds.
"""
import argparse
import asyncio
import json
import random
import resource
import sys
import time
from urllib.parse import urlsplit

RUSH = "gmgsggmgspgmgsggmgscgmgsggmgsrgmgsggggsg"
assert len(RUSH) == 40


def pct(xs, p):
    if not xs:
        return None
    i = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return round(xs[i] * 1000.0, 3)


class Mix:
    def __init__(self, a, host):
        self.host = host
        self.n = 0
        if a.path:
            self.fixed = self.req("GET", a.path)
            return
        self.fixed = None
        self.lo, self.hi = a.ids
        self.paths = [line.strip() for line in open(a.search_paths, encoding="utf-8") if line.strip()]
        self.pi = 0
        self.post = self.req("POST", "/api/v1/results", a.member_token, open(a.result_body, "rb").read())
        self.member = self.req("GET", a.member_path, a.member_token)
        self.contract = self.req("POST", "/api/v1/contracts", a.member_token, open(a.contract_body, "rb").read())
        self.officer = a.officer_token
        self.next_reg, self.reg_hi = a.pool
        self.cycle = random.randrange(len(RUSH))

    def req(self, method, path, token=None, body=None):
        h = ["{} {} HTTP/1.1".format(method, path), "Host: " + self.host]
        if token:
            h.append("Authorization: Bearer " + token)
        if body is not None:
            h += ["Content-Type: application/json", "Content-Length: {}".format(len(body))]
        return ("\r\n".join(h) + "\r\n\r\n").encode() + (body or b"")

    def next(self):
        """(kind, request bytes) of the next request of the cycle."""
        if self.fixed:
            return "get", self.fixed
        self.cycle = (self.cycle + 1) % len(RUSH)
        k = RUSH[self.cycle]
        if k == "g":
            return k, self.req("GET", "/api/v1/results/{}".format(random.randint(self.lo, self.hi)))
        if k == "s":
            self.pi = (self.pi + 1) % len(self.paths)
            return k, self.req("GET", self.paths[self.pi])
        if k == "m":
            return k, self.member
        if k == "p":
            return k, self.post
        if k == "c":
            return k, self.contract
        rid = self.next_reg if self.next_reg <= self.reg_hi else 0
        self.next_reg += 1
        return k, self.req("POST", "/api/v1/contracts/{}/register".format(rid), self.officer)


async def read_response(r):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v:
            chunked = True
        elif k == "connection" and v == "close":
            close = True
    if chunked:
        while True:
            size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
            await r.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await r.readexactly(length)
    return status, close


async def user(c, a, mix, t0, end, out, conn):
    loop = asyncio.get_running_loop()
    r, w = conn
    k = 0
    while True:
        intended = t0 + (c + k * a.conns) / a.rate
        k += 1
        if intended >= end:
            break
        now = loop.time()
        if intended > now:
            await asyncio.sleep(intended - now)
        kind, req = mix.next()
        sent = loop.time()
        try:
            if w is None:
                r, w = await asyncio.wait_for(asyncio.open_connection(a.host, a.port, limit=1 << 22), a.timeout)
            w.write(req)
            status, close = await asyncio.wait_for(read_response(r), a.timeout)
        except asyncio.TimeoutError:
            out["errors"]["timeout"] += 1
            status, close = None, True
        except (OSError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
            out["errors"]["read"] += 1
            status, close = None, True
        done = loop.time()
        if status is not None:
            out["lat"].append(done - intended)
            out["svc"].append(done - sent)
            out["lag"].append(sent - intended)
            out["kind"].setdefault(kind, []).append(done - intended)
            if not 200 <= status < 300:
                out["non_2xx"] += 1
                out["status"][status] = out["status"].get(status, 0) + 1
        if close and w is not None:
            w.close()
            r = w = None
    if w is not None:
        w.close()


async def run(a):
    loop = asyncio.get_running_loop()
    mix = Mix(a, "{}:{}".format(a.host, a.port))
    out = {"lat": [], "svc": [], "lag": [], "kind": {}, "non_2xx": 0, "status": {},
           "errors": {"timeout": 0, "read": 0}}
    # every connection open before the clock starts: the latencies are of requests, not of connects
    conns = await asyncio.gather(*(asyncio.wait_for(asyncio.open_connection(a.host, a.port, limit=1 << 22), a.timeout)
                                   for _ in range(a.conns)))
    t0 = loop.time() + 0.1
    end = t0 + a.seconds
    await asyncio.gather(*(user(c, a, mix, t0, end, out, conns[c]) for c in range(a.conns)))
    return out, loop.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--label", default="")
    p.add_argument("--figure", default="open")
    p.add_argument("--path")
    p.add_argument("--ids", type=int, nargs=2)
    p.add_argument("--search-paths")
    p.add_argument("--result-body")
    p.add_argument("--member-token")
    p.add_argument("--member-path")
    p.add_argument("--contract-body")
    p.add_argument("--officer-token")
    p.add_argument("--pool", type=int, nargs=2)
    p.add_argument("--extra", action="append", default=[], help="NAME=VALUE added to the JSON line")
    a = p.parse_args()
    u = urlsplit(a.url)
    a.host, a.port = u.hostname, u.port or 80
    if not a.path and not all([a.ids, a.search_paths, a.result_body, a.member_token, a.member_path,
                               a.contract_body, a.officer_token, a.pool]):
        p.error("either --path or every rush option")
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.time()
    out, elapsed = asyncio.run(run(a))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    lat, svc, lag = sorted(out["lat"]), sorted(out["svc"]), sorted(out["lag"])
    n = len(lat)
    doc = {"figure": a.figure, "label": a.label, "rate": a.rate, "conns": a.conns, "seconds": a.seconds,
           "started": round(w0, 1), "requests": n, "rps": round(n / a.seconds, 1) if a.seconds else None,
           "elapsed_s": round(elapsed, 2),
           "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99), "p999_ms": pct(lat, 99.9),
           "max_ms": pct(lat, 100), "svc_p50_ms": pct(svc, 50), "svc_p99_ms": pct(svc, 99),
           "lag_p50_ms": pct(lag, 50), "lag_p99_ms": pct(lag, 99),
           "non_2xx": out["non_2xx"], "status": {str(k): v for k, v in out["status"].items()},
           "socket_errors": out["errors"],
           "driver_cpu_s": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 3),
           "kinds": {k: {"n": len(v), "p50_ms": pct(sorted(v), 50), "p99_ms": pct(sorted(v), 99)}
                     for k, v in sorted(out["kind"].items())}}
    for e in a.extra:
        k, _, v = e.partition("=")
        try:
            doc[k] = json.loads(v)
        except ValueError:
            doc[k] = v
    print(json.dumps(doc, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
