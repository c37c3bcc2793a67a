-- 0016_office_seals.sql — the seal image (印章) of a registry office, drawn on
-- its PDF certificates and registration forms (issue #19 part 5).  One per
-- office; an admin uploads, replaces or removes it (functions/documents.sql).

CREATE TABLE office_seals (
    office_id   bigint PRIMARY KEY REFERENCES registry_offices (id),
    png         bytea NOT NULL CHECK (length(png) BETWEEN 33 AND 16777216),
    sha256      char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    width       integer NOT NULL CHECK (width BETWEEN 64 AND 4096),
    height      integer NOT NULL CHECK (height BETWEEN 64 AND 4096),
    uploaded_by bigint REFERENCES users (id),
    uploaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE office_seals IS
    'The seal image (PNG) of a registry office, printed on its PDF documents; read only by admins and the office''s officers.';
