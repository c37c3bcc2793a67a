-- regulation.sql — the data the regulations may change, edited by an admin:
-- the working-day calendar of a year (calendar_years, calendar_days), the
-- regulatory settings (settings) and the code lists (codes).  Each edit is one
-- function that checks the values, cites its source, bumps the version (the
-- ETag; core_touch_row) and writes its audit entry in the same transaction:
-- entity 'calendar' (id: the year), 'setting' (the key), 'code' ('list/code'),
-- before and after each holding the source, so GET /api/v1/audit?entity=&id=
-- is the history of each.
--
-- Tables: 0001_baseline.sql, 0009_regulations_editable.sql.  The working-day
-- functions are in core.sql; contract_recount_deadlines() in contracts.sql.

-- The calendar ----------------------------------------------------------------

-- A year as GET /api/v1/codes/calendar shows it: its status and source, and
-- its exceptions to the Monday-Friday week.  A year without a row is
-- provisional, with no source and no days.
CREATE FUNCTION calendar_json(p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'year', p_year,
        'status', coalesce(y.status, 'provisional'),
        'source', y.source, 'note', y.note,
        'confirmed_at', y.confirmed_at, 'confirmed_by', y.confirmed_by,
        'updated_at', y.updated_at, 'updated_by', y.updated_by,
        'version', coalesce(y.version, 0),
        'working_days', (SELECT count(*) FILTER (WHERE is_working_day(d::date))
                         FROM generate_series(make_date(p_year, 1, 1), make_date(p_year, 12, 31), interval '1 day') d),
        'items', coalesce((SELECT jsonb_agg(jsonb_build_object('day', c.day, 'kind', c.kind, 'name', c.name) ORDER BY c.day)
                           FROM calendar_days c
                           WHERE c.day >= make_date(p_year, 1, 1) AND c.day < make_date(p_year + 1, 1, 1)), '[]'))
    FROM (SELECT 1) one LEFT JOIN calendar_years y ON y.year = p_year
$$;

-- Replace the calendar of a year: b = {status, source, note?, days: [{day,
-- kind, name}]}.  The days replace the year's rows; confirming requires the
-- notice as the source.  The deadlines of applications awaiting review that
-- run through the year are counted again.  p_if_match: the version the admin
-- edited (NULL: no check; 0: the year had no row).
CREATE FUNCTION calendar_put(p_actor bigint, p_req text, p_year int, p_if_match int, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o calendar_years;
    n calendar_years;
    v_before jsonb := calendar_json(p_year);
    x jsonb;
    i int := 0;
    d date;
    recounted int;
BEGIN
    IF p_year NOT BETWEEN 2000 AND 2100 THEN
        PERFORM yz_raise(404, 'no calendar for that year (2000 to 2100)');
    END IF;
    SELECT * INTO o FROM calendar_years WHERE year = p_year FOR UPDATE;
    PERFORM check_if_match(p_if_match, coalesce(o.version, 0), 'calendar');
    IF coalesce(b->>'status', '') NOT IN ('provisional', 'confirmed') THEN
        PERFORM yz_raise(422, 'status must be provisional or confirmed', 'status', 'one_of');
    END IF;
    PERFORM check_text(b->>'source', 'source', 500,
                       'cite the source: the State Council''s notice (number and date) or the rule the days follow');
    PERFORM check_text(b->>'note', 'note', 1000);
    IF jsonb_typeof(b->'days') IS DISTINCT FROM 'array' THEN
        PERFORM yz_raise(422, 'days must be a list of {day, kind, name}', 'days', 'required');
    END IF;
    -- every day: a date of the year, holiday or workday (a workday only on a
    -- weekend), a name, each day once
    FOR x IN SELECT e FROM jsonb_array_elements(b->'days') e LOOP
        IF jsonb_typeof(x) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(x) k WHERE k NOT IN ('day', 'kind', 'name')) > 0 THEN
            PERFORM yz_raise(422, 'each day is {day, kind, name}', format('days[%s]', i), 'invalid');
        END IF;
        d := NULL;
        IF coalesce(x->>'day', '') ~ '^\d{4}-\d{2}-\d{2}$' THEN
            BEGIN
                d := (x->>'day')::date;
            EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
                d := NULL;
            END;
        END IF;
        IF d IS NULL THEN
            PERFORM yz_raise(422, 'a date YYYY-MM-DD', format('days[%s].day', i), 'invalid_date');
        END IF;
        IF extract(year FROM d) <> p_year THEN
            PERFORM yz_raise(422, format('%s is not in %s', d, p_year), format('days[%s].day', i), 'out_of_range');
        END IF;
        IF coalesce(x->>'kind', '') NOT IN ('holiday', 'workday') THEN
            PERFORM yz_raise(422, 'kind must be holiday or workday', format('days[%s].kind', i), 'one_of');
        END IF;
        IF x->>'kind' = 'workday' AND extract(isodow FROM d) < 6 THEN
            PERFORM yz_raise(422, format('%s is a weekday: only a Saturday or Sunday can be a make-up working day', d),
                             format('days[%s].kind', i), 'invalid');
        END IF;
        IF coalesce(btrim(x->>'name'), '') = '' OR char_length(x->>'name') > 50 THEN
            PERFORM yz_raise(422, 'name the holiday (1 to 50 characters)', format('days[%s].name', i), 'required');
        END IF;
        IF (SELECT count(*) FROM jsonb_array_elements(b->'days') e WHERE e->>'day' = x->>'day') > 1 THEN
            PERFORM yz_raise(422, format('%s is listed twice', d), format('days[%s].day', i), 'duplicate');
        END IF;
        i := i + 1;
    END LOOP;

    DELETE FROM calendar_days WHERE day >= make_date(p_year, 1, 1) AND day < make_date(p_year + 1, 1, 1);
    INSERT INTO calendar_days (day, kind, name)
    SELECT (e->>'day')::date, e->>'kind', e->>'name' FROM jsonb_array_elements(b->'days') e;
    INSERT INTO calendar_years AS y (year, status, source, note, confirmed_at, confirmed_by, updated_by)
    VALUES (p_year, b->>'status', b->>'source', nullif(b->>'note', ''),
            CASE WHEN b->>'status' = 'confirmed' THEN now() END,
            CASE WHEN b->>'status' = 'confirmed' THEN p_actor END, p_actor)
    ON CONFLICT (year) DO UPDATE SET status = excluded.status, source = excluded.source, note = excluded.note,
        confirmed_at = CASE WHEN excluded.status = 'confirmed'
                            THEN CASE WHEN y.status = 'confirmed' THEN y.confirmed_at ELSE now() END END,
        confirmed_by = CASE WHEN excluded.status = 'confirmed'
                            THEN CASE WHEN y.status = 'confirmed' THEN y.confirmed_by ELSE excluded.confirmed_by END END,
        updated_by = excluded.updated_by, updated_at = now()
    RETURNING * INTO n;
    recounted := contract_recount_deadlines(p_actor, p_req, p_year);
    PERFORM audit_append(p_actor, p_req, 'calendar', p_year::text,
                         CASE WHEN n.status = 'confirmed' AND o.status IS DISTINCT FROM 'confirmed' THEN 'confirm'
                              ELSE 'update' END,
                         CASE WHEN o.year IS NULL THEN NULL ELSE v_before END,
                         calendar_json(p_year) || jsonb_build_object('deadlines_recounted', recounted));
    RETURN (calendar_json(p_year) || jsonb_build_object('deadlines_recounted', recounted))::text;
END $$;

-- What the officer's queue and /metrics warn about: this year and next year
-- when not confirmed, and the applications whose deadline is provisional.
CREATE FUNCTION calendar_warning(p_office bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'unconfirmed_years', coalesce((SELECT jsonb_agg(y ORDER BY y)
            FROM generate_series(extract(year FROM today_cn())::int, extract(year FROM today_cn())::int + 1) y
            WHERE NOT EXISTS (SELECT 1 FROM calendar_years c WHERE c.year = y AND c.status = 'confirmed')), '[]'),
        'provisional_deadlines', (SELECT count(*) FROM contracts c
            WHERE c.status = 'submitted' AND c.calendar_provisional AND (p_office IS NULL OR c.office_id = p_office)))
$$;

-- Settings ---------------------------------------------------------------------

CREATE FUNCTION setting_json(s settings) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('key', s.key, 'value', s.value, 'description', s.description, 'rule', s.rule,
                              'source', s.source, 'updated_at', s.updated_at, 'updated_by', s.updated_by,
                              'version', s.version)
$$;

-- A new value must keep the current value's shape (the same JSON type; an
-- object the same keys; an array's elements the type of the current ones),
-- hold integers only where numbers are (whole, not negative), and satisfy the
-- setting's rule.  Raises 422 naming the path at fault, else returns.
CREATE FUNCTION setting_check(p_old jsonb, p_new jsonb, p_rule jsonb, p_field text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    k text;
    e jsonb;
    t text;
    i int := 0;
BEGIN
    IF jsonb_typeof(p_new) IS DISTINCT FROM jsonb_typeof(p_old) THEN
        PERFORM yz_raise(422, format('must be a JSON %s, as the current value', jsonb_typeof(p_old)), p_field, 'wrong_type');
    END IF;
    CASE jsonb_typeof(p_new)
    WHEN 'number' THEN
        IF (p_new #>> '{}')::numeric <> trunc((p_new #>> '{}')::numeric) OR (p_new #>> '{}')::numeric < 0 THEN
            PERFORM yz_raise(422, 'must be a whole number, not negative', p_field, 'out_of_range');
        END IF;
        IF (p_new #>> '{}')::numeric < coalesce((p_rule->>'min')::numeric, 0)
           OR (p_new #>> '{}')::numeric > coalesce((p_rule->>'max')::numeric, 1e18) THEN
            PERFORM yz_raise(422, format('must be from %s to %s', coalesce(p_rule->>'min', '0'), coalesce(p_rule->>'max', '10^18')),
                             p_field, 'out_of_range');
        END IF;
    WHEN 'string' THEN
        IF p_rule ? 'list' AND NOT EXISTS (SELECT 1 FROM codes WHERE list = p_rule->>'list' AND code = p_new #>> '{}' AND active) THEN
            PERFORM yz_raise(422, format('%s is not a code of list %s', p_new #>> '{}', p_rule->>'list'), p_field, 'unknown_code');
        END IF;
        PERFORM check_text(p_new #>> '{}', p_field, 500);
    WHEN 'object' THEN
        FOR k IN SELECT jsonb_object_keys(p_new) LOOP
            IF NOT p_old ? k THEN
                PERFORM yz_raise(422, format('%s is not part of this setting', k), p_field || '.' || k, 'unknown_field');
            END IF;
        END LOOP;
        FOR k IN SELECT jsonb_object_keys(p_old) LOOP
            IF NOT p_new ? k THEN
                PERFORM yz_raise(422, 'this part of the setting is required', p_field || '.' || k, 'required');
            END IF;
            PERFORM setting_check(p_old->k, p_new->k, p_rule, p_field || '.' || k);
        END LOOP;
    WHEN 'array' THEN
        t := (SELECT jsonb_typeof(x) FROM jsonb_array_elements(p_old) x LIMIT 1);
        IF jsonb_array_length(p_new) > 100 THEN
            PERFORM yz_raise(422, 'at most 100 entries', p_field, 'too_many');
        END IF;
        FOR e IN SELECT x FROM jsonb_array_elements(p_new) x LOOP
            IF t IS NOT NULL THEN
                PERFORM setting_check((SELECT x FROM jsonb_array_elements(p_old) x LIMIT 1), e, p_rule,
                                      format('%s[%s]', p_field, i));
            END IF;
            i := i + 1;
        END LOOP;
    ELSE
        NULL;  -- true/false: the type check above is all
    END CASE;
END $$;

CREATE FUNCTION setting_put(p_actor bigint, p_req text, p_key text, p_if_match int, p_value jsonb, p_source text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o settings;
    n settings;
BEGIN
    SELECT * INTO o FROM settings WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM yz_raise(404, 'no such setting');
    END IF;
    PERFORM check_if_match(p_if_match, o.version, 'setting');
    PERFORM check_text(p_source, 'source', 500, 'cite the source of the new value (the regulation, notice or decision)');
    PERFORM setting_check(o.value, p_value, o.rule, 'value');
    UPDATE settings SET value = p_value, source = p_source, updated_by = p_actor
    WHERE key = p_key RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'setting', p_key, 'update', setting_json(o), setting_json(n));
END $$;

-- Code lists ---------------------------------------------------------------------

CREATE FUNCTION code_json(c codes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('list', c.list, 'code', c.code, 'label', c.label, 'label_en', c.label_en,
                              'parent_code', c.parent_code, 'sort', c.sort, 'extra', c.extra, 'active', c.active,
                              'source', c.source, 'updated_at', c.updated_at, 'updated_by', c.updated_by,
                              'version', c.version)
$$;

-- Create or change one code: b = {label, label_en?, parent_code?, sort?,
-- extra?, active?, source}.  A code is never deleted (contracts and listings
-- keep referring to it): `active: false` retires it.  Lists have two levels:
-- a parent is an active top-level code of the same list; a code with active
-- children can neither get a parent nor be retired.
CREATE FUNCTION code_put(p_actor bigint, p_req text, p_list text, p_code text, p_if_match int, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o codes;
    n codes;
    parent text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM code_lists WHERE list = p_list) THEN
        PERFORM yz_raise(404, 'no such code list');
    END IF;
    SELECT * INTO o FROM codes WHERE list = p_list AND code = p_code FOR UPDATE;
    PERFORM check_if_match(p_if_match, coalesce(o.version, 0), 'code');
    IF (CASE WHEN p_list = 'org_types' THEN p_code !~ '^[0-9]{3}$' ELSE p_code !~ '^[a-z][a-z0-9_]{0,39}$' END) THEN
        PERFORM yz_raise(422, CASE WHEN p_list = 'org_types' THEN 'an organisation type code has three digits'
                                   ELSE 'a code is a lower-case letter and up to 39 more letters, digits or _' END,
                         'code', 'invalid_format');
    END IF;
    IF coalesce(btrim(b->>'label'), '') = '' OR char_length(b->>'label') > 100 THEN
        PERFORM yz_raise(422, 'the label: 1 to 100 characters', 'label', 'required');
    END IF;
    PERFORM check_text(b->>'label_en', 'label_en', 200);
    PERFORM check_text(b->>'source', 'source', 500, 'cite the source of the code (the regulation or standard)');
    IF b ? 'sort' AND ((b->>'sort')::numeric NOT BETWEEN -100000 AND 100000) THEN
        PERFORM yz_raise(422, 'sort is a number from -100000 to 100000', 'sort', 'out_of_range');
    END IF;
    parent := CASE WHEN b ? 'parent_code' THEN b->>'parent_code' ELSE o.parent_code END;
    IF parent IS NOT NULL THEN
        IF parent = p_code THEN
            PERFORM yz_raise(422, 'a code cannot be its own parent', 'parent_code', 'self');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM codes WHERE list = p_list AND code = parent AND parent_code IS NULL AND active) THEN
            PERFORM yz_raise(422, format('%s is not an active top-level code of list %s', parent, p_list), 'parent_code',
                             'unknown_code');
        END IF;
        IF EXISTS (SELECT 1 FROM codes WHERE list = p_list AND parent_code = p_code) THEN
            PERFORM yz_raise(422, 'this code has codes under it: it stays at the top level', 'parent_code', 'referenced');
        END IF;
    END IF;
    IF b->>'active' = 'false' AND EXISTS (SELECT 1 FROM codes WHERE list = p_list AND parent_code = p_code AND active) THEN
        PERFORM yz_raise(422, 'retire the codes under it first', 'active', 'referenced');
    END IF;
    INSERT INTO codes AS c (list, code, label, label_en, parent_code, sort, extra, active, source, updated_by)
    VALUES (p_list, p_code, b->>'label', coalesce(b->>'label_en', ''), parent,
            coalesce((b->>'sort')::int, 0), coalesce(b->'extra', '{}'), coalesce((b->>'active')::boolean, true),
            b->>'source', p_actor)
    ON CONFLICT (list, code) DO UPDATE SET
        label = excluded.label,
        label_en = CASE WHEN b ? 'label_en' THEN excluded.label_en ELSE c.label_en END,
        parent_code = excluded.parent_code,
        sort = CASE WHEN b ? 'sort' THEN excluded.sort ELSE c.sort END,
        extra = CASE WHEN b ? 'extra' THEN excluded.extra ELSE c.extra END,
        active = CASE WHEN b ? 'active' THEN excluded.active ELSE c.active END,
        source = excluded.source, updated_by = excluded.updated_by
    RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'code', p_list || '/' || p_code, CASE WHEN o.code IS NULL THEN 'create' ELSE 'update' END,
                           CASE WHEN o.code IS NULL THEN NULL ELSE code_json(o) END, code_json(n));
END $$;
