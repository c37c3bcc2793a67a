-- matching.sql — GET /needs/{id}/matches and GET /results/{id}/matches.
--
-- For a need, the published results that fit it best (for a result, the open
-- needs), each with the reasons that made its score.  Candidates: for each
-- keyword of the listing, the newest listings that contain it (through the
-- search index: the same tokens and exact recheck as /search), and the newest
-- of the same domain.  Every candidate is then scored on:
--   shared_terms      a keyword of either side occurs in the other's text
--   title_similarity  overlap (Jaccard) of the two titles' character bigrams
--   same_domain       the same technology domain
--   same_region       same county, else city, else province
--   trl_fit           the result's TRL reaches the need's minimum (trl_min)
--   mode_fit          a transfer mode the result offers is one the need wants
--   price_fit         the asking price lies within the need's budget
-- The weights are data (setting match_weights), so they can be tuned without a
-- release.

-- The character bigrams of a normalised title (the basis of title_similarity).
CREATE FUNCTION match_bigrams(p_head text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(t), '{}') FROM unnest(search_tokens(p_head)) t
    WHERE char_length(t) = 2 AND t ~ ('^' || search_class_re('han') || '{2}$')
$$;

CREATE FUNCTION match_jaccard(a text[], b text[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN cardinality(a) = 0 OR cardinality(b) = 0 THEN 0
                ELSE (SELECT count(*) FROM (SELECT unnest(a) INTERSECT SELECT unnest(b)) i)::numeric
                     / (SELECT count(*) FROM (SELECT unnest(a) UNION SELECT unnest(b)) u) END
$$;

-- A candidate as the API shows it: its search hit (search_docs.item) with the
-- beginning of its text as the snippet (there are no terms to centre it on).
CREATE FUNCTION match_item_json(s search_docs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT s.item || jsonb_build_object(
        'snippet', CASE WHEN s.body <> '' THEN left(s.body, 120) || CASE WHEN char_length(s.body) > 120 THEN '…' ELSE '' END END,
        'matched_in', NULL)
$$;

-- Candidates of kind p_kind for keywords p_terms (normalised) and a domain.
CREATE FUNCTION match_candidates(p_kind text, p_terms text[], p_domain text, p_exclude_org bigint)
RETURNS SETOF search_docs
LANGUAGE plpgsql STABLE AS $$
DECLARE
    per int := setting_int('match_candidates_per_term', 100);
    t text;
    q text;
BEGIN
    FOREACH t IN ARRAY coalesce(p_terms, '{}') LOOP
        q := search_query_tsquery(t);
        CONTINUE WHEN q = '';
        RETURN QUERY
            SELECT s.* FROM search_docs s
            WHERE s.tsv @@ ('(' || q || ') & ''#k:' || p_kind || '''')::tsquery
              AND s.doc LIKE search_like_pattern(t)
              AND (s.deadline IS NULL OR s.deadline >= today_cn())
              AND s.org_id IS DISTINCT FROM p_exclude_org
            ORDER BY s.published_at DESC, s.sid DESC LIMIT per;
    END LOOP;
    IF p_domain IS NOT NULL THEN
        RETURN QUERY
            SELECT s.* FROM search_docs s
            WHERE s.tsv @@ format('''#k:%s'' & ''#d:%s''', p_kind, p_domain)::tsquery
              AND (s.deadline IS NULL OR s.deadline >= today_cn())
              AND s.org_id IS DISTINCT FROM p_exclude_org
            ORDER BY s.published_at DESC, s.sid DESC LIMIT per;
    END IF;
END $$;

CREATE FUNCTION match_reason(p_code text, p_points numeric, p_message text, p_extra jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('code', p_code, 'points', round(p_points)::int, 'message', p_message)
           || coalesce(p_extra, '{}')
$$;

-- Score one pair.  "need side" and "result side" are explicit so that both
-- directions score a pair the same.
CREATE FUNCTION match_score(n_doc text, n_head text, n_keywords text[], n_domain text, n_region text,
                            n_trl_min smallint, n_modes text[], n_budget_min bigint, n_budget_max bigint,
                            r_doc text, r_head text, r_keywords text[], r_domain text, r_region text,
                            r_trl smallint, r_modes text[], r_price bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    w jsonb := (SELECT value FROM settings WHERE key = 'match_weights');
    terms text[];
    reasons jsonb := '[]';
    total numeric := 0;
    p numeric;
    sim numeric;
BEGIN
    -- keywords of either side that occur in the other's text
    SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}') INTO terms FROM (
        SELECT search_norm(k) AS k FROM unnest(n_keywords) k WHERE r_doc LIKE search_like_pattern(search_norm(k))
        UNION
        SELECT search_norm(k) FROM unnest(r_keywords) k WHERE n_doc LIKE search_like_pattern(search_norm(k))) x
    WHERE btrim(k) <> '';
    IF cardinality(terms) > 0 THEN
        p := least((w->>'shared_terms_max')::numeric, (w->>'shared_term')::numeric * cardinality(terms));
        total := total + p;
        reasons := reasons || match_reason('shared_terms', p, '共同关键词：' || array_to_string(terms, '、'),
                                           jsonb_build_object('terms', to_jsonb(terms)));
    END IF;
    sim := match_jaccard(match_bigrams(n_head), match_bigrams(r_head));
    IF sim > 0 THEN
        p := (w->>'title_similarity')::numeric * sim;
        IF round(p) > 0 THEN
            total := total + round(p);
            reasons := reasons || match_reason('title_similarity', p,
                                               format('标题相似度 %s%%', round(sim * 100)),
                                               jsonb_build_object('similarity', round(sim, 2)));
        END IF;
    END IF;
    IF n_domain IS NOT NULL AND n_domain = r_domain THEN
        p := (w->>'same_domain')::numeric;
        total := total + p;
        reasons := reasons || match_reason('same_domain', p, '同一技术领域：' || coalesce(code_label('domains', n_domain), n_domain));
    END IF;
    IF n_region IS NOT NULL AND r_region IS NOT NULL THEN
        IF n_region = r_region THEN
            p := (w->>'same_county')::numeric;
            reasons := reasons || match_reason('same_region', p, '同一地区：' || coalesce(region_name(n_region), n_region),
                                               jsonb_build_object('level', 'county'));
        ELSIF left(n_region, 4) = left(r_region, 4) THEN
            p := (w->>'same_city')::numeric;
            reasons := reasons || match_reason('same_region', p, '同一城市：' ||
                                                   coalesce(region_name(left(n_region, 4) || '00'),
                                                            region_name(left(n_region, 2) || '0000'), n_region),
                                               jsonb_build_object('level', 'city'));
        ELSIF left(n_region, 2) = left(r_region, 2) THEN
            p := (w->>'same_province')::numeric;
            reasons := reasons || match_reason('same_region', p, '同一省份：' ||
                                                   coalesce(region_name(left(n_region, 2) || '0000'), n_region),
                                               jsonb_build_object('level', 'province'));
        ELSE
            p := 0;
        END IF;
        total := total + p;
    END IF;
    IF n_trl_min IS NOT NULL AND r_trl IS NOT NULL AND r_trl >= n_trl_min THEN
        p := (w->>'trl_fit')::numeric;
        total := total + p;
        reasons := reasons || match_reason('trl_fit', p, format('技术成熟度 TRL %s，达到需求的 TRL %s', r_trl, n_trl_min));
    END IF;
    IF n_modes && r_modes THEN
        p := (w->>'mode_fit')::numeric;
        total := total + p;
        reasons := reasons || match_reason('mode_fit', p, '合作方式相符：' ||
            (SELECT string_agg(coalesce(code_label('transfer_modes', m), m), '、') FROM unnest(n_modes) m
             WHERE m = ANY (r_modes)));
    END IF;
    IF r_price IS NOT NULL AND (n_budget_min IS NOT NULL OR n_budget_max IS NOT NULL)
       AND r_price >= coalesce(n_budget_min, 0) AND (n_budget_max IS NULL OR r_price <= n_budget_max) THEN
        p := (w->>'price_fit')::numeric;
        total := total + p;
        reasons := reasons || match_reason('price_fit', p, '报价在预算范围内');
    END IF;
    RETURN jsonb_build_object('score', round(total)::int, 'reasons', reasons);
END $$;

-- The matches of one of the caller's listings: for a need (p_kind 'need') the
-- published results, for a result the open needs.  p_org: the caller's org;
-- staff (p_staff) see every listing.  Each pair is scored need side first.
CREATE FUNCTION market_matches(p_kind text, p_id bigint, p_org bigint, p_staff boolean, p_limit int) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n needs;
    r results;
    own_doc text;
    out text;
BEGIN
    IF p_kind = 'need' THEN
        SELECT * INTO n FROM needs WHERE id = p_id AND (org_id = p_org OR p_staff);
        IF NOT FOUND THEN
            PERFORM yz_raise(404, 'no such technology need');
        END IF;
        own_doc := search_doc_text(n.title, n.keywords, n.description);
    ELSE
        SELECT * INTO r FROM results WHERE id = p_id AND (holder_org_id = p_org OR p_staff);
        IF NOT FOUND THEN
            PERFORM yz_raise(404, 'no such research result');
        END IF;
        own_doc := search_doc_text(r.title, r.keywords, r.summary);
    END IF;
    WITH c AS (
        SELECT DISTINCT ON ((x).sid) x FROM match_candidates(CASE p_kind WHEN 'need' THEN 'result' ELSE 'need' END,
            ARRAY(SELECT DISTINCT search_norm(k) FROM unnest(coalesce(n.keywords, r.keywords)) k),
            coalesce(n.domain, r.domain), coalesce(n.org_id, r.holder_org_id)) x
    ), scored AS (
        SELECT (c.x).sid AS sid, (c.x).published_at AS published_at, c.x AS d,
               CASE WHEN p_kind = 'need' THEN
                   match_score(own_doc, search_norm(n.title), n.keywords, n.domain, n.region_code, n.trl_min,
                               n.cooperation_modes, n.budget_min_fen, n.budget_max_fen,
                               (c.x).doc, (c.x).head, cr.keywords, (c.x).domain, (c.x).region_code, (c.x).trl,
                               (c.x).modes, cr.asking_price_fen)
               ELSE
                   match_score((c.x).doc, (c.x).head, cn.keywords, (c.x).domain, (c.x).region_code, cn.trl_min,
                               (c.x).modes, cn.budget_min_fen, cn.budget_max_fen,
                               own_doc, search_norm(r.title), r.keywords, r.domain, r.region_code, r.trl,
                               r.transfer_modes, r.asking_price_fen) END AS m
        FROM c LEFT JOIN results cr ON p_kind = 'need' AND cr.id = (c.x).ref_id
        LEFT JOIN needs cn ON p_kind <> 'need' AND cn.id = (c.x).ref_id
        WHERE cr.id IS NOT NULL OR cn.id IS NOT NULL
    )
    SELECT json_build_object('items', coalesce(json_agg(json_build_object(
               'score', (m->>'score')::int, 'reasons', m->'reasons', 'item', match_item_json(s.d))
               ORDER BY (m->>'score')::int DESC, published_at DESC, sid DESC), '[]'),
           'next_cursor', NULL)::text
    INTO out
    FROM (SELECT * FROM scored WHERE (m->>'score')::int > 0
          ORDER BY (m->>'score')::int DESC, published_at DESC, sid DESC LIMIT p_limit) s;
    RETURN out;
END $$;
