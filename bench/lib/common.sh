# bench/lib/common.sh — helpers shared by the benchmark scripts (sourced, not run).
#
# Everything here works on the variables the caller set: BENCH_TMP (the run's
# throwaway directory), PG_DIR/PG_PORT (the throwaway PostgreSQL), and the *_PID
# variables of what the run started. Every process a helper starts is recorded
# so that bench_cleanup can stop exactly those, by pid, and nothing else.
# shellcheck shell=bash

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

bench_log() { printf '[bench] %s\n' "$*" >&2; }
bench_die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

bench_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when we are root, through sudo otherwise.
bench_as_root() {
    if bench_is_root; then "$@"; else sudo -n "$@"; fi
}

# Run a command as the owner of the throwaway cluster. PostgreSQL refuses to
# run as root, so when we are root that owner is Debian's `postgres` user.
bench_as_pg() {
    if bench_is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Install whatever of wrk, nginx, PostgreSQL 15, curl and python3 is missing.
# Non-interactive and CI-safe; does nothing when all are there.
bench_ensure_tools() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pgbench" ] \
        || missing+=(postgresql-15)
    [ -x "$PG_BIN/psql" ] || missing+=(postgresql-client-15)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    if bench_is_root; then
        id postgres >/dev/null 2>&1 || missing+=(postgresql-15)
    fi
    [ "${#missing[@]}" -eq 0 ] && return 0

    bench_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    bench_as_root apt-get update -qq >/dev/null
    # nginx-light is a transitional package on newer Debian releases; fall back to nginx.
    if ! bench_as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        local alt=()
        local p
        for p in "${missing[@]}"; do
            if [ "$p" = nginx-light ]; then alt+=(nginx); else alt+=("$p"); fi
        done
        bench_as_root apt-get install -y -qq --no-install-recommends "${alt[@]}" >/dev/null \
            || bench_die "could not install: ${missing[*]}"
    fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bench_http_code URL — the HTTP status of a GET, or 000 when nothing answered.
bench_http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# bench_wait_http URL SECONDS PID — wait until URL answers 200; fail early if PID died.
bench_wait_http() {
    local url="$1" secs="$2" pid="$3" i code
    for ((i = 0; i < secs * 10; i++)); do
        code="$(bench_http_code "$url")"
        [ "$code" = 200 ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- PostgreSQL

# bench_pg_start MAX_CONNECTIONS — initdb into $BENCH_TMP/pg, start it on a Unix
# socket in that same directory, create database yizhan. Sets PG_DIR, PG_PORT.
bench_pg_start() {
    bench_pg_init
    bench_pg_run "$1"
    "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres yizhan \
        || bench_die "createdb yizhan failed"
}

# bench_pg_init — an empty cluster in $PG_DIR/data (PG_DIR: $BENCH_TMP/pg unless set).
bench_pg_init() {
    PG_DIR="${PG_DIR:-$BENCH_TMP/pg}"
    mkdir -p "$PG_DIR"
    chmod 0700 "$PG_DIR"
    if bench_is_root; then chown postgres: "$PG_DIR"; fi
    bench_as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$BENCH_TMP/initdb.log" 2>&1 \
        || { cat "$BENCH_TMP/initdb.log" >&2; bench_die "initdb failed"; }
    # The run's settings go to bench.conf, rewritten at every start, so that a
    # cluster restored from the data cache (bench/lib/data.sh) gets this run's port.
    printf "\ninclude_if_exists = 'bench.conf'\n" | bench_as_pg tee -a "$PG_DIR/data/postgresql.conf" >/dev/null
}

# bench_pg_run MAX_CONNECTIONS — start the cluster in $PG_DIR/data on a free port. Sets PG_PORT.
bench_pg_run() {
    local max_conn="$1"
    PG_DIR="${PG_DIR:-$BENCH_TMP/pg}"
    PG_PORT="$(bench_free_port)"
    # Benchmark settings: enough memory that the working set is cached, enough
    # connections for pgbench's clients plus the server's, durability left on.
    # BENCH_PG_SHARED_BUFFERS / BENCH_PG_CACHE_SIZE: for data larger than the
    # default 256MB / 1GB (bench/search at 1,000,000 listings: 8 GB on disk).
    bench_as_pg tee "$PG_DIR/data/bench.conf" >/dev/null <<EOF
# --- written by bench/lib/common.sh (bench_pg_run) ---
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
port = $PG_PORT
max_connections = $max_conn
shared_buffers = ${BENCH_PG_SHARED_BUFFERS:-256MB}
effective_cache_size = ${BENCH_PG_CACHE_SIZE:-1GB}
work_mem = 8MB
max_wal_size = 2GB
checkpoint_timeout = 15min
jit = off
fsync = on
synchronous_commit = on
log_min_messages = warning
log_connections = off
log_disconnections = off
EOF
    PG_STARTED=1
    bench_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
        -w -t 300 start >/dev/null \
        || { tail -n 30 "$PG_DIR/postgres.log" >&2 || true; bench_die "PostgreSQL did not start"; }
}

bench_pg_stop() {
    [ "${PG_STARTED:-0}" = 1 ] || return 0
    bench_as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    PG_STARTED=0
}

# bench_psql SQL — run one statement in database yizhan, print unaligned tuples.
bench_psql() {
    "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d yizhan -X -A -t -q \
        -v ON_ERROR_STOP=1 -c "$1"
}

# ---------------------------------------------------------------------- nginx

# bench_nginx_start — a minimal nginx on a free port answering /livez with a
# fixed 200, everything (conf, pid, logs, temp dirs) inside $BENCH_TMP/nginx so
# that it runs as root without touching /var. Sets NGINX_PORT, NGINX_PID.
bench_nginx_start() {
    local dir="$BENCH_TMP/nginx" user_line=""
    NGINX_PORT="$(bench_free_port)"
    mkdir -p "$dir/tmp"
    if bench_is_root; then
        if id www-data >/dev/null 2>&1; then user_line="user www-data;"; else user_line="user nobody nogroup;"; fi
    fi
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 2;
worker_rlimit_nofile 16384;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 8192;
}
http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        # reuseport: one listening socket per worker, as yizhan does per thread.
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        location = /livez {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
    local nginx_bin
    nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
    "$nginx_bin" -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    bench_wait_http "http://127.0.0.1:$NGINX_PORT/livez" 10 "$NGINX_PID" \
        || { cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null || true; bench_die "nginx did not start"; }
}

# bench_stop_pid PID NAME — TERM, wait up to 5 s, then KILL. Only our own children.
bench_stop_pid() {
    local pid="$1" i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------ the server process

# bench_cpu_ticks PID — user + system CPU of the whole process (every thread), in clock ticks.
bench_cpu_ticks() {
    # Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# bench_rss_kb PID — resident set size in kB (VmRSS).
bench_rss_kb() {
    awk '/^VmRSS:/{print $2}' "/proc/$1/status"
}

# ------------------------------------------------------------------ tokens

# bench_login NAME EMAIL PASSWORD BASE — sign in once; the tokens go to $BENCH_TMP/tokens/NAME.*
bench_login() {
    local name="$1" email="$2" pw="$3" base="$4" dir="$BENCH_TMP/tokens"
    mkdir -p "$dir"
    TOKEN_BASE="$base"
    EMAIL="$email" PW="$pw" python3 -c 'import json,os; print(json.dumps({"email": os.environ["EMAIL"], "password": os.environ["PW"]}))' \
        | curl -s --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary @- "$base/api/v1/auth/login" \
        >"$dir/$name.json" || bench_die "sign-in of $email failed"
    _bench_token_store "$name" || bench_die "sign-in of $email failed: $(head -c 300 "$dir/$name.json")"
}

_bench_token_store() {
    local dir="$BENCH_TMP/tokens"
    python3 - "$dir/$1" <<'EOF' || return 1
import json, sys, time
p = sys.argv[1]
d = json.load(open(p + ".json"))
open(p + ".access", "w").write(d["access_token"])
open(p + ".refresh", "w").write(d["refresh_token"])
open(p + ".at", "w").write(str(int(time.time())))
EOF
}

# bench_token NAME [MIN_SECONDS_LEFT] — an access token of NAME valid for at least
# MIN_SECONDS_LEFT (default 600) more seconds; refreshed through /auth/refresh
# when older (access tokens live 900 s), never by signing in again (sign-ins are rate-limited).
bench_token() {
    local name="$1" left="${2:-600}" dir="$BENCH_TMP/tokens" at
    at="$(cat "$dir/$name.at")"
    if [ $(($(date +%s) - at)) -gt $((900 - left - 30)) ]; then
        if ! RT="$(cat "$dir/$name.refresh")" python3 -c 'import json,os; print(json.dumps({"refresh_token": os.environ["RT"]}))' \
            | curl -s --max-time 10 -X POST -H 'Content-Type: application/json' --data-binary @- \
                "$TOKEN_BASE/api/v1/auth/refresh" >"$dir/$name.json" || ! _bench_token_store "$name"; then
            bench_die "token refresh of $name failed: $(head -c 300 "$dir/$name.json")"
        fi
    fi
    cat "$dir/$name.access"
}

# bench_perf_summary DATA SERVER_PID [PG_DATA_DIR] — what the cores did during a `perf record -a`
# (BENCH_PERF=1): the share of the server (its threads), of this cluster's processes, of wrk and of
# everything else (other people's work on the shared machine), then the top functions of the server
# and of this cluster (children of its postmaster, read from PG_DATA_DIR/postmaster.pid).
bench_perf_summary() {
    local data="$1" pid="$2" pgdata="${3:-}" pgpids="" tids pm by_pid seen
    tids="$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 -printf '%f,' 2>/dev/null)"
    if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
        pm="$(head -n 1 "$pgdata/postmaster.pid")"
        pgpids="$(printf '%s\n' "$pm" $(pgrep -P "$pm") | paste -sd, -)"
    fi
    by_pid="$(perf report -i "$data" --no-children --sort pid --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$')"
    echo "# perf record -a -g -e cpu-clock -F 499 during one result GET run; shares of all samples of both cores"
    echo "## by owner"
    awk -v s=",$tids" -v pg=",$pgpids," '{v = $1; sub("%", "", v); split($2, a, ":"); p = a[1]; c = a[2]
        if (index(s, "," p ",")) k = "yizhan (the server, pid " substr(s, 2, length(s) - 2) ")"
        else if (index(pg, "," p ",")) k = "PostgreSQL (this cluster)"
        else if (c == "wrk") k = "wrk"; else if (c == "postgres") k = "other PostgreSQL clusters (other work)"
        else k = "everything else (other work on the machine)"
        t[k] += v} END {for (k in t) printf "%7.2f%%  %s\n", t[k], k}' <<<"$by_pid" | sort -rn
    echo "## by command"
    perf report -i "$data" --no-children --sort comm --stdio -g none --percent-limit 1 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -n 12
    echo "## the server (pid $pid) by function, self"
    perf report -i "$data" --no-children --pid "$pid" --sort dso,sym --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -n 25
    # only the cluster's pids that have samples (perf report shows nothing when one has none)
    seen="$(awk -v pg=",$pgpids," '{split($2, a, ":"); if (index(pg, "," a[1] ",")) printf "%s,", a[1]}' <<<"$by_pid")"
    if [ -n "$seen" ]; then
        echo "## this cluster (pids ${seen%,}) by function, self"
        perf report -i "$data" --no-children --pid "${seen%,}" --sort dso,sym --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -n 20
    fi
}
