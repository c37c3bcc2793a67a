-- 0043_search_page: search windows that adapt to the hits they find, and
-- snippets cut by the server (bench/search, issue #4).
--   * Later windows are sized from the hits per day seen so far, the count's
--     rate weighing as two days (at most four times the days of the last
--     window), not from the count's rate alone: hits are not spread evenly,
--     and a rate from the newest days was far off further back (twenty
--     windows of one or two hits each for a frequent term).
--   * The page's hits come back as items and bodies; the server cuts the
--     snippets (domain/cjk.c: cjk_snippet, which also finds full-width and
--     upper-case forms of a term) — PL/pgSQL spent ~7 µs a hit on it.

DROP FUNCTION market_search(text, text, text[], text[], bigint, bigint, date, date, text, text, integer, boolean,
                            bigint, text, text[], text, text, text, bigint, float8, float8);
DROP FUNCTION search_collect(text, integer, bigint, integer, timestamptz, bigint, text[], text[], bigint, bigint,
                             timestamptz, timestamptz, date, integer, float8);

-- The newest rows (at most p_n) that match tsquery p_q (NULL: no text or
-- filter restriction) and the filters, older than (p_after_ts, p_after_sid)
-- when given, newest first.  p_tier: 0 any hit, 1 hits with every term in
-- the title (p_all), 2 hits without, 3 all hits, title hits first (tier 1,
-- then 0; only with a small p_hint) and after (p_after_tier, ts, sid).
-- Column tier tells a title hit (1) from another (0) under modes 0 (when p_all
-- is given), 1 and 3.
--
-- A matching row is read from the heap through a bitmap, never by evaluating
-- the (large, TOASTed) tsvector row by row, and only the rows of the days
-- walked: windows of days back from the newest (or from the cursor), each
-- the tsquery ANDed with its bucket lexemes, until p_n rows are found; the
-- first window is sized from p_rate (the hits per day, as the last count saw
-- them) or p_hint (the known number of matches) when there is one, else one
-- day, and each next one from the hits per day seen so far.  With few
-- matches (p_hint <= 300) one query
-- takes them all.  The SQL is static, so its plan is made once per session
-- (a bitmap scan: enable_seqscan is off here, and the materialised CTE keeps
-- the planner from walking the recency index with the tsvector as a filter).
CREATE FUNCTION search_collect(p_q text, p_n int, p_hint bigint, p_tier int, p_after_ts timestamptz,
                               p_after_sid bigint, p_patterns text[], p_all text[], p_price_min bigint,
                               p_price_max bigint, p_from_ts timestamptz, p_to_ts timestamptz, p_today date,
                               p_after_tier int DEFAULT NULL, p_rate float8 DEFAULT NULL)
RETURNS TABLE (sid bigint, published_at timestamptz, kind text, domain text, region_code text, trl smallint,
               modes text[], holder_type text, tier int)
LANGUAGE plpgsql STABLE
-- generic plans: the custom plan a tsquery value would get is no better here
-- (a bitmap scan either way), and planning every call would cost more than
-- running the query
SET enable_seqscan = off SET jit = off SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    d_hi date;
    d_lo date;
    w int;
    a date;
    got int;
    left_n int := p_n;
    walked int := 0;    -- days walked so far
    seen int := 0;      -- rows found in them
    r float8;           -- hits per day, as estimated for the next window
    q text;
    before_ts timestamptz;
BEGIN
    IF p_n <= 0 THEN
        RETURN;
    END IF;
    IF p_q IS NULL THEN
        -- nothing to look up in the index: the recency index, filtered
        RETURN QUERY
            SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type, 0
            FROM search_docs s
            WHERE (s.deadline IS NULL OR s.deadline >= p_today)
              AND (p_price_min IS NULL OR (s.price_lo IS NOT NULL AND (s.price_hi IS NULL OR s.price_hi >= p_price_min)))
              AND (p_price_max IS NULL OR (s.price_lo IS NOT NULL AND s.price_lo <= p_price_max))
              AND (p_from_ts IS NULL OR s.published_at >= p_from_ts)
              AND (p_to_ts IS NULL OR s.published_at < p_to_ts)
              AND (p_after_ts IS NULL OR (s.published_at, s.sid) < (p_after_ts, p_after_sid))
            ORDER BY s.published_at DESC, s.sid DESC LIMIT p_n;
        RETURN;
    END IF;
    IF p_tier = 3 THEN
        -- few hits: all of them in one query, ranked title hits first
        RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type,
                       CASE WHEN s.head LIKE ALL (p_all) THEN 1 ELSE 0 END AS tier
                FROM search_docs s
                WHERE s.tsv @@ p_q::tsquery
                  AND (s.deadline IS NULL OR s.deadline >= p_today)
                  AND (p_price_min IS NULL
                       OR (s.price_lo IS NOT NULL AND (s.price_hi IS NULL OR s.price_hi >= p_price_min)))
                  AND (p_price_max IS NULL OR (s.price_lo IS NOT NULL AND s.price_lo <= p_price_max))
                  AND (p_from_ts IS NULL OR s.published_at >= p_from_ts)
                  AND (p_to_ts IS NULL OR s.published_at < p_to_ts)
                  AND s.doc LIKE ALL (p_patterns))
            SELECT * FROM c
            WHERE p_after_tier IS NULL OR c.tier < p_after_tier
               OR (c.tier = p_after_tier AND (c.published_at, c.sid) < (p_after_ts, p_after_sid))
            ORDER BY c.tier DESC, c.published_at DESC, c.sid DESC LIMIT p_n;
        RETURN;
    END IF;
    IF p_hint IS NOT NULL AND p_hint BETWEEN 0 AND 300 THEN
        d_hi := NULL;   -- one query over everything
    ELSE
        SELECT (coalesce(p_after_ts, max(x.published_at)) AT TIME ZONE 'UTC')::date,
               (min(x.published_at) AT TIME ZONE 'UTC')::date,
               CASE WHEN p_rate > 0 THEN greatest(1, ceil(1.3 * p_n / p_rate))::int
                WHEN p_hint > 0 THEN
                   greatest(1, ceil(1.5 * p_n * (extract(epoch FROM max(x.published_at) - min(x.published_at)) / 86400 + 1)
                                    / p_hint))::int END
        INTO d_hi, d_lo, w
        FROM search_docs x;
        w := coalesce(w, 1);
    END IF;
    LOOP
        IF d_hi IS NULL OR d_hi - w + 1 <= d_lo OR w > 400 THEN
            -- everything (left): no bucket restriction
            q := p_q;
            before_ts := CASE WHEN d_hi IS NOT NULL THEN (d_hi + 1)::timestamp AT TIME ZONE 'UTC' END;
        ELSE
            a := d_hi - w + 1;
            q := '(' || p_q || ') & (' || search_buckets(a, d_hi) || ')';
            before_ts := NULL;
        END IF;
        RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type,
                       CASE WHEN p_tier = 1 OR (p_tier = 0 AND cardinality(p_all) > 0 AND s.head LIKE ALL (p_all))
                            THEN 1 ELSE 0 END AS tier
                FROM search_docs s
                WHERE s.tsv @@ q::tsquery
                  AND (s.deadline IS NULL OR s.deadline >= p_today)
                  AND (p_price_min IS NULL
                       OR (s.price_lo IS NOT NULL AND (s.price_hi IS NULL OR s.price_hi >= p_price_min)))
                  AND (p_price_max IS NULL OR (s.price_lo IS NOT NULL AND s.price_lo <= p_price_max))
                  AND (p_from_ts IS NULL OR s.published_at >= p_from_ts)
                  AND (p_to_ts IS NULL OR s.published_at < p_to_ts)
                  AND (before_ts IS NULL OR s.published_at < before_ts)
                  AND (p_after_ts IS NULL OR (s.published_at, s.sid) < (p_after_ts, p_after_sid))
                  AND s.doc LIKE ALL (p_patterns)
                  AND CASE p_tier WHEN 1 THEN s.head LIKE ALL (p_all) WHEN 2 THEN NOT (s.head LIKE ALL (p_all))
                                  ELSE true END)
            SELECT * FROM c ORDER BY c.published_at DESC, c.sid DESC LIMIT left_n;
        GET DIAGNOSTICS got = ROW_COUNT;
        left_n := left_n - got;
        EXIT WHEN left_n <= 0 OR before_ts IS NOT NULL OR d_hi IS NULL;
        d_hi := a - 1;
        walked := walked + w;
        seen := seen + got;
        -- the next window: as many days as the hits per day say are needed,
        -- with some to spare, but at most four times as many days as this
        -- one.  The hits per day are those seen so far, with the count's rate
        -- (if any) counted as two more days: hits are not spread evenly, so
        -- the count's rate can be far off further back, and a first window
        -- of one (partial) day says little.
        r := (seen + coalesce(p_rate, 0) * 2) / (walked + 2);
        w := CASE WHEN r > 0 THEN greatest(1, least(w * 4, ceil(1.2 * left_n / r)::int)) ELSE w * 4 END;
    END LOOP;
END $$;

CREATE FUNCTION market_search(
    p_tsq text,            -- text tokens & filter lexemes, or NULL: no index restriction
    p_title_tsq text,      -- the same over title lexemes; NULL: no relevance tiers
    p_patterns text[],     -- LIKE patterns (normalised, escape \) of the terms the index does not settle
    p_all_patterns text[], -- LIKE patterns of every term (the title test of relevance)
    p_price_min bigint, p_price_max bigint,
    p_from date, p_to date,
    p_sort text,           -- relevance | recent
    p_after text,          -- keyset cursor 'tier,epoch microseconds,sid' or NULL
    p_limit int,
    p_stats boolean,       -- count total and facets
    p_total_hint bigint,   -- when not p_stats: the known total (-1: more than the cap; NULL: unknown)
    p_region text,         -- the region filter, for the level of the region facet
    p_terms text[],        -- normalised terms (unused: the server cuts the snippets)
    p_domain text, p_mode text, p_holder text,  -- the filters, checked against the code lists
    p_title_hint bigint,   -- when not p_stats: the known number of title hits (-1 or NULL: unknown)
    p_rate float8, p_title_rate float8)  -- hits and title hits per day, as the count saw them (or NULL)
RETURNS TABLE (hits text, next_key text, total text, facets text, title_hint bigint, rate float8,
               title_rate float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
    cap int := market_setting('search_count_cap', 1000);
    from_ts timestamptz := (p_from::timestamp AT TIME ZONE 'Asia/Shanghai');
    to_ts timestamptz := ((p_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');
    today date := market_today();
    pats text[] := coalesce(p_patterns, '{}');
    allpats text[] := coalesce(p_all_patterns, '{}');
    a_tier int;
    a_ts timestamptz;
    a_sid bigint;
    v_cnt bigint;
    m_rows record;
    sids bigint[] := '{}';
    tss timestamptz[] := '{}';
    tiers int[] := '{}';
    want int := p_limit + 1;
    tiered boolean := p_sort = 'relevance' AND p_title_tsq IS NOT NULL;
    page_done boolean := false;
    tr int;
BEGIN
    PERFORM search_check_filters(p_domain, p_region, p_mode, p_holder);
    IF p_after IS NOT NULL THEN
        a_tier := split_part(p_after, ',', 1)::int;
        a_ts := to_timestamp(split_part(p_after, ',', 2)::numeric / 1000000);
        a_sid := split_part(p_after, ',', 3)::bigint;
    END IF;

    -- Total and facets, over the newest cap + 1 matches.  Under "recent", on
    -- the first page, those rows give the page as well.
    IF p_stats THEN
        WITH m AS MATERIALIZED (
            SELECT row_number() OVER () AS o, c.*
            FROM search_collect(p_tsq, cap + 1, NULL, 0, NULL, NULL, pats, allpats, p_price_min, p_price_max,
                                from_ts, to_ts, today) c
        )
        SELECT (SELECT count(*) FROM m) AS cnt,
            (SELECT json_build_object(
                'kind', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'kind'), '{}'), 'kinds'),
                'domain', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'domain'), '{}'),
                                       'domains'),
                'region', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'region'), '{}'),
                                       'regions'),
                'trl', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'trl'), '{}'), 'trl'),
                'mode', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'mode'), '{}'), 'modes'),
                'holder_type', search_facet(coalesce(jsonb_object_agg(g.k, g.c) FILTER (WHERE g.dim = 'holder_type'),
                                                     '{}'), 'org_types'))::text
             FROM (
                -- one pass over the hits for the plain dimensions
                SELECT CASE WHEN GROUPING(m.kind) = 0 THEN 'kind' WHEN GROUPING(m.domain) = 0 THEN 'domain'
                            WHEN GROUPING(m.trl) = 0 THEN 'trl' ELSE 'holder_type' END AS dim,
                       coalesce(m.kind, m.domain, m.trl::text, m.holder_type) AS k, count(*) AS c
                FROM m GROUP BY GROUPING SETS ((m.kind), (m.domain), (m.trl), (m.holder_type))
                HAVING coalesce(m.kind, m.domain, m.trl::text, m.holder_type) IS NOT NULL
                UNION ALL
                SELECT 'mode', md, count(*) FROM m, unnest(m.modes) md GROUP BY md
                UNION ALL
                -- regions one level below the region filter (provinces without one)
                SELECT 'region', rk, sum(n) FROM (
                    SELECT CASE WHEN p_region IS NULL THEN left(y.code, 2) || '0000'
                                WHEN p_region ~ '^[0-9]{2}0000$' THEN
                                    CASE WHEN rg.level = 3 AND par.level = 2 THEN par.code ELSE y.code END
                                ELSE y.code END AS rk, y.n
                    FROM (SELECT m.region_code AS code, count(*) AS n FROM m WHERE m.region_code IS NOT NULL
                          GROUP BY 1) y
                    LEFT JOIN regions rg ON rg.code = y.code
                    LEFT JOIN regions par ON par.code = rg.parent_code) r
                GROUP BY rk) g) AS fac,
            (SELECT count(*) FROM m WHERE m.tier = 1) AS n_title,
            (SELECT extract(epoch FROM max(m.published_at) - min(m.published_at)) / 86400 + 1 FROM m) AS span_m,
            (SELECT coalesce(array_agg(x.sid ORDER BY x.o), '{}') FROM (SELECT * FROM m ORDER BY o LIMIT want) x)
                AS s_ids,
            (SELECT coalesce(array_agg(x.published_at ORDER BY x.o), '{}')
             FROM (SELECT * FROM m ORDER BY o LIMIT want) x) AS s_ts,
            -- ranked: title hits first (only used when m holds every hit)
            (SELECT coalesce(array_agg(x.sid ORDER BY x.tier DESC, x.o), '{}')
             FROM (SELECT * FROM m ORDER BY tier DESC, o LIMIT want) x) AS r_ids,
            (SELECT coalesce(array_agg(x.published_at ORDER BY x.tier DESC, x.o), '{}')
             FROM (SELECT * FROM m ORDER BY tier DESC, o LIMIT want) x) AS r_ts,
            (SELECT coalesce(array_agg(x.tier ORDER BY x.tier DESC, x.o), '{}')
             FROM (SELECT * FROM m ORDER BY tier DESC, o LIMIT want) x) AS r_tiers
        INTO m_rows;
        v_cnt := m_rows.cnt;
        total := json_build_object('value', least(v_cnt, cap), 'exact', v_cnt <= cap)::text;
        facets := m_rows.fac;
        p_total_hint := CASE WHEN v_cnt <= cap THEN v_cnt ELSE -1 END;
        p_title_hint := CASE WHEN v_cnt <= cap THEN m_rows.n_title ELSE -1 END;
        -- hits per day over the days the count covered (all of them when few)
        IF v_cnt > cap THEN
            p_rate := v_cnt / m_rows.span_m;
            p_title_rate := CASE WHEN m_rows.n_title > 0 THEN m_rows.n_title / m_rows.span_m END;
        END IF;
        IF p_after IS NULL AND tiered AND v_cnt <= cap THEN
            -- every hit is in m: the first page is its title hits, then the others
            sids := m_rows.r_ids;
            tss := m_rows.r_ts;
            tiers := m_rows.r_tiers;
            page_done := true;
        ELSIF p_after IS NULL AND NOT tiered AND (v_cnt <= cap OR v_cnt >= want) THEN
            -- the newest matches are the first page (all of them, when they are few)
            sids := m_rows.s_ids;
            tss := m_rows.s_ts;
            tiers := array_fill(0, ARRAY[cardinality(sids)]);
            page_done := true;
        END IF;
    END IF;
    title_hint := p_title_hint;
    rate := p_rate;
    title_rate := p_title_rate;

    -- The page: under relevance, the hits with every term in the title
    -- (tier 1) before the others (tier 0); under recent, one tier (0).
    IF NOT page_done AND tiered AND p_total_hint BETWEEN 0 AND 300 THEN
        SELECT coalesce(array_agg(c.sid ORDER BY c.tier DESC, c.published_at DESC, c.sid DESC), '{}'),
               coalesce(array_agg(c.published_at ORDER BY c.tier DESC, c.published_at DESC, c.sid DESC), '{}'),
               coalesce(array_agg(c.tier ORDER BY c.tier DESC, c.published_at DESC, c.sid DESC), '{}')
        INTO sids, tss, tiers
        FROM search_collect(p_tsq, want, p_total_hint, 3, a_ts, a_sid, pats, allpats, p_price_min, p_price_max,
                            from_ts, to_ts, today, a_tier) c;
        page_done := true;
    END IF;
    FOR tr IN SELECT t FROM unnest(CASE WHEN tiered THEN ARRAY[1, 0] ELSE ARRAY[0] END) t LOOP
        EXIT WHEN page_done OR cardinality(sids) >= want;
        CONTINUE WHEN a_tier IS NOT NULL AND tr > a_tier;
        SELECT sids || coalesce(array_agg(c.sid ORDER BY c.published_at DESC, c.sid DESC), '{}'),
               tss || coalesce(array_agg(c.published_at ORDER BY c.published_at DESC, c.sid DESC), '{}'),
               tiers || array_fill(tr, ARRAY[count(*)::int])
        INTO sids, tss, tiers
        FROM search_collect(CASE WHEN tr = 1 THEN p_title_tsq ELSE p_tsq END, want - cardinality(sids),
                            CASE WHEN tr = 0 THEN p_total_hint ELSE p_title_hint END,
                            CASE WHEN tr = 1 THEN 1 WHEN tiered THEN 2 ELSE 0 END,
                            CASE WHEN tr = a_tier THEN a_ts END, CASE WHEN tr = a_tier THEN a_sid END,
                            CASE WHEN tr = 1 THEN '{}' ELSE pats END, allpats, p_price_min, p_price_max,
                            from_ts, to_ts, today, NULL, CASE WHEN tr = 1 THEN p_title_rate ELSE p_rate END) c;
    END LOOP;

    -- The page's hits: each row carries its item ready made (search_docs.item);
    -- the server adds the snippet (cut from body around the first term) and
    -- matched_in.  One record per hit, lengths in bytes:
    --   <t|x|n> <length of item>:<item> <length of body>:<body>
    -- t: every term in the title, x: not, n: not ranked by tiers.
    -- (OFFSET 0 keeps the lateral from being inlined: each column is read and
    -- converted once, not once per mention)
    SELECT coalesce(string_agg(CASE WHEN NOT tiered THEN 'n' WHEN u.tier = 1 THEN 't' ELSE 'x' END
                               || octet_length(j.item) || ':' || j.item || octet_length(j.body) || ':' || j.body,
                               '' ORDER BY u.o), '')
    INTO hits
    FROM unnest(sids[1:p_limit], tiers[1:p_limit]) WITH ORDINALITY AS u(sid, tier, o)
    JOIN search_docs s ON s.sid = u.sid
    CROSS JOIN LATERAL (SELECT s.item::text AS item, s.body OFFSET 0) j;
    IF cardinality(sids) > p_limit THEN
        next_key := format('%s,%s,%s', tiers[p_limit],
                           (extract(epoch FROM tss[p_limit]) * 1000000)::bigint, sids[p_limit]);
    END IF;
    RETURN NEXT;
END $$;
