-- 0010_contract_search.sql — what staff search over contracts reads
-- (GET /api/v1/contracts?q=, functions/contract_search.sql).
--
-- search_doc is the normalised text a query term must be a substring of: the
-- title, the three parties' names and the seller's and buyer's credit codes,
-- one a line; search_tsv its tokens (the marketplace's tokenizer: CJK
-- characters and bigrams, word suffixes), so the GIN index finds the
-- candidates and a LIKE on search_doc settles the terms the tokens do not.
-- Both are kept by the trigger contracts_search (functions/contract_search.sql)
-- on every insert and on every change of those fields; rows that existed
-- before this migration, or were loaded with triggers off, are filled by
-- SELECT contract_search_reindex().
--
-- The registration number is found by its own index (exact, and prefix with
-- LIKE 'nnnn%'), and the sort orders of the search have theirs.

ALTER TABLE contracts
    ADD COLUMN search_doc text,
    ADD COLUMN search_tsv tsvector;
COMMENT ON COLUMN contracts.search_doc IS
    'Normalised title, party names and credit codes, one a line (search_norm): what a query term must be a substring of.';
COMMENT ON COLUMN contracts.search_tsv IS 'Tokens of search_doc (search_tokens): the candidates of a staff search.';
-- frequent tokens are known to the planner, which then walks an ordered index
-- for them instead of reading every match
ALTER TABLE contracts ALTER search_tsv SET STATISTICS 1000;

CREATE INDEX contracts_search_idx ON contracts USING gin (search_tsv);
CREATE INDEX contracts_regno_prefix_idx ON contracts (registration_no text_pattern_ops) WHERE registration_no IS NOT NULL;
CREATE INDEX contracts_amount_idx ON contracts (contract_amount_fen, id);
CREATE INDEX contracts_registered_idx ON contracts (registered_at, id) WHERE registered_at IS NOT NULL;
CREATE INDEX contracts_office_idx ON contracts (office_id, id) WHERE office_id IS NOT NULL;
