-- imports.sql — importing past contracts (历史导入, issue #19 part 2).
--
-- The server (server/api/imports.c, also `yizhan import contracts`) reads the
-- CSV or XLSX file, checks every cell's form, and COPYs the rows into a
-- temporary table import_rows made for the transaction (import_rows_create).
-- Then, in the same transaction:
--   import_check()  resolves codes given as codes or Chinese names, the office
--                   from the registration number, the parties' organisations
--                   from their credit codes, and answers every problem by row
--                   and column (Chinese header names), set-based: a 100,000-row
--                   file is a few statements, not 100,000 function calls;
--   import_apply()  (only when there is none, and not a dry run) writes the
--                   batch, the contracts — registered, with their own number
--                   and date, marked with the batch — the registration counters
--                   and one audit entry, all or nothing.
-- The statistics follow in the same statement (contracts_stats_ins, a
-- statement-level trigger: one GROUP BY for the whole file).

-- The staging table, one row a data row of the file; the server fills it by COPY,
-- with each contract's search_doc and search_tsv computed by its tokenizer
-- (server/domain/cjk.c, the same as contract_search_doc and search_tokens):
-- the trigger contracts_search_ins keeps them, instead of tokenising row by row.
CREATE FUNCTION import_rows_create() RETURNS void
LANGUAGE sql AS $$
    CREATE TEMP TABLE import_rows (
        row_no int PRIMARY KEY, registration_no text, title text, type_in text, subtype_in text,
        seller_name text, seller_credit_code text, seller_region_code text, seller_org_type_in text,
        buyer_name text, buyer_credit_code text, buyer_region_code text, buyer_org_type_in text,
        signed_on date, registered_on date, contract_amount_fen bigint, technical_amount_fen bigint, domain_in text,
        effective_on date, end_on date, ip_type_in text, plan_source_in text, seo_in text,
        intermediary_name text, intermediary_credit_code text, intermediary_region_code text, is_import boolean,
        search_doc text, search_tsv tsvector
    ) ON COMMIT DROP
$$;

-- A code of p_list given as the code itself or its Chinese label (active
-- codes only); NULL when nothing, or more than one code, matches.
CREATE FUNCTION import_code(p_list text, p_value text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN count(*) = 1 THEN min(code) END FROM codes
    WHERE list = p_list AND active AND (code = btrim(p_value) OR label = btrim(p_value))
$$;

-- The contract type and subtype from the file's 合同类别 (and 合同子类): each a
-- code or a Chinese name, the category or the subtype — 技术开发/委托开发,
-- 委托开发 alone (its category follows), 技术咨询 (a category with one subtype).
-- err says, in Chinese, what is wrong.
CREATE FUNCTION import_contract_type(p_type text, p_sub text, OUT ctype text, OUT csub text, OUT err text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t text := btrim(p_type);
    s text := nullif(btrim(p_sub), '');
    parts text[];
    top codes;
    kids text;
    n_top int;
    n_child int;
    child codes;
BEGIN
    IF s IS NULL AND t ~ '[/／]' THEN
        parts := regexp_split_to_array(t, '\s*[/／]\s*');
        IF array_length(parts, 1) = 2 THEN t := parts[1]; s := parts[2]; END IF;
    END IF;
    IF s IS NOT NULL THEN
        SELECT * INTO top FROM codes WHERE list = 'contract_types' AND active AND parent_code IS NULL AND (code = t OR label = t);
        IF NOT FOUND THEN
            err := format('“%s”不是合同类别（技术开发、技术转让、技术许可、技术咨询、技术服务）', t);
            RETURN;
        END IF;
        SELECT code INTO csub FROM codes WHERE list = 'contract_types' AND active AND parent_code = top.code AND (code = s OR label = s);
        IF NOT FOUND THEN
            SELECT string_agg(label, '、' ORDER BY sort) INTO kids FROM codes
            WHERE list = 'contract_types' AND active AND parent_code = top.code;
            err := format('“%s”不是%s的子类（可填：%s）', s, top.label, kids);
            RETURN;
        END IF;
        ctype := top.code;
        RETURN;
    END IF;
    SELECT count(*) FILTER (WHERE parent_code IS NULL), count(*) FILTER (WHERE parent_code IS NOT NULL)
      INTO n_top, n_child
      FROM codes WHERE list = 'contract_types' AND active AND (code = t OR label = t);
    IF n_child = 1 THEN
        -- a subtype (技术咨询 is also the name of consulting's only subtype: the same thing)
        SELECT * INTO child FROM codes WHERE list = 'contract_types' AND active AND parent_code IS NOT NULL AND (code = t OR label = t);
        IF n_top = 0 OR EXISTS (SELECT 1 FROM codes WHERE list = 'contract_types' AND code = child.parent_code AND (code = t OR label = t)) THEN
            ctype := child.parent_code;
            csub := child.code;
            RETURN;
        END IF;
    END IF;
    IF n_child > 1 THEN
        SELECT string_agg(p.label || '/' || c.label, '”或“' ORDER BY c.sort) INTO kids
        FROM codes c JOIN codes p ON p.list = c.list AND p.code = c.parent_code
        WHERE c.list = 'contract_types' AND c.active AND (c.code = t OR c.label = t);
        err := format('“%s”在多个合同类别下都有，请写作“%s”', t, kids);
        RETURN;
    END IF;
    IF n_top = 1 THEN
        SELECT * INTO top FROM codes WHERE list = 'contract_types' AND active AND parent_code IS NULL AND (code = t OR label = t);
        SELECT count(*), min(code), string_agg(label, '、' ORDER BY sort) INTO n_child, csub, kids
        FROM codes WHERE list = 'contract_types' AND active AND parent_code = top.code;
        IF n_child = 1 THEN
            ctype := top.code;
            RETURN;
        END IF;
        csub := NULL;
        err := format('%s下有多个子类（%s），请在“合同子类”列写明，或写作“%s/子类”', top.label, kids, top.label);
        RETURN;
    END IF;
    err := format('“%s”不是合同类别或子类的代码或名称', t);
END $$;

-- Resolve everything import_rows names (import_resolved, one row each) and
-- answer every problem: (row, column, FieldError code, message in Chinese),
-- ordered by row.  p_office: the officer's office (NULL with p_admin: any).
CREATE FUNCTION import_check(p_office bigint, p_admin boolean)
RETURNS TABLE (row_no int, col text, code text, message text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    -- a temporary table has no statistics until asked: plans for 12 rows are slow for 100,000
    -- (not of the search columns, which no plan here reads: a tsvector's statistics are costly)
    ALTER TABLE import_rows ALTER search_doc SET STATISTICS 0, ALTER search_tsv SET STATISTICS 0;
    ANALYZE import_rows;
    CREATE TEMP TABLE import_resolved ON COMMIT DROP AS
    WITH types AS (
        SELECT d.type_in, d.subtype_in, x.ctype, x.csub, x.err
        FROM (SELECT DISTINCT r.type_in, r.subtype_in FROM import_rows r) d,
             LATERAL import_contract_type(d.type_in, d.subtype_in) x
    ), codes_in AS (
        SELECT DISTINCT l.list, l.v FROM import_rows r,
            LATERAL (VALUES ('domains', r.domain_in), ('ip_types', r.ip_type_in), ('plan_sources', r.plan_source_in),
                            ('socio_economic_objectives', r.seo_in), ('org_types', r.seller_org_type_in),
                            ('org_types', r.buyer_org_type_in)) AS l(list, v)
        WHERE l.v IS NOT NULL
    ), cmap AS (
        SELECT c.list, c.v, import_code(c.list, c.v) AS code FROM codes_in c
    ), prefix AS (
        SELECT k.code, jsonb_array_elements_text(k.extra->'credit_code_prefixes') AS p
        FROM codes k WHERE k.list = 'org_types' AND k.active AND k.extra ? 'credit_code_prefixes'
    )
    SELECT r.row_no, r.registration_no, r.title, r.type_in, r.subtype_in, r.seller_name, r.seller_credit_code,
           r.seller_region_code, r.seller_org_type_in, r.buyer_name, r.buyer_credit_code, r.buyer_region_code,
           r.buyer_org_type_in, r.signed_on, r.registered_on, r.contract_amount_fen, r.technical_amount_fen, r.domain_in,
           r.effective_on, r.end_on, r.ip_type_in, r.plan_source_in, r.seo_in, r.intermediary_name,
           r.intermediary_credit_code, r.intermediary_region_code, r.is_import, -- not the search columns: see import_apply
           t.ctype AS contract_type, t.csub AS contract_subtype, t.err AS type_error,
           dm.code AS domain, ip.code AS ip_type, ps.code AS plan_source, se.code AS seo,
           so.id AS seller_org_id, bo.id AS buyer_org_id,
           coalesce(st.code, so.org_type, sp.code) AS seller_org_type,
           coalesce(bt.code, bo.org_type, bp.code) AS buyer_org_type,
           st.code IS NULL AND r.seller_org_type_in IS NOT NULL AS seller_type_unknown,
           bt.code IS NULL AND r.buyer_org_type_in IS NOT NULL AS buyer_type_unknown,
           f.id AS office_id, f.name AS office_name
    FROM import_rows r
    JOIN types t ON t.type_in = r.type_in AND coalesce(t.subtype_in, '') = coalesce(r.subtype_in, '')
    LEFT JOIN cmap dm ON dm.list = 'domains' AND dm.v = r.domain_in
    LEFT JOIN cmap ip ON ip.list = 'ip_types' AND ip.v = r.ip_type_in
    LEFT JOIN cmap ps ON ps.list = 'plan_sources' AND ps.v = r.plan_source_in
    LEFT JOIN cmap se ON se.list = 'socio_economic_objectives' AND se.v = r.seo_in
    LEFT JOIN cmap st ON st.list = 'org_types' AND st.v = r.seller_org_type_in
    LEFT JOIN cmap bt ON bt.list = 'org_types' AND bt.v = r.buyer_org_type_in
    LEFT JOIN orgs so ON so.credit_code = r.seller_credit_code
    LEFT JOIN orgs bo ON bo.credit_code = r.buyer_credit_code
    LEFT JOIN prefix sp ON sp.p = left(r.seller_credit_code, 2)
    LEFT JOIN prefix bp ON bp.p = left(r.buyer_credit_code, 2)
    LEFT JOIN LATERAL (SELECT o.id, o.name FROM registry_offices o WHERE o.region_code = substr(r.registration_no, 5, 6)
                       ORDER BY o.active DESC, o.id DESC LIMIT 1) f ON true;
    ANALYZE import_resolved;

    RETURN QUERY
    WITH x AS (SELECT * FROM import_resolved),
    problems (row_no, col, code, message) AS (
        SELECT x.row_no, '合同类别', 'unknown_code', x.type_error FROM x WHERE x.type_error IS NOT NULL
        UNION ALL
        SELECT x.row_no, '技术领域', 'unknown_code', format('“%s”不是技术领域的代码或名称', x.domain_in) FROM x WHERE x.domain IS NULL
        UNION ALL
        SELECT x.row_no, '知识产权类型', 'unknown_code', format('“%s”不是知识产权类型的代码或名称', x.ip_type_in)
        FROM x WHERE x.ip_type_in IS NOT NULL AND x.ip_type IS NULL
        UNION ALL
        SELECT x.row_no, '计划来源', 'unknown_code', format('“%s”不是计划来源的代码或名称', x.plan_source_in)
        FROM x WHERE x.plan_source_in IS NOT NULL AND x.plan_source IS NULL
        UNION ALL
        SELECT x.row_no, '社会经济目标', 'unknown_code', format('“%s”不是社会经济目标的代码或名称', x.seo_in)
        FROM x WHERE x.seo_in IS NOT NULL AND x.seo IS NULL
        UNION ALL
        SELECT x.row_no, '卖方单位类型', 'unknown_code', format('“%s”不是单位类型的代码或名称', x.seller_org_type_in)
        FROM x WHERE x.seller_type_unknown
        UNION ALL
        SELECT x.row_no, '买方单位类型', 'unknown_code', format('“%s”不是单位类型的代码或名称', x.buyer_org_type_in)
        FROM x WHERE x.buyer_type_unknown
        UNION ALL
        SELECT x.row_no, '卖方单位类型', 'required', '无法从统一社会信用代码判断卖方单位类型，请填写“卖方单位类型”'
        FROM x WHERE x.seller_org_type IS NULL AND NOT x.seller_type_unknown
        UNION ALL
        SELECT x.row_no, '买方单位类型', 'required', '无法从统一社会信用代码判断买方单位类型，请填写“买方单位类型”'
        FROM x WHERE x.buyer_org_type IS NULL AND NOT x.buyer_type_unknown
        UNION ALL
        SELECT x.row_no, '卖方统一社会信用代码', 'required', '请填写卖方的统一社会信用代码（自然人、境外单位除外）'
        FROM x WHERE x.seller_credit_code IS NULL AND NOT x.is_import AND x.seller_org_type NOT IN ('400', '900')
        UNION ALL
        SELECT x.row_no, '买方统一社会信用代码', 'required', '请填写买方的统一社会信用代码（自然人、境外单位除外）'
        FROM x WHERE x.buyer_credit_code IS NULL AND x.buyer_org_type NOT IN ('400', '900')
        UNION ALL
        SELECT x.row_no, '卖方所在地区代码', 'required', '请填写卖方所在地区代码（技术进口合同的境外卖方除外）'
        FROM x WHERE x.seller_region_code IS NULL AND NOT x.is_import
        UNION ALL
        SELECT x.row_no, '卖方所在地区代码', 'unknown_region', format('%s 不是有效的行政区划代码', x.seller_region_code)
        FROM x WHERE x.seller_region_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM regions g WHERE g.code = x.seller_region_code)
        UNION ALL
        SELECT x.row_no, '买方所在地区代码', 'unknown_region', format('%s 不是有效的行政区划代码', x.buyer_region_code)
        FROM x WHERE NOT EXISTS (SELECT 1 FROM regions g WHERE g.code = x.buyer_region_code)
        UNION ALL
        SELECT x.row_no, '中介方所在地区代码', 'unknown_region', format('%s 不是有效的行政区划代码', x.intermediary_region_code)
        FROM x WHERE x.intermediary_region_code IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM regions g WHERE g.code = x.intermediary_region_code)
        UNION ALL
        SELECT x.row_no, '登记编号', 'no_office',
               format('登记编号中的地区代码 %s 没有对应的登记机构', substr(x.registration_no, 5, 6))
        FROM x WHERE x.office_id IS NULL
        UNION ALL
        SELECT x.row_no, '登记编号', 'out_of_scope', format('登记编号属于%s，您只能导入本机构登记的合同', x.office_name)
        FROM x WHERE x.office_id IS NOT NULL AND NOT coalesce(p_admin, false) AND x.office_id IS DISTINCT FROM p_office
        UNION ALL
        SELECT x.row_no, '登记编号', 'invalid_number',
               format('登记编号的年份 %s 与登记日期 %s 不符', left(x.registration_no, 4), x.registered_on)
        FROM x WHERE left(x.registration_no, 4)::int <> extract(year FROM x.registered_on)
        UNION ALL
        SELECT d.row_no, '登记编号', 'duplicate', format('与第 %s 行的登记编号相同', d.first_row)
        FROM (SELECT x.row_no, min(x.row_no) OVER (PARTITION BY x.registration_no COLLATE "C") AS first_row FROM x) d
        WHERE d.row_no <> d.first_row
        UNION ALL
        SELECT x.row_no, '登记编号', 'duplicate', format('登记编号 %s 已在系统中，不能重复导入', x.registration_no)
        FROM x JOIN contracts c ON c.registration_no = x.registration_no
        UNION ALL
        SELECT x.row_no, '登记日期', 'out_of_range', format('登记日期 %s 晚于今天', x.registered_on)
        FROM x WHERE x.registered_on > today_cn()
        UNION ALL
        SELECT x.row_no, '签订日期', 'out_of_range', format('签订日期 %s 晚于登记日期 %s', x.signed_on, x.registered_on)
        FROM x WHERE x.signed_on > x.registered_on
        UNION ALL
        SELECT x.row_no, '生效日期', 'before_signing', '生效日期早于签订日期'
        FROM x WHERE x.effective_on < x.signed_on
        UNION ALL
        SELECT x.row_no, '终止日期', 'before_effective', '终止日期早于生效日期或签订日期'
        FROM x WHERE x.end_on < coalesce(x.effective_on, x.signed_on)
    )
    SELECT p.row_no, p.col, p.code, p.message FROM problems p ORDER BY p.row_no, p.col;
END $$;

CREATE FUNCTION import_batch_json(b import_batches) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', b.id, 'filename', b.filename, 'sha256', b.sha256, 'format', b.format,
        'encoding', b.encoding, 'contracts', b.contracts, 'contract_amount_fen', b.contract_amount_fen,
        'technical_amount_fen', b.technical_amount_fen, 'first_registration_no', b.first_registration_no,
        'last_registration_no', b.last_registration_no, 'office_id', b.office_id,
        'office_name', (SELECT name FROM registry_offices WHERE id = b.office_id),
        'created_by', b.created_by, 'created_at', b.created_at)
$$;

-- Write what import_check() resolved and found no fault with: the batch, its
-- contracts (registered, their own number and date, no application), the
-- registration counters (a later registration never takes an imported
-- number), and one audit entry for the batch.  The caller has run
-- import_check() in this transaction and seen no problem.
CREATE FUNCTION import_apply(p_actor bigint, p_req text, p_office bigint, p_filename text, p_sha text,
                             p_format text, p_encoding text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    b import_batches;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM import_resolved) THEN
        PERFORM yz_raise(422, 'the file has no contracts to import');
    END IF;
    INSERT INTO import_batches (filename, sha256, format, encoding, contracts, contract_amount_fen, technical_amount_fen,
                                first_registration_no, last_registration_no, office_id, created_by, request_id)
    SELECT p_filename, p_sha, p_format, nullif(p_encoding, ''), count(*), sum(contract_amount_fen),
           sum(technical_amount_fen), min(registration_no), max(registration_no), p_office, p_actor, p_req
    FROM import_resolved
    RETURNING * INTO b;
    INSERT INTO contracts (title, contract_type, contract_subtype, seller_org_id, seller_name, seller_org_type,
        seller_region_code, seller_credit_code, buyer_org_id, buyer_name, buyer_org_type, buyer_region_code,
        buyer_credit_code, intermediary_name, intermediary_region_code, intermediary_credit_code, signed_on, effective_on,
        end_on, contract_amount_fen, technical_amount_fen, non_technical_items, domain, socio_economic_objective, ip_type,
        plan_source, is_import, applicant_org_id, office_id, status, registration_no, registration_year,
        registration_serial, registered_at, import_batch_id, created_by, search_doc, search_tsv)
    SELECT r.title, r.contract_type, r.contract_subtype, r.seller_org_id, r.seller_name, r.seller_org_type,
        r.seller_region_code, r.seller_credit_code, r.buyer_org_id, r.buyer_name, r.buyer_org_type, r.buyer_region_code,
        r.buyer_credit_code, r.intermediary_name, r.intermediary_region_code, r.intermediary_credit_code, r.signed_on,
        r.effective_on, r.end_on, r.contract_amount_fen, r.technical_amount_fen,
        CASE WHEN r.contract_amount_fen > r.technical_amount_fen
             THEN jsonb_build_array(jsonb_build_object('item', '非技术性费用（历史导入）',
                                                       'amount_fen', r.contract_amount_fen - r.technical_amount_fen))
             ELSE '[]' END,
        r.domain, r.seo, r.ip_type, r.plan_source, r.is_import,
        CASE WHEN r.is_import THEN r.buyer_org_id ELSE r.seller_org_id END, r.office_id, 'registered',
        r.registration_no, left(r.registration_no, 4)::int, right(r.registration_no, 6)::int,
        r.registered_on::timestamp AT TIME ZONE 'Asia/Shanghai', b.id, p_actor, s.search_doc, s.search_tsv
    FROM import_resolved r JOIN import_rows s ON s.row_no = r.row_no ORDER BY r.row_no;
    INSERT INTO registration_counters AS k (office_id, year, last_serial)
    SELECT r.office_id, left(r.registration_no, 4)::int, max(right(r.registration_no, 6)::int)
    FROM import_resolved r GROUP BY 1, 2
    ON CONFLICT (office_id, year) DO UPDATE SET last_serial = greatest(k.last_serial, excluded.last_serial);
    RETURN audit_returning(p_actor, p_req, 'import_batch', b.id::text, 'import', NULL, import_batch_json(b));
END $$;
