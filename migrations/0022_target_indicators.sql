-- 0022_target_indicators.sql — plan targets for every indicator of the city plans
-- (issue 20, part 4): a code list of indicators, cumulative targets over
-- from_year…year, the actuals the bureau enters for the indicators that are not
-- computed from contracts (with a note and evidence, kept as a history), and the
-- targets of the five plans in /work/shared/seeds.  Functions: functions/targets.sql.

-- The indicators the bureau reports (code list indicators, 0018, where the
-- four computed from contracts are defined): extra.computed false, extra.unit
-- 'fen' (an amount, entered and shown in 万元) or 'count', extra.measure_word the
-- Chinese measure word of a count (家, 个, 名, 场, 项, 次); codes.source names the
-- plan that sets it.  An admin may add more like any code.
INSERT INTO codes (list, code, label, label_en, sort, extra, source) VALUES
('indicators', 'results_converted',    '科技成果转化应用',   'Research results applied in the region', 50, '{"unit": "count", "measure_word": "项", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'major_results_introduced', '引进转化重大科技成果', 'Major research results introduced', 55, '{"unit": "count", "measure_word": "项", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'results_traded',       '实现交易科技成果',   'Research results traded on the platform', 60, '{"unit": "count", "measure_word": "项", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'technologies_introduced', '引进省内外先进技术', 'Advanced technologies introduced',   65, '{"unit": "count", "measure_word": "项", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'demo_enterprises',     '科技成果转移转化示范企业', 'Demonstration enterprises',     70, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'demo_institutions',    '技术转移示范机构',   'Demonstration technology-transfer institutions', 75, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'transfer_institutions', '技术转移机构',      'Technology-transfer institutions',     80, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'research_institutions_attracted', '引进高校院所设立科研机构', 'Research institutions attracted', 85, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'joint_rd_platforms',   '企业与高校院所联合研发平台', 'Joint R&D platforms',        90, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'innovation_alliances', '产业技术创新联盟',   'Industrial technology innovation alliances', 95, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'service_stations',     '技术转移基层服务站点', 'Local technology-transfer service stations', 100, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'maker_spaces',         '众创空间',           'Maker spaces',                       105, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'incubators',           '科技企业孵化器',     'Technology business incubators',     110, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'demo_projects',        '科技成果转移转化示范项目', 'Demonstration projects',       115, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'major_conversion_projects', '重大科技成果转化项目', 'Major conversion projects funded', 120, '{"unit": "count", "measure_word": "项", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'transfer_talents',     '技术转移人才',       'Technology-transfer professionals trained', 125, '{"unit": "count", "measure_word": "名", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'brokers_trained',      '技术经纪人培养',     'Technology brokers trained',         130, '{"unit": "count", "measure_word": "名", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'transfer_activities',  '科技成果转移转化活动', 'Transfer activities held',         135, '{"unit": "count", "measure_word": "场", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'matchmaking_events',   '现场技术对接活动',   'On-site matchmaking events',         140, '{"unit": "count", "measure_word": "场", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'fair_enterprises',     '参加对接展示活动企业', 'Enterprises at matchmaking fairs', 145, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'signed_projects',      '签约合作项目',       'Cooperation projects signed',        150, '{"unit": "count", "measure_word": "个", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'ip_pledge_financing',  '知识产权质押融资额', 'IP-pledge financing',                155, '{"unit": "fen", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'finance_institutions', '科技创投、担保、保险机构', 'Venture, guarantee and insurance institutions', 160, '{"unit": "count", "measure_word": "家", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）'),
('indicators', 'ip_enforcement_actions', '知识产权执法活动', 'IP enforcement actions',             165, '{"unit": "count", "measure_word": "次", "computed": false}', '巴中、偃师、重庆、岳阳的技术转移方案（各目标的 source 注明文件）');

-- the measure words of the computed counts, for the screens
UPDATE codes SET extra = extra || '{"measure_word": "项"}' WHERE list = 'indicators' AND code IN ('contracts', 'results_transferred');

-- Plan targets: any indicator of the list (checked by target_put), and a span
-- from_year…year (from_year = year: a target for one year; earlier: a
-- cumulative target, the actuals of the years summed).  source cites the plan.
ALTER TABLE plan_targets DROP CONSTRAINT plan_targets_metric_check;
ALTER TABLE plan_targets DROP CONSTRAINT plan_targets_pkey;
ALTER TABLE plan_targets ADD COLUMN from_year smallint;
UPDATE plan_targets SET from_year = year;
ALTER TABLE plan_targets ALTER COLUMN from_year SET NOT NULL,
    ADD CONSTRAINT plan_targets_span CHECK (from_year BETWEEN 2000 AND year AND year - from_year <= 10),
    ADD COLUMN source text CHECK (char_length(source) <= 500),
    ADD PRIMARY KEY (region_code, metric, from_year, year);
COMMENT ON TABLE plan_targets IS
    'Plan targets per region, indicator (metric, code list target_indicators) and span from_year…year (amounts in fen).';
UPDATE plan_targets SET source = '巴中市技术转移体系建设重点任务清单（2020-2025年）' WHERE region_code = '511900';

-- The actuals the bureau enters (实际完成) for indicators that are not computed:
-- every entry is kept; the newest per (region, year, indicator) is the actual.
CREATE TABLE indicator_actuals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_code  char(6) NOT NULL REFERENCES regions (code),
    year         smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    indicator    text NOT NULL,
    value        bigint NOT NULL CHECK (value BETWEEN 0 AND 100000000000000000),
    note         text NOT NULL CHECK (btrim(note) <> '' AND char_length(note) <= 1000),
    evidence     text NOT NULL CHECK (btrim(evidence) <> '' AND char_length(evidence) <= 500),
    entered_by   bigint REFERENCES users (id),
    entered_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE indicator_actuals IS
    'Actuals entered by the bureau for non-computed plan indicators, with a note and evidence (a document reference); append-only, the newest per (region, year, indicator) counts.';
CREATE INDEX indicator_actuals_key ON indicator_actuals (region_code, indicator, year, id DESC);
REVOKE UPDATE, DELETE, TRUNCATE ON indicator_actuals FROM yizhan_app;

-- The targets of the five plans (/work/shared/seeds) ----------------------------------
-- seeds/000 巴中市技术转移体系建设重点任务清单（2020-2025年） (the contract amount and
-- 引进转化科技成果 rows are in 0005): every other yearly figure of the list.  Rows whose
-- year gives no number (2020 "建成国家技术转移西南中心巴中分中心", "建成…网络平台",
-- 2020–2021 知识产权质押贷款 "开展试点"/"总结经验") have no target.
INSERT INTO plan_targets (region_code, metric, from_year, year, target, note, source)
SELECT '511900', m.metric, m.y0 + i - 1, m.y0 + i - 1, m.v[i],
       format('巴中市任务清单：%s年%s%s', m.y0 + i - 1, m.what, m.v[i]::text || m.mw),
       '巴中市技术转移体系建设重点任务清单（2020-2025年）'
FROM (VALUES
    ('demo_enterprises',        2020, ARRAY[4, 4, 4, 4, 4, 4]::bigint[],        '培育科技成果转移转化示范企业', '家'),
    ('joint_rd_platforms',      2020, ARRAY[2, 2, 2, 2, 2, 2]::bigint[],        '建立重点实验室、工程技术研究中心和企业技术中心等', '个'),
    ('research_institutions_attracted', 2020, ARRAY[1, 1, 1, 2, 2, 2]::bigint[], '引进高校院所来巴设立科研机构、技术转移中心', '个'),
    ('transfer_institutions',   2021, ARRAY[1, 1, 2, 2, 2]::bigint[],           '培育技术转移机构', '个'),
    ('results_traded',          2021, ARRAY[30, 30, 30, 40, 40]::bigint[],      '实现交易科技成果', '个'),
    ('transfer_talents',        2020, ARRAY[10, 10, 10, 20, 20, 20]::bigint[],  '培育技术转移人才', '名'),
    ('brokers_trained',         2020, ARRAY[3, 3, 3, 3, 4, 4]::bigint[],        '培养技术经纪人', '名'),
    ('service_stations',        2020, ARRAY[5, 5, 5, 10, 10, 10]::bigint[],     '建立技术转移基层服务站点', '个'),
    ('transfer_activities',     2020, ARRAY[5, 5, 5, 10, 10, 10]::bigint[],     '开展科技成果转移转化活动', '场以上'),
    ('technologies_introduced', 2020, ARRAY[5, 5, 5, 10, 10, 10]::bigint[],     '引进省内外先进技术', '项'),
    ('fair_enterprises',        2020, ARRAY[10, 10, 15, 15, 20, 20]::bigint[],  '组织企业参加各类科技成果对接展示活动', '家以上'),
    ('signed_projects',         2020, ARRAY[5, 5, 8, 8, 10, 10]::bigint[],      '签约合作项目', '个'),
    ('matchmaking_events',      2020, ARRAY[2, 2, 3, 3, 5, 5]::bigint[],        '邀请专家来巴开展现场技术对接活动', '场'),
    ('major_conversion_projects', 2020, ARRAY[5, 5, 5, 5, 5, 5]::bigint[],      '支持实施重大科技成果转化项目', '项'),
    ('ip_pledge_financing',     2022, ARRAY[500000000, 600000000, 800000000, 1000000000]::bigint[],
                                                                                '实现知识产权质押贷款、股权质押贷款（分）', '以上'),
    ('finance_institutions',    2020, ARRAY[1, 1, 1, 2, 2, 2]::bigint[],        '发展和引进科技创业投资、担保、保险机构', '家'),
    ('ip_enforcement_actions',  2020, ARRAY[2, 2, 2, 3, 3, 3]::bigint[],        '开展知识产权执法活动', '次')
) AS m(metric, y0, v, what, mw)
CROSS JOIN LATERAL generate_subscripts(m.v, 1) AS i;
UPDATE plan_targets SET note = format('巴中市任务清单：%s年实现知识产权质押贷款、股权质押贷款%s万元以上', year, target / 1000000)
WHERE region_code = '511900' AND metric = 'ip_pledge_financing';

-- Cumulative targets ("到2020年", "累计", "3年").  A level the plan says is to be
-- "达到" by the end year is taken as what is added over the span (the note says so).
-- seeds/001 《巴中市促进科技成果转移转化行动方案》（2017-07-10） 到2020年: 300项以上科技成果
--   在市内转化应用（其中引进转化重大科技成果10项以上）, 专业化服务机构10家以上, 产业技术创新联盟
--   5家以上, 技术转移人才500名以上.  Its "技术合同登记交易额3亿元以上" for 2020 is superseded by
--   the 2020 task list's 2亿元 (0005), which keeps its row.
-- seeds/002 偃政〔2021〕2号《偃师市技术转移体系建设实施方案》: 到2025年全市技术合同成交额累计
--   突破5亿元; 到2021年省级产业技术创新战略联盟等各类联盟2家.
-- seeds/003 《重庆市技术转移体系建设实施方案》（重庆市科学技术委员会，2017-12-28）: 到2020年，3年
--   技术合同交易总额达到500亿元以上，国家和市级技术转移示范机构达到30家，国家备案众创空间达到
--   50家、国家级科技企业孵化器达到30家 (2018–2020).
-- seeds/004 《岳阳市促进科技成果转移转化实施方案》（2017） 到2020年: 市级示范性技术转移机构20个、
--   省级2个, 示范项目20个, 众创空间和星创天地省级20家、市级30家, 产业技术创新联盟10家, 技术转移
--   人才50名 (2017–2020).
INSERT INTO plan_targets (region_code, metric, from_year, year, target, note, source) VALUES
('511900', 'results_converted',        2017, 2020, 300, '到2020年组织300项以上科技成果在市内转化应用（累计）', '巴中市促进科技成果转移转化行动方案（2017年7月10日）'),
('511900', 'major_results_introduced', 2017, 2020, 10,  '其中引进转化重大科技成果10项以上（累计）',          '巴中市促进科技成果转移转化行动方案（2017年7月10日）'),
('511900', 'transfer_institutions',    2017, 2020, 10,  '建立科技成果转移转化专业化服务机构10家以上（累计）', '巴中市促进科技成果转移转化行动方案（2017年7月10日）'),
('511900', 'innovation_alliances',     2017, 2020, 5,   '建立产业技术创新联盟5家以上（累计）',                '巴中市促进科技成果转移转化行动方案（2017年7月10日）'),
('511900', 'transfer_talents',         2017, 2020, 500, '培养专业化技术转移人才500名以上（累计）',            '巴中市促进科技成果转移转化行动方案（2017年7月10日）'),
('410307', 'contract_amount',          2021, 2025, 50000000000, '到2025年全市技术合同成交额累计突破5亿元', '偃政〔2021〕2号 偃师市技术转移体系建设实施方案'),
('410307', 'innovation_alliances',     2021, 2021, 2,   '到2021年省级产业技术创新战略联盟等各类联盟2家',      '偃政〔2021〕2号 偃师市技术转移体系建设实施方案'),
('500000', 'contract_amount',          2018, 2020, 5000000000000, '到2020年，3年技术合同交易总额达到500亿元以上', '重庆市技术转移体系建设实施方案（重庆市科学技术委员会，2017年12月28日）'),
('500000', 'demo_institutions',        2018, 2020, 30,  '国家和市级技术转移示范机构达到30家（按期内新增计）', '重庆市技术转移体系建设实施方案（重庆市科学技术委员会，2017年12月28日）'),
('500000', 'maker_spaces',             2018, 2020, 50,  '国家备案众创空间达到50家（按期内新增计）',          '重庆市技术转移体系建设实施方案（重庆市科学技术委员会，2017年12月28日）'),
('500000', 'incubators',               2018, 2020, 30,  '国家级科技企业孵化器达到30家（按期内新增计）',      '重庆市技术转移体系建设实施方案（重庆市科学技术委员会，2017年12月28日）'),
('430600', 'demo_institutions',        2017, 2020, 22,  '培育20个市级示范性技术转移机构，省级示范性转移机构达到2个（累计）', '岳阳市促进科技成果转移转化实施方案（2017年）'),
('430600', 'demo_projects',            2017, 2020, 20,  '建设20个市科技成果转移转化示范项目（累计）',         '岳阳市促进科技成果转移转化实施方案（2017年）'),
('430600', 'maker_spaces',             2017, 2020, 50,  '构建省级、市级众创空间和星创天地20家、30家（累计）', '岳阳市促进科技成果转移转化实施方案（2017年）'),
('430600', 'innovation_alliances',     2017, 2020, 10,  '组建10家化工、食品、先进制造等产业技术创新联盟（累计）', '岳阳市促进科技成果转移转化实施方案（2017年）'),
('430600', 'transfer_talents',         2017, 2020, 50,  '培养50名专业化技术转移人才（累计）',                '岳阳市促进科技成果转移转化实施方案（2017年）');
