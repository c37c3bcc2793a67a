-- 0012_contract_region_scope.sql — the bureau's scope of a contract search
-- (functions/contract_search.sql: registered or cancelled, seller or buyer in
-- the region's subtree, written as region_code::text LIKE '5119%') read from
-- an index instead of from the whole table.  At 1,000,000 contracts the
-- demo bureau's region held 3,190 of them; its search for 关键技术 read the
-- 141,646 rows the term's tokens gave and took 4.5 s (load 20), with these
-- indexes 0.38 s (EXPLAIN ANALYZE).
CREATE INDEX contracts_seller_region_idx ON contracts ((seller_region_code::text) text_pattern_ops, id)
    WHERE status IN ('registered', 'cancelled');
CREATE INDEX contracts_buyer_region_idx ON contracts ((buyer_region_code::text) text_pattern_ops, id)
    WHERE status IN ('registered', 'cancelled');
