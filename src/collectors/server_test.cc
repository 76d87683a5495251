#include <catch2/catch.hpp>

#include "collectors/builtin.h"
#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;

const std::vector<std::string> kColumns = {"in_recovery",
                                           "current_lsn",
                                           "receive_lsn",
                                           "replay_lsn",
                                           "last_xact_replay_timestamp",
                                           "replay_paused",
                                           "timeline",
                                           "system_identifier",
                                           "max_connections",
                                           "superuser_reserved_connections"};

QueryResult Result(Row row) { return OkResult(kColumns, {row}); }

const Row kPrimary = {
    "f",          "50595328", std::nullopt,          std::nullopt, std::nullopt,
    std::nullopt, "1",        "7320012870716651519", "100",        "3"};
const Row kReplica = {"t",        std::nullopt,          "50595328",
                      "50594000", "1795703208.541538",   "f",
                      "2",        "7320012870716651519", "200",
                      "5"};

TEST_CASE("server collector: name and query", "[server]") {
  auto c = NewServerCollector();
  CHECK(c->Name() == "server");
  // Functions that fail on one of the roles are guarded.
  CHECK_THAT(std::string(c->Query()),
             Catch::Contains("CASE WHEN NOT pg_is_in_recovery()\n    THEN "
                             "pg_current_wal_lsn()"));
  CHECK_THAT(std::string(c->Query()),
             Catch::Contains("CASE WHEN pg_is_in_recovery()\n    THEN "
                             "pg_is_wal_replay_paused()"));
}

TEST_CASE("server collector: primary row", "[server]") {
  ServerSample s;
  s.receive_lsn = 1;  // stale values are overwritten
  s.replay_paused = true;
  REQUIRE(NewServerCollector()->Parse(Result(kPrimary), &s).ok());
  CHECK_FALSE(s.in_recovery);
  CHECK(s.current_lsn == 50595328u);
  CHECK_FALSE(s.receive_lsn.has_value());
  CHECK_FALSE(s.replay_lsn.has_value());
  CHECK_FALSE(s.last_xact_replay_timestamp.has_value());
  CHECK_FALSE(s.replay_paused.has_value());
  CHECK(s.timeline == 1);
  CHECK(s.system_identifier == 7320012870716651519ull);
  CHECK(s.max_connections == 100);
  CHECK(s.superuser_reserved_connections == 3);
}

TEST_CASE("server collector: replica row", "[server]") {
  ServerSample s;
  REQUIRE(NewServerCollector()->Parse(Result(kReplica), &s).ok());
  CHECK(s.in_recovery);
  CHECK_FALSE(s.current_lsn.has_value());
  CHECK(s.receive_lsn == 50595328u);
  CHECK(s.replay_lsn == 50594000u);
  REQUIRE(s.last_xact_replay_timestamp.has_value());
  CHECK(*s.last_xact_replay_timestamp == Approx(1795703208.541538));
  CHECK(s.replay_paused == false);
  CHECK(s.timeline == 2);
  CHECK(s.max_connections == 200);
  CHECK(s.superuser_reserved_connections == 5);
}

TEST_CASE("server collector: no pg_monitor: control data reads NULL",
          "[server]") {
  Row row = kReplica;
  row[6] = row[7] = std::nullopt;
  ServerSample s;
  REQUIRE(NewServerCollector()->Parse(Result(row), &s).ok());
  CHECK_FALSE(s.timeline.has_value());
  CHECK_FALSE(s.system_identifier.has_value());
  CHECK_THAT(std::string(NewServerCollector()->Query()),
             Catch::Contains("has_function_privilege('pg_control_system()'"));
}

TEST_CASE("server collector: replica that never replayed", "[server]") {
  Row row = kReplica;
  row[2] = row[3] = row[4] = std::nullopt;
  ServerSample s;
  REQUIRE(NewServerCollector()->Parse(Result(row), &s).ok());
  CHECK(s.in_recovery);
  CHECK_FALSE(s.receive_lsn.has_value());
  CHECK_FALSE(s.replay_lsn.has_value());
  CHECK_FALSE(s.last_xact_replay_timestamp.has_value());
}

TEST_CASE("server collector: LSN in text form is accepted", "[server]") {
  Row row = kPrimary;
  row[1] = "16/B374D848";
  ServerSample s;
  REQUIRE(NewServerCollector()->Parse(Result(row), &s).ok());
  CHECK(s.current_lsn == 0x16B374D848ULL);
}

TEST_CASE("server collector: garbage values are errors", "[server]") {
  struct Case {
    size_t col;
    std::optional<std::string> value;
    const char* message_part;
  };
  const Case cases[] = {
      {0, std::nullopt, "in_recovery\": unexpected NULL"},
      {0, "maybe", "in_recovery\": not a boolean"},
      {1, "-1", "current_lsn\": not an LSN"},
      {1, std::nullopt, "current_lsn is NULL"},
      {2, "G/0", "receive_lsn\": not an LSN"},
      {3, "", "replay_lsn\": not an LSN"},
      {4, "yesterday", "last_xact_replay_timestamp\": not a finite number"},
      {4, "Infinity", "last_xact_replay_timestamp\": not a finite number"},
      {5, "1", "replay_paused\": not a boolean"},
      {6, "one", "timeline\": not a 64-bit integer"},
      {7, "-5", "system_identifier\": not an unsigned 64-bit integer"},
      {8, "lots", "max_connections\": not a 32-bit integer"},
      {8, "99999999999", "max_connections\": not a 32-bit integer"},
      {9, "3.0", "superuser_reserved_connections\": not a 32-bit integer"},
  };
  for (const Case& c : cases) {
    Row row = kPrimary;
    row[c.col] = c.value;
    INFO(c.message_part);
    ServerSample s;
    Status st = NewServerCollector()->Parse(Result(row), &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(c.message_part));
  }
}

TEST_CASE("server collector: wrong shape is an error", "[server]") {
  auto c = NewServerCollector();
  ServerSample s;
  QueryResult no_rows = OkResult(kColumns);
  CHECK_THAT(c->Parse(no_rows, &s).message(),
             Catch::Contains("want 1 row, got 0"));
  QueryResult two_rows = Result(kPrimary);
  two_rows.rows.push_back(kPrimary);
  CHECK_THAT(c->Parse(two_rows, &s).message(),
             Catch::Contains("want 1 row, got 2"));
  QueryResult missing_column = Result(kPrimary);
  missing_column.columns.pop_back();
  for (auto& r : missing_column.rows) r.pop_back();
  CHECK_THAT(c->Parse(missing_column, &s).message(),
             Catch::Contains("unexpected columns"));
  QueryResult short_row = Result(kPrimary);
  short_row.rows[0].pop_back();
  CHECK_THAT(c->Parse(short_row, &s).message(),
             Catch::Contains("row 0 has 9 values for 10 columns"));
  QueryResult failed = ErrorResult("permission denied");
  CHECK(c->Parse(failed, &s).message() == "permission denied");
  // Nothing was set by the failed parses.
  CHECK_FALSE(s.current_lsn.has_value());
  CHECK_FALSE(s.max_connections.has_value());
}

}  // namespace
}  // namespace pgre
