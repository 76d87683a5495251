#!/usr/bin/env bash
# Measures the WAL the heartbeat costs an idle primary: a throwaway primary
# with one streaming replica (scripts/lib/cluster.sh; checkpoint_timeout at
# its default 5 min), polled by the agent with the heartbeat at INTERVAL;
# the primary's WAL insert position before and after SECONDS of nothing
# else. Prints bytes per heartbeat and MB per day (an upper bound: the idle
# primary's own WAL is in it).
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
lsn() { pgc_psql "$PGC_PRIMARY_PORT" "SELECT pg_current_wal_insert_lsn() - '0/0'"; }
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

# The heartbeat on, 30 s of warm-up first (the new cluster's start-up WAL
# and the table's creation stay out of the window).
run_agent true
sleep 30  # warm-up time, not a wait for a state
seq0=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat" 2>/dev/null || true)
[[ -n $seq0 ]] || { echo "no heartbeat written; agent log:"; cat "$PGC_DIR/agent.log"; exit 1; }
# The window starts at a checkpoint: it pays the one full-page image of the
# table's page that every checkpoint interval costs.
pgc_psql "$PGC_PRIMARY_PORT" "CHECKPOINT" >/dev/null
lsn0=$(lsn)
seq0=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
sleep "$DURATION"  # the measurement window itself, not a wait for a state
lsn1=$(lsn)
seq1=$(pgc_psql "$PGC_PRIMARY_PORT" "SELECT seq FROM pg_replica_exporter_heartbeat")
stop_agent
python3 - "$lsn0" "$lsn1" "$seq0" "$seq1" "$DURATION" "$INTERVAL" <<'PY'
import sys
lsn0, lsn1, seq0, seq1, secs = (float(x) for x in sys.argv[1:6])
wal, beats = lsn1 - lsn0, seq1 - seq0
print(f"heartbeat every {sys.argv[6]}, primary otherwise idle: {beats:.0f} "
      f"heartbeats in {secs:.0f} s, {wal:.0f} bytes of WAL "
      f"({wal / max(beats, 1):.0f} bytes per heartbeat), "
      f"{wal / secs * 86400 / 1e6:.1f} MB/day (the idle primary's own WAL "
      f"included: an upper bound)")
PY
