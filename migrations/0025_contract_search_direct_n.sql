-- 0025_contract_search_direct_n.sql — when staff search (functions/contract_search.sql) stops
-- reading every candidate of a query's rarest token (issue #19, part 3).  At most this many
-- contracts holding it (contract_token_freq): every candidate is read and sorted; more (a
-- middle term, 0.3-5 % of 1,000,000 contracts): in the order of ids, a window of ids at a
-- time, so a page reads about its own matches rather than up to 50,000 rows.
INSERT INTO settings (key, value, description, rule) VALUES
('contract_search_direct_n', '3000',
 '合同检索：最少见的检索词出现在不超过此数量的合同中时，一次读出全部候选再排序；更常见时按编号分段查找',
 '{"min": 1, "max": 100000000}');
