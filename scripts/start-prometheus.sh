#!/usr/bin/env bash
# Start a throw-away Prometheus for an integration test.
#
#   scripts/start-prometheus.sh <port> <scrape-target host:port> <datadir> [<rules-file>]
#
# Writes <datadir>/prometheus.yml (scrape/evaluation interval 1s, job "app" scraping the
# target, and the alerting/recording rules of <rules-file> when given), stores TSDB data in <datadir>/data, logs to <datadir>/prometheus.log, listens on
# 127.0.0.1:<port>, waits until /-/ready answers (max 30 s) and prints the PID on stdout
# (also written to <datadir>/prometheus.pid). Stop it with: kill <pid>
#
# Note: Prometheus applies target discovery only every ~5 s, so the first scrape happens
# ~5 s after /-/ready. Set PROMETHEUS_WAIT_FIRST_SCRAPE=1 to also wait (within the same 30 s
# budget) until the target has been scraped once (health "up" or "down").
set -euo pipefail

PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}

die() { printf '[start-prometheus] ERROR: %s\n' "$*" >&2; exit 1; }

(($# == 3 || $# == 4)) || { echo "usage: $0 <port> <scrape-target host:port> <datadir> [<rules-file>]" >&2; exit 2; }
port=$1 target=$2 datadir=$3 rules=${4:-}
[[ $port =~ ^[0-9]+$ ]] || die "port must be numeric: $port"
[[ $target == *:* ]] || die "scrape target must be host:port: $target"
[[ -x $PROMETHEUS_BIN ]] || die "$PROMETHEUS_BIN not found (run scripts/test-env.sh up)"
# Any socket on the port but TIME-WAIT (Prometheus binds with SO_REUSEADDR): a listener, or the local end of a connection.
if ss -Htan exclude time-wait "sport = :$port" 2>/dev/null | grep -q .; then die "port $port is already in use"; fi

mkdir -p "$datadir/data"
datadir=$(cd "$datadir" && pwd)
rule_files=
if [[ -n $rules ]]; then
  [[ -r $rules ]] || die "rules file not readable: $rules"
  rules=$(cd "$(dirname "$rules")" && pwd)/$(basename "$rules")
  rule_files="rule_files: ['$rules']"
fi

cat >"$datadir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
$rule_files
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['$target']
EOF

# setsid + nohup: survives the caller's shell/process group; stdin closed.
setsid nohup "$PROMETHEUS_BIN" \
  --config.file="$datadir/prometheus.yml" \
  --storage.tsdb.path="$datadir/data" \
  --web.listen-address="127.0.0.1:$port" \
  --web.enable-lifecycle \
  >"$datadir/prometheus.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$datadir/prometheus.pid"

ready=0
for ((i = 0; i < 120; i++)); do
  if ((!ready)) && curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; then
    ready=1
  fi
  if ((ready)); then
    if [[ ${PROMETHEUS_WAIT_FIRST_SCRAPE:-0} != 1 ]]; then echo "$pid"; exit 0; fi
    targets=$(curl -fsS -m 1 "http://127.0.0.1:$port/api/v1/targets" 2>/dev/null || true)
    if [[ $targets == *'"health":"up"'* || $targets == *'"health":"down"'* ]]; then echo "$pid"; exit 0; fi
  fi
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$datadir/prometheus.log" >&2; die "prometheus exited during startup"; }
  sleep 0.25
done
kill "$pid" 2>/dev/null || true
tail -n 20 "$datadir/prometheus.log" >&2
die "prometheus not ready (or target not scraped) on 127.0.0.1:$port after 30 s"
