#!/usr/bin/env bash
# `make run`: private PostgreSQL under ./var (unless YIZHAN_DATABASE_URL is
# set), migrations, demo data on first start, demo accounts, then the server
# in the foreground on http://127.0.0.1:8080.  Ctrl-C stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VAR=$ROOT/var
BIN=$ROOT/build/yizhan
mkdir -p "$VAR"

private_pg=0
if [ -z "${YIZHAN_DATABASE_URL:-}" ]; then
  private_pg=1
  bash deploy/local/pg.sh start "$VAR"
  export YIZHAN_DATABASE_URL
  YIZHAN_DATABASE_URL=$(bash deploy/local/pg.sh url "$VAR")
fi
stop_pg() { [ "$private_pg" = 1 ] && bash deploy/local/pg.sh stop "$VAR" || true; }

if [ ! -s "$VAR/jwt.secret" ]; then
  (umask 077 && openssl rand -out "$VAR/jwt.secret" 48)
fi
export YIZHAN_JWT_SECRET_FILE=${YIZHAN_JWT_SECRET_FILE:-$VAR/jwt.secret}
export YIZHAN_SIGNING_KEY_DIR=${YIZHAN_SIGNING_KEY_DIR:-$VAR/keys}
export YIZHAN_LISTEN=${YIZHAN_LISTEN:-127.0.0.1:8080}

"$BIN" migrate >/dev/null || { stop_pg; exit 1; }
bash deploy/demo/load.sh "$BIN" || { stop_pg; exit 1; }
"$BIN" keygen --missing >/dev/null || { stop_pg; exit 1; }   # certificate keys for new offices

cat <<TXT

  驿站 Yizhan is starting on http://${YIZHAN_LISTEN}
    web front end   http://${YIZHAN_LISTEN}/
    API docs        http://${YIZHAN_LISTEN}/docs
  Demo accounts (password for all: $(cat "$VAR/demo-password")):
TXT
sed 's/^/    /' "$VAR/demo-accounts.txt"
echo "  Ctrl-C stops the server and the database."
echo

"$BIN" serve &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
set +e
wait $pid; rc=$?
# a signal interrupts the first wait; wait again for the real exit
kill -0 $pid 2>/dev/null && { wait $pid; rc=$?; }
set -e
stop_pg
exit $rc
