#!/usr/bin/env bash
# A PostgreSQL 15 cluster of its own for the pg_qualstats baseline of bench/index-analytical (never the harness's
# servers): installs the Debian package postgresql-15-pg-qualstats when it is missing, creates the cluster
# "cpqualstats" on a free port below 32768 (default 25480; CP_QUALSTATS_PORT), with
# shared_preload_libraries = pg_qualstats, pg_stat_statements and pg_qualstats.sample_rate = 1, trust for the
# postgres user on 127.0.0.1 only (it listens on localhost alone), and starts it. Idempotent: an existing
# cluster is reused and started.
#
#   bash bench/index-analytical/qualstats-cluster.sh up     # prints the cluster's URL on stdout
#   bash bench/index-analytical/qualstats-cluster.sh stop   # stops it (data kept for the next run)
#   bash bench/index-analytical/qualstats-cluster.sh drop   # removes it and its data
set -euo pipefail

NAME=cpqualstats
VERSION=15
PORT="${CP_QUALSTATS_PORT:-25480}"
CONF_DIR="/etc/postgresql/$VERSION/$NAME"

log() { echo "qualstats-cluster: $*" >&2; }

exists() { pg_lsclusters -h | awk -v n="$NAME" -v v="$VERSION" '$1 == v && $2 == n {found = 1} END {exit !found}'; }

install_package() {
  if dpkg-query -W -f='${Status}' "postgresql-$VERSION-pg-qualstats" 2>/dev/null | grep -q 'install ok installed'; then return; fi
  log "installing postgresql-$VERSION-pg-qualstats"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$VERSION-pg-qualstats" >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$VERSION-pg-qualstats" >&2
  fi
}

port_free() { ! ss -ltn "sport = :$1" | grep -q LISTEN; }

up() {
  install_package
  if ! exists; then
    local port="$PORT"
    while ! port_free "$port" || pg_lsclusters -h | awk -v p="$port" '$3 == p {f = 1} END {exit !f}'; do port=$((port + 1)); done
    if [ "$port" -ge 32768 ]; then log "no free port between $PORT and 32767"; exit 1; fi
    log "creating cluster $VERSION/$NAME on port $port"
    pg_createcluster "$VERSION" "$NAME" -p "$port" -- --auth-local=peer --auth-host=scram-sha-256 >&2
    cat >"$CONF_DIR/conf.d/cp-bench.conf" <<EOF
# bench/index-analytical: the pg_qualstats baseline's own cluster
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_qualstats, pg_stat_statements'
pg_qualstats.sample_rate = 1
pg_stat_statements.track = top
max_parallel_workers_per_gather = 2
EOF
    # trust for postgres over TCP from this host only (the bench connects as root's process, not as the OS user)
    sed -i '1i host all postgres 127.0.0.1/32 trust' "$CONF_DIR/pg_hba.conf"
  fi
  if ! pg_lsclusters -h | awk -v n="$NAME" -v v="$VERSION" '$1 == v && $2 == n && $4 == "online" {f = 1} END {exit !f}'; then
    pg_ctlcluster "$VERSION" "$NAME" start >&2
  fi
  local port
  port=$(pg_lsclusters -h | awk -v n="$NAME" -v v="$VERSION" '$1 == v && $2 == n {print $3}')
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

case "${1:-up}" in
  up) up ;;
  stop) if exists; then pg_ctlcluster "$VERSION" "$NAME" stop >&2 || true; fi ;;
  drop) if exists; then pg_dropcluster --stop "$VERSION" "$NAME" >&2; fi ;;
  *) echo "usage: $0 up|stop|drop" >&2; exit 2 ;;
esac
