#!/usr/bin/env bash
# scripts/pg-tree-selftest.sh VERSION [--report] — a quick manual check of a
# PostgreSQL VERSION tree from scripts/pg-tree.sh (13, 17 or 18), as root.
#
# Through the tree's runner: initdb a primary in a temp dir under /tmp owned
# by the host's postgres, start it on a free 127.0.0.1 port, pg_basebackup a
# streaming replica (-R, a slot), start it, check pg_stat_replication shows
# it 'streaming' and that a row written on the primary reaches it, promote it
# and check pg_is_in_recovery() turns false, then stop both and remove the
# dir. Exits 0 on success; on failure prints the server log tails.
#
# --report also prints, before the promotion: what a non-superuser
# `monitor` role (IN ROLE pg_monitor, TCP, trust) gets from the monitoring
# functions, the column lists of pg_stat_replication, pg_stat_wal_receiver and
# pg_replication_slots (\gdesc), and whether the host's psql 15 talks to the
# servers.
set -euo pipefail

usage() { echo "usage: $0 VERSION [--report]   (VERSION: 13, 17 or 18)" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
VERSION=$1
REPORT=0
if [[ $# -eq 2 ]]; then [[ $2 == --report ]] || usage; REPORT=1; fi
[[ $(id -u) -eq 0 ]] || { echo "selftest: must run as root" >&2; exit 1; }

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
HOST_PSQL=${PGRE_HOST_PSQL:-/usr/lib/postgresql/15/bin/psql}
log() { printf 'selftest[%s]: %s\n' "$VERSION" "$*" >&2; }
fail() {
  log "FAIL: $*"
  local s
  for s in primary replica; do
    if [[ -f $DIR/$s.log ]]; then
      echo "--- $s.log (tail) ---" >&2
      tail -n 20 "$DIR/$s.log" >&2
    fi
  done
  exit 1
}

RUNNER=$("$HERE/pg-tree.sh" "$VERSION")
[[ -x $RUNNER ]] || { log "pg-tree.sh printed no runner"; exit 1; }

DIR=$(mktemp -d /tmp/pgre-selftest-XXXXXX)
chown postgres: "$DIR"
chmod 700 "$DIR"

pid_of() { # the postmaster pid of data dir $1, if its pid file names one
  local pid=""
  [[ -f $1/postmaster.pid ]] && read -r pid <"$1/postmaster.pid"
  echo "${pid:-}"
}
alive() { # a live (not zombie) process
  local st
  st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}
cleanup() {
  local rc=$? s pid
  for s in replica primary; do
    pid=$(pid_of "$DIR/$s")
    [[ -n $pid ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      (cd "$DIR" && "$RUNNER" pg_ctl -D "$DIR/$s" -m immediate -w -t 30 stop) >/dev/null 2>&1 ||
        kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf -- "$DIR"
  exit "$rc"
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nothing listens on (and that is not in $1).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ " ${1:-} " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"
    return
  done
}

run() { (cd "$DIR" && "$RUNNER" "$@"); }
# psql PORT SQL [USER]: the tree's psql, unaligned tuples only.
psql_at() {
  PGCONNECT_TIMEOUT=10 run psql -XAtq -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$1" -U "${3:-postgres}" -d postgres -c "$2"
}
# wait_for PORT SQL WANT [SECONDS]
wait_for() {
  local deadline=$((SECONDS + ${4:-60})) got=""
  while ((SECONDS < deadline)); do
    got=$(psql_at "$1" "$2" 2>/dev/null) || got=""
    [[ $got == "$3" ]] && return 0
    sleep 0.2
  done
  return 1
}

PPORT=$(free_port)
RPORT=$(free_port "$PPORT")
log "runner $RUNNER; dir $DIR; primary :$PPORT, replica :$RPORT"

run initdb -D "$DIR/primary" -U postgres -A trust -E UTF8 --locale=C --no-sync \
  >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; fail "initdb"; }
cat >>"$DIR/primary/postgresql.conf" <<CONF

# pg-tree-selftest
listen_addresses = '127.0.0.1'
port = $PPORT
unix_socket_directories = ''
fsync = off
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 8
max_replication_slots = 8
hot_standby = on
wal_receiver_status_interval = 1s
CONF
cat >"$DIR/primary/pg_hba.conf" <<HBA
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
run pg_ctl -D "$DIR/primary" -l "$DIR/primary.log" -w -t 60 start >/dev/null ||
  fail "primary did not start"
log "primary up: $(psql_at "$PPORT" 'SELECT version()')"

run pg_basebackup -h 127.0.0.1 -p "$PPORT" -U postgres -D "$DIR/replica" \
  -R -X stream -C -S slot1 --checkpoint=fast --no-sync >"$DIR/basebackup.log" 2>&1 ||
  { cat "$DIR/basebackup.log" >&2; fail "pg_basebackup"; }
printf "port = %s\ncluster_name = 'replica1'\n" "$RPORT" >>"$DIR/replica/postgresql.conf"
run pg_ctl -D "$DIR/replica" -l "$DIR/replica.log" -w -t 60 start >/dev/null ||
  fail "replica did not start"

wait_for "$PPORT" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 1 ||
  fail "replica not streaming after 60 s"
log "replica streaming: $(psql_at "$PPORT" "SELECT application_name, state, sync_state FROM pg_stat_replication")"
[[ $(psql_at "$RPORT" 'SELECT pg_is_in_recovery()') == t ]] || fail "replica not in recovery"
psql_at "$PPORT" "CREATE TABLE selftest AS SELECT g FROM generate_series(1, 1000) g" >/dev/null
if ! wait_for "$RPORT" "SELECT count(*) FROM pg_class WHERE relname = 'selftest'" 1 30 ||
  ! wait_for "$RPORT" "SELECT count(*) FROM selftest" 1000 30; then
  fail "the replica did not replay a write"
fi
log "a write replayed on the replica"

if [[ $REPORT -eq 1 ]]; then
  psql_at "$PPORT" "CREATE ROLE monitor LOGIN IN ROLE pg_monitor" >/dev/null
  wait_for "$RPORT" "SELECT count(*) FROM pg_roles WHERE rolname = 'monitor'" 1 30 ||
    fail "monitor role not replicated"
  echo "== PostgreSQL $VERSION: $(psql_at "$PPORT" 'SHOW server_version')"
  echo "-- as monitor (pg_monitor, not superuser), TCP, trust"
  check() { # check PORT WHERE SQL
    local out
    if out=$(psql_at "$1" "$3" monitor 2>&1); then
      printf '%-8s %-66s ok: %s\n' "$2" "$3" "$out"
    else
      printf '%-8s %-66s FAILS: %s\n' "$2" "$3" "$(echo "$out" | head -n1)"
    fi
  }
  check "$PPORT" primary "SELECT (pg_control_system()).system_identifier"
  check "$PPORT" primary "SELECT (pg_control_checkpoint()).timeline_id"
  check "$PPORT" primary "SELECT pg_walfile_name(pg_current_wal_lsn())"
  check "$RPORT" replica "SELECT pg_is_wal_replay_paused()"
  check "$RPORT" replica "SELECT pg_get_wal_replay_pause_state()"
  check "$RPORT" replica "SELECT (pg_control_system()).system_identifier"
  check "$RPORT" replica "SELECT (pg_control_checkpoint()).timeline_id"
  check "$PPORT" primary "SELECT state, sent_lsn IS NOT NULL FROM pg_stat_replication"
  check "$RPORT" replica "SELECT status, conninfo IS NOT NULL FROM pg_stat_wal_receiver"
  echo "-- columns (SELECT * FROM view LIMIT 0 \\gdesc, as monitor)"
  for v in pg_stat_replication:$PPORT pg_stat_wal_receiver:$RPORT pg_replication_slots:$PPORT; do
    cols=$(printf 'SELECT * FROM %s LIMIT 0 \\gdesc\n' "${v%%:*}" |
      PGCONNECT_TIMEOUT=10 run psql -XAtq -F ' ' -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${v##*:}" \
        -U monitor -d postgres -f - | paste -sd, | sed 's/,/, /g')
    echo "${v%%:*} ($(echo "$cols" | awk -F', ' '{print NF}')): $cols"
  done
  echo "-- the host's psql ($HOST_PSQL)"
  if [[ -x $HOST_PSQL ]]; then
    for p in "$PPORT" "$RPORT"; do
      if out=$(PGCONNECT_TIMEOUT=10 "$HOST_PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" \
        -U monitor -d postgres -c "SELECT current_user || ' ' || pg_is_in_recovery() || ' ' || count(*) FROM pg_stat_replication" 2>&1) &&
        out2=$(PGCONNECT_TIMEOUT=10 "$HOST_PSQL" -X -h 127.0.0.1 -p "$p" -U monitor -d postgres \
          -c '\d pg_replication_slots' 2>&1 | head -n1) &&
        out3=$(printf 'SELECT * FROM pg_stat_wal_receiver LIMIT 0 \\gdesc\n' |
          PGCONNECT_TIMEOUT=10 "$HOST_PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" \
          -U monitor -d postgres -f - 2>&1 | wc -l); then
        echo "port $p: ok: '$out'; \\d: '${out2## }'; \\gdesc rows: $out3"
      else
        echo "port $p: FAILED: $out ${out2:-}"
      fi
    done
  else
    echo "not installed"
  fi
fi

run pg_ctl -D "$DIR/replica" -w -t 60 promote >/dev/null || fail "pg_ctl promote"
wait_for "$RPORT" "SELECT pg_is_in_recovery()" f 30 || fail "still in recovery after promote"
log "promoted: pg_is_in_recovery() = f, timeline $(psql_at "$RPORT" 'CHECKPOINT; SELECT timeline_id FROM pg_control_checkpoint()')"

for s in replica primary; do
  pid=$(pid_of "$DIR/$s")
  run pg_ctl -D "$DIR/$s" -m fast -w -t 60 stop >/dev/null || fail "stopping $s"
  # pg_ctl -w returns once the pid file is gone: the process may take a moment.
  for _ in $(seq 100); do
    if [[ -z $pid ]] || ! alive "$pid"; then break; fi
    sleep 0.1
  done
  if [[ -n $pid ]] && alive "$pid"; then fail "$s (pid $pid) still running"; fi
done
log "PASS"
