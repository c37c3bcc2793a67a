-- 0009_regulations_editable.sql — the calendar of each year with its status
-- (provisional until an admin confirms it from the State Council's notice)
-- and what an admin's edit of the calendar,
-- the settings and the code lists records: who, when, which version, and the
-- source cited (the audit log keeps every change with its before and after).
--
-- The functions that edit them are in functions/regulation.sql; the working-
-- day functions and the deadline of an application in functions/core.sql and
-- functions/contracts.sql.

------------------------------------------------------------------------------
-- The calendar of a year
------------------------------------------------------------------------------

-- A year is 'confirmed' when its holidays and 调休 days were entered from the
-- State Council's notice (国务院办公厅关于某年部分节假日安排的通知, usually
-- published in November of the year before); until then it is 'provisional'
-- and a year without a row is treated the same.  A review deadline that runs
-- into a provisional year is counted on Monday–Friday less the statutory
-- holidays seeded for it, and flagged (contracts.calendar_provisional).
CREATE TABLE calendar_years (
    year         smallint PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    status       text NOT NULL CHECK (status IN ('provisional', 'confirmed')),
    source       text NOT NULL CHECK (btrim(source) <> '' AND char_length(source) <= 500),
    note         text CHECK (char_length(note) <= 1000),
    confirmed_at timestamptz,
    confirmed_by bigint REFERENCES users (id),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   bigint REFERENCES users (id),
    version      integer NOT NULL DEFAULT 1,
    CONSTRAINT calendar_years_confirmed_has_time CHECK ((status = 'confirmed') = (confirmed_at IS NOT NULL))
);
COMMENT ON TABLE calendar_years IS
    'Status of each year''s working-day calendar: confirmed from the State Council''s notice, or provisional (statutory holidays only, no 调休).';
COMMENT ON COLUMN calendar_years.source IS 'The document the year''s rows were taken from (notice number and date, or the statutory rule for a provisional year).';

INSERT INTO calendar_years (year, status, source, confirmed_at) VALUES
    (2024, 'confirmed', '国务院办公厅关于2024年部分节假日安排的通知（国办发明电〔2023〕7号）', now()),
    (2025, 'confirmed', '国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）', now()),
    -- checked day by day against the notice as published by Xinhua on 2025-11-04
    (2026, 'confirmed', '国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号，2025年11月4日）', now());

-- 2027: provisional, its statutory holidays only (rows in 0004_calendar.sql).
INSERT INTO calendar_years (year, status, source, note) VALUES
    (2027, 'provisional', '《全国年节及纪念日放假办法》（2024年11月修订）第二条规定的全体公民法定节日；农历日期按2027年农历推算',
     '仅含法定节日，尚无调休安排：待国务院办公厅发布2027年部分节假日安排的通知后，由管理员录入调休并确认');

------------------------------------------------------------------------------
-- Contracts: how their review deadline was counted
------------------------------------------------------------------------------

-- review_days: the working days the deadline was counted with at submission
-- (15, or 30 for expert review), so it can be counted again when an admin
-- changes the calendar.  calendar_provisional: the deadline runs into a year
-- whose calendar is not confirmed.
ALTER TABLE contracts
    ADD COLUMN review_days smallint CHECK (review_days BETWEEN 1 AND 365),
    ADD COLUMN calendar_provisional boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN contracts.review_days IS 'Working days of the review time limit the deadline (due_on) was counted with.';
COMMENT ON COLUMN contracts.calendar_provisional IS 'due_on runs into a year whose calendar is not confirmed: counted on weekdays less the statutory holidays, to be recounted when the year is confirmed.';
CREATE INDEX contracts_provisional_idx ON contracts (office_id) WHERE status = 'submitted' AND calendar_provisional;

------------------------------------------------------------------------------
-- Settings and code lists: versions and sources
------------------------------------------------------------------------------

-- rule: what a new value must satisfy beyond keeping the value's JSON shape
-- (functions/regulation.sql, setting_check): {"min": n, "max": n} bounds
-- every integer in it; {"list": "<code list>"} makes every string a code of
-- that list.
ALTER TABLE settings
    ADD COLUMN rule jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rule) = 'object'),
    ADD COLUMN source text CHECK (char_length(source) <= 500),
    ADD COLUMN updated_by bigint REFERENCES users (id),
    ADD COLUMN version integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN settings.source IS 'The regulation or decision the current value comes from, as cited by the admin who set it.';

UPDATE settings SET rule = r.rule::jsonb FROM (VALUES
    ('review_days_normal',          '{"min": 1, "max": 120}'),
    ('review_days_expert',          '{"min": 1, "max": 240}'),
    ('expert_review_threshold_fen', '{"min": 0, "max": 100000000000000}'),
    ('integrity_subsidy_thresholds_fen', '{"min": 0, "max": 100000000000000}'),
    ('integrity_margin_pct',        '{"min": 0, "max": 100}'),
    ('integrity_split_window_days', '{"min": 1, "max": 3650}'),
    ('attachment_max_bytes',        '{"min": 1024, "max": 104857600}'),
    ('notice_period_days',          '{"min": 1, "max": 365}'),
    ('inquiry_inactivity_days',     '{"min": 1, "max": 3650}'),
    ('auction_min_duration_s',      '{"min": 1, "max": 86400}'),
    ('auction_max_duration_days',   '{"min": 1, "max": 3650}'),
    ('cit_exempt_threshold_fen',    '{"min": 0, "max": 100000000000000}'),
    ('subsidy_government_funded_plan_sources', '{"list": "plan_sources"}'),
    ('tax_vat_rate_bp',             '{"min": 0, "max": 10000}'),
    ('tax_cit_rate_bp',             '{"min": 0, "max": 10000}'),
    ('tax_cit_excluded_org_types',  '{"list": "org_types"}'),
    ('refresh_token_days',          '{"min": 1, "max": 365}'),
    ('login_limit_per_ip',          '{"min": 1, "max": 1000000}'),
    ('login_limit_per_account',     '{"min": 1, "max": 1000000}'),
    ('register_limit_per_ip',       '{"min": 1, "max": 1000000}'),
    ('invitation_days',             '{"min": 1, "max": 365}'),
    ('idempotency_ttl_h',           '{"min": 1, "max": 8760}'),
    ('search_count_cap',            '{"min": 1, "max": 100000}'),
    ('search_stats_ttl_s',          '{"min": 0, "max": 3600}'),
    ('match_limit',                 '{"min": 1, "max": 100}'),
    ('match_weights',               '{"min": 0, "max": 1000}'),
    ('match_candidates_per_term',   '{"min": 1, "max": 10000}'),
    ('subscriptions_per_user_max',  '{"min": 0, "max": 10000}'),
    ('webhook_backoff_base_s',      '{"min": 1, "max": 86400}'),
    ('webhook_backoff_max_s',       '{"min": 1, "max": 604800}'),
    ('webhook_max_attempts',        '{"min": 1, "max": 100}'),
    ('webhook_timeout_ms',          '{"min": 100, "max": 60000}')
) AS r(key, rule)
WHERE settings.key = r.key;

ALTER TABLE codes
    ADD COLUMN source text CHECK (char_length(source) <= 500),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_by bigint REFERENCES users (id),
    ADD COLUMN version integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN codes.source IS 'The regulation or standard the code and its label come from, as cited by the admin who last changed it.';

-- What the admin's screens show is Chinese only: three descriptions named a
-- column or a code list, or carried English.
UPDATE settings SET description = '刷新令牌有效天数' WHERE key = 'refresh_token_days';
UPDATE settings SET description = '后补助排除“已享受财政资金补贴的项目”时视为财政资助的计划来源'
 WHERE key = 'subsidy_government_funded_plan_sources';
UPDATE code_lists SET description = '两级：类别与其下的子类别；登记时记录子类别。' WHERE list = 'contract_types';
