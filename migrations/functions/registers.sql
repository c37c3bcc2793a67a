-- registers.sql — the register of technology-transfer demonstration institutions
-- (技术转移示范机构) and the register of technology brokers (技术经纪人): issue #20
-- part 6.  Tables in 0021_award_registers.sql.
--
-- institution_recognitions: an organisation recognised at a level (code list
--   institution_levels: national / provincial / city, extra.rank) by an authority
--   (recognised_by) on a date, with the document number and the evidence.
-- broker_qualifications: a broker's (users.role = broker) training (course, hours,
--   organiser = issuer, date) or certification (certificate number, issuer, date),
--   with the evidence; the employer is the broker's organisation (users.org_id).
--
-- Who: an admin everywhere; a bureau user for organisations (and brokers: their
-- users.region_code, else their organisation's) inside its region subtree —
-- anything outside is 404, as if it did not exist.  Rows are never deleted or
-- edited: a wrong or revoked entry is withdrawn with a reason, and stays in the
-- history.  Every create and withdrawal writes an audit entry.  Subsidy lines read
-- the registers (functions/subsidies.sql): party "institution" pays by the level
-- newly recognised in the base year, broker lines may pay per certified broker.

-- The organisation's level now: the highest rank not withdrawn (NULL: none).
CREATE FUNCTION institution_level_of(p_org bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT r.level FROM institution_recognitions r JOIN codes c ON c.list = 'institution_levels' AND c.code = r.level
    WHERE r.org_id = p_org AND r.withdrawn_at IS NULL
    ORDER BY (c.extra->>'rank')::int DESC, r.recognised_on DESC LIMIT 1
$$;

-- Is the broker certified (a certification obtained by p_on, not withdrawn)?
CREATE FUNCTION broker_certified_on(p_user bigint, p_on date) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM broker_qualifications q WHERE q.user_id = p_user AND q.kind = 'certification'
                   AND q.withdrawn_at IS NULL AND q.obtained_on <= p_on)
$$;

CREATE FUNCTION institution_recognition_json(r institution_recognitions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'org_id', r.org_id, 'org_name', o.name, 'org_region_code', o.region_code,
        'org_region_name', (SELECT name FROM regions WHERE code = o.region_code),
        'level', r.level, 'level_label', code_label('institution_levels', r.level),
        'recognised_by', r.recognised_by, 'recognised_on', r.recognised_on, 'document_no', r.document_no,
        'evidence', r.evidence, 'note', r.note, 'created_by', r.created_by, 'created_at', r.created_at,
        'withdrawn', r.withdrawn_at IS NOT NULL, 'withdrawn_at', r.withdrawn_at, 'withdrawn_by', r.withdrawn_by,
        'withdrawn_reason', r.withdrawn_reason)
    FROM orgs o WHERE o.id = r.org_id
$$;

CREATE FUNCTION broker_qualification_json(q broker_qualifications) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', q.id, 'user_id', q.user_id, 'broker_name', u.display_name,
        'employer_org_id', u.org_id, 'employer_name', o.name,
        'region_code', coalesce(u.region_code, o.region_code),
        'kind', q.kind, 'course', q.course, 'hours', trim_scale(q.hours), 'certificate_no', q.certificate_no,
        'issuer', q.issuer, 'obtained_on', q.obtained_on, 'evidence', q.evidence, 'note', q.note,
        'created_by', q.created_by, 'created_at', q.created_at,
        'withdrawn', q.withdrawn_at IS NOT NULL, 'withdrawn_at', q.withdrawn_at, 'withdrawn_by', q.withdrawn_by,
        'withdrawn_reason', q.withdrawn_reason)
    FROM users u LEFT JOIN orgs o ON o.id = u.org_id WHERE u.id = q.user_id
$$;

-- Visible to the caller: admin (p_scope NULL) all, a bureau its subtree.
CREATE FUNCTION register_org_visible(p_org bigint, p_scope text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM orgs o WHERE o.id = p_org AND (p_scope IS NULL OR region_in_subtree(o.region_code, p_scope)))
$$;

CREATE FUNCTION register_broker_visible(p_user bigint, p_scope text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM users u LEFT JOIN orgs o ON o.id = u.org_id
                   WHERE u.id = p_user AND (p_scope IS NULL OR region_in_subtree(coalesce(u.region_code, o.region_code), p_scope)))
$$;

-- A date field: 'YYYY-MM-DD' (the server checked it as every date, v_date in
-- server/domain/validate.c: invalid_date, years 1990-2999), and not after
-- today (China): a register records what has happened.
CREATE FUNCTION register_date(v text, p_field text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d date;
BEGIN
    IF v IS NULL THEN PERFORM yz_raise(422, 'this value is required', p_field, 'required'); END IF;
    BEGIN
        d := v::date;
    EXCEPTION WHEN others THEN
        d := NULL;
    END;
    IF d IS NULL OR d < DATE '1990-01-01' THEN
        PERFORM yz_raise(422, 'must be a date YYYY-MM-DD from 1990-01-01 to 2999-12-31', p_field, 'invalid_date');
    END IF;
    IF d > today_cn() THEN
        PERFORM yz_raise(422, 'a date not after today', p_field, 'out_of_range');
    END IF;
    RETURN d;
END $$;

-- A text field: trimmed, required or not, at most n characters.
CREATE FUNCTION register_text(v text, p_field text, n int, p_required boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    v := nullif(btrim(v), '');
    PERFORM check_text(v, p_field, n, CASE WHEN p_required THEN 'this value is required' END);
    RETURN v;
END $$;

-- POST /institution-recognitions: b {org_id, level, recognised_by, recognised_on, document_no?, evidence, note?}.
CREATE FUNCTION institution_recognition_create(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r institution_recognitions;
BEGIN
    IF NOT register_org_visible((b->>'org_id')::bigint, p_scope) THEN
        PERFORM yz_raise(404, 'no such organisation', 'org_id', 'unknown');
    END IF;
    IF b->>'level' IS NULL THEN PERFORM yz_raise(422, 'this value is required', 'level', 'required'); END IF;
    PERFORM check_code('institution_levels', b->>'level', 'level');
    r.org_id := (b->>'org_id')::bigint;
    r.level := b->>'level';
    r.recognised_by := register_text(b->>'recognised_by', 'recognised_by', 200, true);
    r.recognised_on := register_date(b->>'recognised_on', 'recognised_on');
    r.document_no := register_text(b->>'document_no', 'document_no', 100, false);
    r.evidence := register_text(b->>'evidence', 'evidence', 500, true);
    r.note := register_text(b->>'note', 'note', 1000, false);
    IF EXISTS (SELECT 1 FROM institution_recognitions x WHERE x.org_id = r.org_id AND x.level = r.level
               AND x.recognised_on = r.recognised_on AND x.withdrawn_at IS NULL) THEN
        PERFORM yz_raise(409, 'this recognition is already in the register', 'level', 'duplicate');
    END IF;
    INSERT INTO institution_recognitions (org_id, level, recognised_by, recognised_on, document_no, evidence, note, created_by)
    VALUES (r.org_id, r.level, r.recognised_by, r.recognised_on, r.document_no, r.evidence, r.note, p_actor)
    RETURNING * INTO r;
    RETURN audit_returning(p_actor, p_req, 'institution_recognition', r.id::text, 'create', NULL, institution_recognition_json(r));
END $$;

-- POST /institution-recognitions/{id}/withdraw and /broker-qualifications/{id}/withdraw:
-- b {reason}.  p_entity is the register's audit entity, institution_recognition or
-- broker_qualification: its table is p_entity || 's', its answer p_entity || '_json'().
-- The entry must be in the caller's scope (else 404) and in force (else 409).
CREATE FUNCTION register_withdraw(p_entity text, p_actor bigint, p_req text, p_scope text, p_id bigint, b jsonb)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    why text := register_text(b->>'reason', 'reason', 500, true);
    noun text := split_part(p_entity, '_', 2);
    visible text := CASE p_entity WHEN 'institution_recognition' THEN 'register_org_visible(x.org_id, $2)'
                                  WHEN 'broker_qualification' THEN 'register_broker_visible(x.user_id, $2)' END;
    seen boolean;
    withdrawn boolean;
    o jsonb;
    r jsonb;
BEGIN
    EXECUTE format('SELECT %s, x.withdrawn_at IS NOT NULL, %I(x) FROM %I x WHERE x.id = $1 FOR UPDATE',
                   visible, p_entity || '_json', p_entity || 's')
        INTO seen, withdrawn, o USING p_id, p_scope;
    IF NOT coalesce(seen, false) THEN
        PERFORM yz_raise(404, 'no such ' || noun);
    END IF;
    IF withdrawn THEN
        PERFORM yz_raise(409, 'the ' || noun || ' is already withdrawn', 'reason', 'already_withdrawn');
    END IF;
    EXECUTE format('UPDATE %I x SET withdrawn_at = now(), withdrawn_by = $2, withdrawn_reason = $3 '
                   'WHERE x.id = $1 RETURNING %I(x)', p_entity || 's', p_entity || '_json')
        INTO r USING p_id, p_actor, why;
    RETURN audit_returning(p_actor, p_req, p_entity, p_id::text, 'withdraw', o, r);
END $$;

-- POST /broker-qualifications: b {user_id, kind, course?, hours?, certificate_no?, issuer, obtained_on, evidence, note?}.
CREATE FUNCTION broker_qualification_create(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    q broker_qualifications;
BEGIN
    IF NOT register_broker_visible((b->>'user_id')::bigint, p_scope) THEN
        PERFORM yz_raise(404, 'no such user', 'user_id', 'unknown');
    END IF;
    IF (SELECT role FROM users WHERE id = (b->>'user_id')::bigint) <> 'broker' THEN
        PERFORM yz_raise(422, 'the user is not a technology broker (role broker)', 'user_id', 'not_broker');
    END IF;
    q.user_id := (b->>'user_id')::bigint;
    q.kind := b->>'kind';
    IF q.kind IS NULL OR q.kind NOT IN ('training', 'certification') THEN
        PERFORM yz_raise(422, 'kind is training or certification', 'kind', 'invalid');
    END IF;
    IF q.kind = 'training' THEN
        q.course := register_text(b->>'course', 'course', 200, true);
        IF b->'hours' IS NULL OR jsonb_typeof(b->'hours') <> 'number' THEN
            PERFORM yz_raise(422, 'the hours of training', 'hours', 'required');
        END IF;
        IF (b->>'hours')::numeric <= 0 OR (b->>'hours')::numeric > 10000
           OR (b->>'hours')::numeric <> round((b->>'hours')::numeric, 1) THEN
            PERFORM yz_raise(422, 'hours above 0 and at most 10000, to one decimal', 'hours', 'out_of_range');
        END IF;
        q.hours := (b->>'hours')::numeric;
        IF b->>'certificate_no' IS NOT NULL THEN
            q.certificate_no := register_text(b->>'certificate_no', 'certificate_no', 100, false);
        END IF;
    ELSE
        q.certificate_no := register_text(b->>'certificate_no', 'certificate_no', 100, true);
        IF b ? 'course' OR b ? 'hours' THEN
            PERFORM yz_raise(422, 'course and hours are for a training', CASE WHEN b ? 'course' THEN 'course' ELSE 'hours' END,
                             'not_for_kind');
        END IF;
    END IF;
    q.issuer := register_text(b->>'issuer', 'issuer', 200, true);
    q.obtained_on := register_date(b->>'obtained_on', 'obtained_on');
    q.evidence := register_text(b->>'evidence', 'evidence', 500, true);
    q.note := register_text(b->>'note', 'note', 1000, false);
    IF q.kind = 'certification' AND EXISTS (SELECT 1 FROM broker_qualifications x WHERE x.kind = 'certification'
            AND x.issuer = q.issuer AND x.certificate_no = q.certificate_no AND x.withdrawn_at IS NULL) THEN
        PERFORM yz_raise(409, 'a certificate with this number from this issuer is already in the register',
                         'certificate_no', 'duplicate');
    END IF;
    INSERT INTO broker_qualifications (user_id, kind, course, hours, certificate_no, issuer, obtained_on, evidence, note, created_by)
    VALUES (q.user_id, q.kind, q.course, q.hours, q.certificate_no, q.issuer, q.obtained_on, q.evidence, q.note, p_actor)
    RETURNING * INTO q;
    RETURN audit_returning(p_actor, p_req, 'broker_qualification', q.id::text, 'create', NULL, broker_qualification_json(q));
END $$;

-- GET /broker-register: a broker with the summary of the register entries in force.
CREATE FUNCTION broker_register_json(p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'user_id', u.id, 'name', u.display_name, 'employer_org_id', u.org_id, 'employer_name', o.name,
        'region_code', coalesce(u.region_code, o.region_code),
        'trainings', (SELECT count(*) FROM broker_qualifications q WHERE q.user_id = u.id AND q.kind = 'training'
                        AND q.withdrawn_at IS NULL),
        'training_hours', (SELECT coalesce(trim_scale(sum(q.hours)), 0) FROM broker_qualifications q
                           WHERE q.user_id = u.id AND q.kind = 'training' AND q.withdrawn_at IS NULL),
        'certified', broker_certified_on(u.id, today_cn()),
        'certification', (SELECT jsonb_build_object('id', q.id, 'certificate_no', q.certificate_no, 'issuer', q.issuer,
                                                    'obtained_on', q.obtained_on)
                          FROM broker_qualifications q WHERE q.user_id = u.id AND q.kind = 'certification'
                            AND q.withdrawn_at IS NULL ORDER BY q.obtained_on DESC, q.id DESC LIMIT 1))
    FROM users u LEFT JOIN orgs o ON o.id = u.org_id WHERE u.id = p_user
$$;
