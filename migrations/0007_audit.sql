-- 0007_audit: the tamper-evident audit log, and the application role.
--
-- Every state change calls audit_append() in the same transaction as the
-- change.  Entries are chained: hash = SHA-256(prev_hash || canonical entry),
-- taken under a transaction-scoped advisory lock so the chain stays one line
-- under concurrent writers.  A trigger refuses UPDATE and DELETE, and the
-- application role (yizhan_app, which the server assumes on connect) has only
-- SELECT and INSERT on it.

CREATE TABLE audit_log (
    id            bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_user_id bigint,
    actor_role    text,
    request_id    text,
    entity        text NOT NULL,
    entity_id     text NOT NULL,
    action        text NOT NULL,
    before        jsonb,
    after         jsonb,
    prev_hash     text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash          text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE SEQUENCE audit_log_id_seq AS bigint OWNED BY audit_log.id;
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
COMMENT ON TABLE audit_log IS 'Append-only, hash-chained record of every state change (who, when, what, before, after).';

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

CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'YZ403';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The role the server works as (it switches to it at connect: `-c role=`).
-- The migrating role owns the schema; yizhan_app may read and write data but
-- only INSERT into the audit log.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'yizhan_app') THEN
        CREATE ROLE yizhan_app NOLOGIN;
    END IF;
END $$;
GRANT yizhan_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO yizhan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO yizhan_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO yizhan_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM yizhan_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM yizhan_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO yizhan_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO yizhan_app;
