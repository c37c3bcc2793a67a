-- 0023_contract_token_freq.sql — how common each frequent token of contracts.search_tsv is
-- (issue #19, staff search at 1,000,000 contracts).  Near-universal tokens (技术, 合同, 开发 …
-- in most titles) made the GIN intersection read most of the table: contract_search()
-- (functions/contract_search.sql) now intersects only the rare tokens of a query, rarest first,
-- and rechecks the common ones with LIKE on the few candidates.  The shares come from the
-- planner's statistics (pg_stats.most_common_elems of search_tsv, up to 10,000 tokens at
-- statistics target 1000), copied by contract_token_freq_refresh() after each ANALYZE (the
-- background sweep, server/api/market_bg.c, calls it every minute).
CREATE TABLE contract_token_freq (
    token text COLLATE "C" PRIMARY KEY,   -- "C": a prefix token ('ab':*) is a range of the index
    freq  real NOT NULL                   -- share of the contracts whose search_tsv holds it
);
COMMENT ON TABLE contract_token_freq IS
    'Share of contracts holding each of the most common search tokens (from pg_stats of contracts.search_tsv); any other token is rarer than tsv_freq_stats.min_freq of source contracts.';
-- When, from how many contracts and with what bound it was copied: the row of source
-- contracts in tsv_freq_stats (0019).
