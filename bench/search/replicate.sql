-- bench/search/replicate.sql — grow the loaded listings to :copies times as many (run.sh,
-- SEARCH_COPIES).  Tokenising a listing through the triggers costs about 10 ms here, so a
-- million listings would take hours to load; instead every published result and open need
-- (and its row of search_docs, tokens and all) is copied :copies - 1 times, copy k with
-- id + k x 10,000,000 and published k microseconds later — the same day, so the same day and
-- month lexemes, and the same filters.  What that gives: a database :copies times as large
-- over the same days (:copies times as many listings a day, every term :copies times as
-- common), with the tables and the index agreeing row for row, so the stream's check against
-- a scan of the tables still holds.  What it does not give: a larger vocabulary.
\set ON_ERROR_STOP 1
SET session_replication_role = replica;  -- no triggers: the index rows are copied, not rebuilt
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

INSERT INTO results OVERRIDING SYSTEM VALUE
SELECT (jsonb_populate_record(NULL::results, to_jsonb(r) || jsonb_build_object(
           'id', r.id + k * 10000000, 'published_at', r.published_at + k * interval '1 microsecond'))).*
FROM results r, generate_series(1, :copies - 1) AS k
WHERE r.id < 10000000;

INSERT INTO needs OVERRIDING SYSTEM VALUE
SELECT (jsonb_populate_record(NULL::needs, to_jsonb(n) || jsonb_build_object(
           'id', n.id + k * 10000000, 'published_at', n.published_at + k * interval '1 microsecond'))).*
FROM needs n, generate_series(1, :copies - 1) AS k
WHERE n.id < 10000000;

INSERT INTO search_docs (kind, ref_id, org_id, head, doc, tsv, tags, domain, region_code, trl, modes, price_lo,
                         price_hi, holder_type, published_at, deadline, body, item)
SELECT s.kind, s.ref_id + k * 10000000, s.org_id, s.head, s.doc, s.tsv, s.tags, s.domain, s.region_code, s.trl,
       s.modes, s.price_lo, s.price_hi, s.holder_type, s.published_at + k * interval '1 microsecond', s.deadline,
       s.body, s.item || jsonb_build_object('id', s.ref_id + k * 10000000,
                                            'published_at', s.published_at + k * interval '1 microsecond')
FROM search_docs s, generate_series(1, :copies - 1) AS k
WHERE s.ref_id < 10000000;

SELECT setval(pg_get_serial_sequence('results', 'id'), (SELECT max(id) FROM results));
SELECT setval(pg_get_serial_sequence('needs', 'id'), (SELECT max(id) FROM needs));
