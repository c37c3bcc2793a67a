-- 0005_core.sql — the core domain tables: organisations, registry offices, users,
-- research results (科技成果), technology needs (技术需求), technology contracts and
-- their registration (技术合同认定登记), registration counters and payments received.
--
-- Conventions that hold in every table here (later migrations should keep them):
--   * ids are `bigint GENERATED ALWAYS AS IDENTITY`; seed data that needs fixed ids
--     inserts with OVERRIDING SYSTEM VALUE and then calls setval().
--   * money is bigint fen (分), never numeric/float; NULL only where NULL means 面议.
--   * codes from code lists (0002: domains, org_types, contract_types, ip_types, ...)
--     are plain `text`, not enums and not CHECK-listed, so lists can grow as data.
--     The application validates them against `codes`; the schema only checks shape.
--   * region codes are char(6) GB/T 2260 and reference regions(code) (0003).
--   * rows the API edits carry `version int` (the ETag) and `updated_at`; the
--     trigger core_touch_row() bumps both on every real change, so handlers do
--     `UPDATE ... WHERE id = $1 AND version = $2` and never set them by hand.
--   * state columns are `status text` with a CHECK of lower-case words; CHECKs
--     below tie each state to the columns it needs (a registered contract has a
--     registration number, a rejected result a reason, ...).
-- Plain DDL: the migration runner wraps this file in its own transaction.

------------------------------------------------------------------------------
-- Helpers
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

-- Bumps version and updated_at on every UPDATE that changes something. A no-op
-- UPDATE keeps the ETag, so a repeated PATCH with the same body stays cheap.
CREATE FUNCTION core_touch_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    NEW.version    := OLD.version + 1;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION core_touch_row() IS
    'BEFORE UPDATE trigger: sets updated_at = now() and version = old version + 1 when the row changed.';

-- Registration number 登记编号: YYYY + the office''s six-digit region code + a
-- six-digit serial per office and year.
CREATE FUNCTION registration_number(year integer, office_region text, serial integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lpad(year::text, 4, '0') || office_region || lpad(serial::text, 6, '0')
$$;
COMMENT ON FUNCTION registration_number(integer, text, integer) IS
    'Formats a registration number: YYYY || six-digit office region code || six-digit serial.';

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

CREATE TRIGGER orgs_touch BEFORE UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION core_touch_row();

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

CREATE TRIGGER registry_offices_touch BEFORE UPDATE ON registry_offices FOR EACH ROW EXECUTE FUNCTION core_touch_row();

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

CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION core_touch_row();

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

CREATE TRIGGER results_touch BEFORE UPDATE ON results FOR EACH ROW EXECUTE FUNCTION core_touch_row();

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

CREATE INDEX needs_listing_idx  ON needs (status, published_at DESC, id DESC);
CREATE INDEX needs_org_idx      ON needs (org_id, status, updated_at DESC);
CREATE INDEX needs_domain_idx   ON needs (domain, published_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX needs_deadline_idx ON needs (deadline) WHERE status = 'open';
CREATE INDEX needs_review_idx   ON needs (submitted_at, id) WHERE status = 'submitted';

CREATE TRIGGER needs_touch BEFORE UPDATE ON needs FOR EACH ROW EXECUTE FUNCTION core_touch_row();

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

CREATE TRIGGER contracts_touch BEFORE UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION core_touch_row();

-- The middle six digits of a registration number are the office's region code.
-- A CHECK cannot look at registry_offices, so a trigger does.
CREATE FUNCTION contracts_check_registration_no() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    office_region text;
BEGIN
    IF NEW.registration_no IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT region_code INTO office_region FROM registry_offices WHERE id = NEW.office_id;
    IF office_region IS NULL OR substr(NEW.registration_no, 5, 6) <> office_region THEN
        RAISE EXCEPTION 'registration number % does not carry the region code of office %',
                        NEW.registration_no, NEW.office_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'contracts_registration_no_office',
                  TABLE = 'contracts';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER contracts_registration_no_office
    BEFORE INSERT OR UPDATE OF registration_no, office_id ON contracts
    FOR EACH ROW EXECUTE FUNCTION contracts_check_registration_no();

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

-- Takes the next serial; the row lock is held until the caller's transaction
-- ends, and a rollback gives the number back, so there are no gaps.
CREATE FUNCTION registration_next_serial(p_office_id bigint, p_year integer) RETURNS integer
LANGUAGE sql VOLATILE AS $$
    INSERT INTO registration_counters AS c (office_id, year, last_serial)
    VALUES (p_office_id, p_year, 1)
    ON CONFLICT (office_id, year) DO UPDATE SET last_serial = c.last_serial + 1
    RETURNING last_serial
$$;
COMMENT ON FUNCTION registration_next_serial(bigint, integer) IS
    'Next gap-free registration serial for (office, year); call inside the registering transaction.';

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

-- Keeps contracts.received_amount_fen equal to the sum of its payments, and
-- accepts new payments only for registered contracts.
CREATE FUNCTION contract_payments_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.contract_id <> OLD.contract_id) THEN
        PERFORM 1 FROM contracts WHERE id = NEW.contract_id AND status = 'registered';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'payments can be recorded only against a registered contract'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'contract_payments_contract_registered',
                      TABLE = 'contract_payments';
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE contracts SET received_amount_fen = received_amount_fen - OLD.amount_fen
         WHERE id = OLD.contract_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE contracts SET received_amount_fen = received_amount_fen + NEW.amount_fen
         WHERE id = NEW.contract_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER contract_payments_sync
    AFTER INSERT OR UPDATE OR DELETE ON contract_payments
    FOR EACH ROW EXECUTE FUNCTION contract_payments_sync();
