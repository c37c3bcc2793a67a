# bench/lib/data.sh — the benchmark's database: a throwaway PostgreSQL with the
# schema, the demo organisations and accounts, and generated data (sourced by
# bench/run.sh, not run):
#
#   * the demo data and one account per role   deploy/demo/load.sh
#   * BENCH_RESULTS published research results and BENCH_NEEDS open needs, with
#     organisations: bench/search/gen.py (Chinese titles and summaries from a
#     technical vocabulary with Zipf frequencies), loaded by COPY so that the
#     search documents are made by the database's triggers, in two parallel
#     loaders, with the GIN index built once after the load (as bench/search does)
#   * BENCH_CONTRACTS registered contracts      bench/stats/generate.sql
#   * two pools of contracts submitted to the registry officer's office and not
#     yet registered, one for the API and one for pgbench: bench/lib/submitted.sql
#
# With BENCH_DATA_CACHE=DIR the finished cluster is kept in DIR/<key> and copied
# back by later runs with the same key (a hash of the migrations, the demo data,
# the generators, the sizes and the PostgreSQL version), which saves the ~15
# minutes the 1,000,000 contracts take to generate and aggregate.  Off by default.
#
# Needs: BENCH_TMP, BENCH_DIR, ROOT, YIZHAN_BIN, PG_BIN; sets PG_DIR, PG_PORT,
# DB_URL, YIZHAN_VAR_DIR (the demo password is in $YIZHAN_VAR_DIR/demo-password).
# shellcheck shell=bash

BENCH_RESULTS="${BENCH_RESULTS:-100000}"
BENCH_NEEDS="${BENCH_NEEDS:-20000}"
BENCH_CONTRACTS="${BENCH_CONTRACTS:-1000000}"
BENCH_REGISTER_POOL="${BENCH_REGISTER_POOL:-20000}"
BENCH_DATA_CACHE="${BENCH_DATA_CACHE:-}"
BENCH_OFFICER_EMAIL="${BENCH_OFFICER_EMAIL:-officer@demo.yizhan.cn}"
# Part of the cache key: bump it when a change here changes the data made.
BENCH_DATA_VERSION=1

bench_psql_file() {  # FILE [psql -v args...]
    local f="$1"
    shift
    "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan -X -q -A -t -v ON_ERROR_STOP=1 "$@" -f "$f"
}

_bench_data_key() {
    {
        echo "v$BENCH_DATA_VERSION results=$BENCH_RESULTS needs=$BENCH_NEEDS contracts=$BENCH_CONTRACTS pool=$BENCH_REGISTER_POOL"
        "$PG_BIN/postgres" --version
        cat "$ROOT"/migrations/*.sql "$ROOT"/migrations/[0-9]*/* "$ROOT"/migrations/functions/* "$ROOT/deploy/demo/gen_demo.py" "$ROOT/deploy/demo/load.sh" \
            "$BENCH_DIR/search/gen.py" "$BENCH_DIR/search/vocab.py" "$BENCH_DIR/stats/generate.sql" \
            "$BENCH_DIR/lib/submitted.sql"
    } | sha256sum | cut -c1-16
}

# bench_data_prepare MAX_CONNECTIONS — the cluster, running, with everything in it.
bench_data_prepare() {
    local max_conn="$1" key cache=""
    PG_DIR="$BENCH_TMP/pg"
    export YIZHAN_VAR_DIR="$BENCH_TMP/var"
    mkdir -p "$YIZHAN_VAR_DIR"
    for f in "$BENCH_DIR/search/gen.py" "$BENCH_DIR/search/vocab.py" "$BENCH_DIR/stats/generate.sql" \
        "$ROOT/deploy/demo/load.sh"; do
        [ -f "$f" ] || bench_die "missing $f (the data generators)"
    done
    key="$(_bench_data_key)"
    # shellcheck disable=SC2034  # reported by bench/run.sh
    DATA_KEY="$key"
    if [ -n "$BENCH_DATA_CACHE" ]; then
        mkdir -p "$BENCH_DATA_CACHE"
        cache="$(cd "$BENCH_DATA_CACHE" && pwd)/$key"
    fi
    if [ -n "$cache" ] && [ -f "$cache/complete" ]; then
        bench_log "data: restoring the cluster from the cache $cache"
        mkdir -p "$PG_DIR"
        chmod 0700 "$PG_DIR"
        cp -a "$cache/data" "$PG_DIR/data"
        cp -a "$cache/var/." "$YIZHAN_VAR_DIR/"
        cp "$cache/pools.env" "$BENCH_TMP/pools.env"
        if bench_is_root; then chown -R postgres: "$PG_DIR"; fi
        bench_pg_run "$max_conn"
        DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
        DATA_SOURCE="cache"
        return 0
    fi

    local t0 t1
    t0=$(date +%s)
    bench_pg_start "$max_conn"
    DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
    bench_log "data: yizhan migrate"
    (cd "$ROOT" && YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LOG_LEVEL=warn "$YIZHAN_BIN" migrate) \
        >"$BENCH_TMP/migrate.log" 2>&1 || bench_die "yizhan migrate failed"
    bench_log "data: demo data and accounts (deploy/demo/load.sh)"
    (cd "$ROOT" && PATH="$PG_BIN:$PATH" YIZHAN_DATABASE_URL="$DB_URL" YIZHAN_LOG_LEVEL=warn \
        bash deploy/demo/load.sh "$YIZHAN_BIN") >"$BENCH_TMP/demo.log" 2>&1 \
        || { cat "$BENCH_TMP/demo.log" >&2; bench_die "deploy/demo/load.sh failed"; }

    # Listings: generated, then loaded by two sessions at once (the search index
    # is built by the triggers, row by row, and that is most of the time).
    bench_log "data: $BENCH_RESULTS published results and $BENCH_NEEDS open needs (bench/search/gen.py)"
    bench_psql "SELECT code FROM regions WHERE level = 3 ORDER BY code" \
        >"$BENCH_TMP/regions.txt"
    python3 "$BENCH_DIR/search/gen.py" --results "$BENCH_RESULTS" --needs "$BENCH_NEEDS" \
        --regions "$BENCH_TMP/regions.txt" >"$BENCH_TMP/listings.sql" || bench_die "bench/search/gen.py failed"
    python3 "$BENCH_DIR/lib/split_copy.py" "$BENCH_TMP/listings.sql" "$BENCH_TMP/listings" 2 results needs \
        || bench_die "could not split the listings"
    rm -f "$BENCH_TMP/listings.sql"
    bench_psql_file "$BENCH_TMP/listings.head.sql" >/dev/null || bench_die "loading the organisations failed"
    # As bench/search/run.sh does: the GIN index is dropped for the load and built once after it,
    # with its own definition (the triggers still tokenise every row).
    local gin_def
    gin_def="$(bench_psql "SELECT indexdef FROM pg_indexes WHERE indexname = 'search_docs_tsv_idx'")"
    [ -n "$gin_def" ] && bench_psql "DROP INDEX search_docs_tsv_idx" >/dev/null

    # The contracts need the organisations only: generated while the listings load.
    bench_log "data: $BENCH_CONTRACTS registered contracts (bench/stats/generate.sql), in parallel"
    bench_psql_file "$BENCH_DIR/stats/generate.sql" -v n="$BENCH_CONTRACTS" >"$BENCH_TMP/contracts.log" 2>&1 &
    local cpid=$! l1 l2
    bench_psql_file "$BENCH_TMP/listings.1.sql" >"$BENCH_TMP/listings.1.log" 2>&1 &
    l1=$!
    bench_psql_file "$BENCH_TMP/listings.2.sql" >"$BENCH_TMP/listings.2.log" 2>&1 &
    l2=$!
    wait "$l1" || { cat "$BENCH_TMP/listings.1.log" >&2; bench_die "loading the listings failed"; }
    wait "$l2" || { cat "$BENCH_TMP/listings.2.log" >&2; bench_die "loading the listings failed"; }
    bench_psql_file "$BENCH_TMP/listings.tail.sql" >/dev/null || bench_die "loading the listings failed"
    if [ -n "$gin_def" ]; then
        bench_psql "SET maintenance_work_mem = '512MB'; $gin_def" >/dev/null || bench_die "rebuilding $gin_def failed"
    fi
    rm -f "$BENCH_TMP"/listings.*.sql
    t1=$(date +%s)
    bench_log "data: listings loaded after $((t1 - t0)) s; waiting for the contracts"
    wait "$cpid" || { cat "$BENCH_TMP/contracts.log" >&2; bench_die "bench/stats/generate.sql failed"; }
    bench_log "data: contracts generated and aggregated after $(($(date +%s) - t0)) s"

    local office lo hi n
    office="$(bench_psql "SELECT office_id FROM users WHERE lower(email) = lower('$BENCH_OFFICER_EMAIL')")"
    [[ "$office" =~ ^[0-9]+$ ]] || bench_die "no office for $BENCH_OFFICER_EMAIL"
    : >"$BENCH_TMP/pools.env"
    echo "POOL_OFFICE=$office" >>"$BENCH_TMP/pools.env"
    for set in api pgbench; do
        IFS='|' read -r lo hi n < <(bench_psql_file "$BENCH_DIR/lib/submitted.sql" -v n="$BENCH_REGISTER_POOL" \
            -v office="$office" -v set="$set") || bench_die "bench/lib/submitted.sql failed"
        if [ "$n" != "$BENCH_REGISTER_POOL" ] || [ $((hi - lo + 1)) != "$n" ]; then
            bench_die "pool $set: ids not consecutive ($lo..$hi, $n)"
        fi
        echo "POOL_${set^^}_LO=$lo POOL_${set^^}_HI=$hi" >>"$BENCH_TMP/pools.env"
    done
    bench_psql "VACUUM ANALYZE" >/dev/null
    bench_psql "CHECKPOINT" >/dev/null
    DATA_SOURCE="generated in $(($(date +%s) - t0)) s"
    bench_log "data: ready ($DATA_SOURCE): $(bench_psql "SELECT (SELECT count(*) FROM results WHERE status = 'published') || ' published results, ' || (SELECT count(*) FROM search_docs) || ' search documents, ' || (SELECT count(*) FROM contracts WHERE status = 'registered') || ' registered contracts, ' || (SELECT count(*) FROM contracts WHERE status = 'submitted') || ' submitted'")"

    if [ -n "$cache" ]; then
        bench_log "data: saving the cluster to the cache $cache"
        bench_pg_stop
        rm -rf "$cache.tmp"
        mkdir -p "$cache.tmp"
        cp -a "$PG_DIR/data" "$cache.tmp/data"
        rm -f "$cache.tmp/data/bench.conf" "$cache.tmp/data/postmaster.pid"
        mkdir -p "$cache.tmp/var"
        cp -a "$YIZHAN_VAR_DIR/." "$cache.tmp/var/"
        cp "$BENCH_TMP/pools.env" "$cache.tmp/pools.env"
        touch "$cache.tmp/complete"
        rm -rf "$cache"
        mv "$cache.tmp" "$cache"
        bench_pg_run "$max_conn"
        DB_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
    fi
}

# ------------------------------------------------------------------ registration pools
# Each set (api, pgbench) is a block of consecutive ids, consumed from the low end:
# after each run the cursor moves past the highest id that was registered.  When a
# run needs more than is left, a new block is generated (bench/lib/submitted.sql).

bench_pool_init() {
    # shellcheck disable=SC1091
    . "$BENCH_TMP/pools.env"
    # shellcheck disable=SC2034  # read through ${!name} in bench_pool_take / bench_pool_advance
    POOL_API_CUR="$POOL_API_LO"
    # shellcheck disable=SC2034

    POOL_PGBENCH_CUR="$POOL_PGBENCH_LO"
}

# bench_pool_take SET NEED — sets POOL_LO, POOL_HI: at least NEED unregistered ids of SET.
bench_pool_take() {
    local set="${1^^}" need="$2" cur hi lo n size
    cur="POOL_${set}_CUR"
    hi="POOL_${set}_HI"
    if [ $((${!hi} - ${!cur} + 1)) -lt "$need" ]; then
        size=$((need > BENCH_REGISTER_POOL ? need : BENCH_REGISTER_POOL))
        bench_log "  pool $1: $((${!hi} - ${!cur} + 1)) left, $need needed: making $size more submitted contracts"
        # the block's ids must be consecutive: wait (up to 60 s) until no other statement runs, e.g. the
        # contract applications of a rush that the server was still answering when wrk stopped
        local w
        for ((w = 0; w < 120; w++)); do
            [ "$(bench_psql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'yizhan' AND state = 'active'
                AND pid <> pg_backend_pid() AND backend_type = 'client backend'")" = 0 ] && break
            sleep 0.5
        done
        IFS='|' read -r lo hi n < <(bench_psql_file "$BENCH_DIR/lib/submitted.sql" -v n="$size" \
            -v office="$POOL_OFFICE" -v set="$1") || bench_die "bench/lib/submitted.sql failed"
        [ $((hi - lo + 1)) = "$n" ] || bench_die "pool $1: ids not consecutive"
        printf -v "POOL_${set}_CUR" '%s' "$lo"
        printf -v "POOL_${set}_HI" '%s' "$hi"
    fi
    cur="POOL_${set}_CUR"
    hi="POOL_${set}_HI"
    # shellcheck disable=SC2034  # the caller's
    POOL_LO="${!cur}"
    # shellcheck disable=SC2034
    POOL_HI="${!hi}"
}

# bench_pool_advance SET MARGIN — after a run: past the highest registered id of the
# block, plus MARGIN ids that may have been in flight when the load generator stopped.
bench_pool_advance() {
    local set="${1^^}" margin="${2:-0}" cur hi top
    cur="POOL_${set}_CUR"
    hi="POOL_${set}_HI"
    top="$(bench_psql "SELECT coalesce(max(id), ${!cur} - 1) FROM contracts
                       WHERE id BETWEEN ${!cur} AND ${!hi} AND status = 'registered'")"
    printf -v "POOL_${set}_CUR" '%s' "$((top + 1 + margin))"
}
