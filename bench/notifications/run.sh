#!/usr/bin/env bash
# bench/notifications/run.sh — the message centre under its heaviest use: every open page
# polls GET /api/v1/notifications/unread-count (the badge in the header), and the 消息 page
# reads GET /api/v1/notifications?limit=20 — with 1,000,000 notifications in the table.
#
# Each figure is measured next to its anchor in the same run, interleaved round by round:
#   GET /livez (the HTTP floor of this server on this machine)
#   GET unread-count        | pgbench: ST_LOAD_USER then the count statement, per transaction
#   GET notifications page  | pgbench: ST_LOAD_USER then the page statement, per transaction
# An authenticated request costs the server two statements (the user is loaded from the
# database on every request, roles never come from the token), so the anchor runs the same
# two.  The bound `1/(1/livez + 1/pgbench)` is an HTTP round trip plus the two statements one
# after the other; a ratio above 1 means the server overlaps them with HTTP work.
#
#   bash bench/notifications/run.sh            # about 6 minutes
# Knobs: NOTE_ROWS (1000000) rows in notifications, NOTE_USERS (20000) their users,
# NOTE_MINE (200) rows of the measured user (a quarter unread), NOTE_CONNS (64), NOTE_SECONDS (10),
# NOTE_REPS (3), YIZHAN_BIN (build/yizhan).  Prints one table; writes
# bench/results/notifications-<UTC>.json.  Loopback only; everything it starts is stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source=../lib/common.sh
. "$BENCH_DIR/lib/common.sh"

NOTE_ROWS="${NOTE_ROWS:-1000000}"
NOTE_USERS="${NOTE_USERS:-20000}"
NOTE_MINE="${NOTE_MINE:-200}"
NOTE_CONNS="${NOTE_CONNS:-64}"
NOTE_SECONDS="${NOTE_SECONDS:-10}"
NOTE_REPS="${NOTE_REPS:-3}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
[ -x "$YIZHAN_BIN" ] || bench_die "$YIZHAN_BIN not built (run make)"
bench_ensure_tools
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

BENCH_TMP="$(mktemp -d /tmp/yizhan-notebench.XXXXXX)"
chmod 0755 "$BENCH_TMP"
SERVER_PID=""
cleanup() {
    trap - EXIT INT TERM
    bench_stop_pid "$SERVER_PID"
    bench_pg_stop
    rm -rf "$BENCH_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_log "PostgreSQL, schema, demo accounts"
bench_pg_start $((NOTE_CONNS + 40))
head -c 48 /dev/urandom | base64 >"$BENCH_TMP/jwt.secret"
chmod 0600 "$BENCH_TMP/jwt.secret"
PORT="$(bench_free_port)"
export YIZHAN_DATABASE_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
export YIZHAN_LISTEN="127.0.0.1:$PORT" YIZHAN_JWT_SECRET_FILE="$BENCH_TMP/jwt.secret" YIZHAN_VAR_DIR="$BENCH_TMP/var"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys" YIZHAN_WEB_ROOT="$ROOT/web" YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations" YIZHAN_LOG_LEVEL=warn YIZHAN_ACCESS_LOG=off
"$YIZHAN_BIN" migrate >"$BENCH_TMP/migrate.log" 2>&1 || { cat "$BENCH_TMP/migrate.log" >&2; bench_die "migrate failed"; }
bash "$ROOT/deploy/demo/load.sh" "$YIZHAN_BIN" >"$BENCH_TMP/load.log" 2>&1 || { cat "$BENCH_TMP/load.log" >&2; bench_die "demo data failed"; }
ME="$(bench_psql "SELECT id FROM users WHERE email = 'enterprise@demo.yizhan.cn'")"

bench_log "$NOTE_ROWS notifications of $NOTE_USERS users ($NOTE_MINE of the measured user)"
bench_psql "
INSERT INTO users (email, display_name, password_hash, role, org_id)
SELECT 'bench-' || g || '@example.test', '用户 ' || g, 'x\$bench', 'member', 2 FROM generate_series(1, $NOTE_USERS) g;
INSERT INTO notifications (user_id, org_id, kind, ref_kind, ref_id, title, data, created_at, read_at)
SELECT u.id, 2, (ARRAY['inquiry','message','proposal','bid','outbid','notice','contract_draft'])[1 + g % 7], 'inquiry', g,
       '交易意向有新消息 ' || g, jsonb_build_object('inquiry_id', g, 'result_id', g), now() - make_interval(secs => g),
       CASE WHEN g % 5 = 0 THEN NULL ELSE now() END
FROM generate_series(1, $NOTE_ROWS - $NOTE_MINE) g
JOIN users u ON u.email = 'bench-' || (1 + g % $NOTE_USERS) || '@example.test';
INSERT INTO notifications (user_id, org_id, kind, ref_kind, ref_id, title, data, created_at, read_at)
SELECT $ME, 2, 'proposal', 'inquiry', g, '对方提出价格，等待您确认 ' || g, jsonb_build_object('inquiry_id', g, 'price_fen', g * 100),
       now() - make_interval(secs => g), CASE WHEN g % 4 = 0 THEN NULL ELSE now() END
FROM generate_series(1, $NOTE_MINE) g;
VACUUM ANALYZE notifications; VACUUM ANALYZE users;" >/dev/null
ROWS="$(bench_psql "SELECT count(*) FROM notifications")"
UNREAD="$(bench_psql "SELECT count(*) FROM notifications WHERE user_id = $ME AND read_at IS NULL")"

"$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
bench_wait_http "http://127.0.0.1:$PORT/livez" 30 "$SERVER_PID" || { tail "$BENCH_TMP/server.log" >&2; bench_die "the server did not start"; }
bench_login me enterprise@demo.yizhan.cn "$(cat "$BENCH_TMP/var/demo-password")" "http://127.0.0.1:$PORT"
TOKEN="$(bench_token me)"
got="$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/notifications/unread-count")"
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['unread'] == int(sys.argv[2]), d" "$got" "$UNREAD" \
    || bench_die "unread-count answered $got, the table says $UNREAD"

# the server's statements, as in server/api/auth.c and server/api/notifications.c
SRC_AUTH="$ROOT/server/api/auth.c" SRC_NOTE="$ROOT/server/api/notifications.c"
python3 - "$SRC_AUTH" "$SRC_NOTE" "$BENCH_TMP" "$ME" <<'PY'
import re, sys
auth, note, tmp, me = sys.argv[1:]
def stmt(path, name):
    src = open(path).read()
    m = re.search(name + r'\s*=\s*db_stmt_register\w*\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+),', src)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))).replace('\\"', '"')
load = stmt(auth, "ST_LOAD_USER").replace("$1", me)
count = stmt(note, "ST_NOTE_COUNT").replace("$1::bigint", me)
page = (stmt(note, "ST_NOTE_LIST").replace("$1::bigint", me).replace("$2::boolean", "false")
        .replace("$3::text", "NULL::text").replace("$4::text", "NULL::text").replace("$3", "NULL")
        .replace("$4", "NULL").replace("$5::bigint", "NULL::bigint").replace("$6::int", "20"))
open(f"{tmp}/count.sql", "w").write(load + ";\n" + count + ";\n")
open(f"{tmp}/page.sql", "w").write(load + ";\n" + page + ";\n")
PY

run_wrk() { # NAME PATH [auth]
    local hdr=()
    [ "${3:-}" = auth ] && hdr=(-H "Authorization: Bearer $(bench_token me 120)")
    wrk -t2 -c"$NOTE_CONNS" -d"${NOTE_SECONDS}s" --latency "${hdr[@]}" "http://127.0.0.1:$PORT$2" >"$BENCH_TMP/$1.out" 2>&1 || true
}
run_pgbench() { # NAME SCRIPT
    "$PG_BIN/pgbench" -h "$PG_DIR" -p "$PG_PORT" -U postgres -n -M prepared -c "$NOTE_CONNS" -j 2 -T "$NOTE_SECONDS" \
        -f "$BENCH_TMP/$2" yizhan >"$BENCH_TMP/$1.out" 2>&1 || true
}
bench_log "warm-up"
run_wrk warm /api/v1/notifications/unread-count auth
for ((r = 1; r <= NOTE_REPS; r++)); do
    bench_log "round $r/$NOTE_REPS"
    run_wrk "livez-$r" /livez
    run_wrk "count-$r" /api/v1/notifications/unread-count auth
    run_pgbench "pgcount-$r" count.sql
    run_wrk "page-$r" "/api/v1/notifications?limit=20" auth
    run_pgbench "pgpage-$r" page.sql
done

mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/notifications-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$BENCH_TMP" "$NOTE_REPS" "$out" "$ROWS" "$UNREAD" "$NOTE_CONNS" <<'PY'
import json, re, statistics, sys
tmp, reps, out, rows, unread, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def wrk(name):
    t = open(f"{tmp}/{name}.out").read()
    lat = {m.group(1): float(m.group(2)) * UNIT[m.group(3)] for m in re.finditer(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)}
    bad = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", t))
    n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)), "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "errors": bad + (int(n2.group(1)) if n2 else 0)}
def pgb(name):
    t = open(f"{tmp}/{name}.out").read()
    return {"tps": float(re.search(r"tps = ([\d.]+)", t).group(1))}
runs = [{"livez": wrk(f"livez-{r}"), "count": wrk(f"count-{r}"), "pgcount": pgb(f"pgcount-{r}"),
         "page": wrk(f"page-{r}"), "pgpage": pgb(f"pgpage-{r}")} for r in range(1, reps + 1)]
med = lambda f: statistics.median(f(x) for x in runs)
bound = lambda pg: med(lambda x: 1 / (1 / x["livez"]["rps"] + 1 / x[pg]["tps"]))
res = {"rows": rows, "unread_of_user": unread, "connections": conns, "runs": runs,
       "median": {"livez_rps": med(lambda x: x["livez"]["rps"]),
                  "count_rps": med(lambda x: x["count"]["rps"]), "count_p99_ms": med(lambda x: x["count"]["p99_ms"]),
                  "pgbench_count_tps": med(lambda x: x["pgcount"]["tps"]), "count_bound": bound("pgcount"),
                  "page_rps": med(lambda x: x["page"]["rps"]), "page_p99_ms": med(lambda x: x["page"]["p99_ms"]),
                  "pgbench_page_tps": med(lambda x: x["pgpage"]["tps"]), "page_bound": bound("pgpage")},
       "errors": sum(x[k]["errors"] for x in runs for k in ("livez", "count", "page"))}
m = res["median"]
res["count_ratio"] = m["count_rps"] / m["count_bound"]
res["page_ratio"] = m["page_rps"] / m["page_bound"]
json.dump(res, open(out, "w"), indent=1)
print(f"{rows:,} notifications; the measured user has {unread} unread; {conns} connections; medians of {reps} rounds")
print(f"{'figure':34} {'req/s':>9} {'p99 ms':>8} {'anchor':>9} {'ratio':>6}")
print(f"{'GET /livez':34} {m['livez_rps']:9.0f} {'':>8} {'':>9} {'':>6}")
print(f"{'GET /notifications/unread-count':34} {m['count_rps']:9.0f} {m['count_p99_ms']:8.2f} {m['count_bound']:9.0f} {res['count_ratio']:6.2f}"
      f"   (pgbench load user + count: {m['pgbench_count_tps']:.0f} tps)")
print(f"{'GET /notifications?limit=20':34} {m['page_rps']:9.0f} {m['page_p99_ms']:8.2f} {m['page_bound']:9.0f} {res['page_ratio']:6.2f}"
      f"   (pgbench load user + page: {m['pgbench_page_tps']:.0f} tps)")
print(f"errors (socket, non-2xx): {res['errors']}; written {out}")
PY
