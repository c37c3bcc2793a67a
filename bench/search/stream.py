#!/usr/bin/env python3
"""The stream of searches of issue #25: every query new, as people search.

    stream.py gen N SEED REGIONS [CLASS...]   -> N queries a class, JSON lines on stdout
                                                 (REGIONS: "code|level" a line, every region)
    stream.py cursors BASE IN.jsonl           -> the same lines, later pages with their cursor
    stream.py plan IN.jsonl DIR CAPTURE RUN MIX REPS
                                              -> DIR/capture-<class>.paths (CAPTURE a class),
                                                 DIR/r<rep>-<class>.paths (RUN a class),
                                                 DIR/r<rep>-mix.paths (MIX of each class, interleaved)
    stream.py check BASE IN.jsonl K PSQL...   -> every page of K queries a class against a scan
                                                 (SEARCH_CHECK_PAGES=N: one of more pages is not checked)
    stream.py freq IN.jsonl PSQL...           -> {term: matches} of every term the queries use

Python standard library only.

The queries come from the vocabulary the listings were generated from (vocab.py), in five
classes: one, two, three and four words (`w1`..`w4`) and filter-only browses (`browse`).  A
term is drawn from the whole vocabulary with Zipf weights after a seeded shuffle (so a few are
asked for often — but each query only once), from the long tail (rare words) or as two characters
cut out of a longer word (people type parts of words); the words of one query mostly share a
domain, as real queries do.  About a third of the text queries carry one or two filters (kind,
domain, region, TRL, mode, holder type, maximum price, published since), a fifth sort by
recency, and a fifth ask for a later page (page 2 or 3: `cursors` fetches the pages before it,
so the cursor is the server's own).  No path (less its cursor) occurs twice in the whole output,
so no query of a run is ever a repeat — nor in any other run made from the same output.

`check` is the bench's proof that a search returns exactly the listings a substring scan finds:
for K queries a class it walks every page of the API (`sort=recent`, 100 a page) and compares
the set of listings with a scan of the tables (results and needs, every term by `LIKE` on title,
keywords and summary, every filter written out again in SQL from the tables' own columns).
"""

import bisect
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vocab  # noqa: E402

CLASSES = ("w1", "w2", "w3", "w4", "browse")
KINDS = ("result", "need")
TRANSFER_MODES = ("transfer", "licence", "equity_investment", "joint_implementation")
COOP_MODES = ("commissioned_development", "cooperative_development", "consulting", "service")
HOLDER_TYPES = ("020", "021", "022", "100", "110", "150", "160", "170")
PRICES = (5000000, 20000000, 100000000, 500000000, 2000000000)   # fen: 5 万 .. 2,000 万
SINCE = ("2024-03-01", "2024-09-01", "2025-01-01", "2025-06-01", "2025-10-01")


class Zipf:
    def __init__(self, items, rng):
        self.items = list(items)
        rng.shuffle(self.items)
        self.cum, acc = [], 0.0
        for r in range(1, len(self.items) + 1):
            acc += 1.0 / r
            self.cum.append(acc)

    def draw(self, rng):
        return self.items[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


class Gen:
    def __init__(self, seed, regions):
        self.rng = rng = random.Random(seed)
        self.domains = sorted(vocab.DOMAIN_TERMS)
        self.by_domain = {d: vocab.DOMAIN_TERMS[d].split() for d in self.domains}
        pool = sorted({t for v in self.by_domain.values() for t in v} | set(vocab.COMMON_TERMS))
        self.popular = Zipf(pool, rng)
        self.tail = sorted(set(vocab.TAIL_TERMS))
        by_level = {}
        for code, level in regions:
            by_level.setdefault(level, []).append(code)
        self.regions = (Zipf(sorted(by_level["1"]), rng), Zipf(sorted(by_level["2"]), rng), sorted(by_level["3"]))

    def term(self, domain=None):
        rng = self.rng
        x = rng.random()
        if domain and x < 0.7:
            t = rng.choice(self.by_domain[domain])
        elif x < 0.8:
            t = self.popular.draw(rng)
        else:
            t = rng.choice(self.tail)
        if len(t) >= 4 and rng.random() < 0.15:
            i = rng.randrange(len(t) - 1)   # two characters of a longer word
            t = t[i:i + 2]
        return t

    def region(self):
        rng = self.rng
        x = rng.random()
        if x < 0.5:
            return self.regions[0].draw(rng)
        if x < 0.9:
            return self.regions[1].draw(rng)
        return rng.choice(self.regions[2])

    def filters(self, n, domain):
        rng = self.rng
        q = {}
        names = ["kind", "domain", "region", "trl", "mode", "holder_type", "price_max", "from"]
        weights = [3, 4, 3, 2, 1, 1, 1, 1]
        while len(q) < n:
            f = rng.choices(names, weights)[0]
            if f in q or f + "_min" in q:
                continue
            if f == "kind":
                q["kind"] = rng.choice(KINDS)
            elif f == "domain":
                q["domain"] = domain if domain and rng.random() < 0.7 else rng.choice(self.domains)
            elif f == "region":
                q["region"] = self.region()
            elif f == "trl":
                lo = rng.randint(1, 8)
                q["trl_min"] = str(lo)
                if rng.random() < 0.5:
                    q["trl_max"] = str(rng.randint(lo, 9))
            elif f == "mode":
                kind = q.get("kind")
                q["mode"] = rng.choice(COOP_MODES if kind == "need" else TRANSFER_MODES if kind else
                                       TRANSFER_MODES + COOP_MODES)
            elif f == "holder_type":
                q["holder_type"] = rng.choice(HOLDER_TYPES)
            elif f == "price_max":
                q["price_max"] = str(rng.choice(PRICES))
            else:
                q["from"] = rng.choice(SINCE)
        return q

    def query(self, cls):
        rng = self.rng
        q = {}
        domain = rng.choice(self.domains) if rng.random() < 0.7 else None
        if cls == "browse":
            q.update(self.filters(rng.choice((1, 1, 2, 2, 3)), domain))
        else:
            words = []
            k = int(cls[1])
            while len(words) < k:
                t = self.term(domain)
                if t not in words:
                    words.append(t)
            q["q"] = " ".join(words)
            if rng.random() < 0.35:
                q.update(self.filters(rng.choice((1, 1, 2)), domain))
            if rng.random() < 0.2:
                q["sort"] = "recent"
        page = 1
        if rng.random() < 0.2:
            page = 2 if rng.random() < 0.7 else 3
        return q, page


def gen(n, seed, regions_file, classes):
    regions = [ln.strip().split("|") for ln in open(regions_file, encoding="utf-8") if ln.strip()]
    g = Gen(seed, regions)
    seen = set()
    out = []
    for cls in classes:
        made = tries = 0
        while made < n:
            tries += 1
            if tries > 50 * n + 1000:
                raise SystemExit("stream: class %s: only %d distinct queries of %d" % (cls, made, n))
            q, page = g.query(cls)
            path = "/api/v1/search?" + urllib.parse.urlencode(q)
            if path in seen:
                continue
            seen.add(path)
            out.append({"cls": cls, "page": page, "query": q, "path": path})
            made += 1
    for i, o in enumerate(out):
        o["n"] = i
        sys.stdout.write(json.dumps(o, ensure_ascii=False) + "\n")


def fetch(base, path, timeout=60):
    with urllib.request.urlopen(base + path, timeout=timeout) as r:
        return json.load(r)


def cursors(base, path_in):
    rows = [json.loads(ln) for ln in open(path_in, encoding="utf-8") if ln.strip()]

    def one(o):
        if o["page"] == 1:
            return o
        path, cur = o["path"], None
        for _ in range(o["page"] - 1):
            body = fetch(base, path + ("&cursor=" + urllib.parse.quote(cur) if cur else ""))
            cur = body["next_cursor"]
            if not cur:
                break
        if not cur:
            o = dict(o, page=1)          # fewer pages than asked for: the query stays a first page
        else:
            o = dict(o, path=o["path"] + "&cursor=" + urllib.parse.quote(cur))
        return o

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        for o in ex.map(one, rows):
            sys.stdout.write(json.dumps(o, ensure_ascii=False) + "\n")


def interleave(lists):
    """The lists' items spread evenly over one stream, each list in its share."""
    keyed = []
    for lst in lists:
        for j, o in enumerate(lst):
            keyed.append(((j + 0.5) / len(lst), o["n"], o))
    return [k[2] for k in sorted(keyed, key=lambda k: (k[0], k[1]))]


def plan(path_in, out_dir, capture, run, mix, reps):
    rows = [json.loads(ln) for ln in open(path_in, encoding="utf-8") if ln.strip()]
    by = {}
    for o in rows:
        by.setdefault(o["cls"], []).append(o)
    need = capture + reps * (run + mix)
    files = {}
    rng = random.Random(11)
    for cls, lst in sorted(by.items()):
        rng.shuffle(lst)   # the generator runs out of the rarer shapes first: spread them over the runs
        if len(lst) < need:
            raise SystemExit("stream: class %s has %d queries, the plan needs %d" % (cls, len(lst), need))
        files["capture-" + cls] = lst[:capture]
        at = capture
        for r in range(1, reps + 1):
            files["r%d-%s" % (r, cls)] = lst[at:at + run]
            files.setdefault("r%d-mix" % r, []).append(lst[at + run:at + run + mix])
            at += run + mix
    for name, lst in files.items():
        if name.endswith("-mix"):
            lst = interleave(lst)
        with open("%s/%s.paths" % (out_dir, name), "w", encoding="utf-8") as f:
            for o in lst:
                f.write("%d %s\n" % (o["n"], o["path"]))


def psql(cmd, sql):
    p = subprocess.run(cmd + ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True,
                       text=True, check=True)
    return p.stdout


def lit(s):
    return "'" + str(s).replace("'", "''") + "'"


def like(term):
    return lit("%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")


def region_prefix(code):
    return code[:2] if code[2:] == "0000" else code[:4] if code[4:] == "00" else code


def scan_sql(q):
    """The listings a query must find, by a scan of the tables (not of the search index)."""
    parts = []
    for kind in KINDS:
        if q.get("kind", kind) != kind:
            continue
        if kind == "need" and ("trl_min" in q or "trl_max" in q):
            continue   # a need has no TRL
        t, text, modes, org = (("results r", "r.summary", "r.transfer_modes", "r.holder_org_id") if kind == "result"
                               else ("needs r", "r.description", "r.cooperation_modes", "r.org_id"))
        w = ["r.status IN ('published', 'under_notice')" if kind == "result" else
             "r.status = 'open' AND (r.deadline IS NULL OR r.deadline >= (now() AT TIME ZONE 'Asia/Shanghai')::date)",
             "r.published_at IS NOT NULL"]
        for term in q.get("q", "").split():
            p = like(term)
            w.append("(r.title LIKE %s OR %s LIKE %s OR array_to_string(r.keywords, E'\\n') LIKE %s)" % (p, text, p, p))
        if "domain" in q:
            w.append("r.domain = %s" % lit(q["domain"]))
        if "region" in q:
            w.append("r.region_code LIKE %s" % lit(region_prefix(q["region"]) + "%"))
        if "trl_min" in q:
            w.append("r.trl >= %d" % int(q["trl_min"]))
        if "trl_max" in q:
            w.append("r.trl <= %d" % int(q["trl_max"]))
        if "mode" in q:
            w.append("%s %s %s" % (lit(q["mode"]), "= ANY", "(" + modes + ")"))
        if "holder_type" in q:
            w.append("(SELECT o.org_type = %s OR c.parent_code = %s FROM orgs o LEFT JOIN codes c ON c.list = "
                     "'org_types' AND c.code = o.org_type WHERE o.id = %s)" % (lit(q["holder_type"]),
                                                                               lit(q["holder_type"]), org))
        if "price_max" in q:
            p = int(q["price_max"])
            w.append("r.asking_price_fen <= %d" % p if kind == "result" else
                     "(r.budget_min_fen IS NOT NULL OR r.budget_max_fen IS NOT NULL) AND coalesce(r.budget_min_fen, 0)"
                     " <= %d" % p)
        if "from" in q:
            w.append("r.published_at >= (%s::date::timestamp AT TIME ZONE 'Asia/Shanghai')" % lit(q["from"]))
        parts.append("SELECT '%s:' || r.id FROM %s WHERE %s" % (kind, t, " AND ".join(w)))
    return " UNION ALL ".join(parts) if parts else None


def check_one(base, cmd, o, max_pages=0):
    q = {k: v for k, v in o["query"].items() if k != "sort"}
    q.update(sort="recent", limit="100")
    api, pages, cursor, first = set(), 0, None, None
    while True:
        body = fetch(base, "/api/v1/search?" + urllib.parse.urlencode(q) +
                     ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""), timeout=300)
        pages += 1
        first = first or body["total"]
        for it in body["items"]:
            k = "%s:%s" % (it["kind"], it["id"])
            if k in api:
                return {"n": o["n"], "cls": o["cls"], "path": o["path"], "equal": False, "duplicate": k}
            api.add(k)
        cursor = body["next_cursor"]
        if not cursor:
            break
        if max_pages and pages >= max_pages:
            # not walked to the end (SEARCH_CHECK_PAGES): no verdict, said so
            return {"n": o["n"], "cls": o["cls"], "path": o["path"], "api": len(api), "scan": None, "equal": None,
                    "pages": pages, "total": first, "not_checked": "more than %d pages of 100" % max_pages}
    sql = scan_sql(o["query"])
    scan = set(ln for ln in psql(cmd, sql).splitlines() if ln) if sql else set()
    exact_ok = (first["value"] == len(scan)) if first.get("exact") else len(scan) > first["value"]
    return {"n": o["n"], "cls": o["cls"], "path": o["path"], "api": len(api), "scan": len(scan),
            "equal": api == scan and exact_ok, "pages": pages, "total": first,
            "missing": sorted(scan - api)[:5], "extra": sorted(api - scan)[:5]}


def check(base, path_in, k, cmd):
    rows = [json.loads(ln) for ln in open(path_in, encoding="utf-8") if ln.strip()]
    rng = random.Random(7)
    picked = []
    for cls in CLASSES:
        mine = [o for o in rows if o["cls"] == cls]
        picked += rng.sample(mine, min(k, len(mine)))
    for o in picked:
        sys.stdout.write(json.dumps(dict(check_one(base, cmd, o, int(os.environ.get("SEARCH_CHECK_PAGES", "0") or 0)),
                                         tool="check"), ensure_ascii=False) + "\n")
        sys.stdout.flush()


def freq(path_in, cmd):
    terms = set()
    for ln in open(path_in, encoding="utf-8"):
        if ln.strip():
            terms.update(json.loads(ln)["query"].get("q", "").split())
    if not terms:
        print("{}")
        return
    values = ",".join("(%s)" % lit(t) for t in sorted(terms))
    rows = psql(cmd, "SELECT t, (SELECT count(*) FROM search_docs s WHERE s.tsv @@ search_query_tsquery(t)::tsquery"
                     " AND s.doc LIKE search_like_pattern(t)) FROM (VALUES %s) v(t)" % values)
    out = {}
    for ln in rows.splitlines():
        t, n = ln.rsplit("|", 1)
        out[t] = int(n)
    print(json.dumps(out, ensure_ascii=False))


def main(a):
    if len(a) >= 5 and a[1] == "gen":
        gen(int(a[2]), int(a[3]), a[4], a[5:] or CLASSES)
    elif len(a) == 4 and a[1] == "cursors":
        cursors(a[2], a[3])
    elif len(a) == 8 and a[1] == "plan":
        plan(a[2], a[3], *map(int, a[4:8]))
    elif len(a) >= 6 and a[1] == "check":
        check(a[2], a[3], int(a[4]), a[5:])
    elif len(a) >= 4 and a[1] == "freq":
        freq(a[2], a[3:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
