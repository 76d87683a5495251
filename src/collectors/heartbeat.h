// The heartbeat's SQL, in one place: the one-row table on the primary that
// the agent writes its wall-clock time and a sequence number into, and the
// collector "heartbeat" that reads it back on every server at each poll
// (engine/heartbeat_writer.h writes it).
//
// The table (created by the agent when absent, if its role may; or by hand
// with HeartbeatCreateSql's statement):
//   CREATE TABLE IF NOT EXISTS <table> (
//     id integer PRIMARY KEY CHECK (id = 1),
//     written_at timestamptz NOT NULL,   -- the agent's wall clock
//     seq bigint NOT NULL)               -- +1 per write, survives restarts
//
// More than one agent may write it (an HA pair, docs/scaling.md): one row,
// the newest write wins. Each write replaces written_at with the writer's
// clock and adds 1 to seq, so the row always holds the latest heartbeat of
// either agent, and each agent's heartbeat lag is its now minus that. The
// agents' clocks must agree (NTP): the lag each reads is off by their skew.
// A write that arrives late only makes the row older, never newer (lag errs
// high); a writer's clock stepping back is corrected by its next write.
//
// Thread safety: pure functions; the collector is immutable.
#ifndef PGRE_COLLECTORS_HEARTBEAT_H_
#define PGRE_COLLECTORS_HEARTBEAT_H_

#include <memory>
#include <string>

#include "collectors/collector.h"
#include "common/clock.h"

namespace pgre {

// `table` as a quoted SQL name: "name" or "schema"."name".
// REQUIRES: table is name or schema.name of [A-Za-z0-9_] (config checks).
std::string QuoteHeartbeatTable(const std::string& table);

// CREATE TABLE IF NOT EXISTS for `table` (the statement above).
std::string HeartbeatCreateSql(const std::string& table);

// The upsert of one heartbeat written at `wall` (the agent's clock): row 1,
// seq incremented (1 for a new row). Returns the new seq.
std::string HeartbeatWriteSql(const std::string& table, WallTime wall);

// SELECT of the row: columns written_at (unix seconds) and seq.
std::string HeartbeatReadSql(const std::string& table);

// SQLSTATE 42P01 (undefined_table) in a QueryResult's error text.
bool IsUndefinedTable(const std::string& error);

// Collector "heartbeat": HeartbeatReadSql(table) -> ServerSample's
// heartbeat_written_at / heartbeat_seq (nullopt when the table has no row
// yet). A missing table is the query's error (the collector fails, the
// others run).
std::unique_ptr<Collector> NewHeartbeatCollector(const std::string& table);

}  // namespace pgre

#endif  // PGRE_COLLECTORS_HEARTBEAT_H_
