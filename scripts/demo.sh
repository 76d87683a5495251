#!/usr/bin/env bash
# Demo: pg_replica_exporter watching a throwaway PostgreSQL 15 primary with
# three streaming replicas, all on this machine's loopback interface.
#
#   scripts/demo.sh [--background-writes] [--haproxy] [--port PORT]
#
# Installs the dependencies, builds the agent (Release, build-release/),
# starts the cluster as the postgres OS user in a temp dir, writes a config
# for it and runs the agent in the foreground. Ctrl-C stops the agent and all
# servers and removes the temp dir.
#   --background-writes  a light write load on the primary, so lag moves
#   --haproxy            HAProxy in front, running config/haproxy.cfg (made
#                        local by scripts/haproxy-config.py): a read port and
#                        a write port, every server checked through the agent
#   --port PORT          the agent's HTTP port (default 9856, or a free one)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"

writes=0
haproxy=0
port=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --background-writes) writes=1 ;;
    --port) port=${2:?--port needs a value}; shift ;;
    --port=*) port=${1#--port=} ;;
    --haproxy) haproxy=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

agent_pid=""
writer_pid=""
haproxy_pid=""
cleanup() {
  set +e
  trap - INT TERM
  if [[ -n "$haproxy_pid" ]]; then kill "$haproxy_pid" 2>/dev/null; wait "$haproxy_pid" 2>/dev/null; fi
  if [[ -n "$writer_pid" ]]; then kill "$writer_pid" 2>/dev/null; wait "$writer_pid" 2>/dev/null; fi
  if [[ -n "$agent_pid" ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null
  fi
  if [[ -n "$PGC_DIR" ]]; then
    echo "demo: stopping the cluster and removing $PGC_DIR" >&2
    pgc_destroy
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: installing dependencies (if missing)" >&2
"$ROOT/scripts/install-deps.sh"

echo "demo: building pg_replica_exporter (Release, build-release/)" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target pg_replica_exporter
BIN="$ROOT/build-release/pg_replica_exporter"
[[ -x "$BIN" ]] || { echo "demo: $BIN was not built" >&2; exit 1; }

pgc_create 3

if [[ -z "$port" ]]; then
  port=9856
  if pgc_port_in_use "$port"; then port=$(pgc_free_port); fi
fi

config="$PGC_DIR/demo.yml"
{
  echo "# Written by scripts/demo.sh for a throwaway cluster."
  echo "cluster: demo"
  echo "poll_interval: 1s"
  echo "primary:"
  echo "  name: primary"
  echo "  dsn: \"$(pgc_dsn "$PGC_PRIMARY_PORT")\""
  echo "replicas:"
  for i in "${!PGC_REPLICA_PORTS[@]}"; do
    echo "  - name: replica$((i + 1))"
    echo "    dsn: \"$(pgc_dsn "${PGC_REPLICA_PORTS[i]}")\""
  done
  echo "routing:"
  echo "  health_check_interval: 2s"
  echo "  synthetic_check_interval: 2s"
} >"$config"

if [[ $writes -eq 1 ]]; then
  pgc_psql "$PGC_PRIMARY_PORT" "CREATE TABLE IF NOT EXISTS demo_writes (
      id bigserial PRIMARY KEY, payload text, at timestamptz DEFAULT now())" >/dev/null
  (
    trap 'exit 0' TERM
    while true; do
      pgc_psql "$PGC_PRIMARY_PORT" "INSERT INTO demo_writes (payload)
          SELECT md5(random()::text) FROM generate_series(1, 500)" >/dev/null 2>&1 || true
      sleep 0.5
    done
  ) &
  writer_pid=$!
  echo "demo: background writes on the primary (500 rows every 0.5 s)" >&2
fi

base="http://127.0.0.1:$port"
cat <<EOT

  Cluster dir:  $PGC_DIR   (config: $config)
  primary       $(pgc_dsn "$PGC_PRIMARY_PORT")
$(for i in "${!PGC_REPLICA_PORTS[@]}"; do
    echo "  replica$((i + 1))      $(pgc_dsn "${PGC_REPLICA_PORTS[i]}")"
  done)

  Status page:     $base/
  Metrics:         $base/metrics
  Replica status:  $base/v1/system/database/replicas/status
  Replica health:  $base/v1/system/database/replicas/health
  Replication lag: $base/v1/system/database/replicas/lag
  Pool stats:      $base/v1/system/database/connection-pool/stats

  Try: curl -s $base/v1/system/database/replicas/lag
  Press Ctrl-C to stop the agent and the cluster.

EOT

if [[ $haproxy -eq 1 ]]; then
  command -v haproxy >/dev/null || { echo "demo: haproxy missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
  read_port=$(pgc_free_port)
  write_port=$(pgc_free_port)
  stats_port=$(pgc_free_port)
  servers=(--server "primary=$PGC_PRIMARY_PORT")
  for i in "${!PGC_REPLICA_PORTS[@]}"; do
    servers+=(--server "replica$((i + 1))=${PGC_REPLICA_PORTS[i]}")
  done
  "$ROOT/scripts/haproxy-config.py" --cluster demo --agent "$port" \
    --writes "$write_port" --reads "$read_port" --stats "$stats_port" \
    "${servers[@]}" >"$PGC_DIR/haproxy.cfg"
  haproxy -db -f "$PGC_DIR/haproxy.cfg" >"$PGC_DIR/haproxy.log" 2>&1 &
  haproxy_pid=$!
  cat <<EOT
  HAProxy (config/haproxy.cfg, local: $PGC_DIR/haproxy.cfg; log haproxy.log):
  reads         $(pgc_dsn "$read_port")
  writes        $(pgc_dsn "$write_port")
  stats page    http://127.0.0.1:$stats_port/
  load-balancer checks: $base/lb/demo/replica1/read-only (and primary, replica, health)

  Watch where reads land (a new connection each), then pause a replica's
  replay in another terminal: it leaves HAProxy's rotation once its lag
  passes routing.max_lag (5s) and the agent's fall checks, and returns after:
    while sleep 0.2; do psql "$(pgc_dsn "$read_port")" -Atc 'select inet_server_port()'; done
    runuser -u postgres -- psql -h 127.0.0.1 -p ${PGC_REPLICA_PORTS[1]} -c 'select pg_wal_replay_pause()'
    (--background-writes makes the lag grow; pg_wal_replay_resume() brings it back)
    or the same in one command: $BIN --config.file=$config route-check --through="$(pgc_dsn "$read_port")" --duration=60s

EOT
fi

"$BIN" "--config.file=$config" "--web.listen-address=127.0.0.1:$port" &
agent_pid=$!
# Foreground in effect: wait for the agent; Ctrl-C lands in the INT trap.
set +e
wait "$agent_pid"
rc=$?
agent_pid=""
exit "$rc"
