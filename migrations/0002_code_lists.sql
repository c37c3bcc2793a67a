-- 0002_code_lists.sql — code lists (代码表) and regulatory settings (规则参数), as data.
--
-- Code lists are data, editable by an admin: C code refers to codes, never to labels.
-- Codes are stable ASCII identifiers (snake_case, or the official numeric codes for
-- org_types); labels are Chinese, label_en English. Two-level lists use parent_code.
-- `active = false` retires a code without breaking rows that reference it.
--
-- Settings are the values the regulations or the operators may change (time limits,
-- thresholds, rate limits, token lifetimes, weights): one row each, read by
-- setting_int() and friends (functions/core.sql), edited by an admin.

INSERT INTO code_lists (list, label, description) VALUES
('contract_types',            '技术合同类别',       '两级：类别（parent_code 为空）与子类别；登记时记录子类别。'),
('domains',                   '技术领域',           '技术市场统计的 11 个技术领域。'),
('org_types',                 '单位类型',           '技术合同当事人（卖方/买方）单位类型代码；100 内资企业下按国家统计局企业登记注册类型细分。'),
('ip_types',                  '知识产权类型',       '技术合同涉及的知识产权类型。'),
('plan_sources',              '计划来源',           '技术合同标的所属科技计划的级别。'),
('refusal_grounds',           '不予登记理由',       '依据《技术合同认定登记管理办法》《技术合同认定规则》对申请不予登记的理由。'),
('return_reasons',            '补正事项',           '登记员退回申请要求补正（补正后重新计时）的常见事项。'),
('transfer_modes',            '成果转化方式',       '科技成果发布时提供的转化方式。'),
('cooperation_modes',         '合作方式',           '技术需求期望的合作方式。'),
('pricing_modes',             '定价方式',           '科技成果交易的定价方式。'),
('maturity_stages',           '成果成熟度',         '科技成果所处阶段。'),
('socio_economic_objectives', '社会经济目标',       '技术合同登记统计使用的社会经济目标分类。');

-- 技术合同类别 -------------------------------------------------------------------------
-- extra.vat_exempt: 技术转让、技术开发及与之相关的技术咨询、技术服务免征增值税
--   (财税〔2016〕36号附件3); for consulting/service only when related (vat_exempt_if_related).
-- extra.cit_transfer_income: income counts as 技术转让所得 for the corporate-income-tax
--   benefit (财税〔2010〕111号、财税〔2015〕116号; licences only of 5 years or more).
INSERT INTO codes (list, code, label, label_en, parent_code, sort, extra) VALUES
('contract_types', 'development', '技术开发', 'Technology development', NULL, 10, '{"vat_exempt": true}'),
('contract_types', 'transfer',    '技术转让', 'Technology transfer',    NULL, 20, '{"vat_exempt": true, "cit_transfer_income": true}'),
('contract_types', 'licence',     '技术许可', 'Technology licence',     NULL, 30, '{"vat_exempt": true, "cit_transfer_income": true, "cit_min_licence_years": 5}'),
('contract_types', 'consulting',  '技术咨询', 'Technical consulting',   NULL, 40, '{"vat_exempt": false, "vat_exempt_if_related": true}'),
('contract_types', 'service',     '技术服务', 'Technical service',      NULL, 50, '{"vat_exempt": false, "vat_exempt_if_related": true}');

INSERT INTO codes (list, code, label, label_en, parent_code, sort) VALUES
('contract_types', 'commissioned_development',    '委托开发',                 'Commissioned development',                          'development', 11),
('contract_types', 'cooperative_development',     '合作开发',                 'Cooperative development',                           'development', 12),
('contract_types', 'patent_transfer',             '专利权转让',               'Patent assignment',                                 'transfer',    21),
('contract_types', 'patent_application_transfer', '专利申请权转让',           'Assignment of the right to apply for a patent',     'transfer',    22),
('contract_types', 'know_how_transfer',           '技术秘密转让',             'Know-how (technical secret) transfer',              'transfer',    23),
('contract_types', 'ic_layout_transfer',          '集成电路布图设计专有权转让', 'Assignment of IC layout-design right',            'transfer',    24),
('contract_types', 'plant_variety_transfer',      '植物新品种权转让',         'Assignment of plant variety right',                 'transfer',    25),
('contract_types', 'software_copyright_transfer', '计算机软件著作权转让',     'Assignment of computer software copyright',         'transfer',    26),
('contract_types', 'other_transfer',              '其他',                     'Other transfer',                                    'transfer',    29),
('contract_types', 'patent_licence',              '专利实施许可',             'Patent licence',                                    'licence',     31),
('contract_types', 'know_how_licence',            '技术秘密使用许可',         'Know-how licence',                                  'licence',     32),
('contract_types', 'other_licence',               '其他',                     'Other licence',                                     'licence',     39),
('contract_types', 'technical_consulting',        '技术咨询',                 'Technical consulting',                              'consulting',  41),
('contract_types', 'technical_service',           '技术服务',                 'Technical service',                                 'service',     51),
('contract_types', 'technical_training',          '技术培训',                 'Technical training',                                'service',     52),
('contract_types', 'technical_intermediary',      '技术中介',                 'Technical intermediary (brokerage)',                'service',     53),

-- 技术领域 ---------------------------------------------------------------------------------
('domains', 'electronic_information',      '电子信息',               'Electronic information',                                   NULL,  10),
('domains', 'aerospace',                   '航空航天',               'Aviation and aerospace',                                   NULL,  20),
('domains', 'advanced_manufacturing',      '先进制造',               'Advanced manufacturing',                                   NULL,  30),
('domains', 'biomedicine',                 '生物医药和医疗器械',     'Biology, medicine and medical devices',                    NULL,  40),
('domains', 'new_materials',               '新材料及其应用',         'New materials and their applications',                     NULL,  50),
('domains', 'new_energy',                  '新能源与高效节能',       'New energy and energy efficiency',                         NULL,  60),
('domains', 'environmental_protection',    '环境保护与资源综合利用', 'Environmental protection and comprehensive resource use',  NULL,  70),
('domains', 'nuclear_applications',        '核应用',                 'Nuclear applications',                                     NULL,  80),
('domains', 'agriculture',                 '农业',                   'Agriculture',                                              NULL,  90),
('domains', 'modern_transportation',       '现代交通',               'Modern transportation',                                   NULL, 100),
('domains', 'urban_construction',          '城市建设与社会发展',     'Urban construction and social development',               NULL, 110),

-- 单位类型 ---------------------------------------------------------------------------------
-- Codes of the 技术合同登记 statistics; 020 事业法人 groups 021–024. The 100 内资企业
-- subtypes follow 国家统计局《关于划分企业登记注册类型的规定》 (登记注册类型 110–190;
-- there is no 180 in that list: 190 is 其他企业).
('org_types', '010', '机关法人',         'Government agency',                          NULL,  10),
('org_types', '020', '事业法人',         'Public institution',                         NULL,  20),
('org_types', '030', '社团法人',         'Social organisation',                        NULL,  30),
('org_types', '100', '内资企业',         'Domestic enterprise',                        NULL, 100),
('org_types', '200', '港澳台商投资企业', 'Hong Kong, Macao or Taiwan-invested enterprise', NULL, 200),
('org_types', '300', '外商投资企业',     'Foreign-invested enterprise',                NULL, 300),
('org_types', '400', '自然人',           'Natural person',                             NULL, 400),
('org_types', '900', '其他',             'Other',                                      NULL, 900),

('org_types', '021', '科研机构',         'Research institute',                         '020',  21),
('org_types', '022', '高等院校',         'University or college',                      '020',  22),
('org_types', '023', '医疗卫生',         'Medical and health institution',             '020',  23),
('org_types', '024', '其他事业',         'Other public institution',                   '020',  24),
('org_types', '110', '国有企业',         'State-owned enterprise',                     '100', 110),
('org_types', '120', '集体企业',         'Collective enterprise',                      '100', 120),
('org_types', '130', '股份合作企业',     'Joint-stock cooperative enterprise',         '100', 130),
('org_types', '140', '联营企业',         'Joint-operation enterprise',                 '100', 140),
('org_types', '150', '有限责任公司',     'Limited liability company',                  '100', 150),
('org_types', '160', '股份有限公司',     'Company limited by shares',                  '100', 160),
('org_types', '170', '私营企业',         'Private enterprise',                         '100', 170),
('org_types', '190', '其他企业',         'Other enterprise',                           '100', 190);

-- 知识产权类型 -----------------------------------------------------------------------------
INSERT INTO codes (list, code, label, label_en, sort) VALUES
('ip_types', 'patent',             '专利',                   'Patent',                               10),
('ip_types', 'know_how',           '技术秘密',               'Know-how (technical secret)',          20),
('ip_types', 'software_copyright', '计算机软件著作权',       'Computer software copyright',          30),
('ip_types', 'ic_layout',          '集成电路布图设计专有权', 'IC layout-design right',               40),
('ip_types', 'plant_variety',      '植物新品种',             'Plant variety',                        50),
('ip_types', 'biomedical_variety', '生物医药新品种',         'New biological or medicinal variety',  60),
('ip_types', 'none',               '未涉及知识产权',         'No intellectual property involved',    90),

-- 计划来源 ---------------------------------------------------------------------------------
('plan_sources', 'national',   '国家计划',   'National programme',                   10),
('plan_sources', 'ministerial','部门计划',   'Ministerial programme',                20),
('plan_sources', 'provincial', '省级计划',   'Provincial programme',                 30),
('plan_sources', 'local',      '地市县计划', 'Prefecture, city or county programme', 40),
('plan_sources', 'unplanned',  '计划外',     'Not under a programme',                90),

-- 不予登记理由 -----------------------------------------------------------------------------
-- From 《技术合同认定登记管理办法》(国科发政字〔2000〕063号) and 《技术合同认定规则》
-- (国科发政字〔2001〕253号) and the registry guidance built on them.
('refusal_grounds', 'not_technology_contract',  '不属于技术合同（非技术合同）',                         'Not a technology contract',                                              10),
('refusal_grounds', 'invalid_or_not_effective', '合同无效或者尚未生效',                                 'Contract invalid or not yet in force',                                   20),
('refusal_grounds', 'party_unclear',            '合同主体不明确',                                       'Contracting parties not clearly identified',                             30),
('refusal_grounds', 'subject_unclear',          '合同标的不明确，不能使登记人员了解其技术内容',         'Subject matter unclear; technical content cannot be determined',         40),
('refusal_grounds', 'price_unclear',            '合同价款、报酬、使用费等约定不明确',                   'Price, remuneration or royalties not clearly agreed',                    50),
('refusal_grounds', 'seals_incomplete',         '签章不全，或者印章与书写的单位名称不一致',             'Seals or signatures missing, or seal does not match the party name',     60),
('refusal_grounds', 'documents_invalid',        '当事人不出具或者所出具的证明文件不符合要求',           'Required supporting documents missing or not acceptable',                70),
('refusal_grounds', 'name_mismatch_uncorrected','合同名称与权利义务内容不一致，经要求补正而未补正',     'Contract name inconsistent with its terms and not corrected on request', 80),
('refusal_grounds', 'restrictive_clauses',      '含有非法垄断技术、妨碍技术进步或者侵害他人技术成果的条款', 'Contains clauses monopolising technology, impeding technological progress or infringing others'' results', 90),
('refusal_grounds', 'approval_missing',         '依法应当经有关部门审批的合同未办理审批手续',           'Required government approval not obtained',                            100),
('refusal_grounds', 'not_written_form',         '未采用书面形式订立（口头合同）',                       'Not concluded in written form',                                        110),
('refusal_grounds', 'late_application',         '合同已履行完毕或者超过规定期限申请登记',               'Contract already fully performed, or application filed after the time limit', 120),
('refusal_grounds', 'evasion',                  '以技术合同名义规避国家规定或者骗取税收等优惠',         'Uses the form of a technology contract to evade state rules or obtain benefits improperly', 130),
('refusal_grounds', 'duplicate_registration',   '同一合同已经认定登记（重复申请）',                     'Same contract already registered',                                     140),
('refusal_grounds', 'other',                    '其他不应予以认定登记的情形',                           'Other grounds',                                                        990),

-- 补正事项 ---------------------------------------------------------------------------------
('return_reasons', 'contract_text_incomplete', '合同文本不完整（缺页、缺附件）',               'Contract text or its annexes incomplete',                       10),
('return_reasons', 'seal_or_signature',        '签章缺失或不清晰，或与当事人名称不一致',       'Seal or signature missing, illegible or not matching the party', 20),
('return_reasons', 'party_information',        '当事人名称、统一社会信用代码或地址有误',       'Party name, credit code or address wrong',                      30),
('return_reasons', 'contract_type',            '合同名称或类别与内容不符，需调整',             'Contract name or type does not match its content',              40),
('return_reasons', 'technical_content',        '技术内容、标的或技术指标描述不清',             'Technical content or deliverables not described clearly',       50),
('return_reasons', 'amount_inconsistent',      '合同金额前后不一致或大小写不符',               'Amounts inconsistent (figures vs words, text vs form)',         60),
('return_reasons', 'non_technical_costs',      '非技术性费用（设备、材料等）未列明或依据不足', 'Non-technical costs not itemised or not substantiated',         70),
('return_reasons', 'payment_terms',            '价款支付方式或期限不明确',                     'Payment method or schedule unclear',                            80),
('return_reasons', 'dates',                    '签订日期或履行期限缺失',                       'Signing date or term of performance missing',                   90),
('return_reasons', 'authorisation',            '缺少法定代表人授权委托书或经办人身份证明',     'Power of attorney or agent identification missing',            100),
('return_reasons', 'ip_proof',                 '缺少知识产权证明（专利证书、受理通知书、登记证书等）', 'Proof of IP rights missing (certificate, filing receipt)', 110),
('return_reasons', 'chinese_translation',      '外文合同缺少中文文本',                         'Chinese version of a foreign-language contract missing',       120),
('return_reasons', 'scan_quality',             '扫描件不清晰或不完整',                         'Scanned copy illegible or incomplete',                         130),
('return_reasons', 'application_form',         '登记申请表填写有误或与合同不一致',             'Application form wrong or inconsistent with the contract',     140),
('return_reasons', 'other',                    '其他需补正事项',                               'Other',                                                        990),

-- 成果转化方式 / 合作方式 / 定价方式 / 成熟度 ------------------------------------------------
('transfer_modes', 'transfer',             '转让',     'Transfer (assignment)',       10),
('transfer_modes', 'licence',              '许可',     'Licence',                     20),
('transfer_modes', 'equity_investment',    '作价投资', 'Contribution as equity',      30),
('transfer_modes', 'joint_implementation', '合作实施', 'Joint implementation',        40),
('transfer_modes', 'other',                '其他',     'Other',                       90),

('cooperation_modes', 'transfer',                 '转让',     'Transfer (assignment)',    10),
('cooperation_modes', 'licence',                  '许可',     'Licence',                  20),
('cooperation_modes', 'commissioned_development', '委托开发', 'Commissioned development', 30),
('cooperation_modes', 'cooperative_development',  '合作开发', 'Cooperative development',  40),
('cooperation_modes', 'consulting',               '技术咨询', 'Technical consulting',     50),
('cooperation_modes', 'service',                  '技术服务', 'Technical service',        60),

('pricing_modes', 'negotiated', '协议定价', 'Negotiated price', 10),
('pricing_modes', 'listed',     '挂牌交易', 'Listed price',     20),
('pricing_modes', 'auction',    '拍卖',     'Auction',          30),

('maturity_stages', 'early',  '初期', 'Early stage',  10),
('maturity_stages', 'middle', '中期', 'Middle stage', 20),
('maturity_stages', 'mature', '成熟', 'Mature',       30),

-- 社会经济目标 -----------------------------------------------------------------------------
-- The socio-economic objective classification used by 科技统计 and the 全国技术市场统计
-- (13 categories adapted from the OECD NABS classification).
('socio_economic_objectives', 'environment',         '环境保护、生态建设及污染防治', 'Environmental protection, ecology and pollution control', 10),
('socio_economic_objectives', 'energy',              '能源生产、分配和合理利用',     'Energy production, distribution and rational use',       20),
('socio_economic_objectives', 'health',              '卫生事业发展',                 'Health',                                                 30),
('socio_economic_objectives', 'education',           '教育事业发展',                 'Education',                                              40),
('socio_economic_objectives', 'infrastructure',      '基础设施以及城市和农村规划',   'Infrastructure and urban and rural planning',            50),
('socio_economic_objectives', 'social_development',  '社会发展和社会服务',           'Social development and social services',                 60),
('socio_economic_objectives', 'earth_atmosphere',    '地球和大气层的探索与利用',     'Exploration and exploitation of the earth and atmosphere', 70),
('socio_economic_objectives', 'civil_space',         '民用空间探测及开发',           'Civil space exploration and exploitation',               80),
('socio_economic_objectives', 'agriculture',         '农林牧渔业发展',               'Agriculture, forestry, animal husbandry and fishery',    90),
('socio_economic_objectives', 'industry',            '促进工业发展',                 'Industrial production and technology',                  100),
('socio_economic_objectives', 'non_oriented',        '非定向研究',                   'Non-oriented research',                                 120),
('socio_economic_objectives', 'defence',             '国防',                         'Defence',                                               130),
('socio_economic_objectives', 'other_civil',         '其他民用目标',                 'Other civil objectives',                                190);

-- 规则参数 (settings) ----------------------------------------------------------------------
-- In 0002_code_lists/settings.json by topic, each {"value": …, "description": …}.
-- Money in fen (分): 500000000 fen = 5,000,000 yuan.
INSERT INTO settings (key, value, description)
SELECT s.key, s.value->'value', s.value->>'description'
FROM migration_files f
CROSS JOIN LATERAL jsonb_each(f.body::jsonb) AS g   -- by topic: contract registration, deal flow, ...
CROSS JOIN LATERAL jsonb_each(g.value) AS s
WHERE f.name = 'settings.json';
