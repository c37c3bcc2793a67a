-- 0026_search_recent_cover.sql — the recency index of search_docs carries what a browse tests
-- and counts (issue #23).  A filter-only browse walks the newest listings testing each one's
-- filter lexemes (search_collect, up to search_browse_scan rows): through the plain index on
-- (published_at, sid) that was one heap page a row (the heap is not in publication order), 2,062
-- buffers for 3,000 rows at 100,000 listings; with the filter columns in the index it is an
-- index-only scan, 121 buffers.  Same keys, so it serves every other use of the old index.
CREATE INDEX search_docs_recent_cover_idx ON search_docs (published_at DESC, sid DESC)
    INCLUDE (tags, kind, domain, region_code, trl, modes, holder_type, price_lo, price_hi, deadline);
DROP INDEX search_docs_recent_idx;
