#include "collectors/heartbeat.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

QueryResult Row(std::optional<std::string> at, std::optional<std::string> seq) {
  QueryResult r;
  r.ok = true;
  r.columns = {"written_at", "seq"};
  r.rows = {{at, seq}};
  return r;
}

TEST_CASE("heartbeat collector: the row, no row, garbage", "[heartbeat]") {
  auto c = NewHeartbeatCollector("pg_replica_exporter_heartbeat");
  CHECK(c->Name() == "heartbeat");
  CHECK(c->Query() ==
        "SELECT extract(epoch FROM written_at) AS written_at, seq FROM "
        "\"pg_replica_exporter_heartbeat\" WHERE id = 1");
  ServerSample s;
  REQUIRE(c->Parse(Row("1764669600.250000", "42"), &s).ok());
  CHECK(s.heartbeat_written_at == Approx(1764669600.25));
  CHECK(s.heartbeat_seq == 42);

  QueryResult empty = Row("1", "1");
  empty.rows.clear();
  REQUIRE(c->Parse(empty, &s).ok());
  CHECK_FALSE(s.heartbeat_written_at);
  CHECK_FALSE(s.heartbeat_seq);

  CHECK_FALSE(c->Parse(Row("yesterday", "1"), &s).ok());
  CHECK_FALSE(c->Parse(Row(std::nullopt, "1"), &s).ok());
  QueryResult two = Row("1", "1");
  two.rows.push_back(two.rows[0]);
  CHECK_FALSE(c->Parse(two, &s).ok());
  QueryResult wrong = Row("1", "1");
  wrong.columns = {"at", "seq"};
  CHECK_FALSE(c->Parse(wrong, &s).ok());
}

TEST_CASE("heartbeat statements quote the table and carry the agent's clock",
          "[heartbeat]") {
  CHECK(QuoteHeartbeatTable("hb") == "\"hb\"");
  CHECK(QuoteHeartbeatTable("monitoring.hb") == "\"monitoring\".\"hb\"");
  CHECK(HeartbeatCreateSql("monitoring.hb") ==
        "CREATE TABLE IF NOT EXISTS \"monitoring\".\"hb\" (id integer "
        "PRIMARY KEY CHECK (id = 1), written_at timestamptz NOT NULL, seq "
        "bigint NOT NULL)");
  const WallTime at{std::chrono::microseconds(1764669600000001)};
  CHECK(HeartbeatWriteSql("hb", at) ==
        "INSERT INTO \"hb\" AS h (id, written_at, seq) VALUES (1, "
        "to_timestamp(1764669600.000001), 1) ON CONFLICT (id) DO UPDATE SET "
        "written_at = EXCLUDED.written_at, seq = h.seq + 1 RETURNING seq");
  CHECK(IsUndefinedTable("relation \"hb\" does not exist (SQLSTATE 42P01)"));
  CHECK_FALSE(
      IsUndefinedTable("permission denied for table hb (SQLSTATE 42501)"));
}

}  // namespace
}  // namespace pgre
