#!/usr/bin/env bash
# bench/run.sh — the performance benchmark (issue #10), run by `make bench` or
# standalone from anywhere: `bash bench/run.sh`.  bench/README.md explains it.
#
# In one run, on this machine, with every anchor measured in the same run:
#   1. a throwaway PostgreSQL 15 with the schema, the demo accounts and generated
#      data (100,000 published results + 20,000 needs, 1,000,000 registered
#      contracts, pools of submitted contracts: bench/lib/data.sh);
#   2. yizhan (ulimit -n raised) and nginx (a fixed 200) on 127.0.0.1;
#   3. one probe request per figure with statement logging on: the statements the
#      server ran must be the ones in the C source, and the parameters it sent
#      become the pgbench scripts' (bench/lib/stmts.py);
#   4. for each of BENCH_CONNS, BENCH_REPS rounds of every figure, interleaved:
#        nginx /livez | yizhan /livez | region GET | pgbench region SQL |
#        result GET | pgbench result SQL | search | pgbench search SQL |
#        POST /results | pgbench LOAD_USER + create | register | pgbench LOAD_USER + register
#      with the server's CPU time (/proc/<pid>/stat) per run and its RSS sampled
#      every second throughout;
#   5. BENCH_HIGH_CONNS (1,024): nginx and the result GET, errors and timeouts;
#      the year-end rush (issue #23): a mix of public, member and officer requests at
#      BENCH_RUSH_CONNS (256) against pgbench running the same statements, same weights;
#   6. a soak of BENCH_SOAK_SECONDS with a mix of every endpoint: RSS growth;
#   7. one table of figures, ratios and floors; bench/results/perf-<UTC>.json.
# Everything it starts is stopped, and its temp dir removed, on exit.
#
# Knobs (environment; bench/README.md has the full table):
#   BENCH_CONNS="64 256"  BENCH_REPS=3  BENCH_SECONDS=10  BENCH_WARMUP=2  BENCH_THREADS=2
#   BENCH_HIGH_CONNS=1024 (empty: skip)  BENCH_SOAK_SECONDS=600 (0: skip)  BENCH_SOAK_CONNS=256
#   BENCH_QUICK=1 (a smoke run of a few minutes: small data, 64 connections, 1 x 3 s, no soak)
#   BENCH_FIGURES="livez region result gzip peer search create register rush stream"  (a subset, for work on one figure)
#   BENCH_RUSH_CONNS=256  BENCH_PERF=0 (1: perf record -a during the first result GET run of each round)
#   BENCH_RESULTS=100000 BENCH_NEEDS=20000 BENCH_CONTRACTS=1000000 BENCH_REGISTER_POOL=20000
#   BENCH_DATA_CACHE=DIR (keep and reuse the generated cluster)  BENCH_ENFORCE=1  BENCH_KEEP_TMP=0
#   BENCH_RESULTS_DIR=bench/results  YIZHAN_BIN=build/yizhan  YIZHAN_THREADS=0 (the server's default)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"

BENCH_QUICK="${BENCH_QUICK:-0}"
if [ "$BENCH_QUICK" = 1 ]; then
    : "${BENCH_CONNS:=64}" "${BENCH_REPS:=1}" "${BENCH_SECONDS:=3}" "${BENCH_WARMUP:=1}" "${BENCH_SOAK_SECONDS:=0}"
    : "${BENCH_RESULTS:=3000}" "${BENCH_NEEDS:=600}" "${BENCH_CONTRACTS:=20000}" "${BENCH_REGISTER_POOL:=3000}"
    : "${BENCH_SEARCH_QUERIES:=8}"
fi
BENCH_CONNS="${BENCH_CONNS-64 256}"
BENCH_HIGH_CONNS="${BENCH_HIGH_CONNS-1024}"
BENCH_SECONDS="${BENCH_SECONDS:-10}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_SOAK_SECONDS="${BENCH_SOAK_SECONDS:-600}"
BENCH_SOAK_CONNS="${BENCH_SOAK_CONNS:-256}"
BENCH_SOAK_WARMUP="${BENCH_SOAK_WARMUP:-60}"
BENCH_SLOW_TIMEOUT="${BENCH_SLOW_TIMEOUT:-60}"
BENCH_SEARCH_QUERIES="${BENCH_SEARCH_QUERIES:-24}"
BENCH_FIGURES="${BENCH_FIGURES:-livez region result gzip peer search create register rush stream}"
BENCH_RUSH_CONNS="${BENCH_RUSH_CONNS:-256}"
BENCH_RUSH_RATES="${BENCH_RUSH_RATES:-users:2 max:0.5 max:0.7}"
BENCH_RESULT_IDS="${BENCH_RESULT_IDS:-uniform}"
BENCH_REGION_CODE="${BENCH_REGION_CODE:-511900}"
BENCH_SQL_STMT="${BENCH_SQL_STMT:-ST_REGION}"
BENCH_MEMBER_EMAIL="${BENCH_MEMBER_EMAIL:-univ@demo.yizhan.cn}"
BENCH_ENFORCE="${BENCH_ENFORCE:-1}"
BENCH_KEEP_TMP="${BENCH_KEEP_TMP:-0}"
BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
YIZHAN_THREADS="${YIZHAN_THREADS:-0}"
YIZHAN_QUERY_TIMEOUT_MS="${YIZHAN_QUERY_TIMEOUT_MS:-5000}"
# shellcheck source-path=SCRIPTDIR source=lib/data.sh
. "$BENCH_DIR/lib/data.sh"

for v in BENCH_SECONDS BENCH_REPS BENCH_WARMUP BENCH_THREADS BENCH_SOAK_SECONDS BENCH_SOAK_CONNS BENCH_SOAK_WARMUP \
    BENCH_SLOW_TIMEOUT BENCH_SEARCH_QUERIES YIZHAN_THREADS BENCH_RESULTS BENCH_NEEDS BENCH_CONTRACTS \
    BENCH_REGISTER_POOL YIZHAN_QUERY_TIMEOUT_MS BENCH_RUSH_CONNS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bench_die "$v must be a whole number, not '${!v}'"
done
if [ "$BENCH_SECONDS" -lt 1 ] || [ "$BENCH_REPS" -lt 1 ] || [ "$BENCH_THREADS" -lt 1 ]; then
    bench_die "BENCH_SECONDS, BENCH_REPS and BENCH_THREADS must be at least 1"
fi
[ "$BENCH_RESULTS" -ge 100 ] || bench_die "BENCH_RESULTS must be at least 100"
read -r -a CONNS_LIST <<<"$BENCH_CONNS"
read -r -a HIGH_LIST <<<"$BENCH_HIGH_CONNS"
read -r -a FIG_LIST <<<"$BENCH_FIGURES"
[ "${#CONNS_LIST[@]}" -ge 1 ] || [ "$BENCH_SOAK_SECONDS" -gt 0 ] || bench_die "BENCH_CONNS is empty (and there is no soak)"
MAX_CONNS=0
for c in "${CONNS_LIST[@]}" "${HIGH_LIST[@]}"; do
    if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -lt "$BENCH_THREADS" ]; then
        bench_die "BENCH_CONNS / BENCH_HIGH_CONNS entries must be numbers >= BENCH_THREADS ($BENCH_THREADS), not '$c'"
    fi
done
for c in "${CONNS_LIST[@]}"; do if [ "$c" -gt "$MAX_CONNS" ]; then MAX_CONNS="$c"; fi; done
for f in "${FIG_LIST[@]}"; do
    case "$f" in livez | region | result | gzip | peer | search | create | register | rush | stream) ;;
    *) bench_die "BENCH_FIGURES: unknown figure '$f' (livez region result gzip peer search create register rush stream)" ;;
    esac
done
has_fig() { [[ " ${FIG_LIST[*]} " == *" $1 "* ]]; }
if has_fig rush && [ "$BENCH_RUSH_CONNS" -gt "$MAX_CONNS" ]; then MAX_CONNS="$BENCH_RUSH_CONNS"; fi
[[ "$BENCH_REGION_CODE" =~ ^[0-9]{6}$ ]] || bench_die "BENCH_REGION_CODE must be six digits"
# Which results the GET asks for, the same in wrk (bench/lib/wrk/yizhan.lua) and pgbench.
case "$BENCH_RESULT_IDS" in
uniform) RESULT_ID_EXPR="random(:lo, :hi)" ;;
one) RESULT_ID_EXPR=":lo" ;;
zipf) BENCH_RESULT_IDS="zipf:1.1" RESULT_ID_EXPR="random_zipfian(:lo, :hi, 1.1)" ;;
zipf:*)
    if ! [[ "${BENCH_RESULT_IDS#zipf:}" =~ ^[0-9]+(\.[0-9]+)?$ ]] \
        || ! awk -v s="${BENCH_RESULT_IDS#zipf:}" 'BEGIN{exit !(s >= 1.001 && s <= 1000)}'; then
        bench_die "BENCH_RESULT_IDS=zipf:S needs 1.001 <= S <= 1000 (pgbench's random_zipfian)"
    fi
    RESULT_ID_EXPR="random_zipfian(:lo, :hi, ${BENCH_RESULT_IDS#zipf:})"
    ;;
*) bench_die "BENCH_RESULT_IDS must be uniform, zipf, zipf:S or one" ;;
esac

[ -x "$YIZHAN_BIN" ] || bench_die "$YIZHAN_BIN not found or not executable: build it first (make)"
YIZHAN_BIN="$(cd "$(dirname "$YIZHAN_BIN")" && pwd)/$(basename "$YIZHAN_BIN")"
mkdir -p "$BENCH_RESULTS_DIR"
BENCH_RESULTS_DIR="$(cd "$BENCH_RESULTS_DIR" && pwd)"

bench_ensure_tools
if has_fig peer; then
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
        || bench_die "the peer (BENCH_FIGURES: peer) needs node and npm (apt-get install nodejs npm)"
fi

# wrk at 1,024 connections needs more descriptors than a default shell has.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ------------------------------------------------------------------ setup

BENCH_TMP=""
SERVER_PID=""
NGINX_PID=""
PEER_PID=""
SAMPLER_PID=""
PG_STARTED=0
PG_DIR=""
REPORTED=0

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; fi
    if [ -n "${PEER_SAMPLER_PID:-}" ]; then kill "$PEER_SAMPLER_PID" 2>/dev/null; wait "$PEER_SAMPLER_PID" 2>/dev/null; fi
    bench_stop_pid "$SERVER_PID"
    bench_stop_pid "$NGINX_PID"
    bench_stop_pid "$PEER_PID"
    bench_pg_stop
    if [ "$rc" -ne 0 ] && [ "$REPORTED" = 0 ] && [ -n "$BENCH_TMP" ]; then
        local f
        for f in "$BENCH_TMP/server.log" "$BENCH_TMP/migrate.log" "$PG_DIR/postgres.log" \
            "$BENCH_TMP/nginx/error.log"; do
            if [ -s "$f" ]; then
                printf '[bench] --- last lines of %s ---\n' "${f#"$BENCH_TMP"/}" >&2
                tail -n 20 "$f" >&2
            fi
        done
    fi
    if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
        if [ "$BENCH_KEEP_TMP" = 1 ]; then bench_log "kept $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/yizhan-bench.XXXXXX")"
chmod 0755 "$BENCH_TMP"
STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations"
export YIZHAN_WEB_ROOT="$ROOT/web"
export YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys"

# pgbench: the clients plus the server's connections, psql and a margin.
PG_MAXCONN=$((MAX_CONNS + 40))
T_DATA=$(date +%s)
bench_data_prepare "$PG_MAXCONN"
T_DATA=$(($(date +%s) - T_DATA))
bench_pool_init
if [ "$(bench_psql "SELECT count(*) FROM regions WHERE code = '$BENCH_REGION_CODE'")" != 1 ]; then
    bench_die "region $BENCH_REGION_CODE is not in table regions (set BENCH_REGION_CODE)"
fi
# The generated results: ids from 1000000 (bench/search/gen.py --id-base), every one published.
IFS='|' read -r RES_LO RES_HI RES_N < <(bench_psql "SELECT min(id), max(id), count(*) FROM results
    WHERE id >= 1000000 AND status = 'published'")
if [ -z "$RES_N" ] || [ "$RES_N" -lt 100 ] || [ $((RES_HI - RES_LO + 1)) != "$RES_N" ]; then
    bench_die "the generated results are not ids $RES_LO..$RES_HI, all published ($RES_N)"
fi

SECRET_FILE="$BENCH_TMP/jwt.secret"
(umask 077 && head -c 48 /dev/urandom >"$SECRET_FILE")
HTTP_PORT="$(bench_free_port)"
BASE="http://127.0.0.1:$HTTP_PORT"
bench_log "yizhan serve on $BASE (YIZHAN_THREADS=$YIZHAN_THREADS)"
cd "$ROOT"
# The server's own descriptor limit: 65,536 when the hard limit allows, else the hard limit.
(
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    # wrk's 1,024 connections all come from 127.0.0.1: no per-address cap here (bench/slowread measures it)
    exec env YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LISTEN="127.0.0.1:$HTTP_PORT" YIZHAN_THREADS="$YIZHAN_THREADS" \
        YIZHAN_JWT_SECRET_FILE="$SECRET_FILE" YIZHAN_LOG_LEVEL=warn YIZHAN_QUERY_TIMEOUT_MS="$YIZHAN_QUERY_TIMEOUT_MS" \
        YIZHAN_MAX_CONNS_PER_CLIENT="${YIZHAN_MAX_CONNS_PER_CLIENT:-0}" "$YIZHAN_BIN" serve
) >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
bench_wait_http "$BASE/readyz" 20 "$SERVER_PID" || bench_die "yizhan did not answer 200 on /readyz within 20 s"
# the event loops the server runs (YIZHAN_THREADS=0 lets the server choose)
YIZHAN_LOOPS="$(curl -sf "$BASE/metrics" | awk '$1 == "yizhan_event_loops" {print $2}')"
[[ "$YIZHAN_LOOPS" =~ ^[0-9]+$ ]] || bench_die "yizhan's /metrics has no yizhan_event_loops"
bench_log "yizhan runs $YIZHAN_LOOPS event loop(s) (YIZHAN_THREADS=$YIZHAN_THREADS)"
# The server compresses the web files once at start (gzip and brotli 11, a low-priority thread:
# ~5 s of CPU, a minute on a busy machine); its CPU would count against the first figures
# (perf: libbrotlienc was most of the server's samples in the first result GET run). Wait for it.
T_STATIC=$(date +%s)
for ((i = 0; i < 600; i++)); do
    read -r S_TEXT S_DONE < <(curl -sf "$BASE/metrics" | awk '$1 == "yizhan_static_files{state=\"text\"}" {t = $2}
        $1 == "yizhan_static_files{state=\"compressed\"}" {c = $2} END {print t + 0, c + 0}')
    [ "$S_TEXT" = "$S_DONE" ] && break
    sleep 0.5
done
bench_log "web files compressed ($S_DONE of $S_TEXT) after $(($(date +%s) - T_STATIC)) s"
SERVER_NOFILE="$(awk '/^Max open files/{print $4}' "/proc/$SERVER_PID/limits")"
WRK_NOFILE="$(ulimit -n)"
NEED_FDS=$((MAX_CONNS > ${HIGH_LIST[0]:-0} ? MAX_CONNS : ${HIGH_LIST[0]:-0}))
for c in "${HIGH_LIST[@]}"; do if [ "$c" -gt "$NEED_FDS" ]; then NEED_FDS="$c"; fi; done
if [ "$SERVER_NOFILE" != unlimited ] && [ "$SERVER_NOFILE" -lt $((NEED_FDS + 256)) ]; then
    bench_die "the server may open only $SERVER_NOFILE files; $NEED_FDS connections need more (raise the hard limit)"
fi
bench_log "descriptor limits: yizhan $SERVER_NOFILE, wrk $WRK_NOFILE (wanted 65536; the hard limit here is $(ulimit -Hn))"

bench_nginx_start
NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
bench_log "nginx on $NGINX_BASE"

REGION_PATH="/api/v1/codes/regions/$BENCH_REGION_CODE"
for url in "$BASE/livez" "$BASE$REGION_PATH" "$BASE/api/v1/results/$RES_LO" "$NGINX_BASE/livez"; do
    code="$(bench_http_code "$url")"
    [ "$code" = 200 ] || bench_die "GET $url answered $code, not 200"
done

PW="$(cat "$YIZHAN_VAR_DIR/demo-password")"
bench_login member "$BENCH_MEMBER_EMAIL" "$PW" "$BASE"
bench_login officer "$BENCH_OFFICER_EMAIL" "$PW" "$BASE"

# What the runs send.
WRK_LUA="$BENCH_DIR/lib/wrk/yizhan.lua"
WRK_HEADERS=()
SEARCH_PATHS="$BENCH_TMP/search-paths.txt"
python3 "$BENCH_DIR/lib/search_queries.py" "$BENCH_SEARCH_QUERIES" >"$SEARCH_PATHS"
RESULT_BODY="$BENCH_TMP/result-body.json"
cat >"$RESULT_BODY" <<'EOF'
{"title":"基于深度学习的工业视觉表面缺陷在线检测系统","summary":"本成果面向精密加工与电子制造产线，采用深度学习目标检测与多光源成像，实现金属件、晶圆和显示面板表面缺陷的在线检测。检出率达到百分之九十九以上，单件检测时间小于五十毫秒，已在三家企业示范应用。","keywords":["工业视觉","深度学习","缺陷检测","在线检测"],"completers":["张伟","李娜"],"domain":"advanced_manufacturing","trl":6,"maturity":"middle","transfer_modes":["licence","transfer"],"pricing_mode":"negotiated","region_code":"511902","contact":{"name":"王老师","phone":"0827-5268000","email":"tt@example.edu.cn"}}
EOF

# The year-end rush (issue #23): the member reads their own listings and applies for the
# registration of a contract (their org sells to another demo org; valid codes, dates around today).
RUSH_MEMBER_PATH="/api/v1/results?mine=true&limit=20"
CONTRACT_BODY="$BENCH_TMP/contract-body.json"
if has_fig rush; then
    IFS='|' read -r RUSH_SELLER RUSH_BUYER < <(bench_psql "SELECT u.org_id, (SELECT o.id FROM orgs o
        WHERE o.credit_code IS NOT NULL AND o.org_type IS NOT NULL AND o.id <> u.org_id ORDER BY o.id LIMIT 1)
        FROM users u WHERE u.email = '$BENCH_MEMBER_EMAIL'")
    if [ -z "$RUSH_SELLER" ] || [ -z "$RUSH_BUYER" ]; then bench_die "the rush's contract needs the member's org and another org"; fi
    python3 - "$RUSH_SELLER" "$RUSH_BUYER" >"$CONTRACT_BODY" <<'EOF'
import datetime as dt, json, sys
t = dt.date.today()
d = lambda n: (t + dt.timedelta(days=n)).isoformat()
amount, technical = 12_000_000, 10_500_000
print(json.dumps({
    "title": "年终技术开发合同（基准）", "contract_type": "development", "contract_subtype": "commissioned_development",
    "seller": {"org_id": int(sys.argv[1])}, "buyer": {"org_id": int(sys.argv[2])},
    "signed_on": d(-10), "effective_on": d(-5), "end_on": d(365),
    "contract_amount_fen": amount, "technical_amount_fen": technical,
    "non_technical_items": [{"item": "设备及原材料", "amount_fen": amount - technical}],
    "payment_schedule": [{"due_on": d(30), "amount_fen": amount // 2, "note": "首期"},
                         {"due_on": d(180), "amount_fen": amount - amount // 2}],
    "domain": "agriculture", "ip_type": "patent", "plan_source": "unplanned"}, ensure_ascii=False, separators=(",", ":")))
EOF
fi

# ------------------------------------------------------------------ probes: the anchors' SQL

PGB="$BENCH_TMP/pgbench"
mkdir -p "$PGB"
PG_LOG="$PG_DIR/postgres.log"
probe_mark() { bench_psql "SELECT 'yizhan-bench probe $1'" >/dev/null; }
probe_status() {  # NAME EXPECTED_CODE CODE
    [ "$3" = "$2" ] || bench_die "probe $1 answered $3, not $2"
}

LOG_START="$(stat -c %s "$PG_LOG")"
bench_psql "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null
bench_psql "SELECT pg_reload_conf()" >/dev/null
sleep 1
probe_mark region
probe_status region 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE$REGION_PATH")"
probe_mark result_get
probe_status result_get 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/results/$RES_LO")"
probe_mark search
# Every query twice over one connection (one worker): the second run of each is the
# one the server repeats under load, with the total and facets from its cache.
{
    while read -r p; do printf 'url = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE$p"; done <"$SEARCH_PATHS"
    while read -r p; do printf 'url = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE$p"; done <"$SEARCH_PATHS"
} >"$BENCH_TMP/search-probe.curl"
codes="$(curl -s --max-time 120 -K "$BENCH_TMP/search-probe.curl" | sort | uniq -c | tr -s ' ')"
[ "$codes" = " $((2 * BENCH_SEARCH_QUERIES)) 200" ] || bench_die "search probe answered: $codes"
probe_mark result_create
probe_status result_create 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $(bench_token member)" --data-binary @"$RESULT_BODY" "$BASE/api/v1/results")"
probe_mark register
bench_pool_take api 1
probe_status register 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $(bench_token officer)" "$BASE/api/v1/contracts/$POOL_LO/register")"
bench_pool_advance api
if has_fig rush; then
    probe_mark member_read
    probe_status member_read 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(bench_token member)" \
        "$BASE$RUSH_MEMBER_PATH")"
    probe_mark contract_create
    code="$(curl -s -o "$BENCH_TMP/contract-probe.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $(bench_token member)" --data-binary @"$CONTRACT_BODY" "$BASE/api/v1/contracts")"
    [ "$code" = 201 ] || bench_die "probe contract_create answered $code: $(head -c 400 "$BENCH_TMP/contract-probe.json")"
fi
probe_mark end
bench_psql "ALTER SYSTEM RESET log_min_duration_statement" >/dev/null
bench_psql "SELECT pg_reload_conf()" >/dev/null

SRC="$ROOT/server/api"
RUSH_CAPTURE=""
if has_fig rush; then
    RUSH_CAPTURE=",
 {\"name\": \"member_read\", \"statements\": [{\"src\": \"$SRC/auth.c\", \"var\": \"ST_LOAD_USER\"},
                                        {\"src\": \"$SRC/market.c\", \"var\": \"RESULT.st_list\"}]},
 {\"name\": \"contract_create\", \"statements\": [{\"src\": \"$SRC/auth.c\", \"var\": \"ST_LOAD_USER\"},
                                            {\"src\": \"$SRC/contracts.c\", \"var\": \"ST_CREATE\"}]}"
fi
cat >"$BENCH_TMP/capture.json" <<EOF
{"figures": [
 {"name": "region", "statements": [{"src": "$SRC/codes.c", "var": "$BENCH_SQL_STMT"}]},
 {"name": "result_get", "statements": [{"src": "$SRC/market.c", "var": "RESULT.st_get"}],
  "pre": {"0": ["\\\\set id $RESULT_ID_EXPR"]}, "vary": {"0": {"1": ":id"}}},
 {"name": "search", "statements": [{"src": "$SRC/market_search.c", "var": "ST_SEARCH"}],
  "pick": "all", "skip": $BENCH_SEARCH_QUERIES},
 {"name": "result_create", "statements": [{"src": "$SRC/auth.c", "var": "ST_LOAD_USER"},
                                          {"src": "$SRC/market.c", "var": "k->st_create"}]},
 {"name": "register", "statements": [{"src": "$SRC/auth.c", "var": "ST_LOAD_USER"},
                                     {"src": "$SRC/contracts.c", "var": "ST_REGISTER"}],
  "pre": {"0": ["\\\\set n :n + 1", "\\\\set rid :plo + :client_id + :n * :nc", "\\\\if :rid > :phi", "\\\\set rid 0", "\\\\endif"]},
  "vary": {"1": {"3": ":rid"}}}$RUSH_CAPTURE
]}
EOF
python3 "$BENCH_DIR/lib/stmts.py" capture "$PG_LOG" "$LOG_START" "$BENCH_TMP/capture.json" "$PGB" \
    || bench_die "the anchors' statements could not be taken from the source and the server's log"
for f in region result_get result_create register $(has_fig rush && echo member_read contract_create); do
    bench_log "pgbench $f: $(grep -v -e '^--' -e '^[\]' "$PGB/$f.sql" | cut -c1-150 | paste -sd'|' -)"
done
bench_log "pgbench search: $(find "$PGB" -name 'search-*.sql' | wc -l) scripts, one per query of the mix"

# The peer (bench/peers/node): the same GET in Node.js with fastify and pg, running the
# statement just captured from the server, on the same database with the same pool size.
PEER_BASE=""
if has_fig peer; then
    PEER_DIR="$BENCH_DIR/peers/node"
    if [ ! -f "$PEER_DIR/node_modules/.yizhan-lock" ] || ! cmp -s "$PEER_DIR/package-lock.json" "$PEER_DIR/node_modules/.yizhan-lock"; then
        bench_log "npm ci in bench/peers/node"
        (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || bench_die "npm ci failed in bench/peers/node"
        cp "$PEER_DIR/package-lock.json" "$PEER_DIR/node_modules/.yizhan-lock"
    fi
    PEER_PORT="$(bench_free_port)"
    PEER_BASE="http://127.0.0.1:$PEER_PORT"
    # node-postgres's default pool (10): one query in flight per connection, so the server's 2 would starve it
    PEER_DB_CONNS="${BENCH_PEER_DB_CONNS:-10}"
    (
        ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
        exec env NODE_ENV=production PEER_LISTEN="127.0.0.1:$PEER_PORT" PEER_SQL_JSON="$PGB/result_get.json" \
            PEER_DB_CONNS="$PEER_DB_CONNS" PGHOST="$PG_DIR" PGPORT="$PG_PORT" PGUSER=postgres PGDATABASE=yizhan \
            node "$PEER_DIR/server.js"
    ) >"$BENCH_TMP/peer.log" 2>&1 &
    PEER_PID=$!
    bench_wait_http "$PEER_BASE/livez" 20 "$PEER_PID" || bench_die "the Node.js peer did not answer on /livez within 20 s"
    for id in "$RES_LO" "$RES_HI"; do
        [ "$(curl -sf "$PEER_BASE/api/v1/results/$id")" = "$(curl -sf "$BASE/api/v1/results/$id")" ] \
            || bench_die "the peer's GET /api/v1/results/$id is not the server's JSON"
    done
    bench_log "peer: Node.js $(node --version), fastify + pg, $PEER_DB_CONNS database connections, on $PEER_BASE (same JSON as yizhan)"
    # V8 compiles the hot path after a few seconds of load: 1,000/s at first, ~3 times that after 15 s
    if [ "${BENCH_PEER_WARMUP:-20}" -gt 0 ]; then
        bench_log "peer: warm-up, ${BENCH_PEER_WARMUP:-20} s"
        wrk -t"$BENCH_THREADS" -c64 -d"${BENCH_PEER_WARMUP:-20}s" -s "$BENCH_DIR/lib/wrk/yizhan.lua" "$PEER_BASE" -- \
            get "/api/v1/results/{id}" "$RES_LO" "$RES_HI" "$BENCH_RESULT_IDS" >/dev/null 2>&1 || bench_die "the peer's warm-up failed"
    fi
fi

# pgbench runs in the server's session settings (bench/README.md: the role, the time zone, the limits).
# Not the server's 5 s statement and lock timeouts: a pgbench client that hits one is aborted
# and the anchor would run with fewer clients; pgbench waits as long as it takes.
PGB_OPTIONS="-c TimeZone=UTC -c role=yizhan_app"

# ------------------------------------------------------------------ runs

RAW="$BENCH_TMP/raw.jsonl"
: >"$RAW"
OUT="$BENCH_TMP/out.txt"
PHASE="$BENCH_TMP/phase"
RSS_LOG="$BENCH_TMP/rss.log"
echo idle >"$PHASE"
CLK_TCK="$(getconf CLK_TCK)"
declare -A SERVER_DB_CONNS=()
declare -A LAST_RATE=()

# RSS of the server every second, tagged with what was running.
(
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        printf '%s %s %s\n' "$(date +%s)" "$(cat "$PHASE" 2>/dev/null || echo ?)" "$(bench_rss_kb "$SERVER_PID" 2>/dev/null || echo 0)"
        sleep 1
    done
) >"$RSS_LOG" 2>/dev/null &
SAMPLER_PID=$!
PEER_RSS_LOG="$BENCH_TMP/peer-rss.log"
PEER_SAMPLER_PID=""
if [ -n "$PEER_PID" ]; then
    (
        while kill -0 "$PEER_PID" 2>/dev/null; do
            printf '%s %s %s\n' "$(date +%s)" "$(cat "$PHASE" 2>/dev/null || echo ?)" "$(bench_rss_kb "$PEER_PID" 2>/dev/null || echo 0)"
            sleep 1
        done
    ) >"$PEER_RSS_LOG" 2>/dev/null &
    PEER_SAMPLER_PID=$!
fi

# record FIGURE CONNS RUN TOOL — parse $OUT into a line of $RAW (with the server's CPU when measured).
record() {
    local figure="$1" conns="$2" run="$3" tool="$4"
    shift 4
    python3 "$BENCH_DIR/lib/parse.py" "$tool" "$OUT" figure="$figure" conns="$conns" run="$run" "$@" >>"$RAW" \
        || bench_die "could not parse the $tool output of $figure"
    bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-22s run %d: %10.1f /s  p50 %s  p99 %s  avg %s ms  errors %s%s" % (r["figure"], r["run"], r["rps"], r.get("p50_ms", "-"), r.get("p99_ms", "-"), r.get("avg_ms"), r.get("non_2xx", r.get("failed")), "  cpu %.1f us/req" % r["cpu_us_per_req"] if "cpu_us_per_req" in r else ""))')"
}

# wrk_run FIGURE CONNS SECONDS RUN TIMEOUT URL [-- LUA ARGS...] — one wrk run; RUN empty: warm-up.
wrk_run() {
    local figure="$1" conns="$2" secs="$3" run="$4" tmo="$5" url="$6"
    shift 6
    local args=(-t"$BENCH_THREADS" -c"$conns" -d"${secs}s" --timeout "${tmo}s" --latency "${WRK_HEADERS[@]}")
    if [ "$#" -gt 0 ]; then args+=(-s "$WRK_LUA" "$url" "$@"); else args+=("$url"); fi
    local c0="" c1 perf_pid=""
    echo "$figure@$conns" >"$PHASE"
    [[ "$figure" == yizhan_* ]] && c0="$(bench_cpu_ticks "$SERVER_PID")"
    # BENCH_PERF=1: the whole machine's profile (every process on the 2 cores) during the
    # first measured result GET run at each connection count (bench/README.md: what limits it)
    if [ "${BENCH_PERF:-0}" = 1 ] && [ "$figure" = yizhan_result_get ] && [ "$run" = 1 ] \
        && [ ! -e "$BENCH_TMP/perf-$conns.data" ]; then
        perf record -a -g -e cpu-clock -F 499 -o "$BENCH_TMP/perf-$conns.data" -- sleep "$secs" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    timeout -k 5 "$((secs + tmo + 30))" wrk "${args[@]}" >"$OUT" 2>&1 \
        || { cat "$OUT" >&2; bench_die "wrk failed on $figure"; }
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        bench_perf_summary "$BENCH_TMP/perf-$conns.data" "$SERVER_PID" "$PG_DIR/data" >"$BENCH_RESULTS_DIR/perf-$STAMP-result-get-$conns.txt" \
            && bench_log "  profile: $BENCH_RESULTS_DIR/perf-$STAMP-result-get-$conns.txt"
    fi
    [ -n "$c0" ] && c1="$(bench_cpu_ticks "$SERVER_PID")"
    echo idle >"$PHASE"
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during the $figure run"
    [ -n "$run" ] || return 0
    local extra=()
    if [ -n "$c0" ]; then
        local reqs
        reqs="$(awk '/requests in/{print $1; exit}' "$OUT")"
        extra+=(cpu_ticks="$((c1 - c0))" clk_tck="$CLK_TCK")
        if [ -n "$reqs" ] && [ "$reqs" -gt 0 ]; then
            extra+=(cpu_us_per_req="$(awk -v t="$((c1 - c0))" -v h="$CLK_TCK" -v n="$reqs" 'BEGIN{printf "%.2f", t * 1e6 / h / n}')")
        fi
    fi
    record "$figure" "$conns" "$run" wrk "${extra[@]}"
}

# pgb_run FIGURE CONNS SECONDS RUN [pgbench args...] — one pgbench run; RUN empty: warm-up.
# PGB_CLIENTS: pgbench's clients when not CONNS (the stricter anchor's 2 and 8; CONNS tags the round).
pgb_run() {
    local figure="$1" conns="$2" secs="$3" run="$4"
    shift 4
    local clients="${PGB_CLIENTS:-$conns}"
    local jobs=$((BENCH_THREADS < clients ? BENCH_THREADS : clients))
    echo "$figure@$conns" >"$PHASE"
    local rc=0
    PGOPTIONS="$PGB_OPTIONS" timeout -k 5 "$((secs + 90))" "$PG_BIN/pgbench" -n -M prepared -c "$clients" -j "$jobs" -T "$secs" \
        -h "$PG_DIR" -p "$PG_PORT" -U postgres "$@" yizhan >"$OUT" 2>&1 || rc=$?
    echo idle >"$PHASE"
    # pgbench exits 2 when a client aborted on an error: the run still has figures, and
    # parse.py / report.py count it as failed; anything else is a setup error.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then cat "$OUT" >&2; bench_die "pgbench failed on $figure"; fi
    [ -n "$run" ] || return 0
    record "$figure" "$conns" "$run" pgbench aborted="$([ "$rc" = 2 ] && echo 1 || echo 0)" clients="$clients"
}

vars_args() {  # FILE — "-D NAME=VALUE" for every line
    local l
    VARS_ARGS=()
    while IFS= read -r l; do [ -n "$l" ] && VARS_ARGS+=(-D "$l"); done <"$1"
}

search_scripts() {
    SEARCH_ARGS=()
    local f
    for f in "$PGB"/search-*.sql; do SEARCH_ARGS+=(-f "$f@1"); done
}

# How many pool ids a registration run may use: three times the last rate seen, at least 2,000.
reg_need() {
    local rate="${LAST_RATE[$1]:-200}" secs="$2"
    local n
    n="$(awk -v r="$rate" -v s="$secs" 'BEGIN{printf "%d", r * (s + 5) * 3}')"
    [ "$n" -lt 2000 ] && n=2000
    echo "$n"
}

last_rate() { tail -n 1 "$RAW" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["rps"]) + 1)'; }

# run_fig KEY CONNS SECONDS RUN — one figure (both sides of the pair are separate keys).
run_fig() {
    local key="$1" conns="$2" secs="$3" run="$4" tmo=10
    case "$key" in
    nginx_livez) wrk_run nginx_livez "$conns" "$secs" "$run" "$tmo" "$NGINX_BASE/livez" ;;
    yizhan_livez) wrk_run yizhan_livez "$conns" "$secs" "$run" "$tmo" "$BASE/livez" ;;
    yizhan_region_get) wrk_run yizhan_region_get "$conns" "$secs" "$run" "$tmo" "$BASE$REGION_PATH" ;;
    pgbench_region)
        vars_args "$PGB/region.vars"
        pgb_run pgbench_region "$conns" "$secs" "$run" "${VARS_ARGS[@]}" -f "$PGB/region.sql"
        ;;
    yizhan_result_get)
        wrk_run yizhan_result_get "$conns" "$secs" "$run" "$tmo" "$BASE" -- get "/api/v1/results/{id}" "$RES_LO" "$RES_HI" \
            "$BENCH_RESULT_IDS"
        ;;
    pgbench_result_get | pgbench_result_get_c2 | pgbench_result_get_c8)
        vars_args "$PGB/result_get.vars"
        local clients=""
        [ "$key" = pgbench_result_get ] || clients="${key##*_c}"
        PGB_CLIENTS="$clients" pgb_run "$key" "$conns" "$secs" "$run" "${VARS_ARGS[@]}" -D lo="$RES_LO" -D hi="$RES_HI" \
            -f "$PGB/result_get.sql"
        ;;
    yizhan_result_get_gz)
        WRK_HEADERS=(-H "Accept-Encoding: gzip")
        wrk_run yizhan_result_get_gz "$conns" "$secs" "$run" "$tmo" "$BASE" -- get "/api/v1/results/{id}" "$RES_LO" "$RES_HI" \
            "$BENCH_RESULT_IDS"
        WRK_HEADERS=()
        ;;
    peer_result_get)
        wrk_run peer_result_get "$conns" "$secs" "$run" "$tmo" "$PEER_BASE" -- get "/api/v1/results/{id}" "$RES_LO" "$RES_HI" \
            "$BENCH_RESULT_IDS"
        kill -0 "$PEER_PID" 2>/dev/null || bench_die "the Node.js peer exited during its run"
        ;;
    yizhan_search)
        wrk_run yizhan_search "$conns" "$secs" "$run" "$BENCH_SLOW_TIMEOUT" "$BASE" -- paths "$SEARCH_PATHS"
        ;;
    pgbench_search)
        vars_args "$PGB/search.vars"
        search_scripts
        pgb_run pgbench_search "$conns" "$secs" "$run" "${VARS_ARGS[@]}" "${SEARCH_ARGS[@]}"
        ;;
    yizhan_result_create)
        wrk_run yizhan_result_create "$conns" "$secs" "$run" "$BENCH_SLOW_TIMEOUT" "$BASE" -- \
            post /api/v1/results "$RESULT_BODY" "$(bench_token member)"
        ;;
    pgbench_result_create)
        vars_args "$PGB/result_create.vars"
        pgb_run pgbench_result_create "$conns" "$secs" "$run" "${VARS_ARGS[@]}" -f "$PGB/result_create.sql"
        ;;
    yizhan_register)
        bench_pool_take api "$(reg_need api "$secs")"
        wrk_run yizhan_register "$conns" "$secs" "$run" "$BENCH_SLOW_TIMEOUT" "$BASE" -- \
            register "$POOL_LO" "$POOL_HI" "$BENCH_THREADS" "$(bench_token officer)"
        [ -n "$run" ] && LAST_RATE[api]="$(last_rate)"
        sleep 1
        bench_pool_advance api "$((conns + BENCH_THREADS))"
        if [ "$POOL_API_CUR" -gt "$POOL_HI" ]; then bench_log "  WARNING: the API pool ran out during this run (404s)"; fi
        ;;
    pgbench_register)
        bench_pool_take pgbench "$(reg_need pgbench "$secs")"
        vars_args "$PGB/register.vars"
        pgb_run pgbench_register "$conns" "$secs" "$run" "${VARS_ARGS[@]}" -D n=-1 -D plo="$POOL_LO" \
            -D phi="$POOL_HI" -D nc="$conns" -f "$PGB/register.sql"
        [ -n "$run" ] && LAST_RATE[pgbench]="$(last_rate)"
        bench_pool_advance pgbench "$((conns + BENCH_THREADS))"
        ;;
    yizhan_rush)
        bench_pool_take api "$(reg_need api_rush "$secs")"
        wrk_run yizhan_rush "$conns" "$secs" "$run" 10 "$BASE" -- rush "/api/v1/results/{id}" "$RES_LO" "$RES_HI" \
            "$BENCH_RESULT_IDS" "$SEARCH_PATHS" "$RESULT_BODY" "$(bench_token member)" "$POOL_LO" "$POOL_HI" "$BENCH_THREADS" \
            "$(bench_token officer)" "$RUSH_MEMBER_PATH" "$CONTRACT_BODY"
        # registrations are 1 of the 40 requests of the cycle
        [ -n "$run" ] && LAST_RATE[api_rush]="$(($(last_rate) / 40 + 1))"
        sleep 1
        bench_pool_advance api "$((conns + BENCH_THREADS))"
        ;;
    pgbench_rush)
        # the rush's statements with the rush's weights (bench/lib/wrk/yizhan.lua: RUSH): per 40
        # transactions 22 result GETs, 8 searches (spread over the mix's scripts), 7 member reads,
        # 1 POST result, 1 contract application, 1 registration; every script's variables at once
        bench_pool_take pgbench "$(reg_need pgbench_rush "$secs")"
        local vf all=() rush_args=() ns=0 f
        for vf in result_get search result_create register member_read contract_create; do
            vars_args "$PGB/$vf.vars"
            all+=("${VARS_ARGS[@]}")
        done
        for f in "$PGB"/search-*.sql; do rush_args+=(-f "$f@8"); ns=$((ns + 1)); done
        rush_args+=(-f "$PGB/result_get.sql@$((22 * ns))" -f "$PGB/member_read.sql@$((7 * ns))"
            -f "$PGB/result_create.sql@$ns" -f "$PGB/contract_create.sql@$ns" -f "$PGB/register.sql@$ns")
        pgb_run pgbench_rush "$conns" "$secs" "$run" "${all[@]}" -D lo="$RES_LO" -D hi="$RES_HI" -D n=-1 \
            -D plo="$POOL_LO" -D phi="$POOL_HI" -D nc="$conns" "${rush_args[@]}"
        [ -n "$run" ] && LAST_RATE[pgbench_rush]="$(($(last_rate) / 40 + 1))"
        bench_pool_advance pgbench "$((conns + BENCH_THREADS))"
        ;;
    *) bench_die "run_fig: unknown figure $key" ;;
    esac
}

KEYS=()
has_fig livez && KEYS+=(nginx_livez yizhan_livez)
has_fig region && KEYS+=(yizhan_region_get pgbench_region)
# the result GET's anchors: pgbench at the round's connections, and at 2 and 8 clients (the
# stricter anchor takes the best of 2, 8 and 64: on 2 cores pgbench peaks at few clients)
has_fig result && KEYS+=(yizhan_result_get pgbench_result_get pgbench_result_get_c2 pgbench_result_get_c8)
has_fig gzip && KEYS+=(yizhan_result_get_gz)
has_fig peer && KEYS+=(peer_result_get)
has_fig search && KEYS+=(yizhan_search pgbench_search)
has_fig create && KEYS+=(yizhan_result_create pgbench_result_create)
has_fig register && KEYS+=(yizhan_register pgbench_register)
# The result GET's floors need /livez (the composite) and nginx (p99); the peer and gzip compare with it.
if { has_fig gzip || has_fig peer; } && ! has_fig result; then KEYS=(yizhan_result_get "${KEYS[@]}"); fi
if { has_fig result || has_fig gzip || has_fig peer; } && ! has_fig livez; then KEYS=(nginx_livez yizhan_livez "${KEYS[@]}"); fi
if has_fig region && ! has_fig livez && ! has_fig result; then KEYS=(yizhan_livez "${KEYS[@]}"); fi

count_server_db_conns() {
    bench_psql "SELECT count(*) FROM pg_stat_activity
                WHERE datname = 'yizhan' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

T_RUNS=$(date +%s)
for conns in "${CONNS_LIST[@]}"; do
    bench_log "== $conns connections: $BENCH_REPS x (${KEYS[*]}) x ${BENCH_SECONDS}s"
    if [ "$BENCH_WARMUP" -gt 0 ]; then
        for k in "${KEYS[@]}"; do run_fig "$k" "$conns" "$BENCH_WARMUP" ""; done
    fi
    for ((run = 1; run <= BENCH_REPS; run++)); do
        for k in "${KEYS[@]}"; do
            run_fig "$k" "$conns" "$BENCH_SECONDS" "$run"
            if [ "$run" = 1 ] && [ "$k" = yizhan_livez ]; then SERVER_DB_CONNS[$conns]="$(count_server_db_conns)"; fi
        done
    done
done

# Many connections: errors and timeouts (wrk's 2 s), p99 against nginx's.
if has_fig result; then
    for conns in "${HIGH_LIST[@]}"; do
        bench_log "== $conns connections: $BENCH_REPS x (nginx /livez, result GET) x ${BENCH_SECONDS}s, wrk timeout 2 s"
        run_fig nginx_livez "$conns" "$BENCH_WARMUP" ""
        for ((run = 1; run <= BENCH_REPS; run++)); do
            wrk_run nginx_livez "$conns" "$BENCH_SECONDS" "$run" 2 "$NGINX_BASE/livez"
            wrk_run yizhan_result_get "$conns" "$BENCH_SECONDS" "$run" 2 "$BASE" -- get "/api/v1/results/{id}" "$RES_LO" \
                "$RES_HI" "$BENCH_RESULT_IDS"
        done
    done
fi
# The year-end rush (issue #23): every kind of request at once, against pgbench running the
# same statements with the same weights, BENCH_REPS interleaved rounds.
if has_fig rush; then
    bench_log "== year-end rush: $BENCH_REPS x (yizhan_rush pgbench_rush) x ${BENCH_SECONDS}s at $BENCH_RUSH_CONNS connections"
    if [ "$BENCH_WARMUP" -gt 0 ]; then
        for k in yizhan_rush pgbench_rush; do run_fig "$k" "$BENCH_RUSH_CONNS" "$BENCH_WARMUP" ""; done
    fi
    for ((run = 1; run <= BENCH_REPS; run++)); do
        for k in yizhan_rush pgbench_rush; do run_fig "$k" "$BENCH_RUSH_CONNS" "$BENCH_SECONDS" "$run"; done
    done
    # The same mix as users make it: an open loop at constant arrival rates (bench/lib/openloop.py,
    # wrk2's coordinated-omission-corrected latency), BENCH_RUSH_RATES: users:T = every connection
    # one request per T s; max:F = F x the closed-loop maximum just measured (the median above).
    # Each round also runs the driver against nginx at the highest rate: its own floor.
    RUSH_MAX="$(python3 -c 'import json,statistics,sys
r=[json.loads(l)["rps"] for l in open(sys.argv[1]) if json.loads(l)["figure"]=="yizhan_rush"]
print(statistics.median(r) if r else 0)' "$RAW")"
    OPEN_RATES=()
    for spec in $BENCH_RUSH_RATES; do
        case "$spec" in
        users:*) OPEN_RATES+=("$spec=$(awk -v c="$BENCH_RUSH_CONNS" -v t="${spec#users:}" 'BEGIN{printf "%.1f", c / t}')") ;;
        max:*) OPEN_RATES+=("$spec=$(awk -v m="$RUSH_MAX" -v f="${spec#max:}" 'BEGIN{printf "%.1f", m * f}')") ;;
        *) bench_die "BENCH_RUSH_RATES: '$spec' is neither users:SECONDS nor max:FRACTION" ;;
        esac
    done
    TOP_RATE="$(printf '%s\n' "${OPEN_RATES[@]}" | awk -F= '$2 > m {m = $2} END {print m + 0}')"
    bench_log "== year-end rush, open loop: $BENCH_REPS x (${OPEN_RATES[*]}; nginx at $TOP_RATE/s) x ${BENCH_SECONDS}s at $BENCH_RUSH_CONNS connections (closed-loop max $RUSH_MAX/s)"
    for ((run = 1; run <= BENCH_REPS; run++)); do
        for spec in "${OPEN_RATES[@]}"; do
            rate="${spec#*=}"
            bench_pool_take api "$(awk -v r="$rate" -v s="$BENCH_SECONDS" 'BEGIN{printf "%d", r * s / 40 + 100}')"
            echo "yizhan_rush_open@$BENCH_RUSH_CONNS" >"$PHASE"
            c0="$(bench_cpu_ticks "$SERVER_PID")"
            timeout -k 5 "$((BENCH_SECONDS + 60))" python3 "$BENCH_DIR/lib/openloop.py" --url "$BASE" --rate "$rate" \
                --seconds "$BENCH_SECONDS" --conns "$BENCH_RUSH_CONNS" --timeout 10 --figure yizhan_rush_open --label "${spec%%=*}" \
                --ids "$RES_LO" "$RES_HI" --search-paths "$SEARCH_PATHS" --result-body "$RESULT_BODY" \
                --member-token "$(bench_token member)" --member-path "$RUSH_MEMBER_PATH" --contract-body "$CONTRACT_BODY" \
                --officer-token "$(bench_token officer)" --pool "$POOL_LO" "$POOL_HI" \
                --extra run="$run" --extra closed_max_rps="$RUSH_MAX" \
                >"$OUT" || bench_die "the open-loop rush at $rate/s failed"
            c1="$(bench_cpu_ticks "$SERVER_PID")"
            echo idle >"$PHASE"
            # cpu per request: the server's ticks over the run (the --extra above is the setup's, ~0)
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=int(sys.argv[2]); h=int(sys.argv[3])
d["cpu_ticks"]=t; d["cpu_us_per_req"]=round(t*1e6/h/d["requests"],2) if d["requests"] else None
print(json.dumps(d, sort_keys=True))' "$OUT" "$((c1 - c0))" "$CLK_TCK" >>"$RAW"
            bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("open loop %-10s run %d: %7.1f /s sent at %7.1f /s  p50 %s  p99 %s ms (service p99 %s, driver lag p99 %s)  non-2xx %s  socket %s  p99 by kind %s" % (r["label"], r["run"], r["rps"], r["rate"], r["p50_ms"], r["p99_ms"], r["svc_p99_ms"], r["lag_p99_ms"], r["non_2xx"], sum(r["socket_errors"].values()), " ".join("%s %s" % (k, v["p99_ms"]) for k, v in r["kinds"].items())))')"
            sleep 1
            bench_pool_advance api "$BENCH_RUSH_CONNS"
        done
        timeout -k 5 "$((BENCH_SECONDS + 60))" python3 "$BENCH_DIR/lib/openloop.py" --url "$NGINX_BASE" --path /livez \
            --rate "$TOP_RATE" --seconds "$BENCH_SECONDS" --conns "$BENCH_RUSH_CONNS" --figure nginx_open --label "nginx" \
            --extra run="$run" >>"$RAW" || bench_die "the open-loop driver against nginx failed"
        bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("open loop nginx /livez run %d at %.1f /s: p50 %s  p99 %s ms (driver lag p99 %s)" % (r["run"], r["rate"], r["p50_ms"], r["p99_ms"], r["lag_p99_ms"]))')"
    done
fi
T_RUNS=$(($(date +%s) - T_RUNS))

# ------------------------------------------------------------------ the stream of new searches (issue #25)

STREAM_RAW="$BENCH_TMP/stream.jsonl"
: >"$STREAM_RAW"
if has_fig stream; then
    T_STREAM=$(date +%s)
    if [ "$BENCH_QUICK" = 1 ]; then
        : "${STREAM_REPS:=1}" "${STREAM_RUN:=100}" "${STREAM_MIX:=40}" "${STREAM_CAPTURE:=5}" "${STREAM_CHECK:=1}"
    fi
    # shellcheck source-path=SCRIPTDIR source=search/stream.sh
    . "$BENCH_DIR/search/stream.sh"
    echo stream >"$PHASE"
    # its own lines: bench/lib/report.py reads $RAW, bench/search/stream_report.py these
    RAW_MAIN="$RAW"
    RAW="$STREAM_RAW"
    stream_bench perf
    RAW="$RAW_MAIN"
    echo idle >"$PHASE"
    bench_log "stream: $(($(date +%s) - T_STREAM)) s"
fi

# ------------------------------------------------------------------ soak: memory over time

SOAK_START=0
SOAK_END=0
if [ "$BENCH_SOAK_SECONDS" -gt 0 ]; then
    bench_log "== soak: ${BENCH_SOAK_SECONDS}s at $BENCH_SOAK_CONNS connections, a mix of every endpoint (RSS sampled every second)"
    SOAK_START=$(date +%s)
    left="$BENCH_SOAK_SECONDS"
    seg=0
    mix_rps=3000   # the first segment's guess; then what the last segment did
    # In segments of at most 300 s, each with fresh tokens (access tokens live 900 s).
    while [ "$left" -gt 0 ]; do
        seg=$((seg + 1))
        s=$((left > 300 ? 300 : left))
        # One request in 20 registers: ids for 1.5 times what the segment may do.
        bench_pool_take api "$(awk -v r="$mix_rps" -v s="$s" 'BEGIN{n = r / 20 * s * 1.5; if (n < 2000) n = 2000; printf "%d", n}')"
        echo "soak" >"$PHASE"
        timeout -k 5 "$((s + BENCH_SLOW_TIMEOUT + 30))" wrk -t"$BENCH_THREADS" -c"$BENCH_SOAK_CONNS" -d"${s}s" \
            --timeout "${BENCH_SLOW_TIMEOUT}s" --latency -s "$WRK_LUA" "$BASE" -- mix "/api/v1/results/{id}" \
            "$RES_LO" "$RES_HI" "$BENCH_RESULT_IDS" "$SEARCH_PATHS" "$RESULT_BODY" "$(bench_token member 330)" "$POOL_LO" "$POOL_HI" \
            "$BENCH_THREADS" "$(bench_token officer 330)" >"$OUT" 2>&1 || { cat "$OUT" >&2; bench_die "wrk failed in the soak"; }
        kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during the soak"
        record soak "$BENCH_SOAK_CONNS" "$seg" wrk seconds="$s"
        mix_rps="$(last_rate)"
        sleep 1
        bench_pool_advance api "$((BENCH_SOAK_CONNS + BENCH_THREADS))"
        left=$((left - s))
    done
    SOAK_END=$(date +%s)
    echo idle >"$PHASE"
fi
sleep 2
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
if [ -n "$PEER_SAMPLER_PID" ]; then
    kill "$PEER_SAMPLER_PID" 2>/dev/null || true
    wait "$PEER_SAMPLER_PID" 2>/dev/null || true
    PEER_SAMPLER_PID=""
fi
# the peer's RSS, max over its own runs, per connection count ("conns=kB ...")
PEER_RSS=""
if [ -s "$PEER_RSS_LOG" ]; then
    PEER_RSS="$(awk '$2 ~ /^peer_result_get@/ {split($2, a, "@"); if ($3 > m[a[2]]) m[a[2]] = $3} END {for (c in m) printf "%s=%s ", c, m[c]}' "$PEER_RSS_LOG")"
fi

# ------------------------------------------------------------------ report

META="$BENCH_TMP/meta.json"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --verify -q HEAD 2>/dev/null || echo none)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1 || true)"
SERVER_DB_CONNS_LIST=""
for c in "${!SERVER_DB_CONNS[@]}"; do SERVER_DB_CONNS_LIST+="$c=${SERVER_DB_CONNS[$c]} "; done
STARTED_AT="$STARTED_AT" FINISHED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    GIT_COMMIT="$GIT_COMMIT" GIT_DIRTY="$GIT_DIRTY" \
    LOADAVG_START="$LOADAVG_START" LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
    NPROC="$(nproc)" KERNEL="$(uname -r)" \
    V_WRK="$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2 || true)" \
    V_NGINX="$(nginx -v 2>&1 | sed 's/^nginx version: //' || true)" \
    V_POSTGRES="$("$PG_BIN/postgres" --version)" V_PGBENCH="$("$PG_BIN/pgbench" --version)" \
    CONNS="${CONNS_LIST[*]}" HIGH="${HIGH_LIST[*]}" SECONDS_="$BENCH_SECONDS" REPS="$BENCH_REPS" WARMUP="$BENCH_WARMUP" \
    THREADS="$BENCH_THREADS" RUSH_CONNS="$(if has_fig rush; then echo "$BENCH_RUSH_CONNS"; fi)" REGION_CODE="$BENCH_REGION_CODE" RESULT_IDS="$BENCH_RESULT_IDS" QUICK="$BENCH_QUICK" FIGS="${FIG_LIST[*]}" \
    Y_THREADS="$YIZHAN_LOOPS" PG_MAXCONN="$PG_MAXCONN" DBCONNS="$SERVER_DB_CONNS_LIST" \
    SOAK_SECONDS="$BENCH_SOAK_SECONDS" SOAK_CONNS="$BENCH_SOAK_CONNS" SOAK_WARMUP="$BENCH_SOAK_WARMUP" \
    SOAK_START="$SOAK_START" SOAK_END="$SOAK_END" SERVER_NOFILE="$SERVER_NOFILE" WRK_NOFILE="$WRK_NOFILE" \
    D_RESULTS="$BENCH_RESULTS" D_NEEDS="$BENCH_NEEDS" D_CONTRACTS="$BENCH_CONTRACTS" D_SOURCE="$DATA_SOURCE" \
    D_KEY="$DATA_KEY" RES_LO="$RES_LO" RES_HI="$RES_HI" T_DATA="$T_DATA" T_RUNS="$T_RUNS" \
    SEARCH_N="$BENCH_SEARCH_QUERIES" SLOW_TMO="$BENCH_SLOW_TIMEOUT" PGOPTS="$PGB_OPTIONS" PEER_RSS="$PEER_RSS" \
    V_NODE="$(node --version 2>/dev/null || true)" PEER_DB="${PEER_DB_CONNS:-}" \
    python3 - "$PGB" "$SEARCH_PATHS" "$META" <<'EOF'
import glob, json, os, sys
e = os.environ
pgb, paths, out = sys.argv[1:]
stmts = {}
for f in sorted(glob.glob(os.path.join(pgb, "*.json"))):
    d = json.load(open(f, encoding="utf-8"))
    stmts[d["figure"]] = d
meta = {
    "started_at": e["STARTED_AT"], "finished_at": e["FINISHED_AT"],
    "git": {"commit": e["GIT_COMMIT"], "dirty": bool(e["GIT_DIRTY"])},
    "machine": {"nproc": int(e["NPROC"]), "kernel": e["KERNEL"],
                "loadavg_start": e["LOADAVG_START"], "loadavg_end": e["LOADAVG_END"]},
    "tools": {"wrk": e["V_WRK"], "nginx": e["V_NGINX"], "postgres": e["V_POSTGRES"], "pgbench": e["V_PGBENCH"]},
    "settings": {"conns": [int(c) for c in e["CONNS"].split()], "high_conns": [int(c) for c in e["HIGH"].split()],
                 "seconds": int(e["SECONDS_"]), "reps": int(e["REPS"]), "warmup": int(e["WARMUP"]),
                 "threads": int(e["THREADS"]), "rush_conns": int(e["RUSH_CONNS"]) if e["RUSH_CONNS"] else None, "quick": e["QUICK"] == "1", "figures": e["FIGS"].split(),
                 "region_code": e["REGION_CODE"], "result_ids": e["RESULT_IDS"], "yizhan_threads": int(e["Y_THREADS"]),
                 "search_queries": int(e["SEARCH_N"]), "slow_timeout_s": int(e["SLOW_TMO"]),
                 "soak": {"seconds": int(e["SOAK_SECONDS"]), "conns": int(e["SOAK_CONNS"]),
                          "warmup": int(e["SOAK_WARMUP"]), "start": int(e["SOAK_START"]), "end": int(e["SOAK_END"])},
                 "fd_limits": {"yizhan": e["SERVER_NOFILE"], "wrk": e["WRK_NOFILE"]},
                 "pgbench_session": e["PGOPTS"],
                 "postgres": "Unix socket, shared_buffers=256MB, max_connections=%s, fsync=on" % e["PG_MAXCONN"]},
    "data": {"results": int(e["D_RESULTS"]), "needs": int(e["D_NEEDS"]), "contracts": int(e["D_CONTRACTS"]),
             "source": e["D_SOURCE"], "key": e["D_KEY"], "result_ids": [int(e["RES_LO"]), int(e["RES_HI"])]},
    "durations_s": {"data": int(e["T_DATA"]), "runs": int(e["T_RUNS"])},
    "search_paths": [l.strip() for l in open(paths, encoding="utf-8") if l.strip()],
    "anchors": stmts,
    "server_db_connections": {k: int(v) for k, v in (kv.split("=") for kv in e["DBCONNS"].split())},
    "peer": {"node": e["V_NODE"], "db_connections": int(e["PEER_DB"]) if e["PEER_DB"] else None,
             "rss_max_kb": {k: int(v) for k, v in (kv.split("=") for kv in e["PEER_RSS"].split())}},
}
json.dump(meta, open(out, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
EOF

RESULT_JSON="$BENCH_RESULTS_DIR/perf-$STAMP.json"
status=0
python3 "$BENCH_DIR/lib/report.py" "$RAW" "$RSS_LOG" "$META" "$RESULT_JSON" || status=$?
if [ -s "$STREAM_RAW" ]; then
    # the stream's table, added to the JSON; its enforced floors: equal to the scan, no error
    echo
    python3 - "$BENCH_DIR/search" "$STREAM_RAW" "$((BENCH_RESULTS + BENCH_NEEDS))" "$RESULT_JSON" <<'EOF' || status=1
import json, sys
sys.path.insert(0, sys.argv[1])
import stream_report
text, res = stream_report.table(sys.argv[2], "perf", int(sys.argv[3]))
print(text)
out = json.load(open(sys.argv[4], encoding="utf-8"))
out["stream"] = res
json.dump(out, open(sys.argv[4], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
sys.exit(0 if res["floors"]["equal_to_scan"]["pass"] and res["floors"]["no_errors"]["pass"] else 1)
EOF
fi
REPORTED=1
if [ "$status" -ne 0 ] && [ "$BENCH_ENFORCE" != 1 ]; then
    bench_log "floors not met (BENCH_ENFORCE=0: exiting 0)"
    status=0
fi
exit "$status"
