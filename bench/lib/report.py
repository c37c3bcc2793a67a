#!/usr/bin/env python3
"""Summarise a benchmark run: medians, ratios against the anchors, PASS/FAIL.

    report.py RAW.jsonl META.json OUT.json

RAW.jsonl holds one line per measured run (from parse.py), tagged with
`figure`, `conns` and `run`. META.json holds what the run knew about itself
(settings, versions, server DB connections per connection count). Prints the
table, writes OUT.json, and exits 0 when every floor holds and no run had
non-2xx responses or failed transactions, 1 otherwise.

Figures and anchors (see bench/README.md):
  livez_over_nginx      = median(yizhan /livez) / median(nginx /livez)          floor 0.55
  region_over_composite = median(yizhan GET region) / composite                 floor 1.0
  composite             = 1 / (1/median(yizhan /livez) + 1/median(pgbench tps))
i.e. the one-row GET must be at least as fast as "an HTTP round trip plus a
query round trip" done one after the other with no overlap.
"""
import json
import statistics
import sys

FIGURES = [
    # key, label, what the figure is
    ("nginx_livez", "nginx  GET /livez (fixed 200)", "anchor"),
    ("yizhan_livez", "yizhan GET /livez", "measured"),
    ("yizhan_region_get", "yizhan GET /api/v1/codes/regions/{code}", "measured"),
    ("pgbench_region_sql", "pgbench, same SQL (tps)", "anchor"),
]
FLOORS = {"livez_over_nginx": 0.55, "region_over_composite": 1.0}


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarise(runs):
    runs = sorted(runs, key=lambda r: r["run"])
    rps = [r["rps"] for r in runs]
    s = {
        "median_rps": round(statistics.median(rps), 1),
        "min_rps": round(min(rps), 1),
        "max_rps": round(max(rps), 1),
        "spread_pct": round(100.0 * (max(rps) - min(rps)) / statistics.median(rps), 1) if statistics.median(rps) else None,
        "p50_ms_median": _median([r.get("p50_ms") for r in runs]),
        "p99_ms_median": _median([r.get("p99_ms") for r in runs]),
        "avg_ms_median": _median([r.get("avg_ms") for r in runs]),
        "non_2xx": sum(r.get("non_2xx", 0) for r in runs),
        "failed": sum(r.get("failed", 0) for r in runs),
        "socket_errors": {},
        "runs": runs,
    }
    for r in runs:
        for k, v in r.get("socket_errors", {}).items():
            s["socket_errors"][k] = s["socket_errors"].get(k, 0) + v
    return s


def _fmt_rps(x):
    return "-" if x is None else "{:,.0f}".format(x)


def _fmt_ms(x):
    return "-" if x is None else "{:.3f}".format(x) if x < 10 else "{:.1f}".format(x)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    raw_path, meta_path, out_path = argv[1:]
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    runs = []
    with open(raw_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))

    ok = True
    results = []
    lines = []
    s = meta["settings"]
    lines.append("")
    lines.append("Yizhan foundation benchmark  {}  ({} cores, load {} at start)".format(
        meta["started_at"], meta["machine"]["nproc"], meta["machine"].get("loadavg_start", "?")))
    lines.append("wrk -t{t} -d{d}s --latency; pgbench -M prepared -j{t} -T{d}; {r} runs each, interleaved; "
                 "median (min-max); region code {c}".format(
                     t=s["threads"], d=s["seconds"], r=s["reps"], c=s["region_code"]))
    for conns in sorted({r["conns"] for r in runs}):
        sub = [r for r in runs if r["conns"] == conns]
        figs = {}
        for key, _, _ in FIGURES:
            fr = [r for r in sub if r["figure"] == key]
            if fr:
                figs[key] = summarise(fr)
        res = {"connections": conns, "figures": figs,
               "server_db_connections": meta.get("server_db_connections", {}).get(str(conns))}
        lines.append("")
        lines.append("== {} connections ==".format(conns))
        lines.append("{:<42} {:>10}  {:>19}  {:>8}  {:>8}  {}".format(
            "figure", "req/s", "min-max", "p50 ms", "p99 ms", "errors"))
        for key, label, _ in FIGURES:
            f = figs.get(key)
            if not f:
                continue
            if key.startswith("pgbench"):
                lat50, lat99 = "avg " + _fmt_ms(f["avg_ms_median"]), "-"
                err = "failed {}".format(f["failed"])
                if f["failed"]:
                    ok = False
            else:
                lat50, lat99 = _fmt_ms(f["p50_ms_median"]), _fmt_ms(f["p99_ms_median"])
                se = sum(f["socket_errors"].values())
                err = "non-2xx {}".format(f["non_2xx"])
                if se:
                    err += ", socket " + ",".join("{} {}".format(k, v) for k, v in f["socket_errors"].items() if v)
                if f["non_2xx"]:
                    ok = False
                    err += "  <- FAIL"
            lines.append("{:<42} {:>10}  {:>19}  {:>8}  {:>8}  {}".format(
                label, _fmt_rps(f["median_rps"]),
                "{}-{}".format(_fmt_rps(f["min_rps"]), _fmt_rps(f["max_rps"])), lat50, lat99, err))

        ratios = {}
        nl, yl = figs.get("nginx_livez"), figs.get("yizhan_livez")
        yr, pg = figs.get("yizhan_region_get"), figs.get("pgbench_region_sql")
        if nl and yl:
            v = yl["median_rps"] / nl["median_rps"]
            ratios["livez_over_nginx"] = {"value": round(v, 3), "floor": FLOORS["livez_over_nginx"],
                                          "pass": v >= FLOORS["livez_over_nginx"]}
        if yl and yr and pg:
            comp = 1.0 / (1.0 / yl["median_rps"] + 1.0 / pg["median_rps"])
            res["composite_rps"] = round(comp, 1)
            v = yr["median_rps"] / comp
            ratios["region_over_composite"] = {"value": round(v, 3), "floor": FLOORS["region_over_composite"],
                                               "pass": v >= FLOORS["region_over_composite"]}
            lines.append("{:<42} {:>10}".format("composite 1/(1/livez + 1/pgbench)", _fmt_rps(comp)))
        # Ratios of the runs paired by repetition (same minute of machine noise), for reference.
        paired = {"livez_over_nginx": [], "region_over_composite": []}
        if nl and yl:
            for a, b in zip(yl["runs"], nl["runs"]):
                paired["livez_over_nginx"].append(round(a["rps"] / b["rps"], 3))
        if yl and yr and pg:
            for a, b, c in zip(yl["runs"], yr["runs"], pg["runs"]):
                paired["region_over_composite"].append(round(b["rps"] * (1.0 / a["rps"] + 1.0 / c["rps"]), 3))
        res["ratios"] = ratios
        res["paired_ratios"] = paired
        lines.append("")
        lines.append("{:<42} {:>10}  {:>7}  {:<6} {}".format("ratio", "value", "floor", "result", "per run"))
        names = {"livez_over_nginx": "livez / nginx",
                 "region_over_composite": "region_get / (1/(1/livez + 1/pgbench))"}
        for k in ("livez_over_nginx", "region_over_composite"):
            if k in ratios:
                r = ratios[k]
                if not r["pass"]:
                    ok = False
                lines.append("{:<42} {:>10.3f}  {:>7.2f}  {:<6} {}".format(
                    names[k], r["value"], r["floor"], "PASS" if r["pass"] else "FAIL",
                    " ".join("{:.3f}".format(x) for x in paired[k])))
        dbc = res["server_db_connections"]
        lines.append("")
        lines.append("database connections: yizhan holds {} (YIZHAN_THREADS={}), pgbench opens {}".format(
            "?" if dbc is None else dbc, s.get("yizhan_threads", "?"), conns))
        results.append(res)

    if meta.get("sql_check") == "mismatch":
        lines.append("")
        lines.append("WARNING: pgbench ran bench/lib/region_get.sql, which is not the statement in"
                     " server/api/codes.c: the anchor measured a different query.")
    elif meta.get("sql_check") == "unchecked":
        lines.append("")
        lines.append("WARNING: server/api/codes.c not found; the pgbench statement was not checked against it.")
    lines.append("")
    lines.append("overall: {}".format("PASS" if ok else "FAIL"))
    print("\n".join(lines))

    doc = dict(meta)
    doc["schema"] = "yizhan-bench/foundation/1"
    doc["floors"] = FLOORS
    doc["results"] = results
    doc["pass"] = ok
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    print("results: {}".format(out_path))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
