-- 0030_subsidies: subsidy policies (后补助政策) as data, and the stored runs that
-- compute awards from them (the computation itself is 0031, tax relief 0032,
-- the seeded Yanshi and Yueyang policies 0033).
--
-- A policy is a row: name, the paying bureau's region, the years it is valid,
-- and `rules` jsonb, checked by subsidy_rules_check() (unknown keys are refused,
-- 422 naming the field, e.g. rules.lines[0].rate.flat_bp).  The rules:
--
--   {
--     "lines": [                      -- 1..20 lines, each paying one party
--       {
--         "label": "买方奖励",         -- optional, shown with the awards
--         "party": "seller" | "buyer" | "broker" | "office",
--         "base": "contract_amount" | "technical_amount" | "received_amount",
--         "base_year": "same" | "previous",          -- default "same"
--         "contract_types": ["development", "patent_transfer", ...],
--                                     -- codes of list contract_types, top-level or
--                                     -- subtype; absent or [] = every type
--         "threshold_fen": 50000000,  -- the recipient's yearly base total must REACH it (>=)
--         "rate": {"flat_bp": 200}    -- basis points of each contract's base, or
--               | {"tiers": [{"up_to_fen": 100000000, "bp": 300}, {"up_to_fen": null, "bp": 100}]}
--                                     -- marginal tiers on the recipient's yearly base total
--         "cap_per_contract_fen": 10000000,          -- flat rates only
--         "cap_per_org_year_fen": 20000000           -- seller, buyer, office
--               | {"default_fen": 10000000, "steps": [{"total_over_fen": 10000000000, "cap_fen": 20000000}]},
--                                     -- conditional: the cap of the last step whose
--                                     -- total_over_fen the yearly base total EXCEEDS (>)
--         "cap_per_broker_year_fen": ...             -- broker lines only; same two forms
--         "exclude": ["already_subsidised", "related_parties", "government_funded"]
--       }
--     ],
--     "budget_fen": 300000000 | {"2024": 300000000, ...} | null,
--                                     -- the whole policy's budget for a run (all lines
--                                     -- together); a per-year map must name the run's year
--     "note": "..."                   -- optional free text
--   }
--
-- Money is integer fen, rates integer basis points (1 bp = 0.01 %).
--
-- Runs are stored and never change (triggers refuse UPDATE and DELETE, and the
-- server role may only insert): subsidy_runs (one per POST /subsidy-runs),
-- subsidy_run_policies (per policy: the rules snapshot used, the region it
-- covered, the previous run it is compared with, totals), subsidy_awards (one
-- per line and recipient: kind 'award', or 'clawback' for a contract of the
-- previous run that is now cancelled) and subsidy_award_contracts (each award
-- apportioned to the contracts it was computed from).

INSERT INTO settings (key, value, description) VALUES
    ('subsidy_government_funded_plan_sources', '["national", "ministerial", "provincial", "local"]',
     '后补助排除“已享受财政资金补贴的项目”时视为财政资助的计划来源（plan_sources 代码）'),
    ('tax_vat_rate_bp', '600', '估算技术转让、技术开发免征增值税额所用的增值税税率（基点，600 = 6%）'),
    ('tax_cit_rate_bp', '2500', '估算技术转让所得减免企业所得税额所用的企业所得税税率（基点，2500 = 25%）'),
    ('tax_cit_excluded_org_types', '["400"]', '不缴纳企业所得税、不计算技术转让所得减免的卖方单位类型（400 自然人）')
ON CONFLICT (key) DO NOTHING;

------------------------------------------------------------------------------
-- Policies
------------------------------------------------------------------------------

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
CREATE TRIGGER subsidy_policies_touch BEFORE UPDATE ON subsidy_policies FOR EACH ROW EXECUTE FUNCTION core_touch_row();

------------------------------------------------------------------------------
-- Runs (append-only)
------------------------------------------------------------------------------

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

CREATE FUNCTION subsidy_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'subsidy runs are never changed; make a new run' USING ERRCODE = 'YZ409';
END $$;
CREATE TRIGGER subsidy_runs_frozen BEFORE UPDATE OR DELETE ON subsidy_runs
    FOR EACH ROW EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER subsidy_run_policies_frozen BEFORE UPDATE OR DELETE ON subsidy_run_policies
    FOR EACH ROW EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER subsidy_awards_frozen BEFORE UPDATE OR DELETE ON subsidy_awards
    FOR EACH ROW EXECUTE FUNCTION subsidy_refuse_change();
CREATE TRIGGER subsidy_award_contracts_frozen BEFORE UPDATE OR DELETE ON subsidy_award_contracts
    FOR EACH ROW EXECUTE FUNCTION subsidy_refuse_change();

GRANT SELECT, INSERT, UPDATE, DELETE ON subsidy_policies TO yizhan_app;
GRANT SELECT, INSERT ON subsidy_runs, subsidy_run_policies, subsidy_awards, subsidy_award_contracts TO yizhan_app;
REVOKE UPDATE, DELETE, TRUNCATE ON subsidy_runs, subsidy_run_policies, subsidy_awards, subsidy_award_contracts
    FROM yizhan_app;

------------------------------------------------------------------------------
-- Rule validation
------------------------------------------------------------------------------

-- Refuse keys of object o (at path p) that are not in allowed.
CREATE FUNCTION subsidy_check_keys(o jsonb, allowed text[], p text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
BEGIN
    SELECT x INTO k FROM jsonb_object_keys(o) x WHERE x <> ALL (allowed) ORDER BY x LIMIT 1;
    IF k IS NOT NULL THEN
        PERFORM yz_raise(422, format('unknown key %s (allowed: %s)', k, array_to_string(allowed, ', ')),
                         p || '.' || k, 'unknown_field');
    END IF;
END $$;

-- An integer JSON number in [lo, hi] (or JSON null / absent when nullable).
CREATE FUNCTION subsidy_check_int(v jsonb, p text, lo numeric, hi numeric, nullable boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        IF NOT nullable THEN PERFORM yz_raise(422, 'this value is required', p, 'required'); END IF;
        RETURN;
    END IF;
    IF jsonb_typeof(v) <> 'number' OR v::text::numeric <> trunc(v::text::numeric) THEN
        PERFORM yz_raise(422, 'must be an integer', p, 'wrong_type');
    END IF;
    IF v::text::numeric < lo OR v::text::numeric > hi THEN
        PERFORM yz_raise(422, format('must be from %s to %s', lo, hi), p, 'out_of_range');
    END IF;
END $$;

-- A yearly cap: an integer, or {"default_fen": n, "steps": [{"total_over_fen": t, "cap_fen": c}, ...]}
-- with strictly increasing total_over_fen.
CREATE FUNCTION subsidy_check_cap(v jsonb, p text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    s jsonb;
    i int := 0;
    last numeric := -1;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) IN ('null', 'number') THEN
        PERFORM subsidy_check_int(v, p, 0, 1e15);
        RETURN;
    END IF;
    IF jsonb_typeof(v) <> 'object' THEN
        PERFORM yz_raise(422, 'a cap is an integer number of fen or {"default_fen", "steps"}', p, 'wrong_type');
    END IF;
    PERFORM subsidy_check_keys(v, ARRAY['default_fen', 'steps'], p);
    PERFORM subsidy_check_int(v->'default_fen', p || '.default_fen', 0, 1e15, false);
    IF jsonb_typeof(v->'steps') IS DISTINCT FROM 'array' OR jsonb_array_length(v->'steps') NOT BETWEEN 1 AND 20 THEN
        PERFORM yz_raise(422, 'steps is an array of 1 to 20 {"total_over_fen", "cap_fen"}', p || '.steps', 'invalid');
    END IF;
    FOR s IN SELECT x FROM jsonb_array_elements(v->'steps') x LOOP
        IF jsonb_typeof(s) <> 'object' THEN
            PERFORM yz_raise(422, 'a step is {"total_over_fen", "cap_fen"}', format('%s.steps[%s]', p, i), 'wrong_type');
        END IF;
        PERFORM subsidy_check_keys(s, ARRAY['total_over_fen', 'cap_fen'], format('%s.steps[%s]', p, i));
        PERFORM subsidy_check_int(s->'total_over_fen', format('%s.steps[%s].total_over_fen', p, i), 0, 1e15, false);
        PERFORM subsidy_check_int(s->'cap_fen', format('%s.steps[%s].cap_fen', p, i), 0, 1e15, false);
        IF (s->>'total_over_fen')::numeric <= last THEN
            PERFORM yz_raise(422, 'total_over_fen must increase from step to step',
                             format('%s.steps[%s].total_over_fen', p, i), 'not_increasing');
        END IF;
        last := (s->>'total_over_fen')::numeric;
        i := i + 1;
    END LOOP;
END $$;

-- Validate a policy's rules; returns them unchanged or raises 422 naming the field.
CREATE FUNCTION subsidy_rules_check(r jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    l jsonb;
    t jsonb;
    x jsonb;
    i int := 0;
    j int;
    p text;
    last numeric;
    b jsonb;
    k text;
    tp text;
BEGIN
    IF r IS NULL OR jsonb_typeof(r) <> 'object' THEN
        PERFORM yz_raise(422, 'rules is an object {"lines": [...], "budget_fen"?, "note"?}', 'rules', 'wrong_type');
    END IF;
    PERFORM subsidy_check_keys(r, ARRAY['lines', 'budget_fen', 'note'], 'rules');
    IF jsonb_typeof(r->'lines') IS DISTINCT FROM 'array' OR jsonb_array_length(r->'lines') NOT BETWEEN 1 AND 20 THEN
        PERFORM yz_raise(422, 'lines is an array of 1 to 20 lines, each paying one party', 'rules.lines', 'invalid');
    END IF;
    IF r ? 'note' AND jsonb_typeof(r->'note') NOT IN ('string', 'null') THEN
        PERFORM yz_raise(422, 'must be a string', 'rules.note', 'wrong_type');
    END IF;
    -- budget: null, an integer, or {"<year>": integer}
    b := r->'budget_fen';
    IF b IS NOT NULL AND jsonb_typeof(b) = 'object' THEN
        FOR k, x IN SELECT * FROM jsonb_each(b) LOOP
            IF k !~ '^(20[0-9][0-9]|2100)$' THEN
                PERFORM yz_raise(422, 'budget years are "2000" to "2100"', 'rules.budget_fen.' || k, 'invalid_year');
            END IF;
            PERFORM subsidy_check_int(x, 'rules.budget_fen.' || k, 0, 1e15, false);
        END LOOP;
    ELSE
        PERFORM subsidy_check_int(b, 'rules.budget_fen', 0, 1e15);
    END IF;
    FOR l IN SELECT y FROM jsonb_array_elements(r->'lines') y LOOP
        p := format('rules.lines[%s]', i);
        IF jsonb_typeof(l) <> 'object' THEN
            PERFORM yz_raise(422, 'a line is an object', p, 'wrong_type');
        END IF;
        PERFORM subsidy_check_keys(l, ARRAY['label', 'party', 'base', 'base_year', 'contract_types', 'threshold_fen',
            'rate', 'cap_per_contract_fen', 'cap_per_org_year_fen', 'cap_per_broker_year_fen', 'exclude'], p);
        IF l ? 'label' AND (jsonb_typeof(l->'label') <> 'string' OR char_length(l->>'label') > 100) THEN
            PERFORM yz_raise(422, 'a string of at most 100 characters', p || '.label', 'invalid');
        END IF;
        IF NOT l ? 'party' THEN PERFORM yz_raise(422, 'name the party paid', p || '.party', 'required'); END IF;
        IF jsonb_typeof(l->'party') <> 'string' OR l->>'party' NOT IN ('seller', 'buyer', 'broker', 'office') THEN
            PERFORM yz_raise(422, 'party is seller, buyer, broker or office', p || '.party', 'invalid');
        END IF;
        IF NOT l ? 'base' THEN PERFORM yz_raise(422, 'name the base', p || '.base', 'required'); END IF;
        IF jsonb_typeof(l->'base') <> 'string'
           OR l->>'base' NOT IN ('contract_amount', 'technical_amount', 'received_amount') THEN
            PERFORM yz_raise(422, 'base is contract_amount, technical_amount or received_amount', p || '.base', 'invalid');
        END IF;
        IF l ? 'base_year' AND (jsonb_typeof(l->'base_year') <> 'string' OR l->>'base_year' NOT IN ('same', 'previous')) THEN
            PERFORM yz_raise(422, 'base_year is same or previous', p || '.base_year', 'invalid');
        END IF;
        IF l ? 'contract_types' THEN
            IF jsonb_typeof(l->'contract_types') <> 'array' THEN
                PERFORM yz_raise(422, 'an array of contract_types codes', p || '.contract_types', 'wrong_type');
            END IF;
            j := 0;
            FOR t IN SELECT y FROM jsonb_array_elements(l->'contract_types') y LOOP
                IF jsonb_typeof(t) <> 'string' THEN
                    PERFORM yz_raise(422, 'a contract_types code', format('%s.contract_types[%s]', p, j), 'wrong_type');
                END IF;
                PERFORM check_code('contract_types', t #>> '{}', format('%s.contract_types[%s]', p, j));
                j := j + 1;
            END LOOP;
            IF (SELECT count(DISTINCT y) FROM jsonb_array_elements(l->'contract_types') y) <> j THEN
                PERFORM yz_raise(422, 'a type is named twice', p || '.contract_types', 'duplicate');
            END IF;
        END IF;
        PERFORM subsidy_check_int(l->'threshold_fen', p || '.threshold_fen', 0, 1e15);
        -- rate
        IF NOT l ? 'rate' THEN PERFORM yz_raise(422, 'give the rate', p || '.rate', 'required'); END IF;
        IF jsonb_typeof(l->'rate') <> 'object' THEN
            PERFORM yz_raise(422, 'rate is {"flat_bp": n} or {"tiers": [...]}', p || '.rate', 'wrong_type');
        END IF;
        PERFORM subsidy_check_keys(l->'rate', ARRAY['flat_bp', 'tiers'], p || '.rate');
        IF (l->'rate' ? 'flat_bp') = (l->'rate' ? 'tiers') THEN
            PERFORM yz_raise(422, 'rate has exactly one of flat_bp and tiers', p || '.rate', 'invalid');
        END IF;
        IF l->'rate' ? 'flat_bp' THEN
            PERFORM subsidy_check_int(l->'rate'->'flat_bp', p || '.rate.flat_bp', 0, 10000, false);
        ELSE
            IF jsonb_typeof(l->'rate'->'tiers') <> 'array' OR jsonb_array_length(l->'rate'->'tiers') NOT BETWEEN 1 AND 20 THEN
                PERFORM yz_raise(422, 'tiers is an array of 1 to 20 {"up_to_fen", "bp"}', p || '.rate.tiers', 'invalid');
            END IF;
            j := 0;
            last := 0;
            FOR t IN SELECT y FROM jsonb_array_elements(l->'rate'->'tiers') y LOOP
                tp := format('%s.rate.tiers[%s]', p, j);
                IF jsonb_typeof(t) <> 'object' THEN
                    PERFORM yz_raise(422, 'a tier is {"up_to_fen", "bp"}', tp, 'wrong_type');
                END IF;
                PERFORM subsidy_check_keys(t, ARRAY['up_to_fen', 'bp'], tp);
                PERFORM subsidy_check_int(t->'bp', tp || '.bp', 0, 10000, false);
                IF j < jsonb_array_length(l->'rate'->'tiers') - 1 OR (t ? 'up_to_fen' AND jsonb_typeof(t->'up_to_fen') <> 'null') THEN
                    PERFORM subsidy_check_int(t->'up_to_fen', tp || '.up_to_fen', 1, 1e15, false);
                    IF (t->>'up_to_fen')::numeric <= last THEN
                        PERFORM yz_raise(422, 'up_to_fen must increase from tier to tier (only the last may be null)',
                                         tp || '.up_to_fen', 'not_increasing');
                    END IF;
                    last := (t->>'up_to_fen')::numeric;
                END IF;
                j := j + 1;
            END LOOP;
            IF l ? 'cap_per_contract_fen' AND jsonb_typeof(l->'cap_per_contract_fen') <> 'null' THEN
                PERFORM yz_raise(422, 'a per-contract cap needs a flat rate (tiers apply to the yearly total)',
                                 p || '.cap_per_contract_fen', 'not_with_tiers');
            END IF;
        END IF;
        PERFORM subsidy_check_int(l->'cap_per_contract_fen', p || '.cap_per_contract_fen', 0, 1e15);
        IF l ? 'cap_per_org_year_fen' AND l->>'party' = 'broker' THEN
            PERFORM yz_raise(422, 'a broker line is capped by cap_per_broker_year_fen', p || '.cap_per_org_year_fen', 'not_for_party');
        END IF;
        IF l ? 'cap_per_broker_year_fen' AND l->>'party' <> 'broker' THEN
            PERFORM yz_raise(422, 'cap_per_broker_year_fen is for broker lines; use cap_per_org_year_fen',
                             p || '.cap_per_broker_year_fen', 'not_for_party');
        END IF;
        PERFORM subsidy_check_cap(l->'cap_per_org_year_fen', p || '.cap_per_org_year_fen');
        PERFORM subsidy_check_cap(l->'cap_per_broker_year_fen', p || '.cap_per_broker_year_fen');
        IF l ? 'exclude' THEN
            IF jsonb_typeof(l->'exclude') <> 'array' THEN
                PERFORM yz_raise(422, 'an array of already_subsidised, related_parties, government_funded', p || '.exclude', 'wrong_type');
            END IF;
            j := 0;
            FOR t IN SELECT y FROM jsonb_array_elements(l->'exclude') y LOOP
                IF jsonb_typeof(t) <> 'string' OR t #>> '{}' NOT IN ('already_subsidised', 'related_parties', 'government_funded') THEN
                    PERFORM yz_raise(422, 'one of already_subsidised, related_parties, government_funded',
                                     format('%s.exclude[%s]', p, j), 'invalid');
                END IF;
                j := j + 1;
            END LOOP;
            IF (SELECT count(DISTINCT y) FROM jsonb_array_elements(l->'exclude') y) <> j THEN
                PERFORM yz_raise(422, 'an exclusion is named twice', p || '.exclude', 'duplicate');
            END IF;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN r;
END $$;
COMMENT ON FUNCTION subsidy_rules_check(jsonb) IS
    'Validates subsidy policy rules (see the head of migrations/0030_subsidies.sql); raises YZ422 naming the field.';

------------------------------------------------------------------------------
-- Policies: JSON, create, update
------------------------------------------------------------------------------

CREATE FUNCTION subsidy_policy_json(p subsidy_policies) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id, 'name', p.name, 'region_code', p.region_code,
        'region_name', (SELECT name FROM regions WHERE code = p.region_code),
        'valid_from_year', p.valid_from_year, 'valid_to_year', p.valid_to_year,
        'rules', p.rules, 'source', p.source, 'active', p.active,
        'created_at', p.created_at, 'updated_at', p.updated_at, 'created_by', p.created_by, 'version', p.version)
$$;

-- Visible to a caller: admin (p_scope NULL) everything, a bureau its region subtree.
CREATE FUNCTION subsidy_policy_visible(p subsidy_policies, p_scope text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_scope IS NULL OR region_in_subtree(p.region_code, p_scope)
$$;

CREATE FUNCTION subsidy_policy_values(p subsidy_policies, p_scope text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p.name IS NULL OR btrim(p.name) = '' OR char_length(p.name) > 200 THEN
        PERFORM yz_raise(422, 'a name of 1 to 200 characters', 'name', 'invalid');
    END IF;
    IF p.region_code IS NULL OR p.region_code !~ '^[0-9]{6}$' THEN
        PERFORM yz_raise(422, 'a six-digit GB/T 2260 region code', 'region_code', 'invalid_format');
    END IF;
    PERFORM check_region(p.region_code, 'region_code');
    IF p_scope IS NOT NULL AND region_in_subtree(p.region_code, p_scope) IS NOT TRUE THEN
        PERFORM yz_raise(403, 'a bureau makes policies for its own region and the regions below it', 'region_code', 'out_of_scope');
    END IF;
    IF p.valid_from_year IS NULL OR p.valid_from_year NOT BETWEEN 2000 AND 2100 THEN
        PERFORM yz_raise(422, 'a year from 2000 to 2100', 'valid_from_year', 'out_of_range');
    END IF;
    IF p.valid_to_year IS NOT NULL AND (p.valid_to_year NOT BETWEEN 2000 AND 2100 OR p.valid_to_year < p.valid_from_year) THEN
        PERFORM yz_raise(422, 'a year from valid_from_year to 2100, or null', 'valid_to_year', 'out_of_range');
    END IF;
    IF char_length(p.source) > 500 THEN
        PERFORM yz_raise(422, 'at most 500 characters', 'source', 'too_long');
    END IF;
    PERFORM subsidy_rules_check(p.rules);
END $$;

-- Years are checked as numbers before the smallint cast, so 99999 is a 422, not a 22003.
CREATE FUNCTION subsidy_year_arg(v jsonb, p_field text) RETURNS smallint
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN RETURN NULL; END IF;
    PERFORM subsidy_check_int(v, p_field, 2000, 2100);
    RETURN (v #>> '{}')::smallint;
END $$;

CREATE FUNCTION subsidy_policy_create(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p subsidy_policies;
BEGIN
    p.name := b->>'name';
    p.region_code := b->>'region_code';
    p.valid_from_year := subsidy_year_arg(b->'valid_from_year', 'valid_from_year');
    p.valid_to_year := subsidy_year_arg(b->'valid_to_year', 'valid_to_year');
    p.rules := b->'rules';
    p.source := b->>'source';
    p.active := coalesce((b->>'active')::boolean, true);
    PERFORM subsidy_policy_values(p, p_scope);
    INSERT INTO subsidy_policies (name, region_code, valid_from_year, valid_to_year, rules, source, active, created_by)
    VALUES (p.name, p.region_code, p.valid_from_year, p.valid_to_year, p.rules, p.source, p.active, p_actor)
    RETURNING * INTO p;
    PERFORM audit_append(p_actor, p_req, 'subsidy_policy', p.id::text, 'create', NULL, subsidy_policy_json(p));
    RETURN subsidy_policy_json(p)::text;
END $$;

CREATE FUNCTION subsidy_policy_update(p_actor bigint, p_req text, p_scope text, p_id bigint, p_if_match int, b jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o subsidy_policies;
    p subsidy_policies;
BEGIN
    SELECT * INTO o FROM subsidy_policies WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT subsidy_policy_visible(o, p_scope) THEN
        PERFORM yz_raise(404, 'no such subsidy policy');
    END IF;
    IF p_if_match IS NOT NULL AND p_if_match <> o.version THEN
        PERFORM yz_raise(412, 'the policy was changed by someone else; reload and try again');
    END IF;
    p := o;
    IF b ? 'name' THEN p.name := b->>'name'; END IF;
    IF b ? 'valid_from_year' THEN p.valid_from_year := subsidy_year_arg(b->'valid_from_year', 'valid_from_year'); END IF;
    IF b ? 'valid_to_year' THEN p.valid_to_year := subsidy_year_arg(b->'valid_to_year', 'valid_to_year'); END IF;
    IF b ? 'rules' THEN p.rules := b->'rules'; END IF;
    IF b ? 'source' THEN p.source := b->>'source'; END IF;
    IF b ? 'active' THEN p.active := (b->>'active')::boolean; END IF;
    PERFORM subsidy_policy_values(p, p_scope);
    UPDATE subsidy_policies SET name = p.name, valid_from_year = p.valid_from_year, valid_to_year = p.valid_to_year,
        rules = p.rules, source = p.source, active = p.active
    WHERE id = p_id RETURNING * INTO p;
    IF p.version <> o.version THEN
        PERFORM audit_append(p_actor, p_req, 'subsidy_policy', p_id::text, 'update', subsidy_policy_json(o), subsidy_policy_json(p));
    END IF;
    RETURN subsidy_policy_json(p)::text;
END $$;
