#!/usr/bin/env python3
"""Generate technology contracts for the staff-search benchmark (bench/contracts/run.sh).

    gen.py --contracts N --sellers K --buyers M --regions regions.txt --offices offices.txt [--seed S]
           [--terms terms.json] > data.sql

Writes a psql script: K seller organisations (valid unified social credit codes) into `orgs`, and N
contracts into `contracts` by COPY, with explicit ids above --id-base — titles built from the
vocabulary of the search benchmark (bench/search/vocab.py, Zipf weights, the same helpers as
bench/search/gen.py), the parties' names from cities and technical terms, M buyers (most with a
credit code), every contract subtype, domain, IP type and plan source, log-normal amounts; 88 %
registered over 2013–2019, years the demo data does not use (registration numbers of the office and year, gap-free), 2 % cancelled,
5 % submitted (due dates around today, some overdue), the rest returned, refused or draft.  The
contracts' search columns are left empty: the script's caller runs contract_search_reindex(), the
database's own tokenizer (the one the triggers use).  --terms writes how many titles each
vocabulary term is in, so the run can pick a rare, a middle and a frequent term.
"""

import argparse
import datetime as dt
import json
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))
import vocab  # noqa: E402
from gen import CC_ALPHABET, Zipf, credit_code, esc  # noqa: E402

SUBTYPES = [  # (type, subtype, the words a title ends with)
    ("development", "commissioned_development", "技术开发（委托）合同"),
    ("development", "cooperative_development", "技术开发（合作）合同"),
    ("transfer", "patent_transfer", "专利权转让合同"),
    ("transfer", "patent_application_transfer", "专利申请权转让合同"),
    ("transfer", "know_how_transfer", "技术秘密转让合同"),
    ("transfer", "software_copyright_transfer", "计算机软件著作权转让合同"),
    ("licence", "patent_licence", "专利实施许可合同"),
    ("licence", "know_how_licence", "技术秘密使用许可合同"),
    ("consulting", "technical_consulting", "技术咨询合同"),
    ("service", "technical_service", "技术服务合同"),
    ("service", "technical_training", "技术培训合同"),
    ("service", "technical_intermediary", "技术中介合同"),
]
SUBTYPE_WEIGHTS = [30, 8, 6, 2, 5, 3, 4, 2, 10, 25, 3, 2]
TITLE_FORMS = ["{A}{B}{E}", "{A}{E}", "基于{A}的{B}{E}", "{A}与{B}{E}", "{C}{A}{E}", "{A}关键技术研究{E}",
               "{A}{B}工艺优化{E}", "{C}{A}示范应用{E}"]
SELLER_WORDS = [("大学", "022"), ("理工大学", "022"), ("研究院", "021"), ("研究所", "021"), ("科技有限公司", "150"),
                ("股份有限公司", "160"), ("技术有限公司", "170")]
BUYER_WORDS = [("科技有限公司", "150"), ("实业有限公司", "150"), ("股份有限公司", "160"), ("制造有限公司", "170"),
               ("集团有限公司", "110"), ("农业开发有限公司", "170"), ("医药有限公司", "150")]
CITIES = ["巴中", "偃师", "岳阳", "重庆", "成都", "绵阳", "洛阳", "长沙", "南充", "达州", "宜宾", "襄阳", "德阳", "遂宁",
          "广元", "泸州", "乐山", "眉山", "株洲", "湘潭", "郑州", "开封", "武汉", "宜昌", "西安", "宝鸡", "贵阳", "遵义"]
DOMAINS = ["electronic_information", "aerospace", "advanced_manufacturing", "biomedicine", "new_materials", "new_energy",
           "environmental_protection", "nuclear_applications", "agriculture", "modern_transportation",
           "urban_construction"]
IP_TYPES = ["patent", "know_how", "software_copyright", "ic_layout", "plant_variety", "biomedical_variety", "none"]
PLAN_SOURCES = ["national", "ministerial", "provincial", "local", "unplanned"]
STATUS = [("registered", 88), ("cancelled", 2), ("submitted", 5), ("returned", 2), ("refused", 1), ("draft", 2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contracts", type=int, default=1000000)
    ap.add_argument("--sellers", type=int, default=3000)
    ap.add_argument("--buyers", type=int, default=30000)
    ap.add_argument("--regions", required=True, help="county-level region codes, one a line")
    ap.add_argument("--offices", required=True, help="active registry offices: id<TAB>region code, one a line")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--id-base", type=int, default=20000000)
    ap.add_argument("--today", default=dt.date.today().isoformat())
    ap.add_argument("--terms", help="write the title count of every vocabulary term here (JSON)")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    regions = [ln.strip() for ln in open(a.regions, encoding="utf-8") if ln.strip()]
    offices = [ln.rstrip("\n").split("\t") for ln in open(a.offices, encoding="utf-8") if ln.strip()]
    today = dt.date.fromisoformat(a.today)
    domains = list(vocab.DOMAIN_TERMS)
    term_zipf = {d: Zipf(vocab.DOMAIN_TERMS[d].split(), rng) for d in domains}
    common = Zipf(vocab.COMMON_TERMS, rng)
    tail = Zipf(vocab.TAIL_TERMS, rng)
    all_terms = sorted({t for d in domains for t in vocab.DOMAIN_TERMS[d].split()} | set(vocab.COMMON_TERMS)
                       | set(vocab.TAIL_TERMS))

    def term(d):
        x = rng.random()
        return term_zipf[d].draw(rng) if x < 0.7 else common.draw(rng) if x < 0.9 else tail.draw(rng)

    out = sys.stdout
    out.write("-- generated by bench/contracts/gen.py seed=%d contracts=%d sellers=%d buyers=%d\n"
              % (a.seed, a.contracts, a.sellers, a.buyers))
    out.write("SET client_min_messages = warning;\n")

    seen = set()

    def fresh_code(region):
        while True:
            body = "91" + region + "".join(rng.choice(CC_ALPHABET) for _ in range(9))
            s = sum(CC_ALPHABET.index(c) * w for c, w in zip(body, [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24,
                                                                     10, 30, 28]))
            cc = body + CC_ALPHABET[(31 - s % 31) % 31]
            if cc not in seen:
                seen.add(cc)
                return cc

    # sellers: organisations of this platform (they apply for registration)
    sellers = []
    out.write("COPY orgs (id, name, org_type, credit_code, region_code, state_funded, verification_status,"
              " verified_at) FROM stdin;\n")
    for i in range(a.sellers):
        d = rng.choice(domains)
        word, ot = rng.choice(SELLER_WORDS)
        name = "%s%s%s%s" % (rng.choice(CITIES), term_zipf[d].draw(rng), word, "" if i < 1000 else str(i))
        rc = rng.choice(regions)
        cc = fresh_code(rc)
        sellers.append((a.id_base + i, name, ot, rc, cc))
        out.write("\t".join([str(a.id_base + i), esc(name), ot, cc, rc, "t" if ot in ("021", "022") else "f",
                             "verified", "2024-01-01 00:00:00+00"]) + "\n")
    out.write("\\.\n")
    seller_zipf = Zipf(range(a.sellers), rng, 0.8)

    buyers = []
    for i in range(a.buyers):
        word, ot = rng.choice(BUYER_WORDS)
        rc = rng.choice(regions)
        name = "%s%s%s%s" % (rng.choice(CITIES), term(rng.choice(domains)), word, "" if i < 5000 else str(i))
        buyers.append((name, ot, rc, fresh_code(rc) if rng.random() < 0.9 else None))
    buyer_zipf = Zipf(range(a.buyers), rng, 0.7)

    # Titles: a pool of distinct titles drawn with Zipf weights, as registries see the same kinds of
    # contract again and again (and so the loader tokenises each distinct title once).
    pool = []
    for _ in range(min(a.contracts, max(1000, a.contracts // 16))):
        d = rng.choice(domains)
        ti = rng.choices(range(len(SUBTYPES)), SUBTYPE_WEIGHTS)[0]
        A, B, C = term(d), term(d), rng.choice(CITIES)
        pool.append((d, ti, rng.choice(TITLE_FORMS).format(A=A, B=B, C=C, E=SUBTYPES[ti][2])[:300], {A, B}))
    title_zipf = Zipf(range(len(pool)), rng, 0.6)
    counts = {}
    serial = {}
    cols = ("id, title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type, seller_region_code,"
            " seller_credit_code, buyer_name, buyer_org_type, buyer_region_code, buyer_credit_code, signed_on,"
            " effective_on, end_on, contract_amount_fen, technical_amount_fen, domain, ip_type, plan_source,"
            " applicant_org_id, office_id, status, submitted_at, due_on, return_reason, refused_at, refusal_ground,"
            " registration_no, registration_year, registration_serial, registered_at, cancelled_at, cancel_reason")
    out.write("COPY contracts (%s) FROM stdin;\n" % cols)
    N = "\\N"
    statuses = [s for s, _ in STATUS]
    weights = [w for _, w in STATUS]
    for k in range(a.contracts):
        d, ti, title, used = pool[title_zipf.draw(rng)]
        ctype, sub, _ = SUBTYPES[ti]
        for t in used:
            counts[t] = counts.get(t, 0) + 1
        sid, sname, stype, sreg, scc = sellers[seller_zipf.draw(rng)]
        bname, btype, breg, bcc = buyers[buyer_zipf.draw(rng)]
        amount = int(math.exp(rng.random() * 7 + 11))
        tech = int(amount * (0.6 + 0.4 * rng.random()))
        status = rng.choices(statuses, weights)[0]
        office_id, office_region = offices[k % len(offices)]
        if status in ("registered", "cancelled"):
            year = 2013 + k % 7     # years the demo data leaves alone: the serials cannot collide
            day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(360))
            serial[(office_id, year)] = serial.get((office_id, year), 0) + 1
            s = serial[(office_id, year)]
            reg = ("%s 03:00:00+00" % day.isoformat(), str(year), str(s), "%d%s%06d" % (year, office_region, s))
        else:
            day = today - dt.timedelta(days=rng.randrange(40))
            reg = None
        signed = day - dt.timedelta(days=30)
        sub_at = "%s 02:00:00+00" % (day - dt.timedelta(days=10)).isoformat()
        row = [str(a.id_base + k), esc(title), ctype, sub, str(sid), esc(sname), stype, sreg, scc, esc(bname), btype,
               breg, bcc or N, signed.isoformat(), (signed + dt.timedelta(days=5)).isoformat(),
               (signed + dt.timedelta(days=730)).isoformat(), str(amount), str(tech), d, rng.choice(IP_TYPES),
               rng.choice(PLAN_SOURCES), str(sid)]
        if status == "draft":
            row += [N, "draft", N, N, N, N, N]
        else:
            due = (day + dt.timedelta(days=21)).isoformat()
            row += [office_id, status, sub_at, due,
                    "请补充合同附件" if status == "returned" else N,
                    sub_at if status == "refused" else N, "price_unclear" if status == "refused" else N]
        if reg:
            row += [reg[3], reg[1], reg[2], reg[0]]
        else:
            row += [N, N, N, N]
        row += [reg[0], "双方协商一致解除"] if status == "cancelled" else [N, N]
        out.write("\t".join(row) + "\n")
    out.write("\\.\n")
    out.write("SELECT setval(pg_get_serial_sequence('orgs', 'id'), greatest((SELECT max(id) FROM orgs), 1));\n")
    out.write("SELECT setval(pg_get_serial_sequence('contracts', 'id'), greatest((SELECT max(id) FROM contracts), 1));\n")
    for (office_id, year), s in sorted(serial.items()):
        out.write("INSERT INTO registration_counters (office_id, year, last_serial) VALUES (%s, %d, %d)"
                  " ON CONFLICT (office_id, year) DO UPDATE SET last_serial = greatest(registration_counters.last_serial,"
                  " excluded.last_serial);\n" % (office_id, year, s))
    if a.terms:
        with open(a.terms, "w", encoding="utf-8") as f:
            json.dump({"terms": {t: counts.get(t, 0) for t in all_terms},
                       "sellers": [{"name": s[1], "credit_code": s[4]} for s in sellers[:50]],
                       "contracts": a.contracts}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
