#!/usr/bin/env bash
# tests/cluster/run.sh — the deployment and cluster test (`make test-cluster`).
#
# Part 1, static (no Docker engine here): docker-compose.yml parses and refers
# to what exists, deploy/Dockerfile copies only existing, non-ignored files and
# installs runtime packages that exist and cover every library the binary
# links, deploy/nginx.conf passes `nginx -t`, deploy/yizhan.service passes
# `systemd-analyze verify`.
#
# Part 2, a cluster on loopback: a PostgreSQL 15 primary and a streaming
# replica made with pg_basebackup (replaying with a 2 s delay, so replica reads
# are visibly behind), two `yizhan serve` instances on the primary and the
# replica, nginx in front with deploy/nginx.conf's own server block and
# upstream logic (a copy, pointed at the two instances).  It checks what two
# instances and a replica must get right: a write through one instance is
# read through the other and on the replica, a user reads their own write at
# once, tokens and rate limits are shared, concurrent registrations through
# both instances get unique gap-free numbers, each webhook outbox row is sent
# exactly once by the two competing instances, nginx normalises framing and
# passes the request id, killing an instance under load fails nothing beyond
# what was in flight, a graceful stop fails nothing, and with the replica
# stopped public reads still answer 200 through both instances.
#
# Each check prints "ok", "FAIL" or "skip"; the last line is
# "cluster: N passed, M failed, K skipped"; exit 1 when anything failed.
# Everything runs on 127.0.0.1 and Unix sockets in a temp dir (in /dev/shm when
# it has room), on free ports;
# every process it starts is stopped by pid and the temp dir removed on exit
# (CLUSTER_KEEP=1 keeps the dir for a look at the logs).  About 75 s on 2 cores.
#
#   YIZHAN_BIN=build/yizhan   the server binary (built by `make`)
#   CLUSTER_STATIC_ONLY=1     only part 1
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT" || exit 1
BIN="${YIZHAN_BIN:-$ROOT/build/yizhan}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
T0=$(date +%s)

passed=0; failed=0; skipped=0
ok()   { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s%s\n' "$1" "${2:+ — $2}"; }
skip() { skipped=$((skipped + 1)); printf 'skip  %s%s\n' "$1" "${2:+ — $2}"; }
check() { # name detail-on-failure command...
  local name=$1 why=$2; shift 2
  if "$@"; then ok "$name"; else fail "$name" "$why"; fi
}
exec 3>&2         # log() writes here even where stderr is silenced
log() { printf '[cluster %3ds] %s\n' "$(($(date +%s) - T0))" "$*" >&3; }
die() { log "ERROR: $*"; failed=$((failed + 1)); exit 1; }
summary() { echo; echo "cluster: ${passed} passed, ${failed} failed, ${skipped} skipped"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
# gone PID — exited (no such process, or a zombie waiting to be reaped)
gone() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -z "$st" ] || [ "$st" = Z ]; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

TMP=""
PIDS=()           # every background process this script started and has not reaped
reaped() { local p keep=(); for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
PG_DIRS=()        # every cluster this script started
cleanup() {
  local p d t; t=$(date +%s)
  for p in "${PIDS[@]}"; do
    gone "$p" || kill -TERM "$p" 2>/dev/null
  done
  for p in "${PIDS[@]}"; do
    local name; name=$(cat "/proc/$p/comm" 2>/dev/null)
    for _ in $(seq 50); do gone "$p" && break; sleep 0.1; done
    gone "$p" || { log "pid $p ($name) still running 5 s after SIGTERM: killed"; kill -KILL "$p" 2>/dev/null; }
    wait "$p" 2>/dev/null
    [ -n "${CLUSTER_DEBUG:-}" ] && log "stopped $p ($name)"
  done
  for d in "${PG_DIRS[@]}"; do
    as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1
    [ -n "${CLUSTER_DEBUG:-}" ] && log "stopped $d"
  done
  if [ -z "$TMP" ]; then :; elif [ "${CLUSTER_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  log "cleaned up in $(($(date +%s) - t)) s"
  summary     # the last line of the output, whatever happened
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ tools
# deps.sh installs, only when missing: PostgreSQL 15 (server and client, with
# pg_basebackup), curl, python3; YIZHAN_DEPS_BENCH adds wrk and nginx-light.
YIZHAN_DEPS_BENCH=1 bash deploy/local/deps.sh >&2 || die "installing dependencies failed"
[ -x "$BIN" ] || die "$BIN not found: build it first (make)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# In memory when there is room (two clusters' files come and go faster there).
base=/tmp
[ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -gt 1048576 ] 2>/dev/null && base=/dev/shm
TMP=$(mktemp -d "$base/yizhan-cluster.XXXXXX")
chmod 0755 "$TMP"
# A snapshot of the binary and of what it reads at run time, as an image or a
# release would have: instances restarted mid-test must not pick up a rebuild
# or a migration edited in the working tree meanwhile.
mkdir -p "$TMP/app/api"
cp "$BIN" "$TMP/app/yizhan" && cp -r migrations web "$TMP/app/" && cp api/openapi.yaml "$TMP/app/api/" ||
  die "cannot copy the application into $TMP"
BIN=$TMP/app/yizhan
export YIZHAN_MIGRATIONS_DIR=$TMP/app/migrations YIZHAN_WEB_ROOT=$TMP/app/web YIZHAN_API_SPEC=$TMP/app/api/openapi.yaml

# =================================================================== part 1
echo "== static checks: Dockerfile, docker-compose.yml, nginx.conf, yizhan.service"

# --- docker-compose.yml ------------------------------------------------------
# `config` parses, interpolates and validates against the compose schema
# without an engine.  The docker client here has no compose plugin; Debian's
# docker-compose (v1.29, same file format) does the same job.
COMPOSE=()
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=(docker-compose)
elif is_root; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends docker-compose ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose; }; } \
    >"$TMP/apt-compose.log" 2>&1 && COMPOSE=(docker-compose)
fi
if [ ${#COMPOSE[@]} -eq 0 ]; then
  skip "compose: docker-compose.yml parses" "neither docker compose nor docker-compose is available"
else
  # A mirror of the repository with a filled-in .env, so that env_file and
  # the ${VAR:?} checks resolve without touching the working tree.
  mkdir -p "$TMP/compose"
  for f in "$ROOT"/* "$ROOT"/.dockerignore; do [ -e "$f" ] && ln -s "$f" "$TMP/compose/"; done
  sed -e 's/^POSTGRES_PASSWORD=$/POSTGRES_PASSWORD=test-password/' \
      -e 's/^YIZHAN_JWT_SECRET=$/YIZHAN_JWT_SECRET=0123456789abcdef0123456789abcdef/' \
      deploy/env.example >"$TMP/compose/.env"
  rm -f "$TMP/compose/docker-compose.yml"; cp docker-compose.yml "$TMP/compose/"
  if (cd "$TMP/compose" && "${COMPOSE[@]}" -f docker-compose.yml config) >"$TMP/compose.out" 2>"$TMP/compose.err"; then
    ok "compose: docker-compose.yml parses (${COMPOSE[*]} config)"
    if python3 "$HERE/static_checks.py" compose "$TMP/compose.out" "$ROOT" "$TMP/compose" "$BIN"; then
      ok "compose: build context, Dockerfile, mounts, env file and YIZHAN_* names exist"
    else
      fail "compose: build context, Dockerfile, mounts, env file and YIZHAN_* names exist"
    fi
  else
    fail "compose: docker-compose.yml parses" "$(tail -5 "$TMP/compose.err" | tr '\n' ' ')"
  fi
  # Without .env the file must refuse to start rather than run without secrets.
  if (cd "$TMP/compose" && rm .env && : >.env && "${COMPOSE[@]}" -f docker-compose.yml config) >/dev/null 2>"$TMP/compose2.err"
  then fail "compose: refuses to run without POSTGRES_PASSWORD"
  else check "compose: refuses to run without POSTGRES_PASSWORD" "$(head -c 200 "$TMP/compose2.err")" \
         grep -q POSTGRES_PASSWORD "$TMP/compose2.err"
  fi
fi

# --- deploy/Dockerfile -------------------------------------------------------
# (package names are checked against apt's lists: make sure there are some)
if is_root && ! apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then apt-get update -qq >/dev/null 2>&1; fi
check "Dockerfile: every COPY source exists and is not excluded by .dockerignore" "" \
  python3 "$HERE/static_checks.py" dockerfile-copy "$ROOT"
check "Dockerfile: two stages on Debian 12, final stage non-root, no -dev packages in it" "" \
  python3 "$HERE/static_checks.py" dockerfile-shape "$ROOT"
check "Dockerfile: runtime packages exist and provide every library build/yizhan links" "" \
  python3 "$HERE/static_checks.py" dockerfile-libs "$ROOT" "$BIN"

# --- deploy/nginx.conf -------------------------------------------------------
# nginx_conf DIR LISTEN_PORT INSTANCE... — a runnable copy of deploy/nginx.conf:
# the instance lines, the port and the web root replaced; logs and temp files
# in DIR, so it runs unprivileged in a temp dir.
nginx_conf() {
  local dir=$1 port=$2; shift 2
  local servers="" a
  for a in "$@"; do servers+="    server $a max_fails=1 fail_timeout=5s;\n"; done
  mkdir -p "$dir/tmp"
  awk -v servers="$servers" '
    /# BEGIN instances/ { printf "%s", servers; skip = 1; next }
    /# END instances/   { skip = 0; next }
    !skip' deploy/nginx.conf |
    sed -e "s#listen 8080 #listen 127.0.0.1:$port #" -e "s#/srv/yizhan/web#$TMP/app/web#" >"$dir/yizhan.conf"
  local user_line=""
  if is_root; then user_line="user $(id -un nobody 2>/dev/null || echo nobody) $(id -gn nobody 2>/dev/null || echo nogroup);"; fi
  cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format rid '\$remote_addr "\$request" \$status \$upstream_addr rid=\$yizhan_request_id';
    access_log $dir/access.log rid;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/yizhan.conf;
}
EOF
  # nginx's workers (nobody) write request bodies to the temp dirs
  if is_root; then chown -R nobody "$dir/tmp" 2>/dev/null; fi
}
nginx_conf "$TMP/nginx-static" "$(free_port)" 127.0.0.1:1 127.0.0.1:2
if "$NGINX" -t -p "$TMP/nginx-static/" -c "$TMP/nginx-static/nginx.conf" >"$TMP/nginx-t.log" 2>&1; then
  ok "nginx: deploy/nginx.conf passes nginx -t"
else
  fail "nginx: deploy/nginx.conf passes nginx -t" "$(grep -m2 emerg "$TMP/nginx-t.log")"
fi
grep -q 'hash \$http_authorization consistent' deploy/nginx.conf &&
  grep -q 'proxy_next_upstream error timeout http_502 http_503' deploy/nginx.conf
check "nginx: user affinity (hash on Authorization) and failover for idempotent requests configured" "" test $? -eq 0

# --- deploy/yizhan.service ---------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$TMP/systemd"
  # verify wants ExecStart to exist: point it at the binary under test
  sed -e "s#/usr/local/bin/yizhan#$BIN#g" deploy/yizhan.service >"$TMP/systemd/yizhan.service"
  systemd-analyze verify "$TMP/systemd/yizhan.service" >"$TMP/sd.log" 2>&1
  rc=$?
  check "systemd: yizhan.service passes systemd-analyze verify, no warnings" "$(head -3 "$TMP/sd.log" | tr '\n' ' ')" \
    test "$rc" -eq 0 -a ! -s "$TMP/sd.log"
  exposure=$(systemd-analyze security --offline=yes "$TMP/systemd/yizhan.service" 2>/dev/null |
             grep -o 'exposure level for [^:]*: [0-9.]*' | grep -o '[0-9.]*$')
  check "systemd: hardening (NoNewPrivileges, ProtectSystem=strict, dedicated user; exposure ${exposure:-?} ≤ 2.0)" "" \
    python3 -c "import sys; sys.exit(0 if '${exposure:-}' and float('${exposure:-99}') <= 2.0 else 1)"
else
  skip "systemd: yizhan.service passes systemd-analyze verify" "systemd-analyze not installed"
fi

if [ "${CLUSTER_STATIC_ONLY:-0}" = 1 ]; then [ "$failed" -eq 0 ]; exit; fi

# =================================================================== part 2
echo
echo "== cluster: primary + streaming replica, two instances, nginx (all on loopback)"

REPLICA_SUPPORT=0
# grep reads it all: with -q it would exit at the match and, under pipefail, the
# writer's SIGPIPE (the listing is over 4 KB) would count as no replica support
"$BIN" config | grep '^YIZHAN_DATABASE_REPLICA_URL' >/dev/null && REPLICA_SUPPORT=1
[ "$REPLICA_SUPPORT" = 1 ] || log "this yizhan has no YIZHAN_DATABASE_REPLICA_URL: replica checks are skipped"
NO_REPLICA="skipped: server has no replica support yet"

# --- PostgreSQL: primary and replica ---------------------------------------------
SOCK=$TMP/pgsock
mkdir -p "$SOCK" "$TMP/pg"
is_root && chown postgres "$SOCK" "$TMP/pg"
P1=$(free_port); P2=$(free_port)
PRIMARY=$TMP/pg/primary; REPLICA=$TMP/pg/replica
as_pg "$PGBIN/initdb" -D "$PRIMARY" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 ||
  die "initdb failed: $(tail -3 "$TMP/initdb.log")"
# initdb -A trust allows `local replication all trust`: pg_basebackup and the
# replica's walreceiver connect over the socket as postgres.
as_pg tee -a "$PRIMARY/postgresql.conf" >/dev/null <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $P1
max_connections = 100
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 4
wal_keep_size = 64MB
hot_standby = on
fsync = off
synchronous_commit = on
log_min_messages = warning
EOF
PG_DIRS+=("$PRIMARY")
as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$TMP/pg/primary.log" -w -t 60 start >/dev/null ||
  die "primary did not start: $(tail -5 "$TMP/pg/primary.log")"
psql_p() { "$PGBIN/psql" -h "$SOCK" -p "$P1" -U postgres -d yizhan -X -Atq -v ON_ERROR_STOP=1 "$@"; }
psql_r() { "$PGBIN/psql" -h "$SOCK" -p "$P2" -U postgres -d yizhan -X -Atq -v ON_ERROR_STOP=1 "$@"; }
"$PGBIN/createdb" -h "$SOCK" -p "$P1" -U postgres yizhan || die "createdb failed"

# The replica is made before the schema exists: migrations, demo data and
# everything after reach it by streaming, not by the copy.
as_pg "$PGBIN/pg_basebackup" -h "$SOCK" -p "$P1" -U postgres -D "$REPLICA" -R -X stream -c fast \
  >"$TMP/basebackup.log" 2>&1 || die "pg_basebackup failed: $(tail -3 "$TMP/basebackup.log")"
as_pg tee -a "$REPLICA/postgresql.conf" >/dev/null <<EOF
port = $P2
hot_standby = on
# Replay 2 s late, so that a read served by the replica right after a write
# is visibly stale: that is how the checks tell replica reads from primary reads.
recovery_min_apply_delay = 2s
EOF
PG_DIRS+=("$REPLICA")
as_pg "$PGBIN/pg_ctl" -D "$REPLICA" -l "$TMP/pg/replica.log" -w -t 60 start >/dev/null ||
  die "replica did not start: $(tail -5 "$TMP/pg/replica.log")"
log "primary on port $P1, replica on port $P2 (socket dir $SOCK)"

export YIZHAN_DATABASE_URL="host=$SOCK port=$P1 dbname=yizhan user=postgres"
REPLICA_URL="host=$SOCK port=$P2 dbname=yizhan user=postgres connect_timeout=2"
"$BIN" migrate >"$TMP/migrate.log" 2>&1 || die "yizhan migrate failed: $(tail -5 "$TMP/migrate.log")"
mkdir -p "$TMP/var"
YIZHAN_VAR_DIR=$TMP/var bash deploy/demo/load.sh "$BIN" >"$TMP/demo.log" 2>&1 ||
  die "demo data failed: $(tail -5 "$TMP/demo.log")"
PW=$(cat "$TMP/var/demo-password")
(umask 077 && openssl rand -out "$TMP/jwt.secret" 48)
export YIZHAN_JWT_SECRET_FILE=$TMP/jwt.secret YIZHAN_SIGNING_KEY_DIR=$TMP/keys YIZHAN_WEBHOOK_ALLOW_PRIVATE=true  # the test receives webhooks on 127.0.0.1
export YIZHAN_MAX_CONNS_PER_CLIENT=0  # as in docker-compose.yml: nginx limits connections per client
"$BIN" keygen --missing >"$TMP/keygen.log" 2>&1 || die "keygen failed: $(tail -3 "$TMP/keygen.log")"
# Tests sign in many times from one address: the per-address limit is not
# under test (the per-account one is, below).
psql_p -c "UPDATE settings SET value = '{\"max\": 10000, \"window_s\": 60}' WHERE key = 'login_limit_per_ip'"

state=$(psql_p -c "SELECT state FROM pg_stat_replication" 2>/dev/null)
check "replica: streaming from the primary (pg_stat_replication: ${state:-none})" "" test "$state" = streaming
check "replica: in recovery, read-only" "" test "$(psql_r -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t

# --- two instances ------------------------------------------------------------------
PA=$(free_port); PB=$(free_port); PN=$(free_port)
declare -A PID_OF
start_instance() { # name port
  local name=$1 port=$2
  YIZHAN_LISTEN=127.0.0.1:$port YIZHAN_THREADS=1 YIZHAN_DATABASE_REPLICA_URL="$REPLICA_URL" \
    YIZHAN_LOG_LEVEL=info "$BIN" serve >>"$TMP/$name.log" 2>&1 &
  PID_OF[$name]=$!
  PIDS+=($!)
}
wait_ready() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$1/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
start_instance a "$PA"; start_instance b "$PB"
wait_ready "$PA" 20 || die "instance A did not become ready: $(tail -5 "$TMP/a.log")"
wait_ready "$PB" 20 || die "instance B did not become ready: $(tail -5 "$TMP/b.log")"
A=http://127.0.0.1:$PA; B=http://127.0.0.1:$PB; N=http://127.0.0.1:$PN

nginx_conf "$TMP/nginx" "$PN" "127.0.0.1:$PA" "127.0.0.1:$PB"
"$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_ready "$PN" 10 || die "nginx did not start: $(tail -5 "$TMP/nginx/error.log")"
log "instances A :$PA and B :$PB, nginx :$PN"
ok "two instances and nginx ready (GET /readyz 200 on each)"

# --- HTTP helpers -------------------------------------------------------------------
# req METHOD URL [TOKEN] [JSON] → $CODE, body in $TMP/body, headers in $TMP/hdr
req() {
  local args=(-s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' --max-time 15 -X "$1" "$2")
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
  CODE=$(curl "${args[@]}" 2>/dev/null) || CODE=${CODE:-000}
}
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@" 2>/dev/null; }
login() { # base email password → token on stdout (empty on failure)
  req POST "$1/api/v1/auth/login" "" "{\"email\":\"$2\",\"password\":\"$3\"}"
  [ "$CODE" = 200 ] && jq_ "$TMP/body" 'd["access_token"]'
}
progress_target() { # base token year → the 'contracts' target seen
  req GET "$1/api/v1/targets/progress?year=$3&region=511900" "$2"
  [ "$CODE" = 200 ] && jq_ "$TMP/body" '[i["target"] for i in d["items"] if i["metric"]=="contracts"][0]'
}
poll() { # seconds command... — true as soon as the command is
  local end=$(($(date +%s%N) + $1 * 1000000000)); shift
  while :; do "$@" && return 0; [ "$(date +%s%N)" -ge "$end" ] && return 1; sleep 0.1; done
}

# --- docker-compose.yml's own commands, run here against the live cluster -------------
# The health checks and entrypoints as the containers would run them (compose's
# $$ escapes undone), with ports and paths mapped onto this machine.
if [ -s "$TMP/compose.out" ]; then
  argv() { mapfile -d '' -t ARGV < <(python3 "$HERE/static_checks.py" compose-argv "$TMP/compose.out" "$1" "$2"); }
  argv yizhan1 healthcheck
  timeout 6 "${ARGV[@]//\/8080/\/$PA}" >/dev/null 2>&1; up=$?
  timeout 6 "${ARGV[@]//\/8080/\/$(free_port)}" >/dev/null 2>&1; down=$?
  check "compose: the instances' health check passes on a ready instance, fails on none" "rc $up and $down" \
    test "$up" -eq 0 -a "$down" -ne 0
  argv nginx healthcheck
  timeout 6 "${ARGV[@]//\/8080/\/$PN}" >/dev/null 2>&1
  check "compose: nginx's health check passes through nginx to an instance" "rc $?" test $? -eq 0
  mkdir -p "$TMP/ep/bin" && ln -sf "$BIN" "$TMP/ep/bin/yizhan"
  argv yizhan1 entrypoint
  ep=("${ARGV[@]:0:${#ARGV[@]}-2}")                      # without the command (serve --migrate)
  ep=("${ep[@]//\/run\/yizhan\//$TMP/ep/}"); ep=("${ep[@]//\/usr\/local\/bin\/yizhan/$BIN}")
  secret=$(openssl rand -hex 24)
  out=$(YIZHAN_JWT_SECRET=$secret "${ep[@]}" version 2>&1); rc=$?
  YIZHAN_JWT_SECRET=short "${ep[@]}" version >/dev/null 2>&1; rc_short=$?
  check "compose: entrypoint writes YIZHAN_JWT_SECRET to a 0600 file and execs yizhan; refuses a short one" \
    "rc $rc ($out), file $(stat -c %a "$TMP/ep/jwt.secret" 2>/dev/null), short → rc $rc_short" \
    test "$rc" -eq 0 -a "$(cat "$TMP/ep/jwt.secret" 2>/dev/null)" = "$secret" \
         -a "$(stat -c %a "$TMP/ep/jwt.secret" 2>/dev/null)" = 600 -a "$rc_short" -eq 2
  argv init entrypoint
  init=("${ARGV[@]//\/tmp\//$TMP/ep/}")
  export_admin() { PATH=$TMP/ep/bin:$PATH YIZHAN_ADMIN_EMAIL=compose-admin@cluster.test \
                   YIZHAN_ADMIN_PASSWORD=Compose-Admin-2026-pass "$@"; }
  out1=$(export_admin "${init[@]}" 2>&1); rc1=$?
  out2=$(export_admin "${init[@]}" 2>&1); rc2=$?
  tok=$(login "$A" compose-admin@cluster.test Compose-Admin-2026-pass)
  check "compose: init migrates, makes keys and the admin once (second run: already exists), admin signs in" \
    "rc $rc1/$rc2: $(tail -1 <<<"$out1") / $(tail -1 <<<"$out2")" \
    test "$rc1" -eq 0 -a "$rc2" -eq 0 -a -n "$tok" -a -n "$(grep 'created' <<<"$out1")" \
         -a -n "$(grep 'already exists' <<<"$out2")"
else
  skip "compose: commands run against the cluster" "no resolved compose file"
fi

# --- a write through A: read through B, on the replica, and by the writer at once ---
BUREAU=$(login "$A" bureau@demo.yizhan.cn "$PW")
[ -n "$BUREAU" ] || die "bureau sign-in failed ($CODE): $(head -c 300 "$TMP/body")"
check "tokens: a token issued by A is accepted by B" "" \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $BUREAU' $B/api/v1/me)\" = 200 ]"

R1=$((1000000 + RANDOM * 7 + 1))
req PUT "$A/api/v1/targets" "$BUREAU" "{\"region_code\":\"511900\",\"year\":2027,\"metric\":\"contracts\",\"target\":$R1}"
put_code=$CODE
t_a=$(progress_target "$A" "$BUREAU" 2027)    # right after the write, on the writer's instance
t_b=$(progress_target "$B" "$BUREAU" 2027)    # right after, on the other instance
check "write through A: PUT /api/v1/targets → 200" "got $put_code" test "$put_code" = 200
if [ "$REPLICA_SUPPORT" = 1 ]; then
  check "read-your-writes on A: the writer reads its write at once (primary, not the lagging replica)" \
    "saw ${t_a:-nothing}, wrote $R1" test "$t_a" = "$R1"
  check "replica in use: B's immediate read is served by the replica (still behind by its 2 s delay)" \
    "B saw ${t_b:-nothing} at once — not from the replica?" test "$t_b" != "$R1"
else
  skip "read-your-writes on A" "$NO_REPLICA"; skip "replica in use" "$NO_REPLICA"
fi
seen_b() { [ "$(progress_target "$B" "$BUREAU" 2027)" = "$R1" ]; }
check "write through A is readable through B (≤ 5 s)" "B never saw $R1" poll 5 seen_b
seen_r() { [ "$(psql_r -c "SELECT target FROM plan_targets WHERE region_code='511900' AND year=2027 AND metric='contracts'" 2>/dev/null)" = "$R1" ]; }
check "write through A is on the replica (psql, ≤ 5 s)" "replica never had $R1" poll 5 seen_r

# the same through nginx: the user's requests stay on one instance
R2=$((R1 + 1))
req PUT "$N/api/v1/targets" "$BUREAU" "{\"region_code\":\"511900\",\"year\":2027,\"metric\":\"contracts\",\"target\":$R2}"
put_code=$CODE
t_n=$(progress_target "$N" "$BUREAU" 2027)
if [ "$REPLICA_SUPPORT" = 1 ]; then
  check "read-your-writes through nginx (user affinity keeps the writer on its instance)" \
    "PUT $put_code, then read ${t_n:-nothing}, wrote $R2" test "$put_code" = 200 -a "$t_n" = "$R2"
else
  skip "read-your-writes through nginx" "$NO_REPLICA"
fi
if [ "$REPLICA_SUPPORT" = 1 ]; then
  n=$(psql_r -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'yizhan' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
  check "replica: both instances hold connections to it ($n)" "" test "${n:-0}" -ge 2
fi

# --- tokens: refresh rotation and replay detection are shared -----------------------
req POST "$A/api/v1/auth/login" "" "{\"email\":\"broker@demo.yizhan.cn\",\"password\":\"$PW\"}"
RT1=$(jq_ "$TMP/body" 'd["refresh_token"]')
req POST "$B/api/v1/auth/refresh" "" "{\"refresh_token\":\"$RT1\"}"; c1=$CODE
req POST "$A/api/v1/auth/refresh" "" "{\"refresh_token\":\"$RT1\"}"; c2=$CODE
check "tokens: refresh token from A rotates on B (200), its replay on A is refused (401)" "got $c1, $c2" \
  test "$c1" = 200 -a "$c2" = 401

# --- rate limits are counted across instances ----------------------------------------
psql_p -c "UPDATE settings SET value = '{\"max\": 4, \"window_s\": 300}' WHERE key = 'login_limit_per_account'"
who="ratelimit-$RANDOM@cluster.test"; codes=""
for base in "$A" "$B" "$A" "$B" "$A"; do
  req POST "$base/api/v1/auth/login" "" "{\"email\":\"$who\",\"password\":\"wrong-password\"}"
  codes+="$CODE "
done
psql_p -c "UPDATE settings SET value = '{\"max\": 10, \"window_s\": 900}' WHERE key = 'login_limit_per_account'"
check "rate limits: 4 failed sign-ins split over A and B exhaust one account limit (5th: 429)" "got $codes" \
  test "$codes" = "401 401 401 401 429 "

# --- registration numbers: concurrent registrations through both instances ----------
# The officer of office 1 registers that office's queue; the admin the other
# offices' (more contracts, more contention), alternately through A and B.
OFFICER_A=$(login "$A" officer@demo.yizhan.cn "$PW")
OFFICER_B=$(login "$B" officer@demo.yizhan.cn "$PW")
ADMIN_A=$(login "$A" admin@demo.yizhan.cn "$PW")
ADMIN_B=$(login "$B" admin@demo.yizhan.cn "$PW")
req GET "$A/api/v1/registry/queue?limit=100" "$OFFICER_A"
mine=" $(jq_ "$TMP/body" '" ".join(str(i["id"]) for i in d["items"])') "
req GET "$B/api/v1/registry/queue?limit=100" "$ADMIN_B"
ids=$(jq_ "$TMP/body" '" ".join(str(i["id"]) for i in d["items"])')
read -r -a IDS <<<"$ids"
log "registry queue: $(wc -w <<<"$mine") contracts of office 1, ${#IDS[@]} in all"
if [ "${#IDS[@]}" -lt 4 ]; then
  fail "numbering: registrations through A and B" "only ${#IDS[@]} submitted contracts in the queue ($CODE)"
else
  mkdir -p "$TMP/reg"
  i=0
  for id in "${IDS[@]}"; do
    if ((i % 2 == 0)); then base=$A tok=$ADMIN_A; [[ $mine == *" $id "* ]] && tok=$OFFICER_A
    else base=$B tok=$ADMIN_B; [[ $mine == *" $id "* ]] && tok=$OFFICER_B; fi
    # the demo applications carry no scan: the officer's explicit override
    curl -s -o "$TMP/reg/$id.json" -w '%{http_code}\n' --max-time 20 -X POST -H 'Content-Type: application/json' \
      -d '{"no_scan_reason": "集群测试：演示合同未附扫描件"}' \
      -H "Authorization: Bearer $tok" "$base/api/v1/contracts/$id/register" >"$TMP/reg/$id.code" &
    i=$((i + 1))
  done
  wait_reg() { local f; for f in "$TMP"/reg/*.code; do [ -s "$f" ] || return 1; done; }
  poll 30 wait_reg
  n200=$(cat "$TMP"/reg/*.code | grep -c '^200$')
  n5xx=$(cat "$TMP"/reg/*.code | grep -c '^5')
  log "registrations: ${#IDS[@]} sent, $n200 registered, $n5xx 5xx ($(sort "$TMP"/reg/*.code | uniq -c | tr -s ' \n' ' '))"
  check "numbering: ${#IDS[@]} concurrent registrations through A and B — no 5xx, ≥ 4 registered" \
    "$n200 registered, $n5xx 5xx" test "$n5xx" -eq 0 -a "$n200" -ge 4
  # every (office, year): serials 1..n, each once, numbers unique, counter = n
  gaps=$(psql_p -c "
    SELECT string_agg(format('office %s/%s: %s contracts, serials %s..%s, %s distinct numbers, counter %s',
                             office_id, registration_year, n, lo, hi, dn, last_serial), '; ')
    FROM (SELECT c.office_id, c.registration_year, count(*) n, min(registration_serial) lo,
                 max(registration_serial) hi, count(DISTINCT registration_no) dn, max(r.last_serial) last_serial
          FROM contracts c LEFT JOIN registration_counters r ON r.office_id = c.office_id AND r.year = c.registration_year
          WHERE c.registration_serial IS NOT NULL GROUP BY 1, 2) s
    WHERE NOT (lo = 1 AND hi = n AND dn = n AND last_serial = n)")
  check "numbering: registration numbers unique and serials gap-free per office and year" "$gaps" test -z "$gaps"
fi

# --- webhook outbox: each row delivered exactly once by two competing instances ------
# Each instance's background thread claims rows with FOR UPDATE SKIP LOCKED;
# the receiver answers slowly (50 ms) so that both are busy at once.
if [ -n "$(psql_p -c "SELECT to_regclass('webhook_outbox')")" ] && grep -q 'FROM webhook_outbox' "$BIN"; then
  PW_HOOK=$(free_port)
  python3 - "$PW_HOOK" "$TMP/hooks.txt" >"$TMP/hooks.log" 2>&1 <<'PY' &
import http.server, sys, time
out = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.05)
        out.write(self.headers.get("X-Yizhan-Delivery", "?") + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  PIDS+=($!)
  # wait until the receiver accepts connections (a fixed sleep lost the race on a loaded machine)
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PW_HOOK") 2>/dev/null && break; sleep 0.1; done
  : >"$TMP/hooks.txt"
  psql_p -c "UPDATE orgs SET webhook_url = 'http://127.0.0.1:$PW_HOOK/hook' WHERE id = 2"
  first=$(psql_p -c "INSERT INTO webhook_outbox (org_id, event, payload)
                     SELECT 2, 'cluster.test', jsonb_build_object('n', g) FROM generate_series(1, 40) g
                     RETURNING id" | sort -n | head -1)
  psql_p -c "NOTIFY webhook_outbox"
  done_hooks() { [ "$(psql_p -c "SELECT count(*) FROM webhook_outbox WHERE id >= $first AND status = 'pending'")" = 0 ]; }
  poll 30 done_hooks
  res=$(psql_p -c "SELECT count(*) FILTER (WHERE status = 'delivered') || ' delivered, ' ||
                          count(*) FILTER (WHERE status <> 'delivered') || ' not (' ||
                          coalesce(max(last_error), '') || ')' FROM webhook_outbox WHERE id >= $first")
  got=$(wc -l <"$TMP/hooks.txt"); uniq=$(sort -u "$TMP/hooks.txt" | wc -l)
  log "webhooks: $res; receiver got $got deliveries, $uniq distinct"
  check "webhook outbox: 40 events delivered exactly once with two instances sending ($res; $got received, $uniq distinct)" "" \
    test "$res" = "40 delivered, 0 not ()" -a "$got" = 40 -a "$uniq" = 40
  psql_p -c "UPDATE orgs SET webhook_url = NULL WHERE id = 2"
else
  skip "webhook outbox: delivered exactly once" "this build has no webhook outbox"
fi

# --- nginx: framing normalised, request id and client address passed, static caching --
raw() { # raw HTTP request to nginx → its status line
  python3 - "$PN" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
except socket.timeout:
    pass
print(data.split(b"\r\n")[0].decode("latin-1"))
PY
}
st=$(raw 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
check "nginx: Content-Length with Transfer-Encoding → 400" "got '$st'" grep -q ' 400 ' <<<"$st"
st=$(raw 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}')
check "nginx: two Content-Length headers → 400" "got '$st'" grep -q ' 400 ' <<<"$st"
# a chunked body is re-framed with one Content-Length before it reaches an instance
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary "{\"email\":\"x@cluster.test\",\"password\":\"nope\"}" "$N/api/v1/auth/login")
check "nginx: a chunked request body reaches the instance re-framed (login answers 401, not 400/411)" "got $code" \
  test "$code" = 401
rid=$(curl -s -D - -o /dev/null -H 'X-Request-Id: cluster-test-rid-42' "$N/api/v1/codes/domains" | tr -d '\r' |
      awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
check "nginx: the client's X-Request-Id reaches the instance and comes back" "got '$rid'" test "$rid" = cluster-test-rid-42
rid=$(curl -s -D - -o /dev/null "$N/api/v1/codes/domains" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
grep -q "\"request_id\":\"$rid\"" "$TMP/a.log" "$TMP/b.log" 2>/dev/null
check "nginx: without one, nginx's request id ($rid) is the instance's request id in its log" "" test $? -eq 0
vendor=$(cd web && find vendor -type f -name '*.js' | head -1)
cc=$(curl -s -D - -o /dev/null "$N/$vendor" | tr -d '\r' | awk -F': ' 'tolower($1)=="cache-control"{print $2}')
check "nginx: static assets served from disk with caching (/$vendor: ${cc:-none})" "" grep -q 'max-age=' <<<"$cc"
csp=$(curl -s -D - -o /dev/null "$N/" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: //p')
check "nginx: the page comes from the instances with their Content-Security-Policy (import map by hash)" "got '$csp'" \
  grep -q "frame-ancestors 'none'" <<<"$csp"
xfo=$(curl -s -D - -o /dev/null "$N/$vendor" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-frame-options"{print $2}')
check "nginx: static assets carry X-Frame-Options (got ${xfo:-none})" "" test "$xfo" = DENY
code=$(curl -s -o /dev/null -w '%{http_code}' "$N/metrics")
check "nginx: /metrics is not public (404)" "got $code" test "$code" = 404
code=$(curl -s -o /dev/null -w '%{http_code}' "$N/docs")
check "nginx: API docs proxied (GET /docs → 200)" "got $code" test "$code" = 200

# --- killing an instance under load --------------------------------------------------
# wrk_run NAME SECONDS ACTION-AT-2s — anonymous GETs through nginx (round-robin
# over both instances); prints "requests errors"
wrk_run() {
  local name=$1 secs=$2; shift 2
  wrk -t2 -c16 -d"${secs}s" --timeout 5s "$N/api/v1/codes/domains" >"$TMP/wrk-$name.txt" 2>&1 &
  local wpid=$!
  sleep 2
  "$@"
  wait "$wpid"
  python3 - "$TMP/wrk-$name.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", t).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", t) or [0, 0])[1])
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
print(total, non2xx + (sum(int(x) for x in sock.groups()) if sock else 0))
PY
}
la=$(grep -c 'codes/domains' "$TMP/a.log"); lb=$(grep -c 'codes/domains' "$TMP/b.log")
kill_a() { kill -KILL "${PID_OF[a]}"; log "kill -9 instance A (pid ${PID_OF[a]})"; }
# (stderr silenced: bash would print "Killed" for its child)
{ read -r total errs < <(wrk_run kill 6 kill_a); wait "${PID_OF[a]}"; } 2>/dev/null
reaped "${PID_OF[a]}"
la2=$(grep -c 'codes/domains' "$TMP/a.log"); lb2=$(grep -c 'codes/domains' "$TMP/b.log")
log "kill -9 under load: $total requests, $errs failed (A served $((la2 - la)), B $((lb2 - lb)))"
check "load through nginx reached both instances before the kill (anonymous requests round-robin)" \
  "A served $((la2 - la)), B $((lb2 - lb))" test $((la2 - la)) -gt 0 -a $((lb2 - lb)) -gt 0
check "kill -9 of one instance under load: $total requests, $errs failed (≤ 16 in flight)" "" \
  test "${total:-0}" -gt 100 -a "${errs:-99}" -le 16
start_instance a "$PA"
wait_ready "$PA" 20 || fail "instance A restarts" "$(tail -3 "$TMP/a.log")"

# --- a graceful stop under load fails nothing -------------------------------------------
sleep 5   # nginx tries A again after fail_timeout (5 s)
term_b() {
  date +%s%N >"$TMP/term_at"; kill -TERM "${PID_OF[b]}"; log "SIGTERM instance B (pid ${PID_OF[b]})"
}
read -r total errs < <(wrk_run term 5 term_b)
log "SIGTERM under load: $total requests, $errs failed"
check "graceful stop (SIGTERM) of one instance under load: $total requests, none failed" "$errs failed" \
  test "${total:-0}" -gt 100 -a "${errs:-99}" -eq 0
deadline=$(($(cat "$TMP/term_at") + 10000000000))
while ! gone "${PID_OF[b]}" && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.1; done
if gone "${PID_OF[b]}"; then
  took=$(( ($(date +%s%N) - $(cat "$TMP/term_at")) / 1000000 ))
  wait "${PID_OF[b]}" 2>/dev/null; rc=$?; reaped "${PID_OF[b]}"
  check "SIGTERM: instance B exited 0 within 10 s (≈ $took ms)" "exit status $rc" test "$rc" -eq 0
else
  fail "SIGTERM: instance B exited 0 within 10 s" "still running after 10 s"
  { kill -KILL "${PID_OF[b]}"; wait "${PID_OF[b]}"; } 2>/dev/null; reaped "${PID_OF[b]}"
fi
start_instance b "$PB"
wait_ready "$PB" 20 || fail "instance B restarts" "$(tail -3 "$TMP/b.log")"

# --- replica down: reads fall back to the primary ---------------------------------------
as_pg "$PGBIN/pg_ctl" -D "$REPLICA" -m fast -w -t 30 stop >/dev/null
log "replica stopped"
bad=""
for base in "$A" "$B" "$N"; do
  for i in 1 2 3 4 5; do
    for path in /api/v1/codes/domains "/api/v1/stats/contracts?year=2025"; do
      c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base$path")
      [ "$c" = 200 ] || bad+="$base$path→$c "
    done
  done
done
if [ "$REPLICA_SUPPORT" = 1 ]; then
  check "replica stopped: public reads (codes, stats) answer 200 through A, B and nginx (30 requests)" "$bad" test -z "$bad"
else
  skip "replica stopped: public reads answer 200" "$NO_REPLICA"
fi
req PUT "$A/api/v1/targets" "$BUREAU" "{\"region_code\":\"511900\",\"year\":2027,\"metric\":\"contracts\",\"target\":$((R2 + 1))}"
check "replica stopped: writes still work (PUT /api/v1/targets → 200)" "got $CODE" test "$CODE" = 200
check "replica stopped: instances stay ready (/readyz 200 on A and B)" "" wait_ready "$PA" 2
wait_ready "$PB" 2 || fail "replica stopped: B ready"

if [ "$REPLICA_SUPPORT" = 1 ]; then
  as_pg "$PGBIN/pg_ctl" -D "$REPLICA" -l "$TMP/pg/replica.log" -w -t 60 start >/dev/null
  back() {
    curl -s -o /dev/null "$A/api/v1/codes/domains"; curl -s -o /dev/null "$B/api/v1/codes/domains"
    [ "$(psql_r -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'yizhan' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null)" -ge 2 ] 2>/dev/null
  }
  check "replica restarted: both instances reconnect to it (≤ 15 s)" "" poll 15 back
fi

# instances wrote no crash or sanitizer report
if grep -lE 'AddressSanitizer|runtime error:|Segmentation' "$TMP/a.log" "$TMP/b.log" >/dev/null 2>&1; then
  fail "instances' logs free of crashes" "$(grep -hE 'AddressSanitizer|runtime error:' "$TMP/a.log" "$TMP/b.log" | head -2)"
fi

log "done in $(($(date +%s) - T0)) s"
[ "$failed" -eq 0 ]
