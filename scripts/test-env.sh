#!/usr/bin/env bash
# chokepoint integration-test environment harness.
#
#   scripts/test-env.sh up       # install/start everything (idempotent, ~0.5 s when already up)
#   scripts/test-env.sh status   # show what is running (exit 1 if something is missing)
#   scripts/test-env.sh down     # stop our services and delete /var/tmp/chokepoint-test
#
# Services managed here (all bound to 127.0.0.1, test-only credentials):
#   PostgreSQL 15 primary   :25432  (trust auth, pg_stat_statements + hypopg)
#   PostgreSQL 15 replica   :25433  (streaming, slot chokepoint_test_replica)
#   PgBouncer               :26432  (transaction pooling, fronts the primary as "appdb")
#   RabbitMQ management     :15672  (plugin enabled on the already-running broker)
#   MariaDB source          :25306  (performance_schema, userstat, binlog + GTID; root without password, user chokepoint)
#   MariaDB replica         :25307  (GTID replica of the source: MASTER_USE_GTID=slave_pos, read_only)
# Prometheus is only installed; tests start their own via scripts/start-prometheus.sh.
#
# CHOKEPOINT_TEST_STATE_DIR (default /var/tmp/chokepoint-test) and CHOKEPOINT_TEST_LOCK_FILE (default
# <state dir>-env.lock) move the state and the lock, e.g. to try a change to this script beside a running
# environment. The ports stay: stop the other environment first, or expect a "held by a foreign process" error.
# See scripts/README.md.
set -euo pipefail

STATE_DIR=${CHOKEPOINT_TEST_STATE_DIR:-/var/tmp/chokepoint-test}
STATE_DIR=${STATE_DIR%/}
[[ $STATE_DIR == /?* ]] || { echo "[test-env] ERROR: CHOKEPOINT_TEST_STATE_DIR must be an absolute path" >&2; exit 1; }
RUN_DIR=$STATE_DIR/run
LOG_DIR=$STATE_DIR/log
PRIMARY_DIR=$STATE_DIR/pg-primary
REPLICA_DIR=$STATE_DIR/pg-replica
BOUNCER_DIR=$STATE_DIR/pgbouncer
LOCK_FILE=${CHOKEPOINT_TEST_LOCK_FILE:-$STATE_DIR-env.lock}   # outside STATE_DIR so `down` can delete the dir

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=postgres
HOST=127.0.0.1
# Below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default), so an outgoing connection can
# never hold one of them when we bind it. The tests read the same numbers from test/helpers/pg.ts: change both.
PRIMARY_PORT=25432
REPLICA_PORT=25433
BOUNCER_PORT=26432
SLOT=chokepoint_test_replica
RABBIT_MGMT_URL=http://127.0.0.1:15672
RABBIT_USER=guest
RABBIT_PASS=guest

# chromium: the headless browser the HTML report's test loads the report in (driven by playwright-core);
# libxml2-utils: xmllint, which validates the JUnit report against schemas/junit.xsd.
DEB_PACKAGES=(postgresql-15-hypopg pgbouncer prometheus chromium libxml2-utils)

export PGCONNECT_TIMEOUT=3
export PGAPPNAME=chokepoint-test-env
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS 2>/dev/null || true

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
log()  { printf '[test-env] %s\n' "$*" >&2; }
die()  { printf '[test-env] ERROR: %s\n' "$*" >&2; exit 1; }

# Every command that may spawn a long-lived daemon runs with the lock fd closed, otherwise
# postgres/pgbouncer inherit it and keep the harness lock held forever.
as_pg() {
  if [[ $(id -un) == "$PG_USER" ]]; then "$@" 9>&-; else runuser -u "$PG_USER" -- "$@" 9>&-; fi
}

# psql against one of our clusters over TCP; prints unaligned tuples-only output.
pg_q() { # port sql [db]
  psql -X -qAt -v ON_ERROR_STOP=1 -h "$HOST" -p "$1" -U postgres -d "${3:-postgres}" -c "$2" 2>/dev/null
}

# PID of the process listening on 127.0.0.1:<port> (empty if none).
listener_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

# Every TCP socket whose local port is <port>, in any state but TIME-WAIT: a listener, and also the local end of
# a connection (an outgoing connection given this port, or one left by a server that is going away), which blocks
# bind() just as well. TIME-WAIT does not: PostgreSQL and PgBouncer set SO_REUSEADDR, which lets bind() through it.
port_sockets() { ss -Htanp exclude time-wait "sport = :$1" 2>/dev/null || true; }

port_busy() { [[ -n $(port_sockets "$1") ]]; }

# alive = exists and is not a zombie (PID 1 in this VM reaps orphans only lazily)
proc_alive() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# Is <pid> a postmaster whose data directory is <dir>?  (postmaster's cwd is its data dir)
is_our_postmaster() { # pid dir
  local pid=$1 dir=$2 cwd comm
  proc_alive "$pid" || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  [[ $comm == postgres ]] || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  [[ $cwd == "$dir" ]]
}

# Is <pid> any process belonging to this harness (postgres with cwd under STATE_DIR,
# possibly deleted, or a pgbouncer started with our config)? Under STATE_DIR/, not merely beginning with
# its name: /var/tmp/chokepoint-test-other is another harness's.
is_ours() {
  local pid=$1 cwd cmd
  proc_alive "$pid" || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || true)
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ $cwd == "$STATE_DIR" || $cwd == "$STATE_DIR/"* || $cwd == "$STATE_DIR (deleted)" || $cmd == *"$STATE_DIR/"* ]]
}

wait_gone() { # pid timeout_s
  local i
  for ((i = 0; i < $2 * 10; i++)); do proc_alive "$1" || return 0; sleep 0.1; done
  return 1
}

kill_pid() { # pid signal-for-graceful  -> graceful, then SIGKILL after 10 s
  local pid=$1 sig=${2:-TERM}
  proc_alive "$pid" || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || { kill -9 "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
}

# Waits up to <timeout_s> until no socket uses <port>; 0 if it is free.
wait_port_free() { # port timeout_s
  local i
  for ((i = 0; i < $2 * 10; i++)); do port_busy "$1" || return 0; sleep 0.1; done
  return 1
}

# Make sure no socket uses <port> before we bind it: kill a stale listener of ours, wait a little for
# connections that are closing. Returns 0 if the port is (now) free, dies if a foreign process holds it.
free_port() { # port what
  local port=$1 what=$2 pid
  port_busy "$port" || return 0
  pid=$(listener_pid "$port")
  if [[ -n $pid ]] && is_ours "$pid"; then
    log "$what: port $port held by stale process $pid of ours -> killing it"
    # SIGQUIT = immediate shutdown for a postmaster, harmless-ish for others
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then kill_pid "$pid" QUIT; else kill_pid "$pid" TERM; fi
  elif [[ -n $pid ]]; then
    die "$what: port $port is held by a foreign process (pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || echo unknown)); refusing to touch it"
  fi
  # No listener (left): the local end of connections, ours closing or someone's outgoing one. Give them time.
  wait_port_free "$port" 10 && return 0
  die "$what: port $port is still in use, so it cannot be bound: $(port_sockets "$port" | head -n 3 | tr -s ' ' | paste -sd ';')"
}

ensure_dirs() {
  install -d -o "$PG_USER" -g "$PG_USER" -m 0755 "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$BOUNCER_DIR"
}

# ---------------------------------------------------------------------------
# 1. packages + RabbitMQ management
# ---------------------------------------------------------------------------
pkg_installed() { [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]; }

# Stop + disable a Debian-packaged daemon if its postinst started it.
neutralize_service() { # service port process-name
  local svc=$1 port=$2 name=$3 pid
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 9>&- || true
  else
    # no systemd (container): postinst start is normally blocked by policy-rc.d;
    # still make sure the SysV script will not start it at boot.
    update-rc.d "$svc" disable >/dev/null 2>&1 9>&- || true
    [[ -x /etc/init.d/$svc ]] && /etc/init.d/"$svc" stop >/dev/null 2>&1 9>&- || true
  fi
  pid=$(listener_pid "$port")
  if [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name"* ]] && ! is_ours "$pid"; then
    log "packages: $svc was started by its package on :$port (pid $pid) -> stopping it"
    kill_pid "$pid" TERM
  fi
}

step_packages() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then
    log "packages: ${DEB_PACKAGES[*]} already installed"
  else
    log "packages: installing ${missing[*]}"
    local need_update=0
    for p in "${missing[@]}"; do
      # capture first: `apt-cache | grep -q` would SIGPIPE apt-cache and fail under pipefail
      local policy
      policy=$(apt-cache policy "$p" 2>/dev/null || true)
      [[ $policy == *"Candidate: "[0-9]* ]] || need_update=1
    done
    if ((need_update)); then
      log "packages: apt-get update (a package has no install candidate)"
      apt-get update -qq >/dev/null 9>&-
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1 9>&- \
      || { tail -n 30 "$LOG_DIR/apt.log" >&2; die "apt-get install failed"; }
    # The packages ship daemons on default ports; we never want those running.
    neutralize_service pgbouncer 6432 pgbouncer
    neutralize_service prometheus 9090 prometheus
    pkg_installed prometheus-node-exporter && neutralize_service prometheus-node-exporter 9100 prometheus-node
  fi
  [[ -x /usr/sbin/pgbouncer ]] || die "pgbouncer binary missing"
  [[ -x /usr/bin/prometheus ]] || die "prometheus binary missing"
  [[ -f /usr/share/postgresql/15/extension/hypopg.control ]] || die "hypopg extension files missing"
  [[ -x /usr/bin/chromium ]] || die "chromium binary missing"
  log "packages: prometheus binary: /usr/bin/prometheus (not started; use scripts/start-prometheus.sh)"
}

rabbit_mgmt_ok() {
  curl -fsS -m 2 -o /dev/null -u "$RABBIT_USER:$RABBIT_PASS" "$RABBIT_MGMT_URL/api/overview" 2>/dev/null
}

step_rabbitmq() {
  if rabbit_mgmt_ok; then log "rabbitmq: management API already answers on :15672"; return; fi
  log "rabbitmq: enabling rabbitmq_management"
  rabbitmq-plugins enable rabbitmq_management >"$LOG_DIR/rabbitmq-plugins.log" 2>&1 9>&- \
    || { cat "$LOG_DIR/rabbitmq-plugins.log" >&2; die "rabbitmq-plugins enable failed (is rabbitmq-server running?)"; }
  local i
  for ((i = 0; i < 60; i++)); do rabbit_mgmt_ok && { log "rabbitmq: management API up"; return; }; sleep 0.5; done
  die "rabbitmq: management API did not answer at $RABBIT_MGMT_URL/api/overview within 30 s"
}

# ---------------------------------------------------------------------------
# 2./3. PostgreSQL clusters
# ---------------------------------------------------------------------------
# Settings file included from postgresql.conf (same for primary and replica except port).
pg_settings() { # port
  cat <<EOF
# Managed by scripts/test-env.sh -- overwritten on every 'up'.
listen_addresses = '$HOST'
port = $1
unix_socket_directories = '$RUN_DIR'
max_connections = 100
superuser_reserved_connections = 3
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 10000
track_io_timing = on
track_activity_query_size = 4096
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
# test speed, NOT crash safe
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# Settings added after the first chokepoint.conf live in a file of their own, included after it: an older copy of
# this script (another worktree, a branch not yet merged) rewrites chokepoint.conf to its own content on `up`, and
# would otherwise drop these and restart the servers each time the two copies alternate. Same for both clusters:
# a standby needs max_prepared_transactions at least the primary's.
pg_extra_settings() {
  cat <<EOF
# Managed by scripts/test-env.sh -- overwritten on every 'up'.
# PREPARE TRANSACTION for the postgres.prepared-xacts tests (PostgreSQL's default, 0, refuses it).
max_prepared_transactions = 10
# The whole suite makes more than 10,000 distinct statements: at the cap pg_stat_statements evicts the least-called
# 5% at a time, which removed a test's statements between its two audits (the scale test saw 20 of its 120).
pg_stat_statements.max = 50000
EOF
}

pg_hba() {
  cat <<EOF
# Managed by scripts/test-env.sh -- test-only, trust everything local.
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
}

pm_pid() { # datadir -> postmaster pid from postmaster.pid if it is really ours and alive
  local dir=$1 pid
  [[ -f $dir/postmaster.pid ]] || return 1
  pid=$(head -n1 "$dir/postmaster.pid" 2>/dev/null || true)
  is_our_postmaster "$pid" "$dir" && echo "$pid"
}

# Remove postmaster.pid / socket lock files whose pid is not a live postmaster of ours
# (e.g. after a reboot the pid may have been reused by an unrelated process).
clear_stale_locks() { # datadir port
  local dir=$1 port=$2 pid
  if [[ -f $dir/postmaster.pid ]] && ! pm_pid "$dir" >/dev/null; then
    log "postgres: removing stale $dir/postmaster.pid"
    rm -f "$dir/postmaster.pid"
  fi
  local lock=$RUN_DIR/.s.PGSQL.$port.lock
  if [[ -f $lock ]]; then
    pid=$(head -n1 "$lock" 2>/dev/null || true)
    if ! is_our_postmaster "$pid" "$dir"; then rm -f "$lock" "$RUN_DIR/.s.PGSQL.$port"; fi
  fi
}

# Write settings/hba; returns 0 if anything changed.
pg_write_config() { # datadir port
  local dir=$1 port=$2 changed=1 tmp
  if ! grep -q "^include_if_exists = 'chokepoint.conf'" "$dir/postgresql.conf"; then
    printf "\ninclude_if_exists = 'chokepoint.conf'\n" >>"$dir/postgresql.conf"
    changed=0
  fi
  if ! grep -q "^include_if_exists = 'chokepoint-extra.conf'" "$dir/postgresql.conf"; then
    printf "include_if_exists = 'chokepoint-extra.conf'\n" >>"$dir/postgresql.conf"
    changed=0
  fi
  tmp=$(mktemp)
  pg_settings "$port" >"$tmp"
  if ! cmp -s "$tmp" "$dir/chokepoint.conf"; then install -o "$PG_USER" -g "$PG_USER" -m 0600 "$tmp" "$dir/chokepoint.conf"; changed=0; fi
  pg_extra_settings >"$tmp"
  if ! cmp -s "$tmp" "$dir/chokepoint-extra.conf"; then install -o "$PG_USER" -g "$PG_USER" -m 0600 "$tmp" "$dir/chokepoint-extra.conf"; changed=0; fi
  pg_hba >"$tmp"
  if ! cmp -s "$tmp" "$dir/pg_hba.conf"; then install -o "$PG_USER" -g "$PG_USER" -m 0600 "$tmp" "$dir/pg_hba.conf"; changed=0; fi
  rm -f "$tmp"
  return $changed
}

pg_start() { # datadir port name -> 0 ok, 1 failed
  local dir=$1 port=$2 name=$3
  clear_stale_locks "$dir" "$port"
  free_port "$port" "$name"
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -l "$LOG_DIR/$name.log" -w -t 60 -s start >/dev/null 2>&1
}

pg_stop() { # datadir name
  local dir=$1 name=$2 pid
  pid=$(pm_pid "$dir" || true)
  [[ -n $pid ]] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$dir" -m fast -w -t 30 -s stop >/dev/null 2>&1 || kill_pid "$pid" QUIT
  log "$name: stopped"
}

step_primary() {
  local dir=$PRIMARY_DIR port=$PRIMARY_PORT
  if [[ -d $dir && ! -f $dir/global/pg_control ]]; then
    log "primary: $dir is incomplete -> wiping"
    rm -rf "$dir"
  fi
  if [[ ! -d $dir ]]; then
    log "primary: initdb $dir"
    install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 \
      || { tail -n 20 "$LOG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  local config_changed=1
  pg_write_config "$dir" "$port" && config_changed=0

  # A config change (a new port, from an older version of this script) is a stop and a start, so that the
  # port is checked before the postmaster binds it; the postmaster may still be on the old port.
  if ((config_changed == 0)) && pm_pid "$dir" >/dev/null; then
    log "primary: config changed -> restarting"
    pg_stop "$dir" primary
  fi
  if pm_pid "$dir" >/dev/null && pg_q "$port" 'select 1' >/dev/null; then
    log "primary: already running on :$port"
  else
    local pid
    pid=$(pm_pid "$dir" || true)
    if [[ -n $pid ]]; then log "primary: postmaster $pid not answering -> killing"; kill_pid "$pid" QUIT; fi
    log "primary: starting on :$port"
    pg_start "$dir" "$port" primary || { tail -n 20 "$LOG_DIR/primary.log" >&2; die "primary failed to start (see $LOG_DIR/primary.log; 'down' then 'up' rebuilds it)"; }
  fi

  # extensions (idempotent; a single round-trip when already there)
  local have
  have=$(pg_q "$port" "select count(*) from pg_extension where extname in ('pg_stat_statements','hypopg')") || die "primary: cannot query"
  if [[ $have != 2 ]]; then
    psql -X -qAt -v ON_ERROR_STOP=1 -h "$HOST" -p "$port" -U postgres -d postgres \
      -c "create extension if not exists pg_stat_statements" -c "create extension if not exists hypopg" >/dev/null \
      || die "primary: CREATE EXTENSION pg_stat_statements/hypopg failed"
    log "primary: extensions pg_stat_statements, hypopg created"
  fi
  # sanity: hypopg really works
  [[ $(pg_q "$port" "select count(*) from hypopg_list_indexes") =~ ^[0-9]+$ ]] || die "primary: hypopg not usable"
}

replica_streaming() {
  [[ $(pg_q "$PRIMARY_PORT" "select count(*) from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid
        where s.slot_name = '$SLOT' and r.state = 'streaming'") == 1 ]]
}

replica_healthy() { # quick check: running, in recovery, same system id as primary, streaming
  pm_pid "$REPLICA_DIR" >/dev/null || return 1
  [[ $(pg_q "$REPLICA_PORT" 'select pg_is_in_recovery()') == t ]] || return 1
  replica_streaming
}

sysid() { pg_q "$1" 'select system_identifier from pg_control_system()'; }

replica_clone() {
  log "replica: cloning primary with pg_basebackup (slot $SLOT)"
  pg_stop "$REPLICA_DIR" replica
  rm -rf "$REPLICA_DIR"
  # drop a left-over slot (inactive; its replica is gone) so WAL is not retained forever
  pg_q "$PRIMARY_PORT" "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$SLOT' and not active" >/dev/null || true
  local active
  active=$(pg_q "$PRIMARY_PORT" "select active_pid from pg_replication_slots where slot_name = '$SLOT'" || true)
  if [[ -n $active ]]; then
    log "replica: slot $SLOT still used by walsender $active -> terminating it"
    pg_q "$PRIMARY_PORT" "select pg_terminate_backend($active)" >/dev/null || true
    sleep 0.5
    pg_q "$PRIMARY_PORT" "select pg_drop_replication_slot('$SLOT')" >/dev/null || true
  fi
  install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$REPLICA_DIR"
  as_pg "$PG_BIN/pg_basebackup" \
    -d "host=$HOST port=$PRIMARY_PORT user=postgres application_name=$SLOT" \
    -D "$REPLICA_DIR" -R -X stream -C -S "$SLOT" -c fast >"$LOG_DIR/pg_basebackup.log" 2>&1 \
    || { tail -n 20 "$LOG_DIR/pg_basebackup.log" >&2; die "pg_basebackup failed"; }
  pg_write_config "$REPLICA_DIR" "$REPLICA_PORT" || true
}

# pg_basebackup -R wrote the primary's port into primary_conninfo (postgresql.auto.conf, which overrides our
# settings file): point it at PRIMARY_PORT. Returns 0 if it changed.
replica_conninfo_sync() {
  local conf=$REPLICA_DIR/postgresql.auto.conf
  [[ -f $conf ]] && grep -q "^primary_conninfo = '.*port=[0-9]" "$conf" || return 1
  grep -Eq "^primary_conninfo = '(.* )?port=$PRIMARY_PORT[ ']" "$conf" && return 1
  sed -i -E "/^primary_conninfo = /s/([' ])port=[0-9]+/\1port=$PRIMARY_PORT/" "$conf"
  log "replica: primary_conninfo now points at :$PRIMARY_PORT"
  return 0
}

replica_wait_streaming() { # up to 15 s -> 0 streaming, 1 not
  local i
  for ((i = 0; i < 60; i++)); do
    if [[ $(pg_q "$REPLICA_PORT" 'select pg_is_in_recovery()') == t ]] && replica_streaming; then return 0; fi
    sleep 0.25
  done
  return 1
}

step_replica() {
  if [[ -f $REPLICA_DIR/global/pg_control && -f $REPLICA_DIR/standby.signal ]]; then
    local config_changed=1
    pg_write_config "$REPLICA_DIR" "$REPLICA_PORT" && config_changed=0
    replica_conninfo_sync && config_changed=0
    if ((config_changed == 1)) && replica_healthy; then
      log "replica: already streaming on :$REPLICA_PORT"
      return
    fi
    if ((config_changed == 0)) && pm_pid "$REPLICA_DIR" >/dev/null; then
      log "replica: config changed -> restarting"
      pg_stop "$REPLICA_DIR" replica
    fi
    local started=0
    if pm_pid "$REPLICA_DIR" >/dev/null && pg_q "$REPLICA_PORT" 'select 1' >/dev/null; then
      started=1
    else
      local pid
      pid=$(pm_pid "$REPLICA_DIR" || true)
      [[ -n $pid ]] && kill_pid "$pid" QUIT
      log "replica: starting existing standby on :$REPLICA_PORT"
      pg_start "$REPLICA_DIR" "$REPLICA_PORT" replica && started=1
    fi
    if ((started)); then
      # an existing standby must belong to the current primary (primary may have been re-initdb'd)
      local ps rs
      ps=$(sysid "$PRIMARY_PORT" || true)
      rs=$(sysid "$REPLICA_PORT" || true)
      if [[ -n $ps && $ps == "$rs" ]]; then
        if replica_wait_streaming; then log "replica: streaming"; return; fi
        log "replica: not streaming after 15 s -> re-cloning"
      else
        log "replica: system identifier differs from primary (${rs:-?} vs ${ps:-?}) -> re-cloning"
      fi
    else
      log "replica: existing data dir does not start -> re-cloning"
    fi
  elif [[ -e $REPLICA_DIR ]]; then
    log "replica: $REPLICA_DIR is not a valid standby -> re-cloning"
  fi
  replica_clone
  log "replica: starting on :$REPLICA_PORT"
  pg_start "$REPLICA_DIR" "$REPLICA_PORT" replica || { tail -n 20 "$LOG_DIR/replica.log" >&2; die "replica failed to start"; }
  replica_wait_streaming || { tail -n 20 "$LOG_DIR/replica.log" >&2; die "replica did not reach streaming state"; }
  log "replica: streaming"
}

# ---------------------------------------------------------------------------
# 4. PgBouncer
# ---------------------------------------------------------------------------
BOUNCER_INI=$BOUNCER_DIR/pgbouncer.ini
BOUNCER_PID=$BOUNCER_DIR/pgbouncer.pid
BOUNCER_USERS=$BOUNCER_DIR/userlist.txt
BOUNCER_ADMIN_URL="postgres://chokepoint_admin:admin-secret@$HOST:$BOUNCER_PORT/pgbouncer"

bouncer_os_user() { if id pgbouncer >/dev/null 2>&1; then echo pgbouncer; else echo "$PG_USER"; fi; }

md5_entry() { # user password
  printf '"%s" "md5%s"\n' "$1" "$(printf '%s%s' "$2" "$1" | md5sum | cut -d' ' -f1)"
}

bouncer_ini() {
  cat <<EOF
; Managed by scripts/test-env.sh -- overwritten on every 'up'.
[databases]
appdb = host=$HOST port=$PRIMARY_PORT dbname=postgres user=postgres

[pgbouncer]
listen_addr = $HOST
listen_port = $BOUNCER_PORT
unix_socket_dir = $RUN_DIR
auth_type = md5
auth_file = $BOUNCER_USERS
admin_users = chokepoint_admin
stats_users = chokepoint_stats
pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_PID
EOF
}

bouncer_userlist() {
  md5_entry chokepoint_admin admin-secret
  md5_entry chokepoint_stats stats-secret
  md5_entry app app-secret
}

bouncer_pid() { # live pgbouncer pid from our pidfile, or fail
  local pid
  [[ -f $BOUNCER_PID ]] || return 1
  pid=$(cat "$BOUNCER_PID" 2>/dev/null || true)
  proc_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == pgbouncer ]] && echo "$pid"
}

bouncer_ok() { psql -X -qAt "$BOUNCER_ADMIN_URL" -c 'SHOW POOLS' >/dev/null 2>&1; }

bouncer_stop() {
  local pid
  pid=$(bouncer_pid || true)
  if [[ -n $pid ]]; then kill_pid "$pid" TERM; log "pgbouncer: stopped"; fi
  rm -f "$BOUNCER_PID"
}

step_pgbouncer() {
  local owner changed=1 tmp
  owner=$(bouncer_os_user)
  tmp=$(mktemp)
  bouncer_ini >"$tmp"
  if ! cmp -s "$tmp" "$BOUNCER_INI"; then install -o "$owner" -g "$owner" -m 0640 "$tmp" "$BOUNCER_INI"; changed=0; fi
  bouncer_userlist >"$tmp"
  if ! cmp -s "$tmp" "$BOUNCER_USERS"; then install -o "$owner" -g "$owner" -m 0600 "$tmp" "$BOUNCER_USERS"; changed=0; fi
  rm -f "$tmp"
  chown "$owner:$owner" "$BOUNCER_DIR"

  if bouncer_pid >/dev/null && ((changed == 1)) && bouncer_ok; then
    log "pgbouncer: already running on :$BOUNCER_PORT"
    return
  fi
  if bouncer_pid >/dev/null; then
    log "pgbouncer: restarting (config changed or not answering)"
    bouncer_stop
  fi
  rm -f "$BOUNCER_PID"   # stale pidfile (process gone / pid reused) would block start
  free_port "$BOUNCER_PORT" pgbouncer
  log "pgbouncer: starting on :$BOUNCER_PORT as $owner"
  runuser -u "$owner" -- /usr/sbin/pgbouncer -q -d "$BOUNCER_INI" >>"$LOG_DIR/pgbouncer-start.log" 2>&1 9>&- \
    || { tail -n 20 "$BOUNCER_DIR/pgbouncer.log" "$LOG_DIR/pgbouncer-start.log" >&2 2>/dev/null; die "pgbouncer failed to start"; }
  local i
  for ((i = 0; i < 40; i++)); do bouncer_ok && { log "pgbouncer: admin console answers"; return; }; sleep 0.25; done
  tail -n 20 "$BOUNCER_DIR/pgbouncer.log" >&2 2>/dev/null || true
  die "pgbouncer: admin console does not answer ($BOUNCER_ADMIN_URL)"
}

# ---------------------------------------------------------------------------
# 5. MariaDB source + GTID replica (the mysql target kind's tests)
# ---------------------------------------------------------------------------
# The machine's own MariaDB on :3306 is never touched here (the tests only read it, for performance_schema OFF).
# Ours run as the mysql OS user from /usr/sbin/mariadbd, each in $STATE_DIR/mariadb-<name>/ (my.cnf, data/, the
# socket and pid file), with --no-defaults style config (--defaults-file) so /etc/mysql is not read.
MDB_BIN=/usr/sbin/mariadbd
MDB_USER=mysql
MDB_PRIMARY_DIR=$STATE_DIR/mariadb-primary
MDB_REPLICA_DIR=$STATE_DIR/mariadb-replica
MDB_PRIMARY_PORT=25306
MDB_REPLICA_PORT=25307
MDB_REPL_USER=chokepoint_repl
MDB_REPL_PASS=repl-secret
MDB_PROBE_USER=chokepoint
MDB_PROBE_PASS=chokepoint-secret

as_mysql() { runuser -u "$MDB_USER" -- "$@" 9>&-; }

mdb_cnf() { # dir port server_id read_only
  cat <<EOF2
# Managed by scripts/test-env.sh -- overwritten on every 'up'.
[mariadbd]
datadir=$1/data
socket=$1/mariadbd.sock
pid-file=$1/mariadbd.pid
log-error=$1/error.log
port=$2
bind-address=$HOST
skip-name-resolve
server-id=$3
read-only=$4
performance_schema=ON
performance-schema-consumer-events-statements-current=ON
performance-schema-consumer-events-statements-history-long=ON
performance-schema-digests-size=20000
userstat=ON
log-bin=binlog
log-slave-updates=ON
gtid-strict-mode=ON
binlog-format=ROW
innodb-buffer-pool-size=64M
innodb-log-file-size=48M
# test speed, NOT crash safe
innodb-flush-log-at-trx-commit=0
sync-binlog=0
max-connections=200
EOF2
}

mdb_sock() { echo "$1/mariadbd.sock"; }

# Is <pid> a mariadbd whose datadir is <dir>/data? (mariadbd's cwd is its datadir)
is_our_mariadbd() { # pid dir
  local pid=$1 dir=$2
  proc_alive "$pid" || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == mariadbd ]] || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$dir/data" ]]
}

mdb_pid() { # dir -> pid of our live mariadbd
  local pid
  [[ -f $1/mariadbd.pid ]] || return 1
  pid=$(head -n1 "$1/mariadbd.pid" 2>/dev/null || true)
  is_our_mariadbd "$pid" "$1" && echo "$pid"
}

# mariadb client as root over the server's own socket; tab-separated, no column names.
mdb_q() { # dir sql
  mariadb --no-defaults -S "$(mdb_sock "$1")" -uroot -N -B -e "$2" 2>/dev/null
}

mdb_ok() { mdb_q "$1" 'SELECT 1' >/dev/null; }

mdb_start() { # dir port name
  local dir=$1 port=$2 name=$3 i
  free_port "$port" "$name"
  rm -f "$dir/mariadbd.pid" "$dir/mariadbd.sock"
  # setsid + closed fds: the daemon must not hold the harness lock or the caller's pipes.
  setsid runuser -u "$MDB_USER" -- "$MDB_BIN" --defaults-file="$dir/my.cnf" </dev/null >/dev/null 2>&1 9>&- &
  for ((i = 0; i < 300; i++)); do mdb_ok "$dir" && return 0; sleep 0.1; done
  tail -n 20 "$dir/error.log" >&2 || true
  die "$name: mariadbd did not answer within 30 s"
}

mdb_stop() { # dir name
  local pid
  pid=$(mdb_pid "$1" || true)
  [[ -n $pid ]] || return 0
  kill_pid "$pid" TERM
  log "$2: stopped"
}

# Install the data dir if missing (or incomplete), write my.cnf; returns 0 when the config changed.
mdb_prepare() { # dir port server_id read_only name
  local dir=$1 changed=1 tmp
  if [[ -d $dir && ! -d $dir/data/mysql ]]; then log "$5: $dir is incomplete -> wiping"; rm -rf "$dir"; fi
  if [[ ! -d $dir/data/mysql ]]; then
    install -d -o "$MDB_USER" -g "$MDB_USER" -m 0750 "$dir"
    log "$5: mariadb-install-db into $dir/data"
    as_mysql mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/install.log" 2>&1 || { tail -n 20 "$dir/install.log" >&2; die "$5: mariadb-install-db failed"; }
    changed=0
  fi
  tmp=$(mktemp)
  mdb_cnf "$dir" "$2" "$3" "$4" >"$tmp"
  if ! cmp -s "$tmp" "$dir/my.cnf"; then install -o "$MDB_USER" -g "$MDB_USER" -m 0644 "$tmp" "$dir/my.cnf"; changed=0; fi
  rm -f "$tmp"
  return $changed
}

mdb_ensure_running() { # dir port name config_changed(0=yes)
  if [[ $4 == 0 ]] && mdb_pid "$1" >/dev/null; then log "$3: config changed -> restarting"; mdb_stop "$1" "$3"; fi
  if mdb_pid "$1" >/dev/null && mdb_ok "$1"; then log "$3: already running on :$2"; return; fi
  local pid
  pid=$(mdb_pid "$1" || true)
  [[ -n $pid ]] && kill_pid "$pid" TERM
  log "$3: starting on :$2"
  mdb_start "$1" "$2" "$3"
}

step_mariadb_primary() {
  local changed=1
  mdb_prepare "$MDB_PRIMARY_DIR" "$MDB_PRIMARY_PORT" 1 OFF mariadb-primary && changed=0
  mdb_ensure_running "$MDB_PRIMARY_DIR" "$MDB_PRIMARY_PORT" mariadb-primary "$changed"
  # Idempotent, and replicated to the replica through the binlog. root over TCP has no password (test-only); the
  # probe user has exactly the privileges docs/probes.md asks for.
  mdb_q "$MDB_PRIMARY_DIR" "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    CREATE USER IF NOT EXISTS '$MDB_REPL_USER'@'%' IDENTIFIED BY '$MDB_REPL_PASS';
    GRANT REPLICATION SLAVE ON *.* TO '$MDB_REPL_USER'@'%';
    CREATE USER IF NOT EXISTS '$MDB_PROBE_USER'@'%' IDENTIFIED BY '$MDB_PROBE_PASS';
    GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '$MDB_PROBE_USER'@'%';
    GRANT SELECT ON performance_schema.* TO '$MDB_PROBE_USER'@'%';
    GRANT SELECT ON sys.* TO '$MDB_PROBE_USER'@'%';" >/dev/null || die "mariadb-primary: creating the test users failed"
}

# 'Yes Yes 0 0' when both replica threads run without an error.
mdb_replica_state() {
  # Vertical output keeps the column names (-N would drop them there too).
  mariadb --no-defaults -S "$(mdb_sock "$MDB_REPLICA_DIR")" -uroot -e 'SHOW SLAVE STATUS\G' 2>/dev/null | awk -F': ' '
    /^ *Slave_IO_Running:/ {io=$2} /^ *Slave_SQL_Running:/ {sql=$2} /^ *Last_IO_Errno:/ {ie=$2} /^ *Last_SQL_Errno:/ {se=$2}
    END {print io, sql, ie, se}'
}

mdb_replica_wait() { # up to 15 s for both threads running -> 0 ok
  local i
  for ((i = 0; i < 150; i++)); do [[ $(mdb_replica_state) == 'Yes Yes 0 0' ]] && return 0; sleep 0.1; done
  return 1
}

step_mariadb_replica() {
  local changed=1 state
  mdb_prepare "$MDB_REPLICA_DIR" "$MDB_REPLICA_PORT" 2 ON mariadb-replica && changed=0
  mdb_ensure_running "$MDB_REPLICA_DIR" "$MDB_REPLICA_PORT" mariadb-replica "$changed"
  state=$(mdb_replica_state || true)
  if [[ $state == 'Yes Yes 0 0' ]]; then log "mariadb-replica: replicating"; return; fi
  if [[ -z ${state// /} ]]; then
    log "mariadb-replica: CHANGE MASTER TO :$MDB_PRIMARY_PORT (GTID slave_pos)"
    mdb_q "$MDB_REPLICA_DIR" "CHANGE MASTER TO MASTER_HOST='$HOST', MASTER_PORT=$MDB_PRIMARY_PORT,
      MASTER_USER='$MDB_REPL_USER', MASTER_PASSWORD='$MDB_REPL_PASS', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
      START SLAVE;" || die "mariadb-replica: CHANGE MASTER failed"
  elif [[ $state == *' 0 0' ]]; then
    # Stopped without an error (a test's STOP SLAVE that never got its START): start it again.
    log "mariadb-replica: threads stopped ($state) -> START SLAVE"
    mdb_q "$MDB_REPLICA_DIR" 'START SLAVE' || true
  fi
  if mdb_replica_wait; then log "mariadb-replica: replicating"; return; fi
  # Broken (an error, or diverged): rebuild from scratch; the source keeps its whole binlog, so a fresh replica at
  # an empty slave_pos replays everything.
  log "mariadb-replica: not replicating ($(mdb_replica_state)) -> rebuilding"
  mdb_stop "$MDB_REPLICA_DIR" mariadb-replica
  rm -rf "$MDB_REPLICA_DIR"
  mdb_prepare "$MDB_REPLICA_DIR" "$MDB_REPLICA_PORT" 2 ON mariadb-replica || true
  mdb_start "$MDB_REPLICA_DIR" "$MDB_REPLICA_PORT" mariadb-replica
  mdb_q "$MDB_REPLICA_DIR" "CHANGE MASTER TO MASTER_HOST='$HOST', MASTER_PORT=$MDB_PRIMARY_PORT,
    MASTER_USER='$MDB_REPL_USER', MASTER_PASSWORD='$MDB_REPL_PASS', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
    START SLAVE;" || die "mariadb-replica: CHANGE MASTER failed"
  mdb_replica_wait || { tail -n 20 "$MDB_REPLICA_DIR/error.log" >&2; die "mariadb-replica: not replicating after a rebuild: $(mdb_replica_state)"; }
  log "mariadb-replica: replicating"
}

# ---------------------------------------------------------------------------
# pre-existing services (not managed here, only reported)
# ---------------------------------------------------------------------------
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

check_external() {
  local s out=()
  for s in redis:6379 amqp:5672 nats:4222; do
    if tcp_open "${s#*:}"; then out+=("${s%%:*}:${s#*:} ok"); else out+=("${s%%:*}:${s#*:} DOWN"); fi
  done
  log "external: ${out[*]}"
}

summary() {
  cat >&2 <<EOF
[test-env] ready:
  primary    postgres://postgres@$HOST:$PRIMARY_PORT/postgres
  replica    postgres://postgres@$HOST:$REPLICA_PORT/postgres
  pgbouncer  postgres://app:app-secret@$HOST:$BOUNCER_PORT/appdb
  pgbouncer  admin $BOUNCER_ADMIN_URL
             stats postgres://chokepoint_stats:stats-secret@$HOST:$BOUNCER_PORT/pgbouncer
  rabbitmq   management $RABBIT_MGMT_URL (api: $RABBIT_MGMT_URL/api/overview, $RABBIT_USER/$RABBIT_PASS)
  mariadb    mysql://root@$HOST:$MDB_PRIMARY_PORT/ (probe user $MDB_PROBE_USER/$MDB_PROBE_PASS; performance_schema ON)
  mariadb    replica mysql://root@$HOST:$MDB_REPLICA_PORT/ (GTID replica of :$MDB_PRIMARY_PORT)
  prometheus /usr/bin/prometheus (start with scripts/start-prometheus.sh <port> <host:port> <datadir>)
EOF
}

# ---------------------------------------------------------------------------
# subcommands
# ---------------------------------------------------------------------------
with_lock() {
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "could not acquire $LOCK_FILE (another test-env.sh running?)"
}

cmd_up() {
  local t0=$SECONDS
  ensure_dirs
  step_packages
  step_rabbitmq
  step_primary
  step_replica
  step_pgbouncer
  step_mariadb_primary
  step_mariadb_replica
  check_external
  summary
  log "up done in $((SECONDS - t0)) s"
}

cmd_down() {
  bouncer_stop
  [[ -d $MDB_REPLICA_DIR ]] && mdb_stop "$MDB_REPLICA_DIR" mariadb-replica
  [[ -d $MDB_PRIMARY_DIR ]] && mdb_stop "$MDB_PRIMARY_DIR" mariadb-primary
  [[ -d $REPLICA_DIR ]] && pg_stop "$REPLICA_DIR" replica
  [[ -d $PRIMARY_DIR ]] && pg_stop "$PRIMARY_DIR" primary
  # anything of ours still holding our ports (e.g. state dir was deleted underneath it)
  local port pid
  for port in "$BOUNCER_PORT" "$REPLICA_PORT" "$PRIMARY_PORT" "$MDB_REPLICA_PORT" "$MDB_PRIMARY_PORT"; do
    pid=$(listener_pid "$port")
    if [[ -n $pid ]] && is_ours "$pid"; then
      log "down: killing stale process $pid on :$port"
      if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then kill_pid "$pid" QUIT; else kill_pid "$pid" TERM; fi
    fi
  done
  rm -rf "$STATE_DIR"
  log "down: removed $STATE_DIR"
}

cmd_status() {
  local rc=0 pid v
  printf '%-20s %s\n' component state
  if pid=$(pm_pid "$PRIMARY_DIR" 2>/dev/null) && v=$(pg_q "$PRIMARY_PORT" "select current_setting('server_version')"); then
    printf '%-20s running pid=%s %s:%s version=%s\n' primary "$pid" "$HOST" "$PRIMARY_PORT" "$v"
  else printf '%-20s DOWN\n' primary; rc=1; fi
  if pid=$(pm_pid "$REPLICA_DIR" 2>/dev/null) && v=$(pg_q "$REPLICA_PORT" 'select pg_is_in_recovery()'); then
    local st
    st=$(pg_q "$PRIMARY_PORT" "select r.state || ' replay_lag_bytes=' || pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)
           from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid where s.slot_name = '$SLOT'" || true)
    printf '%-20s running pid=%s %s:%s in_recovery=%s %s\n' replica "$pid" "$HOST" "$REPLICA_PORT" "$v" "${st:-NOT STREAMING}"
    [[ $v == t && $st == streaming* ]] || rc=1
  else printf '%-20s DOWN\n' replica; rc=1; fi
  if pid=$(bouncer_pid 2>/dev/null) && bouncer_ok; then
    printf '%-20s running pid=%s %s:%s\n' pgbouncer "$pid" "$HOST" "$BOUNCER_PORT"
  else printf '%-20s DOWN\n' pgbouncer; rc=1; fi
  if pid=$(mdb_pid "$MDB_PRIMARY_DIR" 2>/dev/null) && v=$(mdb_q "$MDB_PRIMARY_DIR" 'SELECT VERSION()'); then
    printf '%-20s running pid=%s %s:%s version=%s\n' mariadb-primary "$pid" "$HOST" "$MDB_PRIMARY_PORT" "$v"
  else printf '%-20s DOWN\n' mariadb-primary; rc=1; fi
  if pid=$(mdb_pid "$MDB_REPLICA_DIR" 2>/dev/null) && mdb_ok "$MDB_REPLICA_DIR"; then
    v=$(mdb_replica_state || true)
    printf '%-20s running pid=%s %s:%s io/sql/errnos=%s\n' mariadb-replica "$pid" "$HOST" "$MDB_REPLICA_PORT" "${v:-NOT REPLICATING}"
    [[ $v == 'Yes Yes 0 0' ]] || rc=1
  else printf '%-20s DOWN\n' mariadb-replica; rc=1; fi
  if rabbit_mgmt_ok; then printf '%-20s ok %s\n' rabbitmq-management "$RABBIT_MGMT_URL"
  else printf '%-20s DOWN\n' rabbitmq-management; rc=1; fi
  local s
  for s in redis:6379 rabbitmq-amqp:5672 nats:4222; do
    if tcp_open "${s#*:}"; then printf '%-20s ok %s:%s\n' "${s%%:*}" "$HOST" "${s#*:}"
    else printf '%-20s DOWN %s:%s\n' "${s%%:*}" "$HOST" "${s#*:}"; rc=1; fi
  done
  local p
  for p in "${DEB_PACKAGES[@]}"; do
    if pkg_installed "$p"; then printf '%-20s installed\n' "$p"; else printf '%-20s NOT INSTALLED\n' "$p"; rc=1; fi
  done
  return $rc
}

main() {
  local cmd=${1:-}
  case $cmd in
    up|down) [[ $EUID -eq 0 ]] || die "'$cmd' must run as root (installs packages, runs services as postgres)"
             with_lock; "cmd_$cmd" ;;
    status)  cmd_status ;;
    *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
  esac
}

main "$@"
