-- 0024_contract_regno_ids.sql — a registration number prefix finds its contracts' ids in the index
-- alone (issue #19, staff search at 1,000,000 contracts).  contract_search() reads the ids of a
-- prefix before the page (up to 20,001); without id in the index each came from the heap, one
-- block a row: 410 ms for the 25,782 contracts of 20185119.  With INCLUDE (id) and the table
-- vacuumed, an index-only scan.
DROP INDEX contracts_regno_prefix_idx;
CREATE INDEX contracts_regno_prefix_idx ON contracts (registration_no text_pattern_ops) INCLUDE (id)
    WHERE registration_no IS NOT NULL;
