-- 0027_stats_paths: precomputed region paths for the statistics.
--
-- region_paths lists, for every region, each level it counts towards
-- (itself, its city, its province, and '000000' for the country) with the key
-- that level uses for by=region.  stats_apply() joins it instead of walking
-- parents per call, and stats_rebuild() recomputes every aggregate from the
-- contracts in one pass (after a bulk load, or to prove the triggers right).

CREATE TABLE region_paths (
    code      char(6) NOT NULL REFERENCES regions (code),
    ancestor  text    NOT NULL,
    child_key text    NOT NULL,
    PRIMARY KEY (code, ancestor)
);

INSERT INTO region_paths (code, ancestor, child_key)
SELECT r.code, p.region_code, p.child_key FROM regions r CROSS JOIN LATERAL stats_region_path(r.code) p;

-- Keep region_paths in step when an admin adds a region.
CREATE FUNCTION regions_paths_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM region_paths WHERE code = NEW.code;
    INSERT INTO region_paths (code, ancestor, child_key)
    SELECT NEW.code, p.region_code, p.child_key FROM stats_region_path(NEW.code) p;
    RETURN NULL;
END $$;
CREATE TRIGGER regions_paths_sync AFTER INSERT OR UPDATE OF parent_code ON regions
    FOR EACH ROW EXECUTE FUNCTION regions_paths_sync();

CREATE OR REPLACE FUNCTION stats_apply(c contracts, sign int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO contract_stats AS s (region_code, year, flow, dim, key, month, n, contract_fen, technical_fen, received_fen)
    SELECT p.ancestor, c.registration_year, f.flow, d.dim, coalesce(d.key, 'unknown'),
           extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int,
           sign, sign * c.contract_amount_fen, sign * c.technical_amount_fen, sign * c.received_amount_fen
    FROM (VALUES ('out', c.seller_region_code), ('in', c.buyer_region_code)) AS f(flow, region)
    JOIN region_paths p ON p.code = f.region
    CROSS JOIN LATERAL (VALUES ('total', ''), ('type', c.contract_type), ('subtype', c.contract_subtype),
                               ('domain', c.domain), ('seller_type', c.seller_org_type),
                               ('buyer_type', c.buyer_org_type), ('ip_type', c.ip_type),
                               ('plan_source', c.plan_source), ('region', p.child_key)) AS d(dim, key)
    ON CONFLICT (region_code, year, flow, dim, key, month) DO UPDATE SET
        n = s.n + excluded.n, contract_fen = s.contract_fen + excluded.contract_fen,
        technical_fen = s.technical_fen + excluded.technical_fen, received_fen = s.received_fen + excluded.received_fen
$$;

-- Recompute every aggregate from the contracts (takes the table lock so no
-- registration interleaves).  Returns the number of aggregate rows.
CREATE FUNCTION stats_rebuild() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE contracts IN SHARE MODE;
    DELETE FROM contract_stats;
    INSERT INTO contract_stats (region_code, year, flow, dim, key, month, n, contract_fen, technical_fen, received_fen)
    SELECT p.ancestor, c.registration_year, f.flow, d.dim, coalesce(d.key, 'unknown'),
           extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int,
           count(*), sum(c.contract_amount_fen), sum(c.technical_amount_fen), sum(c.received_amount_fen)
    FROM contracts c
    CROSS JOIN LATERAL (VALUES ('out', c.seller_region_code), ('in', c.buyer_region_code)) AS f(flow, region)
    JOIN region_paths p ON p.code = f.region
    CROSS JOIN LATERAL (VALUES ('total', ''), ('type', c.contract_type), ('subtype', c.contract_subtype),
                               ('domain', c.domain), ('seller_type', c.seller_org_type),
                               ('buyer_type', c.buyer_org_type), ('ip_type', c.ip_type),
                               ('plan_source', c.plan_source), ('region', p.child_key)) AS d(dim, key)
    WHERE c.status = 'registered'
    GROUP BY 1, 2, 3, 4, 5, 6;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- stats_query as PL/pgSQL: a SQL-language function that is not inlined
-- re-plans its statements on every call (~1 ms here); PL/pgSQL keeps the
-- plans for the session.
CREATE OR REPLACE FUNCTION stats_query(p_region text, p_year int, p_flow text, p_by text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_dim text := CASE WHEN p_by IN ('month', 'quarter', 'year') OR p_by IS NULL THEN 'total' ELSE p_by END;
    v_groups jsonb := '[]';
    v_total jsonb;
BEGIN
    IF p_by IS NOT NULL AND p_by <> 'year' THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('key', g.k, 'label', coalesce(stats_label(p_by, g.k), g.k),
                    'count', g.n, 'contract_amount_fen', g.cf, 'technical_amount_fen', g.tf,
                    'received_amount_fen', g.rf) ORDER BY g.cf DESC, g.k), '[]')
        INTO v_groups
        FROM (SELECT CASE p_by WHEN 'month' THEN lpad(s.month::text, 2, '0')
                               WHEN 'quarter' THEN ((s.month - 1) / 3 + 1)::text ELSE s.key END AS k,
                     sum(s.n) AS n, sum(s.contract_fen) AS cf, sum(s.technical_fen) AS tf, sum(s.received_fen) AS rf
              FROM contract_stats s
              WHERE s.region_code = p_region AND s.year = p_year AND s.flow = p_flow AND s.dim = v_dim
              GROUP BY 1) g
        WHERE g.n <> 0;
    END IF;
    SELECT jsonb_build_object('count', coalesce(sum(s.n), 0), 'contract_amount_fen', coalesce(sum(s.contract_fen), 0),
                              'technical_amount_fen', coalesce(sum(s.technical_fen), 0),
                              'received_amount_fen', coalesce(sum(s.received_fen), 0))
    INTO v_total
    FROM contract_stats s WHERE s.region_code = p_region AND s.year = p_year AND s.flow = p_flow AND s.dim = 'total';
    RETURN jsonb_build_object(
        'year', p_year, 'region', p_region,
        'region_name', CASE WHEN p_region = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_region) END,
        'by', coalesce(p_by, 'year'), 'flow', p_flow, 'groups', v_groups, 'total', v_total);
END $$;
