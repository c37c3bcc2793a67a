-- market.sql — research results (科技成果) and technology needs (技术需求) as
-- the API sees them (server/api/market.c).  market_* functions are the only
-- writers: each checks the caller's scope (a member's own org; NULL = staff),
-- the state transition and the values against the code lists, and writes its
-- audit entry, in one transaction.  The server has already checked JSON types,
-- lengths and formats; what needs the database is checked here.
--
-- Lifecycles
--   result: draft -> submitted -> published | rejected (reason); rejected or
--           draft edited -> draft; submitted -> draft (withdraw from review);
--           published -> withdrawn; published -> under_notice -> transacted
--           (deals.sql).
--   need:   draft -> submitted -> open | rejected; open -> closed | matched
--           (the owner), expired (the deadline passed: market_expire_needs()).
-- Visibility: anyone sees published/under_notice results and open needs whose
-- deadline has not passed; an org's members see all of their org's; reviewers
-- and admins see everything.
--
-- The public form of a published result, the document everyone but its holder
-- and staff is served, is rendered once when it changes and kept in
-- result_docs: the GET is then one index lookup (the form of a need is not
-- kept, since its status turns 'expired' with the date).  result_docs holds a
-- row exactly for each result the public can see; it is re-rendered when the
-- result changes and when a label it shows changes (the holder's name or type,
-- a code label, a region name).  The GET falls back to rendering when a row is
-- missing, so a lost row costs speed, never correctness.

-- Status as the world sees it: an open need past its deadline is expired
-- even before the sweep has written it.
CREATE FUNCTION market_need_status(n needs) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN n.status = 'open' AND n.deadline < today_cn() THEN 'expired' ELSE n.status END
$$;

CREATE FUNCTION market_result_visible(r results, p_org bigint, p_staff boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT r.status IN ('published', 'under_notice') OR r.holder_org_id = p_org OR p_staff
$$;

-- Public: open and not past its deadline, market_need_status(n) = 'open' written
-- out: the planner estimates status = 'open' from the column's statistics, the
-- CASE of market_need_status at a default 0.5 % (the need list then sorted
-- every need instead of walking the primary key backwards: a seq scan and a
-- top-N sort of 2,000 needs in place of 21 index rows).
CREATE FUNCTION market_need_visible(n needs, p_org bigint, p_staff boolean) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (n.status = 'open' AND (n.deadline IS NULL OR n.deadline >= today_cn()))
           OR n.org_id = p_org OR p_staff
$$;

-- JSON forms ------------------------------------------------------------------
-- p_full adds what only the owner and staff see (review notes, authorship).
-- jsonb, so that the text form is "key": value (the server reads "version"
-- from it for the ETag) and the audit log stores the same document.  Labels
-- are looked up by sub-selects in place.  PL/pgSQL: as SQL functions with
-- sub-selects, which PostgreSQL cannot inline, they were planned again on every
-- statement that called them once (a single-row GET spent ~1 ms planning and
-- ran at ~2,000 statements/s on two cores); PL/pgSQL plans once per session
-- (~6x faster).
CREATE FUNCTION market_result_json(r results, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
            'id', r.id, 'kind', 'result', 'title', r.title, 'summary', r.summary,
            'keywords', to_jsonb(r.keywords), 'completers', to_jsonb(r.completers),
            'domain', r.domain,
            'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = r.domain),
            'industries', to_jsonb(r.industries), 'trl', r.trl,
            'maturity', r.maturity,
            'maturity_label', (SELECT label FROM codes WHERE list = 'maturity_stages' AND code = r.maturity),
            'ip_records', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'type', x->>'type', 'type_label', c.label,
                                'number', x->>'number', 'status', x->>'status') ORDER BY o), '[]')
                           FROM jsonb_array_elements(r.ip_records) WITH ORDINALITY AS e(x, o)
                           LEFT JOIN codes c ON c.list = 'ip_types' AND c.code = x->>'type'),
            'transfer_modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o), '[]')
                               FROM unnest(r.transfer_modes) WITH ORDINALITY AS u(m, o)
                               LEFT JOIN codes c ON c.list = 'transfer_modes' AND c.code = u.m),
            'pricing_mode', r.pricing_mode,
            'pricing_mode_label', (SELECT label FROM codes WHERE list = 'pricing_modes' AND code = r.pricing_mode),
            'asking_price_fen', r.asking_price_fen, 'negotiable', r.asking_price_fen IS NULL,
            'region_code', r.region_code, 'region_name', (SELECT name FROM regions WHERE code = r.region_code),
            'contact', r.contact,
            'holder', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type,
                                                 'org_type_label', c.label)
                       FROM orgs g LEFT JOIN codes c ON c.list = 'org_types' AND c.code = g.org_type
                       WHERE g.id = r.holder_org_id),
            'status', r.status, 'reject_reason', CASE WHEN p_full THEN r.reject_reason END,
            'submitted_at', CASE WHEN p_full THEN r.submitted_at END,
            'reviewed_at', CASE WHEN p_full THEN r.reviewed_at END,
            'published_at', r.published_at, 'withdrawn_at', r.withdrawn_at,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'version', r.version));
END $$;

CREATE FUNCTION market_need_json(n needs, p_full boolean) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
            'id', n.id, 'kind', 'need', 'title', n.title, 'description', n.description,
            'keywords', to_jsonb(n.keywords),
            'domain', n.domain,
            'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = n.domain),
            'industry', n.industry, 'trl_min', n.trl_min,
            'region_code', n.region_code, 'region_name', (SELECT name FROM regions WHERE code = n.region_code),
            'budget_min_fen', n.budget_min_fen, 'budget_max_fen', n.budget_max_fen,
            'negotiable', n.budget_min_fen IS NULL AND n.budget_max_fen IS NULL,
            'deadline', n.deadline,
            'cooperation_modes', (SELECT coalesce(jsonb_agg(jsonb_build_object('code', m, 'label', c.label) ORDER BY o),
                                                  '[]')
                                  FROM unnest(n.cooperation_modes) WITH ORDINALITY AS u(m, o)
                                  LEFT JOIN codes c ON c.list = 'cooperation_modes' AND c.code = u.m),
            'contact', n.contact,
            'org', (SELECT jsonb_build_object('id', g.id, 'name', g.name, 'org_type', g.org_type, 'org_type_label', c.label)
                    FROM orgs g LEFT JOIN codes c ON c.list = 'org_types' AND c.code = g.org_type
                    WHERE g.id = n.org_id),
            'status', market_need_status(n),
            'reject_reason', CASE WHEN p_full THEN n.reject_reason END,
            'close_reason', n.close_reason,
            'submitted_at', CASE WHEN p_full THEN n.submitted_at END,
            'reviewed_at', CASE WHEN p_full THEN n.reviewed_at END,
            'published_at', n.published_at, 'closed_at', n.closed_at,
            'created_at', n.created_at, 'updated_at', n.updated_at, 'version', n.version));
END $$;

-- Value checks that need the database -------------------------------------------
CREATE FUNCTION market_check_codes(p_list text, p_codes jsonb, p_field text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c text;
    i int := 0;
BEGIN
    IF p_codes IS NULL OR jsonb_typeof(p_codes) <> 'array' THEN
        RETURN;
    END IF;
    FOR c IN SELECT jsonb_array_elements_text(p_codes) LOOP
        PERFORM check_code(p_list, c, format('%s[%s]', p_field, i));
        i := i + 1;
    END LOOP;
END $$;

CREATE FUNCTION market_text_array(p jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT ARRAY(SELECT jsonb_array_elements_text(p)) $$;

-- The body's fields over a row: only keys present in b change.
CREATE FUNCTION market_result_merge(r results, b jsonb) RETURNS results
LANGUAGE plpgsql STABLE AS $$
DECLARE
    i int := 0;
    x jsonb;
BEGIN
    PERFORM check_code('domains', b->>'domain', 'domain');
    PERFORM check_code('maturity_stages', b->>'maturity', 'maturity');
    PERFORM check_code('pricing_modes', b->>'pricing_mode', 'pricing_mode');
    PERFORM market_check_codes('transfer_modes', b->'transfer_modes', 'transfer_modes');
    PERFORM check_region(b->>'region_code', 'region_code');
    IF b ? 'ip_records' THEN
        FOR x IN SELECT jsonb_array_elements(b->'ip_records') LOOP
            PERFORM check_code('ip_types', x->>'type', format('ip_records[%s].type', i));
            i := i + 1;
        END LOOP;
    END IF;
    IF b ? 'title' THEN r.title := b->>'title'; END IF;
    IF b ? 'summary' THEN r.summary := coalesce(b->>'summary', ''); END IF;
    IF b ? 'keywords' THEN r.keywords := market_text_array(b->'keywords'); END IF;
    IF b ? 'completers' THEN r.completers := market_text_array(b->'completers'); END IF;
    IF b ? 'domain' THEN r.domain := b->>'domain'; END IF;
    IF b ? 'industries' THEN r.industries := market_text_array(b->'industries'); END IF;
    IF b ? 'trl' THEN r.trl := (b->>'trl')::smallint; END IF;
    IF b ? 'maturity' THEN r.maturity := b->>'maturity'; END IF;
    IF b ? 'ip_records' THEN r.ip_records := b->'ip_records'; END IF;
    IF b ? 'transfer_modes' THEN r.transfer_modes := market_text_array(b->'transfer_modes'); END IF;
    IF b ? 'pricing_mode' THEN r.pricing_mode := b->>'pricing_mode'; END IF;
    IF b ? 'asking_price_fen' THEN r.asking_price_fen := (b->>'asking_price_fen')::bigint; END IF;
    IF b ? 'region_code' THEN r.region_code := b->>'region_code'; END IF;
    IF b ? 'contact' THEN r.contact := coalesce(b->'contact', '{}'); END IF;
    RETURN r;
END $$;

CREATE FUNCTION market_need_merge(n needs, b jsonb) RETURNS needs
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM check_code('domains', b->>'domain', 'domain');
    PERFORM market_check_codes('cooperation_modes', b->'cooperation_modes', 'cooperation_modes');
    PERFORM check_region(b->>'region_code', 'region_code');
    IF b ? 'title' THEN n.title := b->>'title'; END IF;
    IF b ? 'description' THEN n.description := coalesce(b->>'description', ''); END IF;
    IF b ? 'keywords' THEN n.keywords := market_text_array(b->'keywords'); END IF;
    IF b ? 'domain' THEN n.domain := b->>'domain'; END IF;
    IF b ? 'industry' THEN n.industry := b->>'industry'; END IF;
    IF b ? 'trl_min' THEN n.trl_min := (b->>'trl_min')::smallint; END IF;
    IF b ? 'region_code' THEN n.region_code := b->>'region_code'; END IF;
    IF b ? 'budget_min_fen' THEN n.budget_min_fen := (b->>'budget_min_fen')::bigint; END IF;
    IF b ? 'budget_max_fen' THEN n.budget_max_fen := (b->>'budget_max_fen')::bigint; END IF;
    IF b ? 'deadline' THEN n.deadline := (b->>'deadline')::date; END IF;
    IF b ? 'cooperation_modes' THEN n.cooperation_modes := market_text_array(b->'cooperation_modes'); END IF;
    IF b ? 'contact' THEN n.contact := coalesce(b->'contact', '{}'); END IF;
    IF n.budget_min_fen IS NOT NULL AND n.budget_max_fen IS NOT NULL AND n.budget_min_fen > n.budget_max_fen THEN
        PERFORM yz_raise(422, 'budget_min_fen must not exceed budget_max_fen', 'budget_min_fen', 'out_of_order');
    END IF;
    IF b ? 'deadline' THEN
        PERFORM market_check_deadline(n.deadline, 'the deadline must be a day in the future');
    END IF;
    RETURN n;
END $$;

------------------------------------------------------------------------------
-- What results and needs share: the lock, the checks, the audit entry and
-- deletion are one code path for both kinds (server/api/market.c passes the
-- kind, 'result' or 'need'); creation, editing and the lifecycles differ in
-- their columns and states and stay one function per kind.
------------------------------------------------------------------------------
CREATE FUNCTION market_kind_name(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind WHEN 'result' THEN 'research result' ELSE 'technology need' END
$$;

-- Lock a listing for a change by its org's member (p_org) or staff (NULL):
-- p_kind is NULL::results or NULL::needs, and the row of that table comes
-- back.  404 when there is none in that scope, 412 when If-Match names
-- another version.
CREATE FUNCTION market_lock(p_kind anyelement, p_id bigint, p_org bigint, p_if_match int) RETURNS anyelement
LANGUAGE plpgsql AS $$
DECLARE
    r ALIAS FOR $0;
    kind text := CASE WHEN pg_typeof(p_kind) = 'results'::regtype THEN 'result' ELSE 'need' END;
BEGIN
    EXECUTE format('SELECT * FROM %I WHERE id = $1 AND ($2 IS NULL OR %I = $2) FOR UPDATE', kind || 's',
                   CASE kind WHEN 'result' THEN 'holder_org_id' ELSE 'org_id' END)
        INTO r USING p_id, p_org;
    IF r.id IS NULL THEN
        PERFORM yz_raise(404, 'no such ' || market_kind_name(kind));
    END IF;
    PERFORM check_if_match(p_if_match, r.version, market_kind_name(kind));
    RETURN r;
END $$;

-- A listing is edited or deleted only as a draft or when rejected (p_status
-- as the world sees it: an open need past its deadline is 'expired').
CREATE FUNCTION market_check_changeable(p_kind text, p_status text, p_verb text, p_code text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_status NOT IN ('draft', 'rejected') THEN
        PERFORM yz_raise(409, format('a %s that is %s cannot be %s', market_kind_name(p_kind), p_status, p_verb),
                         'status', p_code);
    END IF;
END $$;

-- A state change that does not start from one of p_from: 409.
CREATE FUNCTION market_expect(p_kind text, p_status text, p_from text[], p_action text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT p_status = ANY (p_from) THEN
        PERFORM yz_raise(409, format('a %s that is %s cannot be %s', market_kind_name(p_kind), p_status, p_action),
                         'status', 'invalid_transition');
    END IF;
END $$;

-- Before review: the org is verified and the listing complete.  p_doc is
-- the listing's JSON (market_result_json, market_need_json); what each kind
-- needs, in the order the form shows it, is named, the first as the field.
CREATE FUNCTION market_check_submittable(p_org bigint, p_doc jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    result boolean := p_doc->>'kind' = 'result';
    missing text[] := array_remove(ARRAY[
        CASE WHEN result AND btrim(p_doc->>'summary') = '' THEN 'summary' END,
        CASE WHEN NOT result AND btrim(p_doc->>'description') = '' THEN 'description' END,
        CASE WHEN p_doc->>'domain' IS NULL THEN 'domain' END,
        CASE WHEN result AND p_doc->>'trl' IS NULL THEN 'trl' END,
        CASE WHEN p_doc->>'region_code' IS NULL THEN 'region_code' END,
        CASE WHEN result AND jsonb_array_length(p_doc->'transfer_modes') = 0 THEN 'transfer_modes' END,
        CASE WHEN NOT result AND jsonb_array_length(p_doc->'cooperation_modes') = 0 THEN 'cooperation_modes' END,
        CASE WHEN result AND p_doc->>'pricing_mode' IS NULL THEN 'pricing_mode' END,
        CASE WHEN result AND p_doc->>'pricing_mode' IN ('listed', 'auction') AND p_doc->>'asking_price_fen' IS NULL
             THEN 'asking_price_fen' END], NULL);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orgs WHERE id = p_org AND verification_status = 'verified') THEN
        PERFORM yz_raise(403, 'your organisation must be verified before it can submit listings for review');
    END IF;
    IF cardinality(missing) > 0 THEN
        PERFORM yz_raise(422, 'complete these fields before submitting: ' || array_to_string(missing, ', '),
                         missing[1], 'required');
    END IF;
END $$;

-- A need's deadline lies ahead.
CREATE FUNCTION market_check_deadline(p_deadline date, p_message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_deadline IS NOT NULL AND p_deadline <= today_cn() THEN
        PERFORM yz_raise(422, p_message, 'deadline', 'not_future');
    END IF;
END $$;

-- A reviewer's rejection says why.
CREATE FUNCTION market_check_reason(p_kind text, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM check_text(p_reason, 'reason', NULL, format('say why the %s is rejected', market_kind_name(p_kind)));
END $$;

-- After a change: the audit entry (when the row changed) and the listing's
-- JSON as text.
CREATE FUNCTION market_changed(p_actor bigint, p_req text, p_kind text, p_id bigint, p_action text, p_before jsonb,
                               p_after jsonb, p_changed boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF p_changed THEN
        PERFORM audit_append(p_actor, p_req, p_kind, p_id::text, p_action, p_before, p_after);
    END IF;
    RETURN p_after::text;
END $$;

-- A new listing (POST /results, POST /needs): only a member of an existing
-- organisation makes one, with an Idempotency-Key replayed.
CREATE FUNCTION market_create(p_actor bigint, p_req text, p_kind text, p_org bigint, b jsonb, p_idem_key text,
                              p_idem_hash text)
RETURNS TABLE (status integer, body text, replayed boolean)
LANGUAGE plpgsql AS $$
DECLARE
    prior record;
    doc jsonb;
BEGIN
    SELECT * INTO prior FROM idem_begin(p_actor, p_idem_key, format('POST /api/v1/%ss', p_kind), p_idem_hash);
    IF prior.status IS NOT NULL THEN
        RETURN QUERY SELECT prior.status, prior.response, true;
        RETURN;
    END IF;
    IF p_org IS NULL OR NOT EXISTS (SELECT 1 FROM orgs WHERE id = p_org) THEN
        PERFORM yz_raise(403, CASE p_kind WHEN 'result' THEN 'only members of an organisation can create research results'
                                          ELSE 'only members of an organisation can post technology needs' END);
    END IF;
    doc := market_insert(p_actor, p_kind, p_org, b);
    PERFORM idem_finish(p_actor, p_idem_key, 201, market_changed(p_actor, p_req, p_kind, (doc->>'id')::bigint, 'create',
                                                                 NULL, doc));
    RETURN QUERY SELECT 201, doc::text, false;
END $$;

-- The row of a new listing (market_create): the body over the table's
-- defaults, the region defaulting to the org's.
CREATE FUNCTION market_insert(p_actor bigint, p_kind text, p_org bigint, b jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r results;
    n needs;
    home text := (SELECT region_code FROM orgs WHERE id = p_org);
BEGIN
    IF p_kind = 'result' THEN
        r.holder_org_id := p_org;
        r.summary := '';
        r.keywords := '{}'; r.completers := '{}'; r.industries := '{}'; r.transfer_modes := '{}';
        r.ip_records := '[]'; r.contact := '{}';
        r := market_result_merge(r, b);
        INSERT INTO results (holder_org_id, title, summary, keywords, completers, domain, industries, trl, maturity,
                             ip_records, transfer_modes, pricing_mode, asking_price_fen, region_code, contact,
                             created_by)
        VALUES (r.holder_org_id, r.title, r.summary, r.keywords, r.completers, r.domain, r.industries, r.trl,
                r.maturity, r.ip_records, r.transfer_modes, r.pricing_mode, r.asking_price_fen,
                coalesce(r.region_code, home), r.contact, p_actor)
        RETURNING * INTO r;
        RETURN market_result_json(r, true);
    END IF;
    n.org_id := p_org;
    n.description := '';
    n.keywords := '{}'; n.cooperation_modes := '{}'; n.contact := '{}';
    n := market_need_merge(n, b);
    INSERT INTO needs (org_id, title, description, keywords, domain, industry, trl_min, region_code, budget_min_fen,
                       budget_max_fen, deadline, cooperation_modes, contact, created_by)
    VALUES (n.org_id, n.title, n.description, n.keywords, n.domain, n.industry, n.trl_min,
            coalesce(n.region_code, home), n.budget_min_fen, n.budget_max_fen, n.deadline, n.cooperation_modes,
            n.contact, p_actor)
    RETURNING * INTO n;
    RETURN market_need_json(n, true);
END $$;

CREATE FUNCTION market_delete(p_actor bigint, p_req text, p_kind text, p_id bigint, p_org bigint, p_if_match int)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb;
BEGIN
    IF p_kind = 'result' THEN
        doc := market_result_json(market_lock(NULL::results, p_id, p_org, p_if_match), true);
    ELSE
        doc := market_need_json(market_lock(NULL::needs, p_id, p_org, p_if_match), true);
    END IF;
    PERFORM market_check_changeable(p_kind, doc->>'status', 'deleted', 'not_deletable');
    IF EXISTS (SELECT 1 FROM contracts
               WHERE (p_kind = 'result' AND result_id = p_id) OR (p_kind = 'need' AND need_id = p_id)) THEN
        PERFORM yz_raise(409, 'a contract refers to this ' || market_kind_name(p_kind), 'id', 'referenced');
    END IF;
    EXECUTE format('DELETE FROM %I WHERE id = $1', p_kind || 's') USING p_id;
    PERFORM audit_append(p_actor, p_req, p_kind, p_id::text, 'delete', doc, NULL);
END $$;

------------------------------------------------------------------------------
-- Results
------------------------------------------------------------------------------
-- Every change of a result after its creation: p_action is update (b: the
-- fields), submit, withdraw (the holder's member), approve or reject (staff).
CREATE FUNCTION market_result_change(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_if_match int,
                                     p_action text, p_reason text, b jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o results := market_lock(NULL::results, p_id, p_org, p_if_match);
    n results;
BEGIN
    CASE p_action
    WHEN 'update' THEN
        PERFORM market_check_changeable('result', o.status, 'edited; withdraw it first', 'not_editable');
        n := market_result_merge(o, b);
        UPDATE results SET title = n.title, summary = n.summary, keywords = n.keywords, completers = n.completers,
            domain = n.domain, industries = n.industries, trl = n.trl, maturity = n.maturity,
            ip_records = n.ip_records, transfer_modes = n.transfer_modes, pricing_mode = n.pricing_mode,
            asking_price_fen = n.asking_price_fen, region_code = n.region_code, contact = n.contact, status = 'draft'
        WHERE id = p_id RETURNING * INTO n;
    WHEN 'submit' THEN
        PERFORM market_expect('result', o.status, '{draft,rejected}', 'submitted');
        PERFORM market_check_submittable(o.holder_org_id, market_result_json(o, true));
        UPDATE results SET status = 'submitted', submitted_at = now() WHERE id = p_id RETURNING * INTO n;
    WHEN 'withdraw' THEN
        PERFORM market_expect('result', o.status, '{submitted,published}', 'withdrawn');
        UPDATE results SET status = CASE o.status WHEN 'submitted' THEN 'draft' ELSE 'withdrawn' END,
                           submitted_at = CASE o.status WHEN 'submitted' THEN NULL ELSE submitted_at END,
                           withdrawn_at = CASE o.status WHEN 'published' THEN now() ELSE withdrawn_at END
        WHERE id = p_id RETURNING * INTO n;
    WHEN 'approve' THEN
        PERFORM market_expect('result', o.status, '{submitted}', 'approved');
        UPDATE results SET status = 'published', published_at = now(), reviewed_at = now(), reviewed_by = p_actor,
                           reject_reason = NULL
        WHERE id = p_id RETURNING * INTO n;
        PERFORM market_notify('result', p_id);
    WHEN 'reject' THEN
        PERFORM market_expect('result', o.status, '{submitted}', 'rejected');
        PERFORM market_check_reason('result', p_reason);
        UPDATE results SET status = 'rejected', reject_reason = p_reason, reviewed_at = now(), reviewed_by = p_actor
        WHERE id = p_id RETURNING * INTO n;
    END CASE;
    -- an edit that changes nothing is not on the record
    RETURN market_changed(p_actor, p_req, 'result', p_id, p_action, market_result_json(o, true),
                          market_result_json(n, true), p_action <> 'update' OR n.version <> o.version);
END $$;

------------------------------------------------------------------------------
-- Needs
------------------------------------------------------------------------------
-- Every change of a need after its creation: p_action is update (b: the
-- fields), submit, close (the poster's member; p_outcome closed|matched),
-- approve, reject (staff).  The status checked is the one the world sees
-- (market_need_status): an open need past its deadline is expired.
CREATE FUNCTION market_need_change(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_if_match int,
                                   p_action text, p_reason text, p_outcome text, b jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o needs := market_lock(NULL::needs, p_id, p_org, p_if_match);
    shown text := market_need_status(o);
    n needs;
BEGIN
    CASE p_action
    WHEN 'update' THEN
        PERFORM market_check_changeable('need', shown, 'edited', 'not_editable');
        n := market_need_merge(o, b);
        UPDATE needs SET title = n.title, description = n.description, keywords = n.keywords, domain = n.domain,
            industry = n.industry, trl_min = n.trl_min, region_code = n.region_code,
            budget_min_fen = n.budget_min_fen, budget_max_fen = n.budget_max_fen, deadline = n.deadline,
            cooperation_modes = n.cooperation_modes, contact = n.contact, status = 'draft'
        WHERE id = p_id RETURNING * INTO n;
    WHEN 'submit' THEN
        PERFORM market_expect('need', shown, '{draft,rejected}', 'submitted');
        PERFORM market_check_submittable(o.org_id, market_need_json(o, true));
        PERFORM market_check_deadline(o.deadline, 'the deadline has passed; set a later one first');
        UPDATE needs SET status = 'submitted', submitted_at = now() WHERE id = p_id RETURNING * INTO n;
    WHEN 'approve' THEN
        PERFORM market_expect('need', shown, '{submitted}', 'approved');
        PERFORM market_check_deadline(o.deadline, 'the deadline of this need has passed; reject it instead');
        UPDATE needs SET status = 'open', published_at = now(), reviewed_at = now(), reviewed_by = p_actor,
                         reject_reason = NULL
        WHERE id = p_id RETURNING * INTO n;
        PERFORM market_notify('need', p_id);
    WHEN 'reject' THEN
        PERFORM market_expect('need', shown, '{submitted}', 'rejected');
        PERFORM market_check_reason('need', p_reason);
        UPDATE needs SET status = 'rejected', reject_reason = p_reason, reviewed_at = now(), reviewed_by = p_actor
        WHERE id = p_id RETURNING * INTO n;
    WHEN 'close' THEN
        PERFORM market_expect('need', shown, '{open}', 'closed');
        IF coalesce(p_outcome, 'closed') NOT IN ('closed', 'matched') THEN
            PERFORM yz_raise(422, 'outcome must be closed or matched', 'outcome', 'invalid');
        END IF;
        UPDATE needs SET status = coalesce(p_outcome, 'closed'), closed_at = now(), close_reason = p_reason
        WHERE id = p_id RETURNING * INTO n;
    END CASE;
    RETURN market_changed(p_actor, p_req, 'need', p_id, p_action, market_need_json(o, true), market_need_json(n, true),
                          p_action <> 'update' OR n.version <> o.version);
END $$;

-- Needs whose deadline has passed become expired, each with its audit entry
-- (actor NULL: the system).  Run by the server's background thread.
CREATE FUNCTION market_expire_needs(p_limit int DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    o needs;
    n needs;
    k int := 0;
BEGIN
    FOR o IN SELECT * FROM needs WHERE status = 'open' AND deadline < today_cn()
             ORDER BY deadline, id LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        UPDATE needs SET status = 'expired', closed_at = now() WHERE id = o.id RETURNING * INTO n;
        PERFORM audit_append(NULL, 'expiry-sweep', 'need', o.id::text, 'expire', to_jsonb(market_need_json(o, true)),
                             to_jsonb(market_need_json(n, true)));
        k := k + 1;
    END LOOP;
    RETURN k;
END $$;

-- The rendered public documents (result_docs) ---------------------------------

CREATE FUNCTION result_docs_sync(r results) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF r.status IN ('published', 'under_notice') THEN
        INSERT INTO result_docs (id, doc) VALUES (r.id, market_result_json(r, false)::text)
        ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc;
    ELSE
        DELETE FROM result_docs WHERE id = r.id;
    END IF;
END $$;

CREATE FUNCTION result_docs_results_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status NOT IN ('published', 'under_notice')
       AND NEW.status NOT IN ('published', 'under_notice') THEN
        RETURN NULL;  -- hidden before and after: nothing kept
    END IF;
    PERFORM result_docs_sync(NEW);
    RETURN NULL;
END $$;
CREATE TRIGGER results_docs AFTER INSERT OR UPDATE ON results
    FOR EACH ROW EXECUTE FUNCTION result_docs_results_trigger();

-- A label the kept documents show changed (the holder's name or type, a
-- code's label, a region's name; the triggers' WHEN says which): render the
-- documents that show it again.
CREATE FUNCTION result_docs_label_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'orgs' THEN
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r WHERE r.id = d.id AND r.holder_org_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'regions' THEN
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r WHERE r.id = d.id AND r.region_code = NEW.code;
    ELSE
        UPDATE result_docs d SET doc = market_result_json(r, false)::text
        FROM results r
        WHERE r.id = d.id
          AND ((NEW.list = 'domains' AND r.domain = NEW.code)
               OR (NEW.list = 'maturity_stages' AND r.maturity = NEW.code)
               OR (NEW.list = 'pricing_modes' AND r.pricing_mode = NEW.code)
               OR (NEW.list = 'transfer_modes' AND NEW.code = ANY (r.transfer_modes))
               OR (NEW.list = 'ip_types' AND r.ip_records @> jsonb_build_array(jsonb_build_object('type', NEW.code)))
               OR (NEW.list = 'org_types'
                   AND EXISTS (SELECT 1 FROM orgs g WHERE g.id = r.holder_org_id AND g.org_type = NEW.code)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orgs_result_docs AFTER UPDATE OF org_type, name ON orgs FOR EACH ROW
    WHEN ((OLD.org_type, OLD.name) IS DISTINCT FROM (NEW.org_type, NEW.name))
    EXECUTE FUNCTION result_docs_label_trigger();
CREATE TRIGGER codes_result_docs AFTER UPDATE OF label ON codes FOR EACH ROW
    WHEN (OLD.label IS DISTINCT FROM NEW.label) EXECUTE FUNCTION result_docs_label_trigger();
CREATE TRIGGER regions_result_docs AFTER UPDATE OF name ON regions FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION result_docs_label_trigger();

