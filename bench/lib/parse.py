#!/usr/bin/env python3
"""Turn one wrk or pgbench output into one JSON line (python3 stdlib only).

    parse.py wrk     OUTPUT_FILE key=value...   -> {"tool": "wrk", "rps": ..., "p50_ms": ..., ...}
    parse.py pgbench OUTPUT_FILE key=value...   -> {"tool": "pgbench", "rps": <tps>, ...}
    parse.py pgblog  LOG_DIR OUTPUT_FILE key=value...
                                                -> {"tool": "pgbench", "rps", "tps", "n", "failed", "p50_ms", "p99_ms"}
                                                   from pgbench -l's per-transaction logs in LOG_DIR

Each key=value is copied into the line (numbers as numbers), so the caller tags
the line with figure, connections and run. Exits 1 when the output has no rate
in it, so that a crashed or misparsed run never counts as a zero.
"""
import glob
import json
import re
import sys

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError("bad latency %r" % text)
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(text):
    out = {"tool": "wrk"}
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("no Requests/sec line")
    out["rps"] = float(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
        out["duration_ms"] = _ms(m.group(2))
    m = re.search(r"^\s*\d+ requests in [0-9.]+\w+, ([0-9.]+)([KMGT]?B) read", text, re.M)
    if m:  # wrk's rounded total: headers and bodies as they came (compressed or not)
        out["bytes_read"] = int(float(m.group(1)) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)])
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s(?:\.0+)?%%\s+([0-9.]+\w+)" % pct, text, re.M)
        if m:
            out["p%s_ms" % pct] = round(_ms(m.group(1)), 4)
    m = re.search(r"^\s+Latency\s+([0-9.]+\w+)\s+([0-9.]+\w+)\s+([0-9.]+\w+)", text, re.M)
    if m:
        out["avg_ms"] = round(_ms(m.group(1)), 4)
        out["max_ms"] = round(_ms(m.group(3)), 4)
    errs = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errs = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    out["socket_errors"] = errs
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    return out


def parse_pgbench(text):
    out = {"tool": "pgbench"}
    # PostgreSQL 14+: "tps = N (without initial connection time)"; older: "(excluding connections establishing)".
    m = re.search(r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
                  text, re.M)
    if not m:
        raise ValueError("no tps line")
    out["rps"] = float(m.group(1))
    m = re.search(r"^number of transactions actually processed: (\d+)", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    out["failed"] = int(m.group(1)) if m else 0
    m = re.search(r"^latency average = ([0-9.]+) ms", text, re.M)
    if m:
        out["avg_ms"] = float(m.group(1))
    m = re.search(r"^latency stddev = ([0-9.]+) ms", text, re.M)
    if m:
        out["stddev_ms"] = float(m.group(1))
    m = re.search(r"^initial connection time = ([0-9.]+) ms", text, re.M)
    if m:
        out["connect_ms"] = float(m.group(1))
    # A client that hit an error is aborted (pgbench goes on with the others): keep the first message.
    errs = re.findall(r"^pgbench: error: client \d+ (?:script \d+ )?aborted.*$", text, re.M)
    if errs:
        out["aborted_clients"] = len(errs)
        m = re.search(r"ERROR:\s*(.*)$", text, re.M)
        out["error"] = (m.group(1) if m else errs[0])[:300]
    return out


def parse_pgblog(log_dir, text):
    """Latency percentiles from pgbench -l's logs (pgbench_log.*: the third field is the latency in us, or
    "failed"/"skipped"), and the rate from its output; tps is None (rps 0) when the output has none."""
    lat = []
    failed = 0
    for f in glob.glob(log_dir + "/pgbench_log.*"):
        with open(f) as fh:
            for ln in fh:
                p = ln.split()
                if len(p) >= 3:
                    if p[2] in ("failed", "skipped"):
                        failed += 1
                    else:
                        lat.append(int(p[2]) / 1000.0)
    lat.sort()

    def q(x):
        return round(lat[min(len(lat) - 1, int(x * len(lat)))], 3) if lat else None

    m = re.search(r"^tps = ([0-9.]+)", text, re.M)
    tps = float(m.group(1)) if m else None
    return {"tool": "pgbench", "rps": tps or 0, "tps": tps, "n": len(lat), "failed": failed,
            "p50_ms": q(0.50), "p99_ms": q(0.99)}


def _value(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def main(argv):
    if len(argv) < 3 or argv[1] not in ("wrk", "pgbench", "pgblog") or (argv[1] == "pgblog" and len(argv) < 4):
        sys.stderr.write(__doc__)
        return 2
    if argv[1] == "pgblog":
        log_dir, argv = argv[2], argv[:2] + argv[3:]
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        text = f.read()
    try:
        if argv[1] == "pgblog":
            rec = parse_pgblog(log_dir, text)
        else:
            rec = parse_wrk(text) if argv[1] == "wrk" else parse_pgbench(text)
    except ValueError as e:
        sys.stderr.write("parse.py: %s: %s\n--- output was ---\n%s\n" % (argv[2], e, text))
        return 1
    for kv in argv[3:]:
        k, _, v = kv.partition("=")
        rec[k] = _value(v)
    print(json.dumps(rec, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
