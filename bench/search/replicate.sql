-- bench/search/replicate.sql — grow the loaded listings to :copies times as many (run.sh,
-- SEARCH_COPIES).  Tokenising a listing through the triggers costs about 10 ms here, so a
-- million listings would take hours to load; instead every published result and open need
-- (and its row of search_docs, tokens and all) is copied :copies - 1 times, copy k with
-- id + k x 10,000,000 and published k microseconds later — the same day, so the same day and
-- month lexemes, and the same filters.  What that gives: a database :copies times as large
-- over the same days (:copies times as many listings a day, every term :copies times as
-- common), with the tables and the index agreeing row for row, so the stream's check against
-- a scan of the tables still holds.  What it does not give: a larger vocabulary.
--
-- Each table is copied by one INSERT ... SELECT over its own columns (read from the catalogue,
-- id and published_at shifted), its secondary indexes set aside during the copy and built
-- again after it with their own definitions (a row-by-row jsonb round trip and nine growing
-- indexes took 16 minutes for a third of the results under load; building an index once is
-- a sort).
\set ON_ERROR_STOP 1
SET session_replication_role = replica;  -- no triggers: the index rows are copied, not rebuilt
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

CREATE TEMP TABLE replicate_idx AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i
WHERE i.indrelid IN ('results'::regclass, 'needs'::regclass, 'search_docs'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT name FROM replicate_idx LOOP
        EXECUTE format('DROP INDEX %s', r.name);
    END LOOP;
END $$;

-- INSERT INTO t (cols) SELECT cols, id and published_at shifted by copy k, FROM t x k
CREATE FUNCTION pg_temp.replicate(t regclass, id_col text, copies int, extra text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    vals text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(CASE WHEN a.attname = id_col THEN format('x.%I + k * 10000000', a.attname)
                           WHEN a.attname = 'published_at' THEN 'x.published_at + k * interval ''1 microsecond'''
                           WHEN a.attname = 'item' AND extra IS NOT NULL THEN 'x.item || ' || extra
                           ELSE format('x.%I', a.attname) END, ', ' ORDER BY a.attnum)
    INTO cols, vals
    FROM pg_attribute a
    WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      AND NOT (t = 'search_docs'::regclass AND a.attname = 'sid');
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s x, generate_series(1, %s) AS k'
                   ' WHERE x.%I < 10000000', t, cols, vals, t, copies - 1, id_col);
END $$;

SELECT pg_temp.replicate('results', 'id', :copies, NULL);
SELECT pg_temp.replicate('needs', 'id', :copies, NULL);
SELECT pg_temp.replicate('search_docs', 'ref_id', :copies,
                         'jsonb_build_object(''id'', x.ref_id + k * 10000000, ''published_at'', '
                         'x.published_at + k * interval ''1 microsecond'')');

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT def FROM replicate_idx LOOP
        EXECUTE r.def;
    END LOOP;
END $$;

SELECT setval(pg_get_serial_sequence('results', 'id'), (SELECT max(id) FROM results));
SELECT setval(pg_get_serial_sequence('needs', 'id'), (SELECT max(id) FROM needs));
