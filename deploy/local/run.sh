#!/usr/bin/env bash
# `make run`: a private PostgreSQL under ./var (unless YIZHAN_DATABASE_URL is
# set), migrations, the demo data on first start, the demo accounts, then the
# server in the foreground.  Once the server answers, the banner (addresses,
# demo accounts, password) is printed and stays on screen: the server's log
# goes to var/log/yizhan.log (warnings and errors also to the terminal) and the
# access log to var/log/access.log.  Ctrl-C stops both cleanly.
#
#   run.sh              what `make run` does
#   run.sh --accounts   print the banner of the last start again (`make demo-accounts`)
#
# Environment (all optional; README "Set-up" lists them):
#   YIZHAN_LISTEN        127.0.0.1:8080   where the server listens
#   YIZHAN_PG_PORT       5433             the private database's port (names its socket file)
#   YIZHAN_VAR_DIR       ./var            database, keys, logs, demo password
#   YIZHAN_DATABASE_URL  —                use this database instead of the private one
#   YIZHAN_ACCESS_LOG    var/log/access.log   `stderr` streams requests to the terminal
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
YIZHAN_VAR_DIR=$(realpath -m "${YIZHAN_VAR_DIR:-$ROOT/var}")
export YIZHAN_VAR_DIR
VAR=$YIZHAN_VAR_DIR
BANNER=$VAR/banner.txt

if [ "${1:-}" = --accounts ]; then
  if [ -s "$BANNER" ]; then cat "$BANNER"; exit 0; fi
  echo "no demo accounts yet: \`make run\` makes them on its first start" >&2
  exit 1
fi

BIN=$ROOT/build/yizhan
LOGS=$VAR/log
mkdir -p "$VAR" "$LOGS"
rel() { case "$1" in "$ROOT"/*) echo "${1#"$ROOT"/}" ;; *) echo "$1" ;; esac; }

export YIZHAN_LISTEN=${YIZHAN_LISTEN:-127.0.0.1:8080}
export YIZHAN_ACCESS_LOG=${YIZHAN_ACCESS_LOG:-$LOGS/access.log}
# A development server needs no 20,000 connections per worker, and asking for
# fewer than the open-file limit allows keeps the start quiet.
export YIZHAN_MAX_CONNECTIONS=${YIZHAN_MAX_CONNECTIONS:-1000}
export YIZHAN_JWT_SECRET_FILE=${YIZHAN_JWT_SECRET_FILE:-$VAR/jwt.secret}
export YIZHAN_SIGNING_KEY_DIR=${YIZHAN_SIGNING_KEY_DIR:-$VAR/keys}

# The address people open: a wildcard listen address is reached on loopback.
host=${YIZHAN_LISTEN%:*}
port=${YIZHAN_LISTEN##*:}
case "$host" in 0.0.0.0 | "" | "[::]" | "::") host=127.0.0.1 ;; esac
URL=http://$host:$port

# Is the port taken already (an earlier `make run` still running, another checkout)?
if timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  echo "server: $host:$port is taken (another \`make run\`?); stop that one, or choose another port:" >&2
  echo "        YIZHAN_LISTEN=127.0.0.1:8090 make run" >&2
  exit 1
fi

private_pg=0
if [ -z "${YIZHAN_DATABASE_URL:-}" ]; then
  private_pg=1
  bash deploy/local/pg.sh start "$VAR"
  export YIZHAN_DATABASE_URL
  YIZHAN_DATABASE_URL=$(bash deploy/local/pg.sh url "$VAR")
  echo "database: PostgreSQL 15 in $(rel "$VAR")/pg, socket $(rel "$VAR")/.s.PGSQL.$(sed -n 4p "$VAR/pg/postmaster.pid")"
fi
stop_pg() { [ "$private_pg" = 1 ] && bash deploy/local/pg.sh stop "$VAR" || true; }

if [ ! -s "$YIZHAN_JWT_SECRET_FILE" ]; then
  (umask 077 && openssl rand -out "$YIZHAN_JWT_SECRET_FILE" 48)
fi

"$BIN" migrate >>"$LOGS/migrate.log" || { echo "database: migrations failed (see above)" >&2; stop_pg; exit 1; }
bash deploy/demo/load.sh "$BIN" || { stop_pg; exit 1; }
"$BIN" keygen --missing >/dev/null || { stop_pg; exit 1; }   # certificate keys for new offices

# The server: every log line to var/log/yizhan.log, warnings and errors also to
# the terminal (everything when the access log is asked for on stderr).  The
# filter ignores Ctrl-C, so it passes on the server's last lines and ends when
# the server closes its stderr.
case "$YIZHAN_ACCESS_LOG" in
  stderr | true | yes | 1) show='.' ;;
  *) show='"level":"(warn|error)"' ;;
esac
echo "server: starting on $YIZHAN_LISTEN (log in $(rel "$LOGS")/yizhan.log)"
"$BIN" serve 2> >(trap '' INT; tee -a "$LOGS/yizhan.log" | grep --line-buffered -E "$show" >&2) &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM

ready=0
for _ in $(seq 1 300); do
  if curl -fsS -o /dev/null --max-time 1 "$URL/readyz" 2>/dev/null; then ready=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" = 1 ]; then
  {
    echo
    echo "  驿站 Yizhan 已启动"
    echo "    网页        $URL/"
    echo "    接口文档    $URL/docs"
    echo "  演示账号（密码均为 $(cat "$VAR/demo-password")）："
    sed 's/^/    /' "$VAR/demo-accounts.txt"
    case "$YIZHAN_ACCESS_LOG" in
      */*) access="访问日志 $(rel "$YIZHAN_ACCESS_LOG")" ;;
      off | false | no | 0) access="不记录访问日志" ;;
      *) access="访问日志输出到终端" ;;
    esac
    echo "  日志在 $(rel "$LOGS")/（$access）。Ctrl-C 停止服务器和数据库；"
    echo "  在另一个终端运行 make demo-accounts 可再次显示本表。"
    echo
  } | tee "$BANNER"
elif kill -0 $pid 2>/dev/null; then
  echo "server: no answer from $URL/readyz after 30 s; see $(rel "$LOGS")/yizhan.log" >&2
else
  echo "server: exited at start; the end of $(rel "$LOGS")/yizhan.log:" >&2
  tail -5 "$LOGS/yizhan.log" >&2
fi

set +e
wait $pid; rc=$?
# a signal interrupts the first wait; wait again for the real exit
kill -0 $pid 2>/dev/null && { wait $pid; rc=$?; }
set -e
stop_pg
exit $rc
