-- audit.sql — the tamper-evident audit log (table: 0001_baseline.sql).
--
-- Every state change calls audit_append() in the same transaction as the
-- change.  Entries are chained: hash = SHA-256(prev_hash || canonical entry),
-- taken under a transaction-scoped advisory lock so the chain stays one line
-- under concurrent writers.  A trigger refuses UPDATE and DELETE, and the
-- application role (yizhan_app, which the server assumes on connect) has only
-- SELECT and INSERT on it.

-- The exact bytes that are hashed.  jsonb's text form is deterministic (keys
-- ordered), and the time is taken as integer microseconds so the TimeZone
-- setting cannot change it.
CREATE FUNCTION audit_canonical(a audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'at_us', (extract(epoch FROM a.at) * 1000000)::bigint,
        'actor_user_id', a.actor_user_id, 'actor_role', a.actor_role, 'request_id', a.request_id,
        'entity', a.entity, 'entity_id', a.entity_id, 'action', a.action,
        'before', a.before, 'after', a.after)::text
$$;

CREATE FUNCTION audit_hash(prev text, a audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(prev || audit_canonical(a), 'UTF8')), 'hex')
$$;

CREATE FUNCTION audit_append(p_actor bigint, p_request text, p_entity text, p_entity_id text, p_action text,
                             p_before jsonb, p_after jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r audit_log;
BEGIN
    PERFORM pg_advisory_xact_lock(7240120240002);
    r.prev_hash := coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64));
    r.id := nextval('audit_log_id_seq');
    r.at := clock_timestamp();
    r.actor_user_id := p_actor;
    r.actor_role := (SELECT role FROM users WHERE id = p_actor);
    r.request_id := p_request;
    r.entity := p_entity;
    r.entity_id := p_entity_id;
    r.action := p_action;
    r.before := p_before;
    r.after := p_after;
    r.hash := audit_hash(r.prev_hash, r);
    INSERT INTO audit_log SELECT r.*;
    RETURN r.id;
END $$;

-- The common end of a change: append the entry and answer with its after-image
-- (RETURN audit_returning(...) in place of audit_append and RETURN after::text).
CREATE FUNCTION audit_returning(p_actor bigint, p_request text, p_entity text, p_entity_id text, p_action text,
                                p_before jsonb, p_after jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append(p_actor, p_request, p_entity, p_entity_id, p_action, p_before, p_after);
    RETURN p_after::text;
END $$;

-- Walk the chain; the first entry whose link or hash is wrong is named.
CREATE FUNCTION audit_verify(OUT ok boolean, OUT checked bigint, OUT first_broken_id bigint, OUT reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    a audit_log;
    prev text := repeat('0', 64);
    prev_id bigint := 0;
BEGIN
    ok := true;
    checked := 0;
    FOR a IN SELECT * FROM audit_log ORDER BY id LOOP
        IF a.prev_hash <> prev THEN
            ok := false; first_broken_id := a.id;
            reason := CASE WHEN a.id <> prev_id + 1 AND prev_id > 0 THEN 'an entry before this one was deleted'
                           ELSE 'link to the previous entry does not match' END;
            RETURN;
        END IF;
        IF audit_hash(a.prev_hash, a) <> a.hash THEN
            ok := false; first_broken_id := a.id; reason := 'entry content does not match its hash';
            RETURN;
        END IF;
        prev := a.hash;
        prev_id := a.id;
        checked := checked + 1;
    END LOOP;
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change('YZ403', 'audit_log is append-only');
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('YZ403', 'audit_log is append-only');

