-- bench/contracts/gen.sql — :n contracts, set-based, from the pools gen.py wrote
-- (bench_sellers — already in orgs —, bench_buyers, bench_titles, bench_title_terms).
--   psql -v n=1000000 -v id_base=20000000 -v today="'2026-12-07'" -v seed=0.42 -f gen.sql
-- The same shape as gen.py's row-by-row output: titles Zipf 0.6 over the pool, sellers Zipf 0.8,
-- buyers Zipf 0.7 (inverse transform: rank = pool size x u^(1/(1-s))), log-normal amounts, 88 %
-- registered over 2013–2019 (registration numbers of the office and year, gap-free), 2 % cancelled,
-- 5 % submitted (due dates around today, some overdue), the rest returned, refused or draft.
-- The search columns are filled in the same INSERT by the database's own tokenizer
-- (contract_search_doc, search_tokens: functions/): each distinct title, name and credit code is
-- tokenised once (bench_vals), a contract's tokens are the union of its fields' tokens — what the
-- trigger gives row by row (a line break separates runs).  No trigger fires during the load
-- (session_replication_role), the GIN index is built after.
\set ON_ERROR_STOP 1
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;
-- no trigger fires, the foreign keys' neither (each value is drawn from its table): checking 5 keys
-- of 1,000,000 rows one by one at the end of the INSERT took longer than the INSERT
SET session_replication_role = replica;
SELECT setseed(:seed);

-- each distinct searchable value tokenised once
CREATE UNLOGGED TABLE bench_vals AS
    SELECT v, search_tokens(search_norm(v)) AS tok
    FROM (SELECT title AS v FROM bench_titles UNION SELECT name FROM bench_sellers UNION SELECT name FROM bench_buyers
          UNION SELECT cc FROM bench_sellers UNION SELECT cc FROM bench_buyers) x
    WHERE v IS NOT NULL;
CREATE UNIQUE INDEX ON bench_vals (v);

CREATE UNLOGGED TABLE bench_offices AS
    SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k, id, region_code
    FROM registry_offices WHERE active;

-- the draws, one row a contract
CREATE UNLOGGED TABLE bench_draw AS
    SELECT g AS k,
           floor((SELECT count(*) FROM bench_titles) * random() ^ 2.5)::int AS ti,
           floor((SELECT count(*) FROM bench_sellers) * random() ^ 5.0)::int AS si,
           floor((SELECT count(*) FROM bench_buyers) * random() ^ 3.333)::int AS bi,
           (g % (SELECT count(*) FROM bench_offices))::int AS ok,
           floor(exp(random() * 7 + 11))::bigint AS amount,
           random() AS tech_u,
           random() * 100 AS status_u,
           floor(random() * 360)::int AS day_r,
           floor(random() * 40)::int AS age_r,
           floor(random() * 7)::int AS ip_r,
           floor(random() * 5)::int AS plan_r
    FROM generate_series(0, :n - 1) g;

CREATE UNLOGGED TABLE bench_rows AS
    SELECT d.*, o.id AS office_id, o.region_code AS office_region,
           CASE WHEN status_u < 88 THEN 'registered' WHEN status_u < 90 THEN 'cancelled'
                WHEN status_u < 95 THEN 'submitted' WHEN status_u < 97 THEN 'returned'
                WHEN status_u < 98 THEN 'refused' ELSE 'draft' END AS status,
           2013 + d.k % 7 AS year
    FROM bench_draw d JOIN bench_offices o ON o.k = d.ok;

CREATE UNLOGGED TABLE bench_reg AS
    SELECT k, row_number() OVER (PARTITION BY office_id, year ORDER BY k)::int AS serial
    FROM bench_rows WHERE status IN ('registered', 'cancelled');
CREATE UNIQUE INDEX ON bench_reg (k);

INSERT INTO contracts (id, title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
                       seller_region_code, seller_credit_code, buyer_name, buyer_org_type, buyer_region_code,
                       buyer_credit_code, signed_on, effective_on, end_on, contract_amount_fen, technical_amount_fen,
                       domain, ip_type, plan_source, applicant_org_id, office_id, status, submitted_at, due_on,
                       return_reason, refused_at, refusal_ground, registration_no, registration_year,
                       registration_serial, registered_at, cancelled_at, cancel_reason, search_doc, search_tsv)
OVERRIDING SYSTEM VALUE
SELECT :id_base + r.k, t.title, t.ctype, t.sub, s.id, s.name, s.ot, s.rc, s.cc, b.name, b.ot, b.rc, b.cc,
       x.day - 30, x.day - 25, x.day + 700, r.amount, floor(r.amount * (0.6 + 0.4 * r.tech_u))::bigint,
       t.domain,
       (ARRAY['patent', 'know_how', 'software_copyright', 'ic_layout', 'plant_variety', 'biomedical_variety',
              'none'])[r.ip_r + 1],
       (ARRAY['national', 'ministerial', 'provincial', 'local', 'unplanned'])[r.plan_r + 1],
       s.id,
       CASE WHEN r.status <> 'draft' THEN r.office_id END, r.status,
       CASE WHEN r.status <> 'draft' THEN (x.day - 10) + time '02:00' AT TIME ZONE 'UTC' END,
       CASE WHEN r.status <> 'draft' THEN x.day + 21 END,
       CASE WHEN r.status = 'returned' THEN '请补充合同附件' END,
       CASE WHEN r.status = 'refused' THEN (x.day - 10) + time '02:00' AT TIME ZONE 'UTC' END,
       CASE WHEN r.status = 'refused' THEN 'price_unclear' END,
       CASE WHEN g.serial IS NOT NULL THEN r.year || r.office_region || lpad(g.serial::text, 6, '0') END,
       CASE WHEN g.serial IS NOT NULL THEN r.year END, g.serial,
       CASE WHEN g.serial IS NOT NULL THEN x.day + time '03:00' AT TIME ZONE 'UTC' END,
       CASE WHEN r.status = 'cancelled' THEN x.day + time '03:00' AT TIME ZONE 'UTC' END,
       CASE WHEN r.status = 'cancelled' THEN '双方协商一致解除' END,
       search_norm(concat_ws(E'\n', t.title, s.name, b.name, s.cc, b.cc)),
       array_to_tsvector(tv.tok || sv.tok || bv.tok || scv.tok || coalesce(bcv.tok, '{}'))
FROM bench_rows r
JOIN bench_titles t ON t.i = r.ti
JOIN bench_sellers s ON s.i = r.si
JOIN bench_buyers b ON b.i = r.bi
LEFT JOIN bench_reg g ON g.k = r.k
JOIN bench_vals tv ON tv.v = t.title
JOIN bench_vals sv ON sv.v = s.name
JOIN bench_vals bv ON bv.v = b.name
JOIN bench_vals scv ON scv.v = s.cc
LEFT JOIN bench_vals bcv ON bcv.v = b.cc
CROSS JOIN LATERAL (SELECT CASE WHEN g.serial IS NOT NULL THEN make_date(r.year, 1, 1) + r.day_r
                                ELSE :today::date - r.age_r END AS day) x;

SELECT setval(pg_get_serial_sequence('orgs', 'id'), greatest((SELECT max(id) FROM orgs), 1));
SELECT setval(pg_get_serial_sequence('contracts', 'id'), greatest((SELECT max(id) FROM contracts), 1));
INSERT INTO registration_counters (office_id, year, last_serial)
SELECT r.office_id, r.year, max(g.serial) FROM bench_rows r JOIN bench_reg g ON g.k = r.k GROUP BY 1, 2
ON CONFLICT (office_id, year) DO UPDATE SET last_serial = greatest(registration_counters.last_serial,
                                                                    excluded.last_serial);

-- how many contracts' titles each vocabulary term is in (the run picks rare, middle, frequent terms)
CREATE UNLOGGED TABLE bench_term_counts AS
    SELECT w.term, coalesce(sum(c.n), 0)::bigint AS n
    FROM bench_terms w
    LEFT JOIN bench_title_terms tt ON tt.term = w.term
    LEFT JOIN (SELECT ti, count(*) AS n FROM bench_draw GROUP BY ti) c ON c.ti = tt.i
    GROUP BY w.term;
DROP TABLE bench_draw, bench_rows, bench_reg, bench_vals, bench_offices;
