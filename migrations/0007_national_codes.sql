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
-- option lists are partly unverified).  The numbers below follow that order;
-- an admin corrects one by editing the code's extra.national_code, without a
-- release, once checked against the registrar's copy of the national system.

UPDATE codes c SET extra = c.extra || jsonb_build_object('national_code', v.n, 'national_code_source',
       '全国技术合同登记表选项顺序（待与技术合同管理与服务系统核对）')
FROM (VALUES
    -- 合同类别: two levels, the category's tens and the subtype's units
    ('contract_types', 'development', '10'), ('contract_types', 'commissioned_development', '11'),
    ('contract_types', 'cooperative_development', '12'),
    ('contract_types', 'transfer', '20'), ('contract_types', 'patent_transfer', '21'),
    ('contract_types', 'patent_application_transfer', '22'), ('contract_types', 'know_how_transfer', '23'),
    ('contract_types', 'ic_layout_transfer', '24'), ('contract_types', 'plant_variety_transfer', '25'),
    ('contract_types', 'software_copyright_transfer', '26'), ('contract_types', 'other_transfer', '29'),
    ('contract_types', 'licence', '30'), ('contract_types', 'patent_licence', '31'),
    ('contract_types', 'know_how_licence', '32'), ('contract_types', 'other_licence', '39'),
    ('contract_types', 'consulting', '40'), ('contract_types', 'technical_consulting', '41'),
    ('contract_types', 'service', '50'), ('contract_types', 'technical_service', '51'),
    ('contract_types', 'technical_training', '52'), ('contract_types', 'technical_intermediary', '53'),
    -- 技术领域: the 11 domains of the statistics, in their order
    ('domains', 'electronic_information', '01'), ('domains', 'aerospace', '02'),
    ('domains', 'advanced_manufacturing', '03'), ('domains', 'biomedicine', '04'), ('domains', 'new_materials', '05'),
    ('domains', 'new_energy', '06'), ('domains', 'environmental_protection', '07'),
    ('domains', 'nuclear_applications', '08'), ('domains', 'agriculture', '09'),
    ('domains', 'modern_transportation', '10'), ('domains', 'urban_construction', '11'),
    -- 知识产权类型 (未涉及知识产权 last)
    ('ip_types', 'patent', '01'), ('ip_types', 'know_how', '02'), ('ip_types', 'software_copyright', '03'),
    ('ip_types', 'ic_layout', '04'), ('ip_types', 'plant_variety', '05'), ('ip_types', 'biomedical_variety', '06'),
    ('ip_types', 'none', '99'),
    -- 项目计划来源 (计划外 last)
    ('plan_sources', 'national', '1'), ('plan_sources', 'ministerial', '2'), ('plan_sources', 'provincial', '3'),
    ('plan_sources', 'local', '4'), ('plan_sources', 'unplanned', '9'),
    -- 社会经济目标 (其他民用目标 last)
    ('socio_economic_objectives', 'environment', '01'), ('socio_economic_objectives', 'energy', '02'),
    ('socio_economic_objectives', 'health', '03'), ('socio_economic_objectives', 'education', '04'),
    ('socio_economic_objectives', 'infrastructure', '05'), ('socio_economic_objectives', 'social_development', '06'),
    ('socio_economic_objectives', 'earth_atmosphere', '07'), ('socio_economic_objectives', 'civil_space', '08'),
    ('socio_economic_objectives', 'agriculture', '09'), ('socio_economic_objectives', 'industry', '10'),
    ('socio_economic_objectives', 'non_oriented', '11'), ('socio_economic_objectives', 'defence', '12'),
    ('socio_economic_objectives', 'other_civil', '99')
) AS v(list, code, n)
WHERE c.list = v.list AND c.code = v.code;
