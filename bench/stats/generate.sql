-- bench/stats/generate.sql — :n registered contracts over 2013–2019 (years the
-- demo data does not use, so registration serials cannot collide), spread
-- over every county of the country with a bias towards Sichuan, Henan, Hunan
-- and Chongqing, every contract subtype, domain, IP type and plan source,
-- log-normal amounts.  Triggers are off during the load; stats_rebuild()
-- then computes the aggregates in one pass.
\set ON_ERROR_STOP 1
ALTER TABLE contracts DISABLE TRIGGER USER;
CREATE TEMP TABLE counties AS
    SELECT code, row_number() OVER (ORDER BY code) AS i FROM regions
    WHERE level = 3 OR (level = 2 AND NOT EXISTS (SELECT 1 FROM regions k WHERE k.parent_code = regions.code));
CREATE TEMP TABLE hot AS
    SELECT code, row_number() OVER (ORDER BY code) AS i FROM counties WHERE left(code, 2) IN ('51', '41', '43', '50');
CREATE TEMP TABLE subtypes AS
    SELECT code, parent_code, row_number() OVER (ORDER BY sort) AS i FROM codes WHERE list = 'contract_types' AND parent_code IS NOT NULL;
CREATE TEMP TABLE pick AS SELECT list, array_agg(code ORDER BY sort) AS codes FROM codes
    WHERE list IN ('domains', 'ip_types', 'plan_sources') GROUP BY list;
CREATE TEMP TABLE sellers AS SELECT id, name, org_type, row_number() OVER (ORDER BY id) AS i FROM orgs WHERE credit_code IS NOT NULL;
CREATE TEMP TABLE offices AS SELECT id, region_code, row_number() OVER (ORDER BY id) AS i FROM registry_offices WHERE active;

INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
    seller_region_code, buyer_name, buyer_org_type, buyer_region_code, signed_on, effective_on, end_on,
    contract_amount_fen, technical_amount_fen, received_amount_fen, domain, ip_type, plan_source, applicant_org_id,
    office_id, status, submitted_at, registration_year, registration_serial, registration_no, registered_at, due_on)
WITH a AS (
    -- every lookup list as an array, built once
    SELECT (SELECT array_agg(code ORDER BY i) FROM hot) AS hot, (SELECT array_agg(code ORDER BY i) FROM counties) AS counties,
           (SELECT array_agg(code ORDER BY i) FROM subtypes) AS sub, (SELECT array_agg(parent_code ORDER BY i) FROM subtypes) AS typ,
           (SELECT codes FROM pick WHERE list = 'domains') AS dom, (SELECT codes FROM pick WHERE list = 'ip_types') AS ipt,
           (SELECT codes FROM pick WHERE list = 'plan_sources') AS pls,
           (SELECT array_agg(id ORDER BY i) FROM sellers) AS sid, (SELECT array_agg(name ORDER BY i) FROM sellers) AS sname,
           (SELECT array_agg(org_type ORDER BY i) FROM sellers) AS stype,
           (SELECT array_agg(id ORDER BY i) FROM offices) AS oid, (SELECT array_agg(region_code ORDER BY i) FROM offices) AS oreg
), g AS (
    SELECT k, (2013 + (k % 7))::int AS yr,
           make_timestamptz((2013 + (k % 7))::int, 1, 1, 2, 0, 0, 'UTC') + (random() * 360) * interval '1 day' AS reg,
           (exp(random() * 7 + 11))::bigint AS amount, random() AS r2, random() AS r3,
           CASE WHEN random() < 0.6 THEN a.hot[1 + (k * 7919) % cardinality(a.hot)]
                ELSE a.counties[1 + (k * 104729) % cardinality(a.counties)] END AS seller_region,
           CASE WHEN random() < 0.5 THEN a.hot[1 + (k * 15485863) % cardinality(a.hot)]
                ELSE a.counties[1 + (k * 32452843) % cardinality(a.counties)] END AS buyer_region,
           1 + k % cardinality(a.sub) AS si, 1 + k % cardinality(a.sid) AS oi, 1 + k % cardinality(a.oid) AS fi
    FROM a, generate_series(1::bigint, :n) k
)
SELECT '基准测试合同 ' || g.k, a.typ[g.si], a.sub[g.si], a.sid[g.oi], a.sname[g.oi], a.stype[g.oi],
       g.seller_region, '基准买方 ' || (g.k % 5000), (ARRAY['150','160','170','110','021','022','400','300'])[1 + g.k % 8],
       g.buyer_region, g.reg::date - 30, g.reg::date - 20, g.reg::date + 365,
       g.amount, (g.amount * (0.6 + 0.4 * g.r2))::bigint, (g.amount * g.r3)::bigint,
       a.dom[1 + g.k % 11], a.ipt[1 + (g.k / 11) % 7], a.pls[1 + (g.k / 77) % 5],
       a.sid[g.oi], a.oid[g.fi], 'registered', g.reg - interval '10 days', g.yr,
       row_number() OVER (PARTITION BY g.fi, g.yr ORDER BY g.k),
       g.yr::text || a.oreg[g.fi] || lpad((row_number() OVER (PARTITION BY g.fi, g.yr ORDER BY g.k))::text, 6, '0'),
       g.reg, g.reg::date
FROM g, a;

ALTER TABLE contracts ENABLE TRIGGER USER;
SELECT stats_rebuild() AS aggregate_rows;
ANALYZE contracts;
ANALYZE contract_stats;
