-- 0013_search_count_cap.sql — a new search counts its newest 200 matches, not 1,000
-- (issue #25).  Every search people make is new to the server's cache, so each one
-- paid for reading up to search_count_cap + 1 matching rows to count them and their
-- facets: at 100,000 listings a frequent word or a filter-only browse read 1,001 rows
-- per request.  Above the cap the total is now given as an estimate (约 1.2 万条:
-- market_search, functions/search.sql), so the cap bounds the work, not what a
-- visitor learns.  A value an admin has set (updated_by) is left alone.
UPDATE settings
SET value = '200',
    description = '新检索精确计数的上限：超过时按最新 N 条的每日命中数估算总数（显示为“约 1.2 万条”），分面按最新 N 条统计',
    version = version + 1, updated_at = now()
WHERE key = 'search_count_cap' AND value = '1000' AND updated_by IS NULL;
