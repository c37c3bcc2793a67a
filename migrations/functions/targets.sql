-- targets.sql — plan targets (计划目标) for every indicator of the code list
-- indicators (0018, 0022_target_indicators.sql), their actuals and progress.
--
-- An indicator is computed (extra.computed: from the registered contracts, by
-- indicator_actual in functions/stats.sql, the definition held in the code
-- list) or entered: the bureau enters the year's actual with a note and
-- evidence (target_actual_put; every entry kept in indicator_actuals, the
-- newest counts).  A target covers from_year…year: one year, or a cumulative
-- span whose progress sums the years' actuals; a closed year (年度结账) reads
-- its frozen figures (stats_close_for, functions/stats.sql).

-- The newest entered actual of a region, year and indicator (NULL row: none).
CREATE FUNCTION indicator_entry(p_region text, p_year int, p_code text) RETURNS indicator_actuals
LANGUAGE sql STABLE AS $$
    SELECT * FROM indicator_actuals a
    WHERE a.region_code = p_region AND a.indicator = p_code AND a.year = p_year
    ORDER BY a.id DESC LIMIT 1
$$;

-- An entry as the API shows it.
CREATE FUNCTION indicator_entry_json(a indicator_actuals) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN a.id IS NOT NULL THEN jsonb_build_object(
        'id', a.id, 'region_code', a.region_code, 'year', a.year, 'indicator', a.indicator,
        'label', code_label('indicators', a.indicator), 'value', a.value, 'note', a.note,
        'evidence', a.evidence, 'entered_by', a.entered_by, 'entered_at', a.entered_at) END
$$;

-- The actual of any indicator in one year: computed (indicator_actual,
-- functions/stats.sql: the definition held in the code list), or the newest
-- entry (NULL: none entered).
CREATE FUNCTION indicator_year_actual(p_region text, p_year int, p_code text, p_computed boolean) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_computed THEN indicator_actual(p_code, p_region, p_year, p_year)
                ELSE (indicator_entry(p_region, p_year, p_code)).value END
$$;

CREATE FUNCTION target_put(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o plan_targets;
    n plan_targets;
    y int;
    y0 int;
BEGIN
    PERFORM check_region(b->>'region_code', 'region_code');   -- 000000 too: targets are of a region
    PERFORM check_region_in_scope(b->>'region_code', p_scope, 'region_code', 'you may set targets only for your region and below');
    y := (b->>'year')::int;
    y0 := coalesce((b->>'from_year')::int, y);
    IF y NOT BETWEEN 2000 AND 2100 THEN
        PERFORM yz_raise(422, 'year must be between 2000 and 2100', 'year', 'out_of_range');
    END IF;
    IF y0 NOT BETWEEN y - 10 AND y OR y0 < 2000 THEN
        PERFORM yz_raise(422, 'from_year must be from year - 10 to year (and not before 2000)', 'from_year', 'out_of_range');
    END IF;
    PERFORM check_code('indicators', b->>'metric', 'metric');
    SELECT * INTO o FROM plan_targets
    WHERE region_code = b->>'region_code' AND metric = b->>'metric' AND from_year = y0 AND year = y FOR UPDATE;
    INSERT INTO plan_targets AS t (region_code, metric, from_year, year, target, note, source, updated_by)
    VALUES (b->>'region_code', b->>'metric', y0, y, (b->>'target')::bigint, b->>'note', b->>'source', p_actor)
    ON CONFLICT (region_code, metric, from_year, year) DO UPDATE SET target = excluded.target, note = excluded.note,
        source = excluded.source, updated_by = excluded.updated_by, updated_at = now()
    RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'target',
                           n.region_code || '/' || CASE WHEN n.from_year = n.year THEN n.year::text
                                                        ELSE n.from_year || '-' || n.year END || '/' || n.metric,
                           CASE WHEN o.region_code IS NULL THEN 'create' ELSE 'update' END,
                           CASE WHEN o.region_code IS NULL THEN NULL ELSE to_jsonb(o) END, to_jsonb(n));
END $$;

-- PUT /targets/actuals: the bureau's actual of a non-computed indicator for a
-- region and year, with a note and evidence.  A new entry each time (the
-- earlier ones stay, GET /targets/actuals lists them); audited as
-- target_actual <region>/<year>/<indicator>, create or update with the
-- previous entry as before.
CREATE FUNCTION target_actual_put(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o indicator_actuals;
    n indicator_actuals;
BEGIN
    PERFORM check_region(b->>'region_code', 'region_code');   -- 000000 too: targets are of a region
    PERFORM check_region_in_scope(b->>'region_code', p_scope, 'region_code', 'you may enter actuals only for your region and below');
    IF (b->>'year')::int NOT BETWEEN 2000 AND 2100 THEN
        PERFORM yz_raise(422, 'year must be between 2000 and 2100', 'year', 'out_of_range');
    END IF;
    PERFORM check_code('indicators', b->>'indicator', 'indicator');
    IF (SELECT (extra->>'computed')::boolean FROM codes WHERE list = 'indicators' AND code = b->>'indicator') THEN
        PERFORM yz_raise(422, 'this indicator is computed from the registered contracts; its actual cannot be entered',
                         'indicator', 'computed');
    END IF;
    -- one entry at a time per key, so "before" is the entry this one replaces
    PERFORM pg_advisory_xact_lock(hashtext('indicator_actuals/' || (b->>'region_code') || '/' || (b->>'year') || '/' || (b->>'indicator')));
    o := indicator_entry(b->>'region_code', (b->>'year')::int, b->>'indicator');
    INSERT INTO indicator_actuals (region_code, year, indicator, value, note, evidence, entered_by)
    VALUES (b->>'region_code', (b->>'year')::int, b->>'indicator', (b->>'value')::bigint, b->>'note', b->>'evidence', p_actor)
    RETURNING * INTO n;
    PERFORM audit_append(p_actor, p_req, 'target_actual', n.region_code || '/' || n.year || '/' || n.indicator,
                         CASE WHEN o.id IS NULL THEN 'create' ELSE 'update' END,
                         CASE WHEN o.id IS NULL THEN NULL ELSE to_jsonb(o) END, to_jsonb(n));
    RETURN indicator_entry_json(n)::text;
END $$;

-- Progress of a region in a year: every active indicator with its actual, its
-- target for exactly that year and the year-end projection from the run rate
-- (computed indicators: actual ÷ the elapsed share of the year, the actual
-- itself for past years); and every cumulative target whose span holds the
-- year, with the actuals of from_year…year summed (years without an entered
-- actual count 0 and are listed as missing).
CREATE FUNCTION targets_progress(p_region text, p_year int) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    f numeric := CASE WHEN p_year < extract(year FROM today_cn()) THEN 1.0
                      WHEN p_year > extract(year FROM today_cn()) THEN 0.0
                      ELSE (today_cn() - make_date(p_year, 1, 1) + 1)::numeric
                           / (make_date(p_year + 1, 1, 1) - make_date(p_year, 1, 1)) END;
    items jsonb;
    cumulative jsonb;
BEGIN
    WITH ind AS (
        SELECT c.code, c.label, c.sort, coalesce(c.extra->>'unit', 'count') AS unit, c.extra->>'measure_word' AS measure_word,
               coalesce((c.extra->>'computed')::boolean, false) AS computed
        FROM codes c WHERE c.list = 'indicators' AND c.active
    ), m AS (
        SELECT ind.*, CASE WHEN ind.computed THEN indicator_actual(ind.code, p_region, p_year, p_year) END AS computed_actual,
               CASE WHEN NOT ind.computed THEN indicator_entry(p_region, p_year, ind.code) END AS e,
               t.target, t.note, t.source
        FROM ind LEFT JOIN plan_targets t
            ON t.region_code = p_region AND t.metric = ind.code AND t.from_year = p_year AND t.year = p_year
    ), a AS (
        SELECT m.*, CASE WHEN m.computed THEN m.computed_actual ELSE (m.e).value END AS actual FROM m
    )
    SELECT jsonb_agg(jsonb_build_object(
               'metric', code, 'label', label, 'unit', unit, 'measure_word', measure_word, 'computed', computed,
               'actual', actual, 'target', target,
               'share', CASE WHEN target > 0 AND actual IS NOT NULL THEN round(actual::numeric / target, 4) END,
               'projection', CASE WHEN computed AND f > 0 THEN round(actual / f)::bigint END,
               'projected_share', CASE WHEN computed AND target > 0 AND f > 0 THEN round(actual / f / target, 4) END,
               'note', note, 'source', source, 'entry', indicator_entry_json(e))
           ORDER BY sort, code)
    INTO items FROM a;

    WITH t AS (
        SELECT t.*, c.label, c.sort, coalesce(c.extra->>'unit', 'count') AS unit, c.extra->>'measure_word' AS measure_word,
               coalesce((c.extra->>'computed')::boolean, false) AS computed
        FROM plan_targets t JOIN codes c ON c.list = 'indicators' AND c.code = t.metric
        WHERE t.region_code = p_region AND t.from_year < t.year AND p_year BETWEEN t.from_year AND t.year
    ), ys AS (
        SELECT t.metric, t.from_year, t.year AS to_year, y.y,
               indicator_year_actual(p_region, y.y, t.metric, t.computed) AS actual,
               (stats_close_for(p_region, y.y)).id IS NOT NULL AS closed
        FROM t CROSS JOIN LATERAL generate_series(t.from_year::int, p_year) AS y(y)
    )
    SELECT jsonb_agg(jsonb_build_object(
               'metric', t.metric, 'label', t.label, 'unit', t.unit, 'measure_word', t.measure_word, 'computed', t.computed,
               'from_year', t.from_year, 'year', t.year, 'target', t.target,
               'actual', s.total,
               'share', CASE WHEN t.target > 0 THEN round(s.total::numeric / t.target, 4) END,
               'complete', p_year >= t.year,
               'years', s.years, 'note', t.note, 'source', t.source)
           ORDER BY t.sort, t.metric, t.from_year)
    INTO cumulative
    FROM t CROSS JOIN LATERAL (
        SELECT coalesce(sum(ys.actual), 0) AS total,
               jsonb_agg(jsonb_build_object('year', ys.y, 'actual', ys.actual, 'closed', ys.closed) ORDER BY ys.y) AS years
        FROM ys WHERE ys.metric = t.metric AND ys.from_year = t.from_year AND ys.to_year = t.year) s;

    RETURN jsonb_build_object('year', p_year, 'region', p_region,
        'region_name', region_name(p_region),
        'closed_at', (stats_close_for(p_region, p_year)).closed_at,
        'elapsed_share', round(f, 4),
        'items', coalesce(items, '[]'), 'cumulative', coalesce(cumulative, '[]'));
END $$;
