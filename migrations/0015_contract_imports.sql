-- 0015_contract_imports.sql — importing past contracts (issue #19 part 2): the
-- batches, the contract's mark of the batch it came in, and what an imported
-- registration may lack.  The import itself is functions/imports.sql.

CREATE TABLE import_batches (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    filename             text CHECK (char_length(filename) <= 200),
    sha256               char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    format               text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    encoding             text CHECK (encoding IN ('utf-8', 'utf-8-bom', 'gb18030')),
    contracts            integer NOT NULL CHECK (contracts > 0),
    contract_amount_fen  bigint NOT NULL CHECK (contract_amount_fen >= 0),
    technical_amount_fen bigint NOT NULL CHECK (technical_amount_fen >= 0),
    first_registration_no text,
    last_registration_no  text,
    office_id            bigint REFERENCES registry_offices (id),
    created_by           bigint REFERENCES users (id),
    request_id           text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE import_batches IS
    'One import of past contracts (历史导入) from a CSV or XLSX file: all its rows were registered together or none was.';
COMMENT ON COLUMN import_batches.office_id IS
    'The importing officer''s office (every contract of the batch is that office''s); NULL for an admin or the command line.';
COMMENT ON COLUMN import_batches.sha256 IS 'SHA-256 of the file as uploaded.';
CREATE INDEX import_batches_office_idx ON import_batches (office_id, id);

ALTER TABLE contracts ADD COLUMN import_batch_id bigint REFERENCES import_batches (id);
COMMENT ON COLUMN contracts.import_batch_id IS
    'Set on contracts imported from an earlier system (历史导入): registered with their own number and date, no application, no certificate signed here.';
CREATE INDEX contracts_import_batch_idx ON contracts (import_batch_id) WHERE import_batch_id IS NOT NULL;

-- An imported registration has no application behind it: the applicant may have no
-- organisation here and there was no submission, so those two may be missing.
ALTER TABLE contracts DROP CONSTRAINT contracts_complete_when_submitted;
ALTER TABLE contracts ADD CONSTRAINT contracts_complete_when_submitted CHECK (
    status = 'draft'
    OR (office_id IS NOT NULL AND contract_type IS NOT NULL AND contract_subtype IS NOT NULL
        AND signed_on IS NOT NULL AND seller_org_type IS NOT NULL AND buyer_org_type IS NOT NULL
        AND ((submitted_at IS NOT NULL AND applicant_org_id IS NOT NULL) OR import_batch_id IS NOT NULL)));

-- Imports guess a party's org type, when the file leaves it out, from the first two
-- characters of its unified social credit code (GB 32100-2015: 登记管理部门代码 and
-- 机构类别代码 — 1 机构编制: 11 机关, 12 事业单位, 13 群团; 5 民政: 51 社会团体, 52 民办非企业单位,
-- 53 基金会; 9 市场监管: 91 企业, 92 个体工商户, 93 农民专业合作社).
UPDATE codes SET extra = extra || jsonb_build_object('credit_code_prefixes', v.p)
FROM (VALUES ('010', '["11"]'::jsonb), ('020', '["12"]'), ('030', '["13", "51", "52", "53"]'),
             ('100', '["91", "92", "93"]')) AS v(code, p)
WHERE codes.list = 'org_types' AND codes.code = v.code;

INSERT INTO settings (key, value, description) VALUES
('import_max_rows', '100000', '一次导入历史合同文件的最多行数（不含表头）；网页上传另受请求体大小上限 YIZHAN_MAX_BODY_BYTES 限制');

-- The statistics' key columns compare bytewise (collation "C"): they hold codes
-- ('511900', 'out', 'type', 'patent_transfer'), never text a person sorts, and
-- under a libc locale every comparison in the key index was a strcoll() —
-- adding a bulk import's aggregates (a few hundred thousand upserts) spent
-- most of its time there.  Queries with default-collation parameters still use
-- the index: a column's own collation wins.
ALTER TABLE contract_stats
    ALTER COLUMN region_code TYPE text COLLATE "C",
    ALTER COLUMN flow TYPE text COLLATE "C",
    ALTER COLUMN dim TYPE text COLLATE "C",
    ALTER COLUMN key TYPE text COLLATE "C";
