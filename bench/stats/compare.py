#!/usr/bin/env python3
"""bench/stats/compare.py — every figure the API gives equals a direct aggregate.

Usage: compare.py BASE_URL TOKEN PSQL_ARGS... ; reads query specs (region year flow by)
from stdin, one per line.  For each, GET /api/v1/stats/contracts and compute the same
groups straight from the contracts table (not from the aggregates), and compare.
Prints one line per query and exits 1 on any difference."""
import json
import subprocess
import sys
import urllib.request

base, token, psql = sys.argv[1], sys.argv[2], sys.argv[3:]

KEY = {
    "type": "c.contract_type", "subtype": "c.contract_subtype", "domain": "c.domain",
    "seller_type": "c.seller_org_type", "buyer_type": "c.buyer_org_type", "ip_type": "c.ip_type",
    "plan_source": "c.plan_source",
    "socio_economic_objective": "c.socio_economic_objective",
    # the national categories straight from the code list (own extra.category, else the parent's, else other)
    "seller_category": "coalesce((SELECT coalesce(o.extra->>'category', p.extra->>'category') FROM codes o LEFT JOIN codes p"
                       " ON p.list = o.list AND p.code = o.parent_code WHERE o.list = 'org_types'"
                       " AND o.code = c.seller_org_type), 'other')",
    "buyer_category": "coalesce((SELECT coalesce(o.extra->>'category', p.extra->>'category') FROM codes o LEFT JOIN codes p"
                      " ON p.list = o.list AND p.code = o.parent_code WHERE o.list = 'org_types'"
                      " AND o.code = c.buyer_org_type), 'other')",
    "month": "lpad(extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int::text, 2, '0')",
    "quarter": "((extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int - 1) / 3 + 1)::text",
}


def direct(region, year, flow, by):
    col = "c.seller_region_code" if flow == "out" else "c.buyer_region_code"
    where = f"c.status = 'registered' AND c.registration_year = {int(year)} AND {col} IS NOT NULL"
    if region != "000000":
        where += f" AND region_in_subtree({col}, '{region}')"
    if by == "region":
        # the child of `region` on the party's path, from the parent links
        key = (f"(SELECT a.code FROM regions a WHERE region_in_subtree({col}, a.code) AND "
               + ("a.parent_code IS NULL" if region == "000000" else f"a.parent_code = '{region}'")
               + f" UNION ALL SELECT {col} WHERE NOT EXISTS (SELECT 1 FROM regions a WHERE "
               + f"region_in_subtree({col}, a.code) AND "
               + ("a.parent_code IS NULL" if region == "000000" else f"a.parent_code = '{region}'") + ") LIMIT 1)")
    elif by == "partner":
        # where the other party is: inside the region, its province, or abroad
        other = "c.buyer_region_code" if flow == "out" else "c.seller_region_code"
        key = (f"CASE WHEN {other} IS NULL THEN 'abroad' WHEN '{region}' = '000000' OR region_in_subtree({other}, "
               f"'{region}') THEN 'inside' ELSE left({other}, 2) || '0000' END")
    else:
        key = KEY.get(by, "''")
    sql = (f"SELECT coalesce({key}, 'unknown'), count(*), sum(c.contract_amount_fen), sum(c.technical_amount_fen), "
           f"sum(c.received_amount_fen) FROM contracts c WHERE {where} GROUP BY 1")
    out = subprocess.run(psql + ["-X", "-A", "-t", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        k, n, cf, tf, rf = line.split("\t")
        rows[k] = (int(n), int(cf), int(tf), int(rf))
    return rows


bad = 0
for line in sys.stdin:
    if not line.strip():
        continue
    region, year, flow, by = line.split()
    url = f"{base}/api/v1/stats/contracts?region={region}&year={year}&flow={flow}&by={by}"
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    body = json.load(urllib.request.urlopen(req))
    api = {g["key"]: (g["count"], g["contract_amount_fen"], g["technical_amount_fen"], g["received_amount_fen"])
           for g in body["groups"]}
    want = direct(region, year, flow, by)
    tot = body["total"]
    api_total = (tot["count"], tot["contract_amount_fen"], tot["technical_amount_fen"], tot["received_amount_fen"])
    want_total = tuple(sum(v[i] for v in want.values()) for i in range(4))
    ok = api == want and api_total == want_total
    bad += not ok
    print(f"{'equal' if ok else 'DIFFERENT':9}  region={region} year={year} flow={flow} by={by:12} "
          f"groups={len(api)} total={api_total[0]} contracts / {api_total[1] / 100:,.2f} yuan")
    if not ok:
        for k in sorted(set(api) | set(want)):
            if api.get(k) != want.get(k):
                print(f"    {k}: api={api.get(k)} direct={want.get(k)}")
sys.exit(1 if bad else 0)
