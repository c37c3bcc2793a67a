-- bench/lib/submitted.sql — :n contracts submitted for registration to office
-- :office and not yet registered, for the registration figure of bench/run.sh:
-- POST /api/v1/contracts/{id}/register on one set, pgbench running the same
-- statements on another, so that both really register (a registered contract
-- cannot be registered again).  Sellers (the applicants) are organisations with
-- a credit code, types and codes are valid entries of the code lists, amounts
-- log-normal, no non-technical items: every one passes contract_check(); each
-- has its scan attached, as an application does.
-- Inserted in one statement, so the ids are consecutive; prints "lo|hi|count".
--   psql -v n=50000 -v office=1 -v set=api -f bench/lib/submitted.sql
\set ON_ERROR_STOP 1
CREATE TEMP TABLE b_sub AS
    SELECT code, parent_code, row_number() OVER (ORDER BY sort) AS i FROM codes
    WHERE list = 'contract_types' AND parent_code IS NOT NULL AND active;
CREATE TEMP TABLE b_pick AS SELECT list, array_agg(code ORDER BY sort) AS codes FROM codes
    WHERE list IN ('domains', 'ip_types', 'plan_sources') AND active GROUP BY list;
CREATE TEMP TABLE b_sellers AS
    SELECT id, name, org_type, region_code, credit_code, row_number() OVER (ORDER BY id) AS i FROM orgs
    WHERE credit_code IS NOT NULL AND org_type IS NOT NULL AND region_code IS NOT NULL;
CREATE TEMP TABLE b_new (id bigint);
WITH a AS (
    SELECT (SELECT array_agg(code ORDER BY i) FROM b_sub) AS sub, (SELECT array_agg(parent_code ORDER BY i) FROM b_sub) AS typ,
           (SELECT codes FROM b_pick WHERE list = 'domains') AS dom, (SELECT codes FROM b_pick WHERE list = 'ip_types') AS ipt,
           (SELECT codes FROM b_pick WHERE list = 'plan_sources') AS pls,
           (SELECT array_agg(id ORDER BY i) FROM b_sellers) AS sid, (SELECT array_agg(name ORDER BY i) FROM b_sellers) AS sname,
           (SELECT array_agg(org_type ORDER BY i) FROM b_sellers) AS stype,
           (SELECT array_agg(region_code ORDER BY i) FROM b_sellers) AS sreg,
           (SELECT array_agg(credit_code ORDER BY i) FROM b_sellers) AS scc
), g AS (
    SELECT k, (exp(random() * 7 + 11))::bigint AS amount,
           1 + k % cardinality(a.sub) AS si, 1 + (k * 7919) % cardinality(a.sid) AS oi
    FROM a, generate_series(1::bigint, :n) k
), ins AS (
    INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
        seller_region_code, seller_credit_code, buyer_name, buyer_org_type, buyer_region_code, signed_on, effective_on,
        end_on, contract_amount_fen, technical_amount_fen, domain, ip_type, plan_source, applicant_org_id, office_id,
        status, submitted_at, due_on)
    SELECT '基准登记 ' || :'set' || ' ' || g.k, a.typ[g.si], a.sub[g.si], a.sid[g.oi], a.sname[g.oi], a.stype[g.oi],
           a.sreg[g.oi], a.scc[g.oi], '基准买方 ' || (g.k % 5000), (ARRAY['150','160','170','110'])[1 + g.k % 4],
           '511902', current_date - 20, current_date - 10, current_date + 365, g.amount, g.amount,
           a.dom[1 + g.k % cardinality(a.dom)], a.ipt[1 + (g.k / 11) % cardinality(a.ipt)],
           a.pls[1 + (g.k / 77) % cardinality(a.pls)], a.sid[g.oi], :office, 'submitted', now() - interval '1 day',
           current_date + 30
    FROM g, a ORDER BY g.k
    RETURNING id
)
INSERT INTO b_new SELECT id FROM ins;
-- each with its signed scan, as an application has (registering one without
-- it needs the officer's no_scan_reason): the same small PDF for all
INSERT INTO contract_attachments (contract_id, filename, content_type, size_bytes, sha256, data)
SELECT b.id, 'scan.pdf', 'application/pdf', length(f.data), encode(sha256(f.data), 'hex'), f.data
FROM b_new b, (SELECT convert_to(E'%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n', 'UTF8') AS data) f;
SELECT min(id) || '|' || max(id) || '|' || count(*) FROM b_new;
