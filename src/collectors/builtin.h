// The built-in collectors, one per file (server.cc, stat_replication.cc,
// replication_slots.cc, wal_receiver.cc, activity.cc). DefaultCollectors()
// (collector.h) returns one of each, in the order below.
//
// Conventions of every query: LSNs are decimal byte counts (lsn - '0/0'),
// timestamps are unix seconds (extract(epoch from ...)), intervals are
// seconds; functions that fail on a primary or on a standby are guarded
// with CASE WHEN pg_is_in_recovery(); all of them run as a non-superuser
// with pg_monitor. Parse() never reads an ok=false result, checks column
// names and order, and rejects values that do not parse.
//
// Each function returns a new collector; never null.
#ifndef PGRE_COLLECTORS_BUILTIN_H_
#define PGRE_COLLECTORS_BUILTIN_H_

#include <memory>

#include "collectors/collector.h"

namespace pgre {

// "server": ServerSample's recovery state, WAL positions, timeline and
// connection settings. Recovery-only values (receive/replay LSN, last
// replayed transaction time, replay paused) are NULL -> nullopt on a server
// not in recovery, even after a promotion left stale values behind;
// current_lsn is nullopt in recovery. Timeline: on a primary, that of the
// current WAL file (exact right after a promotion); in recovery, that of the
// latest restartpoint (pg_control_checkpoint()).
std::unique_ptr<Collector> NewServerCollector();

// "stat_replication": pg_stat_replication -> ServerSample::standbys, ordered
// by application_name.
std::unique_ptr<Collector> NewStatReplicationCollector();

// "replication_slots": pg_replication_slots -> ServerSample::slots, ordered
// by slot_name. retained_bytes = max(0, WAL end - restart_lsn), where WAL
// end is pg_current_wal_lsn() on a primary and the greater of the last
// received and replayed LSN in recovery; nullopt when either is NULL.
std::unique_ptr<Collector> NewReplicationSlotsCollector();

// "wal_receiver": the row of pg_stat_wal_receiver, nullopt when it has none
// (a primary, or a standby whose receiver is not running).
std::unique_ptr<Collector> NewWalReceiverCollector();

// "activity": count of client backends per state, excluding the agent's own
// connection and backends whose state is NULL.
std::unique_ptr<Collector> NewActivityCollector();

}  // namespace pgre

#endif  // PGRE_COLLECTORS_BUILTIN_H_
