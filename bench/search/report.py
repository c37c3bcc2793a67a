#!/usr/bin/env python3
"""Summarise a search benchmark run: print the table, write the JSON, judge the floors.

    report.py RAW.jsonl META.json OUT.json [LISTINGS]

RAW.jsonl has one line per measured run: wrk lines (from bench/lib/parse.py) tagged with figure,
term and run, pgbench-log lines {"tool": "scan", "figure", "term", "run", "p50_ms", "p99_ms",
"tps", "n"}, and check lines {"tool": "check", ...} from terms.py; and the stream's lines
(bench/search/stream.sh), whose table stream_report.py makes.  Exits 1 when a floor fails.

Floors (issue #4):
  * through the API, p99 <= 10 ms at 16 connections for each of the three terms;
  * the rare two-character term >= 50x faster through the API than by the LIKE scan (p50 against p50);
  * the API's result set equal to the scan's for each term.
The stream (issue #25): every checked search equal to the scan, no error; its latency and rate
targets are reported, not enforced.
"""

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stream_report  # noqa: E402

P99_FLOOR_MS = 10.0
RARE_SPEEDUP_FLOOR = 50.0


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def main():
    raw = [json.loads(ln) for ln in open(sys.argv[1], encoding="utf-8") if ln.strip()]
    meta = json.load(open(sys.argv[2], encoding="utf-8"))
    terms = meta["terms"]
    figures = {}
    for r in raw:
        if r["tool"] in ("wrk", "scan"):
            figures.setdefault((r["figure"], r["term"]), []).append(r)
    checks = {r["term"]: r for r in raw if r["tool"] == "check"}

    def fig(name, term):
        runs = figures.get((name, term), [])
        return {
            "runs": runs,
            "p50_ms": med(r.get("p50_ms") for r in runs),
            "p99_ms": med(r.get("p99_ms") for r in runs),
            "rps": med(r.get("rps") or r.get("tps") for r in runs),
            "non_2xx": sum(r.get("non_2xx", 0) for r in runs),
        }

    results = {}
    ok = True
    lines = []
    lines.append("%-9s %-10s %9s %9s %9s %9s   %s" % ("case", "term", "matches", "p50 ms", "p99 ms", "req/s", "figure"))
    for case in ("rare", "frequent", "four"):
        if case not in terms:
            continue
        t = terms[case]["term"]
        api = fig("api", t)
        cold = fig("api_uncached", t)
        scan = fig("scan", t)
        anchor = fig("anchor", t)   # pgbench of the server's statement, cached totals (anchor.sh)
        anchor_cold = fig("anchor_uncached", t)
        chk = checks.get(t, {})
        speed = round(scan["p50_ms"] / api["p50_ms"], 1) if scan["p50_ms"] and api["p50_ms"] else None
        floors = {
            "api_p99_ms": {"value": api["p99_ms"], "floor": P99_FLOOR_MS,
                           "pass": api["p99_ms"] is not None and api["p99_ms"] <= P99_FLOOR_MS},
            "equal_to_scan": {"value": chk.get("equal"), "pass": bool(chk.get("equal"))},
        }
        if case == "rare":
            floors["scan_over_api_p50"] = {"value": speed, "floor": RARE_SPEEDUP_FLOOR,
                                           "pass": speed is not None and speed >= RARE_SPEEDUP_FLOOR}
        if api["non_2xx"] or cold["non_2xx"]:
            floors["no_errors"] = {"value": api["non_2xx"] + cold["non_2xx"], "pass": False}
        ok = ok and all(f["pass"] for f in floors.values())
        results[case] = {"term": t, "matches": chk.get("scan"), "share_pct": terms[case]["share_pct"],
                         "api": api, "api_uncached": cold, "scan": scan, "anchor": anchor,
                         "anchor_uncached": anchor_cold, "check": chk,
                         "scan_over_api_p50": speed, "floors": floors}
        for name, f in (("api", api), ("anchor", anchor), ("api_uncached", cold), ("anchor_uncached", anchor_cold),
                        ("scan", scan)):
            if name.startswith("anchor") and not f["runs"]:
                continue
            lines.append("%-9s %-10s %9s %9s %9s %9s   %s" % (case, t, chk.get("scan", "?"), f["p50_ms"], f["p99_ms"],
                                                           f["rps"], name))
    lines.append("")
    lines.append("floor                                   value      floor  result")
    for case, r in results.items():
        for k, f in r["floors"].items():
            lines.append("%-9s %-28s %10s %8s  %s" % (case, k, f["value"], f.get("floor", ""),
                                                    "PASS" if f["pass"] else "FAIL"))
    if not results:
        lines = []
    stream = None
    if any(r["tool"] == "stream_run" for r in raw):
        text, stream = stream_report.table(sys.argv[1], "search", int(sys.argv[4]) if len(sys.argv) > 4 else 100000)
        lines += ["", text] if lines else [text]
        for k in ("equal_to_scan", "no_errors"):
            ok = ok and stream["floors"][k]["pass"]
    print("\n".join(lines))
    out = dict(meta, schema="yizhan-bench/search/2", results=results, stream=stream, pass_=ok)
    out["pass"] = out.pop("pass_")
    json.dump(out, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    print("\nwrote %s — %s" % (sys.argv[3], "all floors met" if ok else "FLOORS NOT MET"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
