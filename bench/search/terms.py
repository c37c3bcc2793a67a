#!/usr/bin/env python3
"""Pick the benchmark's search terms from the loaded data, and check search against a scan.

    terms.py pick  PSQL...            -> JSON {"rare": {...}, "frequent": {...}, "four": {...}} on stdout
    terms.py check BASE_URL TERM PSQL... -> JSON {"term", "api", "scan", "equal", "pages", ...} on stdout
                                         (SEARCH_CHECK_PAGES=N: a term of more than N pages of
                                         100 is not checked, equal null)

PSQL is the psql command line to run (its output is read unaligned, tuples only).  Python
standard library only.

The terms come from the vocabulary the data was generated from (vocab.py), counted through the
search index (cheap), then confirmed by the scan in `check`:
  rare      a two-character term with 20 to 80 matches (the one nearest 40): a needle
  frequent  the two-character term with the most matches: a word nearly every listing has
  four      a four-character term with about 1 % of the listings (the one nearest 1,000 of
            100,000): neither needle nor haystack, the case where the index has the most work
"""

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vocab  # noqa: E402


def psql(cmd, sql):
    p = subprocess.run(cmd + ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True,
                       text=True, check=True)
    return p.stdout


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def pick(cmd):
    terms = set(vocab.COMMON_TERMS) | set(vocab.TAIL_TERMS)
    for v in vocab.DOMAIN_TERMS.values():
        terms.update(v.split())
    terms = sorted(t for t in terms if len(t) in (2, 4))
    values = ",".join("(%s)" % lit(t) for t in terms)
    rows = psql(cmd, "SELECT t, (SELECT count(*) FROM search_docs s WHERE s.tsv @@ search_query_tsquery(t)::tsquery"
                     " AND s.doc LIKE search_like_pattern(t)) FROM (VALUES %s) v(t)" % values)
    counts = {}
    for ln in rows.splitlines():
        t, n = ln.rsplit("|", 1)
        counts[t] = int(n)
    total = int(psql(cmd, "SELECT count(*) FROM search_docs").strip())
    two = [(n, t) for t, n in counts.items() if len(t) == 2]
    four = [(n, t) for t, n in counts.items() if len(t) == 4]
    pool = [x for x in two if 20 <= x[0] <= 80] or [x for x in two if x[0] >= 1]   # (small data sets)
    rare = min(pool, key=lambda x: (abs(x[0] - 40), x[1]))
    frequent = max(two)
    target = total // 100
    fourc = min(four, key=lambda x: (abs(x[0] - target), x[1]))
    out = {"listings": total}
    for name, (n, t) in (("rare", rare), ("frequent", frequent), ("four", fourc)):
        out[name] = {"term": t, "index_count": n, "share_pct": round(100.0 * n / total, 3)}
    return out


def check(base, term, cmd, max_pages=0):
    """Every hit of /search for term (sort=recent, 100 a page) against a LIKE scan of the tables
    (max_pages > 0: a term with more pages is not checked)."""
    api = set()
    pages = 0
    cursor = None
    total = None
    while True:
        q = {"q": term, "sort": "recent", "limit": 100}
        if cursor:
            q["cursor"] = cursor
        with urllib.request.urlopen(base + "/api/v1/search?" + urllib.parse.urlencode(q), timeout=30) as r:
            body = json.load(r)
        pages += 1
        total = total or body["total"]
        for it in body["items"]:
            key = "%s:%s" % (it["kind"], it["id"])
            if key in api:
                raise SystemExit("duplicate item %s for %s" % (key, term))
            api.add(key)
        cursor = body["next_cursor"]
        if not cursor:
            break
        if max_pages and pages >= max_pages:
            # not walked to the end (SEARCH_CHECK_PAGES): no verdict, said so
            return {"tool": "check", "term": term, "api": len(api), "scan": None, "equal": None, "pages": pages,
                    "not_checked": "more than %d pages of 100" % max_pages, "first_total": total}
    pat = lit("%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    rows = psql(cmd, "SELECT 'result:' || id FROM results WHERE status IN ('published', 'under_notice') AND"
                     " (title LIKE %s OR summary LIKE %s OR array_to_string(keywords, E'\\n') LIKE %s)"
                     " UNION ALL SELECT 'need:' || id FROM needs WHERE status = 'open' AND (deadline IS NULL OR"
                     " deadline >= (now() AT TIME ZONE 'Asia/Shanghai')::date) AND (title LIKE %s OR description"
                     " LIKE %s OR array_to_string(keywords, E'\\n') LIKE %s)" % ((pat,) * 6))
    scan = set(ln for ln in rows.splitlines() if ln)
    return {"tool": "check", "term": term, "api": len(api), "scan": len(scan), "equal": api == scan, "pages": pages,
            "missing": sorted(scan - api)[:10], "extra": sorted(api - scan)[:10], "first_total": total}


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "pick":
        print(json.dumps(pick(sys.argv[2:]), ensure_ascii=False))
    elif len(sys.argv) >= 5 and sys.argv[1] == "check":
        print(json.dumps(check(sys.argv[2], sys.argv[3], sys.argv[4:],
                               int(os.environ.get("SEARCH_CHECK_PAGES", "0") or 0)), ensure_ascii=False))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
