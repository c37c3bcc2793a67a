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
-- contract_search() writes the query with only the conditions asked for and
-- runs it with EXECUTE, so each search is planned for its own values.  A text
-- search first walks the index of the sort order for 1,000 rows (probe_n)
-- from the cursor on and keeps those that match everything: when that
-- fills the page, it is the page (a frequent term: a few hundred rows read).
-- Only then does the GIN index give the candidates (a rarer term: its few
-- matches).  The planner cannot tell the two apart itself: it takes the
-- bigrams of a term as independent, so it thought 云计算 ('云计' & '计算') to
-- match 216 of 1,000,000 contracts when 45,084 did, and read and sorted all
-- of them (1.8 s) for a page of 20 (bench/contracts measures both kinds).
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
-- statistics into contract_token_freq (0023) when contracts was analysed since the last copy (or
-- nothing was copied yet).  The background sweep (server/api/market_bg.c) calls it every
-- minute; true when it copied.
CREATE FUNCTION contract_token_freq_refresh() RETURNS boolean
LANGUAGE sql AS $$
    SELECT tsv_freq_refresh('contracts', 'search_tsv', 'contract_token_freq', 'token')
$$;

-- A query's tokens split by how common they are (contract_token_freq): the tsquery of the
-- rare ones, rarest first (NULL when none is rare), the LIKE patterns of the common ones, and
-- at most how many contracts hold the rarest token (NULL: no statistics).  A common token is in
-- more than p_common of the contracts: intersecting its posting list reads most of the table
-- for nothing, where LIKE on the candidates the rare tokens give is exact and cheap.  A token
-- of a HAN run (a character or a bigram) is among a document's tokens exactly when it is a
-- substring of the document, a word prefix ('ab':*) exactly when it is a substring of one of
-- its word runs: so moving a token from the tsquery to LIKE '%token%' keeps the result set.  A
-- prefix's share is the sum of those of the listed tokens it starts (at least the smallest).
CREATE FUNCTION contract_search_split(p_tsq text, p_common real,
                                      OUT rare_tsq text, OUT common_patterns text[], OUT rare_n bigint)
LANGUAGE sql STABLE AS $$
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
    )
    SELECT nullif(string_agg(f.q, ' & ' ORDER BY f.freq, f.o) FILTER (WHERE f.freq <= p_common), ''),
           coalesce(array_agg(search_like_pattern(f.tok) ORDER BY f.o) FILTER (WHERE f.freq > p_common), '{}'),
           ceil((SELECT n_docs FROM st) * min(f.freq) FILTER (WHERE f.freq <= p_common))::bigint
    FROM f
$$;

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
LANGUAGE plpgsql STABLE SET jit = off AS $$
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
    probe_n constant int := 1000;
    common constant real := 0.02;      -- a token in more contracts than this is rechecked, not intersected
    direct_n constant int := 3000;     -- a rarest token in at most this many contracts: no probe
    regno_few constant int := 20000;   -- a registration number prefix this rare: its rows by its index
    regno_ids bigint[];
    cap int := setting_int('search_count_cap', 200);
    sp record;
    pats text[] := p_patterns;
    n bigint;
    ids bigint[];
    keys text[];
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
    IF p_region_f IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regions WHERE code = p_region_f) THEN
        PERFORM yz_raise(400, format('%s is not a GB/T 2260 region code', p_region_f), 'region', 'unknown_region');
    END IF;

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
    END IF;

    -- what was asked
    IF p_regno IS NOT NULL THEN
        IF length(p_regno) = 16 THEN
            w := w || 'c.registration_no = $4'::text;
        ELSE
            -- a prefix of a few matches: those, from its index; the planner would rather walk the
            -- sort order, and the first 999 serials of an office and year lie at the far end of it
            -- (10 s at 1,000,000 contracts for 201851190000)
            -- (the pattern a literal: LIKE with a parameter cannot use the index)
            EXECUTE format('SELECT array_agg(y.id) FROM (SELECT x.id FROM contracts x'
                           ' WHERE x.registration_no LIKE %L LIMIT $1) y', p_regno || '%')
            INTO regno_ids USING regno_few + 1;
            w := w || CASE WHEN coalesce(cardinality(regno_ids), 0) <= regno_few THEN 'c.id = ANY ($19)'
                           ELSE 'c.registration_no LIKE $4 || ''%''' END;
        END IF;
    END IF;
    IF p_tsq IS NOT NULL THEN
        -- the rare tokens intersected, the common ones rechecked with the terms' patterns;
        -- the recheck first: a row of the probe is rarely read further
        sp := contract_search_split(p_tsq, common);
        pats := p_patterns || sp.common_patterns;
        IF cardinality(pats) > 0 THEN
            t := t || 'c.search_doc LIKE ALL ($6)'::text;
        END IF;
        IF sp.rare_tsq IS NOT NULL THEN
            t := t || 'c.search_tsv @@ $5::tsquery'::text;
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
    -- the probe: the next rows in the sort order (the cursor and, for the
    -- registration sort, registered_at IS NOT NULL: what its index holds),
    -- those matching every condition in order; the page when it is full
    IF cardinality(t) > 0 AND coalesce(sp.rare_n > direct_n, true) THEN
        EXECUTE format('SELECT array_agg(x.id), array_agg(x.k) FROM ('
                       'SELECT c.id, %s AS k FROM (SELECT c.* FROM contracts c WHERE %s ORDER BY %s LIMIT %s) c'
                       ' WHERE %s ORDER BY %s LIMIT $18) x',
                       key_expr,
                       concat_ws(' AND ', 'true', CASE WHEN p_sort = 'registered' THEN 'c.registered_at IS NOT NULL' END,
                                 CASE WHEN p_after IS NOT NULL THEN after_cond END),
                       ord, probe_n, array_to_string(w || t, ' AND '), ord)
        INTO ids, keys
        USING p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
              p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f,
              a_val, a_id, p_limit + 1, coalesce(regno_ids, '{}');
    END IF;
    w := w || t;
    IF p_after IS NOT NULL THEN
        w := w || after_cond;
    END IF;

    -- (the aggregates take the rows in the order the sorted, limited
    -- subquery gives them: a window function here would see every match)
    IF coalesce(cardinality(ids), 0) <= p_limit THEN
        EXECUTE format('SELECT array_agg(x.id), array_agg(x.k) FROM ('
                       'SELECT c.id, %s AS k FROM contracts c WHERE %s ORDER BY %s LIMIT $18) x',
                       key_expr, CASE WHEN cardinality(w) = 0 THEN 'true' ELSE array_to_string(w, ' AND ') END, ord)
        INTO ids, keys
        USING p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
              p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f,
              a_val, a_id, p_limit + 1, coalesce(regno_ids, '{}');
    END IF;

    SELECT coalesce(json_agg(contract_json(c) ORDER BY u.o), '[]')::text INTO items
    FROM unnest(ids[1:p_limit]) WITH ORDINALITY AS u(id, o) JOIN contracts c ON c.id = u.id;
    IF cardinality(ids) > p_limit THEN
        next_key := keys[p_limit];
    END IF;

    -- the first page counts the matches, exactly up to the cap (search_count_cap): a page that
    -- is all of them is its own count
    IF p_after IS NULL THEN
        IF coalesce(cardinality(ids), 0) <= p_limit THEN
            n := coalesce(cardinality(ids), 0);
        ELSE
            EXECUTE format('SELECT count(*) FROM (SELECT FROM contracts c WHERE %s LIMIT $18) x',
                           CASE WHEN cardinality(w) = 0 THEN 'true' ELSE array_to_string(w, ' AND ') END)
            INTO n
            USING p_org, p_office, region_prefix(p_region) || '%', p_regno, sp.rare_tsq, pats, p_status, p_office_f,
                  p_type, p_year, region_prefix(p_region_f) || '%', p_amount_min, p_amount_max, today_cn(), p_org_f,
                  a_val, a_id, cap + 1, coalesce(regno_ids, '{}');
        END IF;
        total := json_build_object('value', least(n, cap), 'exact', n <= cap)::text;
    END IF;
    RETURN NEXT;
END $$;
