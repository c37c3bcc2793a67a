-- 0004_calendar.sql — the working-day calendar (工作日历): its rows.
--
-- Only exceptions are stored: public-holiday days off (kind 'holiday', including the
-- weekend days inside a holiday block) and weekend days that are working days
-- (调休上班, kind 'workday'). Any other day is a working day iff it is Monday–Friday.
-- Years not listed here fall back to the plain Monday–Friday rule: an admin adds each
-- new year's rows when the State Council publishes its notice (usually in November).
--
-- The table is in 0001_baseline.sql; is_working_day(), add_working_days() and
-- working_days_between() in functions/core.sql.
--
-- Sources: 国务院办公厅关于…部分节假日安排的通知
--   2024: 国办发明电〔2023〕7号
--   2025: 国办发明电〔2024〕12号 (first year under the revised 《全国年节及纪念日放假办法》:
--         春节 includes 除夕, 劳动节 two statutory days)
--   2026: 国办发明电〔2025〕7号 — transcribed from memory of the notice, not checked
--         against the published text here; verify before relying on 2026 deadlines.

INSERT INTO calendar_days (day, kind, name)
SELECT d::date, 'holiday', h.name
FROM (VALUES
    -- 2024
    ('2024-01-01', '2024-01-01', '元旦'),
    ('2024-02-10', '2024-02-17', '春节'),
    ('2024-04-04', '2024-04-06', '清明节'),
    ('2024-05-01', '2024-05-05', '劳动节'),
    ('2024-06-10', '2024-06-10', '端午节'),
    ('2024-09-15', '2024-09-17', '中秋节'),
    ('2024-10-01', '2024-10-07', '国庆节'),
    -- 2025
    ('2025-01-01', '2025-01-01', '元旦'),
    ('2025-01-28', '2025-02-04', '春节'),
    ('2025-04-04', '2025-04-06', '清明节'),
    ('2025-05-01', '2025-05-05', '劳动节'),
    ('2025-05-31', '2025-06-02', '端午节'),
    ('2025-10-01', '2025-10-08', '国庆节、中秋节'),
    -- 2026 (see the note above)
    ('2026-01-01', '2026-01-03', '元旦'),
    ('2026-02-15', '2026-02-23', '春节'),
    ('2026-04-04', '2026-04-06', '清明节'),
    ('2026-05-01', '2026-05-05', '劳动节'),
    ('2026-06-19', '2026-06-21', '端午节'),
    ('2026-09-25', '2026-09-27', '中秋节'),
    ('2026-10-01', '2026-10-07', '国庆节'),
    -- 2027 (provisional, calendar_years in 0009): the statutory holidays of
    -- 《全国年节及纪念日放假办法》 (as revised in 2024: 元旦 1 day, 春节 4 days from
    -- 除夕 to 初三, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3), with the lunar dates of
    -- 2027: 除夕 2027-02-05 (初一 2027-02-06, 初三 2027-02-08), 清明 (the solar term)
    -- 2027-04-05, 端午 (五月初五) 2027-06-09, 中秋 (八月十五) 2027-09-15.  No 调休
    -- days: those come with the State Council's notice, which an admin enters when
    -- confirming the year.
    ('2027-01-01', '2027-01-01', '元旦'),
    ('2027-02-05', '2027-02-08', '春节'),
    ('2027-04-05', '2027-04-05', '清明节'),
    ('2027-05-01', '2027-05-02', '劳动节'),
    ('2027-06-09', '2027-06-09', '端午节'),
    ('2027-09-15', '2027-09-15', '中秋节'),
    ('2027-10-01', '2027-10-03', '国庆节')
) AS h(first_day, last_day, name),
LATERAL generate_series(h.first_day::date, h.last_day::date, interval '1 day') AS d;

INSERT INTO calendar_days (day, kind, name) VALUES
    -- 2024
    ('2024-02-04', 'workday', '春节调休上班'),
    ('2024-02-18', 'workday', '春节调休上班'),
    ('2024-04-07', 'workday', '清明节调休上班'),
    ('2024-04-28', 'workday', '劳动节调休上班'),
    ('2024-05-11', 'workday', '劳动节调休上班'),
    ('2024-09-14', 'workday', '中秋节调休上班'),
    ('2024-09-29', 'workday', '国庆节调休上班'),
    ('2024-10-12', 'workday', '国庆节调休上班'),
    -- 2025
    ('2025-01-26', 'workday', '春节调休上班'),
    ('2025-02-08', 'workday', '春节调休上班'),
    ('2025-04-27', 'workday', '劳动节调休上班'),
    ('2025-09-28', 'workday', '国庆节、中秋节调休上班'),
    ('2025-10-11', 'workday', '国庆节、中秋节调休上班'),
    -- 2026 (see the note above)
    ('2026-01-04', 'workday', '元旦调休上班'),
    ('2026-02-14', 'workday', '春节调休上班'),
    ('2026-02-28', 'workday', '春节调休上班'),
    ('2026-05-09', 'workday', '劳动节调休上班'),
    ('2026-09-20', 'workday', '国庆节调休上班'),
    ('2026-10-10', 'workday', '国庆节调休上班');

