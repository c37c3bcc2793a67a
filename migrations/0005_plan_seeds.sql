-- 0005_plan_seeds.sql — the figures of the city plans (/work/shared/seeds) as rows
-- an admin or the bureau edits like any other: Bazhong's plan targets, and the
-- Yanshi (偃师) and Yueyang (岳阳) subsidy policies.  The policies' rules are
-- JSON documents in 0005_plan_seeds/ (the migrator loads them as the rows of
-- migration_files), checked by subsidy_rules_check() (functions/subsidies.sql);
-- the test suite checks these seeds pass it (test_migrations_cli.py).

-- Bazhong's plan targets (巴中市技术转移体系建设方案, seeds/000): technology
-- contract registration amount 2亿 yuan in 2020 rising by 0.2亿 a year to 3亿
-- in 2025; results introduced and transferred 30 a year to 2022, 40 from 2023.
INSERT INTO plan_targets (region_code, year, metric, target, note)
SELECT '511900', y, 'contract_amount', 20000000000::bigint + (y - 2020)::bigint * 2000000000,
       format('巴中市方案：%s年技术合同登记额达%s亿元', y, to_char(2 + (y - 2020) * 0.2, 'FM9.0'))
FROM generate_series(2020, 2025) y
UNION ALL
SELECT '511900', y, 'results_transferred', CASE WHEN y <= 2022 THEN 30 ELSE 40 END,
       format('巴中市方案：%s年引进转化科技成果%s项', y, CASE WHEN y <= 2022 THEN 30 ELSE 40 END)
FROM generate_series(2020, 2025) y;

-- 偃师 — 偃政〔2021〕2号《偃师市技术转移体系建设实施方案》三（四）, "根据洛阳市文件":
--   买方: "按上年度合同技术交易额的5%给予奖励，单个技术合同奖励不超过10万元，同一单位
--          年度最高奖励100万元。已享受财政资金补贴的项目不参与奖励，洛阳市级同类奖励只能
--          享受一次，不重复奖励。"
--     -> buyer, technical amount (技术交易额) of contracts registered the year before the
--        award year, 5 %, cap 100,000 yuan a contract and 1,000,000 yuan an org a year,
--        excluding government-funded projects and contracts already awarded the same
--        kind of award by another policy.
--   卖方: "按其上年度技术交易额…按技术合同交易额1%给予奖励，最高不超过10万元；技术交易额超
--          1亿元的，可加大支持力度，给予20万元奖励。"
--     -> seller, technical amount of the previous year, 1 %, cap 100,000 yuan an org a
--        year, 200,000 yuan when that year's total exceeds 100,000,000 yuan (1 % of
--        more than 100,000,000 is more than 200,000, so "给予20万元" and "cap 200,000"
--        give the same award).  The plan states no exclusions for sellers.
--   No budget is stated.  Region 410307 偃师区 (偃师市 until 2021).
--
-- 岳阳 — 《岳阳市促进科技成果转移转化实施方案》（2017）二、6:
--   "全年技术开发和转让合同交易实际到账额累计50万元以上的，市财政按照不超过合同交易实际
--    到账额的2%的比例给予技术开发和转让输出方一次性补助，最高不超过20万元；全年技术开发和
--    转让合同交易实际到账额累计25万元以上的，按照不超过合同交易实际到账额的4%的比例给予
--    技术开发和转让承接方一次性补助，最高不超过10万元；全年技术咨询和技术服务合同交易实际
--    到账额累计50万元以上的，市财政按照不超过合同交易实际到账额的1%的比例给予输出方一次
--    性补助，最高不超过10万元。技术合同交易后补助总金额按当年科技财政预算的10%予以安排。"
--     -> base: amounts received (实际到账额) in the year itself; thresholds are reached
--        at (以上 includes the amount); caps per org and year.  "转让" includes 技术许可:
--        in 2017 (Contract Law art. 342) a patent licence was a kind of technology-transfer
--        contract; the code list splits licence off since the 2021 Civil Code.
--     -> budget: 10 % of each year's science and technology budget, which is not known
--        here, so budget_fen is a per-year map left empty: a run for a year refuses
--        (422) until the bureau sets rules.budget_fen."<year>".
--   Region 430600 岳阳市.

INSERT INTO subsidy_policies (name, region_code, valid_from_year, valid_to_year, source, rules)
SELECT '偃师区技术合同交易奖励', '410307', 2021, NULL,
       '偃政〔2021〕2号《偃师市技术转移体系建设实施方案》三（四）（根据洛阳市文件）',
       (SELECT body::jsonb FROM migration_files WHERE name = 'yanshi_transactions.json');

INSERT INTO subsidy_policies (name, region_code, valid_from_year, valid_to_year, source, rules)
SELECT '岳阳市技术合同交易后补助', '430600', 2017, NULL,
       '《岳阳市促进科技成果转移转化实施方案》二、6',
       (SELECT body::jsonb FROM migration_files WHERE name = 'yueyang_transactions.json');
