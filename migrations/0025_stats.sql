-- 0025_stats: technology-market statistics (技术市场统计) kept up to date in
-- the same transaction as every contract change, so a statistics request
-- reads a handful of pre-aggregated rows instead of scanning contracts.
--
-- contract_stats holds, for every region LEVEL on a party's path (the whole
-- country '000000', the province, the city, the county), per registration
-- year and month, per flow (out = the seller is in the region 输出, in = the
-- buyer is 吸纳), per dimension and key: count and the three amounts.  A
-- request for region R, year Y, flow F, dimension D is then one index range.
-- Only registered contracts count: cancelling subtracts, amending subtracts
-- the old figures and adds the new ones, a payment adds to the received sum.

CREATE TABLE contract_stats (
    region_code   text     NOT NULL,   -- '000000' = the whole country (text: compared with text parameters, so the key index is used)
    year          smallint NOT NULL,
    flow          text     NOT NULL CHECK (flow IN ('out', 'in')),
    dim           text     NOT NULL,
    key           text     NOT NULL,
    month         smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    n             bigint   NOT NULL DEFAULT 0,
    contract_fen  bigint   NOT NULL DEFAULT 0,
    technical_fen bigint   NOT NULL DEFAULT 0,
    received_fen  bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (region_code, year, flow, dim, key, month)
);
COMMENT ON TABLE contract_stats IS
    'Aggregates of registered contracts by region level, year, month, flow and dimension; maintained by trigger.';

-- The region levels a party in p_region counts towards, with the key that
-- region uses for by=region (the next level down on the path).
CREATE FUNCTION stats_region_path(p_region text)
RETURNS TABLE (region_code text, child_key text)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(code, parent, below, depth) AS (
        SELECT r.code::text, r.parent_code::text, r.code::text, 0 FROM regions r WHERE r.code = p_region
        UNION ALL
        SELECT r.code::text, r.parent_code::text, up.code, up.depth + 1
        FROM up JOIN regions r ON r.code = up.parent WHERE up.depth < 5
    )
    SELECT code, below FROM up
    UNION ALL
    SELECT '000000', (SELECT code FROM up WHERE parent IS NULL LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM up)
$$;

CREATE FUNCTION stats_apply(c contracts, sign int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO contract_stats AS s (region_code, year, flow, dim, key, month, n, contract_fen, technical_fen, received_fen)
    SELECT p.region_code, c.registration_year, f.flow, d.dim, coalesce(d.key, 'unknown'),
           extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int,
           sign, sign * c.contract_amount_fen, sign * c.technical_amount_fen, sign * c.received_amount_fen
    FROM (VALUES ('out', c.seller_region_code::text), ('in', c.buyer_region_code::text)) AS f(flow, region)
    CROSS JOIN LATERAL stats_region_path(f.region) p
    CROSS JOIN LATERAL (VALUES ('total', ''), ('type', c.contract_type), ('subtype', c.contract_subtype),
                               ('domain', c.domain), ('seller_type', c.seller_org_type),
                               ('buyer_type', c.buyer_org_type), ('ip_type', c.ip_type),
                               ('plan_source', c.plan_source), ('region', p.child_key)) AS d(dim, key)
    WHERE f.region IS NOT NULL
    ON CONFLICT (region_code, year, flow, dim, key, month) DO UPDATE SET
        n = s.n + excluded.n, contract_fen = s.contract_fen + excluded.contract_fen,
        technical_fen = s.technical_fen + excluded.technical_fen, received_fen = s.received_fen + excluded.received_fen
$$;

CREATE FUNCTION contracts_stats_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'registered' THEN
        PERFORM stats_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'registered' THEN
        PERFORM stats_apply(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER contracts_stats_ins_del AFTER INSERT OR DELETE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_stats_sync();
CREATE TRIGGER contracts_stats_upd AFTER UPDATE ON contracts
    FOR EACH ROW WHEN ((OLD.status, OLD.registration_year, OLD.registered_at, OLD.contract_amount_fen,
                        OLD.technical_amount_fen, OLD.received_amount_fen, OLD.contract_type, OLD.contract_subtype,
                        OLD.domain, OLD.seller_org_type, OLD.buyer_org_type, OLD.ip_type, OLD.plan_source,
                        OLD.seller_region_code, OLD.buyer_region_code)
                       IS DISTINCT FROM
                       (NEW.status, NEW.registration_year, NEW.registered_at, NEW.contract_amount_fen,
                        NEW.technical_amount_fen, NEW.received_amount_fen, NEW.contract_type, NEW.contract_subtype,
                        NEW.domain, NEW.seller_org_type, NEW.buyer_org_type, NEW.ip_type, NEW.plan_source,
                        NEW.seller_region_code, NEW.buyer_region_code))
    EXECUTE FUNCTION contracts_stats_sync();

-- Contracts registered before this migration.
SELECT stats_apply(c, 1) FROM contracts c WHERE c.status = 'registered';

-- The list a dimension's keys come from, for labels.
CREATE FUNCTION stats_label(p_dim text, p_key text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE p_dim
        WHEN 'type' THEN code_label('contract_types', p_key)
        WHEN 'subtype' THEN code_label('contract_types', p_key)
        WHEN 'domain' THEN code_label('domains', p_key)
        WHEN 'seller_type' THEN code_label('org_types', p_key)
        WHEN 'buyer_type' THEN code_label('org_types', p_key)
        WHEN 'ip_type' THEN code_label('ip_types', p_key)
        WHEN 'plan_source' THEN code_label('plan_sources', p_key)
        WHEN 'region' THEN (SELECT name FROM regions WHERE code = p_key)
        WHEN 'month' THEN p_key || '月'
        WHEN 'quarter' THEN '第' || p_key || '季度'
        ELSE p_key END
$$;

-- One statistics answer: groups by p_by (a dimension, or month / quarter),
-- and the total.
CREATE FUNCTION stats_query(p_region text, p_year int, p_flow text, p_by text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH base AS (
        SELECT * FROM contract_stats
        WHERE region_code = p_region AND year = p_year AND flow = p_flow
          AND dim = CASE WHEN p_by IN ('month', 'quarter', 'year') OR p_by IS NULL THEN 'total' ELSE p_by END
    ), grouped AS (
        SELECT CASE p_by WHEN 'month' THEN lpad(month::text, 2, '0')
                         WHEN 'quarter' THEN ((month - 1) / 3 + 1)::text
                         WHEN 'year' THEN p_year::text ELSE key END AS k,
               sum(n) AS n, sum(contract_fen) AS cf, sum(technical_fen) AS tf, sum(received_fen) AS rf
        FROM base GROUP BY 1
    ), total AS (
        SELECT coalesce(sum(n), 0) AS n, coalesce(sum(contract_fen), 0) AS cf,
               coalesce(sum(technical_fen), 0) AS tf, coalesce(sum(received_fen), 0) AS rf
        FROM contract_stats WHERE region_code = p_region AND year = p_year AND flow = p_flow AND dim = 'total'
    )
    SELECT jsonb_build_object(
        'year', p_year, 'region', p_region,
        'region_name', CASE WHEN p_region = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_region) END,
        'by', coalesce(p_by, 'year'), 'flow', p_flow,
        'groups', CASE WHEN p_by IS NULL THEN '[]'::jsonb ELSE coalesce((
            SELECT jsonb_agg(jsonb_build_object('key', k, 'label', coalesce(stats_label(p_by, k), k),
                                                'count', n, 'contract_amount_fen', cf, 'technical_amount_fen', tf,
                                                'received_amount_fen', rf) ORDER BY cf DESC, k)
            FROM grouped WHERE n <> 0), '[]') END,
        'total', (SELECT jsonb_build_object('count', n, 'contract_amount_fen', cf, 'technical_amount_fen', tf,
                                            'received_amount_fen', rf) FROM total))
$$;

-- Plan targets (计划目标): per region, year and metric.
CREATE TABLE plan_targets (
    region_code char(6) NOT NULL REFERENCES regions (code),
    year        smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    metric      text NOT NULL CHECK (metric IN ('contract_amount', 'technical_amount', 'contracts', 'results_transferred')),
    target      bigint NOT NULL CHECK (target >= 0),  -- fen for amounts, a count otherwise
    note        text,
    updated_by  bigint REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region_code, year, metric)
);
COMMENT ON TABLE plan_targets IS 'Plan targets per region, year and metric (amounts in fen).';

CREATE FUNCTION target_put(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o plan_targets;
    n plan_targets;
BEGIN
    PERFORM check_region(b->>'region_code', 'region_code');
    IF p_scope IS NOT NULL AND region_in_subtree(b->>'region_code', p_scope) IS NOT TRUE THEN
        PERFORM yz_raise(403, 'you may set targets only for your region and below', 'region_code', 'out_of_scope');
    END IF;
    IF (b->>'year')::int NOT BETWEEN 2000 AND 2100 THEN
        PERFORM yz_raise(422, 'year must be between 2000 and 2100', 'year', 'out_of_range');
    END IF;
    IF b->>'metric' NOT IN ('contract_amount', 'technical_amount', 'contracts', 'results_transferred') THEN
        PERFORM yz_raise(422, 'metric must be contract_amount, technical_amount, contracts or results_transferred', 'metric', 'invalid');
    END IF;
    SELECT * INTO o FROM plan_targets WHERE region_code = b->>'region_code' AND year = (b->>'year')::int AND metric = b->>'metric' FOR UPDATE;
    INSERT INTO plan_targets AS t (region_code, year, metric, target, note, updated_by)
    VALUES (b->>'region_code', (b->>'year')::int, b->>'metric', (b->>'target')::bigint, b->>'note', p_actor)
    ON CONFLICT (region_code, year, metric) DO UPDATE SET target = excluded.target, note = excluded.note,
        updated_by = excluded.updated_by, updated_at = now()
    RETURNING * INTO n;
    PERFORM audit_append(p_actor, p_req, 'target', n.region_code || '/' || n.year || '/' || n.metric,
                         CASE WHEN o.region_code IS NULL THEN 'create' ELSE 'update' END,
                         CASE WHEN o.region_code IS NULL THEN NULL ELSE to_jsonb(o) END, to_jsonb(n));
    RETURN to_jsonb(n)::text;
END $$;

-- Progress: actual against target with the year-end projection from the run
-- rate (actual ÷ the elapsed share of the year; the actual itself for past years).
CREATE FUNCTION targets_progress(p_region text, p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH elapsed AS (
        SELECT CASE WHEN p_year < extract(year FROM today_cn()) THEN 1.0
                    WHEN p_year > extract(year FROM today_cn()) THEN 0.0
                    ELSE (today_cn() - make_date(p_year, 1, 1) + 1)::numeric
                         / (make_date(p_year + 1, 1, 1) - make_date(p_year, 1, 1)) END AS f
    ), tot AS (
        SELECT coalesce(sum(n), 0) AS n, coalesce(sum(contract_fen), 0) AS cf, coalesce(sum(technical_fen), 0) AS tf
        FROM contract_stats WHERE region_code = p_region AND year = p_year AND flow = 'out' AND dim = 'total'
    ), results AS (
        SELECT count(DISTINCT c.result_id) AS n FROM contracts c
        WHERE c.status = 'registered' AND c.registration_year = p_year AND c.result_id IS NOT NULL
          AND (p_region = '000000' OR region_in_subtree(c.seller_region_code, p_region))
    ), metrics AS (
        SELECT m.metric, m.unit, m.actual, t.target, t.note
        FROM (VALUES ('contract_amount', 'fen', (SELECT cf FROM tot)), ('technical_amount', 'fen', (SELECT tf FROM tot)),
                     ('contracts', 'count', (SELECT n FROM tot)), ('results_transferred', 'count', (SELECT n FROM results)))
             AS m(metric, unit, actual)
        LEFT JOIN plan_targets t ON t.region_code = p_region AND t.year = p_year AND t.metric = m.metric
    )
    SELECT jsonb_build_object('year', p_year, 'region', p_region,
        'region_name', CASE WHEN p_region = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_region) END,
        'elapsed_share', round((SELECT f FROM elapsed), 4),
        'items', (SELECT jsonb_agg(jsonb_build_object('metric', metric, 'unit', unit, 'actual', actual, 'target', target,
                      'share', CASE WHEN target > 0 THEN round(actual::numeric / target, 4) END,
                      'projection', CASE WHEN (SELECT f FROM elapsed) > 0 THEN round(actual / (SELECT f FROM elapsed))::bigint END,
                      'projected_share', CASE WHEN target > 0 AND (SELECT f FROM elapsed) > 0
                                              THEN round(actual / (SELECT f FROM elapsed) / target, 4) END,
                      'note', note) ORDER BY metric) FROM metrics))
$$;

-- Bazhong's plan targets (巴中市技术转移体系建设方案, seeds/000): technology
-- contract registration amount 2亿 yuan in 2020 rising by 0.2亿 a year to 3亿
-- in 2025; results introduced and transferred 30 a year to 2022, 40 from 2023.
INSERT INTO plan_targets (region_code, year, metric, target, note)
SELECT '511900', y, 'contract_amount', 20000000000::bigint + (y - 2020)::bigint * 2000000000,
       format('巴中市方案：%s年技术合同登记额达%s亿元', y, to_char(2 + (y - 2020) * 0.2, 'FM9.0'))
FROM generate_series(2020, 2025) y
UNION ALL
SELECT '511900', y, 'results_transferred', CASE WHEN y <= 2022 THEN 30 ELSE 40 END,
       format('巴中市方案：%s年引进转化科技成果%s项', y, CASE WHEN y <= 2022 THEN 30 ELSE 40 END)
FROM generate_series(2020, 2025) y
ON CONFLICT DO NOTHING;
