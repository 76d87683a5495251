#include <catch2/catch.hpp>

#include "collectors/builtin.h"
#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;

const std::vector<std::string> kColumns = {
    "application_name", "client_addr", "state",     "sync_state",
    "sent_lsn",         "write_lsn",   "flush_lsn", "replay_lsn",
    "write_lag",        "flush_lag",   "replay_lag"};

const Row kStreaming = {"replica1", "10.0.0.7", "streaming", "async",
                        "50595328", "50595300", "50595200",  "50595100",
                        "0.001234", "0.002",    "0.5"};

TEST_CASE("stat_replication collector: name and query", "[stat_replication]") {
  auto c = NewStatReplicationCollector();
  CHECK(c->Name() == "stat_replication");
  // The functions behind pg_stat_replication, joined per WAL sender rather
  // than over every backend (the view scans all of pg_stat_activity).
  CHECK_THAT(std::string(c->Query()),
             Catch::Contains("pg_stat_get_wal_senders()"));
  CHECK_THAT(std::string(c->Query()),
             Catch::Contains("pg_stat_get_activity(w.pid)"));
  CHECK_THAT(std::string(c->Query()), Catch::Contains("host(a.client_addr)"));
}

TEST_CASE("stat_replication collector: rows", "[stat_replication]") {
  Row idle_socket = {"replica2",    std::nullopt, "catchup",    "sync",
                     "16/B374D848", std::nullopt, std::nullopt, std::nullopt,
                     std::nullopt,  std::nullopt, std::nullopt};
  QueryResult r = OkResult(kColumns, {kStreaming, idle_socket});
  ServerSample s;
  REQUIRE(NewStatReplicationCollector()->Parse(r, &s).ok());
  REQUIRE(s.standbys.size() == 2);
  const StandbyRow& a = s.standbys[0];
  CHECK(a.application_name == "replica1");
  CHECK(a.client_addr == "10.0.0.7");
  CHECK(a.state == "streaming");
  CHECK(a.sync_state == "async");
  CHECK(a.sent_lsn == 50595328u);
  CHECK(a.write_lsn == 50595300u);
  CHECK(a.flush_lsn == 50595200u);
  CHECK(a.replay_lsn == 50595100u);
  CHECK(a.write_lag == Approx(0.001234));
  CHECK(a.flush_lag == Approx(0.002));
  CHECK(a.replay_lag == Approx(0.5));
  const StandbyRow& b = s.standbys[1];
  CHECK(b.client_addr.empty());  // unix socket
  CHECK(b.sync_state == "sync");
  CHECK(b.sent_lsn == 0x16B374D848ULL);
  CHECK_FALSE(b.write_lsn.has_value());
  CHECK_FALSE(b.flush_lsn.has_value());
  CHECK_FALSE(b.replay_lsn.has_value());
  CHECK_FALSE(b.write_lag.has_value());
  CHECK_FALSE(b.flush_lag.has_value());
  CHECK_FALSE(b.replay_lag.has_value());
}

TEST_CASE("stat_replication collector: no standbys", "[stat_replication]") {
  ServerSample s;
  s.standbys.resize(3);  // from an earlier poll
  QueryResult r = OkResult(kColumns);
  REQUIRE(NewStatReplicationCollector()->Parse(r, &s).ok());
  CHECK(s.standbys.empty());
}

TEST_CASE("stat_replication collector: garbage values are errors",
          "[stat_replication]") {
  struct Case {
    size_t col;
    const char* value;
    const char* message_part;
  };
  const Case cases[] = {
      {4, "lots", "sent_lsn\": not an LSN"},
      {5, "1.5", "write_lsn\": not an LSN"},
      {6, "-3", "flush_lsn\": not an LSN"},
      {7, "0/XYZ", "replay_lsn\": not an LSN"},
      {8, "00:00:01", "write_lag\": not a finite number"},
      {9, "NaN", "flush_lag\": not a finite number"},
      {10, "", "replay_lag\": not a finite number"},
  };
  for (const Case& c : cases) {
    Row bad = kStreaming;
    bad[c.col] = c.value;
    QueryResult r = OkResult(kColumns, {kStreaming, bad});
    INFO(c.message_part);
    ServerSample s;
    Status st = NewStatReplicationCollector()->Parse(r, &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(c.message_part));
    CHECK_THAT(st.message(), Catch::StartsWith("row 1"));
    CHECK(s.standbys.empty());  // nothing half-filled
  }
}

TEST_CASE("stat_replication collector: wrong shape is an error",
          "[stat_replication]") {
  auto c = NewStatReplicationCollector();
  ServerSample s;
  std::vector<std::string> renamed = kColumns;
  renamed[1] = "client_hostname";
  QueryResult r = OkResult(renamed, {kStreaming});
  CHECK_THAT(c->Parse(r, &s).message(), Catch::Contains("unexpected columns"));
  Row short_row = kStreaming;
  short_row.resize(4);
  r = OkResult(kColumns, {short_row});
  CHECK_FALSE(c->Parse(r, &s).ok());
  CHECK_FALSE(c->Parse(ErrorResult("x"), &s).ok());
  CHECK(s.standbys.empty());
}

}  // namespace
}  // namespace pgre
