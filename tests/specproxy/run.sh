#!/usr/bin/env bash
# tests/specproxy/run.sh — check the server against api/openapi.yaml through a validating proxy.
#
#   1. lint the spec (Redocly CLI, rules in redocly.yaml);
#   2. start a throwaway PostgreSQL 15 (Unix socket only), migrate, `yizhan serve` on a free port;
#   3. start Prism in proxy mode in front of it (`prism proxy api/openapi.yaml http://127.0.0.1:<port>`);
#   4. run driver.py through Prism: every implemented operation's success path and its main errors;
#      every request and response Prism reports as violating the spec is a failure, listed by
#      operation, status and what differs.
#
#   tests/specproxy/run.sh                 # lint + proxy run
#   SPECPROXY_ERRORS=1 tests/specproxy/run.sh   # Prism with --errors (a violating response becomes 500)
#   SPECPROXY_KEEP=1 ...                   # keep the temp dir (logs, cluster)
#
# Needs: node ≥ 20 and npm (installs tests/specproxy/node_modules from package-lock.json with
# `npm ci` when missing), postgresql-15, python3-requests, python3-yaml.  Exit 0 clean, 1 violations
# or lint errors, 3 setup problem.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"
BIN=$(readlink -f "${YIZHAN_BIN:-build/yizhan}")
PG_BIN=${YIZHAN_PG_BIN:-/usr/lib/postgresql/15/bin}
RC=0

[ -x "$BIN" ] || make -s >/dev/null || { echo "specproxy: cannot build $BIN"; exit 3; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "specproxy: needs node and npm"; exit 3; }
# @redocly/cli 2.x wants node >= 20.19 (Debian 12's own nodejs is 18.19: use NodeSource's 20.x)
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
    { echo "specproxy: node $(node --version) is too old (>= 20.19 needed)"; exit 3; }
if [ ! -x "$HERE/node_modules/.bin/prism" ] || [ ! -x "$HERE/node_modules/.bin/redocly" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "specproxy: npm ci failed"; exit 3; }
fi
PRISM="$HERE/node_modules/.bin/prism"
REDOCLY="$HERE/node_modules/.bin/redocly"

# ---- 1. lint
echo "== specproxy: redocly lint api/openapi.yaml"
if ! REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$REDOCLY" lint --config "$HERE/redocly.yaml" \
        --format=stylish api/openapi.yaml 2>&1 | grep -v -e '^\s*[║╔╚]' -e '^\s*$'; then
    :
fi
if ! REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$REDOCLY" lint --config "$HERE/redocly.yaml" \
        api/openapi.yaml >/dev/null 2>&1; then
    echo "== specproxy: lint FAILED"
    RC=1
fi

# ---- 2. PostgreSQL + server
WORK=$(mktemp -d /tmp/yizhan-specproxy.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    as_pg "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m immediate >/dev/null 2>&1
    if [ "${SPECPROXY_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
PGPORT=$(free_port)
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -E UTF8 --locale=C.UTF-8 -A trust --no-sync >/dev/null \
    || { echo "specproxy: initdb failed"; exit 3; }
as_pg "$PG_BIN/pg_ctl" start -w -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" \
    -o "-c listen_addresses='' -k $WORK/pg -p $PGPORT -c fsync=off -c synchronous_commit=off" >/dev/null \
    || { echo "specproxy: PostgreSQL did not start"; exit 3; }
as_pg "$PG_BIN/createdb" -h "$WORK/pg" -p "$PGPORT" -U postgres yizhan || exit 3

export YIZHAN_DATABASE_URL="host=$WORK/pg port=$PGPORT dbname=yizhan user=postgres"
SRVPORT=$(free_port)
PRISMPORT=$(free_port)
export YIZHAN_LISTEN="127.0.0.1:$SRVPORT"
export YIZHAN_THREADS=2
# new password hashes at 1,000 PBKDF2 iterations, not 600,000: test accounts only (README: Configuration)
export YIZHAN_PASSWORD_ITERATIONS=1000
export YIZHAN_JWT_SECRET_FILE="$WORK/jwt.secret"
export YIZHAN_SIGNING_KEY_DIR="$WORK/keys"
export YIZHAN_WEB_ROOT="$REPO/web"
export YIZHAN_API_SPEC="$REPO/api/openapi.yaml"
export YIZHAN_MIGRATIONS_DIR="$WORK/migrations"
cp -r "$REPO/migrations" "$WORK/migrations"
(umask 077; head -c 48 /dev/urandom > "$YIZHAN_JWT_SECRET_FILE")
mkdir -m 700 "$YIZHAN_SIGNING_KEY_DIR"
"$BIN" migrate > "$WORK/migrate.log" 2>&1 || { echo "specproxy: migrate failed"; cat "$WORK/migrate.log"; exit 3; }
"$BIN" serve 2> "$WORK/server.log" > /dev/null &
PIDS+=($!)

# ---- 3. Prism
# Prism 5 (its ajv) does not know the OpenAPI 3.1 base dialect named by `jsonSchemaDialect` and then
# validates NO request or response body at all, silently.  It gets a copy of the spec in which the
# dialect is JSON Schema 2020-12 itself — what the OAS base dialect extends with annotations only
# (discriminator, xml, externalDocs, example) — so bodies are validated.  driver.py checks with a
# canary that Prism really reports a body violation.
SPEC_IN=${SPECPROXY_SPEC:-api/openapi.yaml}
sed 's#^jsonSchemaDialect: https://spec.openapis.org/oas/3.1/dialect/base *$#jsonSchemaDialect: https://json-schema.org/draft/2020-12/schema#' \
    "$SPEC_IN" > "$WORK/openapi.prism.yaml"
ERRFLAG=()
[ "${SPECPROXY_ERRORS:-0}" = 1 ] && ERRFLAG=(--errors)
"$PRISM" proxy "$WORK/openapi.prism.yaml" "http://127.0.0.1:$SRVPORT" --port "$PRISMPORT" "${ERRFLAG[@]}" \
    > "$WORK/prism.log" 2>&1 &
PIDS+=($!)

for i in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$SRVPORT/livez" >/dev/null 2>&1 && \
        curl -s -o /dev/null "http://127.0.0.1:$PRISMPORT/livez" 2>/dev/null && break
    sleep 0.2
done
curl -sf "http://127.0.0.1:$SRVPORT/readyz" >/dev/null || { echo "specproxy: server not ready"; tail "$WORK/server.log"; exit 3; }
curl -s -o /dev/null "http://127.0.0.1:$PRISMPORT/livez" || { echo "specproxy: prism not up"; tail "$WORK/prism.log"; exit 3; }

if [ "${SPECPROXY_HOLD:-0}" = 1 ]; then   # for debugging: keep both up, call them by hand
    echo "server http://127.0.0.1:$SRVPORT  prism http://127.0.0.1:$PRISMPORT  logs $WORK (Ctrl-C ends)"
    wait
fi

# ---- 4. the driver
echo "== specproxy: driver through prism (server :$SRVPORT, prism :$PRISMPORT)"
SPECPROXY_BIN="$BIN" SPECPROXY_WORK="$WORK" SPECPROXY_SERVER="http://127.0.0.1:$SRVPORT" \
    /usr/bin/python3 "$HERE/driver.py" "http://127.0.0.1:$PRISMPORT" || RC=1
[ $RC -eq 0 ] && echo "== specproxy: clean" || echo "== specproxy: FAILED"
exit $RC
