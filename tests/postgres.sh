#!/usr/bin/env bash
# Starts a throw-away PostgreSQL on loopback for the store tests and prints its URL.
# Usage: eval "$(tests/postgres.sh start)"   ...   tests/postgres.sh stop
set -euo pipefail
dir=${CERTRENEW_PG_DIR:-/tmp/certrenew-pg}
port=${CERTRENEW_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case ${1:-start} in
  start)
    if [ -f "$dir/postmaster.pid" ]; then as_pg "$bin/pg_ctl -D $dir -m immediate stop" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb -D $dir -U postgres -A trust --no-sync" >/dev/null
    as_pg "$bin/pg_ctl -D $dir -l $dir/log -w -o '-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300' start" >/dev/null
    echo "export CERTRENEW_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$bin/pg_ctl -D $dir -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
