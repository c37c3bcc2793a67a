-- 0010_search: the search index over public listings (published results, open
-- needs), maintained by triggers so that rows inserted any way (the API, demo
-- data, a bulk load) are indexed.
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

-- Columns the marketplace API needs on needs (0005 has the rest).
ALTER TABLE needs
    ADD COLUMN trl_min      smallint CHECK (trl_min BETWEEN 1 AND 9),
    ADD COLUMN reviewed_at  timestamptz,
    ADD COLUMN reviewed_by  bigint REFERENCES users (id),
    ADD COLUMN close_reason text CHECK (char_length(close_reason) <= 500);
COMMENT ON COLUMN needs.trl_min IS 'Lowest technology readiness level (1-9) the enterprise can use; matching prefers results at or above it.';

CREATE FUNCTION market_today() RETURNS date
LANGUAGE sql STABLE AS $$ SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date $$;
COMMENT ON FUNCTION market_today() IS 'Today in China (UTC+8): deadlines are calendar days there.';

CREATE FUNCTION market_setting(p_key text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (value #>> '{}')::bigint FROM settings WHERE key = p_key), p_default)
$$;

INSERT INTO settings (key, value, description) VALUES
    ('search_count_cap',    '1000', '搜索结果精确计数上限：超过时显示“超过 N 条”，分面按前 N 条统计'),
    ('search_stats_ttl_s',  '10',   '搜索总数与分面计数在服务器内存中的缓存秒数（0 = 不缓存）'),
    ('match_limit',         '20',   '匹配推荐返回的条数')
ON CONFLICT (key) DO NOTHING;

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

------------------------------------------------------------------------------
-- The index table
------------------------------------------------------------------------------

CREATE TABLE search_docs (
    sid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('result', 'need')),
    ref_id       bigint NOT NULL,
    org_id       bigint NOT NULL,
    head         text NOT NULL,            -- normalised title
    doc          text NOT NULL,            -- normalised title, keywords, summary/description, one per line
    tsv          tsvector NOT NULL,
    domain       text,
    region_code  char(6),
    trl          smallint,
    modes        text[] NOT NULL DEFAULT '{}',
    price_lo     bigint,                   -- result: asking price; need: budget (NULL = 面议)
    price_hi     bigint,
    holder_type  text,
    published_at timestamptz NOT NULL,
    deadline     date,                     -- needs: not shown after this day
    body         text NOT NULL,            -- the summary or description as written (for snippets)
    item         jsonb NOT NULL,           -- the hit as /search shows it, less snippet and match tier
    UNIQUE (kind, ref_id)
);
COMMENT ON TABLE search_docs IS
    'Search index of public listings (published results, open needs); one row each, maintained by triggers on results, needs, orgs and codes. Never written by the API.';
COMMENT ON COLUMN search_docs.item IS
    'The listing as a search hit (labels included), kept here so that a page of hits costs one row read each; refreshed when the listing, its holder or a code label changes.';
ALTER TABLE search_docs ALTER tsv SET STATISTICS 1000;  -- frequent tokens are known to the planner
-- What a page of hits reads (item, body) stays in the row; what only the index
-- and the recheck need (tsv, doc) goes to TOAST first, so rows stay narrow.
ALTER TABLE search_docs ALTER tsv SET STORAGE EXTERNAL, ALTER item SET STORAGE MAIN, ALTER body SET STORAGE MAIN;

CREATE INDEX search_docs_tsv_idx    ON search_docs USING gin (tsv);
CREATE INDEX search_docs_recent_idx ON search_docs (published_at DESC, sid DESC);
CREATE INDEX search_docs_org_idx    ON search_docs (org_id);

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

-- A listing as a search hit (less the per-query snippet and match tier).
CREATE FUNCTION search_result_item(r results) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'kind', 'result', 'id', r.id, 'title', r.title, 'keywords', to_jsonb(r.keywords),
        'domain', r.domain, 'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = r.domain),
        'region_code', r.region_code, 'region_name', (SELECT name FROM regions WHERE code = r.region_code),
        'trl', r.trl,
        'modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o), '[]')
                  FROM unnest(r.transfer_modes) WITH ORDINALITY AS u(m, o)
                  LEFT JOIN codes c ON c.list = 'transfer_modes' AND c.code = u.m),
        'pricing_mode', r.pricing_mode,
        'pricing_mode_label', (SELECT label FROM codes WHERE list = 'pricing_modes' AND code = r.pricing_mode),
        'asking_price_fen', r.asking_price_fen, 'negotiable', r.asking_price_fen IS NULL,
        'holder', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type,
                                             'org_type_label', (SELECT label FROM codes WHERE list = 'org_types'
                                                                AND code = g.org_type))
                   FROM orgs g WHERE g.id = r.holder_org_id),
        'published_at', r.published_at)
$$;

CREATE FUNCTION search_need_item(n needs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'kind', 'need', 'id', n.id, 'title', n.title, 'keywords', to_jsonb(n.keywords),
        'domain', n.domain, 'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = n.domain),
        'region_code', n.region_code, 'region_name', (SELECT name FROM regions WHERE code = n.region_code),
        'trl_min', n.trl_min,
        'modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o), '[]')
                  FROM unnest(n.cooperation_modes) WITH ORDINALITY AS u(m, o)
                  LEFT JOIN codes c ON c.list = 'cooperation_modes' AND c.code = u.m),
        'budget_min_fen', n.budget_min_fen, 'budget_max_fen', n.budget_max_fen,
        'negotiable', n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL, 'deadline', n.deadline,
        'holder', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type,
                                             'org_type_label', (SELECT label FROM codes WHERE list = 'org_types'
                                                                AND code = g.org_type))
                   FROM orgs g WHERE g.id = n.org_id),
        'published_at', n.published_at)
$$;

CREATE FUNCTION search_result_visible(r results) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT r.status IN ('published', 'under_notice') AND r.published_at IS NOT NULL $$;

CREATE FUNCTION search_need_visible(n needs) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT n.status = 'open' AND n.published_at IS NOT NULL $$;

CREATE FUNCTION search_sync_result(r results) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_head text;
    v_doc text;
    v_type text;
BEGIN
    IF NOT search_result_visible(r) THEN
        DELETE FROM search_docs WHERE kind = 'result' AND ref_id = r.id;
        RETURN;
    END IF;
    SELECT org_type INTO v_type FROM orgs WHERE id = r.holder_org_id;
    v_head := search_norm(r.title);
    v_doc := search_norm(r.title || E'\n' || array_to_string(r.keywords, E'\n') || E'\n' || r.summary);
    INSERT INTO search_docs AS s (kind, ref_id, org_id, head, doc, tsv, domain, region_code, trl, modes, price_lo,
                                  price_hi, holder_type, published_at, deadline, body, item)
    VALUES ('result', r.id, r.holder_org_id, v_head, v_doc,
            search_build_tsv(v_head, v_doc, search_facet_lexemes('result', r.domain, r.trl, v_type, r.transfer_modes,
                                                                 r.region_code, r.published_at)),
            r.domain, r.region_code, r.trl, r.transfer_modes, r.asking_price_fen, r.asking_price_fen, v_type,
            r.published_at, NULL, r.summary, search_result_item(r))
    ON CONFLICT (kind, ref_id) DO UPDATE SET
        org_id = excluded.org_id, head = excluded.head, doc = excluded.doc, tsv = excluded.tsv,
        domain = excluded.domain, region_code = excluded.region_code, trl = excluded.trl, modes = excluded.modes,
        price_lo = excluded.price_lo, price_hi = excluded.price_hi, holder_type = excluded.holder_type,
        published_at = excluded.published_at, deadline = excluded.deadline, body = excluded.body,
        item = excluded.item;
END $$;

CREATE FUNCTION search_sync_need(n needs) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_head text;
    v_doc text;
    v_type text;
BEGIN
    IF NOT search_need_visible(n) THEN
        DELETE FROM search_docs WHERE kind = 'need' AND ref_id = n.id;
        RETURN;
    END IF;
    SELECT org_type INTO v_type FROM orgs WHERE id = n.org_id;
    v_head := search_norm(n.title);
    v_doc := search_norm(n.title || E'\n' || array_to_string(n.keywords, E'\n') || E'\n' || n.description);
    INSERT INTO search_docs AS s (kind, ref_id, org_id, head, doc, tsv, domain, region_code, trl, modes, price_lo,
                                  price_hi, holder_type, published_at, deadline, body, item)
    VALUES ('need', n.id, n.org_id, v_head, v_doc,
            search_build_tsv(v_head, v_doc, search_facet_lexemes('need', n.domain, NULL, v_type, n.cooperation_modes,
                                                                 n.region_code, n.published_at)),
            n.domain, n.region_code, NULL, n.cooperation_modes,
            CASE WHEN n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL THEN NULL
                 ELSE coalesce(n.budget_min_fen, 0) END,
            n.budget_max_fen, v_type, n.published_at, n.deadline, n.description, search_need_item(n))
    ON CONFLICT (kind, ref_id) DO UPDATE SET
        org_id = excluded.org_id, head = excluded.head, doc = excluded.doc, tsv = excluded.tsv,
        domain = excluded.domain, region_code = excluded.region_code, trl = excluded.trl, modes = excluded.modes,
        price_lo = excluded.price_lo, price_hi = excluded.price_hi, holder_type = excluded.holder_type,
        published_at = excluded.published_at, deadline = excluded.deadline, body = excluded.body,
        item = excluded.item;
END $$;

CREATE FUNCTION search_results_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'result' AND ref_id = OLD.id;
        RETURN NULL;
    END IF;
    -- A change that touches nothing indexed (or a hidden row staying hidden)
    -- costs no tokenising.
    IF TG_OP = 'UPDATE' AND NOT search_result_visible(OLD) AND NOT search_result_visible(NEW) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND search_result_visible(OLD) = search_result_visible(NEW)
       AND (OLD.title, OLD.summary, OLD.keywords, OLD.domain, OLD.trl, OLD.transfer_modes, OLD.asking_price_fen,
            OLD.pricing_mode, OLD.region_code, OLD.published_at, OLD.holder_org_id)
           IS NOT DISTINCT FROM
           (NEW.title, NEW.summary, NEW.keywords, NEW.domain, NEW.trl, NEW.transfer_modes, NEW.asking_price_fen,
            NEW.pricing_mode, NEW.region_code, NEW.published_at, NEW.holder_org_id) THEN
        RETURN NULL;
    END IF;
    PERFORM search_sync_result(NEW);
    RETURN NULL;
END $$;
CREATE TRIGGER results_search AFTER INSERT OR UPDATE OR DELETE ON results
    FOR EACH ROW EXECUTE FUNCTION search_results_trigger();

CREATE FUNCTION search_needs_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_docs WHERE kind = 'need' AND ref_id = OLD.id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT search_need_visible(OLD) AND NOT search_need_visible(NEW) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND search_need_visible(OLD) = search_need_visible(NEW)
       AND (OLD.title, OLD.description, OLD.keywords, OLD.domain, OLD.cooperation_modes, OLD.budget_min_fen,
            OLD.budget_max_fen, OLD.region_code, OLD.published_at, OLD.deadline, OLD.org_id, OLD.trl_min)
           IS NOT DISTINCT FROM
           (NEW.title, NEW.description, NEW.keywords, NEW.domain, NEW.cooperation_modes, NEW.budget_min_fen,
            NEW.budget_max_fen, NEW.region_code, NEW.published_at, NEW.deadline, NEW.org_id, NEW.trl_min) THEN
        RETURN NULL;
    END IF;
    PERFORM search_sync_need(NEW);
    RETURN NULL;
END $$;
CREATE TRIGGER needs_search AFTER INSERT OR UPDATE OR DELETE ON needs
    FOR EACH ROW EXECUTE FUNCTION search_needs_trigger();

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

-- Rows that exist already (a database migrated after data was loaded).
SELECT search_sync_result(r) FROM results r WHERE search_result_visible(r);
SELECT search_sync_need(n) FROM needs n WHERE search_need_visible(n);

GRANT SELECT, INSERT, UPDATE, DELETE ON search_docs TO yizhan_app;
