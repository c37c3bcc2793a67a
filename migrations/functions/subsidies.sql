-- subsidies.sql — subsidy policies (后补助政策) as data, the runs that compute
-- awards from them (POST /subsidy-runs), and the tax-relief estimate
-- (GET /tax-relief).  The tables are in 0001_baseline.sql, the seeded Yanshi
-- and Yueyang policies in 0005_plan_seeds.sql.
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
--       -- or a FIXED-AMOUNT line, paid without contracts (see subsidy_fixed_recs()):
--       {"party": "institution", "base_year"?, "label"?,
--        "amount_by_level_fen": {"national": 30000000, "provincial": 10000000, "city": 5000000}}
--                                     -- per organisation newly recognised in the base year
--                                     -- (register institution_recognitions, functions/registers.sql):
--                                     -- the amount of the year's highest level, once per level
--       {"party": "broker", "base_year"?, "label"?, "amount_per_broker_fen": 500000}
--                                     -- per broker first certified in the base year
--                                     -- (register broker_qualifications)
--       -- a contract line may also pay a fixed amount per contract, and a broker line
--       -- may count only brokers certified on the registration date:
--       --   "rate": {"per_contract_fen": 100000}, "certified_brokers_only": true
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
--
-- Computing a run (POST /subsidy-runs).  One SQL function,
-- subsidy_run_create(), checks the request, computes every policy's awards,
-- stores them and writes the audit entry in one transaction.
--
-- How one policy is computed for year Y over region S (the policy's region, or
-- the narrower region asked for):
--
--  1. For each line, the base year is Y (base_year "same") or Y-1 ("previous").
--     Candidates are contracts with status 'registered' now, of the line's
--     contract types (top-level or subtype codes; none = all), whose PAID
--     party is in S: the seller's or buyer's region as recorded on the contract,
--     the broker's region (users.region_code, else the broker's org's), or the
--     registry office's region.  Base:
--       contract_amount / technical_amount: contracts registered in the base
--         year (registered_at, Asia/Shanghai);
--       received_amount: the sum of contract_payments received_on in the base
--         year, on any registered contract (实际到账额 of that year).
--     Contracts with base 0 are not candidates.
--  2. Exclusions (only those the line lists), first match wins:
--       government_funded  the contract says 已享受财政资金补贴 (contracts.fiscal_subsidy)
--       related_parties    the contract says the parties are related (related_party not 'none')
--       already_subsidised the contract has a positive share, for the same party,
--                          in the run in force (the latest run for its policy,
--                          year and region) of ANOTHER policy
--     Excluded contracts are listed with the award (share 0) and do not count
--     towards the threshold, the yearly total or the amount.
--  3. Per recipient (org; a party without an account here is grouped by credit
--     code, else name; broker; office): T = sum of counted bases.
--       flat:  each contract gives base * bp / 10000, exact, then capped at
--              cap_per_contract_fen; the recipient's gross is their sum.
--       tiers: gross = sum over tiers of (the part of T inside the tier) * bp / 10000.
--     The yearly cap (cap_per_org_year_fen, or cap_per_broker_year_fen for a
--     broker line) caps the gross; a conditional cap uses the cap of the last
--     step whose total_over_fen T EXCEEDS.  If T does not REACH threshold_fen the
--     award is 0.  Rounding: the capped exact amount is rounded half up to the
--     fen ONCE, at the end of each award (nothing is rounded before).
--  4. Budget (the policy's, over all its lines): if the awards' sum S exceeds
--     budget B, each award a becomes floor(a * B / S); the fen left over
--     (B - sum of floors, fewer than the number of awards) go one each to the
--     awards with the largest remainder (a * B mod S), ties by line, then
--     recipient id, then recipient key.  The sum is then exactly B.
--  5. Each award is apportioned to its counted contracts in proportion to
--     their exact amounts (flat) or bases (tiers): floor, then the left-over fen
--     by largest remainder, ties by contract id.  These shares are what a
--     claw-back takes back.
--  6. Claw-back: the previous run is the latest earlier run of the same policy,
--     year and region.  For every contract with a positive share in one of its
--     awards that is now cancelled, this run records a 'clawback' award of
--     minus that share (reason: contract, registration number, cancellation
--     time and reason, previous run and award) — but only as far as the
--     recipient's award under that line FELL (fall = previous - now, if > 0):
--     the fall is taken contract by contract, ids ascending, each at most its
--     share, so the claw-backs add up to min(fall, the cancelled shares) and a
--     recipient whose award did not fall (a cap still binding, a new contract)
--     has none.  Nothing is recovered that is not owed.  The recomputed awards no longer
--     count the cancelled contract; each award also carries previous_amount_fen
--     (0 for a recipient the previous run did not have) and change_fen =
--     amount_fen - previous_amount_fen, the net to pay (+) or recover (-) on top
--     of the previous run.  The recipient's claw-backs add up to at most
--     -change_fen (none when change_fen >= 0).  A recipient of the previous run
--     with nothing counted now appears with amount 0.  Each policy of a run
--     also lists `parties`: per party and recipient over all lines, the award
--     before (previous run), the award now, the net change and the claw-back.
--  Runs are deterministic: candidates, recipients and left-over fen are ordered
--  by ids, the arithmetic is exact numeric, and the digest (SHA-256 over line,
--  recipient, amount and per-contract shares) is equal for equal inputs.

-- Runs are stored and never change.
CREATE TRIGGER subsidy_runs_frozen BEFORE UPDATE OR DELETE ON subsidy_runs
    FOR EACH ROW EXECUTE FUNCTION refuse_change('YZ409', 'subsidy runs are never changed; make a new run');
CREATE TRIGGER subsidy_run_policies_frozen BEFORE UPDATE OR DELETE ON subsidy_run_policies
    FOR EACH ROW EXECUTE FUNCTION refuse_change('YZ409', 'subsidy runs are never changed; make a new run');
CREATE TRIGGER subsidy_awards_frozen BEFORE UPDATE OR DELETE ON subsidy_awards
    FOR EACH ROW EXECUTE FUNCTION refuse_change('YZ409', 'subsidy runs are never changed; make a new run');
CREATE TRIGGER subsidy_award_contracts_frozen BEFORE UPDATE OR DELETE ON subsidy_award_contracts
    FOR EACH ROW EXECUTE FUNCTION refuse_change('YZ409', 'subsidy runs are never changed; make a new run');

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

-- What any line may say: its label (at most 100 characters) and the year its
-- base is taken from (same or previous).
CREATE FUNCTION subsidy_check_label_year(l jsonb, p text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF l ? 'label' AND (jsonb_typeof(l->'label') <> 'string' OR char_length(l->>'label') > 100) THEN
        PERFORM yz_raise(422, 'a string of at most 100 characters', p || '.label', 'invalid');
    END IF;
    IF l ? 'base_year' AND (jsonb_typeof(l->'base_year') <> 'string' OR l->>'base_year' NOT IN ('same', 'previous')) THEN
        PERFORM yz_raise(422, 'base_year is same or previous', p || '.base_year', 'invalid');
    END IF;
END $$;

-- A set of strings (absent is fine): an array (p_array_msg), each item a code
-- of list p_list or one of p_allowed (p_item_msg), none twice (p_twice_msg).
CREATE FUNCTION subsidy_check_set(v jsonb, p text, p_list text, p_allowed text[], p_array_msg text, p_item_msg text,
                                  p_twice_msg text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t jsonb;
    j int := 0;
BEGIN
    IF v IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(v) <> 'array' THEN
        PERFORM yz_raise(422, p_array_msg, p, 'wrong_type');
    END IF;
    FOR t IN SELECT y FROM jsonb_array_elements(v) y LOOP
        IF jsonb_typeof(t) <> 'string' OR NOT (p_allowed IS NULL OR t #>> '{}' = ANY (p_allowed)) THEN
            PERFORM yz_raise(422, p_item_msg, format('%s[%s]', p, j), CASE WHEN p_allowed IS NULL THEN 'wrong_type' ELSE 'invalid' END);
        END IF;
        IF p_list IS NOT NULL THEN
            PERFORM check_code(p_list, t #>> '{}', format('%s[%s]', p, j));
        END IF;
        j := j + 1;
    END LOOP;
    IF (SELECT count(DISTINCT y) FROM jsonb_array_elements(v) y) <> j THEN
        PERFORM yz_raise(422, p_twice_msg, p, 'duplicate');
    END IF;
END $$;

-- A fixed-amount line (no contracts):
--   {"party": "institution", "amount_by_level_fen": {"national": n, ...}, "base_year"?, "label"?}
--   {"party": "broker", "amount_per_broker_fen": n, "base_year"?, "label"?}
CREATE FUNCTION subsidy_check_fixed_line(l jsonb, p text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    k text;
    x jsonb;
BEGIN
    IF l->>'party' = 'institution' THEN
        PERFORM subsidy_check_keys(l, ARRAY['label', 'party', 'base_year', 'amount_by_level_fen'], p);
        IF jsonb_typeof(l->'amount_by_level_fen') IS DISTINCT FROM 'object' OR l->'amount_by_level_fen' = '{}' THEN
            PERFORM yz_raise(422, 'amount_by_level_fen is {"<institution_levels code>": fen, ...}',
                             p || '.amount_by_level_fen', 'required');
        END IF;
        FOR k, x IN SELECT * FROM jsonb_each(l->'amount_by_level_fen') LOOP
            PERFORM check_code('institution_levels', k, p || '.amount_by_level_fen.' || k);
            PERFORM subsidy_check_int(x, p || '.amount_by_level_fen.' || k, 0, 1e13, false);
        END LOOP;
    ELSIF l->>'party' = 'broker' THEN
        PERFORM subsidy_check_keys(l, ARRAY['label', 'party', 'base_year', 'amount_per_broker_fen'], p);
        PERFORM subsidy_check_int(l->'amount_per_broker_fen', p || '.amount_per_broker_fen', 0, 1e13, false);
    ELSIF l ? 'amount_by_level_fen' THEN
        PERFORM yz_raise(422, 'amount_by_level_fen is for institution lines', p || '.amount_by_level_fen', 'not_for_party');
    ELSE
        PERFORM yz_raise(422, 'amount_per_broker_fen is for broker lines', p || '.amount_per_broker_fen', 'not_for_party');
    END IF;
    PERFORM subsidy_check_label_year(l, p);
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
        IF jsonb_typeof(l) = 'object' AND (l ? 'amount_by_level_fen' OR l ? 'amount_per_broker_fen'
                                           OR l->>'party' = 'institution') THEN
            -- a fixed amount per recognised institution or per newly certified broker
            PERFORM subsidy_check_fixed_line(l, p);
            i := i + 1;
            CONTINUE;
        END IF;
        PERFORM subsidy_check_keys(l, ARRAY['label', 'party', 'base', 'base_year', 'contract_types', 'threshold_fen',
            'rate', 'cap_per_contract_fen', 'cap_per_org_year_fen', 'cap_per_broker_year_fen', 'exclude',
            'certified_brokers_only'], p);
        PERFORM subsidy_check_label_year(l, p);
        IF NOT l ? 'party' THEN PERFORM yz_raise(422, 'name the party paid', p || '.party', 'required'); END IF;
        IF jsonb_typeof(l->'party') <> 'string' OR l->>'party' NOT IN ('seller', 'buyer', 'broker', 'office') THEN
            PERFORM yz_raise(422, 'party is seller, buyer, broker, office or institution', p || '.party', 'invalid');
        END IF;
        IF l ? 'certified_brokers_only' AND (jsonb_typeof(l->'certified_brokers_only') <> 'boolean' OR l->>'party' <> 'broker') THEN
            PERFORM yz_raise(422, 'certified_brokers_only is true or false, on a broker line', p || '.certified_brokers_only', 'invalid');
        END IF;
        IF NOT l ? 'base' THEN PERFORM yz_raise(422, 'name the base', p || '.base', 'required'); END IF;
        IF jsonb_typeof(l->'base') <> 'string'
           OR l->>'base' NOT IN ('contract_amount', 'technical_amount', 'received_amount') THEN
            PERFORM yz_raise(422, 'base is contract_amount, technical_amount or received_amount', p || '.base', 'invalid');
        END IF;
        PERFORM subsidy_check_set(l->'contract_types', p || '.contract_types', 'contract_types', NULL,
                                  'an array of contract_types codes', 'a contract_types code', 'a type is named twice');
        PERFORM subsidy_check_int(l->'threshold_fen', p || '.threshold_fen', 0, 1e15);
        -- rate
        IF NOT l ? 'rate' THEN PERFORM yz_raise(422, 'give the rate', p || '.rate', 'required'); END IF;
        IF jsonb_typeof(l->'rate') <> 'object' THEN
            PERFORM yz_raise(422, 'rate is {"flat_bp": n} or {"tiers": [...]}', p || '.rate', 'wrong_type');
        END IF;
        PERFORM subsidy_check_keys(l->'rate', ARRAY['flat_bp', 'tiers', 'per_contract_fen'], p || '.rate');
        IF (SELECT count(*) FROM jsonb_object_keys(l->'rate')) <> 1 THEN
            PERFORM yz_raise(422, 'rate has exactly one of flat_bp, tiers and per_contract_fen', p || '.rate', 'invalid');
        END IF;
        IF l->'rate' ? 'flat_bp' THEN
            PERFORM subsidy_check_int(l->'rate'->'flat_bp', p || '.rate.flat_bp', 0, 10000, false);
        ELSIF l->'rate' ? 'per_contract_fen' THEN
            PERFORM subsidy_check_int(l->'rate'->'per_contract_fen', p || '.rate.per_contract_fen', 0, 1e13, false);
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
        PERFORM subsidy_check_set(l->'exclude', p || '.exclude', NULL,
                                  ARRAY['already_subsidised', 'related_parties', 'government_funded'],
                                  'an array of already_subsidised, related_parties, government_funded',
                                  'one of already_subsidised, related_parties, government_funded',
                                  'an exclusion is named twice');
        i := i + 1;
    END LOOP;
    RETURN r;
END $$;
COMMENT ON FUNCTION subsidy_rules_check(jsonb) IS
    'Validates subsidy policy rules (see the head of migrations/functions/subsidies.sql); raises YZ422 naming the field.';

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
    PERFORM check_text(p.source, 'source', 500);
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
    RETURN audit_returning(p_actor, p_req, 'subsidy_policy', p.id::text, 'create', NULL, subsidy_policy_json(p));
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
    PERFORM check_if_match(p_if_match, o.version, 'policy');
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

-- The run of policy p that is in force for (year, region): the latest one.
CREATE FUNCTION subsidy_run_in_force(p_run bigint, p_policy bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM subsidy_run_policies rp JOIN subsidy_run_policies rp2
          ON rp2.policy_id = rp.policy_id AND rp2.year = rp.year AND rp2.scope_region = rp.scope_region
         AND rp2.run_id > rp.run_id
        WHERE rp.run_id = p_run AND rp.policy_id = p_policy)
$$;

-- Candidate contracts of one line (steps 1 and 2 above), flat amounts included.
CREATE FUNCTION subsidy_candidates(l jsonb, p_line int, p_base_year int, p_scope text, p_policy bigint)
RETURNS SETOF subsidy_item LANGUAGE sql STABLE AS $$
    WITH pr AS (
        SELECT l->>'party' AS party, l->>'base' AS base,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(l->'contract_types', '[]'))) AS types,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(l->'exclude', '[]'))) AS excl,
               (l->'rate'->>'flat_bp')::numeric AS flat_bp,
               (l->'rate'->>'per_contract_fen')::numeric AS per_c,
               coalesce((l->>'certified_brokers_only')::boolean, false) AS cert_only,
               (l->>'cap_per_contract_fen')::numeric AS cap_c,
               make_date(p_base_year, 1, 1) AS d0, make_date(p_base_year + 1, 1, 1) AS d1
    ),
    c AS (
        SELECT c.*, pr.party, pr.excl, pr.flat_bp, pr.per_c, pr.cert_only, pr.cap_c,
               CASE pr.base WHEN 'contract_amount' THEN c.contract_amount_fen
                            WHEN 'technical_amount' THEN c.technical_amount_fen
                            ELSE (SELECT coalesce(sum(cp.amount_fen), 0) FROM contract_payments cp
                                  WHERE cp.contract_id = c.id AND cp.received_on >= pr.d0 AND cp.received_on < pr.d1)
               END AS base_fen
        FROM contracts c, pr
        WHERE c.status = 'registered'
          AND (cardinality(pr.types) = 0 OR c.contract_type = ANY (pr.types) OR c.contract_subtype = ANY (pr.types))
          AND CASE WHEN pr.base = 'received_amount'
                   THEN c.id IN (SELECT cp.contract_id FROM contract_payments cp
                                 WHERE cp.received_on >= pr.d0 AND cp.received_on < pr.d1)
                   ELSE c.registered_at >= (pr.d0::timestamp AT TIME ZONE 'Asia/Shanghai')
                    AND c.registered_at < (pr.d1::timestamp AT TIME ZONE 'Asia/Shanghai')
                    -- the registration year is that of registered_at in China; the range only
                    -- lets contracts_stats_year_idx serve the scan
                    AND c.registration_year BETWEEN p_base_year - 1 AND p_base_year + 1 END
    ),
    r AS (
        SELECT c.*, rp.*
        FROM c CROSS JOIN LATERAL (
            SELECT c.seller_org_id AS r_org, NULL::bigint AS r_broker, NULL::bigint AS r_office,
                   c.seller_credit_code::text AS r_credit, coalesce(o.name, c.seller_name) AS r_name,
                   c.seller_region_code::text AS r_region
            FROM (SELECT 1) one LEFT JOIN orgs o ON o.id = c.seller_org_id WHERE c.party = 'seller'
            UNION ALL
            SELECT c.buyer_org_id, NULL, NULL, c.buyer_credit_code, coalesce(o.name, c.buyer_name), c.buyer_region_code
            FROM (SELECT 1) one LEFT JOIN orgs o ON o.id = c.buyer_org_id WHERE c.party = 'buyer'
            UNION ALL
            SELECT NULL, u.id, NULL, NULL, u.display_name, coalesce(u.region_code, o.region_code)
            FROM users u LEFT JOIN orgs o ON o.id = u.org_id WHERE c.party = 'broker' AND u.id = c.broker_user_id
              AND (NOT c.cert_only OR broker_certified_on(u.id, (c.registered_at AT TIME ZONE 'Asia/Shanghai')::date))
            UNION ALL
            SELECT NULL, NULL, f.id, NULL, f.name, f.region_code
            FROM registry_offices f WHERE c.party = 'office' AND f.id = c.office_id
        ) rp
        WHERE c.base_fen > 0 AND rp.r_region IS NOT NULL AND region_in_subtree(rp.r_region, p_scope)
    ),
    x AS (
        SELECT r.*,
            CASE
              WHEN 'government_funded' = ANY (r.excl) AND r.fiscal_subsidy THEN 'government_funded'
              WHEN 'related_parties' = ANY (r.excl) AND r.related_party <> 'none' THEN 'related_parties'
              WHEN 'already_subsidised' = ANY (r.excl) AND EXISTS (
                   SELECT 1 FROM subsidy_award_contracts ac JOIN subsidy_awards a ON a.id = ac.award_id
                   WHERE ac.contract_id = r.id AND ac.share_fen > 0 AND a.kind = 'award' AND a.party = r.party
                     AND a.policy_id <> p_policy AND subsidy_run_in_force(a.run_id, a.policy_id))
                THEN 'already_subsidised'
            END AS excl_reason
        FROM r
    )
    SELECT p_line, x.id, x.registration_no,
           CASE WHEN x.r_broker IS NOT NULL THEN 'broker:' || x.r_broker
                WHEN x.r_office IS NOT NULL THEN 'office:' || x.r_office
                WHEN x.r_org IS NOT NULL THEN 'org:' || x.r_org
                WHEN x.r_credit IS NOT NULL THEN 'credit:' || x.r_credit
                ELSE 'name:' || x.r_name END,
           x.r_org, x.r_broker, x.r_office, x.r_name, x.r_credit, x.r_region, x.base_fen, x.excl_reason,
           CASE WHEN x.excl_reason IS NULL AND coalesce(x.flat_bp, x.per_c) IS NOT NULL
                THEN least(coalesce(x.per_c, x.base_fen * x.flat_bp / 10000), x.cap_c) END,
           x.excl_reason IS NULL AND coalesce(x.flat_bp, x.per_c) IS NOT NULL AND x.cap_c IS NOT NULL
                AND coalesce(x.per_c, x.base_fen * x.flat_bp / 10000) > x.cap_c
    FROM x
    ORDER BY x.id
$$;

-- Marginal tiers applied to a yearly total: the breakdown per tier (exact).
CREATE FUNCTION subsidy_tiers(p_total numeric, p_tiers jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    t jsonb;
    lo numeric := 0;
    hi numeric;
    part numeric;
    out jsonb := '[]';
BEGIN
    FOR t IN SELECT x FROM jsonb_array_elements(p_tiers) x LOOP
        hi := (t->>'up_to_fen')::numeric;
        part := greatest(least(p_total, coalesce(hi, p_total)) - lo, 0);
        out := out || jsonb_build_object('from_fen', lo, 'up_to_fen', hi, 'bp', (t->>'bp')::int, 'base_fen', part,
                                         'amount_exact_fen', trim_scale(part * (t->>'bp')::numeric / 10000));
        EXIT WHEN hi IS NULL;
        lo := hi;
    END LOOP;
    RETURN out;
END $$;

-- A yearly cap for total T: (cap, which rule applied).
CREATE FUNCTION subsidy_cap(v jsonb, p_total numeric, OUT cap bigint, OUT rule text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    s jsonb;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN;
    ELSIF jsonb_typeof(v) = 'number' THEN
        cap := (v #>> '{}')::bigint;
        rule := 'fixed';
        RETURN;
    END IF;
    cap := (v->>'default_fen')::bigint;
    rule := 'default';
    FOR s IN SELECT x FROM jsonb_array_elements(v->'steps') x LOOP
        IF p_total > (s->>'total_over_fen')::numeric THEN
            cap := (s->>'cap_fen')::bigint;
            rule := format('total over %s fen', s->>'total_over_fen');
        END IF;
    END LOOP;
END $$;

-- The recipients of a fixed-amount line (no contracts), in the order of their ids:
--   institution: organisations in the region whose recognition (not withdrawn) is dated
--     in the base year, at a level the line pays; the highest rank of that year counts
--     (同年符合两级以上的按最高级别).  A level this line already paid the organisation
--     in an earlier year's run in force, or a higher one, is not paid again (amount 0,
--     note already_awarded).
--   broker: brokers in the region whose first certification (not withdrawn) is dated
--     in the base year (newly certified), each amount_per_broker_fen.
-- Plus, as everywhere, the previous run's recipients with nothing now (amount 0).
CREATE FUNCTION subsidy_fixed_recs(l jsonb, p_line int, p_base_year int, p_year int, p_scope text, p_policy bigint,
                                   p_prev_run bigint) RETURNS SETOF subsidy_rec
LANGUAGE sql STABLE AS $$
    WITH y AS (SELECT make_date(p_base_year, 1, 1) AS d0, make_date(p_base_year + 1, 1, 1) AS d1),
    inst AS (
        SELECT DISTINCT ON (r.org_id) r.org_id, r.id AS rec_id, r.level, (c.extra->>'rank')::int AS rank,
               r.recognised_by, r.recognised_on, r.document_no, o.name, o.credit_code, o.region_code
        FROM institution_recognitions r CROSS JOIN y
        JOIN orgs o ON o.id = r.org_id
        JOIN codes c ON c.list = 'institution_levels' AND c.code = r.level
        WHERE l ? 'amount_by_level_fen' AND r.withdrawn_at IS NULL AND r.recognised_on >= y.d0 AND r.recognised_on < y.d1
          AND (l->'amount_by_level_fen') ? r.level AND region_in_subtree(o.region_code, p_scope)
        ORDER BY r.org_id, (c.extra->>'rank')::int DESC, r.recognised_on, r.id
    ),
    inst_rec AS (
        SELECT i.*, (l->'amount_by_level_fen'->>i.level)::bigint AS amount,
               (SELECT min(rp.year) FROM subsidy_awards a
                  JOIN subsidy_run_policies rp ON rp.run_id = a.run_id AND rp.policy_id = a.policy_id
                 WHERE a.policy_id = p_policy AND a.line_no = p_line AND a.kind = 'award' AND a.org_id = i.org_id
                   AND a.amount_fen > 0 AND rp.year < p_year AND subsidy_run_in_force(a.run_id, a.policy_id)
                   AND (a.reasons->'recognition'->>'rank')::int >= i.rank) AS awarded_in
        FROM inst i
    ),
    brk AS (
        SELECT q.user_id, q.id AS q_id, q.certificate_no, q.issuer, q.obtained_on, u.display_name,
               coalesce(u.region_code, o.region_code) AS region
        FROM (SELECT DISTINCT ON (q.user_id) q.* FROM broker_qualifications q
              WHERE l ? 'amount_per_broker_fen' AND q.kind = 'certification' AND q.withdrawn_at IS NULL
              ORDER BY q.user_id, q.obtained_on, q.id) q
        CROSS JOIN y
        JOIN users u ON u.id = q.user_id LEFT JOIN orgs o ON o.id = u.org_id
        WHERE q.obtained_on >= y.d0 AND q.obtained_on < y.d1
          AND region_in_subtree(coalesce(u.region_code, o.region_code), p_scope)
    ),
    now_recs AS (
        SELECT p_line AS line_no, 'org:' || i.org_id AS rkey, i.org_id AS sort_id, i.org_id, NULL::bigint AS broker_id,
               NULL::bigint AS office_id, i.name AS rname, i.credit_code::text AS rcredit, i.region_code::text AS region,
               0::bigint AS base_total, CASE WHEN i.awarded_in IS NULL THEN i.amount ELSE 0 END AS pre,
               NULL::bigint AS final, NULL::numeric AS rem,
               jsonb_build_object('party', 'institution', 'label', l->>'label', 'base_year', p_base_year,
                   'recognition', jsonb_build_object('id', i.rec_id, 'level', i.level,
                       'level_label', code_label('institution_levels', i.level), 'rank', i.rank,
                       'recognised_by', i.recognised_by, 'recognised_on', i.recognised_on, 'document_no', i.document_no),
                   'amount_by_level_fen', l->'amount_by_level_fen',
                   'rule', 'the amount of the highest level recognised in the base year',
                   'note', CASE WHEN i.awarded_in IS NOT NULL
                                THEN format('already_awarded: this level or a higher one was awarded for %s', i.awarded_in) END) AS reasons
        FROM inst_rec i
        UNION ALL
        SELECT p_line, 'broker:' || b.user_id, b.user_id, NULL, b.user_id, NULL, b.display_name, NULL, b.region,
               0, (l->>'amount_per_broker_fen')::bigint, NULL, NULL,
               jsonb_build_object('party', 'broker', 'label', l->>'label', 'base_year', p_base_year,
                   'certification', jsonb_build_object('id', b.q_id, 'certificate_no', b.certificate_no,
                       'issuer', b.issuer, 'obtained_on', b.obtained_on),
                   'amount_per_broker_fen', (l->>'amount_per_broker_fen')::bigint,
                   'rule', 'a fixed amount per broker first certified in the base year', 'note', NULL)
        FROM brk b
    )
    SELECT n.line_no, n.rkey, n.sort_id, n.org_id, n.broker_id, n.office_id, n.rname, n.rcredit, n.region,
           n.base_total, n.pre, n.final, n.rem, n.reasons
    FROM now_recs n
    UNION ALL
    SELECT p_line, a.recipient_key, coalesce(a.broker_user_id, a.org_id), a.org_id, a.broker_user_id, NULL, a.recipient_name,
           a.recipient_credit_code, a.region_code, 0, 0, NULL, NULL,
           jsonb_build_object('party', a.party, 'label', l->>'label', 'base_year', p_base_year,
                              'note', 'in the previous run, nothing counts now')
    FROM subsidy_awards a
    WHERE p_prev_run IS NOT NULL AND a.run_id = p_prev_run AND a.policy_id = p_policy AND a.kind = 'award' AND a.line_no = p_line
      AND NOT EXISTS (SELECT 1 FROM now_recs n WHERE n.rkey = a.recipient_key)
    ORDER BY 3 NULLS LAST, 2
$$;

-- Compute, store and return one policy's part of run p_run (steps 1 to 6).
CREATE FUNCTION subsidy_compute(p_run bigint, p subsidy_policies, p_year int, p_scope text) RETURNS subsidy_run_policies
LANGUAGE plpgsql AS $$
DECLARE
    rules jsonb := p.rules;
    l jsonb;
    i int;
    base_yr int;
    items subsidy_item[] := '{}';
    line_items subsidy_item[];
    recs subsidy_rec[] := '{}';
    rec subsidy_rec;
    g record;
    tiers jsonb;
    gross numeric;
    uncapped numeric;
    capr record;
    after_cap numeric;
    met boolean;
    thr bigint;
    budget bigint;
    claims bigint := 0;
    leftover bigint;
    k int;
    prev_run bigint;
    rp subsidy_run_policies;
BEGIN
    IF jsonb_typeof(rules->'budget_fen') = 'object' THEN
        IF NOT (rules->'budget_fen') ? p_year::text THEN
            PERFORM yz_raise(422, format('policy %s (%s) has no budget for %s: set rules.budget_fen."%s" first',
                                         p.id, p.name, p_year, p_year), 'year', 'no_budget');
        END IF;
        budget := (rules->'budget_fen'->>p_year::text)::bigint;
    ELSE
        budget := (rules->>'budget_fen')::bigint;
    END IF;
    SELECT run_id INTO prev_run FROM subsidy_run_policies
    WHERE policy_id = p.id AND year = p_year AND scope_region = p_scope ORDER BY run_id DESC LIMIT 1;

    FOR i IN 0 .. jsonb_array_length(rules->'lines') - 1 LOOP
        l := rules->'lines'->i;
        base_yr := p_year - CASE WHEN l->>'base_year' = 'previous' THEN 1 ELSE 0 END;
        IF l ? 'amount_by_level_fen' OR l ? 'amount_per_broker_fen' THEN
            FOR rec IN SELECT f.* FROM subsidy_fixed_recs(l, i, base_yr, p_year, p_scope, p.id, prev_run) f LOOP
                claims := claims + rec.pre;
                recs := recs || rec;
            END LOOP;
            CONTINUE;
        END IF;
        line_items := ARRAY(SELECT s FROM subsidy_candidates(l, i, base_yr, p_scope, p.id) s);
        items := items || line_items;
        thr := coalesce((l->>'threshold_fen')::bigint, 0);
        -- recipients of this line, and recipients of the previous run's line who have nothing now
        FOR g IN
            SELECT u.rkey, min(u.org_id) AS org_id, min(u.broker_id) AS broker_id, min(u.office_id) AS office_id,
                   min(u.rname) AS rname, min(u.rcredit) AS rcredit, min(u.region) AS region,
                   coalesce(sum(u.base_fen) FILTER (WHERE u.excluded IS NULL), 0)::bigint AS total,
                   count(*) FILTER (WHERE u.excluded IS NULL)::int AS n_counted,
                   count(*) FILTER (WHERE u.excluded IS NOT NULL)::int AS n_excluded,
                   count(*) FILTER (WHERE u.capped)::int AS n_capped,
                   coalesce(sum(u.exact), 0) AS flat_sum,
                   coalesce(sum(coalesce((l->'rate'->>'per_contract_fen')::numeric,
                                         u.base_fen * (l->'rate'->>'flat_bp')::numeric / 10000)) FILTER (WHERE u.excluded IS NULL), 0) AS flat_uncapped,
                   jsonb_agg(jsonb_build_object('contract_id', u.contract_id, 'reason', u.excluded) ORDER BY u.contract_id)
                       FILTER (WHERE u.excluded IS NOT NULL) AS excluded
            FROM unnest(line_items) u GROUP BY u.rkey
            UNION ALL
            SELECT a.recipient_key, a.org_id, a.broker_user_id, a.office_id, a.recipient_name, a.recipient_credit_code,
                   a.region_code, 0, 0, 0, 0, 0, 0, NULL
            FROM subsidy_awards a
            WHERE prev_run IS NOT NULL AND a.run_id = prev_run AND a.policy_id = p.id AND a.kind = 'award' AND a.line_no = i
              AND NOT EXISTS (SELECT 1 FROM unnest(line_items) u WHERE u.rkey = a.recipient_key)
        LOOP
            IF l->'rate' ? 'tiers' THEN
                tiers := subsidy_tiers(g.total, l->'rate'->'tiers');
                gross := (SELECT coalesce(sum((t->>'amount_exact_fen')::numeric), 0) FROM jsonb_array_elements(tiers) t);
                uncapped := gross;
            ELSE
                tiers := NULL;
                gross := g.flat_sum;
                uncapped := g.flat_uncapped;
            END IF;
            capr := subsidy_cap(CASE WHEN l->>'party' = 'broker' THEN l->'cap_per_broker_year_fen'
                                     ELSE l->'cap_per_org_year_fen' END, g.total);
            after_cap := least(gross, capr.cap);
            met := g.n_counted > 0 AND g.total >= thr;
            rec := ROW(i, g.rkey, coalesce(g.broker_id, g.office_id, g.org_id), g.org_id, g.broker_id, g.office_id,
                       g.rname, g.rcredit, g.region, g.total,
                       CASE WHEN met THEN floor(after_cap + 0.5)::bigint ELSE 0 END, NULL, NULL,
                       jsonb_build_object(
                           'party', l->>'party', 'label', l->>'label', 'base', l->>'base', 'base_year', base_yr,
                           'contract_types', coalesce(l->'contract_types', '[]'),
                           'base_total_fen', g.total,
                           'contracts_counted', g.n_counted, 'contracts_excluded', g.n_excluded,
                           'excluded', coalesce(g.excluded, '[]'),
                           'threshold', jsonb_build_object('threshold_fen', thr, 'met', met),
                           'rate', CASE WHEN tiers IS NOT NULL THEN jsonb_build_object('tiers', tiers)
                                        WHEN l->'rate' ? 'per_contract_fen'
                                        THEN jsonb_build_object('per_contract_fen', (l->'rate'->>'per_contract_fen')::bigint)
                                        ELSE jsonb_build_object('flat_bp', (l->'rate'->>'flat_bp')::int) END,
                           'certified_brokers_only', CASE WHEN l ? 'certified_brokers_only' THEN (l->>'certified_brokers_only')::boolean END,
                           'amount_uncapped_exact_fen', trim_scale(uncapped),
                           'cap_per_contract_fen', (l->>'cap_per_contract_fen')::bigint,
                           'contracts_capped', g.n_capped,
                           'amount_exact_fen', trim_scale(gross),
                           'cap_per_year_fen', capr.cap, 'cap_rule', capr.rule,
                           'year_capped', capr.cap IS NOT NULL AND gross > capr.cap,
                           'amount_capped_exact_fen', trim_scale(after_cap),
                           'rounding', 'half up to the fen, once per award',
                           'note', CASE WHEN g.n_counted = 0 AND g.n_excluded = 0
                                        THEN 'in the previous run, nothing counts now' END))::subsidy_rec;
            claims := claims + rec.pre;
            recs := recs || rec;
        END LOOP;
    END LOOP;

    -- step 4: budget
    IF budget IS NOT NULL AND claims > budget THEN
        FOR k IN 1 .. coalesce(array_length(recs, 1), 0) LOOP
            rec := recs[k];
            rec.final := div(rec.pre::numeric * budget, claims)::bigint;
            rec.rem := mod(rec.pre::numeric * budget, claims);
            recs[k] := rec;
        END LOOP;
        leftover := budget - (SELECT sum(u.final) FROM unnest(recs) u);
        FOR k IN SELECT o.ordinality::int FROM unnest(recs) WITH ORDINALITY AS o
                 ORDER BY o.rem DESC, o.line_no, o.sort_id NULLS LAST, o.rkey LIMIT leftover LOOP
            rec := recs[k];
            rec.final := rec.final + 1;
            recs[k] := rec;
        END LOOP;
        FOR k IN 1 .. coalesce(array_length(recs, 1), 0) LOOP
            rec := recs[k];
            rec.reasons := rec.reasons || jsonb_build_object('pro_rating', jsonb_build_object(
                'budget_fen', budget, 'claims_fen', claims,
                'factor', trim_scale(round(budget::numeric / claims, 10))::text,
                'floor_fen', div(rec.pre::numeric * budget, claims),
                'remainder_fen_added', rec.final - div(rec.pre::numeric * budget, claims),
                'rule', 'floor(amount * budget / claims), left-over fen by largest remainder, then line, recipient id'));
            recs[k] := rec;
        END LOOP;
    ELSE
        FOR k IN 1 .. coalesce(array_length(recs, 1), 0) LOOP
            rec := recs[k];
            rec.final := rec.pre;
            rec.reasons := rec.reasons || jsonb_build_object('pro_rating', NULL);
            recs[k] := rec;
        END LOOP;
    END IF;

    -- step 5: store awards and apportion each to its contracts
    WITH ins AS (
        INSERT INTO subsidy_awards (run_id, policy_id, line_no, kind, party, recipient_key, org_id, broker_user_id,
            office_id, recipient_name, recipient_credit_code, region_code, base_total_fen, amount_before_budget_fen,
            amount_fen, previous_amount_fen, change_fen, reasons)
        SELECT p_run, p.id, r.line_no, 'award', rules->'lines'->r.line_no->>'party', r.rkey, r.org_id, r.broker_id,
               r.office_id, r.rname, r.rcredit, r.region, r.base_total, r.pre, r.final, pa.prev, r.final - pa.prev,
               r.reasons || jsonb_build_object('amount_before_budget_fen', r.pre, 'amount_fen', r.final)
        FROM unnest(recs) r
        LEFT JOIN LATERAL (
            SELECT CASE WHEN prev_run IS NOT NULL THEN coalesce(
                (SELECT a.amount_fen FROM subsidy_awards a WHERE a.run_id = prev_run AND a.policy_id = p.id
                   AND a.kind = 'award' AND a.line_no = r.line_no AND a.recipient_key = r.rkey), 0) END AS prev
        ) pa ON true
        ORDER BY r.line_no, r.sort_id NULLS LAST, r.rkey
        RETURNING id, line_no, recipient_key, amount_fen
    ),
    it AS (
        SELECT ins.id AS award_id, ins.amount_fen AS final, u.contract_id, u.registration_no, u.base_fen, u.exact,
               u.capped, u.excluded,
               CASE WHEN u.excluded IS NULL THEN coalesce(u.exact, u.base_fen::numeric) END AS w
        FROM ins JOIN unnest(items) u ON u.line_no = ins.line_no AND u.rkey = ins.recipient_key
    ),
    q AS (
        SELECT it.*, sum(it.w) OVER (PARTITION BY it.award_id) AS wsum FROM it
    ),
    q2 AS (
        SELECT q.*,
               CASE WHEN q.w IS NOT NULL AND q.wsum > 0 THEN div(q.final * q.w, q.wsum) ELSE 0 END AS fl,
               CASE WHEN q.w IS NOT NULL AND q.wsum > 0 THEN mod(q.final * q.w, q.wsum) END AS rm
        FROM q
    ),
    q3 AS (
        SELECT q2.*, q2.final - sum(q2.fl) OVER (PARTITION BY q2.award_id) AS left_fen,
               row_number() OVER (PARTITION BY q2.award_id ORDER BY (q2.w IS NULL), q2.rm DESC NULLS LAST, q2.contract_id) AS rn
        FROM q2
    )
    INSERT INTO subsidy_award_contracts (award_id, contract_id, registration_no, base_fen, amount_exact, capped, excluded, share_fen)
    SELECT award_id, contract_id, registration_no, base_fen, trim_scale(exact), coalesce(capped, false), excluded,
           (fl + CASE WHEN w IS NOT NULL AND rn <= left_fen THEN 1 ELSE 0 END)::bigint
    FROM q3;

    -- step 6: claw-backs of contracts cancelled since the previous run
    IF prev_run IS NOT NULL THEN
        WITH cb0 AS (
            SELECT a.*, ac.contract_id, ac.registration_no AS reg_no, ac.base_fen AS c_base, ac.share_fen,
                   c.cancelled_at, c.cancel_reason,
                   -- the fall of the recipient's award under this line (0 when it did not fall)
                   greatest(a.amount_fen - coalesce((SELECT n.amount_fen FROM subsidy_awards n
                       WHERE n.run_id = p_run AND n.policy_id = p.id AND n.kind = 'award'
                         AND n.line_no = a.line_no AND n.recipient_key = a.recipient_key), 0), 0) AS fall,
                   coalesce(sum(ac.share_fen) OVER (PARTITION BY a.id ORDER BY ac.contract_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
            FROM subsidy_awards a
            JOIN subsidy_award_contracts ac ON ac.award_id = a.id
            JOIN contracts c ON c.id = ac.contract_id
            WHERE a.run_id = prev_run AND a.policy_id = p.id AND a.kind = 'award' AND ac.share_fen > 0
              AND c.status = 'cancelled'
        ),
        cb AS (
            -- the fall is taken back contract by contract (ids ascending), each at most its share:
            -- the claw-backs of a recipient add up to min(fall, cancelled shares), never more
            SELECT cb0.*, least(cb0.share_fen, greatest(cb0.fall - cb0.before, 0)) AS taken FROM cb0
        ),
        ins AS (
            INSERT INTO subsidy_awards (run_id, policy_id, line_no, kind, party, recipient_key, org_id, broker_user_id,
                office_id, recipient_name, recipient_credit_code, region_code, base_total_fen, amount_before_budget_fen,
                amount_fen, reasons)
            SELECT p_run, p.id, cb.line_no, 'clawback', cb.party, cb.recipient_key, cb.org_id, cb.broker_user_id,
                   cb.office_id, cb.recipient_name, cb.recipient_credit_code, cb.region_code, cb.c_base,
                   -cb.taken, -cb.taken,
                   jsonb_build_object('clawback', jsonb_build_object(
                       'contract_id', cb.contract_id, 'registration_no', cb.reg_no,
                       'cancelled_at', cb.cancelled_at, 'cancel_reason', cb.cancel_reason,
                       'previous_run_id', prev_run, 'previous_award_id', cb.id, 'previous_share_fen', cb.share_fen,
                       'net_fall_fen', cb.fall, 'taken_fen', cb.taken,
                       'rule', 'the registration was cancelled after the previous run: its share of that run''s award is taken back, but never more than the recipient''s award fell'))
            FROM cb WHERE cb.taken > 0 ORDER BY cb.line_no, cb.recipient_key, cb.contract_id
            RETURNING id, reasons, base_total_fen, amount_fen
        )
        INSERT INTO subsidy_award_contracts (award_id, contract_id, registration_no, base_fen, share_fen)
        SELECT ins.id, (ins.reasons->'clawback'->>'contract_id')::bigint, ins.reasons->'clawback'->>'registration_no',
               ins.base_total_fen, ins.amount_fen
        FROM ins;
    END IF;

    rp.run_id := p_run;
    rp.policy_id := p.id;
    rp.year := p_year;
    rp.scope_region := p_scope;
    rp.policy_name := p.name;
    rp.policy_version := p.version;
    rp.rules := p.rules;
    rp.previous_run_id := prev_run;
    rp.claims_fen := claims;
    rp.budget_fen := budget;
    rp.pro_rated := budget IS NOT NULL AND claims > budget;
    SELECT coalesce(sum(amount_fen) FILTER (WHERE kind = 'award'), 0), coalesce(sum(amount_fen) FILTER (WHERE kind = 'clawback'), 0)
    INTO rp.awarded_fen, rp.clawback_fen FROM subsidy_awards WHERE run_id = p_run AND policy_id = p.id;
    IF prev_run IS NOT NULL THEN
        SELECT awarded_fen INTO rp.previous_awarded_fen FROM subsidy_run_policies WHERE run_id = prev_run AND policy_id = p.id;
    END IF;
    SELECT encode(sha256(convert_to(coalesce(string_agg(x.s, E'\n' ORDER BY x.line_no, x.recipient_key), ''), 'UTF8')), 'hex')
    INTO rp.digest
    FROM (SELECT a.line_no, a.recipient_key,
                 format('%s|%s|%s|%s', a.line_no, a.recipient_key, a.amount_fen,
                        (SELECT string_agg(format('%s:%s:%s', ac.contract_id, ac.share_fen, coalesce(ac.excluded, '')), ','
                                           ORDER BY ac.contract_id)
                         FROM subsidy_award_contracts ac WHERE ac.award_id = a.id)) AS s
          FROM subsidy_awards a WHERE a.run_id = p_run AND a.policy_id = p.id AND a.kind = 'award') x;
    INSERT INTO subsidy_run_policies SELECT rp.*;
    RETURN rp;
END $$;

------------------------------------------------------------------------------
-- JSON and visibility
------------------------------------------------------------------------------

-- A bureau (p_scope) sees a run when every region it covered is in its subtree.
CREATE FUNCTION subsidy_run_visible(p_run bigint, p_scope text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_scope IS NULL OR NOT EXISTS (
        SELECT 1 FROM subsidy_run_policies rp WHERE rp.run_id = p_run AND region_in_subtree(rp.scope_region, p_scope) IS NOT TRUE)
$$;

CREATE FUNCTION subsidy_award_json(a subsidy_awards) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'line', a.line_no, 'party', a.party,
        'recipient', jsonb_build_object('key', a.recipient_key, 'org_id', a.org_id, 'broker_user_id', a.broker_user_id,
                                        'office_id', a.office_id, 'name', a.recipient_name,
                                        'credit_code', a.recipient_credit_code, 'region_code', a.region_code),
        'base_total_fen', a.base_total_fen, 'amount_before_budget_fen', a.amount_before_budget_fen,
        'amount_fen', a.amount_fen, 'previous_amount_fen', a.previous_amount_fen, 'change_fen', a.change_fen,
        'reasons', a.reasons,
        'contracts', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'contract_id', ac.contract_id, 'registration_no', ac.registration_no, 'base_fen', ac.base_fen,
                'amount_exact_fen', ac.amount_exact, 'capped', ac.capped, 'excluded', ac.excluded,
                'share_fen', ac.share_fen) ORDER BY ac.contract_id)
            FROM subsidy_award_contracts ac WHERE ac.award_id = a.id), '[]'))
$$;

CREATE FUNCTION subsidy_run_json(p_run bigint, p_with_awards boolean DEFAULT true) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id, 'year', r.year, 'region_code', r.region_code,
        'digest', (SELECT encode(sha256(convert_to(string_agg(rp.policy_id || ':' || rp.digest, ',' ORDER BY rp.policy_id),
                                                   'UTF8')), 'hex') FROM subsidy_run_policies rp WHERE rp.run_id = r.id),
        'created_at', r.created_at, 'created_by', r.created_by,
        'total_awarded_fen', (SELECT coalesce(sum(awarded_fen), 0) FROM subsidy_run_policies WHERE run_id = r.id),
        'total_clawback_fen', (SELECT coalesce(sum(clawback_fen), 0) FROM subsidy_run_policies WHERE run_id = r.id),
        'policies', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'policy_id', rp.policy_id, 'name', rp.policy_name, 'policy_version', rp.policy_version,
                'scope_region_code', rp.scope_region,
                'scope_region_name', (SELECT name FROM regions WHERE code = rp.scope_region),
                'previous_run_id', rp.previous_run_id,
                'claims_fen', rp.claims_fen, 'budget_fen', rp.budget_fen, 'pro_rated', rp.pro_rated,
                'awarded_fen', rp.awarded_fen, 'clawback_fen', rp.clawback_fen,
                'previous_awarded_fen', rp.previous_awarded_fen,
                'change_fen', rp.awarded_fen - rp.previous_awarded_fen,
                'digest', rp.digest)
              || CASE WHEN p_with_awards THEN jsonb_build_object(
                'rules', rp.rules,
                'parties', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                  'party', x.party, 'recipient_key', x.recipient_key, 'name', x.name,
                                  'org_id', x.org_id, 'broker_user_id', x.broker_user_id, 'office_id', x.office_id,
                                  'previous_amount_fen', CASE WHEN rp.previous_run_id IS NOT NULL THEN x.prev END,
                                  'amount_fen', x.now,
                                  'change_fen', CASE WHEN rp.previous_run_id IS NOT NULL THEN x.now - x.prev END,
                                  'clawback_fen', x.cb)
                                  ORDER BY x.party, x.sort_id NULLS LAST, x.recipient_key), '[]')
                            FROM (SELECT a.party, a.recipient_key, min(a.recipient_name) AS name, min(a.org_id) AS org_id,
                                         min(a.broker_user_id) AS broker_user_id, min(a.office_id) AS office_id,
                                         min(coalesce(a.broker_user_id, a.office_id, a.org_id)) AS sort_id,
                                         coalesce(sum(a.previous_amount_fen) FILTER (WHERE a.kind = 'award'), 0) AS prev,
                                         coalesce(sum(a.amount_fen) FILTER (WHERE a.kind = 'award'), 0) AS now,
                                         coalesce(sum(a.amount_fen) FILTER (WHERE a.kind = 'clawback'), 0) AS cb
                                  FROM subsidy_awards a WHERE a.run_id = rp.run_id AND a.policy_id = rp.policy_id
                                  GROUP BY a.party, a.recipient_key) x),
                'awards', (SELECT coalesce(jsonb_agg(subsidy_award_json(a)
                                  ORDER BY a.line_no, a.kind, coalesce(a.broker_user_id, a.office_id, a.org_id) NULLS LAST,
                                           a.recipient_key, a.id), '[]')
                           FROM subsidy_awards a WHERE a.run_id = rp.run_id AND a.policy_id = rp.policy_id))
                 ELSE '{}' END
              ORDER BY rp.policy_id), '[]')
            FROM subsidy_run_policies rp WHERE rp.run_id = r.id))
    FROM subsidy_runs r WHERE r.id = p_run
$$;

------------------------------------------------------------------------------
-- POST /subsidy-runs
------------------------------------------------------------------------------

-- p_scope: the bureau's region (NULL for admin).  b: {year, policy_ids?, region?}
-- (types checked by the server).
CREATE FUNCTION subsidy_run_create(p_actor bigint, p_req text, p_scope text, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    yr int;
    reg text := b->>'region';
    ids bigint[];
    v jsonb;
    i int := 0;
    p subsidy_policies;
    scope text;
    v_run bigint;
    rp subsidy_run_policies;
    n_rows bigint;
    summary jsonb := '[]';
BEGIN
    PERFORM subsidy_check_int(b->'year', 'year', 2000, 2100, false);
    yr := (b->>'year')::int;
    IF reg IS NOT NULL THEN
        IF reg !~ '^[0-9]{6}$' THEN
            PERFORM yz_raise(422, 'a six-digit GB/T 2260 region code', 'region', 'invalid_format');
        END IF;
        PERFORM check_region(reg, 'region');
        IF p_scope IS NOT NULL AND region_in_subtree(reg, p_scope) IS NOT TRUE THEN
            PERFORM yz_raise(403, 'a bureau runs subsidies for its own region and the regions below it', 'region', 'out_of_scope');
        END IF;
    END IF;

    IF b ? 'policy_ids' AND jsonb_typeof(b->'policy_ids') <> 'null' THEN
        IF jsonb_array_length(b->'policy_ids') NOT BETWEEN 1 AND 50 THEN
            PERFORM yz_raise(422, 'name 1 to 50 policies, or leave policy_ids out for every policy that applies',
                             'policy_ids', 'invalid');
        END IF;
        FOR v IN SELECT x FROM jsonb_array_elements(b->'policy_ids') x LOOP
            PERFORM subsidy_check_int(v, format('policy_ids[%s]', i), 1, 4611686018427387903, false);
            IF (v #>> '{}')::bigint = ANY (ids) THEN
                PERFORM yz_raise(422, 'a policy is named twice', format('policy_ids[%s]', i), 'duplicate');
            END IF;
            SELECT * INTO p FROM subsidy_policies WHERE id = (v #>> '{}')::bigint;
            IF NOT FOUND OR NOT subsidy_policy_visible(p, p_scope) THEN
                PERFORM yz_raise(404, 'no such subsidy policy', format('policy_ids[%s]', i), 'unknown');
            END IF;
            IF NOT p.active THEN
                PERFORM yz_raise(422, format('policy %s is not active', p.id), format('policy_ids[%s]', i), 'inactive');
            END IF;
            IF yr < p.valid_from_year OR yr > coalesce(p.valid_to_year, 2100) THEN
                PERFORM yz_raise(422, format('policy %s is valid from %s to %s', p.id, p.valid_from_year,
                                             coalesce(p.valid_to_year::text, 'now')), 'year', 'policy_not_valid');
            END IF;
            IF reg IS NOT NULL AND region_in_subtree(reg, p.region_code) IS NOT TRUE AND region_in_subtree(p.region_code, reg) IS NOT TRUE THEN
                PERFORM yz_raise(422, format('region %s does not overlap the region %s of policy %s', reg, p.region_code, p.id),
                                 'region', 'no_overlap');
            END IF;
            ids := ids || p.id;
            i := i + 1;
        END LOOP;
    ELSE
        ids := ARRAY(SELECT s.id FROM subsidy_policies s
                     WHERE s.active AND yr BETWEEN s.valid_from_year AND coalesce(s.valid_to_year, 2100)
                       AND subsidy_policy_visible(s, p_scope)
                       AND (reg IS NULL OR region_in_subtree(reg, s.region_code) OR region_in_subtree(s.region_code, reg))
                     ORDER BY s.id);
        IF cardinality(ids) = 0 THEN
            PERFORM yz_raise(422, format('no active subsidy policy of your region applies to %s', yr), 'policy_ids', 'none_apply');
        END IF;
    END IF;

    -- One run per policy at a time: the rows stay locked until commit, so the
    -- "previous run" is well defined and an edit cannot slip in between.
    PERFORM 1 FROM subsidy_policies WHERE id = ANY (ids) ORDER BY id FOR UPDATE;

    INSERT INTO subsidy_runs (year, region_code, created_by, request_id)
    VALUES (yr, reg, p_actor, p_req) RETURNING id INTO v_run;
    FOR p IN SELECT * FROM subsidy_policies WHERE id = ANY (ids) ORDER BY id LOOP
        scope := CASE WHEN reg IS NULL OR region_in_subtree(p.region_code, reg) THEN p.region_code ELSE reg END;
        rp := subsidy_compute(v_run, p, yr, scope);
        summary := summary || jsonb_build_object('policy_id', p.id, 'policy_version', p.version, 'scope_region_code', scope,
                                                 'awarded_fen', rp.awarded_fen, 'clawback_fen', rp.clawback_fen,
                                                 'previous_run_id', rp.previous_run_id, 'digest', rp.digest);
    END LOOP;
    SELECT count(*) INTO n_rows FROM subsidy_awards a WHERE a.run_id = v_run;
    IF n_rows = 0 THEN
        -- raising rolls the run back: a year without data leaves nothing behind
        PERFORM yz_raise(422, format('no registered contract in the covered regions counts for %s: nothing to compute', yr),
                         'year', 'no_data');
    END IF;
    PERFORM audit_append(p_actor, p_req, 'subsidy_run', v_run::text, 'create', NULL,
                         jsonb_build_object('year', yr, 'region_code', reg, 'policies', summary));
    RETURN subsidy_run_json(v_run)::text;
END $$;

-- Tax relief: the bureau's estimate of the tax relief that follows
-- registration (GET /tax-relief?year=&region=), per seller and year, with the
-- rule that decided each contract and the rules' sources in `assumptions`.
--
-- Contracts: status 'registered', registered in the year (registered_at,
-- Asia/Shanghai), seller's region (as recorded on the contract) in the region
-- subtree ('000000' = the whole country).  Grouped by seller org (a seller
-- without an account here by credit code, else name).  Every rule is a row
-- (0002, 0017); tax_assess() reads them for one contract:
--
--  VAT (财税〔2016〕36号附件3 一（二十六）): exempt are contract types whose code has
--    extra.vat_exempt (development, transfer, licence) — reason exempt_type — and
--    consulting or service contracts (extra.vat_exempt_if_related) that name, as
--    related_contract_id, a registered contract of an exempt type between the same
--    parties — related_to_exempt_contract; other consulting and service contracts
--    are not — not_related; any other type not_exempt_type.  The base is the
--    exempt contract's technical amount (setting tax_vat_base: technical_amount;
--    contract_amount would include equipment and materials, which the rule does not
--    exempt).  vat_saved_fen = round_half_up(base * tax_vat_rate_bp / 10000).
--  CIT (企业所得税法实施条例第九十条, 财税〔2010〕111号, 财税〔2015〕116号):
--    technology-transfer income (技术转让所得) is the technical amount of a contract
--    that passes, in this order (the first failing test is the reason):
--      not_transfer_type     its type has extra.cit_transfer_income (transfer, licence)
--      seller_not_cit_payer  the seller's org type is not in setting tax_cit_excluded_org_types
--      ip_not_qualifying     the IP transferred qualifies: the subtype's extra.cit_qualifying
--                            when it has one (专利权转让 yes, 技术秘密转让 no, ...), else the
--                            contract ip_type's (patents, software copyright, IC layout,
--                            plant varieties, new biomedicine varieties)
--      licence_too_short     a licence runs at least extra.cit_min_licence_years years from
--                            effective_on (else signed_on) to end_on
--      wholly_related_party  the contract's related_party code has no extra.cit_excluded
--                            (100 % related parties: 财税〔2010〕111号 四)
--    otherwise qualifying.  Per seller: exempt part = min(income,
--    cit_exempt_threshold_fen) (5,000,000 yuan), halved part = income - exempt part,
--    cit_relief_fen = round_half_up((exempt * rate + halved * rate / 2) / 10000),
--    rate = tax_cit_rate_bp.  Income stands in for 所得 (income less its costs),
--    which the registry does not know: the figure is an upper estimate.
--  Rounding: half up to the fen, once per figure and seller.
CREATE FUNCTION tax_assess(c contracts, OUT vat_base_fen bigint, OUT vat_reason text, OUT cit_income_fen bigint,
                           OUT cit_reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t jsonb := tax_type_extra(c.contract_type);
    st jsonb := tax_type_extra(c.contract_subtype);
    amount bigint := CASE WHEN setting_text('tax_vat_base', 'technical_amount') = 'contract_amount'
                          THEN c.contract_amount_fen ELSE c.technical_amount_fen END;
    years int := (t->>'cit_min_licence_years')::int;
BEGIN
    vat_base_fen := 0;
    IF coalesce((t->>'vat_exempt')::boolean, false) THEN
        vat_base_fen := amount;
        vat_reason := 'exempt_type';
    ELSIF coalesce((t->>'vat_exempt_if_related')::boolean, false) THEN
        IF EXISTS (SELECT 1 FROM contracts r WHERE r.id = c.related_contract_id AND r.status = 'registered'
                     AND coalesce((tax_type_extra(r.contract_type)->>'vat_exempt')::boolean, false)) THEN
            vat_base_fen := amount;
            vat_reason := 'related_to_exempt_contract';
        ELSE
            vat_reason := 'not_related';
        END IF;
    ELSE
        vat_reason := 'not_exempt_type';
    END IF;

    cit_income_fen := 0;
    IF NOT coalesce((t->>'cit_transfer_income')::boolean, false) THEN
        cit_reason := 'not_transfer_type';
    ELSIF c.seller_org_type IN (SELECT jsonb_array_elements_text(value) FROM settings WHERE key = 'tax_cit_excluded_org_types') THEN
        cit_reason := 'seller_not_cit_payer';
    ELSIF NOT coalesce((st->>'cit_qualifying')::boolean,
                       (SELECT (extra->>'cit_qualifying')::boolean FROM codes WHERE list = 'ip_types' AND code = c.ip_type),
                       false) THEN
        cit_reason := 'ip_not_qualifying';
    ELSIF years IS NOT NULL AND NOT coalesce(c.end_on >= coalesce(c.effective_on, c.signed_on) + make_interval(years => years), false) THEN
        cit_reason := 'licence_too_short';
    ELSIF coalesce((SELECT (extra->>'cit_excluded')::boolean FROM codes WHERE list = 'related_party_kinds' AND code = c.related_party), false) THEN
        cit_reason := 'wholly_related_party';
    ELSE
        cit_income_fen := c.technical_amount_fen;
        cit_reason := 'qualifying';
    END IF;
END $$;

-- The rules tax_assess() applies, as sentences with their sources, read from
-- the same rows: the answer states what the estimate assumed.
CREATE FUNCTION tax_rules() RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'vat_rate_bp', setting_int('tax_vat_rate_bp', 600), 'cit_rate_bp', setting_int('tax_cit_rate_bp', 2500),
        'cit_exempt_threshold_fen', setting_int('cit_exempt_threshold_fen', 500000000),
        'cit_excluded_org_types', coalesce((SELECT value FROM settings WHERE key = 'tax_cit_excluded_org_types'), '[]'),
        'vat_base', setting_text('tax_vat_base', 'technical_amount'),
        'vat_exempt_types', (SELECT coalesce(jsonb_agg(code ORDER BY sort), '[]') FROM codes
                             WHERE list = 'contract_types' AND parent_code IS NULL AND (extra->>'vat_exempt')::boolean),
        'vat_exempt_if_related_types', (SELECT coalesce(jsonb_agg(code ORDER BY sort), '[]') FROM codes
                             WHERE list = 'contract_types' AND parent_code IS NULL AND (extra->>'vat_exempt_if_related')::boolean),
        'cit_income_types', (SELECT coalesce(jsonb_agg(code ORDER BY sort), '[]') FROM codes
                             WHERE list = 'contract_types' AND parent_code IS NULL AND (extra->>'cit_transfer_income')::boolean),
        'cit_qualifying_subtypes', (SELECT coalesce(jsonb_object_agg(code, (extra->>'cit_qualifying')::boolean), '{}') FROM codes
                             WHERE list = 'contract_types' AND extra ? 'cit_qualifying'),
        'cit_qualifying_ip_types', (SELECT coalesce(jsonb_agg(code ORDER BY sort), '[]') FROM codes
                             WHERE list = 'ip_types' AND (extra->>'cit_qualifying')::boolean),
        'cit_excluded_related_party', (SELECT coalesce(jsonb_agg(code ORDER BY sort), '[]') FROM codes
                             WHERE list = 'related_party_kinds' AND (extra->>'cit_excluded')::boolean),
        'rounding', 'half up to the fen, once per figure and seller',
        'statements', jsonb_build_array(
            jsonb_build_object('code', 'vat_exempt',
                'text', '免征增值税：' || (SELECT string_agg(label, '、' ORDER BY sort) FROM codes WHERE list = 'contract_types'
                         AND parent_code IS NULL AND (extra->>'vat_exempt')::boolean) || '合同；与之相关（同一双方，登记时关联了已登记的技术转让、许可或开发合同）的'
                         || (SELECT string_agg(label, '、' ORDER BY sort) FROM codes WHERE list = 'contract_types'
                             AND parent_code IS NULL AND (extra->>'vat_exempt_if_related')::boolean) || '合同',
                'source', (SELECT extra->>'vat_source' FROM codes WHERE list = 'contract_types' AND code = 'consulting')),
            jsonb_build_object('code', 'vat_base',
                'text', CASE WHEN setting_text('tax_vat_base', 'technical_amount') = 'contract_amount'
                             THEN '免税基础为合同成交额' ELSE '免税基础为技术交易额（不含设备、仪器、零部件、原材料等非技术性费用）' END
                        || '，按税率 ' || trim_scale(setting_int('tax_vat_rate_bp', 600) / 100.0) || '% 估算少缴的增值税',
                'source', (SELECT extra->>'vat_source' FROM codes WHERE list = 'contract_types' AND code = 'development')
                          || '；免征的是技术转让、技术开发及相关咨询、服务的价款，不含随技术提供的设备、仪器、零部件、原材料'),
            jsonb_build_object('code', 'cit_scope',
                'text', '技术转让所得：技术转让合同，以及期限不少于 5 年的技术许可合同；所转让的须为'
                        || (SELECT string_agg(label, '、' ORDER BY sort) FROM codes WHERE list = 'ip_types' AND (extra->>'cit_qualifying')::boolean)
                        || '（技术秘密、专利申请权等不属于）',
                'source', (SELECT extra->>'cit_source' FROM codes WHERE list = 'contract_types' AND code = 'licence')
                          || '；财税〔2010〕111号 一'),
            jsonb_build_object('code', 'cit_income',
                'text', '技术转让收入按技术交易额计，不含设备、仪器、零部件、原材料等非技术性收入；与技术转让相关的咨询、服务收入未计入',
                'source', '国税函〔2009〕212号 二：技术转让收入不包括销售或转让设备、仪器、零部件、原材料等非技术性收入'),
            jsonb_build_object('code', 'cit_related_party',
                'text', '100% 关联方之间的技术转让所得不享受减免',
                'source', (SELECT extra->>'cit_source' FROM codes WHERE list = 'related_party_kinds' AND code = 'wholly_related')),
            jsonb_build_object('code', 'cit_relief',
                'text', '年度技术转让所得 ' || (setting_int('cit_exempt_threshold_fen', 500000000) / 1000000) || ' 万元以内免征、超过部分减半，按税率 '
                        || trim_scale(setting_int('tax_cit_rate_bp', 2500) / 100.0) || '% 估算；以技术交易额代替所得（未扣除成本），为估算上限；自然人卖方不计',
                'source', (SELECT description FROM settings WHERE key = 'cit_exempt_threshold_fen'))),
        'note', '估算：增值税按免税基础 × 税率；企业所得税以技术交易额代替技术转让所得（未扣除成本），500 万元以内免征、超过部分减半')
$$;

CREATE FUNCTION tax_relief(p_region text, p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT setting_int('tax_vat_rate_bp', 600)::numeric AS vat_bp,
               setting_int('tax_cit_rate_bp', 2500)::numeric AS cit_bp,
               setting_int('cit_exempt_threshold_fen', 500000000) AS cit_thr,
               (make_date(p_year, 1, 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS t0,
               (make_date(p_year + 1, 1, 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS t1
    ),
    c AS (
        SELECT c.id, c.registration_no, c.contract_type, c.contract_subtype, c.contract_amount_fen, c.technical_amount_fen,
               c.seller_org_id, c.seller_org_type,
               coalesce(o.name, c.seller_name) AS seller_name, c.seller_credit_code, c.seller_region_code,
               CASE WHEN c.seller_org_id IS NOT NULL THEN 'org:' || c.seller_org_id
                    WHEN c.seller_credit_code IS NOT NULL THEN 'credit:' || c.seller_credit_code
                    ELSE 'name:' || c.seller_name END AS skey,
               a.vat_base_fen, a.vat_reason, a.cit_income_fen, a.cit_reason
        FROM contracts c CROSS JOIN s
        CROSS JOIN LATERAL tax_assess(c) a
        LEFT JOIN orgs o ON o.id = c.seller_org_id
        WHERE c.status = 'registered' AND c.registered_at >= s.t0 AND c.registered_at < s.t1
          AND c.seller_region_code IS NOT NULL
          AND (p_region = '000000' OR region_in_subtree(c.seller_region_code, p_region))
    ),
    g AS (
        SELECT c.skey, min(c.seller_org_id) AS org_id, min(c.seller_name) AS name, min(c.seller_credit_code) AS credit_code,
               min(c.seller_org_type) AS org_type, min(c.seller_region_code) AS region_code, count(*) AS contracts,
               sum(c.vat_base_fen) AS vat_amt,
               count(*) FILTER (WHERE c.vat_reason IN ('exempt_type', 'related_to_exempt_contract')) AS vat_n,
               count(*) FILTER (WHERE c.vat_reason = 'related_to_exempt_contract') AS vat_rel_n,
               coalesce(sum(c.technical_amount_fen) FILTER (WHERE c.vat_reason = 'not_related'), 0) AS vat_unrelated,
               coalesce(sum(c.contract_amount_fen - c.technical_amount_fen)
                        FILTER (WHERE c.vat_reason IN ('exempt_type', 'related_to_exempt_contract')), 0) AS vat_non_tech,
               sum(c.cit_income_fen) AS cit_inc, count(*) FILTER (WHERE c.cit_reason = 'qualifying') AS cit_n,
               jsonb_agg(jsonb_build_object('contract_id', c.id, 'registration_no', c.registration_no,
                   'contract_type', c.contract_type, 'contract_subtype', c.contract_subtype,
                   'contract_subtype_label', code_label('contract_types', c.contract_subtype),
                   'technical_amount_fen', c.technical_amount_fen,
                   'vat_base_fen', c.vat_base_fen, 'vat_reason', c.vat_reason,
                   'cit_income_fen', c.cit_income_fen, 'cit_reason', c.cit_reason) ORDER BY c.id) AS details
        FROM c GROUP BY c.skey
    ),
    r AS (
        SELECT g.*, floor(g.vat_amt * s.vat_bp / 10000 + 0.5)::bigint AS vat_saved,
               least(g.cit_inc, s.cit_thr) AS cit_exempt, g.cit_inc - least(g.cit_inc, s.cit_thr) AS cit_halved,
               floor((least(g.cit_inc, s.cit_thr) * s.cit_bp + (g.cit_inc - least(g.cit_inc, s.cit_thr)) * s.cit_bp / 2)
                     / 10000 + 0.5)::bigint AS cit_relief
        FROM g CROSS JOIN s
    )
    SELECT jsonb_build_object(
        'year', p_year, 'region_code', p_region,
        'region_name', region_name(p_region),
        'assumptions', tax_rules(),
        'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'seller', jsonb_build_object('key', r.skey, 'org_id', r.org_id, 'name', r.name,
                                             'credit_code', r.credit_code, 'org_type', r.org_type,
                                             'region_code', r.region_code),
                'contracts', r.contracts,
                'vat_exempt_contracts', r.vat_n, 'vat_related_contracts', r.vat_rel_n,
                'vat_exempt_amount_fen', r.vat_amt, 'vat_non_technical_fen', r.vat_non_tech,
                'vat_saved_fen', r.vat_saved, 'vat_unrelated_service_amount_fen', r.vat_unrelated,
                'cit_transfer_contracts', r.cit_n, 'cit_transfer_income_fen', r.cit_inc,
                'cit_exempt_part_fen', r.cit_exempt, 'cit_halved_part_fen', r.cit_halved, 'cit_relief_fen', r.cit_relief,
                'total_relief_fen', r.vat_saved + r.cit_relief, 'details', r.details)
              ORDER BY r.org_id NULLS LAST, r.skey) FROM r), '[]'),
        'totals', (SELECT jsonb_build_object(
                'sellers', count(*), 'contracts', coalesce(sum(r.contracts), 0),
                'vat_exempt_amount_fen', coalesce(sum(r.vat_amt), 0), 'vat_saved_fen', coalesce(sum(r.vat_saved), 0),
                'cit_transfer_income_fen', coalesce(sum(r.cit_inc), 0),
                'cit_exempt_part_fen', coalesce(sum(r.cit_exempt), 0), 'cit_halved_part_fen', coalesce(sum(r.cit_halved), 0),
                'cit_relief_fen', coalesce(sum(r.cit_relief), 0),
                'total_relief_fen', coalesce(sum(r.vat_saved + r.cit_relief), 0)) FROM r))
$$;
COMMENT ON FUNCTION tax_relief(text, int) IS
    'Estimated VAT and corporate-income-tax relief of sellers of contracts registered in a year in a region subtree (see migrations/functions/subsidies.sql).';

-- GET /tax-relief: region defaults to the bureau's own (admin: '000000', the
-- whole country); a bureau sees only its subtree (403 otherwise).
CREATE FUNCTION tax_relief_scoped(p_region text, p_year int, p_scope text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r text := coalesce(p_region, p_scope, '000000');
BEGIN
    PERFORM check_region_in_scope(r, p_scope, 'region', 'a bureau sees its own region and the regions below it');
    RETURN tax_relief(r, p_year);
END $$;

