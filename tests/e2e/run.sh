#!/usr/bin/env bash
# Browser journeys of the web front end (tests/e2e/*.test.mjs), one per role,
# in Debian's headless Chromium driven by playwright-core, against the real
# server with the demo data.  Everything runs in a temporary folder that is
# removed at the end, also on failure:
#
#   1. installs what is missing (chromium, a CJK font, nodejs/npm; `npm ci`)
#   2. a throwaway PostgreSQL 15 (as in deploy/local/pg.sh: a temp dir, a free
#      port, a Unix socket in that dir; as the `postgres` user when root)
#   3. build/yizhan migrate, deploy/demo/load.sh, build/yizhan keygen --missing
#   4. an SMTP sink (smtp_sink.py: aiosmtpd, STARTTLS with a certificate made
#      here) and build/yizhan serve on a free port with YIZHAN_WEB_ROOT=<repo>/web,
#      sending e-mail to the sink; the journeys read what it stored (E2E_MAIL_DIR)
#   5. node --test, one journey at a time; screenshots go to tests/e2e/artifacts/
#
# Ends with one line "N passed, M failed, K skipped" (tests/run.sh reads it).
#
# Usage: tests/e2e/run.sh [BUILD_DIR]            run the journeys
#        tests/e2e/run.sh [BUILD_DIR] --serve    only start the server with demo
#                                                data and wait (Ctrl-C stops it)
# Env:   E2E_KEEP=1 keeps the temp folder; E2E_HEADED is not supported (no X).
#        E2E_FILTER=regex passes --test-name-pattern to node.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=build
SERVE_ONLY=0
for a in "$@"; do
  case "$a" in
    --serve) SERVE_ONLY=1 ;;
    *) BUILD=$a ;;
  esac
done
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/yizhan
PGBIN=${YIZHAN_PG_BIN:-/usr/lib/postgresql/15/bin}
ART=$HERE/artifacts

say() { echo "e2e: $*" >&2; }
fail_setup() { # reason — the suite could not run: count it as one failure
  say "SETUP FAILED: $*"
  [ -n "${TMP:-}" ] && [ -f "$TMP/server.log" ] && { say "last server log lines:"; tail -20 "$TMP/server.log" >&2; }
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
}

# --- 1. what the journeys need --------------------------------------------------
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null | grep -q "install ok installed" || need+=(fonts-wqy-microhei)
dpkg-query -W -f='${Status}' python3-aiosmtpd 2>/dev/null | grep -q "install ok installed" || need+=(python3-aiosmtpd)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    fail_setup "apt-get install ${need[*]} failed"
fi
[ -x "$BIN" ] || fail_setup "$BIN not built (run make)"
# npm ci when the lock file changed since the last install
if [ ! -f "$HERE/node_modules/.yizhan-lock" ] || ! cmp -s "$HERE/package-lock.json" "$HERE/node_modules/.yizhan-lock"; then
  say "npm ci"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) || fail_setup "npm ci failed"
  cp "$HERE/package-lock.json" "$HERE/node_modules/.yizhan-lock"
fi

# --- 2. a throwaway PostgreSQL -------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
TMP=$(mktemp -d /tmp/yizhan-e2e.XXXXXX)
SERVER_PID=""
SINK_PID=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$SINK_PID" ] && kill -TERM "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
  [ -f "$TMP/pg/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate -w stop >/dev/null 2>&1
  if [ "${E2E_KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PGPORT=$(free_port)
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$TMP"
  chmod 755 "$TMP"
fi
as_pg "$PGBIN/initdb" -D "$TMP/pg" -U postgres -E UTF8 --locale=C.UTF-8 -A trust >/dev/null 2>&1 || fail_setup "initdb failed"
cat >>"$TMP/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$TMP'
port = $PGPORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
log_min_messages = warning
CONF
as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w -t 60 start >/dev/null || fail_setup "PostgreSQL did not start"
as_pg "$PGBIN/createdb" -h "$TMP" -p "$PGPORT" -U postgres yizhan || fail_setup "createdb failed"

# --- 3. schema, demo data, keys ----------------------------------------------------------
export YIZHAN_DATABASE_URL="host=$TMP port=$PGPORT dbname=yizhan user=postgres"
export YIZHAN_VAR_DIR=$TMP/var
export YIZHAN_SIGNING_KEY_DIR=$TMP/keys
# a copy taken now, so that files added meanwhile cannot become pending halfway
cp -r "$ROOT/migrations" "$TMP/migrations"
export YIZHAN_MIGRATIONS_DIR=$TMP/migrations
export YIZHAN_API_SPEC=$ROOT/api/openapi.yaml
export YIZHAN_WEB_ROOT=$ROOT/web
export YIZHAN_JWT_SECRET_FILE=$TMP/jwt.secret
export YIZHAN_THREADS=2
# new password hashes at 1,000 PBKDF2 iterations, not 600,000: test accounts only (README: Configuration)
export YIZHAN_PASSWORD_ITERATIONS=1000
export YIZHAN_LOG_LEVEL=warn
export YIZHAN_ACCESS_LOG=false
(umask 077 && head -c 48 /dev/urandom >"$YIZHAN_JWT_SECRET_FILE")
mkdir -p "$YIZHAN_VAR_DIR" "$YIZHAN_SIGNING_KEY_DIR"
cd "$ROOT"
"$BIN" migrate >"$TMP/migrate.log" 2>&1 || { cat "$TMP/migrate.log" >&2; fail_setup "migrate failed"; }
[ -f deploy/demo/gen_demo.py ] || fail_setup "deploy/demo/gen_demo.py is missing"
bash deploy/demo/load.sh "$BIN" >"$TMP/load.log" 2>&1 || { cat "$TMP/load.log" >&2; fail_setup "deploy/demo/load.sh failed"; }
"$BIN" keygen --missing >"$TMP/keygen.log" 2>&1 || { cat "$TMP/keygen.log" >&2; fail_setup "keygen failed"; }

# --- 4. the SMTP sink and the server ----------------------------------------------------
SMTP_PORT=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/smtp-key.pem" -out "$TMP/smtp-cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 || fail_setup "openssl req failed"
export E2E_MAIL_DIR=$TMP/mail
/usr/bin/python3 "$HERE/smtp_sink.py" "$SMTP_PORT" "$E2E_MAIL_DIR" "$TMP/smtp-cert.pem" "$TMP/smtp-key.pem" >"$TMP/sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 1 50); do grep -q "smtp sink on" "$TMP/sink.log" 2>/dev/null && break; sleep 0.1; done
grep -q "smtp sink on" "$TMP/sink.log" || { cat "$TMP/sink.log" >&2; fail_setup "the SMTP sink did not start (python3-aiosmtpd)"; }
PORT=$(free_port)
export YIZHAN_LISTEN=127.0.0.1:$PORT
export YIZHAN_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT
export YIZHAN_SMTP_CA_FILE=$TMP/smtp-cert.pem
export YIZHAN_MAIL_FROM=noreply@demo.yizhan.cn
export YIZHAN_MAIL_RETRY_BASE_S=1
export YIZHAN_PUBLIC_URL=http://127.0.0.1:$PORT
"$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail_setup "the server exited at start"
  sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null 2>&1 || fail_setup "the server did not become ready"

export E2E_BASE_URL=$BASE
export E2E_PASSWORD; E2E_PASSWORD=$(cat "$YIZHAN_VAR_DIR/demo-password")
export E2E_DATABASE_URL=$YIZHAN_DATABASE_URL
export E2E_ARTIFACTS=$ART
mkdir -p "$ART"
rm -f "$ART"/*.png

if [ "$SERVE_ONLY" = 1 ]; then
  say "serving $BASE  (password for the demo accounts: $E2E_PASSWORD)"
  sed 's/^/    /' "$YIZHAN_VAR_DIR/demo-accounts.txt" >&2
  say "database: $YIZHAN_DATABASE_URL"
  say "Ctrl-C stops the server and the database"
  while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || say "the server (pid $SERVER_PID) has exited; the database stays up"
    sleep 5 & wait $!
  done
fi

# --- 5. the journeys ----------------------------------------------------------------------
cd "$HERE"
args=(--test --test-concurrency=1
      --test-reporter=spec --test-reporter-destination=stdout
      --test-reporter=tap --test-reporter-destination="$TMP/tap.txt")
[ -n "${E2E_FILTER:-}" ] && args+=(--test-name-pattern="$E2E_FILTER")
node "${args[@]}" journeys/*.test.mjs
rc=$?
pass=$(grep -Eo '^# pass [0-9]+' "$TMP/tap.txt" | grep -Eo '[0-9]+' | tail -1)
fail=$(grep -Eo '^# fail [0-9]+' "$TMP/tap.txt" | grep -Eo '[0-9]+' | tail -1)
skip=$(grep -Eo '^# skipped [0-9]+' "$TMP/tap.txt" | grep -Eo '[0-9]+' | tail -1)
pass=${pass:-0}; fail=${fail:-0}; skip=${skip:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
if [ "$fail" -gt 0 ]; then say "last server log lines:"; tail -20 "$TMP/server.log" >&2; fi
say "screenshots in $ART"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
