// The PgBouncer collectors: one per admin-console SHOW command (POOLS,
// STATS, DATABASES, CONFIG, VERSION), each a query and a parser into
// PgBouncerSample. Columns are found by NAME (they differ across PgBouncer
// versions; 1.18 is Debian 12's); a missing optional column leaves its
// value at 0, a missing required one (database, user, name, key, value,
// version) fails only that collector. Times (PgBouncer's microseconds) are
// converted to seconds.
//
// Thread safety: the table is immutable; the parsers are pure.
#ifndef PGRE_COLLECTORS_PGBOUNCER_H_
#define PGRE_COLLECTORS_PGBOUNCER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "pg/query_result.h"

namespace pgre {

// One row of SHOW POOLS.
struct PgBouncerPool {
  std::string database, user;
  std::int64_t cl_active = 0, cl_waiting = 0;
  std::int64_t sv_active = 0, sv_idle = 0, sv_used = 0;
  double maxwait_seconds = 0;  // maxwait + maxwait_us / 1e6
  std::string pool_mode;
};

// One row of SHOW STATS (times in seconds, byte counts in bytes).
struct PgBouncerStats {
  std::string database;
  double total_xact_count = 0, total_query_count = 0;
  double total_received = 0, total_sent = 0;
  double total_xact_time = 0, total_query_time = 0, total_wait_time = 0;
  double avg_xact_count = 0, avg_query_count = 0;
  double avg_recv = 0, avg_sent = 0;
  double avg_xact_time = 0, avg_query_time = 0, avg_wait_time = 0;
};

// One row of SHOW DATABASES.
struct PgBouncerDatabase {
  std::string name;    // the database clients connect to
  std::string target;  // the `database` column: the server-side name
  std::int64_t pool_size = 0, max_connections = 0, current_connections = 0;
  std::string pool_mode;  // "" = pgbouncer's default
};

struct PgBouncerSample {
  std::vector<PgBouncerPool> pools;
  std::vector<PgBouncerStats> stats;
  std::vector<PgBouncerDatabase> databases;
  std::optional<std::int64_t> max_client_conn;  // SHOW CONFIG
  std::string default_pool_mode;                // SHOW CONFIG pool_mode
  std::string version;  // SHOW VERSION, e.g. "PgBouncer 1.18.0"
  // Per collector ("pools", "stats", ...): whether it succeeded.
  std::map<std::string, bool> collector_success;
};

struct PgBouncerCollector {
  std::string_view name;   // "pools"
  std::string_view query;  // "SHOW POOLS"
  Status (*parse)(const QueryResult& result, PgBouncerSample* sample);
};

// Every collector, in the order their queries are sent.
std::span<const PgBouncerCollector> PgBouncerCollectors();

// Fills *sample from one result per collector (in PgBouncerCollectors()
// order); a failed or malformed result marks only its collector failed
// (*first_error set to "NAME: what" for the first of them).
void FillPgBouncerSample(const std::vector<QueryResult>& results,
                         PgBouncerSample* sample, std::string* first_error);

}  // namespace pgre

#endif  // PGRE_COLLECTORS_PGBOUNCER_H_
