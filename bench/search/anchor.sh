# shellcheck shell=bash
# bench/search/anchor.sh — sourced by run.sh: the pgbench anchor of the three terms (issue #23).
#
# For each term, the statement the server runs for it (ST_SEARCH of server/api/market_search.c,
# checked against the source by bench/lib/stmts.py) with the parameters the server sent: once
# for a request with the totals cache off (it counts total and facets: figure anchor_uncached),
# once for a request answered with the cached totals (figure anchor).  pgbench repeats each at
# BENCH_CONNS clients for BENCH_SECONDS; its p50/p99 come from its per-transaction log, so the
# API's figures can be read against the database doing exactly their work and nothing else.
# Needs from run.sh: BASE, RAW, PG_DIR, PG_PORT, PG_BIN, BENCH_*, RARE/FREQ/FOUR, set_ttl, enc.

# _anchor_pgbench FIGURE TERM DIR NAME COUNTS — pgbench of the captured execution of NAME whose
# $12 (p_stats: count total and facets) is COUNTS (true/false), with DIR/NAME.vars; one RAW line
_anchor_pgbench() {
    local figure="$1" term="$2" dir="$3" name="$4" counts="$5" args=() l run_dir out script
    script="$("$PY" - "$dir/$name.json" "$counts" <<'EOF'
import json, sys
scripts = json.load(open(sys.argv[1]))["scripts"]
for s in scripts:
    p = s["params"][0]
    if str(p.get("12", p.get("$12"))).lower().startswith(sys.argv[2][0]):
        print(s["script"])
        break
else:
    sys.exit("no captured execution with $12 = " + sys.argv[2])
EOF
)" || bench_die "anchor: $name: no execution with p_stats $counts captured"
    while IFS= read -r l; do [ -n "$l" ] && args+=(-D "$l"); done <"$dir/$name.vars"
    run_dir="$dir/$name-log"
    mkdir -p "$run_dir"
    out="$dir/$name.pgb"
    (cd "$run_dir" && PGOPTIONS="-c TimeZone=UTC -c role=yizhan_app" timeout -k 5 "$((BENCH_SECONDS + 120))" \
        "$PG_BIN/pgbench" -n -M prepared -c "$BENCH_CONNS" -j "$BENCH_THREADS" -T "$BENCH_SECONDS" -l \
        -h "$PG_DIR" -p "$PG_PORT" -U postgres "${args[@]}" -f "$dir/$script" yizhan) >"$out" 2>&1 \
        || { cat "$out" >&2; bench_die "pgbench failed on $name"; }
    "$PY" "$BENCH_DIR/lib/parse.py" pgblog "$run_dir" "$out" tool=scan figure="$figure" term="$term" run=1 >>"$RAW"
    bench_log "  $(tail -n 1 "$RAW" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("%-15s %-8s: %8.1f tps     p50 %s ms  p99 %s ms" % (r["figure"], r["term"], r["tps"] or 0, r["p50_ms"], r["p99_ms"]))')"
}

# terms_anchor — capture the statements (uncached with the cache off, then cached), then pgbench
terms_anchor() {
    local dir="$BENCH_TMP/anchor" log="$PG_DIR/postgres.log" start spec name t sep="" names=()
    mkdir -p "$dir"
    bench_log "== pgbench of the server's statement for each term (anchor), $BENCH_CONNS clients"
    start="$(stat -c %s "$log")"
    bench_psql "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null
    bench_psql "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    # (run.sh calls this after the uncached runs: the cache is off, and what it holds has expired)
    for name in rare frequent four; do
        t="$(term "$name")"
        bench_psql "SELECT 'yizhan-bench probe term_${name}_uncached'" >/dev/null
        # an expired entry is still served while one request counts again: of a few, one counts
        for _ in 1 2 3 4; do curl -s -o /dev/null --max-time 120 "$BASE/api/v1/search?q=$(enc "$t")"; done
        names+=("term_${name}_uncached")
    done
    set_ttl 10
    for name in rare frequent four; do
        t="$(term "$name")"
        # each worker keeps its own cache: a few requests fill both
        for _ in 1 2 3 4; do curl -s -o /dev/null --max-time 120 "$BASE/api/v1/search?q=$(enc "$t")"; done
        bench_psql "SELECT 'yizhan-bench probe term_${name}_cached'" >/dev/null
        for _ in 1 2 3 4; do curl -s -o /dev/null --max-time 120 "$BASE/api/v1/search?q=$(enc "$t")"; done
        names+=("term_${name}_cached")
    done
    bench_psql "SELECT 'yizhan-bench probe end'" >/dev/null
    bench_psql "ALTER SYSTEM RESET log_min_duration_statement" >/dev/null
    bench_psql "SELECT pg_reload_conf()" >/dev/null
    spec="$dir/capture.json"
    {
        printf '{"figures": ['
        for name in "${names[@]}"; do
            printf '%s{"name": "%s", "statements": [{"src": "%s", "var": "ST_SEARCH"}], "pick": "all"}' \
                "$sep" "$name" "$ROOT/server/api/market_search.c"
            sep=", "
        done
        printf ']}\n'
    } >"$spec"
    "$PY" "$BENCH_DIR/lib/stmts.py" capture "$log" "$start" "$spec" "$dir" \
        || bench_die "anchor: the statements could not be taken from the source and the server's log"
    for name in rare frequent four; do
        t="$(term "$name")"
        _anchor_pgbench anchor "$t" "$dir" "term_${name}_cached" false
        _anchor_pgbench anchor_uncached "$t" "$dir" "term_${name}_uncached" true
    done
}
