-- 0032_tax_relief: the bureau's estimate of the tax relief that follows
-- registration (GET /tax-relief?year=&region=), per seller and year.
--
-- Contracts: status 'registered', registered in the year (registered_at,
-- Asia/Shanghai), seller's region (as recorded on the contract) in the region
-- subtree ('000000' = the whole country).  Grouped by seller org (a seller
-- without an account here by credit code, else name).
--
--  VAT (财税〔2016〕36号附件3): contract types whose code has extra.vat_exempt
--    (development, transfer, licence) are exempt: vat_exempt_amount_fen is their
--    contract amount, vat_saved_fen = round_half_up(amount * tax_vat_rate_bp / 10000).
--    Consulting and service contracts are exempt only when related to a transfer
--    or development (extra.vat_exempt_if_related), which the registration does not
--    record: their amount is shown as vat_if_related_amount_fen and NOT estimated.
--  CIT (财税〔2010〕111号, 企业所得税法实施条例第90条): technology-transfer income =
--    technical amount of contracts whose type has extra.cit_transfer_income
--    (transfer; licence only with a term of at least extra.cit_min_licence_years
--    years from effective_on, else signed_on, to end_on).  Sellers whose org type
--    is in setting tax_cit_excluded_org_types (natural persons) pay no CIT.
--    exempt part = min(income, cit_exempt_threshold_fen) (5,000,000 yuan),
--    halved part = income - exempt part,
--    cit_relief_fen = round_half_up((exempt * rate + halved * rate / 2) / 10000), rate = tax_cit_rate_bp.
--    Income stands in for 所得 (income less its costs), which the registry does
--    not know: the figure is an upper estimate.
--  Rounding: half up to the fen, once per figure and seller.

CREATE FUNCTION tax_type_extra(p_code text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT extra FROM codes WHERE list = 'contract_types' AND code = p_code), '{}')
$$;

CREATE FUNCTION tax_relief(p_region text, p_year int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT setting_int('tax_vat_rate_bp', 600)::numeric AS vat_bp,
               setting_int('tax_cit_rate_bp', 2500)::numeric AS cit_bp,
               setting_int('cit_exempt_threshold_fen', 500000000) AS cit_thr,
               ARRAY(SELECT jsonb_array_elements_text(coalesce(
                   (SELECT value FROM settings WHERE key = 'tax_cit_excluded_org_types'), '["400"]'))) AS no_cit,
               (make_date(p_year, 1, 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS t0,
               (make_date(p_year + 1, 1, 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS t1
    ),
    c AS (
        SELECT c.id, c.contract_amount_fen, c.technical_amount_fen, c.seller_org_id, c.seller_org_type,
               coalesce(o.name, c.seller_name) AS seller_name, c.seller_credit_code, c.seller_region_code,
               CASE WHEN c.seller_org_id IS NOT NULL THEN 'org:' || c.seller_org_id
                    WHEN c.seller_credit_code IS NOT NULL THEN 'credit:' || c.seller_credit_code
                    ELSE 'name:' || c.seller_name END AS skey,
               coalesce((x.extra->>'vat_exempt')::boolean, false) AS vat_exempt,
               coalesce((x.extra->>'vat_exempt_if_related')::boolean, false) AS vat_if_related,
               coalesce((x.extra->>'cit_transfer_income')::boolean, false)
                 AND (x.extra->>'cit_min_licence_years' IS NULL
                      OR c.end_on >= coalesce(c.effective_on, c.signed_on)
                                     + make_interval(years => (x.extra->>'cit_min_licence_years')::int))
                 AND NOT (c.seller_org_type = ANY (s.no_cit)) AS cit_income
        FROM contracts c CROSS JOIN s
        CROSS JOIN LATERAL (SELECT tax_type_extra(c.contract_type) AS extra) x
        LEFT JOIN orgs o ON o.id = c.seller_org_id
        WHERE c.status = 'registered' AND c.registered_at >= s.t0 AND c.registered_at < s.t1
          AND c.seller_region_code IS NOT NULL
          AND (p_region = '000000' OR region_in_subtree(c.seller_region_code, p_region))
    ),
    g AS (
        SELECT c.skey, min(c.seller_org_id) AS org_id, min(c.seller_name) AS name, min(c.seller_credit_code) AS credit_code,
               min(c.seller_org_type) AS org_type, min(c.seller_region_code) AS region_code, count(*) AS contracts,
               coalesce(sum(c.contract_amount_fen) FILTER (WHERE c.vat_exempt), 0) AS vat_amt,
               count(*) FILTER (WHERE c.vat_exempt) AS vat_n,
               coalesce(sum(c.contract_amount_fen) FILTER (WHERE NOT c.vat_exempt AND c.vat_if_related), 0) AS vat_rel,
               coalesce(sum(c.technical_amount_fen) FILTER (WHERE c.cit_income), 0) AS cit_inc,
               count(*) FILTER (WHERE c.cit_income) AS cit_n
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
        'region_name', CASE WHEN p_region = '000000' THEN '全国' ELSE (SELECT name FROM regions WHERE code = p_region) END,
        'assumptions', jsonb_build_object(
            'vat_rate_bp', s.vat_bp, 'cit_rate_bp', s.cit_bp, 'cit_exempt_threshold_fen', s.cit_thr,
            'cit_excluded_org_types', to_jsonb(s.no_cit),
            'vat_exempt_types', (SELECT jsonb_agg(code ORDER BY sort) FROM codes
                                 WHERE list = 'contract_types' AND parent_code IS NULL AND (extra->>'vat_exempt')::boolean),
            'cit_income_types', (SELECT jsonb_agg(code ORDER BY sort) FROM codes
                                 WHERE list = 'contract_types' AND parent_code IS NULL AND (extra->>'cit_transfer_income')::boolean),
            'rounding', 'half up to the fen, once per figure and seller',
            'note', '估算：增值税按合同额 × 税率；企业所得税以技术交易额代替技术转让所得（未扣除成本），500 万元以内免征、超过部分减半'),
        'items', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'seller', jsonb_build_object('key', r.skey, 'org_id', r.org_id, 'name', r.name,
                                             'credit_code', r.credit_code, 'org_type', r.org_type,
                                             'region_code', r.region_code),
                'contracts', r.contracts,
                'vat_exempt_contracts', r.vat_n, 'vat_exempt_amount_fen', r.vat_amt, 'vat_saved_fen', r.vat_saved,
                'vat_if_related_amount_fen', r.vat_rel,
                'cit_transfer_contracts', r.cit_n, 'cit_transfer_income_fen', r.cit_inc,
                'cit_exempt_part_fen', r.cit_exempt, 'cit_halved_part_fen', r.cit_halved, 'cit_relief_fen', r.cit_relief,
                'total_relief_fen', r.vat_saved + r.cit_relief)
              ORDER BY r.org_id NULLS LAST, r.skey) FROM r), '[]'),
        'totals', (SELECT jsonb_build_object(
                'sellers', count(*), 'contracts', coalesce(sum(r.contracts), 0),
                'vat_exempt_amount_fen', coalesce(sum(r.vat_amt), 0), 'vat_saved_fen', coalesce(sum(r.vat_saved), 0),
                'cit_transfer_income_fen', coalesce(sum(r.cit_inc), 0),
                'cit_exempt_part_fen', coalesce(sum(r.cit_exempt), 0), 'cit_halved_part_fen', coalesce(sum(r.cit_halved), 0),
                'cit_relief_fen', coalesce(sum(r.cit_relief), 0),
                'total_relief_fen', coalesce(sum(r.vat_saved + r.cit_relief), 0)) FROM r))
    FROM s
$$;
COMMENT ON FUNCTION tax_relief(text, int) IS
    'Estimated VAT and corporate-income-tax relief of sellers of contracts registered in a year in a region subtree (see migrations/0032_tax_relief.sql).';

-- GET /tax-relief: region defaults to the bureau's own (admin: '000000', the
-- whole country); a bureau sees only its subtree (403 otherwise).
CREATE FUNCTION tax_relief_scoped(p_region text, p_year int, p_scope text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r text := coalesce(p_region, p_scope, '000000');
BEGIN
    IF r <> '000000' THEN
        PERFORM check_region(r, 'region');
    END IF;
    IF p_scope IS NOT NULL AND (r = '000000' OR NOT region_in_subtree(r, p_scope)) THEN
        PERFORM yz_raise(403, 'a bureau sees its own region and the regions below it', 'region', 'out_of_scope');
    END IF;
    RETURN tax_relief(r, p_year);
END $$;
