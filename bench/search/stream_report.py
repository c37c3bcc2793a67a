#!/usr/bin/env python3
"""The stream benchmark's figures (bench/search/stream.sh).

    stream_report.py line DIR NAME TAG RUN CLASS  -> one JSON line: a measured run and its pgbench
    stream_report.py meta DIR TAG                 -> one JSON line: every query's class, page,
                                                     filters and terms, and the terms' matches
    stream_report.py table RAW.jsonl TAG LISTINGS -> the table and the floors (JSON on fd 3 if open)

Latencies are end-to-end per search, as the client saw them (stream.lua).  The rate of a run is
searches / (last response - first request).  pgbench reports its average latency and tps.

Floors (enforced): no non-2xx answer; every checked search equal to the scan of the tables.
Targets (issue #25, reported as met or missed), each search new, STREAM_CONNS (16) connections,
the mix of all classes: p99 <= 15 ms at 100,000 listings (<= 25 ms at 1,000,000; by interpolation
on a log scale in between) and >= 1,500 searches/s at 100,000 listings (none at a million).
"""

import json
import math
import re
import statistics
import sys

CLASSES = ("w1", "w2", "w3", "w4", "browse", "mix")
LABELS = {"w1": "one word", "w2": "two words", "w3": "three words", "w4": "four words", "browse": "filters only",
          "mix": "mix (all five)"}


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


def line(d, name, tag, run, cls):
    lat, non2, t_first, t_last = {}, 0, None, None
    for ln in open("%s/%s.out" % (d, name)):
        n, status, a, b = ln.split()
        a, b = int(a), int(b)
        lat[int(n)] = b - a
        if not status.startswith("2"):
            non2 += 1
        t_first = a if t_first is None else min(t_first, a)
        t_last = b if t_last is None else max(t_last, b)
    us = list(lat.values())
    pgb = open("%s/%s.pgb" % (d, name)).read()
    tps = re.search(r"^tps = ([0-9.]+)", pgb, re.M)
    avg = re.search(r"^latency average = ([0-9.]+) ms", pgb, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", pgb, re.M)
    out = {"tool": "stream_run", "tag": tag, "run": int(run), "cls": cls, "n": len(us),
           "seconds": round((t_last - t_first) / 1e6, 3), "rps": round(len(us) * 1e6 / (t_last - t_first), 1),
           "p50_ms": round(q(us, 0.5) / 1000, 3), "p99_ms": round(q(us, 0.99) / 1000, 3),
           "max_ms": round(max(us) / 1000, 3), "non_2xx": non2,
           "pgb_tps": float(tps.group(1)) if tps else 0.0, "pgb_avg_ms": float(avg.group(1)) if avg else None,
           "pgb_failed": int(failed.group(1)) if failed else 0,
           "lat_us": {str(k): v for k, v in sorted(lat.items())}}
    print(json.dumps(out))


def meta(d, tag):
    freq = json.load(open("%s/freq.json" % d, encoding="utf-8"))
    queries = {}
    for ln in open("%s/queries.jsonl" % d, encoding="utf-8"):
        o = json.loads(ln)
        terms = o["query"].get("q", "").split()
        filters = sorted(k for k in o["query"] if k not in ("q", "sort"))
        queries[str(o["n"])] = {"cls": o["cls"], "page": o["page"], "filters": filters,
                                "sort": o["query"].get("sort", "relevance" if terms else "recent"),
                                "rarest": min((freq.get(t, 0) for t in terms), default=None) if freq else None,
                                "path": o["path"]}
    print(json.dumps({"tool": "stream_meta", "tag": tag, "queries": queries}, ensure_ascii=False))


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def targets(listings):
    """(p99 ms, searches/s or None) for a number of listings."""
    if listings <= 100000:
        return 15.0, 1500.0
    if listings >= 1000000:
        return 25.0, None
    f = math.log(listings / 100000) / math.log(10)
    return round(15.0 + 10.0 * f, 1), None


def table(raw_path, tag, listings):
    raw = [json.loads(ln) for ln in open(raw_path, encoding="utf-8") if ln.strip()]
    runs = [r for r in raw if r.get("tool") == "stream_run" and r.get("tag") == tag]
    checks = [r for r in raw if r.get("tool") == "stream_check" and r.get("tag") == tag]
    meta = next((r for r in raw if r.get("tool") == "stream_meta" and r.get("tag") == tag), {"queries": {}})
    qs = meta["queries"]
    lines, res = [], {"listings": listings, "classes": {}, "breakdown": {}}
    lines.append("stream of new searches at %s listings, %s" % (format(listings, ","), tag))
    lines.append("%-16s %6s %9s %9s %9s %8s | %9s %9s %7s" % ("class", "runs", "search/s", "p50 ms", "p99 ms", "non2xx",
                                                              "pgb tps", "pgb ms", "ratio"))
    for cls in CLASSES:
        rs = [r for r in runs if r["cls"] == cls]
        if not rs:
            continue
        c = {"rps": med(r["rps"] for r in rs), "p50_ms": med(r["p50_ms"] for r in rs),
             "p99_ms": med(r["p99_ms"] for r in rs), "non_2xx": sum(r["non_2xx"] for r in rs),
             "pgb_tps": med(r["pgb_tps"] for r in rs), "pgb_avg_ms": med(r["pgb_avg_ms"] for r in rs),
             "pgb_failed": sum(r["pgb_failed"] for r in rs),
             "rps_runs": [r["rps"] for r in rs], "p99_runs": [r["p99_ms"] for r in rs],
             "per_run_ratio": [round(r["rps"] / r["pgb_tps"], 2) if r["pgb_tps"] else None for r in rs]}
        c["ratio"] = round(c["rps"] / c["pgb_tps"], 2) if c["pgb_tps"] else None
        res["classes"][cls] = c
        lines.append("%-16s %6d %9.0f %9.2f %9.2f %8d | %9.0f %9.2f %7s" % (
            LABELS[cls], len(rs), c["rps"], c["p50_ms"], c["p99_ms"], c["non_2xx"], c["pgb_tps"] or 0,
            c["pgb_avg_ms"] or 0, c["ratio"]))
    # Within the mix runs: by page, by filters, by how common the rarest word is.
    mix = [r for r in runs if r["cls"] == "mix"]
    groups = {}
    for r in mix:
        for n, us in r["lat_us"].items():
            m = qs.get(n)
            if not m:
                continue
            keys = ["page %s" % ("1" if m["page"] == 1 else "2-3"),
                    "with filters" if m["filters"] else "no filter", "sort " + m["sort"]]
            if m["rarest"] is not None:
                share = m["rarest"] / max(listings, 1)
                keys.append("rarest word %s" % ("no match" if m["rarest"] == 0 else "< 0.1 %" if share < 0.001
                                                 else "0.1-1 %" if share < 0.01 else ">= 1 %"))
            for k in keys:
                groups.setdefault(k, []).append(us)
    if groups:
        lines.append("")
        lines.append("in the mix runs, by kind of search          searches    p50 ms    p99 ms")
        for k in sorted(groups):
            v = groups[k]
            res["breakdown"][k] = {"n": len(v), "p50_ms": round(q(v, 0.5) / 1000, 3),
                                   "p99_ms": round(q(v, 0.99) / 1000, 3)}
            lines.append("  %-40s %9d %9.2f %9.2f" % (k, len(v), q(v, 0.5) / 1000, q(v, 0.99) / 1000))
    # How far the estimated totals (above the count's cap) were from the scan's count.
    est = [c["total"]["estimate"] / c["scan"] for c in checks
           if isinstance(c.get("total"), dict) and c["total"].get("estimate") and c.get("scan")]
    if est:
        res["estimates"] = {"n": len(est), "median_ratio": round(statistics.median(est), 3),
                            "min_ratio": round(min(est), 3), "max_ratio": round(max(est), 3)}
        lines.append("")
        lines.append("estimated totals / the scan's count, %d checked searches: median %.2f, %.2f .. %.2f" % (
            len(est), statistics.median(est), min(est), max(est)))
    p99_floor, rps_floor = targets(listings)
    mixc = res["classes"].get("mix", {})
    floors = {
        "mix_p99_ms": {"value": mixc.get("p99_ms"), "floor": p99_floor,
                       "pass": mixc.get("p99_ms") is not None and mixc["p99_ms"] <= p99_floor},
        # a search of more than SEARCH_CHECK_PAGES pages is not checked (equal null), and said so
        "equal_to_scan": {"value": "%d of %d" % (sum(1 for c in checks if c["equal"]),
                                                 sum(1 for c in checks if c["equal"] is not None))
                          + ("" if all(c["equal"] is not None for c in checks) else ", %d not checked" % sum(
                              1 for c in checks if c["equal"] is None)),
                          "pass": any(c["equal"] is not None for c in checks)
                          and all(c["equal"] is not False for c in checks)},
        "no_errors": {"value": sum(c.get("non_2xx", 0) for c in res["classes"].values()) +
                      sum(c.get("pgb_failed", 0) for c in res["classes"].values()),
                      "pass": all(c.get("non_2xx", 0) == 0 and c.get("pgb_failed", 0) == 0
                                  for c in res["classes"].values())},
    }
    if rps_floor:
        floors["mix_searches_per_s"] = {"value": mixc.get("rps"), "floor": rps_floor,
                                        "pass": mixc.get("rps") is not None and mixc["rps"] >= rps_floor}
    res["floors"] = floors
    res["checks"] = [{k: c.get(k) for k in ("cls", "path", "api", "scan", "equal", "pages", "total", "missing",
                                            "extra")} for c in checks]
    lines.append("")
    for k, f in floors.items():
        enforced = k in ("equal_to_scan", "no_errors")
        lines.append("%-28s %12s %8s  %s" % (k, f["value"], f.get("floor", ""),
                                             ("PASS" if f["pass"] else "FAIL") if enforced else
                                             ("target met" if f["pass"] else "target missed")))
    return "\n".join(lines), res


def main(a):
    if len(a) == 7 and a[1] == "line":
        line(*a[2:])
    elif len(a) == 4 and a[1] == "meta":
        meta(a[2], a[3])
    elif len(a) == 5 and a[1] == "table":
        text, res = table(a[2], a[3], int(a[4]))
        print(text)
        print(json.dumps(res, ensure_ascii=False))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
