#!/usr/bin/env python3
"""The query mix of the staff-search benchmark (bench/contracts/run.sh), and its bookkeeping.

    queries.py pick TERMS.json PSQL...               the mix as JSON (stdout)
    queries.py check MIX.json BASE TOKENS.json PSQL... every page of the text queries against a LIKE scan
    queries.py probe MIX.json BASE TOKENS.json       each query once (statement logging is on)
    queries.py lua MIX.json TOKENS.json              the wrk script: the queries in turn, each with its caller's token
    queries.py pgblog DIR OUTPUT RUN                 pgbench's per-transaction log → one JSON line (p50, p99)
    queries.py report RAW.jsonl MIX.json OUT.json N CONNS SECONDS LOAD0 LOAD1 CHECK_FAILED

python3 standard library only; PSQL is the psql command line (its output read as unaligned tuples).
"""
import glob
import json
import re
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request

FLOOR_P99_MS = 20.0


def sql(psql, q):
    out = subprocess.run(psql + ["-A", "-t", "-c", q], check=True, capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln != ""]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def pick(terms_path, psql):
    t = json.load(open(terms_path, encoding="utf-8"))
    counts = {k: v for k, v in t["terms"].items() if v > 0}
    n = t["contracts"]
    rare = min((k for k in counts if 20 <= counts[k] <= 80), key=lambda k: (len(k) != 2, abs(counts[k] - 40)),
               default=min(counts, key=counts.get))
    mid = min(counts, key=lambda k: abs(counts[k] - n / 100))
    frequent = "技术"                       # in nearly every title (…技术开发合同, 技术服务合同, …)
    # a seller with a middling number of contracts (the 20th busiest)
    sname, scode = sql(psql, "SELECT seller_name || '|' || seller_credit_code FROM contracts WHERE seller_credit_code"
                             " IS NOT NULL GROUP BY seller_name, seller_credit_code ORDER BY count(*) DESC, 1"
                             " LIMIT 1 OFFSET 20")[0].split("|")
    seller = {"name": sname, "credit_code": scode}
    name_part = sname[2:6]
    regno = sql(psql, "SELECT registration_no FROM contracts WHERE registration_no IS NOT NULL"
                      " ORDER BY registration_no LIMIT 1 OFFSET %d" % (n // 3))[0]
    office, region = sql(psql, "SELECT u.office_id || '|' || (SELECT region_code FROM users b WHERE b.email ="
                               " 'bureau@demo.yizhan.cn') FROM users u WHERE u.email = 'officer@demo.yizhan.cn'")[0].split("|")
    enc = urllib.parse.quote
    Q = []

    def add(who, params, check=None):
        Q.append({"who": who, "path": "/api/v1/contracts?" + "&".join("%s=%s" % (k, enc(str(v))) for k, v in params),
                  "check": check})

    add("admin", [("q", regno)], {"regno": regno})
    add("admin", [("q", regno[:10])], {"regno_prefix": regno[:10]})
    add("admin", [("q", seller["credit_code"])], {"text": seller["credit_code"]})
    add("admin", [("q", name_part)], {"text": name_part})
    add("admin", [("q", rare)], {"text": rare})
    add("admin", [("q", mid)], {"text": mid})
    add("admin", [("q", frequent)])
    add("admin", [("q", frequent), ("sort", "amount_desc")])
    add("admin", [("q", mid), ("status", "registered"), ("year", "2016"), ("type", "development")])
    add("admin", [("region", "510000"), ("amount_min", "1000000"), ("amount_max", "50000000"), ("sort", "registered")])
    add("admin", [("status", "submitted"), ("overdue", "true")])
    add("admin", [("q", rare + " " + frequent)])
    add("admin", [])
    add("officer", [("q", frequent)])
    add("officer", [("q", mid), ("sort", "oldest")])
    add("bureau", [("q", mid)])
    add("bureau", [("q", rare), ("sort", "amount_asc")])
    add("admin", [("q", seller["credit_code"][:10])])
    return {"terms": {"rare": [rare, counts[rare]], "middle": [mid, counts[mid]], "frequent": [frequent, None],
                      "seller_name_part": name_part, "credit_code": seller["credit_code"], "registration_no": regno},
            "office": office, "region": region, "queries": Q}


def get(base, token, path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def check(mix_path, base, tokens_path, psql):
    mix = json.load(open(mix_path, encoding="utf-8"))
    tok = json.load(open(tokens_path))
    ok = True
    for q in mix["queries"]:
        c = q["check"]
        if not c:
            continue
        ids, cursor, pages = [], None, 0
        while True:
            p = q["path"] + "&limit=100" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
            page = get(base, tok[q["who"]], p)
            ids += [x["id"] for x in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        if "regno" in c:
            want = sql(psql, "SELECT id FROM contracts WHERE registration_no = %s" % lit(c["regno"]))
        elif "regno_prefix" in c:
            want = sql(psql, "SELECT id FROM contracts WHERE registration_no LIKE %s" % lit(c["regno_prefix"] + "%"))
        else:
            pat = lit("%" + c["text"].lower() + "%")
            want = sql(psql, "SELECT id FROM contracts WHERE lower(title) LIKE {p} OR lower(seller_name) LIKE {p}"
                             " OR lower(buyer_name) LIKE {p} OR lower(coalesce(intermediary_name, '')) LIKE {p}"
                             " OR lower(coalesce(seller_credit_code, '')) LIKE {p}"
                             " OR lower(coalesce(buyer_credit_code, '')) LIKE {p}".format(p=pat))
        want = sorted(int(x) for x in want)
        dup = len(ids) != len(set(ids))
        same = sorted(ids) == want and not dup
        ok = ok and same
        print("check %-40s api %7d  scan %7d  %s%s (%d pages)" % (urllib.parse.unquote(q["path"][17:])[:40], len(ids),
              len(want), "equal" if same else "DIFFERENT", ", duplicates" if dup else "", pages))
    return 0 if ok else 1


def probe(mix_path, base, tokens_path):
    mix = json.load(open(mix_path, encoding="utf-8"))
    tok = json.load(open(tokens_path))
    for q in mix["queries"]:
        get(base, tok[q["who"]], q["path"])
    return 0


def lua(mix_path, tokens_path):
    mix = json.load(open(mix_path, encoding="utf-8"))
    tok = json.load(open(tokens_path))
    print("local reqs = {")
    for q in mix["queries"]:
        print('  {"%s", "Bearer %s"},' % (q["path"], tok[q["who"]]))
    print("}")
    print("local i = 0")
    print("request = function() i = i % #reqs + 1; return wrk.format('GET', reqs[i][1], {['Authorization'] = reqs[i][2]}) end")
    return 0


def pgblog(d, output, run):
    lat = []
    failed = 0
    for f in glob.glob(d + "/pgbench_log.*"):
        for ln in open(f):
            p = ln.split()
            if len(p) >= 3:
                if p[2] in ("failed", "skipped"):
                    failed += 1
                else:
                    lat.append(int(p[2]) / 1000.0)
    lat.sort()
    q = lambda x: round(lat[min(len(lat) - 1, int(x * len(lat)))], 3) if lat else None  # noqa: E731
    text = open(output).read()
    tps = re.search(r"^tps = ([0-9.]+)", text, re.M)
    print(json.dumps({"tool": "pgbench", "figure": "pgbench", "run": int(run), "rps": float(tps.group(1)) if tps else 0,
                      "p50_ms": q(0.50), "p99_ms": q(0.99), "n": len(lat), "failed": failed}))
    return 0


def report(raw, mix_path, out, n, conns, secs, load0, load1, check_failed):
    rows = [json.loads(ln) for ln in open(raw) if ln.strip()]
    mix = json.load(open(mix_path, encoding="utf-8"))
    med = lambda fig, k: statistics.median(r[k] for r in rows if r["figure"] == fig and r.get(k) is not None)  # noqa: E731
    api = {k: med("api", k) for k in ("rps", "p50_ms", "p99_ms")}
    pgb = {k: med("pgbench", k) for k in ("rps", "p50_ms", "p99_ms")}
    non2xx = sum(r.get("non_2xx", 0) or 0 for r in rows if r["figure"] == "api")
    ratio = {k: round(api[k] / pgb[k], 3) if pgb[k] else None for k in ("p50_ms", "p99_ms")}
    ratio["rps"] = round(api["rps"] / pgb["rps"], 3) if pgb["rps"] else None
    passed = api["p99_ms"] <= FLOOR_P99_MS and non2xx == 0 and check_failed == "0"
    print()
    print("== staff search at %s contracts, %s connections, %s s a run, medians of %d runs (load %s → %s) =="
          % (n, conns, secs, sum(1 for r in rows if r["figure"] == "api"), load0, load1))
    print("%-28s %12s %12s %12s" % ("", "req/s", "p50 ms", "p99 ms"))
    print("%-28s %12.0f %12.2f %12.2f" % ("API GET /contracts?q=…", api["rps"], api["p50_ms"], api["p99_ms"]))
    print("%-28s %12.0f %12.2f %12.2f" % ("pgbench, the same SQL", pgb["rps"], pgb["p50_ms"], pgb["p99_ms"]))
    print("%-28s %12s %12s %12s" % ("API / pgbench", ratio["rps"], ratio["p50_ms"], ratio["p99_ms"]))
    print("floor: API p99 ≤ %.0f ms: %s;  non-2xx: %d;  result sets equal to the scan: %s"
          % (FLOOR_P99_MS, "PASS" if api["p99_ms"] <= FLOOR_P99_MS else "FAIL", non2xx,
             "yes" if check_failed == "0" else "NO"))
    json.dump({"contracts": int(n), "connections": int(conns), "seconds": int(secs), "loadavg": [load0, load1],
               "api": api, "pgbench": pgb, "ratio": ratio, "non_2xx": non2xx, "sets_equal": check_failed == "0",
               "floor_p99_ms": FLOOR_P99_MS, "pass": passed, "mix": mix, "runs": rows},
              open(out, "w"), ensure_ascii=False, indent=1)
    print("overall: %s  (%s)" % ("PASS" if passed else "FAIL", out))
    return 0 if passed else 1


def main(a):
    cmd = a[1] if len(a) > 1 else ""
    if cmd == "pick":
        json.dump(pick(a[2], a[3:]), sys.stdout, ensure_ascii=False, indent=1)
        return 0
    if cmd == "check":
        return check(a[2], a[3], a[4], a[5:])
    if cmd == "probe":
        return probe(a[2], a[3], a[4])
    if cmd == "lua":
        return lua(a[2], a[3])
    if cmd == "pgblog":
        return pgblog(a[2], a[3], a[4])
    if cmd == "report":
        return report(*a[2:11])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
