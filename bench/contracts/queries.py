#!/usr/bin/env python3
"""The query mix of the staff-search benchmark (bench/contracts/run.sh), and its bookkeeping.

    queries.py pick TERMS.json BASE TOKENS.json PSQL... the stream as JSON (stdout): PER_CLASS distinct queries
                                                     of each class (CLASSES), and the queries the check pages
    queries.py check MIX.json BASE TOKENS.json PSQL... every page of the text queries against a LIKE scan
    queries.py probe MIX.json BASE TOKENS.json CLASS each query of CLASS once (statement logging is on)
    queries.py lua MIX.json TOKENS.json CLASS        the wrk script: CLASS's queries in turn, each with its caller's token
    queries.py report RAW.jsonl MIX.json OUT.json N CONNS SECONDS LOAD0 LOAD1 CHECK_FAILED

python3 standard library only; PSQL is the psql command line (its output read as unaligned tuples).
"""
import json
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


CLASSES = ["regno_exact", "regno_prefix", "credit_code", "party_name", "title_rare", "title_common", "filtered",
           "later_pages", "officer", "bureau"]
PER_CLASS = 30
COMMON = ["技术", "合同", "开发", "服务", "技术开发", "技术服务", "转让", "技术 合同", "开发合同", "服务合同"]


def pick(terms_path, psql, base=None, tokens_path=None):
    """A stream of distinct staff queries, PER_CLASS of each class (seeded: the same data gives the
    same stream)."""
    import random
    rng = random.Random(20261207)
    t = json.load(open(terms_path, encoding="utf-8"))
    counts = {k: v for k, v in t["terms"].items() if v > 0}
    n = t["contracts"]
    rare = sorted(k for k in counts if 5 <= counts[k] <= n * 0.002) or sorted(counts, key=counts.get)[:PER_CLASS]
    mid = sorted(k for k in counts if n * 0.005 <= counts[k] <= n * 0.05) or sorted(counts)[:10]
    sample = sql(psql, "SELECT registration_no || '|' || seller_name || '|' || buyer_name || '|' || seller_credit_code"
                       " || '|' || coalesce(buyer_credit_code, '') FROM contracts TABLESAMPLE SYSTEM (1)"
                       " REPEATABLE (7) WHERE registration_no IS NOT NULL LIMIT 400")
    rows = [x.split("|") for x in sample]
    offices = sql(psql, "SELECT id FROM registry_offices WHERE active ORDER BY id")
    officer_office, region = sql(psql, "SELECT u.office_id || '|' || (SELECT region_code FROM users b WHERE b.email ="
                                       " 'bureau@demo.yizhan.cn') FROM users u"
                                       " WHERE u.email = 'officer@demo.yizhan.cn'")[0].split("|")
    types = ["development", "transfer", "licence", "consulting", "service", "technical_service",
             "commissioned_development", "patent_transfer"]
    regions = sql(psql, "SELECT code FROM regions WHERE level <= 2 ORDER BY code")
    statuses = ["registered", "submitted", "cancelled", "returned"]
    sorts = ["newest", "oldest", "amount_desc", "amount_asc", "registered"]
    enc = urllib.parse.quote
    Q = []

    def path(params):
        return "/api/v1/contracts?" + "&".join("%s=%s" % (k, enc(str(v))) for k, v in params)

    def add(cls, who, params, check=None):
        Q.append({"class": cls, "who": who, "path": path(params), "check": check})

    def text():
        x = rng.random()
        return rng.choice(rare) if x < 0.4 else rng.choice(mid) if x < 0.7 else rng.choice(COMMON)

    def filters():
        f = []
        for k in rng.sample(["status", "year", "type", "region", "amount", "office"], rng.choice([1, 2, 3])):
            if k == "status":
                f.append(("status", rng.choice(statuses)))
            elif k == "year":
                f.append(("year", rng.randrange(2013, 2020)))
            elif k == "type":
                f.append(("type", rng.choice(types)))
            elif k == "region":
                f.append(("region", rng.choice(regions)))
            elif k == "office":
                f.append(("office_id", rng.choice(offices)))
            else:
                lo = rng.choice([100000, 1000000, 5000000])
                f.append(("amount_min", lo))
                f.append(("amount_max", lo * rng.choice([5, 20, 100])))
        return f

    for i in range(PER_CLASS):
        r = rows[i % len(rows)]
        add("regno_exact", "admin", [("q", r[0])], {"regno": r[0]} if i < 3 else None)
        pre = rows[(i + 40) % len(rows)][0][:rng.choice([8, 10, 12])]
        add("regno_prefix", "admin", [("q", pre)], {"regno_prefix": pre} if i < 2 and len(pre) == 12 else None)
        r2 = rows[(i + 80) % len(rows)]
        cc = r2[3] if i % 2 == 0 or not r2[4] else r2[4]
        if i % 3 == 2:
            cc = cc[:rng.choice([8, 10, 12])].lower()
        add("credit_code", "admin", [("q", cc)])
        r3 = rows[(i + 120) % len(rows)]
        name = r3[1] if i % 2 == 0 else r3[2]
        k = rng.randrange(0, max(1, len(name) - 4))
        frag = name[k:k + rng.choice([3, 4, 5])]
        add("party_name", "admin", [("q", frag)] + ([("sort", rng.choice(sorts))] if i % 3 == 0 else []))
        add("title_rare", "admin", [("q", rare[rng.randrange(len(rare))])] +
            ([("sort", rng.choice(sorts))] if i % 2 else []), None)
        common = COMMON[i % len(COMMON)] if i < len(COMMON) else rng.choice(mid)
        add("title_common", "admin", [("q", common), ("sort", sorts[i % len(sorts)])])
        add("filtered", "admin", [("q", text())] + filters() + ([("sort", rng.choice(sorts))] if i % 2 else []))
        add("officer", "officer", [("q", text())] + ([("status", rng.choice(statuses))] if i % 3 == 0 else []))
        add("bureau", "bureau", [("q", text())] + ([("year", rng.randrange(2013, 2020))] if i % 3 == 0 else []))
    # the check: every page equal to a LIKE scan, for some rare and middle terms
    # (every page of a few thousand matches at most: a check pages through them 100 at a time)
    for term in rare[:3] + [min(mid, key=lambda k: counts[k])]:
        Q.append({"class": None, "who": "admin", "path": path([("q", term)]), "check": {"text": term}})
    # later pages: page 2 or 3 of common and middle searches (the cursors from the server)
    if base:
        tok = json.load(open(tokens_path))
        for i in range(PER_CLASS):
            who = ["admin", "officer", "bureau"][i % 3]
            p = path([("q", COMMON[i % len(COMMON)] if i % 2 else rng.choice(mid)), ("sort", sorts[i % 4])])
            cur = None
            for _ in range(1 + i % 2 + 1):
                page = get(base, tok[who], p + ("&cursor=" + enc(cur) if cur else ""))
                cur = page["next_cursor"]
                if not cur:
                    break
            if cur:
                Q.append({"class": "later_pages", "who": who, "path": p + "&cursor=" + enc(cur), "check": None})
    return {"terms": {"rare": len(rare), "middle": len(mid), "common": COMMON}, "office": officer_office,
            "region": region, "classes": CLASSES, "queries": Q}


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


def probe(mix_path, base, tokens_path, cls):
    mix = json.load(open(mix_path, encoding="utf-8"))
    tok = json.load(open(tokens_path))
    for q in mix["queries"]:
        if q["class"] == cls:
            get(base, tok[q["who"]], q["path"])
    return 0


def lua(mix_path, tokens_path, cls):
    mix = json.load(open(mix_path, encoding="utf-8"))
    tok = json.load(open(tokens_path))
    print("local reqs = {")
    for q in mix["queries"]:
        if q["class"] != cls:
            continue
        print('  {"%s", "Bearer %s"},' % (q["path"], tok[q["who"]]))
    print("}")
    print("local i = 0")
    print("request = function() i = i % #reqs + 1; return wrk.format('GET', reqs[i][1], {['Authorization'] = reqs[i][2]}) end")
    return 0


def report(raw, mix_path, out, n, conns, secs, load0, load1, check_failed):
    rows = [json.loads(ln) for ln in open(raw) if ln.strip()]
    mix = json.load(open(mix_path, encoding="utf-8"))

    def med(fig, cls, k):
        v = [r[k] for r in rows if r["figure"] == fig and r.get("class") == cls and r.get(k) is not None]
        return statistics.median(v) if v else None

    per = {}
    for cls in mix["classes"]:
        api = {k: med("api", cls, k) for k in ("rps", "p50_ms", "p99_ms")}
        pgb = {k: med("pgbench", cls, k) for k in ("rps", "p50_ms", "p99_ms")}
        if api["rps"] is None:
            continue
        ratio = {k: round(api[k] / pgb[k], 3) if pgb.get(k) else None for k in ("rps", "p50_ms", "p99_ms")}
        per[cls] = {"api": api, "pgbench": pgb, "ratio": ratio,
                    "queries": sum(1 for q in mix["queries"] if q["class"] == cls)}
    non2xx = sum(r.get("non_2xx", 0) or 0 for r in rows if r["figure"] == "api")
    worst = max(v["api"]["p99_ms"] for v in per.values())
    passed = worst <= FLOOR_P99_MS and non2xx == 0 and check_failed == "0"
    print()
    print("== staff search at %s contracts, %s connections, %s s a run, medians of %d runs a class (load %s -> %s) =="
          % (n, conns, secs, max(sum(1 for r in rows if r["figure"] == "api" and r.get("class") == c)
                                 for c in per), load0, load1))
    print("%-13s %4s | %8s %8s %8s | %8s %8s %8s | %6s %6s %6s" % ("class", "qs", "API r/s", "p50 ms", "p99 ms",
                                                                     "pgb tps", "p50 ms", "p99 ms", "r/s x", "p50 x",
                                                                     "p99 x"))
    f = lambda x, d=2: ("%.*f" % (d, x)) if x is not None else "-"  # noqa: E731
    for cls, v in per.items():
        a, p, r = v["api"], v["pgbench"], v["ratio"]
        print("%-13s %4d | %8s %8s %8s | %8s %8s %8s | %6s %6s %6s" % (
            cls, v["queries"], f(a["rps"], 0), f(a["p50_ms"]), f(a["p99_ms"]), f(p["rps"], 0), f(p["p50_ms"]),
            f(p["p99_ms"]), f(r["rps"]), f(r["p50_ms"]), f(r["p99_ms"])))
    print("floor: API p99 <= %.0f ms in every class: %s (worst %.2f ms);  non-2xx: %d;  result sets equal to the"
          " scan: %s" % (FLOOR_P99_MS, "PASS" if worst <= FLOOR_P99_MS else "FAIL", worst, non2xx,
                         "yes" if check_failed == "0" else "NO"))
    json.dump({"contracts": int(n), "connections": int(conns), "seconds": int(secs), "loadavg": [load0, load1],
               "classes": per, "non_2xx": non2xx, "sets_equal": check_failed == "0",
               "floor_p99_ms": FLOOR_P99_MS, "pass": passed, "mix": mix, "runs": rows},
              open(out, "w"), ensure_ascii=False, indent=1)
    print("overall: %s  (%s)" % ("PASS" if passed else "FAIL", out))
    return 0 if passed else 1


def main(a):
    cmd = a[1] if len(a) > 1 else ""
    if cmd == "pick":
        json.dump(pick(a[2], a[5:], a[3], a[4]), sys.stdout, ensure_ascii=False, indent=1)
        return 0
    if cmd == "check":
        return check(a[2], a[3], a[4], a[5:])
    if cmd == "probe":
        return probe(a[2], a[3], a[4], a[5])
    if cmd == "lua":
        return lua(a[2], a[3], a[4])
    if cmd == "report":
        return report(*a[2:11])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
