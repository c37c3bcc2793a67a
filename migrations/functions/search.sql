-- search.sql — the search index over public listings (published results, open
-- needs) and GET /api/v1/search.  The index (search_docs, 0001_baseline.sql)
-- is maintained by triggers so that rows inserted any way (the API, demo data,
-- a bulk load) are indexed.
--
-- Tokens (the same algorithm as server/domain/cjk.c; tests/unit/cjk_corpus.tsv
-- pins both):
--   search_norm(t)    full-width forms U+FF01..FF5E -> ASCII, U+3000 -> space,
--                     A-Z -> a-z; one code point for one, so positions agree.
--   search_tokens(n)  of normalised text: each maximal HAN run (CJK ideographs,
--                     kana, hangul) gives its characters and overlapping
--                     bigrams; each maximal WORD run (a-z 0-9, Latin, Greek,
--                     Cyrillic letters) its suffixes cut to 32 characters.
--   search_query_tsquery(q)  the tsquery of a query: per whitespace-separated
--                     term, the bigrams of its HAN runs (a lone character as
--                     itself) and each WORD run as a prefix ('run':*).
-- A term that is a substring of a text has all its tokens among the text's
-- tokens, so the GIN index never misses; the server rechecks with LIKE on the
-- normalised text where the tokens alone do not imply the substring.
--
-- search_docs.tsv also carries filter and bucket lexemes, so that one GIN
-- index answers the text and the filters together:
--   ^tok          token of the title (relevance: all terms in the title first)
--   #k:result|need, #d:<domain>, #t:<trl>, #h:<org type> (and its parent),
--   #m:<transfer or cooperation mode>, #r:<region prefix> at each level
--   @YYYYMM, @YYYYMMDD  month and day of publication (UTC): a query walks the
--                 newest days first instead of sorting every match.

-- Normalisation.  translate() costs (text length x table length), so it is
-- given only the full-width characters the text actually contains (Chinese
-- text has a few: ，（）：), and A-Z is lowered by lower() under the "C"
-- collation, which touches ASCII only.  Full-width letters fold to upper-case
-- ASCII first and are lowered with the rest.
DO $do$
DECLARE
    fw text := '[' || chr(x'FF01'::int) || '-' || chr(x'FF5E'::int) || chr(x'3000'::int) || ']';
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION search_norm(t text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $b$
            SELECT lower(CASE WHEN t ~ %1$L THEN
                (SELECT translate(t, string_agg(c, ''),
                                  string_agg(CASE WHEN c = chr(x'3000'::int) THEN ' ' ELSE chr(ascii(c) - x'FEE0'::int) END, ''))
                 FROM (SELECT DISTINCT m[1] AS c FROM regexp_matches(t, '(' || %1$L || ')', 'g') m) x)
            ELSE t END COLLATE "C")
        $b$ $f$, fw);
END $do$;
COMMENT ON FUNCTION search_norm(text) IS
    'Search normalisation: full-width ASCII forms and U+3000 folded to half-width, A-Z lower-cased (as cjk_normalize in C).';

-- The character classes as regular-expression brackets (built from code
-- points so that no invisible character hides in this file).
CREATE FUNCTION search_class_re(p_which text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE p_which
        WHEN 'han' THEN '[' || chr(x'3040'::int) || '-' || chr(x'30FF'::int)
                            || chr(x'3400'::int) || '-' || chr(x'4DBF'::int)
                            || chr(x'4E00'::int) || '-' || chr(x'9FFF'::int)
                            || chr(x'AC00'::int) || '-' || chr(x'D7AF'::int)
                            || chr(x'F900'::int) || '-' || chr(x'FAFF'::int)
                            || chr(x'20000'::int) || '-' || chr(x'3134F'::int) || ']'
        WHEN 'word' THEN '[0-9a-z' || chr(x'C0'::int) || '-' || chr(x'D6'::int)
                            || chr(x'D8'::int) || '-' || chr(x'F6'::int)
                            || chr(x'F8'::int) || '-' || chr(x'24F'::int)
                            || chr(x'370'::int) || '-' || chr(x'4FF'::int) || ']'
    END
$$;

DO $do$
DECLARE
    runs text := '(' || search_class_re('han') || '+)|(' || search_class_re('word') || '+)';
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION search_tokens(n text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $b$
            SELECT coalesce(array_agg(DISTINCT tok), '{}')
            FROM regexp_matches(n, %L, 'g') AS m,
                 LATERAL (
                    SELECT substr(m[1], i, 1) FROM generate_series(1, char_length(m[1])) i
                    UNION ALL
                    SELECT substr(m[1], i, 2) FROM generate_series(1, char_length(m[1]) - 1) i
                    UNION ALL
                    SELECT substr(m[2], i, 32) FROM generate_series(1, char_length(m[2])) i
                 ) AS t(tok)
        $b$ $f$, runs);

    -- Tokens of a query in first-appearance order without repeats, as a
    -- tsquery text: identical to cjk_query_parse()'s tsquery.
    EXECUTE format($f$
        CREATE FUNCTION search_query_tsquery(q text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $b$
            WITH terms AS (
                SELECT t, min(o) AS o
                FROM regexp_split_to_table(search_norm(q), '[ \t\n\r\f\v]+') WITH ORDINALITY AS x(t, o)
                WHERE t <> '' GROUP BY t
            ), runs AS (
                SELECT terms.o AS term_o, r.o AS run_o, r.m[1] AS han, r.m[2] AS word
                FROM terms, LATERAL regexp_matches(terms.t, %L, 'g') WITH ORDINALITY AS r(m, o)
            ), toks AS (
                SELECT ARRAY[term_o, run_o, x.i] AS k, x.tok
                FROM runs, LATERAL (
                    SELECT i, quote_literal(substr(han, i, 2)) FROM generate_series(1, char_length(han) - 1) i
                    UNION ALL SELECT 1, quote_literal(han) WHERE char_length(han) = 1
                    UNION ALL SELECT 1, quote_literal(substr(word, 1, 32)) || ':*' WHERE word IS NOT NULL
                ) AS x(i, tok)
            ), firsts AS (
                SELECT tok, min(k) AS k FROM toks GROUP BY tok
            )
            SELECT coalesce(string_agg(tok, ' & ' ORDER BY k), '') FROM firsts
        $b$ $f$, runs);
END $do$;
COMMENT ON FUNCTION search_tokens(text) IS
    'Document tokens of normalised text: characters and bigrams of CJK runs, suffixes (<= 32) of word runs (as cjk_doc_tokens in C).';
COMMENT ON FUNCTION search_query_tsquery(text) IS
    'tsquery text of a search query (as cjk_query_parse in C); empty when the query has no token.';

-- LIKE pattern of a (normalised) term, escape character backslash.
CREATE FUNCTION search_like_pattern(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '%' || replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- The facet and bucket lexemes of a listing.
CREATE FUNCTION search_facet_lexemes(p_kind text, p_domain text, p_trl smallint, p_org_type text, p_modes text[],
                                     p_region text, p_published timestamptz) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_remove(ARRAY[
        '#k:' || p_kind, '#d:' || p_domain, '#t:' || p_trl, '#h:' || p_org_type,
        '#h:' || (SELECT parent_code FROM codes WHERE list = 'org_types' AND code = p_org_type),
        '#r:' || substr(p_region, 1, 2), '#r:' || substr(p_region, 1, 4), '#r:' || p_region,
        '@' || to_char(p_published AT TIME ZONE 'UTC', 'YYYYMM'),
        '@' || to_char(p_published AT TIME ZONE 'UTC', 'YYYYMMDD')], NULL)
        || ARRAY(SELECT '#m:' || m FROM unnest(p_modes) m)
$$;

CREATE FUNCTION search_build_tsv(p_head text, p_doc text, p_facets text[]) RETURNS tsvector
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_to_tsvector(search_tokens(p_doc) || ARRAY(SELECT '^' || t FROM unnest(search_tokens(p_head)) t)
                             || p_facets)
$$;

-- A listing as a search hit (less the per-query snippet and match tier): what
-- results and needs share, under the names the hit uses for both (modes: the
-- codes of p_modes_list; holder: the publishing organisation), then each
-- kind's own fields.
CREATE FUNCTION search_item(p_kind text, p_id bigint, p_title text, p_keywords text[], p_domain text,
                            p_region text, p_modes text[], p_modes_list text, p_holder bigint,
                            p_published timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'kind', p_kind, 'id', p_id, 'title', p_title, 'keywords', to_jsonb(p_keywords),
        'domain', p_domain, 'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = p_domain),
        'region_code', p_region, 'region_name', (SELECT name FROM regions WHERE code = p_region),
        'modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o), '[]')
                  FROM unnest(p_modes) WITH ORDINALITY AS u(m, o)
                  LEFT JOIN codes c ON c.list = p_modes_list AND c.code = u.m),
        'holder', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type,
                                             'org_type_label', (SELECT label FROM codes WHERE list = 'org_types'
                                                                AND code = g.org_type))
                   FROM orgs g WHERE g.id = p_holder),
        'published_at', p_published)
$$;

CREATE FUNCTION search_result_item(r results) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT search_item('result', r.id, r.title, r.keywords, r.domain, r.region_code, r.transfer_modes,
                       'transfer_modes', r.holder_org_id, r.published_at)
        || jsonb_build_object(
            'trl', r.trl, 'pricing_mode', r.pricing_mode,
            'pricing_mode_label', (SELECT label FROM codes WHERE list = 'pricing_modes' AND code = r.pricing_mode),
            'asking_price_fen', r.asking_price_fen, 'negotiable', r.asking_price_fen IS NULL)
$$;

CREATE FUNCTION search_need_item(n needs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT search_item('need', n.id, n.title, n.keywords, n.domain, n.region_code, n.cooperation_modes,
                       'cooperation_modes', n.org_id, n.published_at)
        || jsonb_build_object(
            'trl_min', n.trl_min, 'budget_min_fen', n.budget_min_fen, 'budget_max_fen', n.budget_max_fen,
            'negotiable', n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL, 'deadline', n.deadline)
$$;

CREATE FUNCTION search_result_visible(r results) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT r.status IN ('published', 'under_notice') AND r.published_at IS NOT NULL $$;

CREATE FUNCTION search_need_visible(n needs) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT n.status = 'open' AND n.published_at IS NOT NULL $$;

-- The text of a listing as the index and matching read it: title, keywords
-- and body (summary or description), a line each, normalised.
CREATE FUNCTION search_doc_text(p_title text, p_keywords text[], p_body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT search_norm(p_title || E'\n' || array_to_string(p_keywords, E'\n') || E'\n' || p_body)
$$;

-- Index one public listing: its normalised title and text (title, keywords,
-- body, a line each), tokens and facet lexemes, the filter columns, and the hit
-- as /search shows it.
CREATE FUNCTION search_doc_put(p_kind text, p_ref bigint, p_org bigint, p_title text, p_keywords text[], p_body text,
                               p_domain text, p_region text, p_trl smallint, p_modes text[], p_price_lo bigint,
                               p_price_hi bigint, p_published timestamptz, p_deadline date, p_item jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_type text := (SELECT org_type FROM orgs WHERE id = p_org);
    v_head text := search_norm(p_title);
    v_doc text := search_doc_text(p_title, p_keywords, p_body);
    v_facets text[] := search_facet_lexemes(p_kind, p_domain, p_trl, v_type, p_modes, p_region, p_published);
BEGIN
    INSERT INTO search_docs AS s (kind, ref_id, org_id, head, doc, tsv, tags, domain, region_code, trl, modes,
                                  price_lo, price_hi, holder_type, published_at, deadline, body, item)
    VALUES (p_kind, p_ref, p_org, v_head, v_doc, search_build_tsv(v_head, v_doc, v_facets),
            array_to_tsvector(ARRAY(SELECT l FROM unnest(v_facets) l WHERE l LIKE '#%')),
            p_domain, p_region, p_trl, p_modes, p_price_lo, p_price_hi, v_type, p_published, p_deadline, p_body, p_item)
    ON CONFLICT (kind, ref_id) DO UPDATE SET
        org_id = excluded.org_id, head = excluded.head, doc = excluded.doc, tsv = excluded.tsv, tags = excluded.tags,
        domain = excluded.domain, region_code = excluded.region_code, trl = excluded.trl, modes = excluded.modes,
        price_lo = excluded.price_lo, price_hi = excluded.price_hi, holder_type = excluded.holder_type,
        published_at = excluded.published_at, deadline = excluded.deadline, body = excluded.body,
        item = excluded.item;
END $$;

-- Index a listing, or take it out of the index when it is not public (any
-- more).  A need's price range is its budget; no budget at all is 面议 (NULL).
CREATE FUNCTION search_sync_result(r results) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT search_result_visible(r) THEN
        DELETE FROM search_docs WHERE kind = 'result' AND ref_id = r.id;
        RETURN;
    END IF;
    PERFORM search_doc_put('result', r.id, r.holder_org_id, r.title, r.keywords, r.summary, r.domain, r.region_code,
                           r.trl, r.transfer_modes, r.asking_price_fen, r.asking_price_fen, r.published_at, NULL,
                           search_result_item(r));
END $$;

CREATE FUNCTION search_sync_need(n needs) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT search_need_visible(n) THEN
        DELETE FROM search_docs WHERE kind = 'need' AND ref_id = n.id;
        RETURN;
    END IF;
    PERFORM search_doc_put('need', n.id, n.org_id, n.title, n.keywords, n.description, n.domain, n.region_code, NULL,
                           n.cooperation_modes,
                           CASE WHEN n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL THEN NULL
                                ELSE coalesce(n.budget_min_fen, 0) END,
                           n.budget_max_fen, n.published_at, n.deadline, search_need_item(n));
END $$;

-- One trigger for results and needs.  TG_ARGV: the kind in search_docs, then
-- the columns the index reads.  A change that touches none of them (or a
-- hidden row staying hidden) costs no tokenising.  PL/pgSQL compiles it per
-- table and prepares a statement when it first runs, so only the branch of
-- the table's own kind is ever prepared with that table's OLD and NEW.
CREATE FUNCTION search_listing_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_was boolean;
    v_is boolean;
    v_old jsonb;
    v_new jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = TG_ARGV[0] AND ref_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF TG_ARGV[0] = 'result' THEN
            v_was := search_result_visible(OLD);
            v_is := search_result_visible(NEW);
        ELSE
            v_was := search_need_visible(OLD);
            v_is := search_need_visible(NEW);
        END IF;
        IF NOT v_was AND NOT v_is THEN
            RETURN NULL;
        END IF;
        IF v_was = v_is THEN
            v_old := to_jsonb(OLD);
            v_new := to_jsonb(NEW);
            IF (SELECT bool_and(v_old -> c IS NOT DISTINCT FROM v_new -> c) FROM unnest(TG_ARGV[1:]) c) THEN
                RETURN NULL;
            END IF;
        END IF;
    END IF;
    IF TG_ARGV[0] = 'result' THEN
        PERFORM search_sync_result(NEW);
    ELSE
        PERFORM search_sync_need(NEW);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER results_search AFTER INSERT OR UPDATE OR DELETE ON results
    FOR EACH ROW EXECUTE FUNCTION search_listing_trigger('result', 'title', 'summary', 'keywords', 'domain', 'trl',
                                                         'transfer_modes', 'asking_price_fen', 'pricing_mode',
                                                         'region_code', 'published_at', 'holder_org_id');
CREATE TRIGGER needs_search AFTER INSERT OR UPDATE OR DELETE ON needs
    FOR EACH ROW EXECUTE FUNCTION search_listing_trigger('need', 'title', 'description', 'keywords', 'domain',
                                                         'cooperation_modes', 'budget_min_fen', 'budget_max_fen',
                                                         'region_code', 'published_at', 'deadline', 'org_id',
                                                         'trl_min');

-- The holder type is a filter and the holder's name is shown on every hit:
-- an org changing either re-indexes its listings.
CREATE FUNCTION search_orgs_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.org_type, OLD.name) IS DISTINCT FROM (NEW.org_type, NEW.name) THEN
        PERFORM search_sync_result(r) FROM results r WHERE r.holder_org_id = NEW.id AND search_result_visible(r);
        PERFORM search_sync_need(n) FROM needs n WHERE n.org_id = NEW.id AND search_need_visible(n);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orgs_search AFTER UPDATE OF org_type, name ON orgs
    FOR EACH ROW EXECUTE FUNCTION search_orgs_trigger();

-- A relabelled code (an admin edits code lists) refreshes the hits that show it.
CREATE FUNCTION search_codes_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.label IS NOT DISTINCT FROM NEW.label OR NEW.list NOT IN ('domains', 'org_types', 'transfer_modes',
                                                                    'cooperation_modes', 'pricing_modes') THEN
        RETURN NULL;
    END IF;
    UPDATE search_docs s SET item = search_result_item(r)
    FROM results r
    WHERE s.kind = 'result' AND r.id = s.ref_id
      AND ((NEW.list = 'domains' AND s.domain = NEW.code) OR (NEW.list = 'org_types' AND s.holder_type = NEW.code)
           OR (NEW.list = 'transfer_modes' AND NEW.code = ANY (s.modes))
           OR (NEW.list = 'pricing_modes' AND r.pricing_mode = NEW.code));
    UPDATE search_docs s SET item = search_need_item(n)
    FROM needs n
    WHERE s.kind = 'need' AND n.id = s.ref_id
      AND ((NEW.list = 'domains' AND s.domain = NEW.code) OR (NEW.list = 'org_types' AND s.holder_type = NEW.code)
           OR (NEW.list = 'cooperation_modes' AND NEW.code = ANY (s.modes)));
    RETURN NULL;
END $$;
CREATE TRIGGER codes_search AFTER UPDATE OF label ON codes
    FOR EACH ROW EXECUTE FUNCTION search_codes_trigger();

-- GET /api/v1/search -------------------------------------------------------
-- One function the server calls once per request, market_search()
-- (server/api/market_search.c builds its arguments and cuts the snippets).
--
-- Cost model (100,000 listings; see bench/search): reading a matching row
-- from the heap costs about a microsecond, so nothing here touches every
-- match of a frequent term:
--   * total and facets count at most search_count_cap (200) matches (then
--     the total says "more than N", exact = false, with an estimate from the
--     hits per day those matches show), in one pass (GROUPING SETS, the
--     region facet by a join).  Every search people make is new to the
--     cache, so this bound is the work of a new search (issue #25: with
--     1,000 a frequent word or a browse read 1,001 rows); the server caches them for
--     search_stats_ttl_s seconds per query, with the hits per day the count
--     saw, so paging or repeating a search does not recount;
--   * the page walks the newest days first: the tsquery is ANDed with the
--     bucket lexemes (@YYYYMM, @YYYYMMDD) of a window of days, so the GIN
--     index returns only that window's matches.  The first window is sized
--     from the hits per day the count saw, each next one from the hits per day
--     seen so far (the count's rate weighing as two days: hits are not spread
--     evenly, and a rate from the newest days was far off further back).  A
--     search known to have few matches (<= 300; the page of a text search whose bound,
--     below, is <= 2,000) takes them all at once;
--   * a new search of text bounds its matches by its rarest lexeme
--     (search_match_bound, from the planner's statistics copied into
--     search_lexeme_freq) and estimates them (search_text_estimate: its words
--     as independent): a rare term (<= 300), or words estimated to have few
--     matches together (<= 5 x (cap + 1)), is counted in one query, and the
--     page of one of <= 2,000 is taken in one query (with the totals cached, and on
--     later pages), a frequent one starts its windows at the size the bound gives,
--     not at one day growing fourfold;
--   * a browse (filters, no text) walks the recency index testing each row's
--     filter lexemes (search_docs.tags), up to search_browse_scan (3,000)
--     rows, before it turns to the windows;
--   * relevance knows how many hits are in titles when the count saw them all;
--   * plans are made once per session (plan_cache_mode = force_generic_plan):
--     planning the window query for every tsquery value cost more than
--     running it, and the plan is a bitmap scan either way.
-- Results are exact either way: the index finds candidates, the recheck
-- (LIKE on the normalised text) and the filters decide.

-- PL/pgSQL, not SQL: a SQL function that cannot be inlined is planned again in every statement
-- that calls it (six times a search), where PL/pgSQL keeps its plan for the session; the labels
-- by sub-selects in that plan, not by code_label()/region_name() calls (each planned again).
CREATE FUNCTION search_facet(p_counts jsonb, p_label_list text) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(json_agg(json_build_object(
               'key', e.key,
               'label', CASE p_label_list
                            WHEN 'regions' THEN (SELECT rg.name FROM regions rg WHERE rg.code = e.key)
                            WHEN 'kinds' THEN CASE e.key WHEN 'result' THEN '科技成果' WHEN 'need' THEN '技术需求' END
                            WHEN 'trl' THEN 'TRL ' || e.key
                            WHEN 'modes' THEN coalesce(
                                (SELECT c.label FROM codes c WHERE c.list = 'transfer_modes' AND c.code = e.key),
                                (SELECT c.label FROM codes c WHERE c.list = 'cooperation_modes' AND c.code = e.key))
                            ELSE (SELECT c.label FROM codes c WHERE c.list = p_label_list AND c.code = e.key) END,
               'count', e.value::int)
           ORDER BY e.value::int DESC, e.key), '[]')
    FROM jsonb_each_text(p_counts) e);
END $$;

-- The bucket lexemes that cover the days [a, b]: whole months as @YYYYMM, the
-- rest day by day as @YYYYMMDD, OR-ed.
CREATE FUNCTION search_buckets(a date, b date) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    out text[] := '{}';
    m date := date_trunc('month', a)::date;
    m_end date;
    d date;
BEGIN
    WHILE m <= b LOOP
        m_end := (m + interval '1 month - 1 day')::date;
        IF m >= a AND m_end <= b THEN
            out := out || format('''@%s''', to_char(m, 'YYYYMM'));
        ELSE
            d := greatest(m, a);
            WHILE d <= least(m_end, b) LOOP
                out := out || format('''@%s''', to_char(d, 'YYYYMMDD'));
                d := d + 1;
            END LOOP;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN array_to_string(out, ' | ');
END $$;

-- Whether a listing's price range [p_lo, p_hi] meets a price filter [p_min,
-- p_max] (either bound NULL: open): a listing without a price (面议, p_lo
-- NULL) meets no price filter; p_hi NULL is open upwards.  For search
-- (search_doc_passes) and saved searches (market_notify, subscriptions.sql).
CREATE FUNCTION search_price_meets(p_lo bigint, p_hi bigint, p_min bigint, p_max bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (p_min IS NULL OR (p_lo IS NOT NULL AND (p_hi IS NULL OR p_hi >= p_min)))
       AND (p_max IS NULL OR (p_lo IS NOT NULL AND p_lo <= p_max))
$$;

-- The filters every query of search_collect applies to a row of search_docs
-- besides its text: not past its deadline (p_today), its price range meets
-- [p_price_min, p_price_max], published in [p_from_ts, p_to_ts) (NULL: open).
-- SQL functions of one expression: the planner inlines them into each query,
-- so a plan is the same as with the conditions written out there.
CREATE FUNCTION search_doc_passes(p_deadline date, p_lo bigint, p_hi bigint, p_published timestamptz,
                                  p_today date, p_price_min bigint, p_price_max bigint,
                                  p_from_ts timestamptz, p_to_ts timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (p_deadline IS NULL OR p_deadline >= p_today)
       AND search_price_meets(p_lo, p_hi, p_price_min, p_price_max)
       AND (p_from_ts IS NULL OR p_published >= p_from_ts)
       AND (p_to_ts IS NULL OR p_published < p_to_ts)
$$;

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
-- matches (p_hint <= 2,000: an exact count or a text search's bound) one query
-- takes them all.  The SQL is static, so its plan is made once per session
-- (a bitmap scan: enable_seqscan is off here, and the materialised CTE keeps
-- the planner from walking the recency index with the tsvector as a filter).
CREATE FUNCTION search_collect(p_q text, p_n int, p_hint bigint, p_tier int, p_after_ts timestamptz,
                               p_after_sid bigint, p_patterns text[], p_all text[], p_price_min bigint,
                               p_price_max bigint, p_from_ts timestamptz, p_to_ts timestamptz, p_today date,
                               p_after_tier int DEFAULT NULL, p_rate float8 DEFAULT NULL,
                               p_browse int DEFAULT NULL)
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
    scan_n int;
    last_ts timestamptz;
    last_sid bigint;
    newest_ts timestamptz;
    from_lo boolean := false;   -- d_lo is the day of p_from_ts (the walk ends there)
BEGIN
    IF p_n <= 0 THEN
        RETURN;
    END IF;
    IF p_browse > 0 AND p_q IS NOT NULL AND p_tier = 0 AND NOT coalesce(p_hint BETWEEN 0 AND 300, false) THEN
        -- A browse (p_q holds filter lexemes only): walk the recency index from the newest (or
        -- the cursor) and test each row's filter lexemes (tags, small and in the row) — the
        -- first page of a common filter is a range of the index, not a bitmap of every match.
        -- At most p_browse rows are walked (the setting search_browse_scan); a rarer filter
        -- goes on by day windows of the GIN index from where the walk stopped, with the hits
        -- per day the walk saw.
        scan_n := p_browse;
        IF p_after_ts IS NULL THEN
            RETURN QUERY
                SELECT w.sid, w.published_at, w.kind, w.domain, w.region_code::text, w.trl, w.modes, w.holder_type, 0
                FROM (SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code, s.trl, s.modes, s.holder_type,
                             s.tags, s.deadline, s.price_lo, s.price_hi
                      FROM search_docs s ORDER BY s.published_at DESC, s.sid DESC LIMIT scan_n) w
                WHERE w.tags @@ p_q::tsquery
                  AND search_doc_passes(w.deadline, w.price_lo, w.price_hi, w.published_at, p_today,
                                        p_price_min, p_price_max, p_from_ts, p_to_ts)
                ORDER BY w.published_at DESC, w.sid DESC LIMIT p_n;
        ELSE
            RETURN QUERY
                SELECT w.sid, w.published_at, w.kind, w.domain, w.region_code::text, w.trl, w.modes, w.holder_type, 0
                FROM (SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code, s.trl, s.modes, s.holder_type,
                             s.tags, s.deadline, s.price_lo, s.price_hi
                      FROM search_docs s WHERE (s.published_at, s.sid) < (p_after_ts, p_after_sid)
                      ORDER BY s.published_at DESC, s.sid DESC LIMIT scan_n) w
                WHERE w.tags @@ p_q::tsquery
                  AND search_doc_passes(w.deadline, w.price_lo, w.price_hi, w.published_at, p_today,
                                        p_price_min, p_price_max, p_from_ts, p_to_ts)
                ORDER BY w.published_at DESC, w.sid DESC LIMIT p_n;
        END IF;
        GET DIAGNOSTICS got = ROW_COUNT;
        IF got >= p_n THEN
            RETURN;
        END IF;
        -- where the walk stopped (none: it walked every listing)
        SELECT x.published_at, x.sid INTO last_ts, last_sid
        FROM search_docs x
        WHERE p_after_ts IS NULL OR (x.published_at, x.sid) < (p_after_ts, p_after_sid)
        ORDER BY x.published_at DESC, x.sid DESC OFFSET scan_n - 1 LIMIT 1;
        IF last_ts IS NULL THEN
            RETURN;
        END IF;
        newest_ts := coalesce(p_after_ts, (SELECT max(x.published_at) FROM search_docs x));
        p_rate := greatest(got, 0.5) / (extract(epoch FROM newest_ts - last_ts) / 86400 + 1);
        p_n := p_n - got;
        left_n := p_n;
        p_after_ts := last_ts;
        p_after_sid := last_sid;
    END IF;
    IF p_q IS NULL THEN
        -- nothing to look up in the index: the recency index, filtered
        RETURN QUERY
            SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type, 0
            FROM search_docs s
            WHERE search_doc_passes(s.deadline, s.price_lo, s.price_hi, s.published_at, p_today,
                                    p_price_min, p_price_max, p_from_ts, p_to_ts)
              AND (p_after_ts IS NULL OR (s.published_at, s.sid) < (p_after_ts, p_after_sid))
            ORDER BY s.published_at DESC, s.sid DESC LIMIT p_n;
        RETURN;
    END IF;
    IF p_tier = 3 THEN
        -- few hits: all of them in one query, ranked title hits first
        RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type,
                       CASE WHEN s.head LIKE ALL (p_all) THEN 1 ELSE 0 END AS tier, s.doc
                FROM search_docs s
                WHERE s.tsv @@ p_q::tsquery
                  AND search_doc_passes(s.deadline, s.price_lo, s.price_hi, s.published_at, p_today,
                                        p_price_min, p_price_max, p_from_ts, p_to_ts))
            -- the text recheck after the sort, as in the windows below
            SELECT x.sid, x.published_at, x.kind, x.domain, x.region_code, x.trl, x.modes, x.holder_type, x.tier
            FROM (SELECT * FROM c
                  WHERE p_after_tier IS NULL OR c.tier < p_after_tier
                     OR (c.tier = p_after_tier AND (c.published_at, c.sid) < (p_after_ts, p_after_sid))
                  ORDER BY c.tier DESC, c.published_at DESC, c.sid DESC OFFSET 0) x
            WHERE x.doc LIKE ALL (p_patterns)
            ORDER BY x.tier DESC, x.published_at DESC, x.sid DESC LIMIT p_n;
        RETURN;
    END IF;
    IF p_hint IS NOT NULL AND p_hint BETWEEN 0 AND 2000 THEN
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
        -- the dates asked for bound the days walked: a search since a date with few matches
        -- walked every older day (each window's rows read and dropped by the date filter), then
        -- took everything left; now its last window ends on that date
        IF p_from_ts IS NOT NULL AND (p_from_ts AT TIME ZONE 'UTC')::date > d_lo THEN
            d_lo := (p_from_ts AT TIME ZONE 'UTC')::date;
            from_lo := true;
        END IF;
        IF p_to_ts IS NOT NULL THEN
            d_hi := least(d_hi, ((p_to_ts - interval '1 microsecond') AT TIME ZONE 'UTC')::date);
        END IF;
        IF d_hi < d_lo THEN
            RETURN;   -- no listing of those days
        END IF;
    END IF;
    LOOP
        IF d_hi IS NULL OR w > 400 OR (d_hi - w + 1 <= d_lo AND NOT from_lo) THEN
            -- everything (left): no bucket restriction
            q := p_q;
            before_ts := CASE WHEN d_hi IS NOT NULL THEN (d_hi + 1)::timestamp AT TIME ZONE 'UTC' END;
        ELSE
            a := greatest(d_hi - w + 1, d_lo);
            q := '(' || p_q || ') & (' || search_buckets(a, d_hi) || ')';
            before_ts := NULL;
        END IF;
        RETURN QUERY
            WITH c AS MATERIALIZED (
                SELECT s.sid, s.published_at, s.kind, s.domain, s.region_code::text, s.trl, s.modes, s.holder_type,
                       CASE WHEN p_tier = 1 OR (p_tier = 0 AND cardinality(p_all) > 0 AND s.head LIKE ALL (p_all))
                            THEN 1 ELSE 0 END AS tier, s.doc
                FROM search_docs s
                WHERE s.tsv @@ q::tsquery
                  AND search_doc_passes(s.deadline, s.price_lo, s.price_hi, s.published_at, p_today,
                                        p_price_min, p_price_max, p_from_ts, p_to_ts)
                  AND (before_ts IS NULL OR s.published_at < before_ts)
                  AND (p_after_ts IS NULL OR (s.published_at, s.sid) < (p_after_ts, p_after_sid))
                  AND CASE p_tier WHEN 1 THEN s.head LIKE ALL (p_all) WHEN 2 THEN NOT (s.head LIKE ALL (p_all))
                                  ELSE true END)
            -- the text recheck (doc is TOASTed: two to four more buffers a row) after the sort, on
            -- the newest candidates only until left_n pass (OFFSET 0: not pushed below the sort)
            SELECT x.sid, x.published_at, x.kind, x.domain, x.region_code, x.trl, x.modes, x.holder_type, x.tier
            FROM (SELECT * FROM c ORDER BY c.published_at DESC, c.sid DESC OFFSET 0) x
            WHERE x.doc LIKE ALL (p_patterns)
            ORDER BY x.published_at DESC, x.sid DESC LIMIT left_n;
        GET DIAGNOSTICS got = ROW_COUNT;
        left_n := left_n - got;
        EXIT WHEN left_n <= 0 OR before_ts IS NOT NULL OR d_hi IS NULL OR a <= d_lo;
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

-- Copy the frequencies of the most common lexemes of search_docs.tsv from the planner's
-- statistics into search_lexeme_freq (0019), when search_docs was analysed since the last copy
-- (or nothing was copied yet).  The background sweep (server/api/market_bg.c) calls it every
-- minute; true when it copied.  ANALYZE samples 300 x the statistics target (1000) rows, so up
-- to 300,000 listings the frequencies are counts, beyond that estimates from the sample.
CREATE FUNCTION search_lexeme_freq_refresh() RETURNS boolean
LANGUAGE sql AS $$
    SELECT tsv_freq_refresh('search_docs', 'tsv', 'search_lexeme_freq', 'lexeme')
$$;

-- The share of the listings holding each lexeme of tsquery text p_q that every match must hold
-- (those ANDed at the top — an OR group is in parentheses — and not prefixes 'abc':*), from
-- search_lexeme_freq (a lexeme it does not list: its min_freq), with the number of listings.
-- No row when nothing was copied yet.
CREATE FUNCTION search_match_shares(p_q text) RETURNS TABLE (n_docs bigint, share real)
LANGUAGE sql STABLE AS $$
    SELECT st.n_docs, coalesce(f.freq, st.min_freq)
    FROM tsv_freq_stats st
    CROSS JOIN regexp_matches(regexp_replace(p_q, '\([^)]*\)', '', 'g'), '''((?:[^'']|'''')*)''(:\*)?', 'g') AS m
    LEFT JOIN search_lexeme_freq f ON f.lexeme = replace(m[1], '''''', '''')
    WHERE st.source = 'search_docs' AND m[2] IS NULL
$$;

-- At most how many listings match tsquery text p_q (NULL: unknown): the listings holding its
-- rarest lexeme.
CREATE FUNCTION search_match_bound(p_q text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT ceil(x.n_docs * min(x.share))::bigint FROM search_match_shares(p_q) x GROUP BY x.n_docs
$$;

-- How many listings match tsquery text p_q, estimated (NULL: unknown): the listings times the
-- product of the shares of its lexemes, as if they were independent.  Not a bound — filters
-- that go together (a domain and the modes its listings offer) have more matches — so it only
-- chooses how a browse starts (market_search), never what it finds.
CREATE FUNCTION search_match_estimate(p_q text) RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT x.n_docs * exp(sum(ln(greatest(x.share, 1e-9)))) FROM search_match_shares(p_q) x GROUP BY x.n_docs
$$;

-- How many listings match a search of text, estimated (NULL: unknown): per term (each of
-- p_all_patterns, the LIKE pattern of a word of the query) the share of its rarest lexeme — the
-- bigrams of one word go together, so their product would be far too small — times the shares of
-- the filter lexemes of tsquery text p_q, as if the terms and filters were independent.  Not a
-- bound (words of one domain go together): it only chooses how a search is counted.
CREATE FUNCTION search_text_estimate(p_q text, p_all_patterns text[]) RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT st.n_docs * exp(coalesce(sum(ln(greatest(s.share, 1e-9))), 0))
    FROM tsv_freq_stats st
    CROSS JOIN LATERAL (
        SELECT min(coalesce(f.freq, st.min_freq)) AS share
        FROM unnest(p_all_patterns) WITH ORDINALITY AS u(pat, i)
        CROSS JOIN regexp_matches(search_query_tsquery(replace(replace(replace(
                       substr(u.pat, 2, length(u.pat) - 2), '\%', '%'), '\_', '_'), '\\', '\')),
                   '''((?:[^'']|'''')*)''(:\*)?', 'g') AS m
        LEFT JOIN search_lexeme_freq f ON f.lexeme = replace(m[1], '''''', '''')
        WHERE m[2] IS NULL
        GROUP BY u.i
        UNION ALL
        SELECT coalesce(f.freq, st.min_freq)
        FROM regexp_matches(regexp_replace(p_q, '\([^)]*\)', '', 'g'), '''(#(?:[^'']|'''')*)''', 'g') AS m
        LEFT JOIN search_lexeme_freq f ON f.lexeme = replace(m[1], '''''', '''')
    ) s
    WHERE st.source = 'search_docs'
    GROUP BY st.n_docs
$$;

-- Filter values that are well-formed but name nothing are a client error
-- (400), not an empty result.
CREATE FUNCTION search_check_filters(p_domain text, p_region text, p_mode text, p_holder text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_domain IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE list = 'domains' AND code = p_domain) THEN
        PERFORM yz_raise(400, format('%s is not a code of list domains', p_domain), 'domain', 'unknown_code');
    END IF;
    IF p_region IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regions WHERE code = p_region) THEN
        PERFORM yz_raise(400, format('%s is not a GB/T 2260 region code', p_region), 'region', 'unknown_region');
    END IF;
    IF p_mode IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE list IN ('transfer_modes', 'cooperation_modes')
                                                                  AND code = p_mode) THEN
        PERFORM yz_raise(400, format('%s is not a transfer or cooperation mode', p_mode), 'mode', 'unknown_code');
    END IF;
    IF p_holder IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE list = 'org_types' AND code = p_holder) THEN
        PERFORM yz_raise(400, format('%s is not a code of list org_types', p_holder), 'holder_type', 'unknown_code');
    END IF;
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
    p_domain text, p_mode text, p_holder text,  -- the filters, checked against the code lists
    p_title_hint bigint,   -- when not p_stats: the known number of title hits (-1 or NULL: unknown)
    p_rate float8, p_title_rate float8)  -- hits and title hits per day, as the count saw them (or NULL)
RETURNS TABLE (hits text, next_key text, total text, facets text, title_hint bigint, rate float8,
               title_rate float8)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
    cap int := setting_int('search_count_cap', 200);
    from_ts timestamptz := (p_from::timestamp AT TIME ZONE 'Asia/Shanghai');
    to_ts timestamptz := ((p_to + 1)::timestamp AT TIME ZONE 'Asia/Shanghai');
    today date := today_cn();
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
    -- filters only, no text: p_tsq holds filter lexemes only, and search_collect walks (at most
    -- this many rows of) the recency index before it turns to the GIN index
    browse int := CASE WHEN p_title_tsq IS NULL AND cardinality(coalesce(p_all_patterns, '{}')) = 0
                       THEN setting_int('search_browse_scan', 3000) END;
    page_done boolean := false;
    tr int;
    bound bigint;
    bound_rate float8;
    est float8;
    walk int := browse;   -- the count's walk (NULL: none)
    one_count boolean := false;   -- a text search counted in one query (few estimated matches)
    -- the bound of the title hits (search_match_bound of p_title_tsq: the '^' lexemes, rarer than
    -- the text's), when the title tier is walked without a known count: at most one_q, one query
    -- where the windows walked back from the count's oldest row looking for rare title hits
    title_bound bigint;
    -- A text search whose bound is at most this many matches takes the rows of its page in one
    -- query (the bitmap of its rarest lexeme, every match read and sorted), with the totals
    -- cached or after the count (which keeps its own limit, 300: it needs the newest 201 of
    -- possibly 2,000, where a page needs 21 of them): the day
    -- windows AND the term with an OR of day and month lexemes, which GIN advances lexeme by
    -- lexeme for every candidate — at 1,000,000 listings a cached page of 沙棘 (400 matches,
    -- bound 1,534: every lexeme outside search_lexeme_freq gets min_freq) took 9 ms through the
    -- windows against 2.2 ms in one query (bench/search/README.md, third pass).
    one_q constant int := 2000;
BEGIN
    PERFORM search_check_filters(p_domain, p_region, p_mode, p_holder);
    IF p_after IS NOT NULL THEN
        a_tier := split_part(p_after, ',', 1)::int;
        a_ts := to_timestamp(split_part(p_after, ',', 2)::numeric / 1000000);
        a_sid := split_part(p_after, ',', 3)::bigint;
    END IF;

    -- Total and facets, over the newest cap + 1 matches.  Under "recent", on
    -- the first page, those rows give the page as well.
    -- a search of text: its rarest lexeme bounds its matches (search_match_bound); few (300) are
    -- counted in one query, the page of a few more (one_q) taken in one query, and the day
    -- windows of many start at the size that bound gives (an upper bound, so the first window
    -- may come short, never long)
    IF p_title_tsq IS NOT NULL THEN
        bound := search_match_bound(p_tsq);
        -- a new search whose estimated matches are few (five times the count's cap + 1) is counted
        -- in one query too: its words' rarest lexeme may be common where together they are rare,
        -- and the day windows of such a search walked most of the days for its few matches, each
        -- window a GIN scan of every listing of its days (bench/search/README.md, fourth pass)
        IF p_stats AND bound > 300 AND search_text_estimate(p_tsq, allpats) <= 5 * (cap + 1) THEN
            one_count := true;
        END IF;
    END IF;
    IF p_stats THEN
        IF p_title_tsq IS NULL AND browse IS NOT NULL AND p_tsq IS NOT NULL THEN
            -- a browse: its filters' estimated matches (search_match_estimate, independent
            -- shares).  A few (three times the estimate <= 300) are taken in one query, as a rare
            -- word is; when the walk of search_browse_scan rows would not even find half the
            -- count's cap + 1, it is skipped and the windows start at the size the estimate gives.
            est := search_match_estimate(p_tsq);
            IF est * 3 <= 300 THEN
                bound := ceil(est * 3);
            ELSIF est * browse < (cap + 1) * (SELECT st.n_docs FROM tsv_freq_stats st WHERE st.source = 'search_docs') / 2 THEN
                walk := NULL;
                bound := ceil(est);
            END IF;
        END IF;
        IF bound > 300 THEN
            bound_rate := bound / (SELECT extract(epoch FROM max(x.published_at) - min(x.published_at)) / 86400 + 1
                                   FROM search_docs x);
        END IF;
        WITH m AS MATERIALIZED (
            SELECT row_number() OVER () AS o, c.*
            FROM search_collect(p_tsq, cap + 1, CASE WHEN bound <= 300 THEN bound WHEN one_count THEN one_q END, 0,
                                NULL, NULL, pats, allpats,
                                p_price_min, p_price_max, from_ts, to_ts, today, NULL, bound_rate, walk) c
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
                    -- (the city of a county looked up only under a province filter: a join
                    -- for every search cost 0.5-5 ms, a lookup a region of the hits)
                    SELECT CASE WHEN p_region IS NULL THEN left(y.code, 2) || '0000'
                                WHEN p_region ~ '^[0-9]{2}0000$' THEN
                                    coalesce((SELECT par.code FROM regions rg JOIN regions par ON par.code = rg.parent_code
                                              WHERE rg.code = y.code AND rg.level = 3 AND par.level = 2), y.code)
                                ELSE y.code END AS rk, y.n
                    FROM (SELECT m.region_code AS code, count(*) AS n FROM m WHERE m.region_code IS NOT NULL
                          GROUP BY 1) y) r
                GROUP BY rk) g) AS fac,
            (SELECT count(*) FROM m WHERE m.tier = 1) AS n_title,
            (SELECT extract(epoch FROM max(m.published_at) - min(m.published_at)) / 86400 + 1 FROM m) AS span_m,
            (SELECT max(m.published_at) FROM m) AS newest,
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
             FROM (SELECT * FROM m ORDER BY tier DESC, o LIMIT want) x) AS r_tiers,
            -- m's newest title hits and newest others, and its oldest row (when m holds
            -- the newest cap + 1 hits only, the page goes on from there)
            (SELECT coalesce(array_agg(x.sid ORDER BY x.o), '{}')
             FROM (SELECT * FROM m WHERE m.tier = 1 ORDER BY o LIMIT want) x) AS t_ids,
            (SELECT coalesce(array_agg(x.published_at ORDER BY x.o), '{}')
             FROM (SELECT * FROM m WHERE m.tier = 1 ORDER BY o LIMIT want) x) AS t_ts,
            (SELECT coalesce(array_agg(x.sid ORDER BY x.o), '{}')
             FROM (SELECT * FROM m WHERE m.tier = 0 ORDER BY o LIMIT want) x) AS x_ids,
            (SELECT coalesce(array_agg(x.published_at ORDER BY x.o), '{}')
             FROM (SELECT * FROM m WHERE m.tier = 0 ORDER BY o LIMIT want) x) AS x_ts,
            (SELECT x.published_at FROM m x ORDER BY x.o DESC LIMIT 1) AS last_ts,
            (SELECT x.sid FROM m x ORDER BY x.o DESC LIMIT 1) AS last_sid
        INTO m_rows;
        v_cnt := m_rows.cnt;
        IF v_cnt <= cap THEN
            total := json_build_object('value', v_cnt, 'exact', true)::text;
        ELSE
            -- more than the cap: the cap, and an estimate of all the matches — the hits per day
            -- of the newest cap + 1 over every day from the oldest listing (or from p_from) to
            -- the newest hit
            total := json_build_object('value', cap, 'exact', false, 'estimate', greatest(cap + 1, round(
                v_cnt * (extract(epoch FROM m_rows.newest - greatest(from_ts, (SELECT min(x.published_at)
                                                                                 FROM search_docs x))) / 86400 + 1)
                / m_rows.span_m)::bigint))::text;
        END IF;
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
        ELSIF p_after IS NULL AND tiered THEN
            -- m holds the newest cap + 1 hits: every title hit newer than m's oldest row is in m,
            -- and so is every other hit.  The first page is m's title hits, then older title
            -- hits, then m's other hits, then older ones: the day windows are walked only for
            -- what m does not hold, from m's oldest row back (a new search of a frequent word
            -- walked them three times over: for the count, the title hits and the others).
            sids := m_rows.t_ids;
            tss := m_rows.t_ts;
            tiers := array_fill(1, ARRAY[cardinality(sids)]);
            IF cardinality(sids) < want THEN
                title_bound := coalesce(search_match_bound(p_title_tsq), -1);
                SELECT sids || coalesce(array_agg(c.sid ORDER BY c.published_at DESC, c.sid DESC), '{}'),
                       tss || coalesce(array_agg(c.published_at ORDER BY c.published_at DESC, c.sid DESC), '{}'),
                       tiers || array_fill(1, ARRAY[count(*)::int])
                INTO sids, tss, tiers
                FROM search_collect(p_title_tsq, want - cardinality(sids),
                                    CASE WHEN bound <= one_q THEN bound WHEN title_bound BETWEEN 0 AND one_q
                                         THEN title_bound ELSE p_title_hint END, 1, m_rows.last_ts,
                                    m_rows.last_sid, '{}', allpats, p_price_min, p_price_max, from_ts, to_ts, today,
                                    NULL, p_title_rate) c;
            END IF;
            IF cardinality(sids) < want THEN
                tr := want - cardinality(sids);
                sids := sids || m_rows.x_ids[1:tr];
                tss := tss || m_rows.x_ts[1:tr];
                tiers := tiers || array_fill(0, ARRAY[least(tr, cardinality(m_rows.x_ids))]);
            END IF;
            IF cardinality(sids) < want THEN
                SELECT sids || coalesce(array_agg(c.sid ORDER BY c.published_at DESC, c.sid DESC), '{}'),
                       tss || coalesce(array_agg(c.published_at ORDER BY c.published_at DESC, c.sid DESC), '{}'),
                       tiers || array_fill(0, ARRAY[count(*)::int])
                INTO sids, tss, tiers
                FROM search_collect(p_tsq, want - cardinality(sids),
                                    CASE WHEN bound <= one_q THEN bound ELSE p_total_hint END, 2, m_rows.last_ts,
                                    m_rows.last_sid, pats, allpats, p_price_min, p_price_max, from_ts, to_ts, today,
                                    NULL, p_rate) c;
            END IF;
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
    IF NOT page_done AND tiered AND (p_total_hint BETWEEN 0 AND 300 OR bound <= one_q) THEN
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
        IF tr = 1 AND coalesce(p_title_hint, -1) < 0 THEN
            title_bound := coalesce(search_match_bound(p_title_tsq), -1);
        END IF;
        SELECT sids || coalesce(array_agg(c.sid ORDER BY c.published_at DESC, c.sid DESC), '{}'),
               tss || coalesce(array_agg(c.published_at ORDER BY c.published_at DESC, c.sid DESC), '{}'),
               tiers || array_fill(tr, ARRAY[count(*)::int])
        INTO sids, tss, tiers
        FROM search_collect(CASE WHEN tr = 1 THEN p_title_tsq ELSE p_tsq END, want - cardinality(sids),
                            CASE WHEN tr = 0 AND p_title_tsq IS NOT NULL AND coalesce(p_total_hint, -1) < 0
                                      AND bound <= one_q THEN bound
                                 WHEN tr = 0 THEN p_total_hint
                                 WHEN coalesce(p_title_hint, -1) < 0 AND title_bound BETWEEN 0 AND one_q
                                      THEN title_bound
                                 ELSE p_title_hint END,
                            CASE WHEN tr = 1 THEN 1 WHEN tiered THEN 2 ELSE 0 END,
                            CASE WHEN tr = a_tier THEN a_ts END, CASE WHEN tr = a_tier THEN a_sid END,
                            CASE WHEN tr = 1 THEN '{}' ELSE pats END, allpats, p_price_min, p_price_max,
                            from_ts, to_ts, today, NULL, CASE WHEN tr = 1 THEN p_title_rate ELSE p_rate END,
                            browse) c;
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

