#!/usr/bin/env python3
"""The database CPU of one new search, by class (bench/search/README.md, fourth pass).

    dbcpu.py BASE DATADIR SERVERPID IN.jsonl N [CLASS...]

Sends the first N page-1 searches of each class of IN.jsonl (`stream.py gen` output) to the
server at BASE one at a time, and reads, before and after each class, the CPU time (user +
system, /proc/<pid>/stat) of every backend of the PostgreSQL cluster whose data directory is
DATADIR and of the server (SERVERPID).  With the totals cache off (search_stats_ttl_s = 0)
every request counts its total and facets: the figure is what a new search costs the database,
which a loaded machine inflates far less than it does latency (the other engineers' work
shares the cores, not this process's CPU time).  Run each side of a comparison twice,
alternating, on the same cluster: the first run of a class after a restart also plans.

Python standard library only; Linux.
"""

import json
import os
import statistics
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    st = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12]), st[1]


def backends(datadir):
    """{pid: CPU ticks} of the client backends of the cluster in datadir (not its checkpointer,
    autovacuum and the like: "postgres: USER DB [local] ..." or "... HOST(PORT) ...")."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read()
            if not cmd.startswith(b"postgres: ") or not (b"[local]" in cmd or b"(" in cmd):
                continue
            ticks, ppid = cpu(p)
            if os.path.realpath(datadir).encode() in open("/proc/%s/cmdline" % ppid, "rb").read():
                out[p] = ticks
        except OSError:
            pass
    return out


def main():
    if len(sys.argv) < 6:
        raise SystemExit(__doc__)
    base, datadir, server, path_in, n = sys.argv[1:6]
    rows = [json.loads(ln) for ln in open(path_in, encoding="utf-8") if ln.strip()]
    classes = sys.argv[6:] or sorted({r["cls"] for r in rows})
    for cls in classes:
        paths = [r["path"] for r in rows if r["cls"] == cls and r.get("page", 1) == 1][:int(n)]
        b0, s0, t0, lat = backends(datadir), cpu(server)[0], time.perf_counter(), []
        for path in paths:
            t = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=120) as r:
                json.load(r)
            lat.append((time.perf_counter() - t) * 1000)
        wall = time.perf_counter() - t0
        b1, s1 = backends(datadir), cpu(server)[0]
        db = sum(v - b0.get(p, 0) for p, v in b1.items()) / TICK
        print("%-7s %3d searches  %.2f s  database CPU %.1f ms a search  server CPU %.1f ms a search  "
              "latency p50 %.1f ms" % (cls, len(lat), wall, db * 1000 / len(lat), (s1 - s0) * 1000 / TICK / len(lat),
                                        statistics.median(lat)), flush=True)


if __name__ == "__main__":
    main()
