#!/usr/bin/env bash
# bench/stats/run.sh — statistics at scale (issue 7):
#   * generates BENCH_CONTRACTS (default 1,000,000) registered contracts,
#   * measures GET /api/v1/stats/contracts latency (p50/p99) at 16 connections
#     over a mix of national, province, city and county queries of every kind,
#   * compares every figure the API gives with a direct aggregate over the
#     contracts table in the same run (they must be equal).
# Floor: p99 ≤ 50 ms.  Prints a table and writes bench/results/stats-<UTC>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib/common.sh
. "$ROOT/bench/lib/common.sh"
N="${BENCH_CONTRACTS:-1000000}"
SECS="${BENCH_SECONDS:-10}"
CONNS="${BENCH_STATS_CONNS:-16}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
[ -x "$YIZHAN_BIN" ] || bench_die "build the server first (make)"
bench_ensure_tools
BENCH_TMP="$(mktemp -d /tmp/yizhan-bench-stats.XXXXXX)"
chmod 0755 "$BENCH_TMP"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    bench_pg_stop
    [ "${BENCH_KEEP_TMP:-0}" = 1 ] || rm -rf "$BENCH_TMP"
}
trap cleanup EXIT INT TERM
bench_pg_start 100
DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
PSQL=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan)
cd "$ROOT"
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations" YIZHAN_WEB_ROOT="$ROOT/web" YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys" YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_VAR_DIR="$BENCH_TMP/var"
"$YIZHAN_BIN" migrate >/dev/null
bash deploy/demo/load.sh "$YIZHAN_BIN" >/dev/null
bench_log "generating $N contracts"
t0=$(date +%s)
"${PSQL[@]}" -X -q -v n="$N" -f bench/stats/generate.sql >/dev/null
bench_log "generated and aggregated in $(( $(date +%s) - t0 )) s: $("${PSQL[@]}" -XAtc "SELECT count(*) FROM contracts WHERE status='registered'") registered contracts, $("${PSQL[@]}" -XAtc "SELECT count(*) FROM contract_stats") aggregate rows"
head -c 48 /dev/urandom >"$BENCH_TMP/jwt"
HTTP_PORT="$(bench_free_port)"
YIZHAN_LISTEN="127.0.0.1:$HTTP_PORT" YIZHAN_THREADS="${YIZHAN_THREADS:-2}" YIZHAN_JWT_SECRET_FILE="$BENCH_TMP/jwt" \
    YIZHAN_LOG_LEVEL=warn "$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$HTTP_PORT"
bench_wait_http "$BASE/readyz" 20 "$SERVER_PID" || bench_die "server did not become ready"
PW="$(cat "$BENCH_TMP/var/demo-password")"
TOKEN="$(curl -s -X POST -H 'Content-Type: application/json' \
    -d "{\"email\":\"admin@demo.yizhan.cn\",\"password\":\"$PW\"}" "$BASE/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

# The query mix: every dimension, every level, both flows.
QUERIES="$BENCH_TMP/queries.txt"
{
    for by in type subtype domain seller_type buyer_type seller_category buyer_category ip_type plan_source \
        socio_economic_objective region partner month quarter; do
        echo "000000 2016 out $by"
        echo "510000 2017 in $by"
        echo "511900 2018 out $by"
    done
    echo "511902 2019 out type"
    echo "430000 2015 in region"
    echo "500000 2014 out region"
} >"$QUERIES"
LUA="$BENCH_TMP/mix.lua"
{
    echo "local paths = {"
    while read -r region year flow by; do
        echo "  \"/api/v1/stats/contracts?region=$region&year=$year&flow=$flow&by=$by\","
    done <"$QUERIES"
    echo "}"
    echo "local i = 0"
    echo "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i], {['Authorization'] = 'Bearer $TOKEN'}) end"
    echo "done = function(summary, latency, requests) io.write(string.format('non2xx %d\n', summary.errors.status)) end"
} >"$LUA"
wrk -t2 -c"$CONNS" -d2s -s "$LUA" "$BASE" >/dev/null 2>&1 || true   # warm-up
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$BASE" >"$BENCH_TMP/wrk.txt" 2>&1
p50=$(awk '$1=="50%"{print $2}' "$BENCH_TMP/wrk.txt"); p99=$(awk '$1=="99%"{print $2}' "$BENCH_TMP/wrk.txt")
rps=$(awk '/Requests\/sec/{print $2}' "$BENCH_TMP/wrk.txt"); non2xx=$(awk '/^non2xx/{print $2}' "$BENCH_TMP/wrk.txt")
to_ms() { python3 -c "import sys; v=sys.argv[1]; print(float(v[:-2]) if v.endswith('ms') else float(v[:-2])/1000 if v.endswith('us') else float(v[:-1])*1000)" "$1"; }
p50ms=$(to_ms "$p50"); p99ms=$(to_ms "$p99")

bench_log "comparing every figure with a direct aggregate over contracts"
set +e
python3 bench/stats/compare.py "$BASE" "$TOKEN" "${PSQL[@]}" <"$QUERIES" >"$BENCH_TMP/compare.txt"
cmp_rc=$?
set -e
echo
echo "== statistics at $("${PSQL[@]}" -XAtc "SELECT count(*) FROM contracts WHERE status='registered'") registered contracts, $CONNS connections, ${SECS}s =="
printf '%-40s %s\n' "requests/s" "$rps" "latency p50" "${p50ms} ms" "latency p99" "${p99ms} ms (floor ≤ 50 ms)" "non-2xx" "${non2xx:-0}"
echo
cat "$BENCH_TMP/compare.txt"
pass=1
python3 -c "import sys; sys.exit(0 if float('$p99ms') <= 50 else 1)" || pass=0
[ "$cmp_rc" = 0 ] || pass=0
[ "${non2xx:-0}" = 0 ] || pass=0
mkdir -p "$ROOT/bench/results"
python3 - "$ROOT/bench/results/stats-$(date -u +%Y%m%dT%H%M%SZ).json" <<PY
import json, sys
json.dump({"contracts": $N, "connections": $CONNS, "seconds": $SECS, "rps": float("$rps"), "p50_ms": $p50ms,
           "p99_ms": $p99ms, "non2xx": int("${non2xx:-0}"), "figures_equal": $cmp_rc == 0,
           "pass": bool($pass)}, open(sys.argv[1], "w"), indent=2)
PY
echo
[ "$pass" = 1 ] && echo "overall: PASS" || { echo "overall: FAIL"; [ "${BENCH_ENFORCE:-1}" = 0 ] || exit 1; }
