#!/usr/bin/env python3
"""Summarise a bench/run.sh run: medians, ratios against the anchors, floors.

    report.py RAW.jsonl RSS.log META.json OUT.json

RAW.jsonl holds one line per measured run (bench/lib/parse.py), tagged with
`figure`, `conns`, `run` (and, for yizhan runs, the server's CPU ticks).
RSS.log holds "epoch phase rss_kB" every second ("idle" between runs).
META.json holds what the run knew about itself.  Prints one table, writes
OUT.json, exits 0 when every floor holds and nothing failed, else 1.

Floors (issue #10; bench/README.md):
  livez / nginx                                  >= 0.55
  region GET / (1/(1/livez + 1/pgbench region))  >= 1.0   (the foundation figure)
  result GET / (1/(1/livez + 1/pgbench result))  >= 1.15
  result GET / (1/(1/livez + 1/best pgbench))    >= 1.0   (the stricter anchor, issue #23: the best
                                                           of pgbench at 2, 8 and 64 clients)
  result GET / the Node.js peer's                >= 3.0, at a lower p99 and less memory (issue #23)
  result GET p99 / nginx p99                     <= 1.5   (at BENCH_CONNS)
  search, POST /results, registration / pgbench  >= 0.8
  server CPU per result GET                      <= 16 us
  at BENCH_HIGH_CONNS: the result GET has no errors and no timeouts
  year-end rush (issue #23) at BENCH_RUSH_CONNS: closed-loop max / pgbench of the same statements and
                                                 weights >= 0.8; p99 <= 50 ms in the open loop at the users'
                                                 rate (BENCH_RUSH_RATES users:T; the closed loop's p99 is printed,
                                                 not a floor); no errors (non-2xx, socket errors) in any run
  server RSS under load                          <= 64 MB
  RSS growth over the soak (end - after warm-up) <= 2 MB
"""
import json
import statistics
import sys

FIGURES = [
    ("nginx_livez", "nginx GET /livez (fixed 200)"),
    ("yizhan_livez", "yizhan GET /livez"),
    ("yizhan_region_get", "yizhan GET /api/v1/codes/regions/{code}"),
    ("pgbench_region", "  pgbench: ST_REGION"),
    ("yizhan_result_get", "yizhan GET /api/v1/results/{id}"),
    ("pgbench_result_get", "  pgbench: RESULT.st_get"),
    ("pgbench_result_get_c2", "  pgbench: RESULT.st_get, 2 clients"),
    ("pgbench_result_get_c8", "  pgbench: RESULT.st_get, 8 clients"),
    ("yizhan_result_get_gz", "yizhan GET /api/v1/results/{id}, gzip"),
    ("peer_result_get", "Node.js peer GET /results/{id} (fastify, pg)"),
    ("yizhan_search", "yizhan GET /api/v1/search (query mix)"),
    ("pgbench_search", "  pgbench: ST_SEARCH, same mix"),
    ("yizhan_result_create", "yizhan POST /api/v1/results"),
    ("pgbench_result_create", "  pgbench: ST_LOAD_USER + market_create"),
    ("yizhan_register", "yizhan POST /api/v1/contracts/{id}/register"),
    ("pgbench_register", "  pgbench: ST_LOAD_USER + ST_REGISTER"),
]
LABEL = dict(FIGURES)
FLOORS = {
    "livez_over_nginx": (">=", 0.55),
    "region_over_composite": (">=", 1.0),
    "result_over_composite": (">=", 1.15),
    "result_over_strict": (">=", 1.0),
    "result_over_peer": (">=", 3.0),
    "result_p99_over_peer_p99": ("<", 1.0),
    "rss_over_peer": ("<", 1.0),
    "result_p99_over_nginx_p99": ("<=", 1.5),
    "search_over_pgbench": (">=", 0.8),
    "create_over_pgbench": (">=", 0.8),
    "register_over_pgbench": (">=", 0.8),
    "cpu_us_per_result_get": ("<=", 16.0),
    "rss_max_mb": ("<=", 64.0),
    "rss_growth_mb": ("<=", 2.0),
    "rush_over_pgbench": (">=", 0.8),
    "rush_p99_ms": ("<=", 50.0),
    "rush_errors": ("<=", 0),
}
RATIO_NAMES = {
    "livez_over_nginx": "livez / nginx",
    "region_over_composite": "region GET / 1/(1/livez + 1/pgbench)",
    "result_over_composite": "result GET / 1/(1/livez + 1/pgbench)",
    "result_over_strict": "result GET / 1/(1/livez + 1/best pgbench)",
    "result_over_peer": "result GET / Node.js peer",
    "result_p99_over_peer_p99": "result GET p99 / Node.js peer p99",
    "rss_over_peer": "yizhan RSS / Node.js peer RSS (GET runs)",
    "result_p99_over_nginx_p99": "result GET p99 / nginx p99",
    "search_over_pgbench": "search / pgbench",
    "create_over_pgbench": "POST /results / pgbench",
    "register_over_pgbench": "register / pgbench",
    "cpu_us_per_result_get": "server CPU per result GET (us)",
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise(runs):
    runs = sorted(runs, key=lambda r: r["run"])
    rps = [r["rps"] for r in runs]
    m = statistics.median(rps)
    s = {
        "median_rps": round(m, 1), "min_rps": round(min(rps), 1), "max_rps": round(max(rps), 1),
        "spread_pct": round(100.0 * (max(rps) - min(rps)) / m, 1) if m else None,
        "p50_ms_median": med([r.get("p50_ms") for r in runs]),
        "p99_ms_median": med([r.get("p99_ms") for r in runs]),
        "avg_ms_median": med([r.get("avg_ms") for r in runs]),
        "cpu_us_per_req_median": med([r.get("cpu_us_per_req") for r in runs]),
        "non_2xx": sum(r.get("non_2xx", 0) for r in runs),
        "failed": sum(r.get("failed", 0) for r in runs),
        "aborted": sum(r.get("aborted", 0) for r in runs),
        "socket_errors": {},
        "runs": runs,
    }
    for r in runs:
        for k, v in r.get("socket_errors", {}).items():
            s["socket_errors"][k] = s["socket_errors"].get(k, 0) + v
    return s


def check(key, value):
    op, floor = FLOORS[key]
    ok = {">=": value >= floor, "<=": value <= floor, "<": value < floor}[op]
    return {"value": round(value, 3), "floor": floor, "op": op, "pass": ok}


def fmt_rps(x):
    return "-" if x is None else "{:,.0f}".format(x) if x >= 100 else "{:,.1f}".format(x)


def fmt_ms(x):
    return "-" if x is None else "{:.2f}".format(x) if x < 10 else "{:.0f}".format(x)


def composite(a, b):
    return 1.0 / (1.0 / a + 1.0 / b)


def pair_ratios(figs, key):
    """The ratio run by run (the runs of one round are minutes apart at most)."""
    g = lambda k: {r["run"]: r for r in figs[k]["runs"]} if k in figs else {}
    out = []
    if key == "livez_over_nginx":
        a, b = g("yizhan_livez"), g("nginx_livez")
        out = [a[i]["rps"] / b[i]["rps"] for i in sorted(a) if i in b]
    elif key in ("region_over_composite", "result_over_composite"):
        m = "region" if key.startswith("region") else "result_get"
        a, l, p = g("yizhan_region_get" if m == "region" else "yizhan_result_get"), g("yizhan_livez"), g("pgbench_" + m)
        out = [a[i]["rps"] / composite(l[i]["rps"], p[i]["rps"]) for i in sorted(a) if i in l and i in p]
    elif key == "result_p99_over_nginx_p99":
        a, b = g("yizhan_result_get"), g("nginx_livez")
        out = [a[i]["p99_ms"] / b[i]["p99_ms"] for i in sorted(a) if i in b and b[i].get("p99_ms")]
    elif key.endswith("_over_pgbench"):
        m = {"search": "search", "create": "result_create", "register": "register"}[key.split("_")[0]]
        a, b = g("yizhan_" + m), g("pgbench_" + m)
        out = [a[i]["rps"] / b[i]["rps"] for i in sorted(a) if i in b and b[i]["rps"]]
    elif key == "result_over_strict":
        a, l = g("yizhan_result_get"), g("yizhan_livez")
        ps = [g(k) for k in ("pgbench_result_get", "pgbench_result_get_c2", "pgbench_result_get_c8")]
        for i in sorted(a):
            best = max([p[i]["rps"] for p in ps if i in p] or [0])
            if i in l and best:
                out.append(a[i]["rps"] / composite(l[i]["rps"], best))
    elif key == "result_over_peer":
        a, b = g("yizhan_result_get"), g("peer_result_get")
        out = [a[i]["rps"] / b[i]["rps"] for i in sorted(a) if i in b and b[i]["rps"]]
    elif key == "result_p99_over_peer_p99":
        a, b = g("yizhan_result_get"), g("peer_result_get")
        out = [a[i]["p99_ms"] / b[i]["p99_ms"] for i in sorted(a) if i in b and b[i].get("p99_ms")]
    elif key == "cpu_us_per_result_get":
        out = [r["cpu_us_per_req"] for r in figs["yizhan_result_get"]["runs"] if "cpu_us_per_req" in r]
    return [round(x, 3) for x in out]


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    raw_path, rss_path, meta_path, out_path = argv[1:]
    meta = json.load(open(meta_path, encoding="utf-8"))
    runs = [json.loads(l) for l in open(raw_path, encoding="utf-8") if l.strip()]
    rss = []
    for l in open(rss_path, encoding="utf-8"):
        p = l.split()
        if len(p) == 3 and p[2].isdigit():
            rss.append((int(p[0]), p[1], int(p[2])))
    s = meta["settings"]
    ok = True
    problems = []
    L = []
    L.append("")
    L.append("Yizhan performance benchmark (issue #10)  {}  {} cores, load {} at start, {} at end".format(
        meta["started_at"], meta["machine"]["nproc"], meta["machine"]["loadavg_start"], meta["machine"]["loadavg_end"]))
    d = meta["data"]
    L.append("data: {:,} published results + {:,} needs, {:,} registered contracts ({}); yizhan {} event loop(s)".format(
        d["results"], d["needs"], d["contracts"], d["source"], s["yizhan_threads"]))
    L.append("wrk -t{t} --latency / pgbench -M prepared -j{t}, {d} s a run, median of {r} interleaved runs (min-max)".format(
        t=s["threads"], d=s["seconds"], r=s["reps"]))

    results = []
    std_conns = s["conns"]
    # the stricter anchor's third member: pgbench at 64 clients, from the 64-connection round
    pg64 = [r["rps"] for r in runs if r["figure"] == "pgbench_result_get" and r["conns"] == 64]
    pg64 = statistics.median(pg64) if pg64 else None
    for conns in std_conns:
        sub = [r for r in runs if r["conns"] == conns and r["figure"] != "soak"]
        figs = {}
        for key, _ in FIGURES:
            fr = [r for r in sub if r["figure"] == key]
            if fr:
                figs[key] = summarise(fr)
        res = {"connections": conns, "figures": figs,  # (gzip, rss_kb_result_get: filled below)
               "server_db_connections": meta.get("server_db_connections", {}).get(str(conns))}
        L.append("")
        L.append("== {} connections ==".format(conns))
        L.append("{:<46} {:>9} {:>17} {:>8} {:>8} {:>8}  {}".format(
            "figure", "per s", "min-max", "p50 ms", "p99 ms", "cpu us", "errors"))
        for key, label in FIGURES:
            f = figs.get(key)
            if not f:
                continue
            if key.startswith("pgbench"):
                lat50, lat99 = "avg " + fmt_ms(f["avg_ms_median"]), "-"
                err = "failed {}".format(f["failed"])
                if f["failed"] or f["aborted"]:
                    ok = False
                    err += " (aborted)" if f["aborted"] else ""
                    err += "  <- FAIL"
                    msg = next((r["error"] for r in f["runs"] if r.get("error")), "")
                    problems.append("{} at {}: failed transactions / aborted clients{}".format(
                        key, conns, ": " + msg if msg else ""))
            else:
                lat50, lat99 = fmt_ms(f["p50_ms_median"]), fmt_ms(f["p99_ms_median"])
                err = "non-2xx {}".format(f["non_2xx"])
                se = {k: v for k, v in f["socket_errors"].items() if v}
                if se:
                    err += ", socket " + ",".join("{} {}".format(k, v) for k, v in se.items())
                if f["non_2xx"]:
                    ok = False
                    err += "  <- FAIL"
                    problems.append("{} at {}: non-2xx responses".format(key, conns))
            cpu = f["cpu_us_per_req_median"]
            L.append("{:<46} {:>9} {:>17} {:>8} {:>8} {:>8}  {}".format(
                label, fmt_rps(f["median_rps"]), "{}-{}".format(fmt_rps(f["min_rps"]), fmt_rps(f["max_rps"])),
                lat50, lat99, "-" if cpu is None else "{:.1f}".format(cpu), err))

        m = lambda k: figs[k]["median_rps"] if k in figs else None
        ratios, comps = {}, {}
        if m("nginx_livez") and m("yizhan_livez"):
            ratios["livez_over_nginx"] = check("livez_over_nginx", m("yizhan_livez") / m("nginx_livez"))
        for fig, key in (("region", "region_over_composite"), ("result_get", "result_over_composite")):
            y = "yizhan_region_get" if fig == "region" else "yizhan_result_get"
            if m("yizhan_livez") and m(y) and m("pgbench_" + fig):
                c = composite(m("yizhan_livez"), m("pgbench_" + fig))
                comps[fig] = round(c, 1)
                ratios[key] = check(key, m(y) / c)
        best = [(m(k), n) for k, n in (("pgbench_result_get_c2", 2), ("pgbench_result_get_c8", 8)) if m(k)]
        if pg64 or (conns == 64 and m("pgbench_result_get")):
            best.append((pg64 or m("pgbench_result_get"), 64))
        if best and m("yizhan_livez") and m("yizhan_result_get"):
            b, n = max(best)
            c = composite(m("yizhan_livez"), b)
            comps["result_get, best pgbench ({} clients: {})".format(n, fmt_rps(b))] = round(c, 1)
            ratios["result_over_strict"] = check("result_over_strict", m("yizhan_result_get") / c)
        if m("yizhan_result_get") and m("peer_result_get"):
            ratios["result_over_peer"] = check("result_over_peer", m("yizhan_result_get") / m("peer_result_get"))
            if figs["peer_result_get"]["p99_ms_median"]:
                ratios["result_p99_over_peer_p99"] = check(
                    "result_p99_over_peer_p99",
                    figs["yizhan_result_get"]["p99_ms_median"] / figs["peer_result_get"]["p99_ms_median"])
            prss = meta.get("peer", {}).get("rss_max_kb", {}).get(str(conns))
            yrss = [x[2] for x in rss if x[1] == "yizhan_result_get@{}".format(conns)]
            if prss and yrss:
                ratios["rss_over_peer"] = check("rss_over_peer", max(yrss) / prss)
                res["rss_kb_result_get"] = {"yizhan": max(yrss), "peer": prss}
        gz, idn = figs.get("yizhan_result_get_gz"), figs.get("yizhan_result_get")
        if gz and idn:
            per = lambda f: med([r["bytes_read"] / r["requests"] for r in f["runs"] if r.get("bytes_read") and r.get("requests")])
            res["gzip"] = {"cpu_us_identity": idn["cpu_us_per_req_median"], "cpu_us_gzip": gz["cpu_us_per_req_median"],
                           "bytes_identity": per(idn), "bytes_gzip": per(gz)}
        if "yizhan_result_get" in figs and "nginx_livez" in figs and figs["nginx_livez"]["p99_ms_median"]:
            ratios["result_p99_over_nginx_p99"] = check(
                "result_p99_over_nginx_p99", figs["yizhan_result_get"]["p99_ms_median"] / figs["nginx_livez"]["p99_ms_median"])
        for fig, key in (("search", "search_over_pgbench"), ("result_create", "create_over_pgbench"),
                         ("register", "register_over_pgbench")):
            if m("yizhan_" + fig) and m("pgbench_" + fig):
                ratios[key] = check(key, m("yizhan_" + fig) / m("pgbench_" + fig))
        if "yizhan_result_get" in figs and figs["yizhan_result_get"]["cpu_us_per_req_median"] is not None:
            ratios["cpu_us_per_result_get"] = check("cpu_us_per_result_get",
                                                    figs["yizhan_result_get"]["cpu_us_per_req_median"])
        for k in comps:
            L.append("{:<46} {:>9}".format("  composite 1/(1/livez + 1/pgbench {})".format(k), fmt_rps(comps[k])))
        z = res.get("gzip")
        if z and z["cpu_us_identity"] is not None and z["cpu_us_gzip"] is not None:
            L.append("  gzip: {:+.1f} us of server CPU per result GET ({:.1f} -> {:.1f}); {} -> {} bytes a response on the wire".format(
                z["cpu_us_gzip"] - z["cpu_us_identity"], z["cpu_us_identity"], z["cpu_us_gzip"],
                "?" if z["bytes_identity"] is None else "{:.0f}".format(z["bytes_identity"]),
                "?" if z["bytes_gzip"] is None else "{:.0f}".format(z["bytes_gzip"])))
        rk = res.get("rss_kb_result_get")
        if rk:
            L.append("  RSS during the GET runs: yizhan {:.1f} MB, Node.js peer {:.1f} MB".format(rk["yizhan"] / 1024.0, rk["peer"] / 1024.0))
        L.append("")
        L.append("{:<46} {:>9} {:>8}  {:<6} {}".format("ratio", "value", "floor", "result", "per run"))
        paired = {}
        for k, name in RATIO_NAMES.items():
            if k not in ratios:
                continue
            r = ratios[k]
            paired[k] = pair_ratios(figs, k)
            if not r["pass"]:
                ok = False
                problems.append("{} at {} connections: {} (floor {} {})".format(name, conns, r["value"], r["op"], r["floor"]))
            L.append("{:<46} {:>9.3f} {:>8}  {:<6} {}".format(
                name, r["value"], "{}{}".format(r["op"], r["floor"]), "PASS" if r["pass"] else "FAIL",
                " ".join("{:.3f}".format(x) for x in paired[k])))
        res.update({"composite_rps": comps, "ratios": ratios, "paired_ratios": paired})
        dbc = res["server_db_connections"]
        L.append("database connections: yizhan holds {}, pgbench opens {}".format("?" if dbc is None else dbc, conns))
        results.append(res)

    # Many connections.
    high = []
    for conns in s.get("high_conns", []):
        sub = [r for r in runs if r["conns"] == conns and r["figure"] in ("nginx_livez", "yizhan_result_get")]
        if conns in std_conns or not sub:
            continue
        figs = {k: summarise([r for r in sub if r["figure"] == k]) for k in ("nginx_livez", "yizhan_result_get")
                if any(r["figure"] == k for r in sub)}
        L.append("")
        L.append("== {} connections (wrk timeout 2 s) ==".format(conns))
        L.append("{:<46} {:>9} {:>17} {:>8} {:>8}  {}".format("figure", "per s", "min-max", "p50 ms", "p99 ms", "errors"))
        h = {"connections": conns, "figures": figs}
        for key in ("nginx_livez", "yizhan_result_get"):
            f = figs.get(key)
            if not f:
                continue
            se = {k: v for k, v in f["socket_errors"].items() if v}
            err = "non-2xx {}, socket {}".format(f["non_2xx"], ",".join("{} {}".format(k, v) for k, v in se.items()) or "0")
            if key == "yizhan_result_get" and (f["non_2xx"] or se):
                ok = False
                err += "  <- FAIL"
                problems.append("result GET at {} connections: errors or timeouts ({})".format(conns, err))
            L.append("{:<46} {:>9} {:>17} {:>8} {:>8}  {}".format(
                LABEL[key], fmt_rps(f["median_rps"]), "{}-{}".format(fmt_rps(f["min_rps"]), fmt_rps(f["max_rps"])),
                fmt_ms(f["p50_ms_median"]), fmt_ms(f["p99_ms_median"]), err))
        if len(figs) == 2 and figs["nginx_livez"]["p99_ms_median"]:
            v = figs["yizhan_result_get"]["p99_ms_median"] / figs["nginx_livez"]["p99_ms_median"]
            h["p99_over_nginx_p99"] = round(v, 3)
            L.append("{:<46} {:>9.3f}   (for information; the floor is no errors and no timeouts)".format(
                "result GET p99 / nginx p99", v))
        y = figs.get("yizhan_result_get")
        h["errors"] = (y["non_2xx"] + sum(y["socket_errors"].values())) if y else None
        high.append(h)

    # The year-end rush (issue #23): every kind of request at once.
    rush = {}
    rr = [r for r in runs if r["figure"] in ("yizhan_rush", "pgbench_rush")]
    if rr:
        rconns = s.get("rush_conns") or rr[0]["conns"]
        figs = {k: summarise([r for r in rr if r["figure"] == k]) for k in ("yizhan_rush", "pgbench_rush")
                if any(r["figure"] == k for r in rr)}
        L.append("")
        L.append("== year-end rush, {} connections (per 40 requests: 22 result GETs, 8 searches and browses, "
                 "7 member reads, 1 POST result, 1 contract application, 1 registration) ==".format(rconns))
        L.append("{:<46} {:>9} {:>17} {:>8} {:>8} {:>8}  {}".format(
            "figure", "per s", "min-max", "p50 ms", "p99 ms", "cpu us", "errors"))
        labels = {"yizhan_rush": "yizhan, the rush mix", "pgbench_rush": "  pgbench: the same statements and weights"}
        for key in ("yizhan_rush", "pgbench_rush"):
            f = figs.get(key)
            if not f:
                continue
            if key == "pgbench_rush":
                lat50, lat99, err = "avg " + fmt_ms(f["avg_ms_median"]), "-", "failed {}".format(f["failed"])
                if f["failed"] or f["aborted"]:
                    ok = False
                    err += "  <- FAIL"
                    msg = next((r["error"] for r in f["runs"] if r.get("error")), "")
                    problems.append("pgbench_rush: failed transactions / aborted clients{}".format(": " + msg if msg else ""))
            else:
                se = {k: v for k, v in f["socket_errors"].items() if v}
                lat50, lat99 = fmt_ms(f["p50_ms_median"]), fmt_ms(f["p99_ms_median"])
                err = "non-2xx {}, socket {}".format(f["non_2xx"], ",".join("{} {}".format(k, v) for k, v in se.items()) or "0")
            cpu = f["cpu_us_per_req_median"]
            L.append("{:<46} {:>9} {:>17} {:>8} {:>8} {:>8}  {}".format(
                labels[key], fmt_rps(f["median_rps"]), "{}-{}".format(fmt_rps(f["min_rps"]), fmt_rps(f["max_rps"])),
                lat50, lat99, "-" if cpu is None else "{:.1f}".format(cpu), err))
        y, p = figs.get("yizhan_rush"), figs.get("pgbench_rush")
        rratios, rpaired = {}, {}
        # The open loop (bench/lib/openloop.py): the same mix at constant arrival rates, latency from
        # each request's intended send time (coordinated omission corrected), and the driver against nginx.
        opens = [r for r in runs if r["figure"] == "yizhan_rush_open"]
        ngx = [r for r in runs if r["figure"] == "nginx_open"]
        open_by = {}
        for r in opens:
            open_by.setdefault(r["label"], []).append(r)
        open_sum = {}
        if opens:
            L.append("")
            L.append("open loop (the mix as users make it: constant arrival rate, latency from the intended send time,")
            L.append("coordinated omission corrected; closed-loop max = the yizhan median above)")
            L.append("{:<46} {:>9} {:>9} {:>8} {:>8} {:>8}  {}".format(
                "rate", "sent /s", "done /s", "p50 ms", "p99 ms", "cpu us", "errors; p99 ms by kind (g result GET, s search, m member read, p POST result, c contract, r register)"))
            for label, rs in open_by.items():
                m = lambda k: med([r.get(k) for r in rs])
                errs = sum(r["non_2xx"] + sum(r["socket_errors"].values()) for r in rs)
                kinds = {}
                for r in rs:
                    for k, v in r.get("kinds", {}).items():
                        kinds.setdefault(k, []).append(v.get("p99_ms"))
                kp = {k: med(v) for k, v in sorted(kinds.items())}
                open_sum[label] = {"rate": m("rate"), "rps_median": m("rps"), "p50_ms_median": m("p50_ms"),
                                   "p99_ms_median": m("p99_ms"), "svc_p99_ms_median": m("svc_p99_ms"),
                                   "lag_p99_ms_median": m("lag_p99_ms"), "cpu_us_per_req_median": m("cpu_us_per_req"),
                                   "errors": errs, "p99_ms_by_kind": kp, "runs": rs}
                desc = {"users": "each connection one request every {} s".format(label.split(":")[-1]),
                        "max": "{:.0f} % of the closed-loop max".format(100 * float(label.split(":")[-1]))}.get(
                            label.split(":")[0], label)
                cpu = m("cpu_us_per_req")
                L.append("{:<46} {:>9} {:>9} {:>8} {:>8} {:>8}  {}; {}".format(
                    "yizhan {} ({})".format(label, desc)[:46], fmt_rps(m("rate")), fmt_rps(m("rps")), fmt_ms(m("p50_ms")),
                    fmt_ms(m("p99_ms")), "-" if cpu is None else "{:.1f}".format(cpu), errs,
                    " ".join("{} {}".format(k, fmt_ms(v)) for k, v in kp.items())))
            if ngx:
                L.append("{:<46} {:>9} {:>9} {:>8} {:>8} {:>8}  {}".format(
                    "  the driver against nginx /livez", fmt_rps(med([r["rate"] for r in ngx])),
                    fmt_rps(med([r["rps"] for r in ngx])), fmt_ms(med([r["p50_ms"] for r in ngx])),
                    fmt_ms(med([r["p99_ms"] for r in ngx])), "-",
                    "{}; the driver's own floor (its send lag p99 {} ms)".format(
                        sum(r["non_2xx"] + sum(r["socket_errors"].values()) for r in ngx),
                        fmt_ms(med([r["lag_p99_ms"] for r in ngx])))))
        users = next((k for k in open_sum if k.startswith("users:")), None)
        if users:
            # the floor of p99 <= 50 ms is on the open loop at the users' rate: a closed loop of 256
            # connections at its maximum waits connections / throughput by construction (Little's law)
            rratios["rush_p99_ms"] = check("rush_p99_ms", open_sum[users]["p99_ms_median"])
            rpaired["rush_p99_ms"] = [r.get("p99_ms") for r in open_sum[users]["runs"]]
        if y:
            if not users:
                rratios["rush_p99_ms"] = check("rush_p99_ms", y["p99_ms_median"])
                rpaired["rush_p99_ms"] = [r.get("p99_ms") for r in y["runs"]]
            rratios["rush_errors"] = check("rush_errors", y["non_2xx"] + sum(y["socket_errors"].values())
                                           + sum(v["errors"] for v in open_sum.values()))
        if y and p and p["median_rps"]:
            rratios["rush_over_pgbench"] = check("rush_over_pgbench", y["median_rps"] / p["median_rps"])
            pr = {r["run"]: r for r in p["runs"]}
            rpaired["rush_over_pgbench"] = [round(r["rps"] / pr[r["run"]]["rps"], 3) for r in y["runs"]
                                            if r["run"] in pr and pr[r["run"]]["rps"]]
        names = {"rush_over_pgbench": "rush / pgbench (closed-loop max)",
                 "rush_p99_ms": "rush p99 (ms) open loop at {}".format(users) if users else "rush p99 (ms), closed loop",
                 "rush_errors": "rush errors (non-2xx + socket), all runs"}
        L.append("")
        L.append("{:<46} {:>9} {:>8}  {:<6} {}".format("ratio", "value", "floor", "result", "per run"))
        for k in ("rush_over_pgbench", "rush_p99_ms", "rush_errors"):
            if k not in rratios:
                continue
            r = rratios[k]
            if not r["pass"]:
                ok = False
                problems.append("year-end rush: {} {} (floor {} {})".format(names[k], r["value"], r["op"], r["floor"]))
            L.append("{:<46} {:>9.3f} {:>8}  {:<6} {}".format(
                names[k], r["value"], "{}{}".format(r["op"], r["floor"]), "PASS" if r["pass"] else "FAIL",
                " ".join("{:.3f}".format(x) for x in rpaired.get(k, []) if x is not None)))
        if y:
            L.append("{:<46} {:>9}           (closed loop: 256 connections back to back wait connections / throughput;"
                     " for information)".format("rush p99 (ms), closed loop at its max", fmt_ms(y["p99_ms_median"])))
        rush = {"connections": rconns, "figures": figs, "ratios": rratios, "paired": rpaired, "open_loop": open_sum,
                "open_loop_users_rate": users, "closed_p99_ms": y["p99_ms_median"] if y else None,
                "driver_nginx": {"rate": med([r["rate"] for r in ngx]), "p50_ms": med([r["p50_ms"] for r in ngx]),
                                 "p99_ms": med([r["p99_ms"] for r in ngx]), "runs": ngx} if ngx else None}

    # Memory.
    mem = {}
    L.append("")
    L.append("== server CPU and memory ==")
    loaded = [x for x in rss if x[1] not in ("idle", "?")]
    if loaded:
        mx = max(loaded, key=lambda x: x[2])
        mem["rss_max_mb"] = round(mx[2] / 1024.0, 1)
        mem["rss_max_during"] = mx[1]
        mem["rss_idle_start_mb"] = round(rss[0][2] / 1024.0, 1) if rss else None
        per = {}
        for _, ph, kb in loaded:
            per[ph] = max(per.get(ph, 0), kb)
        mem["rss_max_by_phase_mb"] = {k: round(v / 1024.0, 1) for k, v in sorted(per.items())}
        r = check("rss_max_mb", mem["rss_max_mb"])
        mem["rss_max_check"] = r
        if not r["pass"]:
            ok = False
            problems.append("RSS under load {} MB (floor <= 64)".format(mem["rss_max_mb"]))
        L.append("{:<46} {:>9.1f} {:>8}  {:<6} during {}; {:.1f} MB when the server had just started".format(
            "RSS under load, max (MB)", mem["rss_max_mb"], "<=64", "PASS" if r["pass"] else "FAIL", mx[1],
            mem["rss_idle_start_mb"] or 0))
    soak = s.get("soak", {})
    if soak.get("seconds") and soak.get("start"):
        ss = [x for x in rss if soak["start"] <= x[0] <= soak["end"] and x[1] == "soak"]
        warm = [x for x in ss if x[0] >= soak["start"] + soak["warmup"]]
        if warm:
            g = (warm[-1][2] - warm[0][2]) / 1024.0
            # least-squares slope after the warm-up, MB per 10 minutes
            t0 = warm[0][0]
            xs = [x[0] - t0 for x in warm]
            ys = [x[2] / 1024.0 for x in warm]
            mx_, my = sum(xs) / len(xs), sum(ys) / len(ys)
            den = sum((x - mx_) ** 2 for x in xs)
            slope = sum((x - mx_) * (y - my) for x, y in zip(xs, ys)) / den * 600 if den else 0.0
            r = check("rss_growth_mb", g)
            mem.update({"soak_rss_after_warmup_mb": round(warm[0][2] / 1024.0, 1),
                        "soak_rss_end_mb": round(warm[-1][2] / 1024.0, 1),
                        "soak_rss_max_mb": round(max(x[2] for x in ss) / 1024.0, 1),
                        "rss_growth_mb": round(g, 2), "rss_slope_mb_per_10min": round(slope, 2),
                        "rss_growth_check": r, "soak_samples": [[x[0] - soak["start"], x[2]] for x in ss]})
            if not r["pass"]:
                ok = False
                problems.append("RSS grew {:.1f} MB over the soak (floor <= 2)".format(g))
            L.append("{:<46} {:>9.2f} {:>8}  {:<6} {:.1f} MB after {} s warm-up -> {:.1f} MB at {} s; trend {:+.2f} MB/10 min".format(
                "RSS growth over the soak (MB)", g, "<=2", "PASS" if r["pass"] else "FAIL",
                warm[0][2] / 1024.0, soak["warmup"], warm[-1][2] / 1024.0, soak["end"] - soak["start"], slope))
        sk = [r for r in runs if r["figure"] == "soak"]
        if sk:
            tot = sum(r.get("requests", 0) for r in sk)
            n2 = sum(r.get("non_2xx", 0) for r in sk)
            se = {}
            for r in sk:
                for k, v in r.get("socket_errors", {}).items():
                    se[k] = se.get(k, 0) + v
            mem["soak_requests"], mem["soak_non_2xx"], mem["soak_socket_errors"] = tot, n2, se
            L.append("{:<46} {:>9} requests at {} connections, non-2xx {}, socket errors {}".format(
                "soak mix", "{:,}".format(tot), soak["conns"], n2, sum(se.values())))
            if n2:
                ok = False
                problems.append("soak: {} non-2xx responses".format(n2))
    else:
        L.append("RSS growth: no soak in this run (BENCH_SOAK_SECONDS=0)")
    for res in results:
        c = res["ratios"].get("cpu_us_per_result_get")
        if c:
            L.append("{:<46} {:>9.1f} {:>8}  {:<6} at {} connections (utime+stime of the process / requests)".format(
                "server CPU per result GET (us)", c["value"], "<=16", "PASS" if c["pass"] else "FAIL", res["connections"]))

    L.append("")
    if problems:
        L.append("not met:")
        for p in problems:
            L.append("  - " + p)
    L.append("overall: {}".format("PASS" if ok else "FAIL"))
    print("\n".join(L))

    doc = dict(meta)
    doc["schema"] = "yizhan-bench/perf/1"
    doc["floors"] = {k: {"op": v[0], "value": v[1]} for k, v in FLOORS.items()}
    doc["results"] = results
    doc["high_connections"] = high
    doc["rush"] = rush
    doc["memory"] = mem
    doc["problems"] = problems
    doc["pass"] = ok
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print("results: {}".format(out_path))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
