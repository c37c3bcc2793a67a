#!/usr/bin/env bash
# bench/run.sh — the foundation benchmark (run by `make bench`, or standalone
# from anywhere: `bash bench/run.sh`).
#
# In one run it starts its own throwaway PostgreSQL 15, yizhan and nginx, then
# measures, with the same wrk connections, interleaved run by run:
#   nginx  GET /livez (fixed 200)          — anchor for yizhan's HTTP path
#   yizhan GET /livez
#   yizhan GET /api/v1/codes/regions/{code}  (one row by key)
#   pgbench running the server's own SQL for that GET over the same kind of
#   connection (Unix socket, prepared)    — anchor for the database path
# and prints medians and the ratios against the floors (bench/README.md).
# Everything it starts is stopped, and its temp dir removed, on exit.
#
# Knobs (environment):
#   BENCH_CONNS="64"        connection counts to measure, a space-separated list ("64 256")
#   BENCH_SECONDS=10        seconds per measured run
#   BENCH_REPS=3            runs per figure (medians are taken over these)
#   BENCH_WARMUP=2          seconds of warm-up per figure and connection count (0: none)
#   BENCH_THREADS=2         wrk -t and pgbench -j
#   BENCH_REGION_CODE=511900  the region fetched by both the GET and pgbench
#   BENCH_SQL_STMT=ST_REGION  the statement in server/api/codes.c that pgbench runs
#   BENCH_ENFORCE=1         exit 1 when a floor fails (0: report only, exit 0)
#   BENCH_KEEP_TMP=0        1: keep the temp dir (logs, configs) for a look afterwards
#   BENCH_RESULTS_DIR=bench/results   where foundation-<UTC timestamp>.json goes
#   YIZHAN_BIN=build/yizhan the server binary (built by `make`; this script never builds)
#   YIZHAN_THREADS=2        the server's worker threads
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$BENCH_DIR/lib/common.sh"

BENCH_CONNS="${BENCH_CONNS:-64}"
BENCH_SECONDS="${BENCH_SECONDS:-10}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_REGION_CODE="${BENCH_REGION_CODE:-511900}"
BENCH_SQL_STMT="${BENCH_SQL_STMT:-ST_REGION}"
BENCH_ENFORCE="${BENCH_ENFORCE:-1}"
BENCH_KEEP_TMP="${BENCH_KEEP_TMP:-0}"
BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
YIZHAN_THREADS="${YIZHAN_THREADS:-2}"

for v in BENCH_SECONDS BENCH_REPS BENCH_WARMUP BENCH_THREADS YIZHAN_THREADS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bench_die "$v must be a whole number, not '${!v}'"
done
if [ "$BENCH_SECONDS" -lt 1 ] || [ "$BENCH_REPS" -lt 1 ] || [ "$BENCH_THREADS" -lt 1 ]; then
    bench_die "BENCH_SECONDS, BENCH_REPS and BENCH_THREADS must be at least 1"
fi
read -r -a CONNS_LIST <<<"$BENCH_CONNS"
[ "${#CONNS_LIST[@]}" -ge 1 ] || bench_die "BENCH_CONNS is empty"
MAX_CONNS=0
for c in "${CONNS_LIST[@]}"; do
    if ! [[ "$c" =~ ^[0-9]+$ ]] || [ "$c" -lt "$BENCH_THREADS" ]; then
        bench_die "BENCH_CONNS entries must be numbers >= BENCH_THREADS ($BENCH_THREADS), not '$c'"
    fi
    if [ "$c" -gt "$MAX_CONNS" ]; then MAX_CONNS="$c"; fi
done
[[ "$BENCH_REGION_CODE" =~ ^[0-9]{6}$ ]] || bench_die "BENCH_REGION_CODE must be six digits"

[ -x "$YIZHAN_BIN" ] || bench_die "$YIZHAN_BIN not found or not executable: build it first (make)"
# Absolute paths: the server is started from the repo root.
YIZHAN_BIN="$(cd "$(dirname "$YIZHAN_BIN")" && pwd)/$(basename "$YIZHAN_BIN")"
mkdir -p "$BENCH_RESULTS_DIR"
BENCH_RESULTS_DIR="$(cd "$BENCH_RESULTS_DIR" && pwd)"

bench_ensure_tools

# ------------------------------------------------------------------ setup

BENCH_TMP=""
SERVER_PID=""
NGINX_PID=""
PG_STARTED=0
PG_DIR=""
REPORTED=0   # 1 once the report ran: a failed floor then needs no log tails

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    bench_stop_pid "$SERVER_PID"
    bench_stop_pid "$NGINX_PID"
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
        if [ "$BENCH_KEEP_TMP" = 1 ]; then
            bench_log "kept $BENCH_TMP"
        else
            rm -rf "$BENCH_TMP"
        fi
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

bench_log "PostgreSQL 15 in $BENCH_TMP/pg"
bench_pg_start "$((MAX_CONNS + 40))"
DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"

# The server finds migrations/, web/ and api/ relative to its working directory
# by default: run it from the repo root, and name them absolutely as well.
# Keys go to the temp dir so that a run leaves nothing behind in the tree.
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations"
export YIZHAN_WEB_ROOT="$ROOT/web"
export YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys"

bench_log "yizhan migrate"
(cd "$ROOT" && YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LOG_LEVEL=warn "$YIZHAN_BIN" migrate) \
    >"$BENCH_TMP/migrate.log" 2>&1 || bench_die "yizhan migrate failed"

if [ "$(bench_psql "SELECT count(*) FROM regions WHERE code = '$BENCH_REGION_CODE'")" != 1 ]; then
    bench_die "region $BENCH_REGION_CODE is not in table regions (set BENCH_REGION_CODE)"
fi

# The pgbench anchor must run the server's own statement: take it from the
# source (ST_REGION in server/api/codes.c); fall back to the committed copy,
# checked against the source, when it cannot be found there.
SQL_FILE="$BENCH_TMP/region_get.sql"
CODES_C="$ROOT/server/api/codes.c"
if python3 "$BENCH_DIR/lib/sqlcheck.py" extract "$CODES_C" "$BENCH_SQL_STMT" "$SQL_FILE"; then
    SQL_CHECK=extracted
    if ! python3 "$BENCH_DIR/lib/sqlcheck.py" check "$CODES_C" "$BENCH_DIR/lib/region_get.sql" 2>/dev/null; then
        bench_log "note: bench/lib/region_get.sql (the fallback copy) differs from $BENCH_SQL_STMT; using the source's"
    fi
else
    cp "$BENCH_DIR/lib/region_get.sql" "$SQL_FILE"
    if [ ! -f "$CODES_C" ]; then
        SQL_CHECK=unchecked
        bench_log "WARNING: $CODES_C not found; pgbench runs bench/lib/region_get.sql unchecked"
    elif python3 "$BENCH_DIR/lib/sqlcheck.py" check "$CODES_C" "$SQL_FILE"; then
        SQL_CHECK=match
    else
        SQL_CHECK=mismatch
        bench_log "WARNING: pgbench runs bench/lib/region_get.sql, which is not the server's statement"
    fi
fi
bench_log "pgbench statement ($SQL_CHECK): $(grep -v '^--' "$SQL_FILE")"

SECRET_FILE="$BENCH_TMP/jwt.secret"
(umask 077 && head -c 48 /dev/urandom >"$SECRET_FILE")
chmod 0600 "$SECRET_FILE"

HTTP_PORT="$(bench_free_port)"
BASE="http://127.0.0.1:$HTTP_PORT"
bench_log "yizhan serve on $BASE (YIZHAN_THREADS=$YIZHAN_THREADS)"
cd "$ROOT"
YIZHAN_DATABASE_URL="$DB_URL" \
    YIZHAN_LISTEN="127.0.0.1:$HTTP_PORT" \
    YIZHAN_THREADS="$YIZHAN_THREADS" \
    YIZHAN_JWT_SECRET_FILE="$SECRET_FILE" \
    YIZHAN_LOG_LEVEL=warn \
    "$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
bench_wait_http "$BASE/readyz" 20 "$SERVER_PID" || bench_die "yizhan did not answer 200 on /readyz within 20 s"

bench_nginx_start
NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
bench_log "nginx on $NGINX_BASE"

REGION_PATH="/api/v1/codes/regions/$BENCH_REGION_CODE"
for url in "$BASE/livez" "$BASE$REGION_PATH" "$NGINX_BASE/livez"; do
    code="$(bench_http_code "$url")"
    [ "$code" = 200 ] || bench_die "GET $url answered $code, not 200"
done
bench_log "GET $REGION_PATH -> $(curl -s --max-time 2 "$BASE$REGION_PATH")"

# ------------------------------------------------------------------ runs

RAW="$BENCH_TMP/raw.jsonl"
: >"$RAW"
OUT="$BENCH_TMP/out.txt"
declare -A SERVER_DB_CONNS=()

# run_wrk FIGURE URL CONNS SECONDS [RUN] — one wrk run; with RUN, its parsed line goes to $RAW.
run_wrk() {
    local figure="$1" url="$2" conns="$3" secs="$4" run="${5:-}"
    timeout -k 5 "$((secs + 30))" wrk -t"$BENCH_THREADS" -c"$conns" -d"${secs}s" --latency "$url" >"$OUT" 2>&1 \
        || { cat "$OUT" >&2; bench_die "wrk failed on $url"; }
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during the $figure run"
    [ -n "$run" ] || return 0
    python3 "$BENCH_DIR/lib/parse.py" wrk "$OUT" figure="$figure" conns="$conns" run="$run" >>"$RAW" \
        || bench_die "could not parse wrk output"
    bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-20s run %d: %10.0f req/s  p50 %s ms  p99 %s ms  non-2xx %d" % (r["figure"], r["run"], r["rps"], r.get("p50_ms"), r.get("p99_ms"), r["non_2xx"]))')"
}

# run_pgbench CONNS SECONDS [RUN]
run_pgbench() {
    local conns="$1" secs="$2" run="${3:-}"
    timeout -k 5 "$((secs + 60))" "$PG_BIN/pgbench" -n -M prepared -c "$conns" -j "$BENCH_THREADS" -T "$secs" \
        -D code="$BENCH_REGION_CODE" -f "$SQL_FILE" -h "$PG_DIR" -p "$PG_PORT" -U postgres yizhan >"$OUT" 2>&1 \
        || { cat "$OUT" >&2; bench_die "pgbench failed"; }
    [ -n "$run" ] || return 0
    python3 "$BENCH_DIR/lib/parse.py" pgbench "$OUT" figure=pgbench_region_sql conns="$conns" run="$run" >>"$RAW" \
        || bench_die "could not parse pgbench output"
    bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%-20s run %d: %10.0f tps    avg %s ms  failed %d" % (r["figure"], r["run"], r["rps"], r.get("avg_ms"), r["failed"]))')"
}

# The server's own database connections, counted while nothing else is connected.
count_server_db_conns() {
    bench_psql "SELECT count(*) FROM pg_stat_activity
                WHERE datname = 'yizhan' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
}

for conns in "${CONNS_LIST[@]}"; do
    bench_log "== $conns connections: ${BENCH_REPS} x (nginx, livez, region, pgbench) x ${BENCH_SECONDS}s"
    if [ "$BENCH_WARMUP" -gt 0 ]; then
        run_wrk warmup "$NGINX_BASE/livez" "$conns" "$BENCH_WARMUP"
        run_wrk warmup "$BASE/livez" "$conns" "$BENCH_WARMUP"
        run_wrk warmup "$BASE$REGION_PATH" "$conns" "$BENCH_WARMUP"
        run_pgbench "$conns" "$BENCH_WARMUP"
    fi
    # Interleaved (A B A B ...) so that drift on a shared machine hits every figure alike.
    for ((run = 1; run <= BENCH_REPS; run++)); do
        run_wrk nginx_livez "$NGINX_BASE/livez" "$conns" "$BENCH_SECONDS" "$run"
        run_wrk yizhan_livez "$BASE/livez" "$conns" "$BENCH_SECONDS" "$run"
        run_wrk yizhan_region_get "$BASE$REGION_PATH" "$conns" "$BENCH_SECONDS" "$run"
        if [ "$run" = 1 ]; then SERVER_DB_CONNS[$conns]="$(count_server_db_conns)"; fi
        run_pgbench "$conns" "$BENCH_SECONDS" "$run"
    done
done

# ------------------------------------------------------------------ report

META="$BENCH_TMP/meta.json"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --verify -q HEAD 2>/dev/null || echo none)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1 || true)"
SERVER_DB_CONNS_LIST=""
for c in "${!SERVER_DB_CONNS[@]}"; do SERVER_DB_CONNS_LIST+="$c=${SERVER_DB_CONNS[$c]} "; done
# Built in python from the environment so that every string is escaped properly.
STARTED_AT="$STARTED_AT" FINISHED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    GIT_COMMIT="$GIT_COMMIT" GIT_DIRTY="$GIT_DIRTY" \
    LOADAVG_START="$LOADAVG_START" LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
    NPROC="$(nproc)" KERNEL="$(uname -r)" \
    V_WRK="$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2 || true)" \
    V_NGINX="$(nginx -v 2>&1 | sed 's/^nginx version: //' || true)" \
    V_POSTGRES="$("$PG_BIN/postgres" --version)" V_PGBENCH="$("$PG_BIN/pgbench" --version)" \
    CONNS="${CONNS_LIST[*]}" SECONDS_="$BENCH_SECONDS" REPS="$BENCH_REPS" WARMUP="$BENCH_WARMUP" \
    THREADS="$BENCH_THREADS" REGION_CODE="$BENCH_REGION_CODE" REGION_PATH="$REGION_PATH" \
    Y_THREADS="$YIZHAN_THREADS" PG_MAXCONN="$((MAX_CONNS + 40))" SQL_CHECK="$SQL_CHECK" \
    DBCONNS="$SERVER_DB_CONNS_LIST" \
    python3 - "$SQL_FILE" "$META" <<'EOF'
import json, os, sys
e = os.environ
sql = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if l.strip() and not l.startswith("--")]
meta = {
    "started_at": e["STARTED_AT"], "finished_at": e["FINISHED_AT"],
    "git": {"commit": e["GIT_COMMIT"], "dirty": bool(e["GIT_DIRTY"])},
    "machine": {"nproc": int(e["NPROC"]), "kernel": e["KERNEL"],
                "loadavg_start": e["LOADAVG_START"], "loadavg_end": e["LOADAVG_END"]},
    "tools": {"wrk": e["V_WRK"], "nginx": e["V_NGINX"], "postgres": e["V_POSTGRES"], "pgbench": e["V_PGBENCH"]},
    "settings": {"conns": [int(c) for c in e["CONNS"].split()], "seconds": int(e["SECONDS_"]),
                 "reps": int(e["REPS"]), "warmup": int(e["WARMUP"]), "threads": int(e["THREADS"]),
                 "region_code": e["REGION_CODE"], "region_path": e["REGION_PATH"],
                 "yizhan_threads": int(e["Y_THREADS"]),
                 "postgres": "Unix socket, shared_buffers=256MB, max_connections=%s, fsync=on" % e["PG_MAXCONN"]},
    "sql": "\n".join(sql),
    # extracted (from server/api/codes.c) | match | mismatch | unchecked (bench/lib/region_get.sql used)
    "sql_check": e["SQL_CHECK"],
    "server_db_connections": {k: int(v) for k, v in (kv.split("=") for kv in e["DBCONNS"].split())},
}
json.dump(meta, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
EOF

mkdir -p "$BENCH_RESULTS_DIR"
RESULT_JSON="$BENCH_RESULTS_DIR/foundation-$STAMP.json"
status=0
python3 "$BENCH_DIR/lib/report.py" "$RAW" "$META" "$RESULT_JSON" || status=$?
REPORTED=1
if [ "$status" -ne 0 ] && [ "$BENCH_ENFORCE" != 1 ]; then
    bench_log "floors not met (BENCH_ENFORCE=0: exiting 0)"
    status=0
fi
exit "$status"
