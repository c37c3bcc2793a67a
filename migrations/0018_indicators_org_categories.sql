-- 0018_indicators_org_categories.sql — issue #20, parts 2 and 3: the computed
-- indicators and the national roll-up of organisation types, as data.
--
-- indicators: every indicator a plan may set (code list; the targets take
-- their metric from it), its rows in 0018_indicators_org_categories/indicators.json.
-- A computed one carries its definition in extra and functions/stats.sql
-- (indicator_actual) reads only that:
--   computed        true: the actual comes from registered contracts
--   party           'seller' (输出: the seller is in the region) or 'buyer'
--                   (引进/吸纳: the buyer is)
--   measure         'count' (contracts), 'contract_amount_fen',
--                   'technical_amount_fen', 'received_amount_fen', or
--                   'results' (科技成果: a contract linked to a listed result
--                   counts that result once, however many contracts share it;
--                   a contract without a link counts as one result)
--   contract_types  the top-level contract_types that count (null: all)
--   require_result  true: only contracts linked to a listed result count
--   other_party_outside  true: only contracts whose other party is outside
--                   the region count (none of the seeds asks for it)
--   unit            'count' or 'fen'; definition: the rule in words.
-- codes.source cites where the indicator comes from.
--
-- org_categories: the four categories of the national statistics (企业, 科研机构,
-- 高等院校, 其他); each org_types code names its category in extra.category
-- (a code without one takes its parent's, else 其他).  by=seller_category and
-- by=buyer_category roll the org-type figures up through this mapping when
-- they are read, so an admin's change applies to every year at once.

INSERT INTO code_lists (list, label, description) VALUES
('indicators', '考核指标', '计划目标可设定的指标；由合同计算的指标在 extra 中写明口径（哪些合同、按哪一方所在地区）。'),
('org_categories', '单位类别（统计口径）', '全国技术市场统计的卖方/买方类别：企业、科研机构、高等院校、其他；单位类型在 extra.category 中归入其中之一。');

INSERT INTO codes (list, code, label, label_en, sort, extra, source)
SELECT 'indicators', i->>'code', i->>'label', i->>'label_en', (i->>'sort')::int, i->'extra', i->>'source'
FROM migration_files f CROSS JOIN LATERAL jsonb_array_elements(f.body::jsonb) WITH ORDINALITY AS x(i, o)
WHERE f.name = 'indicators.json'
ORDER BY x.o;

INSERT INTO codes (list, code, label, label_en, sort, source) VALUES
('org_categories', 'enterprise', '企业',     'Enterprise',            10, '全国技术市场统计年度报告：技术合同卖方/买方类别'),
('org_categories', 'research',   '科研机构', 'Research institute',    20, '全国技术市场统计年度报告：技术合同卖方/买方类别'),
('org_categories', 'university', '高等院校', 'University or college', 30, '全国技术市场统计年度报告：技术合同卖方/买方类别'),
('org_categories', 'other',      '其他',     'Other',                 40, '全国技术市场统计年度报告：技术合同卖方/买方类别');

UPDATE codes SET extra = extra || jsonb_build_object('category', m.category)
FROM (VALUES ('010', 'other'), ('020', 'other'), ('021', 'research'), ('022', 'university'), ('023', 'other'),
             ('024', 'other'), ('030', 'other'), ('100', 'enterprise'), ('110', 'enterprise'), ('120', 'enterprise'),
             ('130', 'enterprise'), ('140', 'enterprise'), ('150', 'enterprise'), ('160', 'enterprise'),
             ('170', 'enterprise'), ('190', 'enterprise'), ('200', 'enterprise'), ('300', 'enterprise'),
             ('400', 'other'), ('900', 'other')) AS m(code, category)
WHERE codes.list = 'org_types' AND codes.code = m.code;
