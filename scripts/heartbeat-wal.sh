#!/usr/bin/env bash
# Measures the WAL the heartbeat costs an idle primary: a throwaway primary
# with one streaming replica (scripts/lib/cluster.sh, default settings: a
# checkpoint every checkpoint_timeout = 5 min), the agent with the heartbeat
# at heartbeat.interval, and the primary's WAL position before and after
# SECONDS of nothing else happening. Prints bytes per heartbeat and MB per
# day at that interval.
#
#   scripts/heartbeat-wal.sh [SECONDS (default 60)] [INTERVAL (default 1s)]
# Environment: PGRE_BINARY (default build/pg_replica_exporter).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${1:-60}
INTERVAL=${2:-1s}
BIN=${PGRE_BINARY:-$ROOT/build/pg_replica_exporter}
# shellcheck source=lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"

agent_pid=""
cleanup() {
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  pgc_destroy
}
trap cleanup EXIT

pgc_create 1 >/dev/null
config=$PGC_DIR/agent.yml
port=$(pgc_free_port)
cat >"$config" <<YAML
primary: {dsn: "$(pgc_dsn "$PGC_PRIMARY_PORT")"}
replicas:
  - {name: replica1, dsn: "$(pgc_dsn "${PGC_REPLICA_PORTS[0]}")"}
heartbeat: {enabled: true, interval: $INTERVAL}
YAML
"$BIN" --config.file="$config" --web.listen-address="127.0.0.1:$port" \
  >"$PGC_DIR/agent.log" 2>&1 &
agent_pid=$!
# The first heartbeat (the table created) before the measurement starts.
for _ in $(seq 100); do
  seq=$(pgc_psql "$PGC_PRIMARY_PORT" \
    "SELECT seq FROM pg_replica_exporter_heartbeat" 2>/dev/null || true)
  [[ -n $seq ]] && break
  sleep 0.1
done
[[ -n $seq ]] || { echo "no heartbeat written; agent log:"; cat "$PGC_DIR/agent.log"; exit 1; }
lsn0=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT pg_current_wal_lsn() - '0/0'")
seq0=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
sleep "$DURATION"  # the measurement window itself, not a wait for a state
lsn1=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT pg_current_wal_lsn() - '0/0'")
seq1=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
python3 - "$lsn0" "$lsn1" "$seq0" "$seq1" "$DURATION" "$INTERVAL" <<'PY'
import sys
lsn0, lsn1, seq0, seq1, secs = (float(x) for x in sys.argv[1:6])
interval = sys.argv[6]
wal, beats = lsn1 - lsn0, seq1 - seq0
print(f"heartbeat every {interval}: {beats:.0f} heartbeats in {secs:.0f} s, "
      f"{wal:.0f} bytes of WAL ({wal / max(beats, 1):.0f} bytes each), "
      f"{wal / secs * 86400 / 1e6:.1f} MB/day")
PY
