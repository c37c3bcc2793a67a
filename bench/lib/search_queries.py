#!/usr/bin/env python3
"""The search mix of bench/run.sh: N GET /api/v1/search paths, one a line.

    search_queries.py N [SEED] > paths.txt

Terms come from bench/search/vocab.py (the generator's vocabulary), drawn
with Zipf weights (rank r weighs 1/r, after a seeded shuffle), so the mix
has a few very common terms and many rarer ones, as the listings do.  The
mix: one term (half), two terms (a quarter), a term with a filter (domain,
kind, region, TRL) and a few browses with filters only.  The same seed
gives the same mix.
"""
import bisect
import os
import random
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "search"))
import vocab  # noqa: E402

REGIONS = ["510000", "511900", "410000", "430000", "500000"]


def zipf(items, rng):
    items = list(items)
    rng.shuffle(items)
    cum, acc = [], 0.0
    for r in range(1, len(items) + 1):
        acc += 1.0 / r
        cum.append(acc)
    return lambda: items[bisect.bisect_left(cum, rng.random() * cum[-1])]


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 24
    rng = random.Random(int(argv[2]) if len(argv) > 2 else 20261122)
    domains = list(vocab.DOMAIN_TERMS)
    pool = sorted({t for d in domains for t in vocab.DOMAIN_TERMS[d].split()} | set(vocab.COMMON_TERMS))
    term = zipf(pool, rng)
    seen, out = set(), []
    while len(out) < n:
        x = rng.random()
        q = {}
        if x < 0.5:
            q["q"] = term()
        elif x < 0.75:
            q["q"] = term() + " " + term()
        elif x < 0.92:
            q["q"] = term()
            f = rng.choice(["domain", "kind", "region", "trl"])
            if f == "domain":
                q["domain"] = rng.choice(domains)
            elif f == "kind":
                q["kind"] = rng.choice(["result", "need"])
            elif f == "region":
                q["region"] = rng.choice(REGIONS)
            else:
                q["trl_min"] = str(rng.randint(3, 7))
        else:
            q["domain"] = rng.choice(domains)
            q["kind"] = "result"
        path = "/api/v1/search?" + urllib.parse.urlencode(q)
        if path not in seen:
            seen.add(path)
            out.append(path)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
