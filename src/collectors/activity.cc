// Collector "activity": client connections by state.
#include <map>
#include <string_view>
#include <utility>

#include "collectors/builtin.h"
#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

// Without pg_read_all_stats (part of pg_monitor) other roles' backends show
// state NULL; those are left out rather than counted under a made-up name.
// The agent's own connections (its pollers' and probes', application_name
// pg_replica_exporter unless the DSN sets another) are left out too.
// pg_stat_get_activity() is pg_stat_activity without the view's joins to
// pg_database and pg_authid, which this count does not need.
constexpr std::string_view kQuery = R"sql(SELECT
  state,
  count(*) AS count
FROM pg_stat_get_activity(NULL) s
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND application_name <> 'pg_replica_exporter'
  AND state IS NOT NULL
GROUP BY state
ORDER BY state)sql";

enum Col { kState, kCount };
constexpr std::string_view kColumns[] = {"state", "count"};

class ActivityCollector : public Collector {
 public:
  std::string_view Name() const override { return "activity"; }
  std::string_view Query() const override { return kQuery; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    std::map<std::string, std::int64_t> by_state;
    for (size_t i = 0; i < result.rows.size(); ++i) {
      if (!result.rows[i][kState]) continue;  // state NULL: skip
      RowReader row(result, i);
      std::string state = row.Text(kState);
      const std::optional<std::int64_t> count = row.OptInt64(kCount);
      if (!row.status().ok()) return row.status();
      if (!count || *count < 0) {
        return Status::Error("row " + std::to_string(i) +
                             ": count must be a non-negative integer");
      }
      if (!by_state.emplace(std::move(state), *count).second) {
        return Status::Error("row " + std::to_string(i) +
                             ": duplicate state \"" + row.Text(kState) + "\"");
      }
    }
    sample->connections_by_state = std::move(by_state);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Collector> NewActivityCollector() {
  return std::make_unique<ActivityCollector>();
}

}  // namespace pgre
