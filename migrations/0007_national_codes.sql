-- 0007_national_codes.sql — the codes the national 技术合同管理与服务系统 uses in
-- the code columns of its 技术合同登记表 (issue #19 part 6), as data beside our
-- codes: extra.national_code on each code, read by export_national()
-- (functions/stats.sql).  api/national-export.md maps every column.
--
-- Source and confidence: org types (the 3-digit 单位性质 codes, e.g. 010, 021,
-- 150) and regions (GB/T 2260) are national codes already and need nothing
-- here.  For contract types, domains, IP types, plan sources and
-- socio-economic objectives the national form numbers its options in the order
-- the national lists give them (shared/spec/domain.md, last section; the
-- option lists are partly unverified).  The numbers follow that order;
-- an admin corrects one by editing the code's extra.national_code, without a
-- release, once checked against the registrar's copy of the national system.

-- The numbers are in 0007_national_codes/national_codes.json, by list and code (the
-- migrator loads it as a row of migration_files): 合同类别 in two levels (the
-- category's tens and the subtype's units); 技术领域, the 11 domains of the statistics
-- in their order; 知识产权类型 with 未涉及知识产权 last (99); 项目计划来源 with 计划外
-- last (9); 社会经济目标 with 其他民用目标 last (99).
UPDATE codes c SET extra = c.extra || jsonb_build_object('national_code', v.n, 'national_code_source',
       '全国技术合同登记表选项顺序（待与技术合同管理与服务系统核对）')
FROM (SELECT l.key AS list, e.key AS code, e.value #>> '{}' AS n
      FROM migration_files f
      CROSS JOIN LATERAL jsonb_each(f.body::jsonb) AS l
      CROSS JOIN LATERAL jsonb_each(l.value) AS e
      WHERE f.name = 'national_codes.json') AS v
WHERE c.list = v.list AND c.code = v.code;
