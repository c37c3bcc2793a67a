-- core.sql — helpers every module uses: client errors, settings, today in
-- China, code labels and region names, the region subtree test, code and
-- region checks, the row-version trigger and the working-day calendar.
--
-- Every function file is applied as a whole after the versioned migrations
-- (migrations/functions/ORDER gives the order): change a function here, in
-- place, and `yizhan migrate` drops every function, trigger and view the files
-- made and makes them again from the files, in one transaction.  A
-- SQL-language function is checked when it is made, so it must come after the
-- functions and tables it uses (PL/pgSQL bodies are checked when they run).

-- Raise a client-facing error: SQLSTATE YZnnn maps to HTTP nnn in the server,
-- the message is shown to the client, the hint names the field at fault.
CREATE FUNCTION yz_raise(status int, message text, field text DEFAULT NULL, code text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'YZ' || lpad(status::text, 3, '0'), MESSAGE = message,
        HINT = coalesce(field, ''), DETAIL = coalesce(code, 'invalid');
END $$;

-- A setting (0002) as an integer, or p_default when it is not set.  PL/pgSQL:
-- as an SQL function with a sub-select it is not inlined, so every call from a
-- new statement parsed and planned its body again (base_yyparse in a perf
-- profile of a search); PL/pgSQL keeps the plan for the session.  A cached
-- search (bench/search, 技术) went from 0.43 to 0.33 ms of PostgreSQL time.
CREATE FUNCTION setting_int(p_key text, p_default bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT (value #>> '{}')::bigint FROM settings WHERE key = p_key), p_default);
END $$;

-- A setting (0002) that is a JSON string, as text, or p_default when it is not set.
CREATE FUNCTION setting_text(p_key text, p_default text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT value #>> '{}' FROM settings WHERE key = p_key), p_default);
END $$;

CREATE FUNCTION today_cn() RETURNS date
LANGUAGE sql STABLE AS $$ SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date $$;
COMMENT ON FUNCTION today_cn() IS 'Today in China (UTC+8): deadlines are calendar days there.';

-- Labels.  JSON forms that list many rows look labels up by sub-selects in
-- place instead: a list of 100 listings then costs one plan, not a thousand
-- function calls.
CREATE FUNCTION code_label(p_list text, p_code text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT label FROM codes WHERE list = p_list AND code = p_code $$;

-- The national 技术合同管理与服务系统's code for one of ours (extra.national_code,
-- 0007_national_codes.sql), or our code where the two are the same (org types).
CREATE FUNCTION code_national(p_list text, p_code text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT coalesce(extra->>'national_code', code) FROM codes WHERE list = p_list AND code = p_code $$;

-- A region's name; 000000, the whole country of the statistics' scopes, is 全国.
CREATE FUNCTION region_name(p_code text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_code = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_code) END
$$;

CREATE FUNCTION region_in_subtree(code text, root text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT code LIKE region_prefix(root) || '%' $$;
COMMENT ON FUNCTION region_in_subtree(text, text) IS
  'true when region code lies in the subtree of root (root itself included)';

-- Validation helpers -----------------------------------------------------

CREATE FUNCTION check_code(p_list text, p_code text, p_field text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE list = p_list AND code = p_code AND active) THEN
        PERFORM yz_raise(422, format('%s is not a code of list %s', p_code, p_list), p_field, 'unknown_code');
    END IF;
END $$;

-- A text field: at most p_max characters (NULL: no bound); when p_required
-- says why it is needed, also not blank (else 422 'required' with that
-- message).  Required first, then the length, as every caller checked them.
CREATE FUNCTION check_text(p_value text, p_field text, p_max int, p_required text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_required IS NOT NULL AND coalesce(btrim(p_value), '') = '' THEN
        PERFORM yz_raise(422, p_required, p_field, 'required');
    END IF;
    IF char_length(p_value) > p_max THEN
        PERFORM yz_raise(422, format('at most %s characters', p_max), p_field, 'too_long');
    END IF;
END $$;

-- A region code someone gives (NULL: none): a known one, else p_status (422 for
-- a value in a body, 400 for a query's filter) 'unknown_region'.
CREATE FUNCTION check_region(p_code text, p_field text, p_status int DEFAULT 422) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regions WHERE code = p_code) THEN
        PERFORM yz_raise(p_status, format('%s is not a GB/T 2260 region code', p_code), p_field, 'unknown_region');
    END IF;
END $$;

-- A region a caller names in p_field: a known one, and within p_scope, a
-- bureau's own region or one below it (NULL: an admin's call, any region);
-- 000000, the whole country, is an admin's only.  p_words says what a bureau
-- may do, for the 403.
CREATE FUNCTION check_region_in_scope(p_region text, p_scope text, p_field text, p_words text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_region <> '000000' THEN
        PERFORM check_region(p_region, p_field);
    END IF;
    IF p_scope IS NOT NULL AND (p_region = '000000' OR NOT region_in_subtree(p_region, p_scope)) THEN
        PERFORM yz_raise(403, p_words, p_field, 'out_of_scope');
    END IF;
END $$;

-- If-Match: the row version the caller last read (NULL: none was sent) must
-- still be the row's, else 412 naming what changed (p_noun).
CREATE FUNCTION check_if_match(p_if_match int, p_version int, p_noun text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_if_match IS NOT NULL AND p_if_match <> p_version THEN
        PERFORM yz_raise(412, format('the %s was changed by someone else; reload and try again', p_noun));
    END IF;
END $$;

-- The row of a table with an id column, locked FOR UPDATE, or a 404 saying
-- p_missing: o := lock_by_id(NULL::users, p_id, 'no such user').  The table
-- is the type of p_row (a constant at every call, never user input).
CREATE FUNCTION lock_by_id(p_row anyelement, p_id bigint, p_missing text) RETURNS anyelement
LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    EXECUTE format('SELECT * FROM %s WHERE id = $1 FOR UPDATE', pg_typeof(p_row)) INTO p_row USING p_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        PERFORM yz_raise(404, p_missing);
    END IF;
    RETURN p_row;
END $$;

-- Copy the shares of the most common elements of the tsvector column p_col of
-- p_table from the planner's statistics (pg_stats) into p_freq (p_key, freq),
-- and the analysis time, row count and smallest listed share into the row of
-- tsv_freq_stats whose source is p_table, when p_table was analysed since the
-- last copy or nothing was copied yet; true when it copied.  p_table may be an
-- index on a tsvector expression (p_col: the index's column): ANALYZE of its
-- table gathers its statistics, and the time and the row count are the table's.
-- For search_docs.tsv (functions/search.sql), contracts.search_tsv and the
-- filter lexemes of contracts_tags_idx (functions/contract_search.sql); the
-- names are constants of those callers.
CREATE FUNCTION tsv_freq_refresh(p_table regclass, p_col text, p_freq regclass, p_key text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_name text := (SELECT c.relname FROM pg_class c WHERE c.oid = p_table);
    v_rel regclass := coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = p_table), p_table);
    v_at timestamptz;
    v_elems text[];
    v_freqs real[];
    n int;
    done boolean;
BEGIN
    SELECT greatest(t.last_analyze, t.last_autoanalyze) INTO v_at
    FROM pg_stat_user_tables t WHERE t.relid = v_rel;
    SELECT EXISTS (SELECT 1 FROM tsv_freq_stats s WHERE s.source = v_name AND (v_at IS NULL OR s.analyzed_at >= v_at))
    INTO done;
    IF done THEN
        RETURN false;
    END IF;
    SELECT st.most_common_elems::text::text[], st.most_common_elem_freqs INTO v_elems, v_freqs
    FROM pg_stats st
    WHERE st.schemaname = current_schema() AND st.attname = p_col
      AND st.tablename = v_name;
    n := coalesce(cardinality(v_elems), 0);
    EXECUTE format('DELETE FROM %s', p_freq);
    EXECUTE format('INSERT INTO %s (%I, freq) SELECT u.e, u.f FROM unnest($1, $2) AS u(e, f) WHERE u.e IS NOT NULL '
                   'ON CONFLICT DO NOTHING', p_freq, p_key) USING v_elems, v_freqs[1:n];
    -- most_common_elem_freqs ends with the smallest and largest share and the null share: an
    -- element the list leaves out is rarer than the smallest (nothing listed: no bound)
    INSERT INTO tsv_freq_stats (source, analyzed_at, n_docs, min_freq)
    VALUES (v_name, coalesce(v_at, now()),
            (SELECT greatest(c.reltuples, 0)::bigint FROM pg_class c WHERE c.oid = v_rel),
            CASE WHEN n > 0 THEN v_freqs[n + 1] ELSE 1 END)
    ON CONFLICT (source) DO UPDATE SET analyzed_at = excluded.analyzed_at, n_docs = excluded.n_docs,
                                       min_freq = excluded.min_freq;
    RETURN true;
END $$;

-- Row versions -----------------------------------------------------------

-- Bumps version and updated_at on every UPDATE that changes something. A no-op
-- UPDATE keeps the ETag, so a repeated PATCH with the same body stays cheap.
CREATE FUNCTION core_touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    NEW.version    := OLD.version + 1;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION core_touch_row() IS
    'BEFORE UPDATE trigger: sets updated_at = now() and version = old version + 1 when the row changed.';
CREATE TRIGGER orgs_touch BEFORE UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER registry_offices_touch BEFORE UPDATE ON registry_offices FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER results_touch BEFORE UPDATE ON results FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER needs_touch BEFORE UPDATE ON needs FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER contracts_touch BEFORE UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER subsidy_policies_touch BEFORE UPDATE ON subsidy_policies FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER settings_touch BEFORE UPDATE ON settings FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER codes_touch BEFORE UPDATE ON codes FOR EACH ROW EXECUTE FUNCTION core_touch_row();
CREATE TRIGGER calendar_years_touch BEFORE UPDATE ON calendar_years FOR EACH ROW EXECUTE FUNCTION core_touch_row();

-- The trigger of a table that never changes (the audit log, subsidy runs):
-- raises TG_ARGV[1] with SQLSTATE TG_ARGV[0] (YZnnn: HTTP nnn).
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = TG_ARGV[0], MESSAGE = TG_ARGV[1];
END $$;

-- The working-day calendar (rows: calendar_days, 0004 and 0009; each year's
-- status: calendar_years, 0009) ---------------------------------------------
-- A year is counted by its rows whatever its status: a provisional year has
-- its statutory holidays and no 调休 days, a year without rows is Monday to
-- Friday.  calendar_provisional() says whether a stretch of days touches a
-- year that is not confirmed, so a deadline counted over it is flagged.

CREATE FUNCTION is_working_day(d date) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT COALESCE(
        (SELECT c.kind = 'workday' FROM calendar_days c WHERE c.day = d),
        extract(isodow FROM d) < 6)
$$;
COMMENT ON FUNCTION is_working_day(date) IS
  'Mon–Fri and not a listed holiday, or a listed 调休 make-up working day';

-- The date that is n working days after start (start itself not counted; it need not be
-- a working day). n = 0 returns start; n < 0 counts backwards.
CREATE FUNCTION add_working_days(start date, n int) RETURNS date
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    d    date := start;
    step int  := CASE WHEN n < 0 THEN -1 ELSE 1 END;
    left_ int := abs(n);
BEGIN
    WHILE left_ > 0 LOOP
        d := d + step;
        IF is_working_day(d) THEN
            left_ := left_ - 1;
        END IF;
    END LOOP;
    RETURN d;
END
$$;
COMMENT ON FUNCTION add_working_days(date, int) IS
  'the date n working days after start, not counting start; negative n counts backwards';

-- Working days in (a, b]: a excluded, b included; negative when b < a.
-- Inverse of add_working_days: working_days_between(a, add_working_days(a, n)) = n.
CREATE FUNCTION working_days_between(a date, b date) RETURNS int
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN b >= a THEN 1 ELSE -1 END
         * count(*) FILTER (WHERE is_working_day(g::date))::int
    FROM generate_series(LEAST(a, b) + 1, GREATEST(a, b), interval '1 day') AS g
$$;
COMMENT ON FUNCTION working_days_between(date, date) IS
  'number of working days d with a < d <= b (negated when b < a)';

-- True when a day in (a, b] lies in a year whose calendar is not confirmed
-- (provisional, or no row at all).  a excluded, as in add_working_days.
CREATE FUNCTION calendar_provisional(a date, b date) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT EXISTS (
        SELECT 1 FROM generate_series(extract(year FROM LEAST(a, b) + 1)::int, extract(year FROM GREATEST(a, b))::int) y
        WHERE NOT EXISTS (SELECT 1 FROM calendar_years c WHERE c.year = y AND c.status = 'confirmed'))
$$;
COMMENT ON FUNCTION calendar_provisional(date, date) IS
  'true when a day d with a < d <= b lies in a year whose working-day calendar is not confirmed';
