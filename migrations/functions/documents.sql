-- documents.sql — what the official documents show (the PDF registration form
-- 技术合同登记表; the certificate's content is certificate_payload() in
-- contracts.sql) and the office seals printed on them (server/api/documents.c).

-- The registration form of a contract: contract_json() with the labels the
-- form prints beside the codes (parties' org types and regions, objective,
-- plan source, status).
CREATE FUNCTION registration_form_json(c contracts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH j AS (SELECT contract_json(c) AS j)
    SELECT j.j || jsonb_build_object(
        'status_label', CASE c.status WHEN 'draft' THEN '草稿' WHEN 'submitted' THEN '已受理，待审查'
                            WHEN 'returned' THEN '退回补正' WHEN 'refused' THEN '不予登记'
                            WHEN 'registered' THEN CASE WHEN c.import_batch_id IS NULL THEN '已登记' ELSE '已登记（历史导入）' END
                            WHEN 'cancelled' THEN '已注销' END,
        'socio_economic_objective_label', code_label('socio_economic_objectives', c.socio_economic_objective),
        'plan_source_label', code_label('plan_sources', c.plan_source),
        'seller', j.j->'seller' || jsonb_build_object('org_type_label', code_label('org_types', c.seller_org_type),
                                                      'region_name', region_name(c.seller_region_code)),
        'buyer', j.j->'buyer' || jsonb_build_object('org_type_label', code_label('org_types', c.buyer_org_type),
                                                    'region_name', region_name(c.buyer_region_code)),
        'intermediary', CASE WHEN c.intermediary_name IS NOT NULL THEN j.j->'intermediary'
            || jsonb_build_object('org_type_label', code_label('org_types', c.intermediary_org_type),
                                  'region_name', region_name(c.intermediary_region_code)) END)
    FROM j
$$;

CREATE FUNCTION office_seal_json(s office_seals) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('office_id', s.office_id, 'sha256', s.sha256, 'width', s.width, 'height', s.height,
                              'size_bytes', length(s.png), 'uploaded_by', s.uploaded_by, 'uploaded_at', s.uploaded_at)
$$;

-- Upload (or replace) an office's seal; audited without the image itself.
CREATE FUNCTION office_seal_put(p_actor bigint, p_req text, p_office bigint, p_sha text, p_width int, p_height int,
                                p_png bytea) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    o office_seals;
    n office_seals;
BEGIN
    PERFORM 1 FROM registry_offices WHERE id = p_office FOR UPDATE;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such office'); END IF;
    SELECT * INTO o FROM office_seals WHERE office_id = p_office;
    INSERT INTO office_seals AS s (office_id, png, sha256, width, height, uploaded_by)
    VALUES (p_office, p_png, p_sha, p_width, p_height, p_actor)
    ON CONFLICT (office_id) DO UPDATE SET png = excluded.png, sha256 = excluded.sha256, width = excluded.width,
        height = excluded.height, uploaded_by = excluded.uploaded_by, uploaded_at = now()
    RETURNING * INTO n;
    RETURN audit_returning(p_actor, p_req, 'office', p_office::text, 'seal_upload',
                           CASE WHEN o.office_id IS NOT NULL THEN office_seal_json(o) END, office_seal_json(n));
END $$;

CREATE FUNCTION office_seal_delete(p_actor bigint, p_req text, p_office bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o office_seals;
BEGIN
    PERFORM 1 FROM registry_offices WHERE id = p_office;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'no such office'); END IF;
    DELETE FROM office_seals WHERE office_id = p_office RETURNING * INTO o;
    IF NOT FOUND THEN PERFORM yz_raise(404, 'this office has no seal image'); END IF;
    PERFORM audit_append(p_actor, p_req, 'office', p_office::text, 'seal_delete', office_seal_json(o), NULL);
END $$;
