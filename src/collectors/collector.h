// Collector: one PostgreSQL view (or function group) -> fields of a
// ServerSample. One file per collector, one interface, in the style of
// postgres_exporter. Every collector's query must run on a primary and on a
// server in recovery alike (guard recovery-only functions with CASE), so a
// promotion needs no reconfiguration.
//
// Thread safety: collectors are immutable; Parse may run on many threads.
#ifndef PGRE_COLLECTORS_COLLECTOR_H_
#define PGRE_COLLECTORS_COLLECTOR_H_

#include <memory>
#include <string_view>
#include <vector>

#include "collectors/sample.h"
#include "common/status.h"
#include "pg/query_result.h"

namespace pgre {

class Collector {
 public:
  virtual ~Collector() = default;
  // Stable name, used as a metric label: "server", "stat_replication",
  // "replication_slots", "wal_receiver", "activity".
  virtual std::string_view Name() const = 0;
  // One SQL statement, no parameters.
  virtual std::string_view Query() const = 0;
  // The oldest server_version_num the query runs on. On an older server
  // the collector is skipped (collector_success false) and the others run.
  virtual int MinServerVersion() const { return 100000; }
  // Fills this collector's fields of *sample from a successful result.
  // Returns an error (and may leave fields partly set) when the result's
  // shape or values are not what the query produces.
  virtual Status Parse(const QueryResult& result,
                       ServerSample* sample) const = 0;
};

// The collectors the agent runs against every server, in a stable order.
std::vector<std::unique_ptr<Collector>> DefaultCollectors();

// The PostgreSQL major versions the agent supports and is tested on, as
// server_version_num bounds: 13 to 18.
inline constexpr int kMinServerVersion = 130000;
inline constexpr int kMaxTestedServerVersion = 189999;

}  // namespace pgre

#endif  // PGRE_COLLECTORS_COLLECTOR_H_
