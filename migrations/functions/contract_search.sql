-- contract_search.sql — staff search over contracts: GET /api/v1/contracts
-- with q, filters and a sort (server/api/contracts.c parses the query).
--
-- Text: the marketplace's tokenizer and recheck (search.sql: search_norm,
-- search_tokens; server/domain/cjk.c turns the query into a tsquery and LIKE
-- patterns), over contracts.search_doc — the normalised title, party names
-- and credit codes — and its tokens contracts.search_tsv (0010), kept here
-- by the triggers contracts_search(_ins).  A term is found exactly where it is a
-- substring of one of those fields: the GIN index gives the candidates, the
-- LIKE on search_doc settles the terms the tokens do not.  A query of 4 to 16
-- digits is a registration number instead: exact at 16 digits, else a prefix.
--
-- contract_search() writes the query with only the conditions asked for, and
-- picks how to read it from what contract_token_freq says of its rarest token
-- (the planner cannot: it takes the bigrams of a term as independent, so it
-- thought 云计算 ('云计' & '计算') to match 216 of 1,000,000 contracts when
-- 45,084 did, and read and sorted all of them, 1.8 s, for a page of 20):
--   * only common tokens (or no statistics): the probe walks the index of the
--     sort order for 1,000 rows (probe_n) from the cursor on and keeps those
--     that match everything, up to the cap: the page, and the count when it
--     finds the cap (a frequent term: a few hundred rows read; more, up to
--     16,384, for filters holding a part of the contracts);
--   * a rare token (at most contract_search_direct_n contracts), or a
--     registration number: its candidates from their index alone, the other
--     conditions and the sort on those: the page and the count in one;
--   * filters and scope holding fewer contracts than the rarest token, and
--     at most contract_search_tags_n: their candidates from the GIN index of
--     their lexemes (contracts_tags_idx, contract_filter_tags: 0027), every
--     word rechecked with LIKE, the page and the count in one;
--   * a middle token, newest or oldest: windows of ids (below);
--   * else (wide filters with common words, a middle token in another order,
--     the scope alone): planned for its values with EXECUTE.
-- The statements of the first three run as prepared statements of the
-- session with a generic plan (contract_search_exec): planned once a shape,
-- not at every call (planning a statement with a tsquery for its values cost
-- 1.5-2 ms at 1,000,000 contracts, most of it the tsquery's selectivity from
-- 10,000 most common tokens).  The first page's count stops at the cap and
-- one (search_count_cap): {"value": cap, "exact": false} above it.
-- The caller's scope is that of contract_visible() (contracts.sql), written
-- as conditions the indexes can use.

-- The text a term must be a substring of: title, the parties' names, the
-- seller's and buyer's credit codes, a line each, normalised.
CREATE FUNCTION contract_search_doc(c contracts) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT search_norm(concat_ws(E'\n', c.title, c.seller_name, c.buyer_name, c.intermediary_name,
                                 c.seller_credit_code, c.buyer_credit_code))
$$;

CREATE FUNCTION contracts_search_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.search_tsv IS NOT NULL
       AND (OLD.title, OLD.seller_name, OLD.buyer_name, OLD.intermediary_name, OLD.seller_credit_code,
            OLD.buyer_credit_code)
           IS NOT DISTINCT FROM
           (NEW.title, NEW.seller_name, NEW.buyer_name, NEW.intermediary_name, NEW.seller_credit_code,
            NEW.buyer_credit_code) THEN
        RETURN NEW;
    END IF;
    NEW.search_doc := contract_search_doc(NEW);
    NEW.search_tsv := array_to_tsvector(search_tokens(NEW.search_doc));
    RETURN NEW;
END $$;
-- A row inserted with both search columns keeps them: an import computes
-- them with the server's tokenizer (server/api/imports.c), identical to
-- contract_search_doc and search_tokens, a batch at a time.
CREATE TRIGGER contracts_search_ins BEFORE INSERT ON contracts
    FOR EACH ROW WHEN (NEW.search_doc IS NULL OR NEW.search_tsv IS NULL)
    EXECUTE FUNCTION contracts_search_sync();
CREATE TRIGGER contracts_search BEFORE UPDATE ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_search_sync();

-- Fill search_doc and search_tsv where they are missing (rows older than
-- 0010, or loaded with triggers off), or everywhere with p_all.  Returns the
-- number of rows written.
CREATE FUNCTION contract_search_reindex(p_all boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE contracts c SET search_doc = d.doc, search_tsv = array_to_tsvector(search_tokens(d.doc))
    FROM (SELECT x.id, contract_search_doc(x) AS doc FROM contracts x WHERE p_all OR x.search_tsv IS NULL) d
    WHERE c.id = d.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Copy the shares of the most common tokens of contracts.search_tsv from the planner's
-- statistics into contract_token_freq (0023), and those of the filter lexemes
-- (contracts_tags_idx, 0027: the statistics of the index's expression, which ANALYZE of
-- contracts gathers too) into contract_tag_freq, each when contracts was analysed since its
-- last copy (or nothing was copied yet): tsv_freq_refresh (core.sql).  The background sweep
-- (server/api/market_bg.c) calls it every minute; true when it copied.
CREATE FUNCTION contract_token_freq_refresh() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    tokens boolean;
    tags boolean;
BEGIN
    tokens := tsv_freq_refresh('contracts', 'search_tsv', 'contract_token_freq', 'token');
    tags := tsv_freq_refresh('contracts_tags_idx', 'contract_filter_tags', 'contract_tag_freq', 'tag');
    RETURN tokens OR tags;
END $$;

-- The share of the contracts holding any of the filter lexemes given ('#r51:*' a prefix), from
-- contract_tag_freq (a lexeme it does not list: its bound); 1 without statistics.  A contract
-- holding two of them counts twice: an upper bound.
CREATE FUNCTION contract_tag_share(p_tags text[]) RETURNS float8
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m real := (SELECT s.min_freq FROM tsv_freq_stats s WHERE s.source = 'contracts_tags_idx');
    r float8;
BEGIN
    IF m IS NULL THEN
        RETURN 1;
    END IF;
    SELECT least(1, sum(CASE WHEN right(a, 2) = ':*' THEN
                                 greatest(m, (SELECT sum(f.freq) FROM contract_tag_freq f
                                              WHERE f.tag >= left(a, -2) COLLATE "C"
                                                AND f.tag < (left(a, -2) || chr(1114111)) COLLATE "C"))
                             ELSE coalesce((SELECT f.freq FROM contract_tag_freq f WHERE f.tag = a COLLATE "C"), m) END))
    INTO r FROM unnest(p_tags) a;
    RETURN coalesce(r, 1);
END $$;

-- A query's tokens split by how common they are (contract_token_freq): the tsquery of the
-- rare ones, rarest first (NULL when none is rare), the LIKE patterns of the common ones, and
-- at most how many contracts hold the rarest token (NULL: no statistics).  A common token is in
-- more than p_common of the contracts: intersecting its posting list reads most of the table
-- for nothing, where LIKE on the candidates the rare tokens give is exact and cheap.  A token
-- of a HAN run (a character or a bigram) is among a document's tokens exactly when it is a
-- substring of the document, a word prefix ('ab':*) exactly when it is a substring of one of
-- its word runs: so moving a token from the tsquery to LIKE '%token%' keeps the result set.  A
-- prefix's share is the sum of those of the listed tokens it starts (at least the smallest).
-- p_keep: at most that many rare tokens, the rarest; the others are patterns too.
-- PL/pgSQL: PostgreSQL 15 plans a SQL function it cannot inline at every call (~0.3 ms here).
CREATE FUNCTION contract_search_split(p_tsq text, p_common real, p_keep int DEFAULT NULL,
                                      OUT rare_tsq text, OUT common_patterns text[], OUT rare_n bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    WITH st AS (SELECT * FROM tsv_freq_stats WHERE source = 'contracts'),
    toks AS (
        SELECT x.o, replace(x.m[2], '''''', '''') AS tok, x.m[3] IS NOT NULL AS prefix, x.m[1] AS q
        FROM regexp_matches(p_tsq, '(''((?:[^'']|'''')*)''(:\*)?)', 'g') WITH ORDINALITY AS x(m, o)
    ), f AS (
        SELECT t.*, CASE WHEN NOT EXISTS (SELECT 1 FROM st) THEN 0
                         WHEN t.prefix THEN least(1, greatest((SELECT min_freq FROM st),
                             (SELECT sum(cf.freq) FROM contract_token_freq cf
                              WHERE cf.token >= t.tok COLLATE "C" AND cf.token < (t.tok || chr(1114111)) COLLATE "C")))
                         ELSE coalesce((SELECT cf.freq FROM contract_token_freq cf WHERE cf.token = t.tok COLLATE "C"),
                                       (SELECT min_freq FROM st)) END AS freq
        FROM toks t
    ), r AS (
        SELECT f.*, f.freq <= p_common AND (p_keep IS NULL OR row_number() OVER (ORDER BY f.freq, f.o) <= p_keep) AS rare
        FROM f
    )
    SELECT nullif(string_agg(r.q, ' & ' ORDER BY r.freq, r.o) FILTER (WHERE r.rare), ''),
           coalesce(array_agg(search_like_pattern(r.tok) ORDER BY r.o) FILTER (WHERE NOT r.rare), '{}'),
           ceil((SELECT n_docs FROM st) * min(r.freq) FILTER (WHERE r.rare))::bigint
    INTO rare_tsq, common_patterns, rare_n
    FROM r;
END $$;

-- Run one of contract_search()'s statements (its text with $1 … $21, their values as
-- literals) by a prepared statement of the session named by the text's hash, made at its
-- first use: under contract_search()'s plan_cache_mode = force_generic_plan it is planned once
-- a session, not at every call for its values (1.5–2 ms at 1,000,000 contracts, most of it the
-- tsquery's selectivity from 10,000 most common tokens).  Prepared statements outlive an
-- aborted transaction; one dropped (DEALLOCATE, DISCARD) is made again.
-- The statement gives either the ids and their keys or a count.
CREATE FUNCTION contract_search_exec(p_sql text, p_args text, OUT ids bigint[], OUT keys text[], OUT n bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    name text := 'contract_search_' || md5(p_sql);
    counts boolean := p_sql LIKE 'SELECT count(*)%';
BEGIN
    FOR i IN 1 .. 2 LOOP
        BEGIN
            IF counts THEN
                EXECUTE format('EXECUTE %I (%s)', name, p_args) INTO n;
            ELSE
                EXECUTE format('EXECUTE %I (%s)', name, p_args) INTO ids, keys;
            END IF;
            RETURN;
        EXCEPTION WHEN invalid_sql_statement_name THEN
            EXECUTE format('PREPARE %I (bigint, bigint, text, text, text, text[], text, bigint, text, int, text,'
                           ' bigint, bigint, date, bigint, text, bigint, int, bigint[], text, bigint) AS %s', name, p_sql);
        END;
    END LOOP;
END $$;

-- The page: ids in order and the key of the last one (for the cursor).
--   scope     p_org (member, broker), p_office (officer), p_region (bureau), p_admin
--   text      p_regno (digits: the registration number, exact or prefix) or
--             p_tsq + p_patterns (the terms' tokens and LIKE patterns)
--   filters   status, office, type (a top-level type or a subtype), year of
--             registration, region (seller or buyer in the subtree), amount
--             range (contract amount, fen), overdue, a party organisation
--   sort      newest | oldest | amount_desc | amount_asc | registered
--   p_after   the key of the previous page's last row ('id' or 'value,id')
-- Filter values that are well-formed but name nothing are 400.
CREATE FUNCTION contract_search(
    p_org bigint, p_office bigint, p_region text, p_admin boolean,
    p_regno text, p_tsq text, p_patterns text[],
    p_status text, p_office_f bigint, p_type text, p_year int, p_region_f text,
    p_amount_min bigint, p_amount_max bigint, p_overdue boolean, p_org_f bigint,
    p_sort text, p_after text, p_limit int)
RETURNS TABLE (items text, next_key text, total text)
LANGUAGE plpgsql VOLATILE SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    w text[] := '{}';
    scope text[] := '{}';
    type_col text;
    key_expr text;
    ord text;
    after_cond text;
    a_val text;
    a_id bigint;
    t text[] := '{}';   -- the text conditions
    probe_n int := 1000;               -- rows of the sort order a probe reads (more with narrow filters)
    common constant real := 0.05;      -- a token in more contracts than this is rechecked, not intersected
    direct_n int := setting_int('contract_search_direct_n', 3000);  -- a rarest token in at most this many
                                       -- contracts: no probe, every candidate read
    regno_few constant int := 20000;   -- a registration number prefix this rare: its rows by its index
    regno_ids bigint[];
    cap int := setting_int('search_count_cap', 200);
    sp record;
    pats text[] := p_patterns;
    n bigint;
    ids bigint[];
    keys text[];
    lim int;            -- rows a statement gives: the page and one, or on the first page up to the cap and one
    args text;          -- the values of $1 … $21 as literals, for contract_search_exec
    cached boolean;     -- the statement's plan generic, made once a session (not for the filters alone)
    sql text;
    args1 text;         -- the literals of $1 … $15
    span record;        -- the ids' range, for the windows
    n_docs bigint;      -- the contracts, as the statistics last counted them
    id_cond text;       -- a window's ids: after the cursor ($17) up to its far edge ($16)
    lo bigint;
    hi bigint;
    width bigint;
    w_text text[];      -- the conditions but the cursor's
    key_cond text;      -- the condition whose index gives a rare token's or a registration number's rows
    windowed boolean := false;  -- the windows of ids were tried
    paged boolean := false;  -- ids hold the page (n the count when known)
    got bigint[];
    gotk text[];
    bounds bigint[];    -- the amounts' histogram, for the windows of amounts
    step int;           -- buckets a window spans
    u_val bigint;       -- a window's near edge: the amount and id it starts after
    u_id bigint;
    edge bigint;        -- its far edge ($21)
    tags_n int := setting_int('contract_search_tags_n', 30000);  -- filters holding at most this many
                                       -- contracts (and fewer than the rarest token): the key
    tg text[] := '{}';  -- the filters and the scope as lexeme queries of contracts_tags_idx, ANDed
    tshare float8 := 1; -- the share of the contracts they hold (taken as independent)
    stg text[] := '{}'; -- the scope's
    sshare float8 := 0;
    tag_tsq text;       -- $20
    tag_n float8;
    tagged boolean := false;  -- the candidates are those of contracts_tags_idx
    lx text;
    lx_share float8;
    tag_cond constant text := 'contract_filter_tags(c.office_id, c.registration_year, c.status, c.contract_type,'
                              ' c.contract_subtype, c.seller_region_code::text, c.buyer_region_code::text)'
                              ' @@ $20::tsquery';
BEGIN
    SELECT NULL::text AS rare_tsq, '{}'::text[] AS common_patterns, NULL::bigint AS rare_n INTO sp;
    -- filters naming nothing
    IF p_type IS NOT NULL THEN
        SELECT CASE WHEN parent_code IS NULL THEN 'contract_type' ELSE 'contract_subtype' END INTO type_col
        FROM codes WHERE list = 'contract_types' AND code = p_type;
        IF type_col IS NULL THEN
            PERFORM yz_raise(400, format('%s is not a code of list contract_types', p_type), 'type', 'unknown_code');
        END IF;
    END IF;
    PERFORM check_region(p_region_f, 'region', 400);

    -- the caller's scope, as contract_visible() has it
    IF NOT coalesce(p_admin, false) THEN
        IF p_org IS NOT NULL THEN
            scope := scope || '(c.seller_org_id = $1 OR c.buyer_org_id = $1 OR c.intermediary_org_id = $1)'::text;
        END IF;
        IF p_office IS NOT NULL THEN
            scope := scope || '(c.office_id = $2 AND c.status <> ''draft'')'::text;
        END IF;
        IF p_region IS NOT NULL THEN
            scope := scope || ('(c.status IN (''registered'', ''cancelled'') AND (c.seller_region_code::text LIKE $3'
                               || ' OR c.buyer_region_code::text LIKE $3))')::text;
        END IF;
        w := w || CASE WHEN cardinality(scope) = 0 THEN 'false' ELSE '(' || array_to_string(scope, ' OR ') || ')' END;
        -- the same as lexemes (an organisation's parties are not among them), the statuses left
        -- to the rows: a posting list of most of the contracts (registered: 88 %) costs more to
        -- read than it removes (11 of the 14 ms of the bureau's candidates at 1,000,000)
        IF p_office IS NOT NULL THEN
            stg := stg || quote_literal('#o' || p_office);
            sshare := sshare + contract_tag_share(ARRAY['#o' || p_office]);
        END IF;
        IF p_region IS NOT NULL THEN
            stg := stg || (quote_literal('#r' || region_prefix(p_region)) || ':*');
            sshare := sshare + contract_tag_share(ARRAY['#r' || region_prefix(p_region) || ':*'])
                               * contract_tag_share(ARRAY['#sregistered', '#scancelled']);
        END IF;
        IF p_org IS NULL AND cardinality(stg) > 0 THEN
            tg := tg || ('(' || array_to_string(stg, ' | ') || ')');
            tshare := least(1, sshare);
        END IF;
    END IF;

    -- what was asked
    IF p_regno IS NOT NULL THEN
        IF length(p_regno) = 16 THEN
            key_cond := 'c.registration_no = $4';
            w := w || key_cond;
        ELSE
            -- a prefix of a few matches: those, from its index; the planner would rather walk the
            -- sort order, and the first 999 serials of an office and year lie at the far end of it
            -- (10 s at 1,000,000 contracts for 201851190000)
            -- (as the range of text_pattern_ops the prefix is: LIKE with a parameter cannot use the
            -- index, and a literal would be planned at every call; p_regno is digits)
            SELECT array_agg(y.id) INTO regno_ids
            FROM (SELECT x.id FROM contracts x
                  WHERE x.registration_no ~>=~ p_regno
                    AND x.registration_no ~<~ (left(p_regno, -1) || chr(ascii(right(p_regno, 1)) + 1))
                  LIMIT regno_few + 1) y;
            key_cond := CASE WHEN coalesce(cardinality(regno_ids), 0) <= regno_few THEN 'c.id = ANY ($19)' END;
            w := w || coalesce(key_cond, 'c.registration_no LIKE $4 || ''%''');
        END IF;
    END IF;
    IF p_tsq IS NOT NULL THEN
        -- the rare tokens intersected, the common ones rechecked with the terms' patterns;
        -- the recheck first: a row of the probe is rarely read further
        sp := contract_search_split(p_tsq, common);
        IF sp.rare_n > direct_n AND strpos(sp.rare_tsq, ' & ') > 0 THEN
            -- a middle term: its rarest token's posting list alone, the others rechecked (the
            -- tokens of a word are in nearly the same contracts: 迁移 & 移学 & 学习, 47,000-50,000
            -- each, intersected for 46,501 — three lists decoded at each window and the count)
            sp := contract_search_split(p_tsq, common, 1);
        END IF;
        pats := p_patterns || sp.common_patterns;
        IF cardinality(pats) > 0 THEN
            t := t || 'c.search_doc LIKE ALL ($6)'::text;
        END IF;
        IF sp.rare_tsq IS NOT NULL THEN
            key_cond := 'c.search_tsv @@ $5::tsquery';
            t := t || key_cond;
        END IF;
    END IF;
    IF p_status IS NOT NULL THEN w := w || 'c.status = $7'::text; END IF;
    IF p_office_f IS NOT NULL THEN w := w || 'c.office_id = $8'::text; END IF;
    IF p_type IS NOT NULL THEN w := w || format('c.%I = $9', type_col); END IF;
    IF p_year IS NOT NULL THEN w := w || 'c.registration_year = $10'::text; END IF;
    IF p_region_f IS NOT NULL THEN
        w := w || '(c.seller_region_code::text LIKE $11 OR c.buyer_region_code::text LIKE $11)'::text;
    END IF;
    IF p_amount_min IS NOT NULL THEN w := w || 'c.contract_amount_fen >= $12'::text; END IF;
    IF p_amount_max IS NOT NULL THEN w := w || 'c.contract_amount_fen <= $13'::text; END IF;
    IF p_overdue IS NOT NULL THEN
        w := w || CASE WHEN p_overdue THEN '(c.status = ''submitted'' AND c.due_on < $14)'
                       ELSE 'NOT (c.status = ''submitted'' AND c.due_on < $14)' END;
    END IF;
    IF p_org_f IS NOT NULL THEN
        w := w || '(c.seller_org_id = $15 OR c.buyer_org_id = $15 OR c.intermediary_org_id = $15)'::text;
    END IF;
    -- the filters as lexemes ('#r51:*': a prefix), those in half the contracts or more left to
    -- the rows (status=registered)
    FOREACH lx IN ARRAY array_remove(ARRAY['#s' || p_status, '#o' || p_office_f, '#t' || p_type, '#y' || p_year,
                                           '#r' || region_prefix(p_region_f) || ':*'], NULL) LOOP
        lx_share := contract_tag_share(ARRAY[lx]);
        tshare := tshare * lx_share;
        IF lx_share < 0.5 THEN
            tg := tg || CASE WHEN right(lx, 2) = ':*' THEN quote_literal(left(lx, -2)) || ':*' ELSE quote_literal(lx) END;
        END IF;
    END LOOP;
    -- filters (and scope) holding few contracts, and text without a token rare enough to read
    -- its candidates alone: the candidates from contracts_tags_idx, the posting lists of their
    -- lexemes intersected (and with the text's rare tokens', if any), every token of the text
    -- rechecked with LIKE on those, the rest and the sort on those — where the probe would walk
    -- the sort order for a page that is not there
    n_docs := coalesce((SELECT s.n_docs FROM tsv_freq_stats s WHERE s.source = 'contracts'), 0);
    tag_n := tshare * n_docs;
    IF cardinality(tg) > 0 AND tshare < 1 AND tag_n <= tags_n
       AND (key_cond IS NULL OR (key_cond = 'c.search_tsv @@ $5::tsquery' AND sp.rare_n > direct_n))
    THEN
        tag_tsq := array_to_string(tg, ' & ');
        t := '{}';
        IF p_tsq IS NOT NULL THEN
            pats := p_patterns || (contract_search_split(p_tsq, -1)).common_patterns;  -- every token
            t := t || 'c.search_doc LIKE ALL ($6)'::text;
        END IF;
        -- the text's rare tokens, if any, intersected with them (a bitmap of each index): the
        -- rows read are about the matches (生物农药 in a bureau's region: 83 of 2,675)
        key_cond := tag_cond || CASE WHEN sp.rare_tsq IS NOT NULL THEN ' AND c.search_tsv @@ $5::tsquery' ELSE '' END;
        tagged := true;
        w := w || key_cond;
    ELSIF tshare < 1 THEN
        -- a probe reads enough of the sort order for a page and the count at the filters' share
        probe_n := least(16384, greatest(1000, (2 ^ ceil(ln((greatest(p_limit, cap) + 1) * 1.5 / tshare) / ln(2)))::int));
    END IF;

    -- the order and the keyset: the key of a row is its sort value and id
    IF p_after IS NOT NULL THEN
        a_id := split_part(p_after, ',', -1)::bigint;
        a_val := CASE WHEN strpos(p_after, ',') > 0 THEN split_part(p_after, ',', 1) END;
    END IF;
    CASE p_sort
    WHEN 'oldest' THEN
        key_expr := 'c.id::text'; ord := 'c.id'; after_cond := 'c.id > $17';
    WHEN 'amount_desc' THEN
        key_expr := 'c.contract_amount_fen || '','' || c.id'; ord := 'c.contract_amount_fen DESC, c.id DESC';
        after_cond := '(c.contract_amount_fen, c.id) < ($16::bigint, $17)';
    WHEN 'amount_asc' THEN
        key_expr := 'c.contract_amount_fen || '','' || c.id'; ord := 'c.contract_amount_fen, c.id';
        after_cond := '(c.contract_amount_fen, c.id) > ($16::bigint, $17)';
    WHEN 'registered' THEN
        w := w || 'c.registered_at IS NOT NULL'::text;
        key_expr := '(extract(epoch FROM c.registered_at) * 1000000)::bigint || '','' || c.id';
        ord := 'c.registered_at DESC, c.id DESC';
        after_cond := '(c.registered_at, c.id) < (to_timestamp($16::numeric / 1000000), $17)';
    ELSE
        key_expr := 'c.id::text'; ord := 'c.id DESC'; after_cond := 'c.id < $17';
    END CASE;
    lim := CASE WHEN p_after IS NULL THEN greatest(p_limit, cap) + 1 ELSE p_limit + 1 END;
    args1 := format('%L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L, %L',
                    p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
                    p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f);
    args := format('%s, %L, %L, %s, %L, %L, NULL', args1, a_val, a_id, lim, coalesce(regno_ids, '{}'), tag_tsq);
    cached := key_cond IS NOT NULL;
    -- the probe: the next rows in the sort order (the cursor and, for the
    -- registration sort, registered_at IS NOT NULL: what its index holds),
    -- those matching every condition in order, up to lim: the page when it
    -- fills it, and the count too when it finds lim.  Only for text whose
    -- tokens are all common, or not known: a rare token is in at most 5 % of
    -- the contracts, fewer than a page in 1,000 rows with any filter or scope
    -- (碳排放, 碳排 & 排放 in 4 % each, in an officer's office: 8 in 1,000;
    -- with 2 % the bound, it was common, and its page planned: a seq scan).
    IF cardinality(t) > 0 AND sp.rare_n IS NULL AND NOT tagged THEN
        SELECT e.ids, e.keys INTO ids, keys FROM contract_search_exec(format(
            'SELECT array_agg(x.id), array_agg(x.k) FROM ('
            'SELECT c.id, %s AS k FROM (SELECT c.* FROM contracts c WHERE %s ORDER BY %s LIMIT %s) c'
            ' WHERE %s ORDER BY %s LIMIT $18) x',
            key_expr,
            concat_ws(' AND ', 'true', CASE WHEN p_sort = 'registered' THEN 'c.registered_at IS NOT NULL' END,
                      CASE WHEN p_after IS NOT NULL THEN after_cond END),
            ord, probe_n, array_to_string(w || t, ' AND '), ord), args) e;
        paged := coalesce(cardinality(ids), 0) > p_limit;
        IF coalesce(cardinality(ids), 0) >= lim THEN
            n := lim;
        END IF;
    END IF;
    w := w || t;
    w_text := w;
    IF p_after IS NOT NULL THEN
        w := w || after_cond;
    END IF;

    -- a registration number prefix and nothing else, in the order of ids: the ids its index gave
    -- are the matches, sorted here; no row is read but the page's
    IF NOT paged AND w_text = ARRAY['c.id = ANY ($19)'] AND p_sort IN ('newest', 'oldest') THEN
        SELECT array_agg(y.i), array_agg(y.i::text) INTO ids, keys
        FROM (SELECT i FROM unnest(regno_ids) i
              WHERE a_id IS NULL OR CASE WHEN p_sort = 'oldest' THEN i > a_id ELSE i < a_id END
              ORDER BY CASE WHEN p_sort = 'oldest' THEN i ELSE -i END LIMIT lim) y;
        paged := true;
        n := coalesce(cardinality(ids), 0);
    END IF;

    -- a token in more than direct_n contracts, in the order of ids: the page a window of ids at
    -- a time, from the cursor on, the first as wide as should hold the page (the share of the
    -- rarest token, contract_token_freq, ids taken as dense), the next two wider by what the
    -- last one held (an empty one skips to the next id); the index of ids and the GIN index
    -- intersected, so a window reads only its own matches rather than every candidate (up to
    -- 50,000 for a middle term).  Three windows short of the page: every candidate, below.
    -- Filters and the scope are tested on the window's rows, the first window the wider for
    -- the share of the contracts their lexemes hold (an officer's office: a fifth).
    -- Not when filters leave too few matches for that (fewer than 12 pages' worth expected):
    -- the windows would span much of the ids, and a bitmap of 300,000 ids costs 100 ms.
    IF NOT paged AND sp.rare_n > direct_n AND p_sort IN ('newest', 'oldest') AND key_cond = 'c.search_tsv @@ $5::tsquery'
       AND (tshare = 1 OR sp.rare_n * tshare >= 12 * (p_limit + 1))
    THEN
        windowed := true;
        SELECT min(x.id) AS lo, max(x.id) AS hi INTO span FROM contracts x;
        width := greatest(64, ceil(n_docs::numeric * (p_limit + 1) * 1.5
                                   / greatest(1, sp.rare_n * tshare)))::bigint;
        ids := '{}';
        keys := '{}';
        id_cond := CASE WHEN p_sort = 'oldest' THEN 'c.id > $17 AND c.id <= $16::bigint'
                        ELSE 'c.id < $17 AND c.id >= $16::bigint' END;
        IF w_text = t THEN
            sql := format('SELECT array_agg(x.id), array_agg(x.k) FROM (SELECT c.id, %s AS k FROM contracts c WHERE %s'
                          ' ORDER BY %s LIMIT $18) x', key_expr,
                          array_to_string(w_text || id_cond, ' AND '), ord);
        ELSE
            -- filters on the window's matches only (OFFSET 0): a generic plan knows no value, and
            -- walked an amount range's index testing every row's tokens (8,570 rows, 100 ms)
            sql := format('SELECT array_agg(x.id), array_agg(x.k) FROM (SELECT c.id, %s AS k FROM (SELECT c.* FROM'
                          ' contracts c WHERE %s AND %s OFFSET 0) c WHERE %s ORDER BY %s LIMIT $18) x', key_expr,
                          key_cond, id_cond, array_to_string(array_remove(w_text, key_cond), ' AND '), ord);
        END IF;
        hi := CASE WHEN p_sort = 'oldest' THEN coalesce(a_id, span.lo - 1) ELSE coalesce(a_id, span.hi + 1) END;
        FOR k IN 1 .. 3 LOOP
            lo := CASE WHEN p_sort = 'oldest' THEN hi + width ELSE hi - width END;
            SELECT e.ids, e.keys INTO got, gotk FROM contract_search_exec(sql, format('%s, %L, %L, %s, %L, %L, NULL', args1,
                lo, hi, p_limit + 1 - cardinality(ids), coalesce(regno_ids, '{}'), tag_tsq)) e;
            ids := ids || coalesce(got, '{}');
            keys := keys || coalesce(gotk, '{}');
            paged := cardinality(ids) > p_limit OR (p_sort = 'oldest' AND lo >= span.hi)
                     OR (p_sort <> 'oldest' AND lo <= span.lo);
            EXIT WHEN paged;
            IF got IS NULL THEN     -- nothing there: from the next contract on
                IF p_sort = 'oldest' THEN
                    SELECT min(x.id) - 1 INTO hi FROM contracts x WHERE x.id > lo;
                ELSE
                    SELECT max(x.id) + 1 INTO hi FROM contracts x WHERE x.id < lo;
                END IF;
                IF hi IS NULL THEN      -- no contract left: every match found
                    paged := true;
                    EXIT;
                END IF;
            ELSE
                hi := lo;
                width := width * least(4, greatest(2, ceil(1.5 * (p_limit + 1 - cardinality(ids)) / cardinality(got))));
            END IF;
        END LOOP;
        IF paged AND cardinality(ids) <= p_limit THEN
            n := cardinality(ids);     -- every match
        END IF;
    END IF;

    -- the same in the amount order: windows of amounts ($21 the far edge, $16/$17 the near one:
    -- the cursor, then the last window's edge), each spanning as many buckets of the amounts'
    -- histogram (pg_stats: a hundredth of the contracts a bucket at the default target) as
    -- should hold the page at the token's share, the next two wider by what the last one held;
    -- the amount index and the GIN index intersected.  Before, planned for its values at every
    -- call, reading every candidate or walking the amount index (星载计算机, amount_desc).
    -- The registration order likewise, by the histogram of registered_at (in microseconds, the
    -- cursor's unit).
    IF NOT paged AND sp.rare_n > direct_n AND p_sort IN ('amount_desc', 'amount_asc', 'registered')
       AND key_cond = 'c.search_tsv @@ $5::tsquery' AND (tshare = 1 OR sp.rare_n * tshare >= 12 * (p_limit + 1)) THEN
        IF p_sort = 'registered' THEN
            SELECT array_agg((extract(epoch FROM u.b) * 1000000)::bigint ORDER BY u.o) INTO bounds
            FROM pg_stats st, unnest(st.histogram_bounds::text::timestamptz[]) WITH ORDINALITY AS u(b, o)
            WHERE st.schemaname = current_schema() AND st.tablename = 'contracts' AND st.attname = 'registered_at';
        ELSE
            SELECT st.histogram_bounds::text::bigint[] INTO bounds FROM pg_stats st
            WHERE st.schemaname = current_schema() AND st.tablename = 'contracts' AND st.attname = 'contract_amount_fen';
        END IF;
    END IF;
    IF cardinality(bounds) >= 3 THEN
        windowed := true;
        step := greatest(1, ceil((p_limit + 1) * 1.5 * (cardinality(bounds) - 1) / greatest(1, sp.rare_n * tshare)))::int;
        u_val := coalesce(a_val::bigint, CASE p_sort WHEN 'amount_desc' THEN 9223372036854775807
                                                     WHEN 'registered' THEN 253402300799000000 ELSE -1 END);
        u_id := coalesce(a_id, 0);
        ids := '{}';
        keys := '{}';
        sql := format('SELECT array_agg(x.id), array_agg(x.k) FROM (SELECT c.id, %s AS k FROM (SELECT c.* FROM'
                      ' contracts c WHERE %s AND %s OFFSET 0) c WHERE %s ORDER BY %s LIMIT $18) x', key_expr, key_cond,
                      CASE p_sort
                      WHEN 'amount_desc'
                           THEN 'c.contract_amount_fen >= $21 AND (c.contract_amount_fen, c.id) < ($16::bigint, $17)'
                      WHEN 'registered'
                           THEN 'c.registered_at >= to_timestamp($21::numeric / 1000000)'
                                ' AND (c.registered_at, c.id) < (to_timestamp($16::numeric / 1000000), $17)'
                      ELSE 'c.contract_amount_fen <= $21 AND (c.contract_amount_fen, c.id) > ($16::bigint, $17)' END,
                      coalesce(nullif(array_to_string(array_remove(w_text, key_cond), ' AND '), ''), 'true'), ord);
        FOR k IN 1 .. 3 LOOP
            -- the far edge: step buckets on from the bucket of the near one (none left: no edge)
            IF p_sort <> 'amount_asc' THEN
                SELECT bounds[max(i) - step] INTO edge FROM generate_subscripts(bounds, 1) i WHERE bounds[i] <= u_val;
                edge := coalesce(edge, -1);
            ELSE
                SELECT bounds[min(i) + step] INTO edge FROM generate_subscripts(bounds, 1) i WHERE bounds[i] >= u_val;
                edge := coalesce(edge, 9223372036854775807);
            END IF;
            SELECT e.ids, e.keys INTO got, gotk FROM contract_search_exec(sql, format('%s, %L, %L, %s, %L, %L, %L',
                args1, u_val, u_id, p_limit + 1 - cardinality(ids), '{}', tag_tsq, edge)) e;
            ids := ids || coalesce(got, '{}');
            keys := keys || coalesce(gotk, '{}');
            paged := cardinality(ids) > p_limit OR edge IN (-1, 9223372036854775807);
            EXIT WHEN paged;
            -- the next window: beyond this one's edge
            u_val := edge;
            u_id := CASE WHEN p_sort <> 'amount_asc' THEN 0 ELSE 9223372036854775807 END;
            step := step * least(4, greatest(2, ceil(1.5 * (p_limit + 1 - cardinality(ids))
                                                     / greatest(1, coalesce(cardinality(got), 0)))));
        END LOOP;
        IF paged AND cardinality(ids) <= p_limit THEN
            n := cardinality(ids);     -- every match
        END IF;
    END IF;

    -- (the aggregates take the rows in the order the sorted, limited
    -- subquery gives them: a window function here would see every match)
    IF NOT paged AND cached AND (sp.rare_n <= direct_n OR sp.rare_n IS NULL OR windowed OR tagged) THEN
        -- a rare token or a registration number: its candidates from their index alone, then
        -- the other conditions and the sort (OFFSET 0: a generic plan knows no value, and would
        -- walk the sort order, or intersect a filter's index over 200,000 rows)
        SELECT e.ids, e.keys INTO ids, keys FROM contract_search_exec(format(
            'SELECT array_agg(x.id), array_agg(x.k) FROM ('
            'SELECT c.id, %s AS k FROM (SELECT c.* FROM contracts c WHERE %s OFFSET 0) c'
            ' WHERE %s ORDER BY %s LIMIT $18) x',
            key_expr, key_cond, coalesce(nullif(array_to_string(array_remove(w, key_cond), ' AND '), ''), 'true'),
            ord), args) e;
        n := coalesce(cardinality(ids), 0);
    ELSIF NOT paged THEN
        -- common tokens, filters and the scope alone, a long registration number prefix, a middle
        -- token in another order or with filters: the page planned for their values (it may walk
        -- the sort's index), the count apart below (in no order, it may take another index)
        lim := p_limit + 1;
        EXECUTE format('SELECT array_agg(x.id), array_agg(x.k) FROM ('
                       'SELECT c.id, %s AS k FROM contracts c WHERE %s ORDER BY %s LIMIT $18) x',
                       key_expr, CASE WHEN cardinality(w) = 0 THEN 'true' ELSE array_to_string(w, ' AND ') END, ord)
        INTO ids, keys
        USING p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
              p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f,
              a_val, a_id, lim, coalesce(regno_ids, '{}'), tag_tsq;
        IF coalesce(cardinality(ids), 0) < lim THEN
            n := coalesce(cardinality(ids), 0);
        END IF;
    END IF;

    -- a first page found by the probe, the windows or the sort's index: the count, up to the cap
    -- and one, in no order (a middle term: the first matches the GIN index gives, not all)
    IF p_after IS NULL AND n IS NULL THEN
        IF windowed THEN    -- (the GIN index's candidates, the first that match)
            sql := format('SELECT count(*) FROM (SELECT FROM (SELECT c.* FROM contracts c WHERE %s OFFSET 0) c'
                          ' WHERE %s LIMIT $18) x', key_cond,
                          coalesce(nullif(array_to_string(array_remove(w, key_cond), ' AND '), ''), 'true'));
            SELECT e.n INTO n FROM contract_search_exec(sql, args) e;
        ELSE
            EXECUTE format('SELECT count(*) FROM (SELECT FROM contracts c WHERE %s LIMIT $18) x',
                           coalesce(nullif(array_to_string(w, ' AND '), ''), 'true')) INTO n
            USING p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
                  p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f,
                  a_val, a_id, greatest(p_limit, cap) + 1, coalesce(regno_ids, '{}'), tag_tsq;
        END IF;
    END IF;

    SELECT coalesce(json_agg(contract_json(c) ORDER BY u.o), '[]')::text INTO items
    FROM unnest(ids[1:p_limit]) WITH ORDINALITY AS u(id, o) JOIN contracts c ON c.id = u.id;
    IF cardinality(ids) > p_limit THEN
        next_key := keys[p_limit];
    END IF;

    -- the first page counts the matches, exactly up to the cap (search_count_cap)
    IF p_after IS NULL THEN
        total := json_build_object('value', least(n, cap), 'exact', n <= cap)::text;
    END IF;
    RETURN NEXT;
END $$;
