-- 0017_contract_roles_tax_rules.sql — issue #20, parts 1, 5 and 6 (the contract's side):
-- the attributes a contract records for the tax rules and the subsidies, the
-- officer's 核定 note, the parties' roles per contract type, and the tax rules as
-- data with their sources.
--
-- Where a rule comes from is written beside it (extra.*_source, settings.description);
-- functions/subsidies.sql (tax_relief) reads only these rows, so an admin who changes
-- a row changes the rule.

------------------------------------------------------------------------------
-- Contract attributes
------------------------------------------------------------------------------
ALTER TABLE contracts
    ADD COLUMN registration_note   text CHECK (char_length(registration_note) <= 1000),
    ADD COLUMN related_party       text NOT NULL DEFAULT 'none' CHECK (related_party ~ '^[a-z_]+$'),
    ADD COLUMN related_contract_id bigint REFERENCES contracts (id),
    ADD COLUMN fiscal_subsidy      boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT contracts_related_contract_not_self CHECK (related_contract_id <> id);
COMMENT ON COLUMN contracts.registration_note IS
    '核定 note: what the officer fixed at registration and why (e.g. the non-technical items deducted); printed on the certificate.';
COMMENT ON COLUMN contracts.related_party IS
    'Code in code list related_party_kinds (是否关联交易): none, related, wholly_related (100 % related parties: no income-tax relief, 财税〔2010〕111号 四).';
COMMENT ON COLUMN contracts.related_contract_id IS
    'For a consulting or service contract: the technology transfer, licence or development contract it serves (same seller and buyer), which makes it VAT-exempt (财税〔2016〕36号附件3).';
COMMENT ON COLUMN contracts.fiscal_subsidy IS
    '已享受财政资金补贴: the project already received government funding; subsidy lines excluding "government_funded" leave it out.';
CREATE INDEX contracts_related_contract_idx ON contracts (related_contract_id) WHERE related_contract_id IS NOT NULL;

------------------------------------------------------------------------------
-- 关联交易 (related-party transactions)
------------------------------------------------------------------------------
INSERT INTO code_lists (list, label, description) VALUES
('related_party_kinds', '关联交易', '技术合同登记表“是否关联交易”；100% 关联方之间的技术转让所得不享受企业所得税减免。');

INSERT INTO codes (list, code, label, label_en, sort, extra) VALUES
('related_party_kinds', 'none',           '非关联交易', 'Not a related-party transaction', 10, '{}'),
('related_party_kinds', 'related',        '关联交易（直接或间接持股之和未达100%）', 'Related parties (less than 100 % held)', 20, '{}'),
('related_party_kinds', 'wholly_related', '100%关联方交易（直接或间接持股之和达到100%）', 'Parties 100 % held, directly or indirectly', 30,
 '{"cit_excluded": true, "cit_source": "财税〔2010〕111号 四：居民企业从直接或间接持有股权之和达到100%的关联方取得的技术转让所得，不享受技术转让减免企业所得税优惠政策"}');

------------------------------------------------------------------------------
-- Party roles per contract type (民法典 第三编 第二十章 技术合同): the one place
-- the certificate (JSON, HTML and PDF) takes them from.  A subtype may carry its
-- own extra.party_roles; otherwise its type's apply.
------------------------------------------------------------------------------
UPDATE codes SET extra = extra || jsonb_build_object('party_roles', r.roles)
FROM (VALUES
    ('development', '{"seller": "研究开发方", "buyer": "委托方"}'::jsonb),
    ('transfer',    '{"seller": "让与方",     "buyer": "受让方"}'::jsonb),
    ('licence',     '{"seller": "许可方",     "buyer": "被许可方"}'::jsonb),
    ('consulting',  '{"seller": "受托方",     "buyer": "委托方"}'::jsonb),
    ('service',     '{"seller": "受托方",     "buyer": "委托方"}'::jsonb)
) AS r(code, roles)
WHERE codes.list = 'contract_types' AND codes.code = r.code;

------------------------------------------------------------------------------
-- VAT (增值税): the exempt types, and the base
------------------------------------------------------------------------------
UPDATE codes SET extra = extra || jsonb_build_object('vat_source', r.src)
FROM (VALUES
    ('development', '财税〔2016〕36号附件3 一（二十六）：纳税人提供技术开发免征增值税'),
    ('transfer',    '财税〔2016〕36号附件3 一（二十六）：纳税人提供技术转让免征增值税（转让技术的所有权）'),
    ('licence',     '财税〔2016〕36号附件3 一（二十六）：技术转让包括转让技术的使用权'),
    ('consulting',  '财税〔2016〕36号附件3 一（二十六）：与技术转让、技术开发相关的技术咨询免征增值税（同一合同双方，价款与技术转让或开发价款开在同一张发票上）'),
    ('service',     '财税〔2016〕36号附件3 一（二十六）：与技术转让、技术开发相关的技术服务免征增值税（同一合同双方，价款与技术转让或开发价款开在同一张发票上）')
) AS r(code, src)
WHERE codes.list = 'contract_types' AND codes.code = r.code;

-- The two bases the VAT estimate may use, as a code list the setting names
-- (rule.list): the screen shows their labels and a new value must be one.
INSERT INTO code_lists (list, label, description) VALUES
('tax_vat_bases', '增值税计税基础', '估算免征增值税所用的金额：技术交易额（不含设备、材料等非技术性费用）或合同成交额。');
INSERT INTO codes (list, code, label, label_en, sort, source) VALUES
('tax_vat_bases', 'technical_amount', '技术交易额', 'Technical amount', 10, '财税〔2016〕36号附件3 一（二十六）'),
('tax_vat_bases', 'contract_amount',  '合同成交额', 'Contract amount',  20, '财税〔2016〕36号附件3 一（二十六）');

INSERT INTO settings (key, value, rule, source, description) VALUES
('tax_vat_base', '"technical_amount"', '{"list": "tax_vat_bases"}', '财税〔2016〕36号附件3 一（二十六）',
 '估算免征增值税所用的计税基础：技术交易额（合同成交额扣除设备、仪器、零部件、原材料等非技术性费用）；改为合同成交额时包含这些费用。依据：财税〔2016〕36号附件3 一（二十六）免征的是技术转让、技术开发及与之相关的技术咨询、技术服务的价款');

------------------------------------------------------------------------------
-- Corporate income tax (企业所得税): which transfers are 技术转让所得
------------------------------------------------------------------------------
-- The type says whether its income can be 技术转让所得 (transfer; licence of at
-- least cit_min_licence_years); the IP transferred decides whether it is: a
-- subtype's extra.cit_qualifying when it has one, else the contract's ip_type's.
UPDATE codes SET extra = extra || jsonb_build_object('cit_source', r.src)
FROM (VALUES
    ('transfer', '财税〔2010〕111号 二：技术转让是指居民企业转让其拥有符合第一条规定技术的所有权'),
    ('licence',  '财税〔2010〕111号 二（5年以上全球独占许可使用权）；财税〔2015〕116号、国家税务总局公告2015年第82号 一（5年以上非独占许可使用权）')
) AS r(code, src)
WHERE codes.list = 'contract_types' AND codes.code = r.code;

UPDATE codes SET extra = extra || jsonb_build_object('cit_qualifying', r.q, 'cit_source', r.src)
FROM (VALUES
    ('contract_types', 'patent_transfer',             true,  '财税〔2010〕111号 一：专利技术（法律授予独占权的发明、实用新型和非简单改变产品图案的外观设计）'),
    ('contract_types', 'patent_application_transfer', false, '财税〔2010〕111号 一：专利申请权不是法律授予独占权的专利技术'),
    ('contract_types', 'know_how_transfer',           false, '财税〔2010〕111号 一：技术秘密不在所列技术范围内'),
    ('contract_types', 'ic_layout_transfer',          true,  '财税〔2010〕111号 一：集成电路布图设计权'),
    ('contract_types', 'plant_variety_transfer',      true,  '财税〔2010〕111号 一：植物新品种'),
    ('contract_types', 'software_copyright_transfer', true,  '财税〔2010〕111号 一：计算机软件著作权'),
    ('contract_types', 'patent_licence',              true,  '财税〔2010〕111号 一、二；国家税务总局公告2015年第82号 一：专利5年以上许可使用权'),
    ('contract_types', 'know_how_licence',            false, '财税〔2010〕111号 一：技术秘密不在所列技术范围内'),
    ('ip_types', 'patent',                            true,  '财税〔2010〕111号 一：专利技术'),
    ('ip_types', 'know_how',                          false, '财税〔2010〕111号 一：技术秘密不在所列技术范围内'),
    ('ip_types', 'software_copyright',                true,  '财税〔2010〕111号 一：计算机软件著作权'),
    ('ip_types', 'ic_layout',                         true,  '财税〔2010〕111号 一：集成电路布图设计权'),
    ('ip_types', 'plant_variety',                     true,  '财税〔2010〕111号 一：植物新品种'),
    ('ip_types', 'biomedical_variety',                true,  '财税〔2010〕111号 一：生物医药新品种'),
    ('ip_types', 'none',                              false, '财税〔2010〕111号 一：未涉及知识产权的技术不在所列范围内')
) AS r(list, code, q, src)
WHERE codes.list = r.list AND codes.code = r.code;

UPDATE settings SET description = description || '。依据：企业所得税法第二十七条第（四）项、企业所得税法实施条例第九十条'
WHERE key = 'cit_exempt_threshold_fen';

------------------------------------------------------------------------------
-- 已享受财政资金补贴 is now said by the contract (fiscal_subsidy), not guessed
-- from its plan source.
------------------------------------------------------------------------------
DELETE FROM settings WHERE key = 'subsidy_government_funded_plan_sources';

------------------------------------------------------------------------------
-- Where the new codes come from (codes.source, 0009)
------------------------------------------------------------------------------
UPDATE codes SET source = '技术合同登记表“是否关联交易”；财税〔2010〕111号 四'
WHERE list = 'related_party_kinds';
