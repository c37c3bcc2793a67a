-- 0026_export: the tables of the annual statistics export, from the same
-- aggregates as GET /stats/contracts, with outflow (输出) and inflow (吸纳)
-- side by side.  The contract list the tables must agree with is read by the
-- exporter through a cursor (export_contracts), so memory stays bounded.

CREATE FUNCTION export_table(p_region text, p_year int, p_by text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH o AS (SELECT stats_query(p_region, p_year, 'out', p_by) AS q),
         i AS (SELECT stats_query(p_region, p_year, 'in', p_by) AS q),
         og AS (SELECT g FROM o, jsonb_array_elements(o.q->'groups') g),
         ig AS (SELECT g FROM i, jsonb_array_elements(i.q->'groups') g),
         keys AS (SELECT g->>'key' AS k, g->>'label' AS l FROM og UNION SELECT g->>'key', g->>'label' FROM ig),
         zero AS (SELECT '{"count": 0, "contract_amount_fen": 0, "technical_amount_fen": 0, "received_amount_fen": 0}'::jsonb AS z)
    SELECT jsonb_build_object(
        'by', p_by,
        'rows', coalesce((SELECT jsonb_agg(jsonb_build_object('key', k, 'label', l,
                    'out', coalesce((SELECT g - 'key' - 'label' FROM og WHERE g->>'key' = k), (SELECT z FROM zero)),
                    'in', coalesce((SELECT g - 'key' - 'label' FROM ig WHERE g->>'key' = k), (SELECT z FROM zero)))
                    ORDER BY k) FROM keys), '[]'),
        'total', jsonb_build_object('out', (SELECT q->'total' FROM o), 'in', (SELECT q->'total' FROM i)))
$$;

CREATE FUNCTION export_tables(p_region text, p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'year', p_year, 'region', p_region,
        'region_name', CASE WHEN p_region = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_region) END,
        'generated_at', now(),
        'tables', jsonb_agg(export_table(p_region, p_year, t.by) || jsonb_build_object('title', t.title) ORDER BY t.ord))
    FROM (VALUES (1, 'type', '按合同类别'), (2, 'subtype', '按合同子类'), (3, 'domain', '按技术领域'),
                 (4, 'seller_type', '按卖方单位类型'), (5, 'buyer_type', '按买方单位类型'),
                 (6, 'ip_type', '按知识产权类型'), (7, 'plan_source', '按计划来源'), (8, 'region', '按地区'),
                 (9, 'quarter', '按季度'), (10, 'month', '按月份')) AS t(ord, by, title)
$$;

-- The registered contracts of the year that touch the region, with whether
-- each counts as outflow (seller in the region) and inflow (buyer in it).
CREATE FUNCTION export_contracts(p_region text, p_year int)
RETURNS TABLE (registration_no text, title text, contract_type text, contract_subtype text, seller_name text,
               seller_type text, seller_region text, buyer_name text, buyer_type text, buyer_region text,
               contract_amount_fen bigint, technical_amount_fen bigint, received_amount_fen bigint, domain text,
               ip_type text, plan_source text, registered_on date, is_out boolean, is_in boolean)
LANGUAGE sql STABLE AS $$
    SELECT c.registration_no, c.title, code_label('contract_types', c.contract_type),
           code_label('contract_types', c.contract_subtype), c.seller_name, code_label('org_types', c.seller_org_type),
           c.seller_region_code, c.buyer_name, code_label('org_types', c.buyer_org_type), c.buyer_region_code,
           c.contract_amount_fen, c.technical_amount_fen, c.received_amount_fen, code_label('domains', c.domain),
           code_label('ip_types', c.ip_type), code_label('plan_sources', c.plan_source),
           (c.registered_at AT TIME ZONE 'Asia/Shanghai')::date,
           c.seller_region_code IS NOT NULL AND (p_region = '000000' OR region_in_subtree(c.seller_region_code, p_region)),
           c.buyer_region_code IS NOT NULL AND (p_region = '000000' OR region_in_subtree(c.buyer_region_code, p_region))
    FROM contracts c
    WHERE c.status = 'registered' AND c.registration_year = p_year
      AND (p_region = '000000' OR region_in_subtree(c.seller_region_code, p_region) OR region_in_subtree(c.buyer_region_code, p_region))
    ORDER BY c.registration_no
$$;
