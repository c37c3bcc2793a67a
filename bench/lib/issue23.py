#!/usr/bin/env python3
"""Issue #23 in one table, from the JSON of `make bench`'s runs.

    issue23.py PERF.json [SEARCH.json]

PERF.json: bench/run.sh's (bench/lib/report.py); SEARCH.json, when given and
present: bench/search/run.sh's at a province's scale (`make bench` runs it with
BENCH_SEARCH_LISTINGS).  Prints every figure of the issue with its target and
the ratio against its anchor from the same run; exits 0 (the floors are
enforced by the runs themselves).
"""
import json
import os
import sys


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    perf = json.load(open(argv[1], encoding="utf-8"))
    rows = []  # (figure, value, target, anchor in the same run)

    # 1. search at a province's scale (bench/search/run.sh --listings N)
    if len(argv) > 2 and os.path.exists(argv[2]):
        s = json.load(open(argv[2], encoding="utf-8"))
        n = (get(s, "data", "results") or 0) + (get(s, "data", "needs") or 0)
        for case in ("rare", "frequent", "four"):
            r = get(s, "results", case)
            if r:
                rows.append(("1. search '{}' ({}) at {:,} listings, p99 ms".format(r.get("term"), case, n),
                             f(get(r, "api", "p99_ms")), "<= 10", "equal to the scan: {}; pgbench of its statement: "
                             "p99 {} ms, {} /s".format(get(r, "check", "equal"), f(get(r, "anchor", "p99_ms")),
                                                       f(get(r, "anchor", "rps"), "{:.0f}"))))
        mix = get(s, "stream", "classes", "mix")
        browse = get(s, "stream", "classes", "browse")
        if browse:
            rows.append(("1. filter-only browses at {:,} listings, p99 ms".format(n), f(browse.get("p99_ms")), "<= 10",
                         "pgbench {} /s".format(f(browse.get("pgb_tps"), "{:.0f}"))))
        if mix:
            rows.append(("1. search mix at {:,} listings, searches/s".format(n), f(mix.get("rps"), "{:.0f}"), ">= 2,000",
                         "x{} pgbench of the same statements".format(f(mix.get("ratio")))))
    else:
        rows.append(("1. search at a province's scale", "not run", "", "bench/search/run.sh --listings N"))
    # the stream of new searches (#25) that bench/run.sh ran over its own listings
    smix = get(perf, "stream", "classes", "mix")
    if smix:
        rows.append(("1. stream of new searches (#25), mix at {:,} listings, p99 ms / searches/s".format(
            get(perf, "stream", "listings") or 0), "{} / {}".format(f(smix.get("p99_ms")), f(smix.get("rps"), "{:.0f}")),
            "<= 15 ms", "x{} pgbench of the same statements".format(f(smix.get("ratio")))))

    for res in perf.get("results", []):
        c = res["connections"]
        r = res.get("ratios", {})
        comp = res.get("composite_rps", {})
        strict = next((v for k, v in comp.items() if k.startswith("result_get, best")), None)
        strict_k = next((k for k in comp if k.startswith("result_get, best")), "")
        if "result_over_strict" in r:
            rows.append(("2. result GET / stricter bound, {} conns".format(c), f(r["result_over_strict"]["value"]),
                         ">= 1.0", "bound {} /s ({})".format(f(strict, "{:,.0f}"), strict_k[len("result_get, "):])))
        if "result_over_peer" in r:
            rk = res.get("rss_kb_result_get") or {}
            p99 = get(res, "figures", "yizhan_result_get", "p99_ms_median")
            pp99 = get(res, "figures", "peer_result_get", "p99_ms_median")
            rows.append(("3. result GET / Node.js peer, {} conns".format(c), f(r["result_over_peer"]["value"]),
                         ">= 3.0", "p99 {} vs {} ms; RSS {} vs {} MB".format(
                             f(p99), f(pp99), f(rk.get("yizhan", 0) / 1024.0, "{:.1f}") if rk else "-",
                             f(rk.get("peer", 0) / 1024.0, "{:.1f}") if rk else "-")))
        z = res.get("gzip")
        if z and z.get("cpu_us_gzip") is not None and z.get("cpu_us_identity") is not None:
            rows.append(("5. gzip: server CPU per result GET, {} conns".format(c),
                         "{:+.1f} us".format(z["cpu_us_gzip"] - z["cpu_us_identity"]), "reported",
                         "{} -> {} bytes on the wire".format(f(z.get("bytes_identity"), "{:.0f}"),
                                                             f(z.get("bytes_gzip"), "{:.0f}"))))
    rush = perf.get("rush") or {}
    rr = rush.get("ratios", {})
    if rr:
        y = get(rush, "figures", "yizhan_rush") or {}
        p = get(rush, "figures", "pgbench_rush") or {}
        c = rush.get("connections")
        rows.append(("4. rush closed-loop max / pgbench, {} conns".format(c),
                     f(get(rr, "rush_over_pgbench", "value")), ">= 0.8",
                     "{} vs {} /s (back to back)".format(f(y.get("median_rps"), "{:,.0f}"), f(p.get("median_rps"), "{:,.0f}"))))
        rows.append(("4. rush closed-loop p99 ms (queueing)", f(rush.get("closed_p99_ms")), "info",
                     "{} conns / {} /s: Little's law, not a user's wait".format(c, f(y.get("median_rps"), "{:,.0f}"))))
        ol = rush.get("open_loop") or {}
        users = rush.get("open_loop_users_rate")
        for label, o in sorted(ol.items(), key=lambda kv: kv[1].get("rate") or 0):
            what = ("each conn 1 req / {} s".format(label.split(":")[1]) if label.startswith("users:")
                    else "{:.0f} % of closed-loop max".format(100 * float(label.split(":")[1])))
            rows.append(("4. rush open-loop p99 ms at {} /s".format(f(o.get("rate"), "{:,.0f}")),
                         f(o.get("p99_ms_median")), "<= 50" if label == users else "reported",
                         "{}; p50 {} ms; {} errors".format(what, f(o.get("p50_ms_median")), o.get("errors"))))
        dn = rush.get("driver_nginx")
        if dn:
            rows.append(("4. open-loop driver vs nginx p99 ms at {} /s".format(f(dn.get("rate"), "{:,.0f}")),
                         f(dn.get("p99_ms")), "floor", "the driver's own overhead; p50 {} ms".format(f(dn.get("p50_ms")))))
        rows.append(("4. year-end rush errors (all runs)", f(get(rr, "rush_errors", "value"), "{:.0f}"), "0", ""))
    else:
        rows.append(("4. year-end rush", "not run", "", "BENCH_FIGURES: rush"))

    rows.sort(key=lambda r: r[0][:2])  # by the item, stable within one
    w = max(len(r[0]) for r in rows)
    print("")
    print("Issue #23 in one table ({}; load {} at start)".format(perf.get("started_at"),
                                                                get(perf, "machine", "loadavg_start")))
    print("{:<{w}}  {:>10}  {:>9}  {}".format("figure", "value", "target", "anchor / detail", w=w))
    for r in rows:
        print("{:<{w}}  {:>10}  {:>9}  {}".format(*r, w=w))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
