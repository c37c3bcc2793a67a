-- 0019_search_tags.sql — the filter lexemes of a listing in a small column of their own
-- (issues #23, #25).  A filter-only browse (domain=…&kind=result, no text) was answered
-- from the GIN index: day windows of the filter lexemes walked back from today, ending in
-- a bitmap of every match when the newest matches are sparse.  search_collect now walks
-- the recency index (published_at, sid) instead, testing each row's filter lexemes here —
-- a few dozen bytes kept in the row, where tsv (TOASTed, kilobytes) would have to be
-- detoasted per row.  tags holds exactly the '#…' lexemes of tsv (kind, domain, region
-- prefixes, TRL, holder type and its parent, modes), so `tags @@ q` and `tsv @@ q` agree
-- for a query of filter lexemes only.  search_doc_put (functions/search.sql) fills it.
ALTER TABLE search_docs ADD COLUMN tags tsvector NOT NULL DEFAULT ''::tsvector;
ALTER TABLE search_docs ALTER tags SET STORAGE MAIN;
COMMENT ON COLUMN search_docs.tags IS
    'The filter lexemes of tsv (those starting with #), kept small and in the row: a filter-only browse tests them row by row while walking the recency index.';
UPDATE search_docs
SET tags = array_to_tsvector(ARRAY(SELECT l FROM unnest(tsvector_to_array(tsv)) l WHERE l LIKE '#%'));

-- How many listings a browse walks (newest first) before it turns to the GIN index: with the
-- count's 201 rows that is a filter matching 1 listing in 15 or more (domain=…&kind=result);
-- rarer filters are found faster through the index.
INSERT INTO settings (key, value, description, rule) VALUES
('search_browse_scan', '3000',
 '只按条件浏览（无关键词）时，按发布时间从新到旧逐条检查的最多条数；超过仍不足一页则改用索引按日查找',
 '{"min": 1, "max": 1000000}');

-- The frequency of the most common lexemes of search_docs.tsv, copied from the planner's
-- statistics (pg_stats.most_common_elems, up to 10,000 lexemes at statistics target 1000) by
-- search_lexeme_freq_refresh() (functions/search.sql; the background sweep calls it every
-- minute, and it copies only after a new ANALYZE).  A new search bounds its matches by its
-- rarest lexeme: one query takes every match of a rare term, and the day windows of a
-- frequent one start at the right size instead of growing from one day.
CREATE TABLE search_lexeme_freq (
    lexeme text PRIMARY KEY,
    freq   real NOT NULL              -- share of the listings whose tsv holds the lexeme
);
COMMENT ON TABLE search_lexeme_freq IS
    'Share of listings holding each of the most common search lexemes (from pg_stats of search_docs.tsv); any other lexeme is rarer than tsv_freq_stats.min_freq of source search_docs.';
-- One row per table whose tsvector shares are copied (tsv_freq_refresh, functions/core.sql):
-- search_docs here, contracts in 0023.
CREATE TABLE tsv_freq_stats (
    source      text PRIMARY KEY,     -- the table the shares are of
    analyzed_at timestamptz NOT NULL, -- the ANALYZE of that table the shares come from
    n_docs      bigint NOT NULL,      -- its rows at that time
    min_freq    real NOT NULL         -- an element its share table does not list is rarer than this
);
COMMENT ON TABLE tsv_freq_stats IS
    'When the shares of a table''s tsvector elements were copied (search_lexeme_freq for search_docs, contract_token_freq for contracts), from how many rows, and the bound for elements not listed.';
