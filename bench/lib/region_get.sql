-- pgbench script: the statement yizhan prepares for GET /api/v1/codes/regions/{code}
-- (ST_REGION in server/api/codes.c), with $1 written as :code; pgbench -M prepared turns
-- :code back into $1, so PostgreSQL sees the same parameterised statement.
-- bench/run.sh normally extracts the statement from server/api/codes.c at run time
-- (bench/lib/sqlcheck.py extract); this copy is the fallback, checked against the source.
SELECT json_build_object('code', r.code, 'name', r.name, 'level', r.level, 'parent_code', r.parent_code, 'path', (SELECT json_agg(json_build_object('code', a.code, 'name', a.name) ORDER BY a.level) FROM regions a WHERE a.code IN (r.code, r.parent_code, (SELECT p.parent_code FROM regions p WHERE p.code = r.parent_code))))::text FROM regions r WHERE r.code = :code;
