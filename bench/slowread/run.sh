#!/usr/bin/env bash
# bench/slowread/run.sh — GET /livez latency while thousands of slow readers
# (slowhttptest -X: each asks for a large file, advertises a tiny receive window
# and reads a few bytes a second) ramp up, against the same probe without them,
# interleaved run by run on the same server.  Issue 21: /livez took up to 0.9 s
# during such a ramp; the per-address connection cap and the output bound
# (YIZHAN_MAX_CONNS_PER_CLIENT, YIZHAN_MAX_OUTPUT_BYTES) are what this measures.
#
#   bash bench/slowread/run.sh                 # the figures (about 4 minutes)
#   SLOW_YIZHAN_ENV="YIZHAN_MAX_CONNS_PER_CLIENT=0" bash bench/slowread/run.sh   # without the cap
#
# Knobs: SLOW_CONNS (4000) attackers' connections, SLOW_RATE (1000) opened per
# second, SLOW_SECONDS (20) per measured run, SLOW_REPS (3) rounds, SLOW_PATH
# (/api/openapi.yaml, ~570 KB) what they download, PROBE_CONNS (4) wrk's probe
# connections, SLOW_YIZHAN_ENV extra VAR=VALUE settings for the server,
# YIZHAN_BIN (build/yizhan; not built here), SLOW_KEEP_TMP=1 keeps the logs.  Prints one table and writes
# bench/results/slowread-<UTC>.json.  Loopback only; everything it starts is
# stopped on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_DIR="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source=../lib/common.sh
. "$BENCH_DIR/lib/common.sh"

SLOW_CONNS="${SLOW_CONNS:-4000}"
SLOW_RATE="${SLOW_RATE:-1000}"
SLOW_SECONDS="${SLOW_SECONDS:-20}"
SLOW_REPS="${SLOW_REPS:-3}"
SLOW_PATH="${SLOW_PATH:-/api/openapi.yaml}"
PROBE_CONNS="${PROBE_CONNS:-4}"
SLOW_YIZHAN_ENV="${SLOW_YIZHAN_ENV:-}"
YIZHAN_BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"

[ -x "$YIZHAN_BIN" ] || bench_die "$YIZHAN_BIN not built (run make)"
need=()
command -v slowhttptest >/dev/null 2>&1 || need+=(slowhttptest)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x "$PG_BIN/initdb" ] || need+=(postgresql-15)
if [ "${#need[@]}" -gt 0 ]; then
    bench_log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    bench_as_root apt-get update -qq >/dev/null
    bench_as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
        || bench_die "could not install ${need[*]}"
fi
# both the server and slowhttptest hold thousands of sockets
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge $((SLOW_CONNS + 512)) ] || bench_die "open-file limit $(ulimit -n) < SLOW_CONNS + 512"

BENCH_TMP="$(mktemp -d /tmp/yizhan-slowread.XXXXXX)"
chmod 0755 "$BENCH_TMP"
SERVER_PID="" ATTACK_PID=""
cleanup() {
    trap - EXIT INT TERM
    bench_stop_pid "$ATTACK_PID"
    bench_stop_pid "$SERVER_PID"
    bench_pg_stop
    if [ "${SLOW_KEEP_TMP:-0}" = 1 ]; then bench_log "kept $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_log "PostgreSQL and the server"
bench_pg_start 60
head -c 48 /dev/urandom | base64 >"$BENCH_TMP/jwt.secret"
chmod 0600 "$BENCH_TMP/jwt.secret"
PORT="$(bench_free_port)"
export YIZHAN_DATABASE_URL="host=$PG_DIR port=$PG_PORT dbname=yizhan user=postgres"
# Listening on [::] (IPv4 too): the attack comes from 127.0.0.1 (seen as ::ffff:127.0.0.1), the probe
# from ::1 — two client addresses, as an attacker and the people it would crowd out are.
export YIZHAN_LISTEN="[::]:$PORT" YIZHAN_JWT_SECRET_FILE="$BENCH_TMP/jwt.secret"
export YIZHAN_SIGNING_KEY_DIR="$BENCH_TMP/keys" YIZHAN_WEB_ROOT="$ROOT/web" YIZHAN_API_SPEC="$ROOT/api/openapi.yaml"
export YIZHAN_MIGRATIONS_DIR="$ROOT/migrations" YIZHAN_LOG_LEVEL=warn YIZHAN_ACCESS_LOG=off
"$YIZHAN_BIN" migrate >"$BENCH_TMP/migrate.log" 2>&1 || { cat "$BENCH_TMP/migrate.log" >&2; bench_die "migrate failed"; }
# shellcheck disable=SC2086  # SLOW_YIZHAN_ENV is a list of VAR=VALUE words
env $SLOW_YIZHAN_ENV "$YIZHAN_BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
echo "$SERVER_PID" >"$BENCH_TMP/server.pid"
bench_wait_http "http://[::1]:$PORT/livez" 30 "$SERVER_PID" || { tail "$BENCH_TMP/server.log" >&2; bench_die "the server did not start"; }
size="$(curl -s -o /dev/null -w '%{size_download}' "http://[::1]:$PORT$SLOW_PATH")"
bench_log "attack: $SLOW_CONNS slow readers of $SLOW_PATH ($size bytes), $SLOW_RATE new a second; probe: wrk -c$PROBE_CONNS GET /livez"

# probe NAME — wrk on /livez for SLOW_SECONDS; its output in $BENCH_TMP/NAME.wrk
probe() {
    wrk -t1 -c"$PROBE_CONNS" -d"${SLOW_SECONDS}s" --timeout 10s --latency "http://[::1]:$PORT/livez" \
        >"$BENCH_TMP/$1.wrk" 2>&1 || true
}

conns_now() {
    curl -s --max-time 5 "http://[::1]:$PORT/metrics" | awk '/^yizhan_http_connections /{print $2}'
}

for ((rep = 1; rep <= SLOW_REPS; rep++)); do
    bench_log "round $rep/$SLOW_REPS: without the attack"
    probe "quiet-$rep"
    bench_log "round $rep/$SLOW_REPS: during the attack (the probe starts with the ramp)"
    slowhttptest -X -c "$SLOW_CONNS" -r "$SLOW_RATE" -l $((SLOW_SECONDS + 10)) -u "http://127.0.0.1:$PORT$SLOW_PATH" \
        -k 3 -n 1 -z 32 -w 512 -y 1024 -p 10 -g -o "$BENCH_TMP/attack-$rep" >"$BENCH_TMP/attack-$rep.log" 2>&1 &
    ATTACK_PID=$!
    probe "attack-$rep" &
    probe_pid=$!
    peak=0
    while kill -0 "$probe_pid" 2>/dev/null; do
        c="$(conns_now || true)"
        [ -n "$c" ] && [ "$c" -gt "$peak" ] && peak=$c
        sleep 1
    done
    wait "$probe_pid" || true
    echo "$peak" >"$BENCH_TMP/attack-$rep.peak"
    curl -s --max-time 5 "http://[::1]:$PORT/metrics" | awk '/^yizhan_http_connections_refused_total/{print $2}' \
        >"$BENCH_TMP/attack-$rep.refused" || true
    bench_stop_pid "$ATTACK_PID"
    ATTACK_PID=""
    # let the server close what the attack left before the next quiet run
    for _ in $(seq 1 30); do c="$(conns_now || echo 0)"; [ "${c:-0}" -le "$PROBE_CONNS" ] && break; sleep 1; done
    kill -0 "$SERVER_PID" 2>/dev/null || bench_die "the server died during round $rep"
done

mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/slowread-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$BENCH_TMP" "$SLOW_REPS" "$out" "$SLOW_CONNS" "$SLOW_RATE" "$SLOW_PATH" "$size" "$SLOW_YIZHAN_ENV" <<'PY'
import json, re, statistics, sys
tmp, reps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}
def wrk(path):
    t = open(path).read()
    lat = {m.group(1): float(m.group(2)) * UNIT[m.group(3)]
           for m in re.finditer(r"^\s+(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", t))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    return {"p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "rps": float(rps.group(1)) if rps else None,
            "socket_errors": errs, "non_2xx": int(non2xx.group(1)) if non2xx else 0}
runs = []
for r in range(1, reps + 1):
    q, a = wrk(f"{tmp}/quiet-{r}.wrk"), wrk(f"{tmp}/attack-{r}.wrk")
    a["peak_server_connections"] = int(open(f"{tmp}/attack-{r}.peak").read().strip() or 0)
    try:
        a["refused_total_so_far"] = int(float(open(f"{tmp}/attack-{r}.refused").read().strip() or 0))
    except (OSError, ValueError):
        a["refused_total_so_far"] = None
    runs.append({"quiet": q, "attack": a})
med = lambda k, w: statistics.median(x[w][k] for x in runs if x[w][k] is not None)
res = {"settings": {"slow_conns": int(sys.argv[4]), "slow_rate": int(sys.argv[5]), "path": sys.argv[6],
                    "bytes": int(sys.argv[7] or 0), "server_env": sys.argv[8]},
       "runs": runs,
       "median": {w: {k: med(k, w) for k in ("p50_ms", "p99_ms", "rps")} for w in ("quiet", "attack")}}
res["p99_ratio"] = res["median"]["attack"]["p99_ms"] / res["median"]["quiet"]["p99_ms"]
json.dump(res, open(out, "w"), indent=1)
print(f"{'GET /livez':28} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9}   per run p99 ms")
for w in ("quiet", "attack"):
    m = res["median"][w]
    per = " ".join(f"{x[w]['p99_ms']:.2f}" for x in runs)
    print(f"{'without the attack' if w == 'quiet' else 'during the attack':28} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f} {m['rps']:9.0f}   {per}")
print(f"p99 during / without: {res['p99_ratio']:.2f}; server connections at the peak of each attack: "
      + ", ".join(str(x['attack']['peak_server_connections']) for x in runs)
      + "; connections refused (cumulative): " + ", ".join(str(x['attack']['refused_total_so_far']) for x in runs)
      + "; probe errors during the attack: " + ", ".join(str(x['attack']['socket_errors'] + x['attack']['non_2xx']) for x in runs))
print(f"written {out}")
PY
