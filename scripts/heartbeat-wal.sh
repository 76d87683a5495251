#!/usr/bin/env bash
# Measures the WAL the heartbeat costs an idle primary: a throwaway primary
# with one streaming replica (scripts/lib/cluster.sh; checkpoint_timeout at
# its default 5 min), polled by the agent for SECONDS with the heartbeat off
# (the baseline), then SECONDS with it on at INTERVAL; the primary's WAL
# position before and after each window. Prints both, the heartbeat's share
# per heartbeat and in MB per day.
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
port=$(pgc_free_port)
lsn() { pgc_psql "$PGC_PRIMARY_PORT" "SELECT pg_current_wal_lsn() - '0/0'"; }
# run_agent ENABLED: the agent polling both servers, heartbeat on or off.
run_agent() {
  cat >"$PGC_DIR/agent.yml" <<YAML
primary: {dsn: "$(pgc_dsn "$PGC_PRIMARY_PORT")"}
replicas:
  - {name: replica1, dsn: "$(pgc_dsn "${PGC_REPLICA_PORTS[0]}")"}
heartbeat: {enabled: $1, interval: $INTERVAL}
YAML
  "$BIN" --config.file="$PGC_DIR/agent.yml" --web.listen-address="127.0.0.1:$port" \
    >"$PGC_DIR/agent.log" 2>&1 &
  agent_pid=$!
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""; }

# A warm-up first: the new cluster's own start-up WAL (checkpoints, the
# replica's slot) stays out of both windows.
run_agent false
sleep 30  # warm-up time, not a wait for a state

# 1. The baseline: the idle primary polled by the agent, heartbeat off.
# Each window starts at a checkpoint, so that both pay the same full-page
# images (the heartbeat's one page is logged in full once per checkpoint).
pgc_psql "$PGC_PRIMARY_PORT" "CHECKPOINT" >/dev/null
base0=$(lsn)
sleep "$DURATION"  # the measurement window itself, not a wait for a state
base1=$(lsn)
stop_agent

# 2. The heartbeat on; the first one (the table created) before the window.
run_agent true
seq=""
for _ in $(seq 100); do
  seq=$(pgc_psql "$PGC_PRIMARY_PORT" \
    "SELECT seq FROM pg_replica_exporter_heartbeat" 2>/dev/null || true)
  [[ -n $seq ]] && break
  sleep 0.1
done
[[ -n $seq ]] || { echo "no heartbeat written; agent log:"; cat "$PGC_DIR/agent.log"; exit 1; }
pgc_psql "$PGC_PRIMARY_PORT" "CHECKPOINT" >/dev/null
lsn0=$(lsn)
seq0=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
sleep "$DURATION"  # the measurement window itself
lsn1=$(lsn)
seq1=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
python3 - "$base0" "$base1" "$lsn0" "$lsn1" "$seq0" "$seq1" "$DURATION" "$INTERVAL" <<'PY'
import sys
base0, base1, lsn0, lsn1, seq0, seq1, secs = (float(x) for x in sys.argv[1:8])
interval = sys.argv[8]
base, wal, beats = base1 - base0, lsn1 - lsn0, seq1 - seq0
extra = wal - base
day = 86400 / secs / 1e6
print(f"idle primary, heartbeat off: {base:.0f} bytes of WAL in {secs:.0f} s "
      f"({base * day:.1f} MB/day)")
print(f"heartbeat every {interval}: {beats:.0f} heartbeats, {wal:.0f} bytes "
      f"({wal * day:.1f} MB/day); the heartbeat's share {extra:.0f} bytes, "
      f"{extra / max(beats, 1):.0f} bytes each, {extra * day:.1f} MB/day")
PY
