// Collector "heartbeat" and the heartbeat's statements.
#include "collectors/heartbeat.h"

#include <cstdio>
#include <string_view>

#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

constexpr std::string_view kColumns[] = {"written_at", "seq"};

class HeartbeatCollector : public Collector {
 public:
  explicit HeartbeatCollector(const std::string& table)
      : query_(HeartbeatReadSql(table)) {}
  std::string_view Name() const override { return "heartbeat"; }
  std::string_view Query() const override { return query_; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    sample->heartbeat_written_at.reset();
    sample->heartbeat_seq.reset();
    if (result.rows.size() > 1) {
      return Status::Error("want at most 1 row, got " +
                           std::to_string(result.rows.size()));
    }
    if (result.rows.empty()) return Status::Ok();
    RowReader row(result, 0);
    auto at = row.OptDouble(0);
    auto seq = row.OptInt64(1);
    if (!row.status().ok()) return row.status();
    if (!at || !seq) return Status::Error("written_at or seq is NULL");
    sample->heartbeat_written_at = *at;
    sample->heartbeat_seq = *seq;
    return Status::Ok();
  }

 private:
  const std::string query_;
};

}  // namespace

std::string QuoteHeartbeatTable(const std::string& table) {
  const std::size_t dot = table.find('.');
  if (dot == std::string::npos) return "\"" + table + "\"";
  return "\"" + table.substr(0, dot) + "\".\"" + table.substr(dot + 1) + "\"";
}

std::string HeartbeatCreateSql(const std::string& table) {
  return "CREATE TABLE IF NOT EXISTS " + QuoteHeartbeatTable(table) +
         " (id integer PRIMARY KEY CHECK (id = 1), written_at timestamptz NOT "
         "NULL, seq bigint NOT NULL)";
}

std::string HeartbeatWriteSql(const std::string& table, WallTime wall) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      wall.time_since_epoch())
                      .count();
  char epoch[48];
  std::snprintf(epoch, sizeof epoch, "%lld.%06lld",
                static_cast<long long>(us / 1000000),
                static_cast<long long>(us % 1000000));
  const std::string t = QuoteHeartbeatTable(table);
  return "INSERT INTO " + t + " AS h (id, written_at, seq) VALUES (1, " +
         "to_timestamp(" + epoch +
         "), 1) ON CONFLICT (id) DO UPDATE SET written_at = "
         "EXCLUDED.written_at, seq = h.seq + 1 RETURNING seq";
}

std::string HeartbeatReadSql(const std::string& table) {
  return "SELECT extract(epoch FROM written_at) AS written_at, seq FROM " +
         QuoteHeartbeatTable(table) + " WHERE id = 1";
}

bool IsUndefinedTable(const std::string& error) {
  return error.find("(SQLSTATE 42P01)") != std::string::npos;
}

std::unique_ptr<Collector> NewHeartbeatCollector(const std::string& table) {
  return std::make_unique<HeartbeatCollector>(table);
}

}  // namespace pgre
