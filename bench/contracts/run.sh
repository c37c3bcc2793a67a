#!/usr/bin/env bash
# bench/contracts/run.sh — staff search over contracts at scale (issue #19, part 3):
# GET /api/v1/contracts?q=… at BENCH_CONTRACTS (1,000,000) contracts.
#
# In one run, with its own throwaway PostgreSQL 15 and yizhan:
#   1. migrate, the demo data (accounts, offices), then the contracts, set-based: gen.py
#      writes the sellers (3,000, into orgs), 30,000 buyers and a pool of N/16 titles from the search
#      benchmark's vocabulary; gen.sql draws the N contracts from them with generate_series (Zipf
#      titles and parties, every status, registration numbers per office and year) in one INSERT
#      that also fills the search columns with the database's own tokenizer (search_norm,
#      search_tokens; each distinct title, name and credit code tokenised once), triggers off; the
#      GIN index built once after, then ANALYZE;
#   2. a stream of distinct staff queries (queries.py pick), 30 of each class: regno_exact,
#      regno_prefix, credit_code (whole and prefixes), party_name (parts of names), title_rare,
#      title_common (技术, 合同, 开发 … and middle terms, every sort), filtered (text with 1–3 of
#      status, year, type, region, amount range, office), later_pages (page 2 or 3 by the
#      server's cursor), officer (their office), bureau (their region);
#   3. checks that the API's answer for some text and number queries is exactly the rows a LIKE
#      scan of the fields finds (every page);
#   4. the anchor: with statement logging on, each query once, class by class; the statement the
#      server ran (ST_LIST of server/api/contracts.c) with the parameters it sent becomes a
#      pgbench script per query (bench/lib/stmts.py, as bench/run.sh does);
#   5. BENCH_REPS rounds, class by class: wrk on the class's queries (BENCH_CONNS connections,
#      BENCH_SECONDS), then pgbench on the same statements (same clients; latencies from its
#      per-transaction log);
#   6. prints medians and ratios per class and writes bench/results/contracts-<UTC>.json.
# Floor: API p99 <= 20 ms in every class (median of the rounds).  Exit 1 when it fails or a result
# set differs (BENCH_ENFORCE=0: report only).
#
# Knobs: BENCH_CONTRACTS=1000000 BENCH_CONNS=16 BENCH_SECONDS=5 BENCH_REPS=3 BENCH_WARMUP=2
#        BENCH_THREADS=2 BENCH_KEEP_TMP=0 BENCH_ENFORCE=1 YIZHAN_BIN=build/yizhan YIZHAN_THREADS=(default)
#        BENCH_PG_DIR=<dir>: keep the database there (its var/ and terms.json beside it) and, when it
#        already holds the contracts, reuse it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$BENCH_DIR/lib/common.sh"

N="${BENCH_CONTRACTS:-1000000}"
BENCH_CONNS="${BENCH_CONNS:-16}"
BENCH_SECONDS="${BENCH_SECONDS:-5}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_ENFORCE="${BENCH_ENFORCE:-1}"
BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
[ -x "$YIZHAN_BIN" ] || bench_die "build the server first (make)"
bench_ensure_tools

BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/yizhan-bench-contracts.XXXXXX")"
chmod 0755 "$BENCH_TMP"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    bench_pg_stop
    [ "${BENCH_KEEP_TMP:-0}" = 1 ] && echo "kept $BENCH_TMP" >&2 || rm -rf "$BENCH_TMP"
}
trap cleanup EXIT INT TERM

# ------------------------------------------------------------------ database and data
DATA_DIR="$BENCH_TMP"                 # var/ (the demo password) and terms.json
REUSE=0
if [ -n "${BENCH_PG_DIR:-}" ]; then
    PG_DIR="$BENCH_PG_DIR"
    DATA_DIR="$(dirname "$PG_DIR")"
    if [ -d "$PG_DIR/data" ]; then REUSE=1; bench_pg_run "$((BENCH_CONNS + 40))"; else bench_pg_start "$((BENCH_CONNS + 40))"; fi
else
    bench_pg_start "$((BENCH_CONNS + 40))"
fi
DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
PSQL=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan -X -q -v ON_ERROR_STOP=1)
cd "$ROOT"
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations" YIZHAN_WEB_ROOT="$ROOT/web" YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys" YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_VAR_DIR="$DATA_DIR/var"
"$YIZHAN_BIN" migrate >/dev/null
if [ "$REUSE" = 1 ]; then
    bench_log "reusing the database in $PG_DIR: $(bench_psql "SELECT count(*) FROM contracts") contracts"
    LOAD_S=0
else
bash deploy/demo/load.sh "$YIZHAN_BIN" >/dev/null
bench_psql "SELECT code FROM regions WHERE level = 3 ORDER BY code" >"$BENCH_TMP/regions.txt"
bench_log "generating $N contracts (bench/contracts/gen.py pools, gen.sql set-based)"
T0=$(date +%s)
"$PY" "$HERE/gen.py" --contracts "$N" --regions "$BENCH_TMP/regions.txt" \
    >"$BENCH_TMP/pools.sql"
GIN_DEF="$(bench_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'contracts_search_idx'")"
[ -n "$GIN_DEF" ] || bench_die "index contracts_search_idx not found"
bench_psql "DROP INDEX contracts_search_idx"
bench_psql "ALTER TABLE contracts DISABLE TRIGGER USER"
"${PSQL[@]}" -f "$BENCH_TMP/pools.sql" >"$BENCH_TMP/load.log" 2>&1 || { tail "$BENCH_TMP/load.log" >&2; bench_die "loading the pools failed"; }
"${PSQL[@]}" -v n="$N" -v id_base=20000000 -v seed=0.42 -v today="'$(bench_psql "SELECT today_cn()")'" \
    -f "$HERE/gen.sql" >>"$BENCH_TMP/load.log" 2>&1 || { tail "$BENCH_TMP/load.log" >&2; bench_die "gen.sql failed"; }
bench_log "loaded and tokenised in $(($(date +%s) - T0)) s; the GIN index"
bench_psql "SELECT json_build_object('contracts', $N, 'terms', json_object_agg(term, n)) FROM bench_term_counts" \
    >"$DATA_DIR/terms.json"
bench_psql "DROP TABLE bench_sellers, bench_buyers, bench_titles, bench_title_terms, bench_terms, bench_term_counts"
bench_psql "ALTER TABLE contracts ENABLE TRIGGER USER"
bench_psql "SET maintenance_work_mem = '512MB'; $GIN_DEF"
bench_psql "VACUUM ANALYZE contracts"
LOAD_S=$(($(date +%s) - T0))
bench_log "$(bench_psql "SELECT count(*) FROM contracts") contracts, searchable, in $LOAD_S s"
fi

# ------------------------------------------------------------------ server
(umask 077 && head -c 48 /dev/urandom >"$BENCH_TMP/jwt")
HTTP_PORT="$(bench_free_port)"
BASE="http://127.0.0.1:$HTTP_PORT"
YIZHAN_LISTEN="127.0.0.1:$HTTP_PORT" YIZHAN_JWT_SECRET_FILE="$BENCH_TMP/jwt" YIZHAN_LOG_LEVEL=warn \
    ${YIZHAN_THREADS:+YIZHAN_THREADS=$YIZHAN_THREADS} "$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
bench_wait_http "$BASE/readyz" 20 "$SERVER_PID" || bench_die "server did not become ready"
PW="$(cat "$DATA_DIR/var/demo-password")"
token() {
    curl -s -X POST -H 'Content-Type: application/json' -d "{\"email\":\"$1\",\"password\":\"$PW\"}" \
        "$BASE/api/v1/auth/login" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
TOKENS="$BENCH_TMP/tokens.json"
printf '{"admin": "%s", "officer": "%s", "bureau": "%s"}\n' "$(token admin@demo.yizhan.cn)" \
    "$(token officer@demo.yizhan.cn)" "$(token bureau@demo.yizhan.cn)" >"$TOKENS"

# ------------------------------------------------------------------ the stream, checked
QUERIES="$BENCH_TMP/queries.json"
"$PY" "$HERE/queries.py" pick "$DATA_DIR/terms.json" "$BASE" "$TOKENS" "${PSQL[@]}" >"$QUERIES" \
    || bench_die "picking the queries failed"
mapfile -t CLASSES < <("$PY" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["classes"]))' "$QUERIES")
"$PY" "$HERE/queries.py" check "$QUERIES" "$BASE" "$TOKENS" "${PSQL[@]}" >"$BENCH_TMP/check.txt" || CHECK_FAILED=1
cat "$BENCH_TMP/check.txt" >&2

# ------------------------------------------------------------------ the anchor's SQL
PG_LOG="$PG_DIR/postgres.log"
LOG_START="$(stat -c %s "$PG_LOG")"
bench_psql "ALTER SYSTEM SET log_min_duration_statement = 0"
bench_psql "SELECT pg_reload_conf()" >/dev/null
sleep 1
FIGS=""
for cls in "${CLASSES[@]}"; do
    bench_psql "SELECT 'yizhan-bench probe $cls'" >/dev/null
    "$PY" "$HERE/queries.py" probe "$QUERIES" "$BASE" "$TOKENS" "$cls" || bench_die "a probe request of $cls failed"
    FIGS="$FIGS${FIGS:+,}{\"name\": \"$cls\", \"statements\": [{\"src\": \"$ROOT/server/api/contracts.c\", \"var\": \"ST_LIST\"}], \"pick\": \"all\"}"
done
bench_psql "SELECT 'yizhan-bench probe end'" >/dev/null
bench_psql "ALTER SYSTEM RESET log_min_duration_statement"
bench_psql "SELECT pg_reload_conf()" >/dev/null
PGB="$BENCH_TMP/pgbench"
echo "{\"figures\": [$FIGS]}" >"$BENCH_TMP/capture.json"
"$PY" "$BENCH_DIR/lib/stmts.py" capture "$PG_LOG" "$LOG_START" "$BENCH_TMP/capture.json" "$PGB" \
    || bench_die "the anchor's statement could not be taken from the source and the server's log"
bench_log "pgbench: $(find "$PGB" -name '*.sql' | wc -l) scripts, the server's statement with the parameters of each query"

# ------------------------------------------------------------------ runs
RAW="$BENCH_TMP/raw.jsonl"
: >"$RAW"
OUT="$BENCH_TMP/out.txt"
run_wrk() {  # RUN SECONDS CLASS
    "$PY" "$HERE/queries.py" lua "$QUERIES" "$TOKENS" "$3" >"$BENCH_TMP/mix.lua"
    timeout -k 5 "$(($2 + 60))" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$2s" --timeout 10s --latency \
        -s "$BENCH_TMP/mix.lua" "$BASE" >"$OUT" 2>&1 || { cat "$OUT" >&2; bench_die "wrk failed"; }
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during the run"
    [ "$1" -gt 0 ] || return 0
    "$PY" "$BENCH_DIR/lib/parse.py" wrk "$OUT" figure=api class="$3" run="$1" >>"$RAW"
    bench_log "  $(printf '%-13s' "$3") api     run $1: $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%8.0f req/s  p50 %s ms  p99 %s ms  non-2xx %s" % (r["rps"], r.get("p50_ms"), r.get("p99_ms"), r.get("non_2xx")))')"
}
run_pgbench() {  # RUN SECONDS CLASS
    local dir="$BENCH_TMP/pgb-$1-$3" args=() l f
    rm -rf "$dir"
    mkdir -p "$dir"
    while IFS= read -r l; do args+=(-D "$l"); done <"$PGB/$3.vars"
    for f in "$PGB/$3"-*.sql "$PGB/$3.sql"; do [ -f "$f" ] && args+=(-f "$f"); done
    (cd "$dir" && PGOPTIONS="-c TimeZone=UTC -c role=yizhan_app" timeout -k 5 "$(($2 + 60))" "$PG_BIN/pgbench" -n \
        -M prepared -c "$BENCH_CONNS" -j "$BENCH_THREADS" -T "$2" -l "${args[@]}" -h "$PG_DIR" -p "$PG_PORT" \
        -U postgres yizhan) >"$OUT" 2>&1 || { cat "$OUT" >&2; bench_die "pgbench failed"; }
    [ "$1" -gt 0 ] || return 0
    "$PY" "$BENCH_DIR/lib/parse.py" pgblog "$dir" "$OUT" figure=pgbench class="$3" run="$1" >>"$RAW"
    bench_log "  $(printf '%-13s' "$3") pgbench run $1: $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%8.0f tps    p50 %s ms  p99 %s ms  failed %s" % (r["rps"], r["p50_ms"], r["p99_ms"], r["failed"]))')"
    rm -rf "$dir"
}
if [ "$BENCH_WARMUP" -gt 0 ]; then
    for cls in "${CLASSES[@]}"; do run_wrk 0 "$BENCH_WARMUP" "$cls"; done
fi
for ((run = 1; run <= BENCH_REPS; run++)); do
    for cls in "${CLASSES[@]}"; do
        run_wrk "$run" "$BENCH_SECONDS" "$cls"
        run_pgbench "$run" "$BENCH_SECONDS" "$cls"
    done
done

# ------------------------------------------------------------------ report
mkdir -p "$BENCH_RESULTS_DIR"
RESULT="$BENCH_RESULTS_DIR/contracts-$STAMP.json"
status=0
"$PY" "$HERE/queries.py" report "$RAW" "$QUERIES" "$RESULT" "$N" "$BENCH_CONNS" "$BENCH_SECONDS" "$LOADAVG_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "${CHECK_FAILED:-0}" || status=$?
if [ "$status" -ne 0 ] && [ "$BENCH_ENFORCE" != 1 ]; then bench_log "floor not met (BENCH_ENFORCE=0: exit 0)"; status=0; fi
exit "$status"
