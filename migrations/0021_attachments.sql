-- 0021_attachments: the scanned signed contract and other files of an
-- application.  Stored with their SHA-256, re-checked on every download, so a
-- file changed behind the server's back is detected.

CREATE TABLE contract_attachments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id  bigint NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    filename     text NOT NULL CHECK (btrim(filename) <> '' AND char_length(filename) <= 200),
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size_bytes   integer NOT NULL CHECK (size_bytes > 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    data         bytea NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    uploaded_by  bigint REFERENCES users (id)
);
CREATE INDEX contract_attachments_contract ON contract_attachments (contract_id, id);
COMMENT ON TABLE contract_attachments IS 'Files of a contract application (the scanned signed contract), with their SHA-256.';

CREATE FUNCTION attachment_json(a contract_attachments) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', a.id, 'contract_id', a.contract_id, 'filename', a.filename,
        'content_type', a.content_type, 'size_bytes', a.size_bytes, 'sha256', a.sha256,
        'uploaded_at', a.uploaded_at, 'uploaded_by', a.uploaded_by)
$$;

CREATE FUNCTION attachment_add(p_actor bigint, p_req text, p_contract bigint, p_org bigint, p_admin boolean,
                               p_name text, p_type text, p_sha text, p_data bytea) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
    a contract_attachments;
BEGIN
    c := contract_lock_party(p_contract, p_org, p_admin);
    IF c.status NOT IN ('draft', 'returned') THEN
        PERFORM yz_raise(409, 'files can be attached while the application is a draft or returned for correction');
    END IF;
    IF length(p_data) > setting_int('attachment_max_bytes', 1048576) THEN
        PERFORM yz_raise(413, format('attachments are limited to %s bytes', setting_int('attachment_max_bytes', 1048576)));
    END IF;
    IF (SELECT count(*) FROM contract_attachments WHERE contract_id = p_contract) >= 20 THEN
        PERFORM yz_raise(409, 'at most 20 files per contract');
    END IF;
    INSERT INTO contract_attachments (contract_id, filename, content_type, size_bytes, sha256, data, uploaded_by)
    VALUES (p_contract, p_name, p_type, length(p_data), p_sha, p_data, p_actor) RETURNING * INTO a;
    PERFORM audit_append(p_actor, p_req, 'contract', p_contract::text, 'attach', NULL, attachment_json(a));
    RETURN attachment_json(a)::text;
END $$;

CREATE FUNCTION attachment_delete(p_actor bigint, p_req text, p_contract bigint, p_org bigint, p_admin boolean,
                                  p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
    a contract_attachments;
BEGIN
    c := contract_lock_party(p_contract, p_org, p_admin);
    IF c.status NOT IN ('draft', 'returned') THEN
        PERFORM yz_raise(409, 'files of a submitted application cannot be removed');
    END IF;
    DELETE FROM contract_attachments WHERE id = p_id AND contract_id = p_contract RETURNING * INTO a;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such attachment'); END IF;
    PERFORM audit_append(p_actor, p_req, 'contract', p_contract::text, 'detach', attachment_json(a), NULL);
END $$;
