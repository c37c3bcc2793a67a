-- 0001_baseline.sql — the schema: tables, indexes, constraints, types, the
-- application role and its grants.  Seed data is in 0002 (code lists and
-- settings), 0003 (regions, generated), 0004 (the working-day calendar) and
-- 0005 (plan targets and subsidy policies of the city plans).
--
-- This file and the ones after it replace the migrations 0001-0044 written
-- while Yizhan had no installation (issue #22).  A versioned migration changes
-- tables and data only; every SQL function, procedure, trigger and view lives
-- in migrations/functions/<module>.sql (applied after the versioned
-- migrations, in the order of migrations/functions/ORDER, whenever a file
-- changes).  The only functions defined here are the two that a CHECK
-- constraint uses (region_prefix, credit_code_valid): a table depends on them,
-- so they cannot be dropped and re-created with the function files.
--
-- Conventions that hold in every table here (later migrations should keep them):
--   * ids are `bigint GENERATED ALWAYS AS IDENTITY`; seed data that needs fixed ids
--     inserts with OVERRIDING SYSTEM VALUE and then calls setval().
--   * money is bigint fen (分), never numeric/float; NULL only where NULL means 面议.
--   * codes from code lists (0002: domains, org_types, contract_types, ip_types, ...)
--     are plain `text`, not enums and not CHECK-listed, so lists can grow as data.
--     The application validates them against `codes`; the schema only checks shape.
--   * region codes are char(6) GB/T 2260 and reference regions(code).
--   * rows the API edits carry `version int` (the ETag) and `updated_at`; the
--     trigger core_touch_row() (functions/core.sql) bumps both on every real
--     change, so handlers do `UPDATE ... WHERE id = $1 AND version = $2` and
--     never set them by hand.
--   * state columns are `status text` with a CHECK of lower-case words; CHECKs
--     below tie each state to the columns it needs (a registered contract has a
--     registration number, a rejected result a reason, ...).
-- Plain DDL: the migration runner wraps each file in its own transaction.

------------------------------------------------------------------------------
-- The application role
------------------------------------------------------------------------------

-- The role the server works as (it switches to it at connect: `-c role=`).
-- The migrating role owns the schema; yizhan_app may read and write data (every
-- table made from here on, by the default privileges) but only INSERT into the
-- audit log and the subsidy runs (revoked at the end of this file).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'yizhan_app') THEN
        CREATE ROLE yizhan_app NOLOGIN;
    END IF;
END $$;
GRANT yizhan_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO yizhan_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO yizhan_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO yizhan_app;

------------------------------------------------------------------------------
-- Code lists (代码表) and regulatory settings
------------------------------------------------------------------------------

-- Code lists are data, editable by an admin: C code refers to codes, never to labels.
-- Codes are stable ASCII identifiers (snake_case, or the official numeric codes for
-- org_types); labels are Chinese, label_en English. Two-level lists use parent_code.
-- `active = false` retires a code without breaking rows that reference it.

CREATE TABLE code_lists (
    list        text PRIMARY KEY,
    label       text NOT NULL,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE codes (
    list        text    NOT NULL REFERENCES code_lists,
    code        text    NOT NULL,
    label       text    NOT NULL,
    label_en    text    NOT NULL DEFAULT '',
    parent_code text,
    sort        int     NOT NULL DEFAULT 0,
    extra       jsonb   NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    PRIMARY KEY (list, code),
    FOREIGN KEY (list, parent_code) REFERENCES codes (list, code),
    CHECK (code ~ '^[a-z0-9_]+$'),
    CHECK (parent_code IS NULL OR parent_code <> code)
);

CREATE INDEX codes_parent_idx ON codes (list, parent_code);

CREATE TABLE settings (
    key         text        PRIMARY KEY,
    value       jsonb       NOT NULL,
    description text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

------------------------------------------------------------------------------
-- Regions (GB/T 2260 / 统计用区划代码; rows generated into 0003)
------------------------------------------------------------------------------

-- prefix = code with trailing "00" pairs stripped (510000 -> '51', 511900 -> '5119',
-- 511902 -> '511902'); the subtree of r is  code LIKE r.prefix || '%'.
CREATE FUNCTION region_prefix(code text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN code ~ '^[0-9]{2}0000$' THEN substr(code, 1, 2)
    WHEN code ~ '^[0-9]{4}00$'   THEN substr(code, 1, 4)
    ELSE code
  END
$$;

COMMENT ON FUNCTION region_prefix(text) IS
  'GB/T 2260 code with trailing "00" pairs stripped: 510000 -> 51, 511900 -> 5119, 511902 -> 511902';

CREATE TABLE regions (
    code        char(6)  PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text     NOT NULL,
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    parent_code char(6)  REFERENCES regions(code),
    prefix      text     NOT NULL,
    CHECK (prefix = region_prefix(code)),
    CHECK (length(prefix) = 2 * level),
    CHECK ((level = 1) = (parent_code IS NULL))
);

COMMENT ON TABLE regions IS
  'GB/T 2260 / 统计用区划代码: level 1 province, 2 prefecture-level city, 3 county-level unit. Generated by migrations/gen/regions.mjs';

CREATE INDEX regions_parent_code_idx ON regions (parent_code);
CREATE INDEX regions_code_pattern_idx ON regions (code bpchar_pattern_ops);
CREATE INDEX regions_code_text_pattern_idx ON regions ((code::text) text_pattern_ops);

-- region_paths lists, for every region, each level it counts towards
-- (itself, its city, its province, and '000000' for the country) with the key
-- that level uses for by=region: the statistics (functions/stats.sql) join it
-- instead of walking parents per call.  Filled and kept in step by
-- functions/stats.sql (the trigger regions_paths_sync).
CREATE TABLE region_paths (
    code      char(6) NOT NULL REFERENCES regions (code),
    ancestor  text    NOT NULL,
    child_key text    NOT NULL,
    PRIMARY KEY (code, ancestor)
);

------------------------------------------------------------------------------
-- Working-day calendar 工作日历 (rows in 0004)
------------------------------------------------------------------------------

-- Only exceptions are stored: public-holiday days off (kind 'holiday', including the
-- weekend days inside a holiday block) and weekend days that are working days
-- (调休上班, kind 'workday'). Any other day is a working day iff it is Monday–Friday.
CREATE TABLE calendar_days (
    day  date PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name text NOT NULL,
    -- A make-up working day is always a Saturday or Sunday.
    CONSTRAINT calendar_days_workday_on_weekend CHECK (kind <> 'workday' OR extract(isodow FROM day) >= 6)
);

COMMENT ON TABLE calendar_days IS
  'Exceptions to the Monday–Friday week: holidays (days off) and 调休 make-up working days';

------------------------------------------------------------------------------
-- Organisations
------------------------------------------------------------------------------

-- GB 32100-2015 unified social credit code: 18 characters from the 31-character
-- alphabet (no I, O, S, V, Z); the 18th is a check character over the first 17.
CREATE FUNCTION credit_code_valid(code text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    alphabet CONSTANT text  := '0123456789ABCDEFGHJKLMNPQRTUWXY';
    weights  CONSTANT int[] := '{1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28}';
    total int := 0;
BEGIN
    IF code !~ '^[0-9A-HJ-NP-RTUWXY]{18}$' THEN
        RETURN false;
    END IF;
    FOR i IN 1..17 LOOP
        total := total + (strpos(alphabet, substr(code, i, 1)) - 1) * weights[i];
    END LOOP;
    RETURN substr(alphabet, (31 - total % 31) % 31 + 1, 1) = substr(code, 18, 1);
END
$$;
COMMENT ON FUNCTION credit_code_valid(text) IS
    'True when the text is a GB 32100-2015 unified social credit code with a correct check character.';

------------------------------------------------------------------------------
-- Organisations
------------------------------------------------------------------------------

CREATE TABLE orgs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
    name_en             text CHECK (char_length(name_en) <= 300),
    org_type            text NOT NULL CHECK (org_type ~ '^[0-9]{3}$'),
    credit_code         char(18) UNIQUE CHECK (credit_code_valid(credit_code)),
    region_code         char(6) NOT NULL REFERENCES regions (code),
    state_funded        boolean NOT NULL DEFAULT false,
    verification_status text NOT NULL DEFAULT 'pending'
                        CHECK (verification_status IN ('pending', 'verified', 'rejected')),
    verified_at         timestamptz,
    verified_by         bigint,            -- FK to users added below (users reference orgs)
    verification_note   text,
    description         text CHECK (char_length(description) <= 4000),
    address             text,
    website             text,
    contact_name        text,
    contact_phone       text,
    contact_email       text,
    webhook_url         text CHECK (webhook_url ~ '^https?://'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             integer NOT NULL DEFAULT 1,
    -- Natural persons (400) and "other" (900, e.g. foreign parties) may lack a code.
    CONSTRAINT orgs_credit_code_required CHECK (credit_code IS NOT NULL OR org_type IN ('400', '900')),
    CONSTRAINT orgs_verified_has_time    CHECK (verification_status <> 'verified' OR verified_at IS NOT NULL)
);
COMMENT ON TABLE orgs IS
    'Organisations: universities, research institutes, enterprises, individuals. Holders of results, posters of needs, parties to contracts.';
COMMENT ON COLUMN orgs.org_type IS 'Code in code list org_types (010, 021, 022, ..., 110-190, 200, 300, 400, 900).';
COMMENT ON COLUMN orgs.credit_code IS 'Unified social credit code 统一社会信用代码 (GB 32100-2015), check character verified; NULL only for org_type 400/900.';
COMMENT ON COLUMN orgs.state_funded IS 'State-funded (国有/财政资助) university or institute: negotiated-price sales need a public notice (公示) first.';
COMMENT ON COLUMN orgs.webhook_url IS 'Where subscription notifications for this org are POSTed, if set.';
COMMENT ON COLUMN orgs.version IS 'Row version, the ETag; bumped by core_touch_row().';

CREATE INDEX orgs_region_idx ON orgs (region_code);
CREATE INDEX orgs_type_idx   ON orgs (org_type);
CREATE INDEX orgs_pending_idx ON orgs (created_at) WHERE verification_status = 'pending';

------------------------------------------------------------------------------
-- Registry offices 技术合同登记机构
------------------------------------------------------------------------------

CREATE TABLE registry_offices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (btrim(name) <> ''),
    region_code char(6) NOT NULL REFERENCES regions (code),
    active      boolean NOT NULL DEFAULT true,
    address     text,
    phone       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
COMMENT ON TABLE registry_offices IS
    'Technology-contract registry offices 登记机构. Each serves the subtree of its region; an application goes to the active office with the deepest region containing the applicant''s region.';
COMMENT ON COLUMN registry_offices.region_code IS 'Root of the served region subtree; also the middle six digits of its registration numbers.';

-- One active office per region, so "the office for a region" is unambiguous.
CREATE UNIQUE INDEX registry_offices_region_active_key ON registry_offices (region_code) WHERE active;

------------------------------------------------------------------------------
-- Users
------------------------------------------------------------------------------

CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email               text NOT NULL CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$' AND char_length(email) <= 254),
    display_name        text NOT NULL CHECK (btrim(display_name) <> '' AND char_length(display_name) <= 100),
    phone               text,
    password_hash       text NOT NULL CHECK (password_hash ~ '^\$?[a-z0-9-]+\$'),
    role                text NOT NULL
                        CHECK (role IN ('member', 'broker', 'reviewer', 'officer', 'bureau', 'admin')),
    org_id              bigint REFERENCES orgs (id),
    office_id           bigint REFERENCES registry_offices (id),
    region_code         char(6) REFERENCES regions (code),
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    version             integer NOT NULL DEFAULT 1,
    CONSTRAINT users_org_required    CHECK (role NOT IN ('member', 'broker') OR org_id IS NOT NULL),
    CONSTRAINT users_office_required CHECK (role <> 'officer' OR office_id IS NOT NULL),
    CONSTRAINT users_region_required CHECK (role <> 'bureau' OR region_code IS NOT NULL)
);
COMMENT ON TABLE users IS
    'People who sign in. One role each; member/broker belong to an org, an officer to a registry office, a bureau user to a region subtree.';
COMMENT ON COLUMN users.email IS 'Sign-in name; unique case-insensitively (users_email_key on lower(email)).';
COMMENT ON COLUMN users.password_hash IS 'Self-describing hash string, e.g. pbkdf2-sha256$600000$<salt b64>$<hash b64>.';
COMMENT ON COLUMN users.region_code IS 'For role bureau: the root of the region subtree whose statistics the user may read.';
COMMENT ON COLUMN users.password_changed_at IS 'Tokens issued before this instant are invalid.';

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_idx    ON users (org_id) WHERE org_id IS NOT NULL;
CREATE INDEX users_office_idx ON users (office_id) WHERE office_id IS NOT NULL;

ALTER TABLE orgs ADD CONSTRAINT orgs_verified_by_fkey FOREIGN KEY (verified_by) REFERENCES users (id);

------------------------------------------------------------------------------
-- Research results 科技成果
------------------------------------------------------------------------------

CREATE TABLE results (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder_org_id    bigint NOT NULL REFERENCES orgs (id),
    title            text NOT NULL CHECK (btrim(title) <> '' AND char_length(title) <= 200),
    summary          text NOT NULL DEFAULT '' CHECK (char_length(summary) <= 2000),
    keywords         text[] NOT NULL DEFAULT '{}',
    completers       text[] NOT NULL DEFAULT '{}',
    domain           text,
    industries       text[] NOT NULL DEFAULT '{}',
    trl              smallint CHECK (trl BETWEEN 1 AND 9),
    maturity         text,
    ip_records       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ip_records) = 'array'),
    transfer_modes   text[] NOT NULL DEFAULT '{}',
    pricing_mode     text,
    asking_price_fen bigint CHECK (asking_price_fen >= 0),
    region_code      char(6) REFERENCES regions (code),
    contact          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(contact) = 'object'),
    broker_user_id   bigint REFERENCES users (id),
    status           text NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'submitted', 'published', 'rejected', 'withdrawn',
                                       'under_notice', 'transacted')),
    reject_reason    text,
    submitted_at     timestamptz,
    reviewed_at      timestamptz,
    reviewed_by      bigint REFERENCES users (id),
    published_at     timestamptz,
    withdrawn_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    created_by       bigint REFERENCES users (id),
    version          integer NOT NULL DEFAULT 1,
    -- A draft may be incomplete; anything sent to review has what a reviewer needs.
    CONSTRAINT results_complete_when_submitted CHECK (
        status = 'draft'
        OR (submitted_at IS NOT NULL AND domain IS NOT NULL AND trl IS NOT NULL
            AND region_code IS NOT NULL AND btrim(summary) <> '')),
    CONSTRAINT results_rejected_has_reason CHECK (status <> 'rejected' OR reject_reason IS NOT NULL),
    CONSTRAINT results_published_has_time  CHECK (
        status NOT IN ('published', 'under_notice', 'transacted') OR published_at IS NOT NULL)
);
COMMENT ON TABLE results IS
    'Research results 科技成果 offered for transfer. Lifecycle draft -> submitted -> published | rejected; published -> withdrawn | under_notice -> transacted.';
COMMENT ON COLUMN results.summary IS 'At most 2,000 characters.';
COMMENT ON COLUMN results.completers IS 'Names of the completers 完成人, in order.';
COMMENT ON COLUMN results.domain IS 'Code in code list domains (the 11 technology domains).';
COMMENT ON COLUMN results.industries IS 'Applicable industries (国民经济行业 labels).';
COMMENT ON COLUMN results.trl IS 'Technology readiness level 1-9.';
COMMENT ON COLUMN results.maturity IS 'Code in code list maturity_stages (初期/中期/成熟).';
COMMENT ON COLUMN results.ip_records IS 'JSON array of {"type": ip_types code, "number": e.g. "ZL202310123456.7", "status": e.g. "granted"}.';
COMMENT ON COLUMN results.transfer_modes IS 'Codes in code list transfer_modes (转让, 许可, 作价投资, 合作实施, 其他).';
COMMENT ON COLUMN results.pricing_mode IS 'Code in code list pricing_modes (协议定价, 挂牌, 拍卖/竞价).';
COMMENT ON COLUMN results.asking_price_fen IS 'Asking price in fen; NULL means 面议 (negotiable).';
COMMENT ON COLUMN results.contact IS 'JSON object {"name", "phone", "email"} shown on the public listing.';
COMMENT ON COLUMN results.version IS 'Row version, the ETag; bumped by core_touch_row().';

CREATE INDEX results_listing_idx ON results (status, published_at DESC, id DESC);
CREATE INDEX results_holder_idx  ON results (holder_org_id, status, updated_at DESC);
CREATE INDEX results_domain_idx  ON results (domain, published_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX results_region_idx  ON results (region_code) WHERE status = 'published';
CREATE INDEX results_review_idx  ON results (submitted_at, id) WHERE status = 'submitted';

CREATE INDEX results_created_idx ON results (id DESC) WHERE status IN ('published', 'under_notice');

------------------------------------------------------------------------------
-- Technology needs 技术需求
------------------------------------------------------------------------------

CREATE TABLE needs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id            bigint NOT NULL REFERENCES orgs (id),
    title             text NOT NULL CHECK (btrim(title) <> '' AND char_length(title) <= 200),
    description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    keywords          text[] NOT NULL DEFAULT '{}',
    domain            text,
    industry          text,
    region_code       char(6) REFERENCES regions (code),
    budget_min_fen    bigint CHECK (budget_min_fen >= 0),
    budget_max_fen    bigint CHECK (budget_max_fen >= 0),
    deadline          date,
    cooperation_modes text[] NOT NULL DEFAULT '{}',
    contact           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(contact) = 'object'),
    broker_user_id    bigint REFERENCES users (id),
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'submitted', 'open', 'matched', 'closed', 'expired', 'rejected')),
    reject_reason     text,
    submitted_at      timestamptz,
    published_at      timestamptz,
    closed_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    created_by        bigint REFERENCES users (id),
    version           integer NOT NULL DEFAULT 1,
    trl_min           smallint CHECK (trl_min BETWEEN 1 AND 9),
    reviewed_at       timestamptz,
    reviewed_by       bigint REFERENCES users (id),
    close_reason      text CHECK (char_length(close_reason) <= 500),
    CONSTRAINT needs_budget_order CHECK (budget_min_fen IS NULL OR budget_max_fen IS NULL
                                         OR budget_min_fen <= budget_max_fen),
    CONSTRAINT needs_complete_when_submitted CHECK (
        status = 'draft'
        OR (domain IS NOT NULL AND region_code IS NOT NULL AND btrim(description) <> '')),
    CONSTRAINT needs_rejected_has_reason CHECK (status <> 'rejected' OR reject_reason IS NOT NULL),
    CONSTRAINT needs_open_has_time CHECK (
        status NOT IN ('open', 'matched', 'closed', 'expired') OR published_at IS NOT NULL)
);
COMMENT ON TABLE needs IS
    'Technology needs 技术需求 posted by enterprises. Lifecycle draft -> (submitted ->) open -> matched | closed | expired (deadline passed); a reviewer may reject.';
COMMENT ON COLUMN needs.domain IS 'Code in code list domains.';
COMMENT ON COLUMN needs.industry IS 'Industry of the posting enterprise (国民经济行业 label).';
COMMENT ON COLUMN needs.budget_min_fen IS 'Budget lower bound in fen; both bounds NULL means 面议.';
COMMENT ON COLUMN needs.budget_max_fen IS 'Budget upper bound in fen; NULL means open-ended or 面议.';
COMMENT ON COLUMN needs.cooperation_modes IS 'Codes in code list cooperation_modes (转让, 许可, 委托开发, 合作开发, 技术咨询, 技术服务).';
COMMENT ON COLUMN needs.published_at IS 'When the need became open (public).';
COMMENT ON COLUMN needs.version IS 'Row version, the ETag; bumped by core_touch_row().';
COMMENT ON COLUMN needs.trl_min IS 'Lowest technology readiness level (1-9) the enterprise can use; matching prefers results at or above it.';

CREATE INDEX needs_listing_idx  ON needs (status, published_at DESC, id DESC);
CREATE INDEX needs_org_idx      ON needs (org_id, status, updated_at DESC);
CREATE INDEX needs_domain_idx   ON needs (domain, published_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX needs_deadline_idx ON needs (deadline) WHERE status = 'open';
CREATE INDEX needs_review_idx   ON needs (submitted_at, id) WHERE status = 'submitted';

CREATE INDEX needs_created_idx ON needs (id DESC) WHERE status = 'open';

------------------------------------------------------------------------------
-- Technology contracts 技术合同 and their registration 认定登记
------------------------------------------------------------------------------

CREATE TABLE contracts (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title                     text NOT NULL CHECK (btrim(title) <> '' AND char_length(title) <= 300),
    contract_type             text,
    contract_subtype          text,

    -- Parties. org_id is NULL for a party that has no account here; the name,
    -- org type, region and credit code are always copied onto the contract so
    -- statistics and certificates do not change when an org record does.
    seller_org_id             bigint REFERENCES orgs (id),
    seller_name               text NOT NULL CHECK (btrim(seller_name) <> ''),
    seller_org_type           text CHECK (seller_org_type ~ '^[0-9]{3}$'),
    seller_region_code        char(6) REFERENCES regions (code),
    seller_credit_code        char(18),
    buyer_org_id              bigint REFERENCES orgs (id),
    buyer_name                text NOT NULL CHECK (btrim(buyer_name) <> ''),
    buyer_org_type            text CHECK (buyer_org_type ~ '^[0-9]{3}$'),
    buyer_region_code         char(6) REFERENCES regions (code),
    buyer_credit_code         char(18),
    intermediary_org_id       bigint REFERENCES orgs (id),
    intermediary_name         text,
    intermediary_org_type     text CHECK (intermediary_org_type ~ '^[0-9]{3}$'),
    intermediary_region_code  char(6) REFERENCES regions (code),
    intermediary_credit_code  char(18),
    broker_user_id            bigint REFERENCES users (id),

    signed_on                 date,
    effective_on              date,
    end_on                    date,

    contract_amount_fen       bigint NOT NULL DEFAULT 0 CHECK (contract_amount_fen >= 0),
    technical_amount_fen      bigint NOT NULL DEFAULT 0 CHECK (technical_amount_fen >= 0),
    non_technical_items       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(non_technical_items) = 'array'),
    payment_schedule          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(payment_schedule) = 'array'),
    received_amount_fen       bigint NOT NULL DEFAULT 0 CHECK (received_amount_fen >= 0),

    domain                    text,
    socio_economic_objective  text,
    ip_type                   text,
    plan_source               text,
    result_id                 bigint REFERENCES results (id),
    need_id                   bigint REFERENCES needs (id),
    is_import                 boolean NOT NULL DEFAULT false,

    -- Registration.
    applicant_org_id          bigint REFERENCES orgs (id),
    office_id                 bigint REFERENCES registry_offices (id),
    status                    text NOT NULL DEFAULT 'draft'
                              CHECK (status IN ('draft', 'submitted', 'returned', 'refused', 'registered', 'cancelled')),
    submitted_at              timestamptz,
    due_on                    date,
    returned_at               timestamptz,
    return_reason             text,
    refused_at                timestamptz,
    refusal_ground            text,
    refusal_detail            text,
    registration_no           text UNIQUE,
    registration_year         smallint CHECK (registration_year BETWEEN 1990 AND 2999),
    registration_serial       integer CHECK (registration_serial BETWEEN 1 AND 999999),
    registered_at             timestamptz,
    registered_by             bigint REFERENCES users (id),
    cancelled_at              timestamptz,
    cancel_reason             text,

    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    created_by                bigint REFERENCES users (id),
    version                   integer NOT NULL DEFAULT 1,

    CONSTRAINT contracts_technical_le_contract CHECK (technical_amount_fen <= contract_amount_fen),
    CONSTRAINT contracts_dates_order CHECK (
        (end_on IS NULL OR signed_on IS NULL OR end_on >= signed_on)
        AND (end_on IS NULL OR effective_on IS NULL OR end_on >= effective_on)),
    -- Anything past draft is a complete application sent to one office.
    CONSTRAINT contracts_complete_when_submitted CHECK (
        status = 'draft'
        OR (submitted_at IS NOT NULL AND office_id IS NOT NULL AND applicant_org_id IS NOT NULL
            AND contract_type IS NOT NULL AND contract_subtype IS NOT NULL AND signed_on IS NOT NULL
            AND seller_org_type IS NOT NULL AND buyer_org_type IS NOT NULL)),
    -- The seller applies; for a technology import the domestic buyer does.
    CONSTRAINT contracts_applicant_is_party CHECK (
        applicant_org_id IS NULL
        OR applicant_org_id = CASE WHEN is_import THEN buyer_org_id ELSE seller_org_id END),
    CONSTRAINT contracts_returned_has_reason CHECK (status <> 'returned' OR return_reason IS NOT NULL),
    CONSTRAINT contracts_refused_has_ground  CHECK (status <> 'refused' OR refusal_ground IS NOT NULL),
    CONSTRAINT contracts_cancelled_has_reason CHECK (
        status <> 'cancelled' OR (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL)),
    -- Registration number, year and serial come together, exactly on registered
    -- (and later cancelled) contracts, and agree with each other.
    CONSTRAINT contracts_registration_all_or_none CHECK (
        (registration_no IS NULL) = (registration_year IS NULL)
        AND (registration_no IS NULL) = (registration_serial IS NULL)
        AND (registration_no IS NULL) = (registered_at IS NULL)),
    CONSTRAINT contracts_registration_iff_registered CHECK (
        (registration_no IS NOT NULL) = (status IN ('registered', 'cancelled'))),
    CONSTRAINT contracts_registration_no_format CHECK (
        registration_no ~ '^[0-9]{16}$'
        AND left(registration_no, 4) = lpad(registration_year::text, 4, '0')
        AND right(registration_no, 6) = lpad(registration_serial::text, 6, '0')),
    CONSTRAINT contracts_office_serial_key UNIQUE (office_id, registration_year, registration_serial)
);
COMMENT ON TABLE contracts IS
    'Technology contracts 技术合同 and their registration 认定登记: draft -> submitted -> registered | returned (补正, resubmit) | refused; registered -> cancelled (注销). Amendments (变更) update in place; their history lives elsewhere.';
COMMENT ON COLUMN contracts.contract_type IS 'Top-level code in code list contract_types (技术开发/转让/许可/咨询/服务).';
COMMENT ON COLUMN contracts.contract_subtype IS 'Child code in code list contract_types whose parent_code is contract_type.';
COMMENT ON COLUMN contracts.seller_org_type IS 'Seller''s org_types code at signing, copied onto the contract for statistics.';
COMMENT ON COLUMN contracts.seller_region_code IS 'Seller''s region; outflow 输出 statistics. NULL only for a foreign seller (is_import).';
COMMENT ON COLUMN contracts.buyer_region_code IS 'Buyer''s region; inflow 吸纳 statistics. NULL for a foreign buyer.';
COMMENT ON COLUMN contracts.broker_user_id IS 'Technology broker 技术经纪人 who acted on the deal; counted in statistics and subsidies.';
COMMENT ON COLUMN contracts.contract_amount_fen IS '合同成交额 in fen.';
COMMENT ON COLUMN contracts.technical_amount_fen IS '技术交易额 in fen = contract amount - sum(non_technical_items.amount_fen); fixed by the officer at registration.';
COMMENT ON COLUMN contracts.non_technical_items IS 'JSON array of {"item": text, "amount_fen": integer}: equipment, instruments, parts, raw materials.';
COMMENT ON COLUMN contracts.payment_schedule IS 'JSON array of {"due_on": "YYYY-MM-DD", "amount_fen": integer, "note": text}.';
COMMENT ON COLUMN contracts.received_amount_fen IS '实际到账额: sum of contract_payments.amount_fen, maintained by trigger contract_payments_sync. Never set it directly.';
COMMENT ON COLUMN contracts.domain IS 'Code in code list domains.';
COMMENT ON COLUMN contracts.socio_economic_objective IS 'Code in code list socio_economic_objectives.';
COMMENT ON COLUMN contracts.ip_type IS 'Code in code list ip_types.';
COMMENT ON COLUMN contracts.plan_source IS 'Code in code list plan_sources (国家/部门/省级/地市县/计划外).';
COMMENT ON COLUMN contracts.is_import IS 'Technology import: the seller is abroad and the domestic buyer applies.';
COMMENT ON COLUMN contracts.applicant_org_id IS 'Org that applies for registration: seller_org_id, or buyer_org_id when is_import.';
COMMENT ON COLUMN contracts.office_id IS 'Registry office the application was sent to (the office of the applicant''s region).';
COMMENT ON COLUMN contracts.due_on IS 'Review deadline: submitted_at plus 15 (or 30 for expert review) working days; recomputed on resubmission.';
COMMENT ON COLUMN contracts.refusal_ground IS 'Code in code list refusal_grounds.';
COMMENT ON COLUMN contracts.registration_no IS '登记编号: YYYY || office region code || six-digit serial (see registration_number()).';
COMMENT ON COLUMN contracts.registration_serial IS 'Gap-free serial per office and year, taken from registration_counters in the registering transaction.';
COMMENT ON COLUMN contracts.version IS 'Row version, the ETag; bumped by core_touch_row().';

CREATE INDEX contracts_queue_idx     ON contracts (office_id, status, due_on);
CREATE INDEX contracts_seller_idx    ON contracts (seller_org_id, status) WHERE seller_org_id IS NOT NULL;
CREATE INDEX contracts_buyer_idx     ON contracts (buyer_org_id, status) WHERE buyer_org_id IS NOT NULL;
CREATE INDEX contracts_applicant_idx ON contracts (applicant_org_id, status) WHERE applicant_org_id IS NOT NULL;
CREATE INDEX contracts_broker_idx    ON contracts (broker_user_id) WHERE broker_user_id IS NOT NULL;
CREATE INDEX contracts_result_idx    ON contracts (result_id) WHERE result_id IS NOT NULL;
CREATE INDEX contracts_need_idx      ON contracts (need_id) WHERE need_id IS NOT NULL;
-- Statistics read registered contracts by year/date and by seller/buyer region.
CREATE INDEX contracts_stats_year_idx   ON contracts (registration_year, registered_at) WHERE status = 'registered';
CREATE INDEX contracts_stats_seller_idx ON contracts (seller_region_code, registered_at) WHERE status = 'registered';
CREATE INDEX contracts_stats_buyer_idx  ON contracts (buyer_region_code, registered_at) WHERE status = 'registered';
-- Integrity checks: the same parties registered before.
CREATE INDEX contracts_parties_idx ON contracts (seller_credit_code, buyer_credit_code)
    WHERE status IN ('registered', 'cancelled');

------------------------------------------------------------------------------
-- Registration counters
------------------------------------------------------------------------------

CREATE TABLE registration_counters (
    office_id   bigint NOT NULL REFERENCES registry_offices (id),
    year        smallint NOT NULL CHECK (year BETWEEN 1990 AND 2999),
    last_serial integer NOT NULL DEFAULT 0 CHECK (last_serial BETWEEN 0 AND 999999),
    PRIMARY KEY (office_id, year)
);
COMMENT ON TABLE registration_counters IS
    'Last registration serial issued per office and year. Incremented (row-locked) in the same transaction that registers the contract, so serials are gap-free and unique under concurrency.';

------------------------------------------------------------------------------
-- Payments received 实际到账额
------------------------------------------------------------------------------

CREATE TABLE contract_payments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id bigint NOT NULL REFERENCES contracts (id),
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    received_on date NOT NULL,
    note        text CHECK (char_length(note) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint REFERENCES users (id)
);
COMMENT ON TABLE contract_payments IS
    'Amounts actually received 实际到账额 against a registered contract, one row per receipt; their sum is contracts.received_amount_fen.';

CREATE INDEX contract_payments_contract_idx ON contract_payments (contract_id, received_on);

-- Lines of subsidy policies on amounts received read the payments of a year across all contracts.
CREATE INDEX contract_payments_received_on_idx ON contract_payments (received_on);

------------------------------------------------------------------------------
-- Refresh tokens (opaque, stored hashed, rotated on every use).  A family is
-- the chain of tokens descending from one sign-in; presenting an already used
-- token (a replay) revokes the whole family.
------------------------------------------------------------------------------

CREATE TABLE refresh_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    family_id     bigint NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id),
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
COMMENT ON TABLE refresh_tokens IS 'Refresh tokens by SHA-256 of the opaque token; rotated on use, revoked by family.';

------------------------------------------------------------------------------
-- The tamper-evident audit log
------------------------------------------------------------------------------

-- Every state change calls audit_append() (functions/audit.sql) in the same
-- transaction as the change.  Entries are chained: hash = SHA-256(prev_hash ||
-- canonical entry).  A trigger refuses UPDATE and DELETE, and yizhan_app has
-- only SELECT and INSERT on it.
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

------------------------------------------------------------------------------
-- Accounts: rate limits, invitations
------------------------------------------------------------------------------

-- Fixed-window counters; UNLOGGED: losing them in a crash only resets limits.
CREATE UNLOGGED TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

CREATE TABLE invitations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id),
    code_hash   text NOT NULL UNIQUE CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    role        text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'broker')),
    max_uses    integer NOT NULL DEFAULT 1 CHECK (max_uses BETWEEN 1 AND 100),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
    expires_at  timestamptz NOT NULL,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE invitations IS 'Invitation codes (stored hashed) with which a new user joins an existing org.';

------------------------------------------------------------------------------
-- The search index over public listings (published results, open needs),
-- maintained by triggers (functions/search.sql, whose head explains the tokens
-- and lexemes of tsv)
------------------------------------------------------------------------------

CREATE TABLE search_docs (
    sid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('result', 'need')),
    ref_id       bigint NOT NULL,
    org_id       bigint NOT NULL,
    head         text NOT NULL,            -- normalised title
    doc          text NOT NULL,            -- normalised title, keywords, summary/description, one per line
    tsv          tsvector NOT NULL,
    domain       text,
    region_code  char(6),
    trl          smallint,
    modes        text[] NOT NULL DEFAULT '{}',
    price_lo     bigint,                   -- result: asking price; need: budget (NULL = 面议)
    price_hi     bigint,
    holder_type  text,
    published_at timestamptz NOT NULL,
    deadline     date,                     -- needs: not shown after this day
    body         text NOT NULL,            -- the summary or description as written (for snippets)
    item         jsonb NOT NULL,           -- the hit as /search shows it, less snippet and match tier
    UNIQUE (kind, ref_id)
);
COMMENT ON TABLE search_docs IS
    'Search index of public listings (published results, open needs); one row each, maintained by triggers on results, needs, orgs and codes. Never written by the API.';
COMMENT ON COLUMN search_docs.item IS
    'The listing as a search hit (labels included), kept here so that a page of hits costs one row read each; refreshed when the listing, its holder or a code label changes.';
ALTER TABLE search_docs ALTER tsv SET STATISTICS 1000;  -- frequent tokens are known to the planner
-- What a page of hits reads (item, body) stays in the row; what only the index
-- and the recheck need (tsv, doc) goes to TOAST first, so rows stay narrow.
ALTER TABLE search_docs ALTER tsv SET STORAGE EXTERNAL, ALTER item SET STORAGE MAIN, ALTER body SET STORAGE MAIN;

CREATE INDEX search_docs_tsv_idx    ON search_docs USING gin (tsv);
CREATE INDEX search_docs_recent_idx ON search_docs (published_at DESC, sid DESC);
CREATE INDEX search_docs_org_idx    ON search_docs (org_id);

------------------------------------------------------------------------------
-- Idempotency-Key for requests that create something (functions/idempotency.sql)
------------------------------------------------------------------------------

CREATE TABLE idempotency_keys (
    user_id      bigint NOT NULL REFERENCES users (id),
    key          text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
    route        text NOT NULL,
    request_hash text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    status       integer CHECK (status BETWEEN 100 AND 599),
    response     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
COMMENT ON TABLE idempotency_keys IS
    'First response to each Idempotency-Key (per user), kept idempotency_ttl_h hours; request_hash = SHA-256 of route and canonical body.';

------------------------------------------------------------------------------
-- Saved searches, in-app notifications and the webhook outbox
-- (functions/subscriptions.sql)
------------------------------------------------------------------------------

CREATE TABLE subscriptions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    name       text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 100),
    query      jsonb NOT NULL CHECK (jsonb_typeof(query) = 'object'),
    tsq        tsquery,                    -- text tokens and filter lexemes; NULL matches everything
    patterns   text[] NOT NULL DEFAULT '{}',
    price_min  bigint,
    price_max  bigint,
    webhook    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, id DESC);
COMMENT ON TABLE subscriptions IS
    'Saved searches: query is what the user asked (shown back), tsq/patterns/prices what the server compiled from it (server/api/market_search.c) to test new listings.';

CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id),
    subscription_id bigint REFERENCES subscriptions (id) ON DELETE SET NULL,
    kind            text NOT NULL CHECK (kind IN ('result', 'need')),
    ref_id          bigint NOT NULL,
    title           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz,
    UNIQUE (subscription_id, kind, ref_id)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
COMMENT ON TABLE notifications IS 'In-app notifications (推送): a newly public listing that matched a saved search.';

CREATE TABLE webhook_secrets (
    org_id     bigint PRIMARY KEY REFERENCES orgs (id),
    secret     text NOT NULL CHECK (char_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE webhook_secrets IS 'Per-org HMAC-SHA256 key for webhook signatures; made on first use, rotated by the org.';

CREATE TABLE webhook_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id),
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_outbox_org_idx ON webhook_outbox (org_id, id DESC);
COMMENT ON TABLE webhook_outbox IS
    'Webhook deliveries to send: pending until a 2xx (delivered), retried with backoff, failed after webhook_max_attempts; cancelled when the org removed its URL.';

------------------------------------------------------------------------------
-- Contracts: change requests, signing keys, attachments
------------------------------------------------------------------------------

-- Requests for amendment (变更) and cancellation (注销): the seller asks, an
-- officer of the office confirms or rejects; the row keeps before and after.
CREATE TABLE contract_changes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id  bigint NOT NULL REFERENCES contracts (id),
    kind         text NOT NULL CHECK (kind IN ('amend', 'cancel')),
    reason       text NOT NULL CHECK (btrim(reason) <> '' AND char_length(reason) <= 1000),
    changes      jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'rejected')),
    requested_by bigint REFERENCES users (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_by   bigint REFERENCES users (id),
    decided_at   timestamptz,
    decision_note text,
    before       jsonb,
    after        jsonb
);
CREATE INDEX contract_changes_contract ON contract_changes (contract_id, id);
CREATE UNIQUE INDEX contract_changes_one_pending ON contract_changes (contract_id) WHERE status = 'pending';

-- The offices' Ed25519 public keys.  Private keys live in files under
-- YIZHAN_SIGNING_KEY_DIR, never in the database.
CREATE TABLE signing_keys (
    key_id         text PRIMARY KEY,
    office_id      bigint NOT NULL REFERENCES registry_offices (id),
    public_key     bytea NOT NULL CHECK (length(public_key) = 32),
    public_key_pem text NOT NULL,
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_to       timestamptz
);
CREATE UNIQUE INDEX signing_keys_current ON signing_keys (office_id) WHERE valid_to IS NULL;

-- The scanned signed contract and other files of an application.  Stored with
-- their SHA-256, re-checked on every download, so a file changed behind the
-- server's back is detected.
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

------------------------------------------------------------------------------
-- Technology-market statistics (技术市场统计) and plan targets
------------------------------------------------------------------------------

-- Statistics are kept up to date in the same transaction as every contract
-- change (functions/stats.sql), so a statistics request reads a handful of
-- pre-aggregated rows instead of scanning contracts.
--
-- contract_stats holds, for every region LEVEL on a party's path (the whole
-- country '000000', the province, the city, the county), per registration
-- year and month, per flow (out = the seller is in the region 输出, in = the
-- buyer is 吸纳), per dimension and key: count and the three amounts.  A
-- request for region R, year Y, flow F, dimension D is then one index range.
-- Only registered contracts count: cancelling subtracts, amending subtracts
-- the old figures and adds the new ones, a payment adds to the received sum.
CREATE TABLE contract_stats (
    region_code   text     NOT NULL,   -- '000000' = the whole country (text: compared with text parameters, so the key index is used)
    year          smallint NOT NULL,
    flow          text     NOT NULL CHECK (flow IN ('out', 'in')),
    dim           text     NOT NULL,
    key           text     NOT NULL,
    month         smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    n             bigint   NOT NULL DEFAULT 0,
    contract_fen  bigint   NOT NULL DEFAULT 0,
    technical_fen bigint   NOT NULL DEFAULT 0,
    received_fen  bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (region_code, year, flow, dim, key, month)
);
COMMENT ON TABLE contract_stats IS
    'Aggregates of registered contracts by region level, year, month, flow and dimension; maintained by trigger.';

-- Plan targets (计划目标): per region, year and metric.
CREATE TABLE plan_targets (
    region_code char(6) NOT NULL REFERENCES regions (code),
    year        smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    metric      text NOT NULL CHECK (metric IN ('contract_amount', 'technical_amount', 'contracts', 'results_transferred')),
    target      bigint NOT NULL CHECK (target >= 0),  -- fen for amounts, a count otherwise
    note        text,
    updated_by  bigint REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region_code, year, metric)
);
COMMENT ON TABLE plan_targets IS 'Plan targets per region, year and metric (amounts in fen).';

------------------------------------------------------------------------------
-- Subsidy policies (后补助政策) and their runs (functions/subsidies.sql)
------------------------------------------------------------------------------

-- A policy is a row whose rules are jsonb, checked by subsidy_rules_check()
-- (the head of functions/subsidies.sql lists the rules).  Runs are stored and
-- never change (triggers refuse UPDATE and DELETE, and the server role may
-- only insert): subsidy_runs (one per POST /subsidy-runs), subsidy_run_policies
-- (per policy: the rules snapshot used, the region it covered, the previous run
-- it is compared with, totals), subsidy_awards (one per line and recipient:
-- kind 'award', or 'clawback' for a contract of the previous run that is now
-- cancelled) and subsidy_award_contracts (each award apportioned to the
-- contracts it was computed from).

CREATE TABLE subsidy_policies (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 200),
    region_code     char(6) NOT NULL REFERENCES regions (code),
    valid_from_year smallint NOT NULL CHECK (valid_from_year BETWEEN 2000 AND 2100),
    valid_to_year   smallint CHECK (valid_to_year BETWEEN 2000 AND 2100),
    rules           jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'object'),
    source          text CHECK (char_length(source) <= 500),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by      bigint REFERENCES users (id),
    version         integer NOT NULL DEFAULT 1,
    CONSTRAINT subsidy_policies_years CHECK (valid_to_year IS NULL OR valid_to_year >= valid_from_year)
);
COMMENT ON TABLE subsidy_policies IS
    'Subsidy policies 后补助政策: who is paid, on which base, at which rate, with which caps and budget — as data (rules jsonb, see subsidy_rules_check).';
COMMENT ON COLUMN subsidy_policies.region_code IS 'The paying bureau''s region: a run covers contracts whose paid party is in this subtree.';
COMMENT ON COLUMN subsidy_policies.source IS 'Where the rules come from (document number and article).';
CREATE INDEX subsidy_policies_region_idx ON subsidy_policies (region_code);

CREATE TABLE subsidy_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year         smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    region_code  char(6) REFERENCES regions (code),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   bigint REFERENCES users (id),
    request_id   text
);
COMMENT ON TABLE subsidy_runs IS
    'One computation of awards for a year (POST /subsidy-runs). Never changes; a later run for the same policy and year supersedes it.';
COMMENT ON COLUMN subsidy_runs.region_code IS 'The region asked for, NULL = each policy''s whole region.';

CREATE TABLE subsidy_run_policies (
    run_id               bigint NOT NULL REFERENCES subsidy_runs (id),
    policy_id            bigint NOT NULL REFERENCES subsidy_policies (id),
    year                 smallint NOT NULL,
    scope_region         char(6) NOT NULL REFERENCES regions (code),
    policy_name          text NOT NULL,
    policy_version       integer NOT NULL,
    rules                jsonb NOT NULL,
    previous_run_id      bigint REFERENCES subsidy_runs (id),
    claims_fen           bigint NOT NULL,
    budget_fen           bigint,
    pro_rated            boolean NOT NULL,
    awarded_fen          bigint NOT NULL,
    clawback_fen         bigint NOT NULL,
    previous_awarded_fen bigint,
    digest               text NOT NULL,     -- SHA-256 over the awards (line, recipient, amount, shares)
    PRIMARY KEY (run_id, policy_id)
);
COMMENT ON TABLE subsidy_run_policies IS
    'Per run and policy: the rules snapshot used, the region covered, the previous run of the same policy, year and region, and totals.';
CREATE INDEX subsidy_run_policies_prev_idx ON subsidy_run_policies (policy_id, year, scope_region, run_id);

CREATE TABLE subsidy_awards (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id                   bigint NOT NULL REFERENCES subsidy_runs (id),
    policy_id                bigint NOT NULL REFERENCES subsidy_policies (id),
    line_no                  smallint NOT NULL,
    kind                     text NOT NULL CHECK (kind IN ('award', 'clawback')),
    party                    text NOT NULL CHECK (party IN ('seller', 'buyer', 'broker', 'office')),
    recipient_key            text NOT NULL,
    org_id                   bigint REFERENCES orgs (id),
    broker_user_id           bigint REFERENCES users (id),
    office_id                bigint REFERENCES registry_offices (id),
    recipient_name           text NOT NULL,
    recipient_credit_code    text,
    region_code              char(6),
    base_total_fen           bigint NOT NULL,
    amount_before_budget_fen bigint NOT NULL,
    amount_fen               bigint NOT NULL,
    previous_amount_fen      bigint,
    change_fen               bigint,
    reasons                  jsonb NOT NULL,
    CONSTRAINT subsidy_awards_sign CHECK ((kind = 'award' AND amount_fen >= 0) OR (kind = 'clawback' AND amount_fen < 0))
);
COMMENT ON TABLE subsidy_awards IS
    'Awards of a run: kind award = the recipient''s entitlement under the line (>= 0); kind clawback = minus the share a now cancelled contract had in the previous run''s award.';
COMMENT ON COLUMN subsidy_awards.recipient_key IS 'org:<id> | credit:<code> | name:<name> (a party without an account here) | broker:<user id> | office:<id>.';
COMMENT ON COLUMN subsidy_awards.change_fen IS 'amount_fen - previous_amount_fen: what this run adds (+) to or recovers (-) from the previous run''s award; NULL without a previous run.';
CREATE INDEX subsidy_awards_run_idx ON subsidy_awards (run_id, policy_id, line_no, kind, recipient_key);

CREATE TABLE subsidy_award_contracts (
    award_id        bigint NOT NULL REFERENCES subsidy_awards (id),
    contract_id     bigint NOT NULL REFERENCES contracts (id),
    registration_no text,
    base_fen        bigint NOT NULL,
    amount_exact    numeric,
    capped          boolean NOT NULL DEFAULT false,
    excluded        text,
    share_fen       bigint NOT NULL,
    PRIMARY KEY (award_id, contract_id)
);
COMMENT ON TABLE subsidy_award_contracts IS
    'The contracts behind an award: base, exact amount before recipient caps, exclusion reason (share 0), and the share of the award apportioned to it (largest remainder).';
CREATE INDEX subsidy_award_contracts_contract_idx ON subsidy_award_contracts (contract_id) WHERE share_fen > 0;

-- The working types of subsidy_compute().
CREATE TYPE subsidy_item AS (
    line_no         int,
    contract_id     bigint,
    registration_no text,
    rkey            text,
    org_id          bigint,
    broker_id       bigint,
    office_id       bigint,
    rname           text,
    rcredit         text,
    region          text,
    base_fen        bigint,
    excluded        text,
    exact           numeric,   -- flat: min(base * bp / 10000, cap_per_contract); NULL for tiers or excluded
    capped          boolean
);

CREATE TYPE subsidy_rec AS (
    line_no    int,
    rkey       text,
    sort_id    bigint,
    org_id     bigint,
    broker_id  bigint,
    office_id  bigint,
    rname      text,
    rcredit    text,
    region     text,
    base_total bigint,
    pre        bigint,         -- rounded amount before the budget
    final      bigint,
    rem        numeric,        -- pro-rating remainder
    reasons    jsonb
);

------------------------------------------------------------------------------
-- Deal flow: inquiries (意向/洽谈) and their messages, public notices (公示)
-- with objections, auctions (拍卖/竞价) with bids, and deal notifications
-- (functions/deals.sql)
------------------------------------------------------------------------------

-- Notifications about deals, beside those about saved searches.
CREATE TABLE deal_notifications (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint NOT NULL REFERENCES orgs (id),
    kind       text NOT NULL CHECK (kind IN ('inquiry', 'message', 'agreed', 'declined', 'expired', 'notice',
                                             'objection', 'notice_passed', 'notice_failed', 'bid', 'outbid',
                                             'auction_won', 'auction_closed', 'contract_draft')),
    ref_kind   text NOT NULL,
    ref_id     bigint NOT NULL,
    title      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz
);
CREATE INDEX deal_notifications_org ON deal_notifications (org_id, id DESC);

CREATE TABLE inquiries (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    result_id          bigint REFERENCES results (id),
    need_id            bigint REFERENCES needs (id),
    seller_org_id      bigint NOT NULL REFERENCES orgs (id),   -- the technology side
    buyer_org_id       bigint NOT NULL REFERENCES orgs (id),
    initiator_org_id   bigint NOT NULL REFERENCES orgs (id),
    broker_user_id     bigint REFERENCES users (id),
    kind               text NOT NULL DEFAULT 'negotiated' CHECK (kind IN ('negotiated', 'listed', 'auction')),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'agreed', 'declined', 'expired')),
    agreed_price_fen   bigint CHECK (agreed_price_fen >= 0),
    last_activity_at   timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz,
    close_reason       text,
    contract_id        bigint REFERENCES contracts (id),
    created_by         bigint REFERENCES users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    version            integer NOT NULL DEFAULT 1,
    CHECK ((result_id IS NULL) <> (need_id IS NULL)),
    CHECK (seller_org_id <> buyer_org_id),
    CHECK (status <> 'agreed' OR agreed_price_fen IS NOT NULL)
);
CREATE INDEX inquiries_seller ON inquiries (seller_org_id, id DESC);
CREATE INDEX inquiries_buyer ON inquiries (buyer_org_id, id DESC);
CREATE INDEX inquiries_open ON inquiries (last_activity_at) WHERE status = 'open';
CREATE UNIQUE INDEX inquiries_one_open ON inquiries (coalesce(result_id, 0), coalesce(need_id, 0), buyer_org_id, seller_org_id)
    WHERE status = 'open';

CREATE TABLE inquiry_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inquiry_id     bigint NOT NULL REFERENCES inquiries (id),
    author_user_id bigint REFERENCES users (id),
    author_org_id  bigint REFERENCES orgs (id),
    body           text NOT NULL CHECK (btrim(body) <> '' AND char_length(body) <= 4000),
    price_fen      bigint CHECK (price_fen >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inquiry_messages_inquiry ON inquiry_messages (inquiry_id, id);

CREATE TABLE notices (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    result_id    bigint NOT NULL REFERENCES results (id),
    inquiry_id   bigint NOT NULL REFERENCES inquiries (id),
    result_title text NOT NULL,
    holder_name  text NOT NULL,
    price_fen    bigint NOT NULL CHECK (price_fen >= 0),
    starts_at    timestamptz NOT NULL DEFAULT now(),
    ends_at      timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'passed', 'failed')),
    closed_at    timestamptz
);
CREATE INDEX notices_active ON notices (ends_at) WHERE status = 'active';

CREATE TABLE objections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id   bigint NOT NULL REFERENCES notices (id),
    name        text NOT NULL CHECK (btrim(name) <> '' AND char_length(name) <= 100),
    contact     text NOT NULL CHECK (btrim(contact) <> '' AND char_length(contact) <= 200),
    body        text NOT NULL CHECK (btrim(body) <> '' AND char_length(body) <= 4000),
    status      text NOT NULL DEFAULT 'filed' CHECK (status IN ('filed', 'upheld', 'dismissed')),
    decided_by  bigint REFERENCES users (id),
    decided_at  timestamptz,
    decision_note text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX objections_notice ON objections (notice_id);

CREATE TABLE auctions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    result_id        bigint NOT NULL REFERENCES results (id),
    reserve_fen      bigint NOT NULL CHECK (reserve_fen >= 0),
    increment_fen    bigint NOT NULL CHECK (increment_fen > 0),
    starts_at        timestamptz NOT NULL DEFAULT now(),
    ends_at          timestamptz NOT NULL,
    extension_window_s integer NOT NULL CHECK (extension_window_s BETWEEN 0 AND 3600),
    extension_s      integer NOT NULL CHECK (extension_s BETWEEN 0 AND 3600),
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    best_bid_id      bigint,
    winner_bid_id    bigint,
    closed_at        timestamptz,
    created_by       bigint REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auctions_one_open ON auctions (result_id) WHERE status = 'open';
CREATE INDEX auctions_due ON auctions (ends_at) WHERE status = 'open';

CREATE TABLE bids (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    auction_id    bigint NOT NULL REFERENCES auctions (id),
    bidder_org_id bigint NOT NULL REFERENCES orgs (id),
    bidder_user_id bigint REFERENCES users (id),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX bids_auction ON bids (auction_id, amount_fen DESC, id);

------------------------------------------------------------------------------
-- Rendered public documents of results (functions/market.sql: result_docs_sync)
------------------------------------------------------------------------------

CREATE TABLE result_docs (
    id  bigint PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
    doc text NOT NULL  -- market_result_json(r, false)::text
);
COMMENT ON TABLE result_docs IS
    'The public JSON of each result the public can see (published, under notice), rendered when it changes.';

------------------------------------------------------------------------------
-- Grants beyond the default privileges
------------------------------------------------------------------------------

-- The tables made by the migration runner before this file: yizhan_app reads
-- them (GET /readyz), never writes them.
GRANT SELECT ON schema_migrations, schema_functions, schema_function_objects TO yizhan_app;
-- Append-only for the server: the audit log and the subsidy runs.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM yizhan_app;
REVOKE UPDATE, DELETE, TRUNCATE ON subsidy_runs, subsidy_run_policies, subsidy_awards, subsidy_award_contracts
    FROM yizhan_app;
