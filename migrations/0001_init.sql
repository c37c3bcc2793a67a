-- 0001_init: shared helpers used by every later migration.
-- (schema_migrations itself is created by the migration runner.)

-- Bump updated_at and the optimistic-lock version on every UPDATE.
CREATE FUNCTION touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF to_jsonb(NEW) ? 'version' THEN
        NEW := jsonb_populate_record(NEW, jsonb_build_object('version', (to_jsonb(OLD)->>'version')::int + 1));
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION touch_row() IS 'BEFORE UPDATE trigger: sets updated_at and increments version (ETag source).';

-- Raise a client-facing error: SQLSTATE YZnnn maps to HTTP nnn in the server,
-- the message is shown to the client, the hint names the field at fault.
CREATE FUNCTION yz_raise(status int, message text, field text DEFAULT NULL, code text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'YZ' || lpad(status::text, 3, '0'), MESSAGE = message,
        HINT = coalesce(field, ''), DETAIL = coalesce(code, 'invalid');
END $$;
