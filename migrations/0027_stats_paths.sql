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
