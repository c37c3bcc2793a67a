-- stats.sql — technology-market statistics (技术市场统计) kept up to date in
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
--
-- region_paths (0001_baseline.sql, rows in 0003) lists every level a region
-- counts towards; stats_apply() joins it instead of walking parents per call,
-- and stats_rebuild() recomputes every aggregate from the contracts in one
-- pass (after a bulk load, or to prove the triggers right).  Also here: the
-- tables of the annual export (plan targets and progress: functions/targets.sql).

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

-- The (dimension, key) pairs a registered contract counts under at one region
-- level (p_child_key: the key that level uses for by=region).  The one list of
-- dimensions: stats_apply and the bulk statement of stats_add_sql (and so the
-- rebuild) use it; the planner inlines it.
-- dimension partner is the flow table: where the other party is, seen from
-- that level (stats_partner_key): for flow out the buyer (where the region's
-- technology went), for flow in the seller (where it came from).
CREATE FUNCTION stats_dims(p_type text, p_subtype text, p_domain text, p_seller_type text, p_buyer_type text,
                           p_ip_type text, p_plan_source text, p_seo text, p_child_key text, p_partner text)
RETURNS TABLE (dim text, key text)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('total', ''), ('type', p_type), ('subtype', p_subtype), ('domain', p_domain),
           ('seller_type', p_seller_type), ('buyer_type', p_buyer_type), ('ip_type', p_ip_type),
           ('plan_source', p_plan_source), ('socio_economic_objective', p_seo), ('region', p_child_key),
           ('partner', p_partner)
$$;

-- Where the other party of a contract is, seen from region level p_level:
-- 'inside' (in the region; for the whole country: anywhere in China), the
-- code of its province (another province, or for a region below a province,
-- the rest of its own province), or 'abroad' (no region: a foreign party).
CREATE FUNCTION stats_partner_key(p_level text, p_other text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_other IS NULL OR p_other = 'abroad' THEN 'abroad'
                WHEN p_level = '000000' OR region_in_subtree(p_other, p_level) THEN 'inside'
                ELSE left(p_other, 2) || '0000' END
$$;

CREATE FUNCTION stats_apply(c contracts, sign int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO contract_stats AS s (region_code, year, flow, dim, key, month, n, contract_fen, technical_fen, received_fen)
    SELECT p.ancestor, c.registration_year, f.flow, d.dim, coalesce(d.key, 'unknown'),
           extract(month FROM c.registered_at AT TIME ZONE 'Asia/Shanghai')::int,
           sign, sign * c.contract_amount_fen, sign * c.technical_amount_fen, sign * c.received_amount_fen
    FROM (VALUES ('out', c.seller_region_code, c.buyer_region_code),
                 ('in', c.buyer_region_code, c.seller_region_code)) AS f(flow, region, other)
    JOIN region_paths p ON p.code = f.region
    CROSS JOIN LATERAL stats_dims(c.contract_type, c.contract_subtype, c.domain, c.seller_org_type, c.buyer_org_type,
                                  c.ip_type, c.plan_source, c.socio_economic_objective, p.child_key,
                                  stats_partner_key(p.ancestor, f.other)) AS d
    ON CONFLICT (region_code, year, flow, dim, key, month) DO UPDATE SET
        n = s.n + excluded.n, contract_fen = s.contract_fen + excluded.contract_fen,
        technical_fen = s.technical_fen + excluded.technical_fen, received_fen = s.received_fen + excluded.received_fen
$$;

-- The statement that adds every registered contract of a relation (contracts
-- itself, or an INSERT's transition table) to the aggregates: a bulk insert (an
-- import of 100,000 past contracts) costs one statement, not 70 upserts a
-- contract.  Two steps keep it cheap: first each party's own region (the leaf)
-- with every dimension, then those sums up the region paths (where the region
-- dimension takes its key, and partner its place seen from that level: the
-- leaf keeps the other party's region), so the per-contract work is not
-- repeated per level; inserted in key order.  Run with EXECUTE where the relation is visible.
CREATE FUNCTION stats_add_sql(p_source text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format($q$
    WITH c AS MATERIALIZED (  -- the month once a contract, not once a (contract, level, dimension)
        SELECT registration_year AS year, extract(month FROM registered_at AT TIME ZONE 'Asia/Shanghai')::int AS month,
               seller_region_code, buyer_region_code, contract_type, contract_subtype, domain, seller_org_type,
               buyer_org_type, ip_type, plan_source, socio_economic_objective, contract_amount_fen,
               technical_amount_fen, received_amount_fen
        FROM %I WHERE status = 'registered'
    ), leaf AS (
        SELECT f.flow, f.region, c.year, c.month, d.dim, d.key, count(*) AS n, sum(c.contract_amount_fen) AS cf,
               sum(c.technical_amount_fen) AS tf, sum(c.received_amount_fen) AS rf
        FROM c
        CROSS JOIN LATERAL (VALUES ('out', c.seller_region_code, c.buyer_region_code),
                                   ('in', c.buyer_region_code, c.seller_region_code)) AS f(flow, region, other)
        CROSS JOIN LATERAL stats_dims(c.contract_type, c.contract_subtype, c.domain, c.seller_org_type,
                                      c.buyer_org_type, c.ip_type, c.plan_source, c.socio_economic_objective, NULL,
                                      coalesce(f.other, 'abroad')) AS d
        WHERE f.region IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6
    )
    INSERT INTO contract_stats AS s (region_code, year, flow, dim, key, month, n, contract_fen, technical_fen, received_fen)
    SELECT * FROM (
        SELECT p.ancestor AS r, l.year, l.flow, l.dim,
               coalesce(CASE l.dim WHEN 'region' THEN p.child_key WHEN 'partner' THEN stats_partner_key(p.ancestor, l.key)
                                   ELSE l.key END, 'unknown') AS k,
               l.month, sum(l.n), sum(l.cf), sum(l.tf), sum(l.rf)
        FROM leaf l JOIN region_paths p ON p.code = l.region
        GROUP BY 1, 2, 3, 4, 5, 6) g
    ORDER BY g.r COLLATE "C", g.year, g.flow COLLATE "C", g.dim COLLATE "C", g.k COLLATE "C", g.month
    ON CONFLICT (region_code, year, flow, dim, key, month) DO UPDATE SET
        n = s.n + excluded.n, contract_fen = s.contract_fen + excluded.contract_fen,
        technical_fen = s.technical_fen + excluded.technical_fen, received_fen = s.received_fen + excluded.received_fen
    $q$, p_source)
$$;

-- Changes and deletions, row by row: subtract the old figures, add the new.
CREATE FUNCTION contracts_stats_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'registered' THEN
        PERFORM stats_apply(OLD, -1);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status = 'registered' THEN
        PERFORM stats_apply(NEW, 1);
    END IF;
    PERFORM stats_note_adjustment(CASE WHEN TG_OP <> 'INSERT' THEN OLD END, CASE WHEN TG_OP <> 'DELETE' THEN NEW END);
    RETURN NULL;
END $$;

-- Year-end close (年度结账) -----------------------------------------------------
-- stats_closes, stats_closed_figures, stats_adjustments: 0011_stats_closes.sql.
-- A close of year Y for region R freezes the contract_stats rows of Y for R
-- and every region below it (the whole country for '000000').  Statistics and
-- target progress of a closed year read the frozen rows; a change afterwards
-- to a contract registered in Y whose seller or buyer is under a closed region
-- is written to stats_adjustments by the trigger above, with the year (in
-- China) it was made in: GET /stats/adjustments lists them for Y, and the
-- statistics of the year they were made in show them as adjustments to prior
-- years.  The close takes a SHARE lock on contracts, so no registration,
-- amendment or payment falls between the frozen figures and the adjustments.

-- The close that applies to region p_region in p_year: the earliest open
-- close of the region or of a region above it (the whole country included).
CREATE FUNCTION stats_close_for(p_region text, p_year int) RETURNS stats_closes
LANGUAGE sql STABLE AS $$
    SELECT * FROM stats_closes c
    WHERE c.year = p_year AND c.reopened_at IS NULL
      AND (c.region_code = '000000' OR (p_region <> '000000' AND region_in_subtree(p_region, c.region_code)))
    ORDER BY c.closed_at, c.id LIMIT 1
$$;

-- Record what a change to a contract does to the figures of its year, when a
-- close covers one of its parties (called by contracts_stats_sync for every
-- row change; cheap when nothing is closed).
CREATE FUNCTION stats_note_adjustment(o contracts, n contracts) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c contracts := CASE WHEN n.id IS NOT NULL THEN n ELSE o END;
    yr int := coalesce(n.registration_year, o.registration_year);
    was boolean := coalesce(o.status = 'registered', false);
    now_ boolean := coalesce(n.status = 'registered', false);
BEGIN
    IF yr IS NULL OR NOT (was OR now_) OR NOT EXISTS (SELECT 1 FROM stats_closes WHERE year = yr AND reopened_at IS NULL) THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM stats_closes s WHERE s.year = yr AND s.reopened_at IS NULL
                   AND (s.region_code = '000000' OR region_in_subtree(c.seller_region_code, s.region_code)
                        OR region_in_subtree(c.buyer_region_code, s.region_code))) THEN
        RETURN;
    END IF;
    IF was AND now_ AND (o.contract_amount_fen, o.technical_amount_fen, o.received_amount_fen, o.contract_type,
                         o.contract_subtype, o.domain, o.ip_type, o.plan_source, o.seller_org_type, o.buyer_org_type,
                         o.socio_economic_objective)
                        IS NOT DISTINCT FROM
                        (n.contract_amount_fen, n.technical_amount_fen, n.received_amount_fen, n.contract_type,
                         n.contract_subtype, n.domain, n.ip_type, n.plan_source, n.seller_org_type, n.buyer_org_type,
                         n.socio_economic_objective) THEN
        RETURN;   -- nothing the statistics show changed
    END IF;
    INSERT INTO stats_adjustments (contract_id, registration_no, year, made_in, kind, seller_region_code,
                                   buyer_region_code, n, contract_fen, technical_fen, received_fen, before, after)
    VALUES (c.id, c.registration_no, yr, extract(year FROM today_cn())::int,
            CASE WHEN n.id IS NULL THEN 'removal' WHEN NOT was THEN 'registration' WHEN NOT now_ THEN 'cancellation'
                 WHEN (o.contract_amount_fen, o.technical_amount_fen, o.contract_type, o.contract_subtype, o.domain,
                       o.ip_type, o.plan_source) IS NOT DISTINCT FROM
                      (n.contract_amount_fen, n.technical_amount_fen, n.contract_type, n.contract_subtype, n.domain,
                       n.ip_type, n.plan_source) THEN 'payment'
                 ELSE 'amendment' END,
            c.seller_region_code, c.buyer_region_code,
            now_::int - was::int,
            CASE WHEN now_ THEN n.contract_amount_fen ELSE 0 END - CASE WHEN was THEN o.contract_amount_fen ELSE 0 END,
            CASE WHEN now_ THEN n.technical_amount_fen ELSE 0 END - CASE WHEN was THEN o.technical_amount_fen ELSE 0 END,
            CASE WHEN now_ THEN n.received_amount_fen ELSE 0 END - CASE WHEN was THEN o.received_amount_fen ELSE 0 END,
            CASE WHEN was THEN jsonb_build_object('status', o.status, 'contract_amount_fen', o.contract_amount_fen,
                'technical_amount_fen', o.technical_amount_fen, 'received_amount_fen', o.received_amount_fen,
                'contract_type', o.contract_type, 'contract_subtype', o.contract_subtype, 'domain', o.domain) END,
            CASE WHEN n.id IS NOT NULL THEN jsonb_build_object('status', n.status, 'contract_amount_fen', n.contract_amount_fen,
                'technical_amount_fen', n.technical_amount_fen, 'received_amount_fen', n.received_amount_fen,
                'contract_type', n.contract_type, 'contract_subtype', n.contract_subtype, 'domain', n.domain)
                -- a late import: its batch (import_batches)
                || CASE WHEN o.id IS NULL AND n.import_batch_id IS NOT NULL
                        THEN jsonb_build_object('import_batch_id', n.import_batch_id) ELSE '{}' END END);
END $$;

CREATE FUNCTION stats_close_json(c stats_closes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'year', c.year, 'region_code', c.region_code,
        'region_name', region_name(c.region_code),
        'closed_at', c.closed_at, 'closed_by', c.closed_by, 'note', c.note,
        'reopened_at', c.reopened_at, 'reopened_by', c.reopened_by, 'reopen_reason', c.reopen_reason,
        'status', CASE WHEN c.reopened_at IS NULL THEN 'closed' ELSE 'reopened' END,
        'total', (SELECT jsonb_build_object('count', coalesce(sum(f.n), 0), 'contract_amount_fen', coalesce(sum(f.contract_fen), 0),
                      'technical_amount_fen', coalesce(sum(f.technical_fen), 0), 'received_amount_fen', coalesce(sum(f.received_fen), 0))
                  FROM stats_closed_figures f WHERE f.close_id = c.id AND f.region_code = c.region_code AND f.flow = 'out'
                   AND f.dim = 'total'),
        'adjustments', (SELECT count(*) FROM stats_adjustments a WHERE a.year = c.year AND a.at > c.closed_at
                          AND (c.region_code = '000000' OR region_in_subtree(a.seller_region_code, c.region_code)
                               OR region_in_subtree(a.buyer_region_code, c.region_code))
                          AND (c.reopened_at IS NULL OR a.at <= c.reopened_at)))
$$;

-- Close year p_year for region p_region (p_scope: a bureau's region, NULL for an admin).
CREATE FUNCTION stats_close(p_actor bigint, p_req text, p_scope text, p_year int, p_region text, p_note text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c stats_closes;
BEGIN
    PERFORM check_region_in_scope(p_region, p_scope, 'region_code',
                                  'a bureau closes its own region or a region below it');
    IF p_year >= extract(year FROM today_cn()) THEN
        PERFORM yz_raise(422, 'only a past year can be closed', 'year', 'out_of_range');
    END IF;
    LOCK TABLE contracts IN SHARE MODE;   -- no change falls between the frozen figures and the adjustments
    IF (stats_close_for(p_region, p_year)).id IS NOT NULL THEN
        PERFORM yz_raise(409, format('%s is already closed for this region (or a region above it)', p_year));
    END IF;
    INSERT INTO stats_closes (year, region_code, closed_by, note) VALUES (p_year, p_region, p_actor, p_note)
    RETURNING * INTO c;
    INSERT INTO stats_closed_figures (close_id, region_code, flow, dim, key, month, n, contract_fen, technical_fen,
                                      received_fen)
    SELECT c.id, s.region_code, s.flow, s.dim, s.key, s.month, s.n, s.contract_fen, s.technical_fen, s.received_fen
    FROM contract_stats s
    WHERE s.year = p_year AND (p_region = '000000' OR (s.region_code <> '000000' AND region_in_subtree(s.region_code, p_region)))
      AND s.n <> 0;
    INSERT INTO stats_closed_figures (close_id, region_code, flow, dim, key, month, n, contract_fen, technical_fen,
                                      received_fen)
    SELECT c.id, a.region_code, a.flow, 'indicator', i.code, 1, a.actual, 0, 0, 0
    FROM codes i CROSS JOIN LATERAL indicator_from_contracts(i.code, p_year, NULL) a
    WHERE i.list = 'indicators' AND indicator_needs_contracts(i.extra)
      AND (p_region = '000000' OR (a.region_code <> '000000' AND region_in_subtree(a.region_code, p_region)));
    RETURN audit_returning(p_actor, p_req, 'stats_close', c.id::text, 'close', NULL, stats_close_json(c));
END $$;

CREATE FUNCTION stats_reopen(p_actor bigint, p_req text, p_id bigint, p_reason text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o stats_closes;
    c stats_closes;
BEGIN
    o := lock_by_id(NULL::stats_closes, p_id, 'no such close');
    IF o.reopened_at IS NOT NULL THEN
        PERFORM yz_raise(409, 'the year was already reopened');
    END IF;
    PERFORM check_text(p_reason, 'reason', NULL, 'give the reason for reopening the year');
    UPDATE stats_closes SET reopened_at = now(), reopened_by = p_actor, reopen_reason = p_reason
    WHERE id = p_id RETURNING * INTO c;
    RETURN audit_returning(p_actor, p_req, 'stats_close', c.id::text, 'reopen', stats_close_json(o), stats_close_json(c));
END $$;

-- The adjustments to year p_year touching region p_region (flow out: the
-- seller there, in: the buyer, NULL: either) made after the close that
-- applies; without a close, every recorded one.  One page, newest first.
CREATE FUNCTION stats_adjustments_page(p_region text, p_year int, p_flow text, p_after bigint, p_limit int)
RETURNS TABLE (items text, next_key text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    cl stats_closes := stats_close_for(p_region, p_year);
    rows_ jsonb;
    last_id bigint;
    cnt int;
BEGIN
    SELECT coalesce(jsonb_agg(j ORDER BY id DESC), '[]'), min(id), count(*) INTO rows_, last_id, cnt FROM (
        SELECT a.id, jsonb_build_object('id', a.id, 'contract_id', a.contract_id, 'registration_no', a.registration_no,
            'year', a.year, 'made_in', a.made_in, 'at', a.at, 'kind', a.kind,
            'seller_region_code', a.seller_region_code, 'buyer_region_code', a.buyer_region_code,
            'count', a.n, 'contract_amount_fen', a.contract_fen, 'technical_amount_fen', a.technical_fen,
            'received_amount_fen', a.received_fen, 'before', a.before, 'after', a.after,
            'import_batch_id', (a.after->>'import_batch_id')::bigint) AS j
        FROM stats_adjustments a
        WHERE a.year = p_year AND (p_after IS NULL OR a.id < p_after)
          AND (cl.id IS NULL OR a.at > cl.closed_at)
          AND (p_region = '000000'
               OR (coalesce(p_flow, 'out') = 'out' AND region_in_subtree(a.seller_region_code, p_region))
               OR (coalesce(p_flow, 'in') = 'in' AND region_in_subtree(a.buyer_region_code, p_region)))
        ORDER BY a.id DESC LIMIT p_limit + 1) x;
    IF cnt > p_limit THEN
        rows_ := rows_ - p_limit;
        next_key := (rows_->(p_limit - 1)->>'id');
    END IF;
    items := rows_::text;
    RETURN NEXT;
END $$;

-- The adjustments made in p_year to prior (closed) years, per year, for the
-- statistics of p_year: the revisions shown beside the open year.
CREATE FUNCTION stats_prior_adjustments(p_region text, p_year int, p_flow text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('year', y, 'changes', k, 'count', n, 'contract_amount_fen', cf,
                                                 'technical_amount_fen', tf, 'received_amount_fen', rf) ORDER BY y), '[]')
    FROM (SELECT a.year AS y, count(*) AS k, sum(a.n) AS n, sum(a.contract_fen) AS cf, sum(a.technical_fen) AS tf,
                 sum(a.received_fen) AS rf
          FROM stats_adjustments a
          WHERE a.made_in = p_year AND a.year < p_year
            AND (p_region = '000000' OR region_in_subtree(CASE WHEN p_flow = 'in' THEN a.buyer_region_code
                                                               ELSE a.seller_region_code END, p_region))
          GROUP BY a.year) g
$$;
-- Inserts, a statement at a time (drafts count nothing; imports are
-- registered): the statistics in one GROUP BY, and an adjustment for each row
-- registered into a closed year (a late import).
CREATE FUNCTION contracts_stats_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stats_add_sql('new_rows');
    PERFORM stats_note_adjustment(NULL, r) FROM new_rows r
    WHERE r.status = 'registered' AND r.registration_year IN (SELECT year FROM stats_closes WHERE reopened_at IS NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER contracts_stats_ins AFTER INSERT ON contracts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contracts_stats_insert();
CREATE TRIGGER contracts_stats_del AFTER DELETE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_stats_sync();
CREATE TRIGGER contracts_stats_upd AFTER UPDATE ON contracts
    FOR EACH ROW WHEN ((OLD.status, OLD.registration_year, OLD.registered_at, OLD.contract_amount_fen,
                        OLD.technical_amount_fen, OLD.received_amount_fen, OLD.contract_type, OLD.contract_subtype,
                        OLD.domain, OLD.seller_org_type, OLD.buyer_org_type, OLD.ip_type, OLD.plan_source,
                        OLD.socio_economic_objective, OLD.seller_region_code, OLD.buyer_region_code)
                       IS DISTINCT FROM
                       (NEW.status, NEW.registration_year, NEW.registered_at, NEW.contract_amount_fen,
                        NEW.technical_amount_fen, NEW.received_amount_fen, NEW.contract_type, NEW.contract_subtype,
                        NEW.domain, NEW.seller_org_type, NEW.buyer_org_type, NEW.ip_type, NEW.plan_source,
                        NEW.socio_economic_objective, NEW.seller_region_code, NEW.buyer_region_code))
    EXECUTE FUNCTION contracts_stats_sync();

-- The national category (code list org_categories) an org_types code rolls
-- up into: its own extra.category, else its parent's, else 其他.
CREATE FUNCTION stats_org_category(p_org_type text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT coalesce(c.extra->>'category', p.extra->>'category')
                     FROM codes c LEFT JOIN codes p ON p.list = c.list AND p.code = c.parent_code
                     WHERE c.list = 'org_types' AND c.code = p_org_type), 'other')
$$;

-- The list a dimension's keys come from, for labels (p_region: the region
-- the figures are for, which names the partner keys).
CREATE FUNCTION stats_label(p_dim text, p_key text, p_region text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_key = 'unknown' AND p_dim NOT IN ('seller_category', 'buyer_category') THEN '未填写' ELSE CASE p_dim
        WHEN 'type' THEN code_label('contract_types', p_key)
        WHEN 'subtype' THEN code_label('contract_types', p_key)
        WHEN 'domain' THEN code_label('domains', p_key)
        WHEN 'seller_type' THEN code_label('org_types', p_key)
        WHEN 'buyer_type' THEN code_label('org_types', p_key)
        WHEN 'ip_type' THEN code_label('ip_types', p_key)
        WHEN 'plan_source' THEN code_label('plan_sources', p_key)
        WHEN 'socio_economic_objective' THEN code_label('socio_economic_objectives', p_key)
        WHEN 'seller_category' THEN code_label('org_categories', p_key)
        WHEN 'buyer_category' THEN code_label('org_categories', p_key)
        WHEN 'region' THEN (SELECT name FROM regions WHERE code = p_key)
        WHEN 'partner' THEN CASE p_key WHEN 'inside' THEN CASE WHEN p_region = '000000' THEN '境内' ELSE '本地区内' END
                                       WHEN 'abroad' THEN '境外'
                                       ELSE (SELECT name FROM regions WHERE code = p_key)
                                            || CASE WHEN p_key = left(p_region, 2) || '0000' THEN '（本地区外）' ELSE '' END END
        WHEN 'month' THEN p_key || '月'
        WHEN 'quarter' THEN '第' || p_key || '季度'
        ELSE p_key END END
$$;

-- stats_query as PL/pgSQL: a SQL-language function that is not inlined
-- re-plans its statements on every call (~1 ms here); PL/pgSQL keeps the
-- plans for the session.
-- A closed year (stats_close_for) is read from its frozen figures, with when
-- it was closed and how many adjustments came after; an open year says what
-- was changed in it to prior, closed years.
CREATE FUNCTION stats_query(p_region text, p_year int, p_flow text, p_by text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_dim text := CASE WHEN p_by IN ('month', 'quarter', 'year') OR p_by IS NULL THEN 'total'
                       WHEN p_by = 'seller_category' THEN 'seller_type' WHEN p_by = 'buyer_category' THEN 'buyer_type'
                       ELSE p_by END;
    v_groups jsonb := '[]';
    v_total jsonb;
    cl stats_closes := stats_close_for(p_region, p_year);
BEGIN
    IF p_by IS NOT NULL AND p_by <> 'year' THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('key', g.k, 'label', coalesce(stats_label(p_by, g.k, p_region), g.k),
                    'count', g.n, 'contract_amount_fen', g.cf, 'technical_amount_fen', g.tf,
                    'received_amount_fen', g.rf) ORDER BY g.cf DESC, g.k), '[]')
        INTO v_groups
        FROM (SELECT CASE p_by WHEN 'month' THEN lpad(s.month::text, 2, '0')
                               WHEN 'quarter' THEN ((s.month - 1) / 3 + 1)::text
                               WHEN 'seller_category' THEN stats_org_category(s.key)
                               WHEN 'buyer_category' THEN stats_org_category(s.key) ELSE s.key END AS k,
                     sum(s.n) AS n, sum(s.contract_fen) AS cf, sum(s.technical_fen) AS tf, sum(s.received_fen) AS rf
              FROM (SELECT s.key, s.month, s.n, s.contract_fen, s.technical_fen, s.received_fen FROM contract_stats s
                    WHERE cl.id IS NULL AND s.region_code = p_region AND s.year = p_year AND s.flow = p_flow
                      AND s.dim = v_dim
                    UNION ALL
                    SELECT f.key, f.month, f.n, f.contract_fen, f.technical_fen, f.received_fen FROM stats_closed_figures f
                    WHERE f.close_id = cl.id AND f.region_code = p_region AND f.flow = p_flow AND f.dim = v_dim) s
              GROUP BY 1) g
        WHERE g.n <> 0;
    END IF;
    SELECT jsonb_build_object('count', coalesce(sum(s.n), 0), 'contract_amount_fen', coalesce(sum(s.contract_fen), 0),
                              'technical_amount_fen', coalesce(sum(s.technical_fen), 0),
                              'received_amount_fen', coalesce(sum(s.received_fen), 0))
    INTO v_total
    FROM (SELECT s.n, s.contract_fen, s.technical_fen, s.received_fen FROM contract_stats s
          WHERE cl.id IS NULL AND s.region_code = p_region AND s.year = p_year AND s.flow = p_flow AND s.dim = 'total'
          UNION ALL
          SELECT f.n, f.contract_fen, f.technical_fen, f.received_fen FROM stats_closed_figures f
          WHERE f.close_id = cl.id AND f.region_code = p_region AND f.flow = p_flow AND f.dim = 'total') s;
    RETURN jsonb_build_object(
        'year', p_year, 'region', p_region,
        'region_name', region_name(p_region),
        'by', coalesce(p_by, 'year'), 'flow', p_flow, 'groups', v_groups, 'total', v_total,
        'closed', cl.id IS NOT NULL, 'close_id', cl.id, 'closed_at', cl.closed_at,
        'adjustments_after_close', CASE WHEN cl.id IS NOT NULL THEN
            (SELECT jsonb_build_object('changes', count(*), 'count', coalesce(sum(a.n), 0),
                                       'contract_amount_fen', coalesce(sum(a.contract_fen), 0),
                                       'technical_amount_fen', coalesce(sum(a.technical_fen), 0),
                                       'received_amount_fen', coalesce(sum(a.received_fen), 0))
             FROM stats_adjustments a
             WHERE a.year = p_year AND a.at > cl.closed_at
               AND (p_region = '000000' OR region_in_subtree(CASE WHEN p_flow = 'in' THEN a.buyer_region_code
                                                                  ELSE a.seller_region_code END, p_region))) END,
        'prior_year_adjustments', stats_prior_adjustments(p_region, p_year, p_flow));
END $$;

-- Computed indicators (code list indicators, 0018): the definition in
-- codes.extra is the only place that says which contracts count and whose
-- region; see 0018_indicators_org_categories.sql for its fields.

-- An indicator the aggregates cannot answer (a measure of results, or a
-- filter on the link to a result or on the other party): read from contracts.
CREATE FUNCTION indicator_needs_contracts(d jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce((d->>'computed')::boolean, false)
       AND (d->>'measure' = 'results' OR coalesce((d->>'require_result')::boolean, false)
            OR coalesce((d->>'other_party_outside')::boolean, false))
$$;

-- The actual of a computed indicator from the contracts of year p_year, per
-- region level the counted party is under (every level when p_region is
-- NULL, else only p_region): the year-end close freezes these, the live
-- figures read one region.
CREATE FUNCTION indicator_from_contracts(p_code text, p_year int, p_region text)
RETURNS TABLE (region_code text, flow text, actual bigint)
LANGUAGE sql STABLE AS $$
    WITH d AS (SELECT extra AS d FROM codes WHERE list = 'indicators' AND code = p_code
                                                 AND coalesce((extra->>'computed')::boolean, false)),
    x AS (
        SELECT c.id, c.result_id, c.contract_amount_fen, c.technical_amount_fen, c.received_amount_fen,
               CASE WHEN d.d->>'party' = 'buyer' THEN c.buyer_region_code ELSE c.seller_region_code END::text AS r,
               CASE WHEN d.d->>'party' = 'buyer' THEN c.seller_region_code ELSE c.buyer_region_code END::text AS o
        FROM contracts c, d
        WHERE c.status = 'registered' AND c.registration_year = p_year
          AND (jsonb_typeof(d.d->'contract_types') IS DISTINCT FROM 'array' OR d.d->'contract_types' ? c.contract_type)
          AND (NOT coalesce((d.d->>'require_result')::boolean, false) OR c.result_id IS NOT NULL)
    )
    SELECT p.ancestor, CASE WHEN (SELECT d->>'party' FROM d) = 'buyer' THEN 'in' ELSE 'out' END,
           CASE (SELECT d->>'measure' FROM d)
               WHEN 'results' THEN count(DISTINCT CASE WHEN x.result_id IS NOT NULL THEN 'r' || x.result_id
                                                       ELSE 'c' || x.id END)
               WHEN 'contract_amount_fen' THEN sum(x.contract_amount_fen)
               WHEN 'technical_amount_fen' THEN sum(x.technical_amount_fen)
               WHEN 'received_amount_fen' THEN sum(x.received_amount_fen)
               ELSE count(*) END::bigint
    FROM x JOIN region_paths p ON p.code = x.r
    WHERE (p_region IS NULL OR (p.ancestor = p_region AND (p_region = '000000' OR region_in_subtree(x.r, p_region))))
      AND (NOT coalesce(((SELECT d FROM d)->>'other_party_outside')::boolean, false) OR x.o IS NULL
           OR (p.ancestor <> '000000' AND NOT region_in_subtree(x.o, p.ancestor)))
    GROUP BY p.ancestor
$$;

-- The actual of indicator p_code for region p_region over the years
-- p_from..p_to (one year: p_from = p_to; a cumulative target sums the years),
-- NULL when the indicator is not computed (its actuals are entered).  A closed
-- year reads its frozen figures.
CREATE FUNCTION indicator_actual(p_code text, p_region text, p_from int, p_to int) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d jsonb := (SELECT extra FROM codes WHERE list = 'indicators' AND code = p_code);
    v_flow text := CASE WHEN d->>'party' = 'buyer' THEN 'in' ELSE 'out' END;
    v_types text[] := CASE WHEN jsonb_typeof(d->'contract_types') = 'array'
                           THEN ARRAY(SELECT jsonb_array_elements_text(d->'contract_types')) END;
    v_total bigint := 0;
    v bigint;
    cl stats_closes;
BEGIN
    IF d IS NULL OR NOT coalesce((d->>'computed')::boolean, false) THEN
        RETURN NULL;
    END IF;
    FOR y IN p_from .. p_to LOOP
        cl := stats_close_for(p_region, y);
        IF indicator_needs_contracts(d) THEN
            v := NULL;
            IF cl.id IS NOT NULL THEN
                SELECT f.n INTO v FROM stats_closed_figures f
                WHERE f.close_id = cl.id AND f.region_code = p_region AND f.flow = v_flow AND f.dim = 'indicator'
                  AND f.key = p_code;
            END IF;
            IF v IS NULL AND (cl.id IS NULL OR NOT EXISTS (SELECT 1 FROM stats_closed_figures f WHERE f.close_id = cl.id
                                                             AND f.dim = 'indicator' AND f.key = p_code)) THEN
                SELECT a.actual INTO v FROM indicator_from_contracts(p_code, y, p_region) a;
            END IF;
        ELSE
            SELECT sum(CASE d->>'measure' WHEN 'contract_amount_fen' THEN s.contract_fen
                                          WHEN 'technical_amount_fen' THEN s.technical_fen
                                          WHEN 'received_amount_fen' THEN s.received_fen ELSE s.n END)
            INTO v
            FROM (SELECT s.key, s.n, s.contract_fen, s.technical_fen, s.received_fen FROM contract_stats s
                  WHERE cl.id IS NULL AND s.region_code = p_region AND s.year = y AND s.flow = v_flow
                    AND s.dim = CASE WHEN v_types IS NULL THEN 'total' ELSE 'type' END
                  UNION ALL
                  SELECT f.key, f.n, f.contract_fen, f.technical_fen, f.received_fen FROM stats_closed_figures f
                  WHERE f.close_id = cl.id AND f.region_code = p_region AND f.flow = v_flow
                    AND f.dim = CASE WHEN v_types IS NULL THEN 'total' ELSE 'type' END) s
            WHERE v_types IS NULL OR s.key = ANY (v_types);
        END IF;
        v_total := v_total + coalesce(v, 0);
    END LOOP;
    RETURN v_total;
END $$;

-- The computed indicators with their definitions, for GET /stats/indicators.
CREATE FUNCTION indicators_json() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
        'code', i.code, 'label', i.label, 'computed', coalesce((i.extra->>'computed')::boolean, false),
        'unit', i.extra->>'unit', 'party', i.extra->>'party', 'measure', i.extra->>'measure',
        'contract_types', i.extra->'contract_types', 'require_result', i.extra->'require_result',
        'other_party_outside', i.extra->'other_party_outside', 'definition', i.extra->>'definition',
        'source', i.source, 'active', i.active) ORDER BY i.sort, i.code), '[]'))
    FROM codes i WHERE i.list = 'indicators'
$$;

-- The tables of the annual statistics export, from the same
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
                    ORDER BY k = 'abroad', k <> 'inside', k) FROM keys), '[]'),
        'total', jsonb_build_object('out', (SELECT q->'total' FROM o), 'in', (SELECT q->'total' FROM i)))
$$;

CREATE FUNCTION export_tables(p_region text, p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'year', p_year, 'region', p_region,
        'region_name', region_name(p_region),
        'generated_at', now(),
        'tables', jsonb_agg(export_table(p_region, p_year, t.by) || jsonb_build_object('title', t.title) ORDER BY t.ord))
    FROM (VALUES (1, 'type', '按合同类别'), (2, 'subtype', '按合同子类'), (3, 'domain', '按技术领域'),
                 (4, 'seller_type', '按卖方单位类型'), (5, 'buyer_type', '按买方单位类型'),
                 (6, 'ip_type', '按知识产权类型'), (7, 'plan_source', '按计划来源'), (8, 'region', '按地区'),
                 (9, 'quarter', '按季度'), (10, 'month', '按月份'),
                 (11, 'socio_economic_objective', '按社会经济目标'), (12, 'seller_category', '按卖方类别'),
                 (13, 'buyer_category', '按买方类别'), (14, 'partner', '技术流向')) AS t(ord, by, title)
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

-- The registered contracts of a period (by registration date) that the
-- registry offices of a region registered, one row a contract, in the field
-- layout of the national 技术合同登记表 and its statistical survey: the column
-- names are the form's, code columns carry the national codes
-- (code_national), a column whose name ends in （元） is an amount in fen that
-- the exporter writes in yuan.  api/national-export.md maps every column; this
-- function is the one place the layout lives (the exporter writes whatever
-- columns it returns, in order).  Fields the form has and a contract does not
-- carry are filled from the party's organisation when it has one here
-- (address, contact), else left empty.
CREATE FUNCTION export_national(p_region text, p_from date, p_to date)
RETURNS TABLE ("登记编号" text, "项目名称" text, "合同类别代码" text, "合同类别" text, "合同子类代码" text,
               "合同子类" text, "签订日期" date, "合同有效期起" date, "合同有效期止" date,
               "卖方名称" text, "卖方统一社会信用代码" text, "卖方行政区划代码" text, "卖方单位性质代码" text,
               "卖方单位性质" text, "卖方地址" text, "卖方联系人" text, "卖方联系电话" text,
               "买方名称" text, "买方统一社会信用代码" text, "买方行政区划代码" text, "买方单位性质代码" text,
               "买方单位性质" text, "买方地址" text, "买方联系人" text, "买方联系电话" text,
               "中介方名称" text, "中介方统一社会信用代码" text,
               "合同成交额（元）" bigint, "技术交易额（元）" bigint, "非技术性费用（元）" bigint,
               "实际到账额（元）" bigint, "支付方式" text,
               "技术领域代码" text, "技术领域" text, "社会经济目标代码" text, "社会经济目标" text,
               "知识产权类型代码" text, "知识产权类型" text, "项目计划来源代码" text, "项目计划来源" text,
               "技术进口" text, "登记机构" text, "登记机构行政区划代码" text, "登记日期" date)
LANGUAGE sql STABLE AS $$
    SELECT c.registration_no, c.title,
           code_national('contract_types', c.contract_type), code_label('contract_types', c.contract_type),
           code_national('contract_types', c.contract_subtype), code_label('contract_types', c.contract_subtype),
           c.signed_on, c.effective_on, c.end_on,
           c.seller_name, c.seller_credit_code, c.seller_region_code, c.seller_org_type,
           code_label('org_types', c.seller_org_type), so.address, so.contact_name, so.contact_phone,
           c.buyer_name, c.buyer_credit_code, c.buyer_region_code, c.buyer_org_type,
           code_label('org_types', c.buyer_org_type), bo.address, bo.contact_name, bo.contact_phone,
           c.intermediary_name, c.intermediary_credit_code,
           c.contract_amount_fen, c.technical_amount_fen, c.contract_amount_fen - c.technical_amount_fen,
           c.received_amount_fen,
           CASE jsonb_array_length(c.payment_schedule) WHEN 0 THEN NULL WHEN 1 THEN '一次支付' ELSE '分期支付' END,
           code_national('domains', c.domain), code_label('domains', c.domain),
           code_national('socio_economic_objectives', c.socio_economic_objective),
           code_label('socio_economic_objectives', c.socio_economic_objective),
           code_national('ip_types', c.ip_type), code_label('ip_types', c.ip_type),
           code_national('plan_sources', c.plan_source), code_label('plan_sources', c.plan_source),
           CASE WHEN c.is_import THEN '是' ELSE '否' END, f.name, f.region_code,
           (c.registered_at AT TIME ZONE 'Asia/Shanghai')::date
    FROM contracts c
    JOIN registry_offices f ON f.id = c.office_id
    LEFT JOIN orgs so ON so.id = c.seller_org_id
    LEFT JOIN orgs bo ON bo.id = c.buyer_org_id
    WHERE c.status = 'registered'
      AND c.registered_at >= (p_from::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND c.registered_at < ((p_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND (p_region = '000000' OR region_in_subtree(f.region_code, p_region))
    ORDER BY c.registration_no
$$;

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

-- The regions loaded before the trigger existed (the generated rows of
-- 0003_regions.sql) get their paths here, by the same stats_region_path.
INSERT INTO region_paths (code, ancestor, child_key)
SELECT r.code, p.region_code, p.child_key
FROM regions r CROSS JOIN LATERAL stats_region_path(r.code) p
WHERE NOT EXISTS (SELECT 1 FROM region_paths x WHERE x.code = r.code);

-- Recompute every aggregate from the contracts (takes the table lock so no
-- registration interleaves).  Returns the number of aggregate rows.
CREATE FUNCTION stats_rebuild() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE contracts IN SHARE MODE;
    DELETE FROM contract_stats;
    EXECUTE stats_add_sql('contracts');
    RETURN (SELECT count(*) FROM contract_stats);
END $$;


-- Aggregates made before a dimension was added (0018: socio_economic_objective
-- and partner) lack it: rebuild them once, when the function files are applied.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM contracts WHERE status = 'registered')
       AND NOT EXISTS (SELECT 1 FROM contract_stats WHERE dim = 'partner') THEN
        PERFORM stats_rebuild();
    END IF;
END $$;
