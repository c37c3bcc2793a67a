#!/usr/bin/env bash
# bench/search/run.sh — the search benchmark (issues #4, #25).  Runnable from anywhere:
# `bash bench/search/run.sh [--listings N] [--only terms|stream|data]`.
#
#   --listings N   N listings, 4/5 results and 1/5 needs (default 100,000); above 100,000,
#                  N / SEARCH_COPIES generated and copied SEARCH_COPIES = ceil(N / 100,000) times
#                  (replicate.sql: tokenising through the triggers takes hours for a million)
#   --only terms   only steps 2-5 below (the three terms); --only stream: only step 6;
#   --only data    only step 1 (with SEARCH_DATA_CACHE: fill the cache)
#
# In one run it starts its own throwaway PostgreSQL 15 and yizhan, then:
#   1. generates 100,000 Chinese listings (bench/search/gen.py: titles and summaries from a
#      vocabulary of real technical terms with Zipf-like frequencies) and loads them straight
#      into the tables, as demo data is loaded, so the triggers index them;
#   2. picks three terms from that data (bench/search/terms.py): a rare two-character term, a
#      frequent two-character term, a four-character term of about 1 %;
#   3. checks, for each, that the API's complete result set (every page) equals a LIKE '%…%'
#      scan of the tables;
#   4. measures GET /api/v1/search?q=<term> with wrk at BENCH_CONNS connections (p50, p99, req/s),
#      as a client sends it (totals cached per search_stats_ttl_s, the default), and again with
#      the cache off (every request counts its total and facets);
#   5. measures the server's own statement for each term (bench/search/anchor.sh: the parameters
#      it sent for a cached and an uncached request) and the same terms done by a sequential
#      LIKE scan, pgbench with the same number of clients (latencies from pgbench's log);
#   6. the stream of new searches (issue #25, bench/search/stream.sh): thousands of distinct
#      searches, one to four words or filters only, some on later pages, none repeated, the
#      cache at its default; p50/p99/searches per second per class and pgbench of the same
#      statements; a sample of them checked page by page against a scan of the tables;
#   7. prints the tables and the floors and writes bench/results/search-<UTC timestamp>.json.
# Floors: API p99 <= 10 ms for each term; rare term >= 50x faster than the scan (p50); result
# sets equal to the scan's (the three terms and the stream's sample); no error in the stream.
# Exit 1 when one fails (BENCH_ENFORCE=0: report only).  The stream's latency and rate targets
# (stream_report.py) are reported as met or missed, not enforced.
#
# Knobs (environment):
#   STREAM_* (bench/search/stream.sh)  the stream's size, rounds and seed
#   SEARCH_RESULTS=80000 SEARCH_NEEDS=20000 SEARCH_ORGS=400 SEARCH_SEED=20260101   the data
#   BENCH_CONNS=16          wrk connections and pgbench clients
#   BENCH_SECONDS=8         seconds per measured run
#   BENCH_REPS=3            runs per figure (medians are taken)
#   BENCH_WARMUP=2          seconds of warm-up per term
#   BENCH_THREADS=2         wrk -t, pgbench -j
#   SEARCH_TERMS_JSON=FILE  the three terms as terms.py pick gives them, not picked (picking counts
#                           every term of the vocabulary: half an hour at 1,000,000 under load)
#   SEARCH_CHECK_PAGES=0    > 0: a term with more pages (of 100) is not checked against the scan
#                           (the frequent term at 1,000,000 has 8,000)
#   BENCH_ENFORCE=1         exit 1 when a floor fails
#   BENCH_KEEP_TMP=0        1: keep the temp dir (logs, data) afterwards
#   BENCH_PG_SHARED_BUFFERS, BENCH_PG_CACHE_SIZE  the cluster's shared_buffers and effective_cache_size
#                           (256MB / 1GB; above 100,000 listings 4GB / 12GB)
#   SEARCH_DATA_CACHE=DIR   keep the loaded cluster in DIR and start later runs from a copy of it
#   SEARCH_COPIES=1         copies of every generated listing (replicate.sql); a copied cluster
#                           is made from the cached generated one when there is one
#   BENCH_RESULTS_DIR=bench/results
#   YIZHAN_BIN=build/yizhan (this script never builds), YIZHAN_THREADS=2
set -euo pipefail

SEARCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(cd "$SEARCH_DIR/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$BENCH_DIR/lib/common.sh"

SEARCH_ONLY=""
while [ "$#" -gt 0 ]; do
    case "$1" in
    --listings)
        if ! [[ "${2:-}" =~ ^[0-9]+$ ]] || [ "$2" -lt 100 ]; then bench_die "--listings needs a number >= 100"; fi
        # beyond 100,000 the generated listings are copied (SEARCH_COPIES, replicate.sql)
        SEARCH_COPIES=$((($2 + 99999) / 100000))
        per_copy=$(($2 / SEARCH_COPIES))
        SEARCH_RESULTS=$((per_copy * 4 / 5))
        SEARCH_NEEDS=$((per_copy - SEARCH_RESULTS))
        shift 2
        ;;
    --only)
        case "${2:-}" in terms | stream | data) SEARCH_ONLY="$2" ;; *) bench_die "--only terms, stream or data" ;; esac
        shift 2
        ;;
    *) bench_die "usage: bench/search/run.sh [--listings N] [--only terms|stream|data]" ;;
    esac
done
# Above 100,000 listings the data outgrows the bench cluster's default memory (256MB of
# shared_buffers against 8 GB on disk at 1,000,000): a new search read its rows from the OS page
# cache.  The bench cluster then gets 4GB (of this machine's 23 GB; deploy/README.md says the same
# for a deployment of that size).  BENCH_PG_SHARED_BUFFERS / BENCH_PG_CACHE_SIZE override it.
if [ "${SEARCH_COPIES:-1}" -gt 1 ]; then
    BENCH_PG_SHARED_BUFFERS="${BENCH_PG_SHARED_BUFFERS:-4GB}"
    BENCH_PG_CACHE_SIZE="${BENCH_PG_CACHE_SIZE:-12GB}"
fi
SEARCH_RESULTS="${SEARCH_RESULTS:-80000}"
SEARCH_NEEDS="${SEARCH_NEEDS:-20000}"
SEARCH_ORGS="${SEARCH_ORGS:-400}"
SEARCH_SEED="${SEARCH_SEED:-20260101}"
SEARCH_COPIES="${SEARCH_COPIES:-1}"
BENCH_CONNS="${BENCH_CONNS:-16}"
BENCH_SECONDS="${BENCH_SECONDS:-8}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_ENFORCE="${BENCH_ENFORCE:-1}"
BENCH_KEEP_TMP="${BENCH_KEEP_TMP:-0}"
BENCH_RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
YIZHAN_THREADS="${YIZHAN_THREADS:-2}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for v in SEARCH_RESULTS SEARCH_NEEDS SEARCH_ORGS SEARCH_SEED SEARCH_COPIES BENCH_CONNS BENCH_SECONDS BENCH_REPS BENCH_WARMUP \
    BENCH_THREADS YIZHAN_THREADS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || bench_die "$v must be a whole number, not '${!v}'"
done
[ "$BENCH_CONNS" -ge "$BENCH_THREADS" ] || bench_die "BENCH_CONNS must be at least BENCH_THREADS"
[ -x "$YIZHAN_BIN" ] || bench_die "$YIZHAN_BIN not found or not executable: build it first (make)"
YIZHAN_BIN="$(cd "$(dirname "$YIZHAN_BIN")" && pwd)/$(basename "$YIZHAN_BIN")"
LISTINGS=$(((SEARCH_RESULTS + SEARCH_NEEDS) * SEARCH_COPIES))   # in the database, copies and all
mkdir -p "$BENCH_RESULTS_DIR"
BENCH_RESULTS_DIR="$(cd "$BENCH_RESULTS_DIR" && pwd)"

bench_ensure_tools

BENCH_TMP=""
SERVER_PID=""
PG_STARTED=0
PG_DIR=""
REPORTED=0

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    bench_stop_pid "$SERVER_PID"
    bench_pg_stop
    if [ "$rc" -ne 0 ] && [ "$REPORTED" = 0 ] && [ -n "$BENCH_TMP" ]; then
        local f
        for f in "$BENCH_TMP/server.log" "$BENCH_TMP/migrate.log" "$BENCH_TMP/load.log" "$PG_DIR/postgres.log"; do
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

BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/yizhan-bench-search.XXXXXX")"
chmod 0755 "$BENCH_TMP"
STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ database and data

# With SEARCH_DATA_CACHE=DIR the loaded cluster is kept in DIR (keyed by the data's size and
# seed and by the generator) and later runs start from a copy of it; the migrations run again,
# so later migrations and changed SQL functions are in place.
CACHE_DIR="" BASE_CACHE_DIR=""
if [ -n "${SEARCH_DATA_CACHE:-}" ]; then
    mkdir -p "$SEARCH_DATA_CACHE"
    CACHE_KEY="$(cat "$SEARCH_DIR/gen.py" "$SEARCH_DIR/vocab.py" | sha256sum | cut -c1-12)"
    BASE_CACHE_DIR="$(cd "$SEARCH_DATA_CACHE" && pwd)/search-$SEARCH_RESULTS-$SEARCH_NEEDS-$SEARCH_ORGS-$SEARCH_SEED-$CACHE_KEY"
    CACHE_DIR="$BASE_CACHE_DIR"
    if [ "$SEARCH_COPIES" -gt 1 ]; then
        CACHE_DIR="$BASE_CACHE_DIR-x$SEARCH_COPIES-$(sha256sum <"$SEARCH_DIR/replicate.sql" | cut -c1-8)"
    fi
fi
DB_URL=""
PSQL=()
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations" YIZHAN_WEB_ROOT="$ROOT/web" YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys"
migrate() {
    bench_log "yizhan migrate"
    (cd "$ROOT" && YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LOG_LEVEL=warn "$YIZHAN_BIN" migrate) \
        >"$BENCH_TMP/migrate.log" 2>&1 || bench_die "yizhan migrate failed"
}
pg_up() {  # start the cluster in $BENCH_TMP/pg/data
    bench_pg_run "$((BENCH_CONNS + 40))"
    DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
    PSQL=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan)
}

PG_DIR="$BENCH_TMP/pg"
if [ -n "$CACHE_DIR" ] && [ -f "$CACHE_DIR/complete" ]; then
    bench_log "PostgreSQL 15 in $BENCH_TMP/pg, the data from $CACHE_DIR"
    mkdir -p "$PG_DIR"
    chmod 0700 "$PG_DIR"
    cp -a "$CACHE_DIR/data" "$PG_DIR/data"
    if bench_is_root; then chown -R postgres: "$PG_DIR"; fi
    pg_up
    migrate
    # a migration since the cluster was cached may have rewritten rows (0019 added tags):
    # the dead versions would stay in every scan until autovacuum comes
    bench_psql "VACUUM search_docs" >/dev/null
    LOAD_S=0
elif [ "$SEARCH_COPIES" -gt 1 ] && [ -f "$BASE_CACHE_DIR/complete" ]; then
    # the generated listings from the cache, copied SEARCH_COPIES times
    bench_log "PostgreSQL 15 in $BENCH_TMP/pg, the data from $BASE_CACHE_DIR, copied $SEARCH_COPIES times"
    mkdir -p "$PG_DIR"
    chmod 0700 "$PG_DIR"
    cp -a "$BASE_CACHE_DIR/data" "$PG_DIR/data"
    if bench_is_root; then chown -R postgres: "$PG_DIR"; fi
    pg_up
    migrate
    GIN_DEF="$(bench_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'search_docs_tsv_idx'")"
    [ -n "$GIN_DEF" ] || bench_die "index search_docs_tsv_idx not found"
    bench_psql "DROP INDEX search_docs_tsv_idx" >/dev/null
    LOAD_T0=$(date +%s)
    "${PSQL[@]}" -X -q -v copies="$SEARCH_COPIES" -f "$SEARCH_DIR/replicate.sql" >"$BENCH_TMP/load.log" 2>&1 \
        || bench_die "copying the listings failed"
    bench_psql "SET maintenance_work_mem = '512MB'; $GIN_DEF" >/dev/null
    bench_psql "VACUUM ANALYZE" >/dev/null
    LOAD_S=$(($(date +%s) - LOAD_T0))
    bench_log "keeping the cluster in $CACHE_DIR"
    bench_pg_stop
    rm -rf "$CACHE_DIR"
    mkdir -p "$CACHE_DIR"
    cp -a "$PG_DIR/data" "$CACHE_DIR/data"
    touch "$CACHE_DIR/complete"
    pg_up
else
    bench_log "PostgreSQL 15 in $BENCH_TMP/pg"
    bench_pg_start "$((BENCH_CONNS + 40))"
    DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
    PSQL=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan)
    migrate

    bench_log "generating $SEARCH_RESULTS results and $SEARCH_NEEDS needs (seed $SEARCH_SEED)"
    bench_psql "SELECT code FROM regions WHERE level = 3 ORDER BY code" >"$BENCH_TMP/regions.txt"
    "$PY" "$SEARCH_DIR/gen.py" --results "$SEARCH_RESULTS" --needs "$SEARCH_NEEDS" --orgs "$SEARCH_ORGS" \
        --seed "$SEARCH_SEED" --regions "$BENCH_TMP/regions.txt" >"$BENCH_TMP/data.sql" || bench_die "gen.py failed"

    # The rows go in through the tables' triggers (each is tokenised and indexed by the database, as
    # demo data is).  Only the GIN index is set aside during the load and rebuilt after it, with its
    # own definition: building it once is much faster than growing it row by row, and the index
    # that results is the same.
    GIN_DEF="$(bench_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'search_docs_tsv_idx'")"
    [ -n "$GIN_DEF" ] || bench_die "index search_docs_tsv_idx not found"
    bench_psql "DROP INDEX search_docs_tsv_idx" >/dev/null
    LOAD_T0=$(date +%s)
    "${PSQL[@]}" -X -q -v ON_ERROR_STOP=1 -f "$BENCH_TMP/data.sql" >"$BENCH_TMP/load.log" 2>&1 \
        || bench_die "loading failed"
    rm -f "$BENCH_TMP/data.sql"
    if [ "$SEARCH_COPIES" -gt 1 ]; then
        "${PSQL[@]}" -X -q -v copies="$SEARCH_COPIES" -f "$SEARCH_DIR/replicate.sql" >>"$BENCH_TMP/load.log" 2>&1 \
            || bench_die "copying the listings failed"
    fi
    bench_psql "SET maintenance_work_mem = '512MB'; $GIN_DEF" >/dev/null
    bench_psql "VACUUM ANALYZE" >/dev/null
    LOAD_S=$(($(date +%s) - LOAD_T0))
    if [ -n "$CACHE_DIR" ]; then
        bench_log "keeping the cluster in $CACHE_DIR"
        bench_pg_stop
        rm -rf "$CACHE_DIR"
        mkdir -p "$CACHE_DIR"
        cp -a "$PG_DIR/data" "$CACHE_DIR/data"
        touch "$CACHE_DIR/complete"
        pg_up
    fi
fi
bench_log "loaded and indexed in ${LOAD_S}s: $(bench_psql "SELECT count(*) FROM search_docs") listings in the index"
if [ "$SEARCH_ONLY" = data ]; then
    REPORTED=1
    exit 0
fi

TERMS_JSON="$BENCH_TMP/terms.json"
echo '{}' >"$TERMS_JSON"
if [ "$SEARCH_ONLY" != stream ]; then
    if [ -n "${SEARCH_TERMS_JSON:-}" ]; then
        cp "$SEARCH_TERMS_JSON" "$TERMS_JSON"   # given: no counting of the whole vocabulary
    else
        "$PY" "$SEARCH_DIR/terms.py" pick "${PSQL[@]}" >"$TERMS_JSON" || bench_die "picking terms failed"
    fi
    term() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["term"])' "$TERMS_JSON" "$1"; }
    RARE="$(term rare)"
    FREQ="$(term frequent)"
    FOUR="$(term four)"
    bench_log "terms: rare '$RARE', frequent '$FREQ', four-character '$FOUR' ($(cat "$TERMS_JSON"))"
fi

# ------------------------------------------------------------------ server

SECRET_FILE="$BENCH_TMP/jwt.secret"
(umask 077 && head -c 48 /dev/urandom >"$SECRET_FILE")
HTTP_PORT="$(bench_free_port)"
BASE="http://127.0.0.1:$HTTP_PORT"
bench_log "yizhan serve on $BASE (YIZHAN_THREADS=$YIZHAN_THREADS)"
cd "$ROOT"
YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LISTEN="127.0.0.1:$HTTP_PORT" YIZHAN_THREADS="$YIZHAN_THREADS" \
    YIZHAN_JWT_SECRET_FILE="$SECRET_FILE" YIZHAN_LOG_LEVEL=warn \
    "$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
bench_wait_http "$BASE/readyz" 20 "$SERVER_PID" || bench_die "yizhan did not answer 200 on /readyz within 20 s"

RAW="$BENCH_TMP/raw.jsonl"
: >"$RAW"
OUT="$BENCH_TMP/out.txt"
enc() { "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# ------------------------------------------------------------------ equality with the scan

if [ "$SEARCH_ONLY" != stream ]; then
for t in "$RARE" "$FREQ" "$FOUR"; do
    "$PY" "$SEARCH_DIR/terms.py" check "$BASE" "$t" "${PSQL[@]}" >>"$RAW" || bench_die "checking '$t' failed"
    bench_log "  $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%s: api %d, scan %s, %s (%d pages)" % (r["term"], r["api"], r["scan"], {True: "equal", False: "DIFFERENT", None: "not checked"}[r["equal"]], r["pages"]))')"
done

fi

# ------------------------------------------------------------------ latency

run_wrk() { # FIGURE TERM RUN SECONDS
    local url="$BASE/api/v1/search?q=$(enc "$2")"
    timeout -k 5 "$(($4 + 30))" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"${4}s" --latency "$url" >"$OUT" 2>&1 \
        || { cat "$OUT" >&2; bench_die "wrk failed on $url"; }
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during the $1 run"
    [ "$3" -gt 0 ] || return 0
    "$PY" "$BENCH_DIR/lib/parse.py" wrk "$OUT" figure="$1" term="$2" run="$3" conns="$BENCH_CONNS" >>"$RAW" \
        || bench_die "could not parse wrk output"
    bench_log "  $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%-13s %-8s run %d: %8.0f req/s  p50 %s ms  p99 %s ms  non-2xx %d" % (r["figure"], r["term"], r["run"], r["rps"], r.get("p50_ms"), r.get("p99_ms"), r["non_2xx"]))')"
}

SCAN_SQL="$BENCH_TMP/scan.sql"
cat >"$SCAN_SQL" <<'EOF'
SELECT count(*) FROM (
    SELECT 1 FROM results WHERE status IN ('published', 'under_notice')
       AND (title LIKE :pat OR summary LIKE :pat OR array_to_string(keywords, E'\n') LIKE :pat)
    UNION ALL
    SELECT 1 FROM needs WHERE status = 'open'
       AND (deadline IS NULL OR deadline >= (now() AT TIME ZONE 'Asia/Shanghai')::date)
       AND (title LIKE :pat OR description LIKE :pat OR array_to_string(keywords, E'\n') LIKE :pat)) hits;
EOF

run_scan() { # TERM RUN
    local dir="$BENCH_TMP/pgbench-$2-$RANDOM"
    mkdir -p "$dir"
    (cd "$dir" && timeout -k 5 "$((BENCH_SECONDS + 120))" "$PG_BIN/pgbench" -n -M prepared -c "$BENCH_CONNS" \
        -j "$BENCH_THREADS" -T "$BENCH_SECONDS" -D pat="%$1%" -f "$SCAN_SQL" -l -h "$PG_DIR" -p "$PG_PORT" \
        -U postgres yizhan) >"$OUT" 2>&1 || { cat "$OUT" >&2; bench_die "pgbench failed"; }
    "$PY" "$BENCH_DIR/lib/parse.py" pgblog "$dir" "$OUT" tool=scan figure=scan term="$1" run="$2" >>"$RAW"
    bench_log "  $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%-13s %-8s run %d: %8.1f tps     p50 %s ms  p99 %s ms  (%d scans)" % (r["figure"], r["term"], r["run"], r["tps"] or 0, r["p50_ms"], r["p99_ms"], r["n"]))')"
}

if [ "$SEARCH_ONLY" != stream ]; then
set_ttl() { bench_psql "UPDATE settings SET value = '$1' WHERE key = 'search_stats_ttl_s'" >/dev/null; }

if [ "$BENCH_WARMUP" -gt 0 ]; then
    for t in "$RARE" "$FREQ" "$FOUR"; do run_wrk warmup "$t" 0 "$BENCH_WARMUP"; done
fi
bench_log "== API at $BENCH_CONNS connections, $BENCH_REPS x ${BENCH_SECONDS}s per term, interleaved"
for ((run = 1; run <= BENCH_REPS; run++)); do
    for t in "$RARE" "$FREQ" "$FOUR"; do run_wrk api "$t" "$run" "$BENCH_SECONDS"; done
done
bench_log "== the same with the totals cache off (search_stats_ttl_s = 0)"
set_ttl 0
for ((run = 1; run <= BENCH_REPS; run++)); do
    for t in "$RARE" "$FREQ" "$FOUR"; do run_wrk api_uncached "$t" "$run" "$BENCH_SECONDS"; done
done
# pgbench of the server's own statement per term (bench/search/anchor.sh), the cache still off
# shellcheck source-path=SCRIPTDIR source=anchor.sh
. "$SEARCH_DIR/anchor.sh"
terms_anchor
set_ttl 10
bench_log "== LIKE scan, pgbench at $BENCH_CONNS clients"
for t in "$RARE" "$FREQ" "$FOUR"; do run_scan "$t" 1; done
fi

# ------------------------------------------------------------------ the stream of new searches

if [ "$SEARCH_ONLY" != terms ]; then
    bench_log "== the stream of new searches at $LISTINGS listings"
    # shellcheck source-path=SCRIPTDIR source=stream.sh
    . "$SEARCH_DIR/stream.sh"
    stream_bench search
fi

# ------------------------------------------------------------------ report

META="$BENCH_TMP/meta.json"
GIT_COMMIT="$(git -C "$ROOT" rev-parse --verify -q HEAD 2>/dev/null || echo none)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1 || true)"
STARTED_AT="$STARTED_AT" FINISHED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)" GIT_COMMIT="$GIT_COMMIT" \
    GIT_DIRTY="$GIT_DIRTY" LOADAVG_START="$LOADAVG_START" \
    LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" NPROC="$(nproc)" \
    V_WRK="$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2 || true)" V_POSTGRES="$("$PG_BIN/postgres" --version)" \
    LOAD_S="$LOAD_S" \
    "$PY" - "$TERMS_JSON" "$META" "$((SEARCH_RESULTS * SEARCH_COPIES))" "$((SEARCH_NEEDS * SEARCH_COPIES))" "$SEARCH_SEED" "$BENCH_CONNS" "$BENCH_SECONDS" \
    "$BENCH_REPS" "$YIZHAN_THREADS" <<'EOF'
import json, os, sys
e = os.environ
a = sys.argv
meta = {
    "started_at": e["STARTED_AT"], "finished_at": e["FINISHED_AT"],
    "git": {"commit": e["GIT_COMMIT"], "dirty": bool(e["GIT_DIRTY"])},
    "machine": {"nproc": int(e["NPROC"]), "loadavg_start": e["LOADAVG_START"], "loadavg_end": e["LOADAVG_END"]},
    "tools": {"wrk": e["V_WRK"], "postgres": e["V_POSTGRES"]},
    "data": {"results": int(a[3]), "needs": int(a[4]), "seed": int(a[5]), "load_and_index_s": int(e["LOAD_S"])},
    "settings": {"conns": int(a[6]), "seconds": int(a[7]), "reps": int(a[8]), "yizhan_threads": int(a[9]),
                 "request": "GET /api/v1/search?q=<term> (default sort: relevance, limit 20, total and facets)"},
    "terms": json.load(open(a[1])),
}
json.dump(meta, open(a[2], "w"), ensure_ascii=False, indent=1)
EOF

RESULT_JSON="$BENCH_RESULTS_DIR/search-$STAMP.json"
status=0
"$PY" "$SEARCH_DIR/report.py" "$RAW" "$META" "$RESULT_JSON" "$LISTINGS" || status=$?
REPORTED=1
if [ "$status" -ne 0 ] && [ "$BENCH_ENFORCE" != 1 ]; then
    bench_log "floors not met (BENCH_ENFORCE=0: exiting 0)"
    status=0
fi
exit "$status"
