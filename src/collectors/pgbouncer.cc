#include "collectors/pgbouncer.h"

#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::ParseFiniteDouble;

// Column positions by name, for one result.
class Columns {
 public:
  explicit Columns(const QueryResult& r) : r_(r) {}
  std::optional<std::size_t> Find(std::string_view name) const {
    for (std::size_t i = 0; i < r_.columns.size(); ++i) {
      if (r_.columns[i] == name) return i;
    }
    return std::nullopt;
  }
  // Checks that every row has every column and that `required` exist.
  Status Check(std::initializer_list<std::string_view> required) const {
    if (!r_.ok) return Status::Error(r_.error);
    for (std::string_view name : required) {
      if (!Find(name)) {
        return Status::Error("no column \"" + std::string(name) + "\"");
      }
    }
    for (const auto& row : r_.rows) {
      if (row.size() != r_.columns.size()) {
        return Status::Error("a row with " + std::to_string(row.size()) +
                             " values for " +
                             std::to_string(r_.columns.size()) + " columns");
      }
    }
    return Status::Ok();
  }
  std::string Text(std::size_t row, std::string_view name) const {
    auto col = Find(name);
    if (!col || !r_.rows[row][*col]) return "";
    return *r_.rows[row][*col];
  }
  // A number, 0 when the column is absent or NULL; *status set on garbage.
  double Number(std::size_t row, std::string_view name, Status* status) const {
    auto col = Find(name);
    if (!col || !r_.rows[row][*col] || r_.rows[row][*col]->empty()) return 0;
    auto v = ParseFiniteDouble(*r_.rows[row][*col]);
    if (!v) {
      if (status->ok()) {
        *status = Status::Error("row " + std::to_string(row) + ", column \"" +
                                std::string(name) + "\": not a number: \"" +
                                r_.rows[row][*col]->substr(0, 40) + "\"");
      }
      return 0;
    }
    return *v;
  }

 private:
  const QueryResult& r_;
};

std::int64_t Int(double v) { return static_cast<std::int64_t>(v); }
constexpr double kMicro = 1e-6;

Status ParsePools(const QueryResult& r, PgBouncerSample* sample) {
  const Columns c(r);
  if (Status s = c.Check({"database", "user"}); !s.ok()) return s;
  Status status;
  std::vector<PgBouncerPool> pools;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    PgBouncerPool p;
    p.database = c.Text(i, "database");
    p.user = c.Text(i, "user");
    p.cl_active = Int(c.Number(i, "cl_active", &status));
    p.cl_waiting = Int(c.Number(i, "cl_waiting", &status));
    p.sv_active = Int(c.Number(i, "sv_active", &status));
    p.sv_idle = Int(c.Number(i, "sv_idle", &status));
    p.sv_used = Int(c.Number(i, "sv_used", &status));
    p.maxwait_seconds = c.Number(i, "maxwait", &status) +
                        c.Number(i, "maxwait_us", &status) * kMicro;
    p.pool_mode = c.Text(i, "pool_mode");
    pools.push_back(std::move(p));
  }
  if (!status.ok()) return status;
  sample->pools = std::move(pools);
  return Status::Ok();
}

Status ParseStats(const QueryResult& r, PgBouncerSample* sample) {
  const Columns c(r);
  if (Status s = c.Check({"database"}); !s.ok()) return s;
  Status status;
  std::vector<PgBouncerStats> stats;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    PgBouncerStats x;
    x.database = c.Text(i, "database");
    auto n = [&](std::string_view name) { return c.Number(i, name, &status); };
    x.total_xact_count = n("total_xact_count");
    x.total_query_count = n("total_query_count");
    x.total_received = n("total_received");
    x.total_sent = n("total_sent");
    x.total_xact_time = n("total_xact_time") * kMicro;
    x.total_query_time = n("total_query_time") * kMicro;
    x.total_wait_time = n("total_wait_time") * kMicro;
    x.avg_xact_count = n("avg_xact_count");
    x.avg_query_count = n("avg_query_count");
    x.avg_recv = n("avg_recv");
    x.avg_sent = n("avg_sent");
    x.avg_xact_time = n("avg_xact_time") * kMicro;
    x.avg_query_time = n("avg_query_time") * kMicro;
    x.avg_wait_time = n("avg_wait_time") * kMicro;
    stats.push_back(std::move(x));
  }
  if (!status.ok()) return status;
  sample->stats = std::move(stats);
  return Status::Ok();
}

Status ParseDatabases(const QueryResult& r, PgBouncerSample* sample) {
  const Columns c(r);
  if (Status s = c.Check({"name"}); !s.ok()) return s;
  Status status;
  std::vector<PgBouncerDatabase> dbs;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    PgBouncerDatabase d;
    d.name = c.Text(i, "name");
    d.target = c.Text(i, "database");
    d.pool_size = Int(c.Number(i, "pool_size", &status));
    d.max_connections = Int(c.Number(i, "max_connections", &status));
    d.current_connections = Int(c.Number(i, "current_connections", &status));
    d.pool_mode = c.Text(i, "pool_mode");
    dbs.push_back(std::move(d));
  }
  if (!status.ok()) return status;
  sample->databases = std::move(dbs);
  return Status::Ok();
}

Status ParseConfig(const QueryResult& r, PgBouncerSample* sample) {
  const Columns c(r);
  if (Status s = c.Check({"key", "value"}); !s.ok()) return s;
  std::optional<std::int64_t> max_client_conn;
  std::string pool_mode;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const std::string key = c.Text(i, "key");
    if (key == "max_client_conn") {
      Status status;
      const double v = c.Number(i, "value", &status);
      if (!status.ok()) return status;
      max_client_conn = Int(v);
    } else if (key == "pool_mode") {
      pool_mode = c.Text(i, "value");
    }
  }
  if (!max_client_conn) return Status::Error("no max_client_conn row");
  sample->max_client_conn = max_client_conn;
  sample->default_pool_mode = pool_mode;
  return Status::Ok();
}

Status ParseVersion(const QueryResult& r, PgBouncerSample* sample) {
  const Columns c(r);
  if (Status s = c.Check({"version"}); !s.ok()) return s;
  if (r.rows.size() != 1) {
    return Status::Error("expected 1 row, got " +
                         std::to_string(r.rows.size()));
  }
  sample->version = c.Text(0, "version");
  return Status::Ok();
}

constexpr PgBouncerCollector kCollectors[] = {
    {"pools", "SHOW POOLS", ParsePools},
    {"stats", "SHOW STATS", ParseStats},
    {"databases", "SHOW DATABASES", ParseDatabases},
    {"config", "SHOW CONFIG", ParseConfig},
    {"version", "SHOW VERSION", ParseVersion},
};

}  // namespace

std::span<const PgBouncerCollector> PgBouncerCollectors() {
  return kCollectors;
}

void FillPgBouncerSample(const std::vector<QueryResult>& results,
                         PgBouncerSample* sample, std::string* first_error) {
  const auto collectors = PgBouncerCollectors();
  for (std::size_t i = 0; i < collectors.size(); ++i) {
    const PgBouncerCollector& c = collectors[i];
    Status s = i < results.size() ? c.parse(results[i], sample)
                                  : Status::Error("no result");
    sample->collector_success[std::string(c.name)] = s.ok();
    if (!s.ok() && first_error->empty()) {
      *first_error = std::string(c.name) + ": " + s.message();
    }
  }
}

}  // namespace pgre
