#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for development:  pg.sh start|stop|status|url DIR
# Data in DIR/pg, Unix socket in DIR (no TCP).  When run as root the cluster
# runs as the unprivileged `postgres` user, since PostgreSQL refuses root.
# The port (YIZHAN_PG_PORT, default 5433) only names the socket file
# DIR/.s.PGSQL.<port>; it is given at every start, so a cluster made with one
# port starts with another, and `url` reads the port of a running cluster.
set -euo pipefail
cmd=${1:?start|stop|status|url}
dir=$(realpath -m "${2:?directory}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${YIZHAN_PG_PORT:-5433}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  url)
    # a running cluster's port is line 4 of postmaster.pid
    [ -f "$dir/pg/postmaster.pid" ] && PORT=$(sed -n 4p "$dir/pg/postmaster.pid" 2>/dev/null || echo "$PORT")
    echo "host=$dir port=$PORT dbname=yizhan user=postgres" ;;
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres "$dir"
      # the postgres user must be able to reach the socket directory
      d=$dir; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
    fi
    if [ ! -f "$dir/pg/PG_VERSION" ]; then
      as_pg "$PGBIN/initdb" -D "$dir/pg" -U postgres -E UTF8 --locale=C.UTF-8 -A trust >/dev/null
      cat >>"$dir/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $PORT
shared_buffers = 256MB
max_connections = 200
log_min_messages = warning
CONF
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -o "-p $PORT" -w -t 60 start >/dev/null ||
        { echo "database: PostgreSQL did not start; the end of $dir/pg.log:" >&2; tail -5 "$dir/pg.log" >&2; exit 1; }
    fi
    PORT=$(sed -n 4p "$dir/pg/postmaster.pid")
    as_pg psql -h "$dir" -p "$PORT" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='yizhan'" |
      grep -q 1 || as_pg createdb -h "$dir" -p "$PORT" -U postgres yizhan
    ;;
  stop) as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true ;;
  status) as_pg "$PGBIN/pg_ctl" -D "$dir/pg" status ;;
  *) echo "usage: pg.sh start|stop|status|url DIR" >&2; exit 2 ;;
esac
