-- bench/contracts/index.sql — fill contracts.search_doc and search_tsv after a bulk load, with the
-- database's own tokenizer (search_norm, search_tokens, contract_search_doc: functions/), each
-- distinct title, name and credit code tokenised once.  The tokens of a document are the union of
-- its lines' tokens (a line break separates runs), so this gives what the trigger gives row by row
-- (the run's equality check compares the API with a LIKE scan of the fields).
\set ON_ERROR_STOP 1
SET work_mem = '256MB';
CREATE TEMP TABLE vals AS
    SELECT v, search_tokens(search_norm(v)) AS tok
    FROM (SELECT title AS v FROM contracts UNION SELECT seller_name FROM contracts UNION SELECT buyer_name FROM contracts
          UNION SELECT intermediary_name FROM contracts UNION SELECT seller_credit_code FROM contracts
          UNION SELECT buyer_credit_code FROM contracts) x
    WHERE v IS NOT NULL;
CREATE UNIQUE INDEX ON vals (v);
ANALYZE vals;
UPDATE contracts c SET search_doc = contract_search_doc(c),
       search_tsv = array_to_tsvector(t.tok || s.tok || b.tok || coalesce(i.tok, '{}') || coalesce(sc.tok, '{}')
                                      || coalesce(bc.tok, '{}'))
FROM vals t, vals s, vals b, contracts c2
LEFT JOIN vals i ON i.v = c2.intermediary_name
LEFT JOIN vals sc ON sc.v = c2.seller_credit_code
LEFT JOIN vals bc ON bc.v = c2.buyer_credit_code
WHERE c2.id = c.id AND t.v = c.title AND s.v = c.seller_name AND b.v = c.buyer_name AND c.search_tsv IS NULL;
