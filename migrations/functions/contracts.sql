-- contracts.sql — the registration workflow (技术合同认定登记) as the API sees it.
--
-- contract_* functions are the only writers of contracts.  Each checks the
-- caller's right to act (scope), the state transition, the field values
-- against the code lists, and writes its audit entry, in one transaction.
-- Registration numbers come from registration_next_serial() inside the same
-- transaction, so they are gap-free and unique per office and year.
--
-- Also here: the triggers that keep a contract consistent (the registration
-- number's office, the sum of payments received), the certificate's content,
-- and the files of an application (attachments: stored with their SHA-256,
-- re-checked on every download, so a file changed behind the server's back is
-- detected).

-- Registration number 登记编号: YYYY + the office''s six-digit region code + a
-- six-digit serial per office and year.
CREATE FUNCTION registration_number(year integer, office_region text, serial integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lpad(year::text, 4, '0') || office_region || lpad(serial::text, 6, '0')
$$;
COMMENT ON FUNCTION registration_number(integer, text, integer) IS
    'Formats a registration number: YYYY || six-digit office region code || six-digit serial.';

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

-- Who may see a contract.  Parties see their contracts in every state; an
-- officer sees applications of their office once submitted; a bureau user
-- sees registrations whose seller or buyer is in its region subtree.
-- Never NULL: callers write `NOT contract_visible(...)`, and NOT NULL would
-- let a caller through (p_org IN (seller, buyer, NULL) is NULL on no match).
CREATE FUNCTION contract_visible(c contracts, p_org bigint, p_office bigint, p_region text, p_admin boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(p_admin, false)
        OR coalesce(p_org IS NOT NULL AND p_org IN (c.seller_org_id, c.buyer_org_id, c.intermediary_org_id), false)
        OR coalesce(p_office IS NOT NULL AND c.office_id = p_office AND c.status <> 'draft', false)
        OR coalesce(p_region IS NOT NULL AND c.status IN ('registered', 'cancelled')
            AND (region_in_subtree(c.seller_region_code, p_region) OR region_in_subtree(c.buyer_region_code, p_region)), false)
$$;

-- The parties' roles under a contract's type (开发: 委托方 / 研究开发方, 转让: 让与方 /
-- 受让方, ...): the subtype's extra.party_roles, else its type's (0017), else
-- 卖方 / 买方.  The one place the certificate and the contract pages take them from.
-- PL/pgSQL, as contract_json below: PostgreSQL 15 plans a SQL function's body at every call
-- that it cannot inline (this one has sub-selects), PL/pgSQL once a session.
CREATE FUNCTION contract_party_roles(p_type text, p_subtype text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT extra->'party_roles' FROM codes WHERE list = 'contract_types' AND code = p_subtype),
                    (SELECT extra->'party_roles' FROM codes WHERE list = 'contract_types' AND code = p_type),
                    '{"seller": "卖方", "buyer": "买方"}');
END $$;

-- PL/pgSQL with the labels looked up in place: as a SQL function (not inlinable) its body and each
-- code_label() in it were planned again at every call on PostgreSQL 15 — ~2 ms a contract, three
-- times a registration, twenty times a page of the staff list (bench/README.md, the year-end rush).
CREATE FUNCTION contract_json(c contracts) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (
        SELECT jsonb_build_object(
            'id', c.id, 'title', c.title, 'status', c.status,
            'contract_type', c.contract_type, 'contract_type_label',
                (SELECT label FROM codes WHERE list = 'contract_types' AND code = c.contract_type),
            'contract_subtype', c.contract_subtype, 'contract_subtype_label',
                (SELECT label FROM codes WHERE list = 'contract_types' AND code = c.contract_subtype),
            'seller', jsonb_build_object('org_id', c.seller_org_id, 'name', c.seller_name, 'org_type', c.seller_org_type,
                                         'region_code', c.seller_region_code, 'credit_code', c.seller_credit_code),
            'buyer', jsonb_build_object('org_id', c.buyer_org_id, 'name', c.buyer_name, 'org_type', c.buyer_org_type,
                                        'region_code', c.buyer_region_code, 'credit_code', c.buyer_credit_code),
            'intermediary', CASE WHEN c.intermediary_name IS NOT NULL THEN jsonb_build_object(
                                'org_id', c.intermediary_org_id, 'name', c.intermediary_name,
                                'org_type', c.intermediary_org_type, 'region_code', c.intermediary_region_code,
                                'credit_code', c.intermediary_credit_code) END,
            'broker_user_id', c.broker_user_id,
            'signed_on', c.signed_on, 'effective_on', c.effective_on, 'end_on', c.end_on,
            'contract_amount_fen', c.contract_amount_fen, 'technical_amount_fen', c.technical_amount_fen,
            'non_technical_items', c.non_technical_items, 'payment_schedule', c.payment_schedule,
            'received_amount_fen', c.received_amount_fen,
            'domain', c.domain, 'domain_label', (SELECT label FROM codes WHERE list = 'domains' AND code = c.domain),
            'socio_economic_objective', c.socio_economic_objective, 'ip_type', c.ip_type,
            'ip_type_label',
                (SELECT label FROM codes WHERE list = 'ip_types' AND code = c.ip_type),
            'plan_source', c.plan_source,
            'result_id', c.result_id, 'need_id', c.need_id, 'is_import', c.is_import,
            'applicant_org_id', c.applicant_org_id, 'office_id', c.office_id,
            'office_name', (SELECT name FROM registry_offices WHERE id = c.office_id),
            'submitted_at', c.submitted_at, 'due_on', c.due_on,
            'overdue', c.status = 'submitted' AND c.due_on < today_cn(),
            'calendar_provisional', c.status = 'submitted' AND c.calendar_provisional,
            'returned_at', c.returned_at, 'return_reason', c.return_reason, 'correction_due_on', c.correction_due_on,
            'refused_at', c.refused_at, 'refusal_ground', c.refusal_ground,
            'refusal_ground_label',
                (SELECT label FROM codes WHERE list = 'refusal_grounds' AND code = c.refusal_ground),
            'refusal_detail', c.refusal_detail,
            'registration_no', c.registration_no, 'registered_at', c.registered_at,
            'cancelled_at', c.cancelled_at, 'cancel_reason', c.cancel_reason,
            'pending_change', (SELECT jsonb_build_object('id', x.id, 'kind', x.kind, 'reason', x.reason,
                                                         'changes', x.changes, 'requested_at', x.requested_at)
                               FROM contract_changes x WHERE x.contract_id = c.id AND x.status = 'pending'),
            'created_at', c.created_at, 'updated_at', c.updated_at, 'version', c.version)
            -- jsonb_build_object takes at most 100 arguments
            || jsonb_build_object('import_batch_id', c.import_batch_id,
                'related_party', c.related_party, 'related_party_label',
                    (SELECT label FROM codes WHERE list = 'related_party_kinds' AND code = c.related_party),
                'related_contract_id', c.related_contract_id, 'fiscal_subsidy', c.fiscal_subsidy,
                'party_roles', contract_party_roles(c.contract_type, c.contract_subtype),
                'registration_note', c.registration_note));
END $$;

-- Integrity flags an officer sees on an application.
CREATE FUNCTION contract_flags(c contracts) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    flags jsonb := '[]';
    expert bigint := setting_int('expert_review_threshold_fen', 500000000);
    margin numeric := setting_int('integrity_margin_pct', 5) / 100.0;
    window_days int := setting_int('integrity_split_window_days', 180);
    t bigint;
    n int;
    s bigint;
    so orgs;
    bo orgs;
BEGIN
    -- the same parties and amount registered before
    SELECT count(*) INTO n FROM contracts d
    WHERE d.id <> c.id AND d.status IN ('registered', 'cancelled')
      AND d.contract_amount_fen = c.contract_amount_fen
      AND coalesce(d.seller_credit_code, d.seller_name) = coalesce(c.seller_credit_code, c.seller_name)
      AND coalesce(d.buyer_credit_code, d.buyer_name) = coalesce(c.buyer_credit_code, c.buyer_name);
    IF n > 0 THEN
        flags := flags || jsonb_build_object('code', 'duplicate', 'label', '疑似重复登记',
            'detail', format('同一双方、同一金额的合同已登记 %s 份', n));
    END IF;
    -- a deal split into pieces just under the expert-review threshold
    IF c.technical_amount_fen < expert AND c.signed_on IS NOT NULL THEN
        SELECT count(*), coalesce(sum(d.technical_amount_fen), 0) INTO n, s FROM contracts d
        WHERE d.id <> c.id AND d.status IN ('submitted', 'registered', 'returned')
          AND coalesce(d.seller_credit_code, d.seller_name) = coalesce(c.seller_credit_code, c.seller_name)
          AND coalesce(d.buyer_credit_code, d.buyer_name) = coalesce(c.buyer_credit_code, c.buyer_name)
          AND d.technical_amount_fen < expert
          AND abs(d.signed_on - c.signed_on) <= window_days;
        IF n > 0 AND s + c.technical_amount_fen >= expert THEN
            flags := flags || jsonb_build_object('code', 'split', 'label', '疑似拆分合同',
                'detail', format('同一双方 %s 天内另有 %s 份合同，合计技术交易额达到专家评审门槛', window_days, n));
        END IF;
    END IF;
    -- amounts just above a subsidy threshold
    FOR t IN SELECT jsonb_array_elements_text(value)::bigint FROM settings WHERE key = 'integrity_subsidy_thresholds_fen' LOOP
        IF c.contract_amount_fen >= t AND c.contract_amount_fen < t * (1 + margin) THEN
            flags := flags || jsonb_build_object('code', 'just_above_threshold', 'label', '金额略高于补助门槛',
                'detail', format('合同额略高于 %s 元', t / 100));
        END IF;
    END LOOP;
    -- seller and buyer related: one credit-code owner, or shared contacts or people
    SELECT * INTO so FROM orgs WHERE id = c.seller_org_id;
    SELECT * INTO bo FROM orgs WHERE id = c.buyer_org_id;
    IF (c.seller_credit_code IS NOT NULL AND c.seller_credit_code = c.buyer_credit_code)
       OR (substr(c.seller_credit_code, 9, 9) = substr(c.buyer_credit_code, 9, 9))
       OR (so.id IS NOT NULL AND bo.id IS NOT NULL AND so.id <> bo.id AND (
             (so.contact_phone IS NOT NULL AND so.contact_phone = bo.contact_phone)
          OR (so.contact_email IS NOT NULL AND lower(so.contact_email) = lower(bo.contact_email))
          OR (so.contact_name IS NOT NULL AND so.contact_name = bo.contact_name)))
       OR c.seller_name = c.buyer_name THEN
        flags := flags || jsonb_build_object('code', 'related_parties', 'label', '买卖双方疑似关联',
            'detail', '双方统一社会信用代码主体相同或联系人、联系方式相同');
    END IF;
    RETURN flags;
END $$;

-- Fill a party's columns from its org (if org_id is given) and the body.
CREATE FUNCTION contract_party(p jsonb, p_field text, OUT org_id bigint, OUT name text, OUT org_type text,
                               OUT region_code text, OUT credit_code text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    o orgs;
BEGIN
    IF p IS NULL OR jsonb_typeof(p) <> 'object' THEN
        RETURN;
    END IF;
    org_id := (p->>'org_id')::bigint;
    IF org_id IS NOT NULL THEN
        SELECT * INTO o FROM orgs WHERE id = org_id;
        IF NOT FOUND THEN PERFORM yz_raise(422, 'no such organisation', p_field || '.org_id', 'unknown'); END IF;
    END IF;
    name := coalesce(p->>'name', o.name);
    org_type := coalesce(p->>'org_type', o.org_type);
    region_code := coalesce(p->>'region_code', o.region_code);
    credit_code := coalesce(p->>'credit_code', o.credit_code);
    IF name IS NULL OR btrim(name) = '' THEN
        PERFORM yz_raise(422, 'name the party (or give its org_id)', p_field || '.name', 'required');
    END IF;
    PERFORM check_code('org_types', org_type, p_field || '.org_type');
    PERFORM check_region(region_code, p_field || '.region_code');
    IF credit_code IS NOT NULL AND NOT credit_code_valid(credit_code) THEN
        PERFORM yz_raise(422, 'not a valid unified social credit code', p_field || '.credit_code', 'invalid_credit_code');
    END IF;
END $$;

-- Value checks shared by create and update, on the merged row.
CREATE FUNCTION contract_check(c contracts) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    items_sum bigint;
    bad jsonb;
BEGIN
    PERFORM check_code('contract_types', c.contract_type, 'contract_type');
    PERFORM check_code('contract_types', c.contract_subtype, 'contract_subtype');
    IF c.contract_type IS NOT NULL AND EXISTS (SELECT 1 FROM codes WHERE list = 'contract_types' AND code = c.contract_type AND parent_code IS NOT NULL) THEN
        PERFORM yz_raise(422, 'contract_type must be a top-level type (e.g. transfer)', 'contract_type', 'not_top_level');
    END IF;
    IF c.contract_subtype IS NOT NULL AND NOT EXISTS (SELECT 1 FROM codes WHERE list = 'contract_types'
            AND code = c.contract_subtype AND parent_code = c.contract_type) THEN
        PERFORM yz_raise(422, format('%s is not a subtype of %s', c.contract_subtype, coalesce(c.contract_type, '(no type)')),
                         'contract_subtype', 'not_a_subtype');
    END IF;
    PERFORM check_code('domains', c.domain, 'domain');
    PERFORM check_code('ip_types', c.ip_type, 'ip_type');
    PERFORM check_code('plan_sources', c.plan_source, 'plan_source');
    PERFORM check_code('socio_economic_objectives', c.socio_economic_objective, 'socio_economic_objective');
    IF c.technical_amount_fen > c.contract_amount_fen THEN
        PERFORM yz_raise(422, 'the technical amount cannot exceed the contract amount', 'technical_amount_fen', 'exceeds_contract');
    END IF;
    SELECT x INTO bad FROM jsonb_array_elements(c.non_technical_items) x
    WHERE jsonb_typeof(x) <> 'object' OR jsonb_typeof(x->'amount_fen') <> 'number' OR (x->>'amount_fen')::numeric < 0
       OR (x->>'amount_fen')::numeric <> trunc((x->>'amount_fen')::numeric)
       OR coalesce(btrim(x->>'item'), '') = '' OR (SELECT count(*) FROM jsonb_object_keys(x) k WHERE k NOT IN ('item', 'amount_fen')) > 0
    LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM yz_raise(422, 'each non-technical item is {"item": text, "amount_fen": integer ≥ 0}', 'non_technical_items', 'invalid');
    END IF;
    SELECT coalesce(sum((x->>'amount_fen')::bigint), 0) INTO items_sum FROM jsonb_array_elements(c.non_technical_items) x;
    IF c.technical_amount_fen + items_sum <> c.contract_amount_fen THEN
        PERFORM yz_raise(422, format('contract amount (%s) must equal technical amount (%s) plus the non-technical items (%s)',
                                     c.contract_amount_fen, c.technical_amount_fen, items_sum),
                         'non_technical_items', 'does_not_add_up');
    END IF;
    SELECT x INTO bad FROM jsonb_array_elements(c.payment_schedule) x
    WHERE jsonb_typeof(x) <> 'object' OR jsonb_typeof(x->'amount_fen') <> 'number' OR (x->>'amount_fen')::numeric <= 0
       OR (x->>'due_on') IS NULL OR (x->>'due_on') !~ '^\d{4}-\d{2}-\d{2}$'
       OR (SELECT count(*) FROM jsonb_object_keys(x) k WHERE k NOT IN ('due_on', 'amount_fen', 'note')) > 0
    LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM yz_raise(422, 'each payment is {"due_on": "YYYY-MM-DD", "amount_fen": integer > 0, "note"?: text}', 'payment_schedule', 'invalid');
    END IF;
    IF (SELECT coalesce(sum((x->>'amount_fen')::bigint), 0) FROM jsonb_array_elements(c.payment_schedule) x) > c.contract_amount_fen THEN
        PERFORM yz_raise(422, 'the payment schedule exceeds the contract amount', 'payment_schedule', 'exceeds_contract');
    END IF;
    IF c.effective_on IS NOT NULL AND c.signed_on IS NOT NULL AND c.effective_on < c.signed_on THEN
        PERFORM yz_raise(422, 'a contract cannot take effect before it is signed', 'effective_on', 'before_signing');
    END IF;
    IF c.end_on IS NOT NULL AND c.effective_on IS NOT NULL AND c.end_on < c.effective_on THEN
        PERFORM yz_raise(422, 'the end date is before the effective date', 'end_on', 'before_effective');
    END IF;
    IF c.result_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM results WHERE id = c.result_id) THEN
        PERFORM yz_raise(422, 'no such research result', 'result_id', 'unknown');
    END IF;
    IF c.need_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM needs WHERE id = c.need_id) THEN
        PERFORM yz_raise(422, 'no such technology need', 'need_id', 'unknown');
    END IF;
    IF c.broker_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = c.broker_user_id AND role = 'broker') THEN
        PERFORM yz_raise(422, 'broker_user_id must name a technology broker', 'broker_user_id', 'unknown');
    END IF;
    IF c.related_party IS NULL THEN
        PERFORM yz_raise(422, 'one of the related_party_kinds codes (none when the parties are not related)', 'related_party', 'required');
    END IF;
    PERFORM check_code('related_party_kinds', c.related_party, 'related_party');
    PERFORM contract_check_related(c);
END $$;

-- A consulting or service contract may name the transfer, licence or development
-- contract it serves (财税〔2016〕36号附件3: "与之相关的技术咨询、技术服务", the same
-- seller and buyer): contract types with extra.vat_exempt_if_related link to one
-- with extra.vat_exempt, between the same two parties.
CREATE FUNCTION contract_check_related(c contracts) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r contracts;
BEGIN
    IF c.related_contract_id IS NULL THEN
        RETURN;
    END IF;
    IF NOT coalesce((tax_type_extra(c.contract_type)->>'vat_exempt_if_related')::boolean, false) THEN
        PERFORM yz_raise(422, 'only a consulting or service contract names a related contract', 'related_contract_id', 'not_allowed');
    END IF;
    SELECT * INTO r FROM contracts WHERE id = c.related_contract_id;
    IF NOT FOUND OR r.id = c.id THEN
        PERFORM yz_raise(422, 'no such contract', 'related_contract_id', 'unknown');
    END IF;
    IF NOT coalesce((tax_type_extra(r.contract_type)->>'vat_exempt')::boolean, false) THEN
        PERFORM yz_raise(422, 'the related contract must be a technology transfer, licence or development contract',
                         'related_contract_id', 'not_transfer_or_development');
    END IF;
    IF coalesce(r.seller_credit_code, r.seller_name) IS DISTINCT FROM coalesce(c.seller_credit_code, c.seller_name)
       OR coalesce(r.buyer_credit_code, r.buyer_name) IS DISTINCT FROM coalesce(c.buyer_credit_code, c.buyer_name) THEN
        PERFORM yz_raise(422, 'the related contract must be between the same seller and buyer', 'related_contract_id', 'other_parties');
    END IF;
END $$;

-- The extra of a contract type's code (tax and role rules, 0002 and 0017).
CREATE FUNCTION tax_type_extra(p_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT extra FROM codes WHERE list = 'contract_types' AND code = p_code), '{}')
$$;

-- Apply body fields b onto c (only the keys present).  A party (seller, buyer,
-- intermediary) fills its five columns <party>_org_id, _name, _org_type,
-- _region_code and _credit_code from contract_party(), in that order of the
-- parties (the first one at fault is the one reported).
CREATE FUNCTION contract_merge(c contracts, b jsonb) RETURNS contracts
LANGUAGE plpgsql STABLE AS $$
DECLARE
    party text;
    p record;
BEGIN
    IF b ? 'title' THEN c.title := b->>'title'; END IF;
    IF b ? 'contract_type' THEN c.contract_type := b->>'contract_type'; END IF;
    IF b ? 'contract_subtype' THEN c.contract_subtype := b->>'contract_subtype'; END IF;
    FOREACH party IN ARRAY ARRAY['seller', 'buyer', 'intermediary'] LOOP
        IF b ? party THEN
            p := contract_party(b->party, party);
            c := jsonb_populate_record(c, jsonb_build_object(party || '_org_id', p.org_id, party || '_name', p.name,
                     party || '_org_type', p.org_type, party || '_region_code', p.region_code,
                     party || '_credit_code', p.credit_code));
        END IF;
    END LOOP;
    IF b ? 'broker_user_id' THEN c.broker_user_id := (b->>'broker_user_id')::bigint; END IF;
    IF b ? 'signed_on' THEN c.signed_on := (b->>'signed_on')::date; END IF;
    IF b ? 'effective_on' THEN c.effective_on := (b->>'effective_on')::date; END IF;
    IF b ? 'end_on' THEN c.end_on := (b->>'end_on')::date; END IF;
    IF b ? 'contract_amount_fen' THEN c.contract_amount_fen := (b->>'contract_amount_fen')::bigint; END IF;
    IF b ? 'technical_amount_fen' THEN c.technical_amount_fen := (b->>'technical_amount_fen')::bigint; END IF;
    IF b ? 'non_technical_items' THEN c.non_technical_items := b->'non_technical_items'; END IF;
    IF b ? 'payment_schedule' THEN c.payment_schedule := b->'payment_schedule'; END IF;
    IF b ? 'domain' THEN c.domain := b->>'domain'; END IF;
    IF b ? 'socio_economic_objective' THEN c.socio_economic_objective := b->>'socio_economic_objective'; END IF;
    IF b ? 'ip_type' THEN c.ip_type := b->>'ip_type'; END IF;
    IF b ? 'plan_source' THEN c.plan_source := b->>'plan_source'; END IF;
    IF b ? 'result_id' THEN c.result_id := (b->>'result_id')::bigint; END IF;
    IF b ? 'need_id' THEN c.need_id := (b->>'need_id')::bigint; END IF;
    IF b ? 'is_import' THEN c.is_import := (b->>'is_import')::boolean; END IF;
    IF b ? 'related_party' THEN c.related_party := b->>'related_party'; END IF;
    IF b ? 'related_contract_id' THEN c.related_contract_id := (b->>'related_contract_id')::bigint; END IF;
    IF b ? 'fiscal_subsidy' THEN c.fiscal_subsidy := (b->>'fiscal_subsidy')::boolean; END IF;
    RETURN c;
END $$;

CREATE FUNCTION contract_create(p_actor bigint, p_req text, p_org bigint, p_admin boolean, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
BEGIN
    c.title := b->>'title';
    c.non_technical_items := '[]';
    c.payment_schedule := '[]';
    c.contract_amount_fen := 0;
    c.technical_amount_fen := 0;
    c.is_import := false;
    c.related_party := 'none';
    c.fiscal_subsidy := false;
    c := contract_merge(c, b);
    IF NOT p_admin AND p_org IS DISTINCT FROM c.seller_org_id AND p_org IS DISTINCT FROM c.buyer_org_id THEN
        PERFORM yz_raise(403, 'your organisation must be the seller or the buyer (give its org_id)', 'seller.org_id', 'not_a_party');
    END IF;
    PERFORM contract_check(c);
    INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
        seller_region_code, seller_credit_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code,
        buyer_credit_code, intermediary_org_id, intermediary_name, intermediary_org_type, intermediary_region_code,
        intermediary_credit_code, broker_user_id, signed_on, effective_on, end_on, contract_amount_fen,
        technical_amount_fen, non_technical_items, payment_schedule, domain, socio_economic_objective, ip_type,
        plan_source, result_id, need_id, is_import, related_party, related_contract_id, fiscal_subsidy, created_by)
    VALUES (c.title, c.contract_type, c.contract_subtype, c.seller_org_id, c.seller_name, c.seller_org_type,
        c.seller_region_code, c.seller_credit_code, c.buyer_org_id, c.buyer_name, c.buyer_org_type, c.buyer_region_code,
        c.buyer_credit_code, c.intermediary_org_id, c.intermediary_name, c.intermediary_org_type, c.intermediary_region_code,
        c.intermediary_credit_code, c.broker_user_id, c.signed_on, c.effective_on, c.end_on, c.contract_amount_fen,
        c.technical_amount_fen, c.non_technical_items, c.payment_schedule, c.domain, c.socio_economic_objective, c.ip_type,
        c.plan_source, c.result_id, c.need_id, c.is_import, c.related_party, c.related_contract_id, c.fiscal_subsidy, p_actor)
    RETURNING * INTO c;
    RETURN audit_returning(p_actor, p_req, 'contract', c.id::text, 'create', NULL, contract_json(c));
END $$;

-- Lock a contract the caller may act on: as a party (p_org), as an officer of
-- its office (p_office) or as an admin; 404 when the caller may not see it.
CREATE FUNCTION contract_lock(p_id bigint, p_org bigint, p_office bigint, p_admin boolean) RETURNS contracts
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
BEGIN
    SELECT * INTO c FROM contracts WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR NOT contract_visible(c, p_org, p_office, NULL, p_admin) THEN
        PERFORM yz_raise(404, 'no such contract');
    END IF;
    RETURN c;
END $$;

CREATE FUNCTION contract_update(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean,
                                p_if_match int, b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
BEGIN
    o := contract_lock(p_id, p_org, NULL, p_admin);
    PERFORM check_if_match(p_if_match, o.version, 'contract');
    IF o.status NOT IN ('draft', 'returned') THEN
        PERFORM yz_raise(409, format('a %s contract cannot be edited; registered contracts change by amendment', o.status));
    END IF;
    c := contract_merge(o, b);
    IF NOT p_admin AND p_org IS DISTINCT FROM c.seller_org_id AND p_org IS DISTINCT FROM c.buyer_org_id THEN
        PERFORM yz_raise(403, 'your organisation must remain the seller or the buyer', 'seller.org_id', 'not_a_party');
    END IF;
    PERFORM contract_check(c);
    UPDATE contracts SET title = c.title, contract_type = c.contract_type, contract_subtype = c.contract_subtype,
        seller_org_id = c.seller_org_id, seller_name = c.seller_name, seller_org_type = c.seller_org_type,
        seller_region_code = c.seller_region_code, seller_credit_code = c.seller_credit_code,
        buyer_org_id = c.buyer_org_id, buyer_name = c.buyer_name, buyer_org_type = c.buyer_org_type,
        buyer_region_code = c.buyer_region_code, buyer_credit_code = c.buyer_credit_code,
        intermediary_org_id = c.intermediary_org_id, intermediary_name = c.intermediary_name,
        intermediary_org_type = c.intermediary_org_type, intermediary_region_code = c.intermediary_region_code,
        intermediary_credit_code = c.intermediary_credit_code, broker_user_id = c.broker_user_id,
        signed_on = c.signed_on, effective_on = c.effective_on, end_on = c.end_on,
        contract_amount_fen = c.contract_amount_fen, technical_amount_fen = c.technical_amount_fen,
        non_technical_items = c.non_technical_items, payment_schedule = c.payment_schedule, domain = c.domain,
        socio_economic_objective = c.socio_economic_objective, ip_type = c.ip_type, plan_source = c.plan_source,
        result_id = c.result_id, need_id = c.need_id, is_import = c.is_import, related_party = c.related_party,
        related_contract_id = c.related_contract_id, fiscal_subsidy = c.fiscal_subsidy
    WHERE id = p_id RETURNING * INTO c;
    RETURN audit_returning(p_actor, p_req, 'contract', p_id::text, 'update', contract_json(o), contract_json(c));
END $$;

CREATE FUNCTION contract_delete(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
BEGIN
    o := contract_lock(p_id, p_org, NULL, p_admin);
    IF o.status <> 'draft' THEN
        PERFORM yz_raise(409, 'only a draft can be deleted');
    END IF;
    DELETE FROM contracts WHERE id = p_id;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, 'delete', contract_json(o), NULL);
END $$;

-- The office for a region: the active office with the deepest region that contains it.
CREATE FUNCTION office_for_region(p_region text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM registry_offices
    WHERE active AND p_region IS NOT NULL AND region_in_subtree(p_region, region_code)
    ORDER BY length(region_prefix(region_code)) DESC LIMIT 1
$$;

CREATE FUNCTION contract_submit(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
    applicant bigint;
    region text;
    office bigint;
    days int;
    today date := today_cn();
BEGIN
    o := contract_lock(p_id, p_org, NULL, p_admin);
    IF o.status NOT IN ('draft', 'returned') THEN
        PERFORM yz_raise(409, format('a %s contract cannot be submitted', o.status));
    END IF;
    applicant := CASE WHEN o.is_import THEN o.buyer_org_id ELSE o.seller_org_id END;
    region := CASE WHEN o.is_import THEN o.buyer_region_code ELSE o.seller_region_code END;
    IF NOT p_admin AND applicant IS DISTINCT FROM p_org THEN
        PERFORM yz_raise(403, CASE WHEN o.is_import THEN 'for a technology import the domestic buyer applies'
                                   ELSE 'the seller applies for registration' END);
    END IF;
    IF applicant IS NULL THEN
        PERFORM yz_raise(422, 'the applicant must be an organisation registered here', CASE WHEN o.is_import THEN 'buyer.org_id' ELSE 'seller.org_id' END, 'required');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM orgs WHERE id = applicant AND verification_status = 'verified') THEN
        PERFORM yz_raise(422, 'the applying organisation must be verified first',
                         CASE WHEN o.is_import THEN 'buyer.org_id' ELSE 'seller.org_id' END, 'not_verified');
    END IF;
    -- completeness: what an officer needs
    IF o.contract_type IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'contract_type', 'required'); END IF;
    IF o.contract_subtype IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'contract_subtype', 'required'); END IF;
    IF o.signed_on IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'signed_on', 'required'); END IF;
    IF o.effective_on IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'effective_on', 'required'); END IF;
    IF o.end_on IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'end_on', 'required'); END IF;
    IF o.contract_amount_fen <= 0 THEN PERFORM yz_raise(422, 'required to apply', 'contract_amount_fen', 'required'); END IF;
    IF o.domain IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'domain', 'required'); END IF;
    IF o.ip_type IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'ip_type', 'required'); END IF;
    IF o.plan_source IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'plan_source', 'required'); END IF;
    IF o.seller_org_type IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'seller.org_type', 'required'); END IF;
    IF o.buyer_org_type IS NULL THEN PERFORM yz_raise(422, 'required to apply', 'buyer.org_type', 'required'); END IF;
    -- effective ≤ application ≤ end
    IF o.effective_on > today THEN
        PERFORM yz_raise(422, 'apply once the contract has taken effect', 'effective_on', 'not_yet_effective');
    END IF;
    IF o.end_on < today THEN
        PERFORM yz_raise(422, 'the contract has already ended; it can no longer be registered', 'end_on', 'expired');
    END IF;
    PERFORM contract_check(o);
    office := office_for_region(region);
    IF office IS NULL THEN
        PERFORM yz_raise(422, 'no registry office serves the applicant''s region', CASE WHEN o.is_import THEN 'buyer.region_code' ELSE 'seller.region_code' END, 'no_office');
    END IF;
    days := CASE WHEN o.technical_amount_fen >= setting_int('expert_review_threshold_fen', 500000000)
                 THEN setting_int('review_days_expert', 30) ELSE setting_int('review_days_normal', 15) END;
    UPDATE contracts SET status = 'submitted', applicant_org_id = applicant, office_id = office, submitted_at = now(),
                         due_on = add_working_days(today, days), correction_due_on = NULL, review_days = days,
                         calendar_provisional = calendar_provisional(today, add_working_days(today, days))
    WHERE id = p_id RETURNING * INTO c;
    RETURN audit_returning(p_actor, p_req, 'contract', p_id::text, CASE WHEN o.status = 'returned' THEN 'resubmit' ELSE 'submit' END,
                           contract_json(o), contract_json(c));
END $$;

CREATE FUNCTION contract_lock_for_review(p_id bigint, p_office bigint, p_admin boolean) RETURNS contracts
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
BEGIN
    c := contract_lock(p_id, NULL, p_office, p_admin);
    IF c.status <> 'submitted' THEN
        PERFORM yz_raise(409, format('the application is %s, not awaiting review', c.status));
    END IF;
    RETURN c;
END $$;

CREATE FUNCTION contract_return(p_actor bigint, p_req text, p_id bigint, p_office bigint, p_admin boolean,
                                p_reason text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
BEGIN
    o := contract_lock_for_review(p_id, p_office, p_admin);
    PERFORM check_text(p_reason, 'reason', NULL, 'say what must be corrected');
    UPDATE contracts SET status = 'returned', returned_at = now(), return_reason = p_reason,
                         correction_due_on = add_working_days(today_cn(), setting_int('correction_days', 10)::int)
    WHERE id = p_id RETURNING * INTO c;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, 'return', contract_json(o), contract_json(c));
    PERFORM notify('contract_returned', 'contract', c.id,
                   format('技术合同退回补正：%s，请于 %s 前补正后重新提交', c.title, to_char(c.correction_due_on, 'YYYY-MM-DD')),
                   jsonb_build_object('due_on', c.correction_due_on, 'reason', p_reason), ARRAY[c.applicant_org_id], NULL, p_actor);
    RETURN contract_json(c)::text;
END $$;

CREATE FUNCTION contract_refuse(p_actor bigint, p_req text, p_id bigint, p_office bigint, p_admin boolean,
                                p_ground text, p_detail text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
BEGIN
    o := contract_lock_for_review(p_id, p_office, p_admin);
    IF p_ground IS NULL OR NOT EXISTS (SELECT 1 FROM codes WHERE list = 'refusal_grounds' AND code = p_ground AND active) THEN
        PERFORM yz_raise(422, 'give one of the official refusal grounds (GET /api/v1/codes/refusal_grounds)', 'ground', 'unknown_code');
    END IF;
    UPDATE contracts SET status = 'refused', refused_at = now(), refusal_ground = p_ground, refusal_detail = p_detail
    WHERE id = p_id RETURNING * INTO c;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, 'refuse', contract_json(o), contract_json(c));
    PERFORM notify('contract_refused', 'contract', c.id, '技术合同不予登记：' || c.title,
                   jsonb_build_object('ground', p_ground, 'ground_label', code_label('refusal_grounds', p_ground)),
                   ARRAY[c.applicant_org_id], NULL, p_actor);
    RETURN contract_json(c)::text;
END $$;

-- Register: the officer may fix the classification and the technical amount
-- (with the non-technical items that make up the difference), and says what
-- was fixed and why in the 核定 note, which the certificate carries.
CREATE FUNCTION contract_register(p_actor bigint, p_req text, p_id bigint, p_office bigint, p_admin boolean,
                                  b jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
    yr int := extract(year FROM today_cn())::int;
    serial int;
    office_region text;
    no_scan boolean;
BEGIN
    o := contract_lock_for_review(p_id, p_office, p_admin);
    c := contract_merge(o, b - 'note' - 'no_scan_reason');
    PERFORM contract_check(c);
    -- the signed contract's scan is part of the application: registering
    -- without one is an explicit decision, with its reason in the audit log
    no_scan := NOT EXISTS (SELECT 1 FROM contract_attachments WHERE contract_id = p_id);
    IF no_scan AND coalesce(btrim(b->>'no_scan_reason'), '') = '' THEN
        PERFORM yz_raise(422, 'the signed contract''s scan is not attached: attach it first, or give no_scan_reason '
                              'to register without it', 'no_scan_reason', 'required');
    END IF;
    serial := registration_next_serial(o.office_id, yr);
    SELECT region_code INTO office_region FROM registry_offices WHERE id = o.office_id;
    UPDATE contracts SET status = 'registered', contract_type = c.contract_type, contract_subtype = c.contract_subtype,
        technical_amount_fen = c.technical_amount_fen, non_technical_items = c.non_technical_items,
        registration_year = yr, registration_serial = serial,
        registration_no = registration_number(yr, office_region, serial),
        registered_at = now(), registered_by = p_actor, registration_note = nullif(btrim(b->>'note'), '')
    WHERE id = p_id RETURNING * INTO c;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, 'register', contract_json(o), contract_json(c));
    IF no_scan THEN
        PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, 'register_without_scan', NULL,
                             jsonb_build_object('no_scan_reason', btrim(b->>'no_scan_reason'),
                                                'registration_no', c.registration_no));
    END IF;
    PERFORM notify('contract_registered', 'contract', c.id, format('技术合同已登记：%s（登记编号 %s）', c.title, c.registration_no),
                   jsonb_build_object('registration_no', c.registration_no),
                   ARRAY(SELECT DISTINCT x FROM unnest(ARRAY[c.seller_org_id, c.buyer_org_id, c.intermediary_org_id]) x
                         WHERE x IS NOT NULL), NULL, p_actor);
    RETURN contract_json(c)::text;
END $$;

-- Amendment and cancellation: the applicant asks (reason, changes), an
-- officer of the office confirms or rejects.
CREATE FUNCTION contract_request_change(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_admin boolean,
                                        p_kind text, p_reason text, p_changes jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    x contract_changes;
    merged contracts;
BEGIN
    o := contract_lock(p_id, p_org, NULL, p_admin);
    IF o.status <> 'registered' THEN
        PERFORM yz_raise(409, format('only a registered contract can be %s', CASE WHEN p_kind = 'amend' THEN 'amended' ELSE 'cancelled' END));
    END IF;
    IF NOT p_admin AND o.applicant_org_id IS DISTINCT FROM p_org THEN
        PERFORM yz_raise(403, 'the organisation that applied for the registration asks for changes');
    END IF;
    PERFORM check_text(p_reason, 'reason', NULL, 'give the reason');
    IF EXISTS (SELECT 1 FROM contract_changes WHERE contract_id = p_id AND status = 'pending') THEN
        PERFORM yz_raise(409, 'another change request is pending for this contract');
    END IF;
    IF p_kind = 'amend' THEN
        IF p_changes IS NULL OR p_changes = '{}' THEN
            PERFORM yz_raise(422, 'list the changes', 'changes', 'required');
        END IF;
        merged := contract_merge(o, p_changes);
        PERFORM contract_check(merged);
        IF merged.received_amount_fen > merged.contract_amount_fen THEN
            PERFORM yz_raise(422, 'the amount already received exceeds the new contract amount', 'changes.contract_amount_fen', 'below_received');
        END IF;
    END IF;
    INSERT INTO contract_changes (contract_id, kind, reason, changes, requested_by)
    VALUES (p_id, p_kind, p_reason, coalesce(p_changes, '{}'), p_actor) RETURNING * INTO x;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text, p_kind || '_request', NULL,
                         jsonb_build_object('change_id', x.id, 'reason', p_reason, 'changes', x.changes));
    RETURN contract_json(o)::text;
END $$;

CREATE FUNCTION contract_decide_change(p_actor bigint, p_req text, p_id bigint, p_office bigint, p_admin boolean,
                                       p_kind text, p_change bigint, p_decision text, p_note text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o contracts;
    c contracts;
    x contract_changes;
    m contracts;
BEGIN
    o := contract_lock(p_id, NULL, p_office, p_admin);
    SELECT * INTO x FROM contract_changes WHERE id = p_change AND contract_id = p_id AND kind = p_kind FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such change request for this contract', 'change_id', 'unknown'); END IF;
    IF x.status <> 'pending' THEN PERFORM yz_raise(409, format('the request was already %s', x.status)); END IF;
    IF p_decision NOT IN ('confirm', 'reject') THEN
        PERFORM yz_raise(422, 'decision must be confirm or reject', 'decision', 'invalid');
    END IF;
    IF o.status <> 'registered' THEN PERFORM yz_raise(409, format('the contract is %s', o.status)); END IF;
    c := o;
    IF p_decision = 'confirm' THEN
        IF p_kind = 'amend' THEN
            m := contract_merge(o, x.changes);
            PERFORM contract_check(m);
            UPDATE contracts SET title = m.title, contract_type = m.contract_type, contract_subtype = m.contract_subtype,
                end_on = m.end_on, contract_amount_fen = m.contract_amount_fen, technical_amount_fen = m.technical_amount_fen,
                non_technical_items = m.non_technical_items, payment_schedule = m.payment_schedule, domain = m.domain,
                ip_type = m.ip_type, plan_source = m.plan_source, socio_economic_objective = m.socio_economic_objective
            WHERE id = p_id RETURNING * INTO c;
        ELSE
            UPDATE contracts SET status = 'cancelled', cancelled_at = now(), cancel_reason = x.reason
            WHERE id = p_id RETURNING * INTO c;
        END IF;
    END IF;
    UPDATE contract_changes SET status = CASE WHEN p_decision = 'confirm' THEN 'confirmed' ELSE 'rejected' END,
        decided_by = p_actor, decided_at = now(), decision_note = p_note, before = contract_json(o), after = contract_json(c)
    WHERE id = p_change;
    PERFORM audit_append(p_actor, p_req, 'contract', p_id::text,
                         CASE WHEN p_decision = 'reject' THEN p_kind || '_rejected' WHEN p_kind = 'amend' THEN 'amend' ELSE 'cancel' END,
                         contract_json(o), contract_json(c));
    PERFORM notify('contract_change_decided', 'contract', c.id,
                   format('技术合同%s申请%s：%s', CASE p_kind WHEN 'amend' THEN '变更' ELSE '注销' END,
                          CASE p_decision WHEN 'confirm' THEN '已确认' ELSE '未获同意' END, c.title),
                   jsonb_build_object('change_id', p_change, 'change_kind', p_kind, 'decision', p_decision, 'note', p_note),
                   ARRAY[c.applicant_org_id], NULL, p_actor);
    RETURN contract_json(c)::text;
END $$;

CREATE FUNCTION contract_add_payment(p_actor bigint, p_req text, p_id bigint, p_org bigint, p_office bigint,
                                     p_admin boolean, p_amount bigint, p_on date, p_note text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
    pay contract_payments;
BEGIN
    c := contract_lock(p_id, p_org, p_office, p_admin);
    IF p_org IS NOT NULL AND NOT p_admin AND c.seller_org_id IS DISTINCT FROM p_org THEN
        PERFORM yz_raise(403, 'the seller or an officer records amounts received');
    END IF;
    IF c.status <> 'registered' THEN PERFORM yz_raise(409, 'amounts received are recorded against registered contracts'); END IF;
    IF p_amount IS NULL OR p_amount <= 0 THEN PERFORM yz_raise(422, 'must be a positive amount in fen', 'amount_fen', 'out_of_range'); END IF;
    IF p_on IS NULL OR p_on > today_cn() THEN PERFORM yz_raise(422, 'must be a date not in the future', 'received_on', 'invalid'); END IF;
    IF c.received_amount_fen + p_amount > c.contract_amount_fen THEN
        PERFORM yz_raise(422, format('received amounts would exceed the contract amount (%s fen); amend the contract first', c.contract_amount_fen),
                         'amount_fen', 'exceeds_contract');
    END IF;
    INSERT INTO contract_payments (contract_id, amount_fen, received_on, note, created_by)
    VALUES (p_id, p_amount, p_on, p_note, p_actor) RETURNING * INTO pay;
    RETURN audit_returning(p_actor, p_req, 'contract', p_id::text, 'payment', NULL, to_jsonb(pay));
END $$;

-- The certificate's content (the server canonicalises and signs it): the parties
-- with their roles under the contract's type, the term, the technology domain
-- and the officer's 核定 note besides the registration's facts.
CREATE FUNCTION certificate_payload(c contracts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'registration_no', c.registration_no,
        'title', c.title,
        'contract_type', c.contract_type, 'contract_type_label', code_label('contract_types', c.contract_type),
        'contract_subtype', c.contract_subtype, 'contract_subtype_label', code_label('contract_types', c.contract_subtype),
        'seller', jsonb_build_object('name', c.seller_name, 'credit_code', c.seller_credit_code, 'role', r.roles->>'seller'),
        'buyer', jsonb_build_object('name', c.buyer_name, 'credit_code', c.buyer_credit_code, 'role', r.roles->>'buyer'),
        'term', jsonb_build_object('signed_on', c.signed_on, 'effective_on', c.effective_on, 'end_on', c.end_on),
        'domain', c.domain, 'domain_label', code_label('domains', c.domain),
        'registration_note', c.registration_note,
        'contract_amount_fen', c.contract_amount_fen, 'technical_amount_fen', c.technical_amount_fen,
        'office', (SELECT jsonb_build_object('id', f.id, 'name', f.name, 'region_code', f.region_code)
                   FROM registry_offices f WHERE f.id = c.office_id),
        'registered_on', (c.registered_at AT TIME ZONE 'Asia/Shanghai')::date,
        'amendments', (SELECT count(*) FROM contract_changes x WHERE x.contract_id = c.id AND x.kind = 'amend' AND x.status = 'confirmed'))
        -- an imported registration (历史导入) says so; it is not signed here
        || CASE WHEN c.import_batch_id IS NOT NULL THEN jsonb_build_object('source', 'import') ELSE '{}' END
    FROM (SELECT contract_party_roles(c.contract_type, c.contract_subtype) AS roles) r
$$;

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
    c := contract_lock(p_contract, p_org, NULL, p_admin);
    -- before submission, during the review (the officer may ask for the scan)
    -- and after registration (a supplementary agreement); not once refused or cancelled
    IF c.status NOT IN ('draft', 'submitted', 'returned', 'registered') THEN
        PERFORM yz_raise(409, format('files cannot be attached to a contract that is %s', c.status));
    END IF;
    IF length(p_data) > setting_int('attachment_max_bytes', 1048576) THEN
        PERFORM yz_raise(413, format('attachments are limited to %s bytes', setting_int('attachment_max_bytes', 1048576)));
    END IF;
    IF (SELECT count(*) FROM contract_attachments WHERE contract_id = p_contract) >= 20 THEN
        PERFORM yz_raise(409, 'at most 20 files per contract');
    END IF;
    INSERT INTO contract_attachments (contract_id, filename, content_type, size_bytes, sha256, data, uploaded_by)
    VALUES (p_contract, p_name, p_type, length(p_data), p_sha, p_data, p_actor) RETURNING * INTO a;
    RETURN audit_returning(p_actor, p_req, 'contract', p_contract::text, 'attach', NULL, attachment_json(a));
END $$;

CREATE FUNCTION attachment_delete(p_actor bigint, p_req text, p_contract bigint, p_org bigint, p_admin boolean,
                                  p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
    a contract_attachments;
BEGIN
    c := contract_lock(p_contract, p_org, NULL, p_admin);
    IF c.status NOT IN ('draft', 'returned') THEN
        PERFORM yz_raise(409, 'files of a submitted application cannot be removed');
    END IF;
    DELETE FROM contract_attachments WHERE id = p_id AND contract_id = p_contract RETURNING * INTO a;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such attachment'); END IF;
    PERFORM audit_append(p_actor, p_req, 'contract', p_contract::text, 'detach', attachment_json(a), NULL);
END $$;

-- Count the review deadlines of the applications awaiting review again after
-- an admin changed the calendar of p_year: those whose days from submission
-- to deadline touch that year.  Each deadline that moves (or loses or gains
-- its provisional flag) gets an audit entry naming the calendar change.
-- Returns the number of applications whose deadline changed.
CREATE FUNCTION contract_recount_deadlines(p_actor bigint, p_req text, p_year int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    c contracts;
    day date;
    due date;
    prov boolean;
    n int := 0;
BEGIN
    FOR c IN SELECT * FROM contracts
             WHERE status = 'submitted' AND review_days IS NOT NULL
               AND extract(year FROM (submitted_at AT TIME ZONE 'Asia/Shanghai')) <= p_year
               AND extract(year FROM due_on) >= p_year
             ORDER BY id FOR UPDATE LOOP
        day := (c.submitted_at AT TIME ZONE 'Asia/Shanghai')::date;
        due := add_working_days(day, c.review_days);
        prov := calendar_provisional(day, due);
        CONTINUE WHEN due = c.due_on AND prov = c.calendar_provisional;
        UPDATE contracts SET due_on = due, calendar_provisional = prov WHERE id = c.id;
        PERFORM audit_append(p_actor, p_req, 'contract', c.id::text, 'deadline_recount',
                             jsonb_build_object('due_on', c.due_on, 'calendar_provisional', c.calendar_provisional),
                             jsonb_build_object('due_on', due, 'calendar_provisional', prov, 'calendar_year', p_year));
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
