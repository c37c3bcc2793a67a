-- 0027_contract_filter_tags.sql — the filters of a staff search as lexemes in a GIN index
-- (issue #19, part 3).  A common word (技术, in most titles) with a narrow filter or scope — an
-- officer's office, a bureau's region subtree, a type in a region — walked the sort order with
-- LIKE until a page matched (技术, transfer, region 640300: 267,033 rows read, 1.9 s at
-- 1,000,000 contracts).  contract_search() (functions/contract_search.sql) now takes such a
-- query's candidates from this index — the posting lists of its filter lexemes intersected —
-- and rechecks the words on those, as the marketplace's search_docs.tags does for listings.
--
-- The lexemes of a contract: #o<office id>, #y<registration year>, #s<status>, #t<type> and
-- #t<subtype> (the codes of contract_types, unique across both levels), #r<region code> of the
-- seller and of the buyer; a region filter is the prefix query '#r5101':* (exactly LIKE '5101%'
-- on either code).  An index on the expression, not a column: nothing to fill or keep in step
-- (a status change, an import, a bulk load all move the index with the row), and no rewrite of
-- the 1,000,000 rows (the index alone: tens of seconds).  The function belongs here, not in the
-- function files: the index depends on it.
CREATE FUNCTION contract_filter_tags(p_office bigint, p_year smallint, p_status text, p_type text,
                                     p_subtype text, p_seller_region text, p_buyer_region text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(array_remove(ARRAY['#o' || p_office, '#y' || p_year, '#s' || p_status,
                                                 '#t' || p_type, '#t' || p_subtype,
                                                 '#r' || p_seller_region, '#r' || p_buyer_region], NULL))
$$;
COMMENT ON FUNCTION contract_filter_tags(bigint, smallint, text, text, text, text, text) IS
    'The filter lexemes of a contract (#o office, #y year, #s status, #t type and subtype, #r seller and buyer region): the expression of contracts_tags_idx.';

CREATE INDEX contracts_tags_idx ON contracts USING gin (contract_filter_tags(
    office_id, registration_year, status, contract_type, contract_subtype, seller_region_code::text,
    buyer_region_code::text));
-- the shares of its lexemes (ANALYZE keeps up to 10 x this many) for contract_tag_freq
ALTER INDEX contracts_tags_idx ALTER COLUMN 1 SET STATISTICS 1000;

-- How common each filter lexeme is, copied from the index's statistics with the tokens'
-- (contract_token_freq_refresh): a query's filters are the key of its read when they hold fewer
-- contracts than its rarest word.
CREATE TABLE contract_tag_freq (
    tag  text COLLATE "C" PRIMARY KEY,    -- "C": a region prefix ('#r51':*) is a range of the index
    freq real NOT NULL                    -- share of the contracts holding it
);
COMMENT ON TABLE contract_tag_freq IS
    'Share of contracts holding each filter lexeme (from pg_stats of contracts_tags_idx); any other is rarer than tsv_freq_stats.min_freq of source contracts_tags_idx.';

-- Up to this many contracts holding a query's filters (contract_tag_freq): its candidates are
-- read from contracts_tags_idx and its words rechecked on them.
INSERT INTO settings (key, value, description, rule) VALUES
('contract_search_tags_n', '30000',
 '合同检索：筛选条件（办理机构、年度、状态、类别、地区）覆盖的合同不超过此数量、且少于最少见检索词的合同数时，按筛选条件索引取候选再核对检索词',
 '{"min": 0, "max": 100000000}');

ANALYZE contracts;
