# bench/search/stream.sh — the stream benchmark of issue #25 (sourced, not run): searches as
# people make them, every one new, against the running server, with pgbench of the same
# statements as the anchor.  Used by bench/search/run.sh (alone, at --listings N) and by
# bench/run.sh (`make bench`, figure "stream").
#
#   stream_bench TAG — appends JSON lines to $RAW: one "stream_run" line per measured run (the
#   latency of every search, by its number), "stream_pgbench" lines, "check" lines, and one
#   "stream_meta" line (the queries, their classes and the frequency of their terms).
#
# Needs: BENCH_DIR, BENCH_TMP, BASE, SERVER_PID, PG_BIN, PG_DIR, PG_PORT, RAW, bench_psql,
# bench_log, bench_die (bench/lib/common.sh), and python3.
#
# Knobs (environment):
#   STREAM_CONNS=16        connections (wrk -t = -c: one connection a thread) and pgbench clients
#   STREAM_REPS=3          rounds; each round runs every class, then the mix, each with pgbench
#   STREAM_RUN=3000        searches a class run sends (each once)
#   STREAM_MIX=1000        searches of each class in a mix run (5 classes: 5,000 a run)
#   STREAM_CAPTURE=40      searches a class whose statements are captured for pgbench
#   STREAM_PGB_SECONDS=5   seconds per pgbench run
#   STREAM_CHECK=6         searches a class checked page by page against a scan of the tables
#   STREAM_SEED=20261207   the generator's seed
#   STREAM_FREQ=1          count the matches of every term the queries use (the breakdown by how
#                          common the rarest word is); 0: skip (a thousand counts, minutes at 1,000,000)
# shellcheck shell=bash

STREAM_CONNS="${STREAM_CONNS:-16}"
STREAM_REPS="${STREAM_REPS:-3}"
STREAM_RUN="${STREAM_RUN:-3000}"
STREAM_MIX="${STREAM_MIX:-1000}"
STREAM_CAPTURE="${STREAM_CAPTURE:-40}"
STREAM_PGB_SECONDS="${STREAM_PGB_SECONDS:-5}"
STREAM_CHECK="${STREAM_CHECK:-6}"
STREAM_SEED="${STREAM_SEED:-20261207}"
STREAM_FREQ="${STREAM_FREQ:-1}"
STREAM_CLASSES=(w1 w2 w3 w4 browse)

_stream_psql() {
    "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan "$@"
}

# _stream_wrk NAME PATHS — send every search of PATHS once over STREAM_CONNS connections; the
# timings go to $STREAM_DIR/NAME.out.  wrk sleeps for its whole -d unless interrupted: each of
# its threads writes a line to NAME.done when it has sent its share, and the last one ends it.
_stream_wrk() {
    local name="$1" paths="$2" dir="$STREAM_DIR" n t0 pid i
    n="$(wc -l <"$paths")"
    : >"$dir/$name.done"
    t0="$(date +%s)"
    STREAM_OUT="$dir/$name.out" STREAM_DONE="$dir/$name.done" \
        wrk -t"$STREAM_CONNS" -c"$STREAM_CONNS" -d600s --timeout 30s -s "$BENCH_DIR/search/stream.lua" "$BASE" \
        -- "$paths" "$STREAM_CONNS" >"$dir/$name.wrk" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(wc -l <"$dir/$name.done")" -ge "$STREAM_CONNS" ]; then
            kill -INT "$pid" 2>/dev/null || true
            break
        fi
        if [ $(($(date +%s) - t0)) -gt 590 ]; then bench_die "stream $name: not done after 590 s"; fi
        sleep 0.05
    done
    wait "$pid" || { cat "$dir/$name.wrk" >&2; bench_die "wrk failed on stream $name"; }
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "yizhan exited during stream $name"
    [ -s "$dir/$name.out" ] || { cat "$dir/$name.wrk" >&2; bench_die "stream $name: wrk wrote no timings"; }
    i="$(wc -l <"$dir/$name.out")"
    [ "$i" = "$n" ] || bench_die "stream $name: $i of $n searches timed"
}

# _stream_pgbench NAME CLASS... — pgbench over the captured statements of the classes (pgbench
# takes at most 128 scripts: the mix takes the first 128 / classes of each).
_stream_pgbench() {
    local name="$1" rc=0 args=() f cls l k per
    shift
    per=$((128 / $#))
    for cls in "$@"; do
        while IFS= read -r l; do [ -n "$l" ] && args+=(-D "$l"); done <"$STREAM_PGB/stream_$cls.vars"
        k=0
        for f in "$STREAM_PGB"/stream_"$cls"-*.sql; do
            [ "$k" -lt "$per" ] || break
            args+=(-f "$f@1")
            k=$((k + 1))
        done
    done
    PGOPTIONS="-c TimeZone=UTC -c role=yizhan_app" timeout -k 5 "$((STREAM_PGB_SECONDS + 90))" \
        "$PG_BIN/pgbench" -n -M prepared -c "$STREAM_CONNS" -j 2 -T "$STREAM_PGB_SECONDS" \
        -h "$PG_DIR" -p "$PG_PORT" -U postgres "${args[@]}" yizhan >"$STREAM_DIR/$name.pgb" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then cat "$STREAM_DIR/$name.pgb" >&2; bench_die "pgbench failed on stream $name"; fi
}

stream_bench() {
    local tag="$1" r cls name
    STREAM_DIR="$BENCH_TMP/stream"
    STREAM_PGB="$STREAM_DIR/pgbench"
    mkdir -p "$STREAM_DIR" "$STREAM_PGB"
    local per_class=$((STREAM_CAPTURE + STREAM_REPS * (STREAM_RUN + STREAM_MIX)))
    bench_log "stream: $per_class distinct searches a class (${STREAM_CLASSES[*]}), seed $STREAM_SEED"
    bench_psql "SELECT code, level FROM regions ORDER BY code" >"$STREAM_DIR/regions.txt"
    python3 "$BENCH_DIR/search/stream.py" gen "$per_class" "$STREAM_SEED" "$STREAM_DIR/regions.txt" \
        "${STREAM_CLASSES[@]}" >"$STREAM_DIR/gen.jsonl" || bench_die "stream.py gen failed"
    bench_log "stream: the pages before each later page (for its cursor)"
    python3 "$BENCH_DIR/search/stream.py" cursors "$BASE" "$STREAM_DIR/gen.jsonl" >"$STREAM_DIR/queries.jsonl" \
        || bench_die "stream.py cursors failed"
    python3 "$BENCH_DIR/search/stream.py" plan "$STREAM_DIR/queries.jsonl" "$STREAM_DIR" "$STREAM_CAPTURE" \
        "$STREAM_RUN" "$STREAM_MIX" "$STREAM_REPS" || bench_die "stream.py plan failed"

    # The anchor's statements: the server's own, with the parameters it sent for searches it had
    # not seen (the captured ones are not among the measured).
    bench_log "stream: capturing the statements of $STREAM_CAPTURE searches a class for pgbench"
    local log="$PG_DIR/postgres.log" start spec
    start="$(stat -c %s "$log")"
    bench_psql "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null
    bench_psql "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    for cls in "${STREAM_CLASSES[@]}"; do
        bench_psql "SELECT 'yizhan-bench probe stream_$cls'" >/dev/null
        while read -r _ p; do
            printf 'url = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE$p"
        done <"$STREAM_DIR/capture-$cls.paths" >"$STREAM_DIR/capture-$cls.curl"
        local codes
        codes="$(curl -s --max-time 300 -K "$STREAM_DIR/capture-$cls.curl" | sort | uniq -c | tr -s ' ')"
        [ "$codes" = " $STREAM_CAPTURE 200" ] || bench_die "stream capture $cls answered: $codes"
    done
    bench_psql "SELECT 'yizhan-bench probe end'" >/dev/null
    bench_psql "ALTER SYSTEM RESET log_min_duration_statement" >/dev/null
    bench_psql "SELECT pg_reload_conf()" >/dev/null
    spec="$STREAM_DIR/capture.json"
    {
        printf '{"figures": ['
        local sep=""
        for cls in "${STREAM_CLASSES[@]}"; do
            printf '%s{"name": "stream_%s", "statements": [{"src": "%s", "var": "ST_SEARCH"}], "pick": "all"}' \
                "$sep" "$cls" "$BENCH_DIR/../server/api/market_search.c"
            sep=", "
        done
        printf ']}\n'
    } >"$spec"
    python3 "$BENCH_DIR/lib/stmts.py" capture "$log" "$start" "$spec" "$STREAM_PGB" \
        || bench_die "stream: the statements could not be taken from the source and the server's log"

    bench_log "stream: equality with a scan of the tables, $STREAM_CHECK searches a class, every page"
    python3 "$BENCH_DIR/search/stream.py" check "$BASE" "$STREAM_DIR/queries.jsonl" "$STREAM_CHECK" \
        "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan >"$STREAM_DIR/check.jsonl" \
        || bench_die "stream.py check failed"
    python3 - "$STREAM_DIR/check.jsonl" "$tag" >>"$RAW" <<'EOF'
import json, sys
for ln in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(ln)
    r.update(tool="stream_check", tag=sys.argv[2])
    print(json.dumps(r, ensure_ascii=False))
EOF
    local bad
    bad="$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["equal"] is not True))' \
        "$STREAM_DIR/check.jsonl")"
    bench_log "stream: $(wc -l <"$STREAM_DIR/check.jsonl") searches checked, $bad different from the scan or not walked to the end (SEARCH_CHECK_PAGES)"

    if [ "$STREAM_FREQ" = 0 ]; then
        echo '{}' >"$STREAM_DIR/freq.json"
    else
        python3 "$BENCH_DIR/search/stream.py" freq "$STREAM_DIR/queries.jsonl" \
            "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan >"$STREAM_DIR/freq.json" \
            || bench_die "stream.py freq failed"
    fi

    # Totals and facets cached by a capture or a cursor fetch have expired by now (10 s).
    sleep 11
    for ((r = 1; r <= STREAM_REPS; r++)); do
        for cls in "${STREAM_CLASSES[@]}" mix; do
            name="r$r-$cls"
            _stream_wrk "$name" "$STREAM_DIR/$name.paths"
            if [ "$cls" = mix ]; then _stream_pgbench "$name" "${STREAM_CLASSES[@]}"; else _stream_pgbench "$name" "$cls"; fi
            python3 "$BENCH_DIR/search/stream_report.py" line "$STREAM_DIR" "$name" "$tag" "$r" "$cls" >>"$RAW" \
                || bench_die "stream_report.py line failed"
            bench_log "  $(tail -n 1 "$RAW" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("stream %-7s run %d: %7.0f searches/s  p50 %6.2f  p99 %6.2f ms  non-2xx %d | pgbench %7.0f tps %6.2f ms" % (r["cls"], r["run"], r["rps"], r["p50_ms"], r["p99_ms"], r["non_2xx"], r["pgb_tps"], r["pgb_avg_ms"]))')"
        done
    done
    python3 "$BENCH_DIR/search/stream_report.py" meta "$STREAM_DIR" "$tag" >>"$RAW" \
        || bench_die "stream_report.py meta failed"
}
