#!/usr/bin/env bash
# bench/import/run.sh — importing past contracts at scale (issue #19 part 2):
#   `yizhan import contracts FILE` of BENCH_IMPORT_ROWS (default 100,000) rows, a
#   UTF-8 CSV as Excel saves it (bench/import/gen.py), into a freshly migrated
#   database, BENCH_REPS times (default 3), each on a fresh copy of the database.
# Anchor in the same run, on the same copy: `psql \copy` of the same file into a
# plain table with the same columns — the bare cost of getting the bytes into
# PostgreSQL — so the figure can be read against the machine's speed that minute.
# Also: the dry run (`--dry-run`) of the same file.  After each import, every
# statistics total of the office's region equals a direct aggregate over the
# contracts, and the contracts number BENCH_IMPORT_ROWS.
# Also the CPU seconds of each (the server's backend and the client): what the import
# costs whatever the machine's load, which stretches wall time on a shared machine.
# Floor: the real import ≤ 60 s (median).  Prints a table and writes
# bench/results/import-<UTC>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib/common.sh
. "$ROOT/bench/lib/common.sh"
N="${BENCH_IMPORT_ROWS:-100000}"
REPS="${BENCH_REPS:-3}"
REGION=511900
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
[ -x "$YIZHAN_BIN" ] || bench_die "build the server first (make)"
command -v "$PG_BIN/postgres" >/dev/null || bench_ensure_tools
BENCH_TMP="$(mktemp -d /tmp/yizhan-bench-import.XXXXXX)"
chmod 0755 "$BENCH_TMP"
cleanup() {
    bench_pg_stop
    [ "${BENCH_KEEP_TMP:-0}" = 1 ] || rm -rf "$BENCH_TMP"
}
trap cleanup EXIT INT TERM
bench_pg_start 50
PSQL=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -X -A -t -q -v ON_ERROR_STOP=1)
cd "$ROOT"
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations"
YIZHAN_DATABASE_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres" "$YIZHAN_BIN" migrate >/dev/null
"${PSQL[@]}" -d yizhan -c "INSERT INTO registry_offices (name, region_code) VALUES ('巴中市技术合同登记处', '$REGION')"
# the anchor's table: the file's 26 columns as text
cols=$(python3 -c "import sys; sys.path.insert(0, 'bench/import'); import gen; print(', '.join(f'c{i} text' for i in range(len(gen.HEAD))))")
"${PSQL[@]}" -d yizhan -c "CREATE TABLE anchor_rows ($cols)"
FILE="$BENCH_TMP/contracts.csv"
bench_log "generating $N rows"
python3 bench/import/gen.py "$N" "$REGION" "$FILE"
bench_log "file: $(du -h "$FILE" | cut -f1), $(($(wc -l <"$FILE") - 1)) rows"

now() { date +%s.%N; }
# CPU seconds spent so far by the exited children of the postmaster (the import's or the
# \copy's backend, reaped when its client disconnects) and of this script (the client):
# the work itself, which a loaded machine does not stretch as it stretches wall time
PM_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
cpu_now() { awk '{t += $16 + $17} END {printf "%.2f", t / 100}' "/proc/$PM_PID/stat" "/proc/$$/stat"; }
cpu_since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(cpu_now)"; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
imports=() dries=() anchors=() checks=() cpu_imports=() cpu_anchors=()
for rep in $(seq 1 "$REPS"); do
    db="import_$rep"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db TEMPLATE yizhan"
    url="host=$PG_DIR port=$PG_PORT dbname=$db user=postgres"
    t=$(now); c=$(cpu_now); "${PSQL[@]}" -d "$db" -c "\\copy anchor_rows FROM '$FILE' WITH (FORMAT csv, HEADER true)"
    anchors+=("$(since "$t")"); sleep 1; cpu_anchors+=("$(cpu_since "$c")")   # 1 s: the backend reaped
    t=$(now); YIZHAN_DATABASE_URL="$url" "$YIZHAN_BIN" import contracts "$FILE" --dry-run >"$BENCH_TMP/dry.txt"; dries+=("$(since "$t")")
    grep -q "检查通过：$N 份合同可以导入" "$BENCH_TMP/dry.txt" || { cat "$BENCH_TMP/dry.txt" | head -20 >&2; bench_die "dry run did not pass"; }
    t=$(now); c=$(cpu_now); YIZHAN_DATABASE_URL="$url" PGOPTIONS="${BENCH_PGOPTIONS:-}" "$YIZHAN_BIN" import contracts "$FILE" >"$BENCH_TMP/import.txt"
    imports+=("$(since "$t")"); sleep 1; cpu_imports+=("$(cpu_since "$c")")
    grep -q "已导入 $N 份合同" "$BENCH_TMP/import.txt" || { head -20 "$BENCH_TMP/import.txt" >&2; bench_die "import failed"; }
    # the figures: contracts imported, and statistics equal to a direct aggregate (outflow of the region, per year)
    bad=$("${PSQL[@]}" -d "$db" -c "
        WITH direct AS (SELECT registration_year AS y, count(*) AS n, sum(contract_amount_fen) AS cf, sum(technical_amount_fen) AS tf
                        FROM contracts WHERE status = 'registered' AND region_in_subtree(seller_region_code, '$REGION') GROUP BY 1),
             agg AS (SELECT year AS y, sum(n) AS n, sum(contract_fen) AS cf, sum(technical_fen) AS tf FROM contract_stats
                     WHERE region_code = '$REGION' AND flow = 'out' AND dim = 'total' GROUP BY 1)
        SELECT (SELECT count(*) FROM contracts WHERE import_batch_id IS NOT NULL) <> $N
            OR EXISTS (SELECT 1 FROM direct d FULL JOIN agg a USING (y) WHERE (d.n, d.cf, d.tf) IS DISTINCT FROM (a.n, a.cf, a.tf))")
    checks+=("$bad")
    "${PSQL[@]}" -d postgres -c "DROP DATABASE $db"
    bench_log "rep $rep: import ${imports[-1]} s (CPU ${cpu_imports[-1]} s), dry run ${dries[-1]} s, \\copy anchor ${anchors[-1]} s (CPU ${cpu_anchors[-1]} s), load $(cut -d' ' -f1 /proc/loadavg), figures wrong: $bad"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mi=$(median "${imports[@]}"); md=$(median "${dries[@]}"); ma=$(median "${anchors[@]}")
ratio=$(python3 -c "print(f'{$mi / $ma:.1f}')")
mci=$(median "${cpu_imports[@]}"); mca=$(median "${cpu_anchors[@]}")
cpu_ratio=$(python3 -c "print(f'{$mci / max($mca, 0.01):.1f}')")
echo
echo "== import of $N past contracts (yizhan import contracts), $REPS reps, medians =="
printf '%-44s %s\n' "import (all-or-nothing, registered)" "$mi s (floor ≤ 60 s)" \
    "dry run (every check, nothing written)" "$md s" \
    "anchor: psql \\copy of the same file" "$ma s" \
    "import ÷ anchor" "$ratio" \
    "CPU: import (server + client)" "$mci s" \
    "CPU: anchor" "$mca s" \
    "CPU: import ÷ anchor" "$cpu_ratio" \
    "rows per second (import)" "$(python3 -c "print(int($N / $mi))")" \
    "every rep: count and statistics right" "$(printf '%s\n' "${checks[@]}" | grep -qv '^f$' && echo NO || echo yes)"
pass=1
python3 -c "import sys; sys.exit(0 if $mi <= 60 else 1)" || pass=0
printf '%s\n' "${checks[@]}" | grep -qv '^f$' && pass=0
mkdir -p "$ROOT/bench/results"
python3 - "$ROOT/bench/results/import-$(date -u +%Y%m%dT%H%M%SZ).json" <<PY
import json, sys
json.dump({"rows": $N, "reps": $REPS, "import_s": [$(IFS=,; echo "${imports[*]}")], "dry_run_s": [$(IFS=,; echo "${dries[*]}")],
           "anchor_copy_s": [$(IFS=,; echo "${anchors[*]}")], "median_import_s": $mi, "median_dry_run_s": $md,
           "median_anchor_s": $ma, "ratio": $ratio, "cpu_import_s": [$(IFS=,; echo "${cpu_imports[*]}")],
           "cpu_anchor_s": [$(IFS=,; echo "${cpu_anchors[*]}")], "median_cpu_import_s": $mci, "median_cpu_anchor_s": $mca,
           "cpu_ratio": $cpu_ratio, "pass": bool($pass)}, open(sys.argv[1], "w"), indent=2)
PY
echo
[ "$pass" = 1 ] && echo "overall: PASS" || { echo "overall: FAIL"; [ "${BENCH_ENFORCE:-1}" = 0 ] || exit 1; }
