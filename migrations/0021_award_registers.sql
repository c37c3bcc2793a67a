-- 0021_award_registers.sql — issue #20 part 6: the registers of technology-transfer
-- demonstration institutions (技术转移示范机构) and of technology brokers (技术经纪人),
-- and the Yanshi award to newly recognised institutions by level, as data (its
-- rules: 0021_award_registers/yanshi_institutions.json).
--
-- Rows are never deleted: a recognition or a qualification entered by mistake, or
-- revoked, is withdrawn (withdrawn_at, withdrawn_reason) and stays in the history.
-- Every change is audited (functions/registers.sql).

INSERT INTO code_lists (list, label, description) VALUES
('institution_levels', '技术转移示范机构级别',
 '技术转移示范机构的认定级别；extra.rank 越大级别越高（同一年度同时符合两级以上奖励的，按最高级别奖励）。');

INSERT INTO codes (list, code, label, label_en, sort, extra) VALUES
('institution_levels', 'national',   '国家级技术转移示范机构', 'National technology-transfer demonstration institution',   10, '{"rank": 3}'),
('institution_levels', 'provincial', '省级技术转移示范机构',   'Provincial technology-transfer demonstration institution', 20, '{"rank": 2}'),
('institution_levels', 'city',       '市级技术转移示范机构',   'City technology-transfer demonstration institution',       30, '{"rank": 1}');

CREATE TABLE institution_recognitions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES orgs (id),
    level            text NOT NULL CHECK (level ~ '^[a-z_]+$'),
    recognised_by    text NOT NULL CHECK (btrim(recognised_by) <> '' AND char_length(recognised_by) <= 200),
    recognised_on    date NOT NULL,
    document_no      text CHECK (char_length(document_no) <= 100),
    evidence         text NOT NULL CHECK (btrim(evidence) <> '' AND char_length(evidence) <= 500),
    note             text CHECK (char_length(note) <= 1000),
    created_by       bigint REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    withdrawn_at     timestamptz,
    withdrawn_by     bigint REFERENCES users (id),
    withdrawn_reason text CHECK (char_length(withdrawn_reason) <= 500),
    CONSTRAINT institution_recognitions_withdrawn CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL))
);
COMMENT ON TABLE institution_recognitions IS
    'Register of technology-transfer demonstration institutions: an organisation recognised at a level (code list institution_levels) by an authority on a date, with the document number and evidence. The org''s level is the highest one not withdrawn.';
CREATE INDEX institution_recognitions_org_idx ON institution_recognitions (org_id);
CREATE INDEX institution_recognitions_on_idx ON institution_recognitions (recognised_on) WHERE withdrawn_at IS NULL;

CREATE TABLE broker_qualifications (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id),
    kind             text NOT NULL CHECK (kind IN ('training', 'certification')),
    course           text CHECK (char_length(course) <= 200),
    hours            numeric(6, 1) CHECK (hours > 0 AND hours <= 10000),
    certificate_no   text CHECK (char_length(certificate_no) <= 100),
    issuer           text NOT NULL CHECK (btrim(issuer) <> '' AND char_length(issuer) <= 200),
    obtained_on      date NOT NULL,
    evidence         text NOT NULL CHECK (btrim(evidence) <> '' AND char_length(evidence) <= 500),
    note             text CHECK (char_length(note) <= 1000),
    created_by       bigint REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    withdrawn_at     timestamptz,
    withdrawn_by     bigint REFERENCES users (id),
    withdrawn_reason text CHECK (char_length(withdrawn_reason) <= 500),
    CONSTRAINT broker_qualifications_fields CHECK (
        (kind = 'training' AND course IS NOT NULL AND hours IS NOT NULL)
        OR (kind = 'certification' AND certificate_no IS NOT NULL)),
    CONSTRAINT broker_qualifications_withdrawn CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL))
);
COMMENT ON TABLE broker_qualifications IS
    'Register of technology brokers: a broker''s training (course, hours, organiser as issuer, date) or certification (certificate number, issuer, date), with evidence. The employer is the broker''s organisation (users.org_id).';
CREATE INDEX broker_qualifications_user_idx ON broker_qualifications (user_id);

-- The register is corrected by withdrawing, never by deleting.
REVOKE DELETE, TRUNCATE ON institution_recognitions, broker_qualifications FROM yizhan_app;

-- Subsidy awards may now go to an institution (by its recognised level).
ALTER TABLE subsidy_awards DROP CONSTRAINT subsidy_awards_party_check;
ALTER TABLE subsidy_awards ADD CONSTRAINT subsidy_awards_party_check
    CHECK (party IN ('seller', 'buyer', 'broker', 'office', 'institution'));

-- 偃政〔2021〕2号 三（五）: "对新认定的国家级和省级、洛阳市级技术转移示范机构，根据洛阳市文件，
-- 将分别给予30万元、10万元、5万元的奖励。若当年同时符合两级以上奖励的，按最高级别奖励。"
--   -> one line paying institutions recognised in the award year (recognised_on),
--      the highest level's amount; "洛阳市级同类奖励只能享受一次，不重复奖励": a level
--      already awarded by this policy in an earlier year is not awarded again.
INSERT INTO subsidy_policies (name, region_code, valid_from_year, valid_to_year, source, rules)
SELECT '偃师区技术转移示范机构奖励', '410307', 2021, NULL,
       '偃政〔2021〕2号《偃师市技术转移体系建设实施方案》三（五）（根据洛阳市文件）',
       (SELECT body::jsonb FROM migration_files WHERE name = 'yanshi_institutions.json')
WHERE EXISTS (SELECT 1 FROM regions WHERE code = '410307');
