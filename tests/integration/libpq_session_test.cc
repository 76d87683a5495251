// LibpqAsyncSession (driven step by step through SyncSession) and the
// collectors against a real PostgreSQL cluster: a primary and one streaming
// replica, reached as the non-superuser `monitor` (pg_monitor) with a
// password.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "config/config.h"
#include "engine/libpq_async_session.h"
#include "support/cluster.h"
#include "support/ports.h"
#include "support/sync_session.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPassword[] = "pw-9f2c 'quoted'";
constexpr int kPrimary = TestCluster::kPrimary;

// One cluster per process (ctest runs each test case in its own process).
TestCluster& Cluster() {
  static TestCluster cluster({.replicas = 1, .password = kPassword});
  return cluster;
}

ServerConfig Server(const std::string& dsn) {
  ServerConfig s;
  s.name = "it";
  s.dsn = dsn;
  return s;
}

MonoTime In(milliseconds d) { return Clock::Real()->Now() + d; }

void RequireNoPassword(const std::string& text) {
  INFO(text);
  CHECK(text.find("pw-9f2c") == std::string::npos);
  CHECK(text.find("quoted") == std::string::npos);
}

TEST_CASE(
    "LibpqAsyncSession: one failing statement does not affect the others") {
  TestCluster& c = Cluster();
  for (int server : {kPrimary, 0}) {
    INFO("server " << server);
    SyncSession session(Server(c.Dsn(server)), seconds(10));
    REQUIRE(session.Connect(In(seconds(30))).ok());
    REQUIRE(session.IsConnected());
    std::vector<QueryResult> results;
    const Status s = session.RunBatch(
        {"SELECT 1 AS one, NULL::text AS nothing",
         "SELECT * FROM no_such_table", "SELECT pg_is_in_recovery() AS r"},
        In(seconds(30)), &results);
    REQUIRE(s.ok());
    REQUIRE(results.size() == 3);

    CHECK(results[0].ok);
    CHECK(results[0].columns == std::vector<std::string>{"one", "nothing"});
    REQUIRE(results[0].rows.size() == 1);
    CHECK(results[0].rows[0][0] == "1");
    CHECK_FALSE(results[0].rows[0][1].has_value());

    CHECK_FALSE(results[1].ok);
    CHECK(results[1].error ==
          "relation \"no_such_table\" does not exist (SQLSTATE 42P01)");

    CHECK(results[2].ok);
    REQUIRE(results[2].rows.size() == 1);
    CHECK(results[2].rows[0][0] == (server == kPrimary ? "f" : "t"));

    // A failure at run time (not at preparation) first: every query after
    // it still gets its own answer.
    REQUIRE(session
                .RunBatch({"SELECT 1/0 AS x", "SELECT 3 AS three",
                           "SELECT * FROM no_such_table", "SELECT 4 AS four"},
                          In(seconds(30)), &results)
                .ok());
    REQUIRE(results.size() == 4);
    CHECK(results[0].error == "division by zero (SQLSTATE 22012)");
    CHECK(results[1].rows.at(0).at(0) == "3");
    CHECK_THAT(results[2].error, Catch::Contains("SQLSTATE 42P01"));
    CHECK(results[3].rows.at(0).at(0) == "4");

    // A batch is one transaction (one sync, one send): now() is its start.
    REQUIRE(session
                .RunBatch({"SELECT now()::text AS t", "SELECT pg_sleep(0.01)",
                           "SELECT now()::text AS t"},
                          In(seconds(30)), &results)
                .ok());
    REQUIRE(results.size() == 3);
    REQUIRE(results[2].ok);
    CHECK(results[0].rows.at(0).at(0) == results[2].rows.at(0).at(0));

    // The session stays usable, in and out of pipeline mode.
    REQUIRE(session.RunBatch({"SELECT 2"}, In(seconds(30)), &results).ok());
    REQUIRE(results.size() == 1);
    CHECK(results[0].rows.at(0).at(0) == "2");
    REQUIRE(session.RunBatch({}, In(seconds(30)), &results).ok());
    CHECK(results.empty());
    CHECK(session.IsConnected());
  }
}

TEST_CASE(
    "LibpqAsyncSession: each query is prepared once per connection, a failed "
    "preparation is the query's error and is retried") {
  TestCluster& c = Cluster();
  SyncSession session(Server(c.PrimaryDsn()), seconds(10));
  REQUIRE(session.Connect(In(seconds(30))).ok());
  const std::string count =
      "SELECT count(*) AS n FROM pg_prepared_statements "
      "WHERE name LIKE 'pgre\\_%'";
  const std::vector<std::string> batch = {"SELECT 1 AS one",
                                          "SELECT * FROM no_such_table", count};
  std::vector<QueryResult> results;
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    REQUIRE(session.RunBatch(batch, In(seconds(30)), &results).ok());
    REQUIRE(results.size() == 3);
    CHECK(results[0].rows.at(0).at(0) == "1");
    // Its own parse error, every time, not "not run".
    CHECK(results[1].error ==
          "relation \"no_such_table\" does not exist (SQLSTATE 42P01)");
    // The good two are prepared on the server, once: the failing one never.
    CHECK(results[2].rows.at(0).at(0) == "2");
  }
  // The table appears (a temporary one: this session's own): the failed
  // statement is prepared at its next run.
  REQUIRE(session
              .RunBatch({"CREATE TEMP TABLE no_such_table (x int)"},
                        In(seconds(30)), &results)
              .ok());
  REQUIRE(results.at(0).ok);
  REQUIRE(session.RunBatch(batch, In(seconds(30)), &results).ok());
  CHECK(results[1].ok);
  CHECK(results[2].rows.at(0).at(0) == "4");  // with the CREATE's
  // A new connection (without the table) prepares them again: its own
  // error again, not "prepared statement does not exist" (SQLSTATE 26000).
  session.Close();
  REQUIRE(session.Connect(In(seconds(30))).ok());
  REQUIRE(session.RunBatch(batch, In(seconds(30)), &results).ok());
  CHECK(results[0].ok);
  CHECK_THAT(results[1].error, Catch::Contains("SQLSTATE 42P01"));
  CHECK(results[2].rows.at(0).at(0) == "2");
  // A statement deallocated behind the session's back (as a pooler between
  // the agent and the server would) costs one failed run, then is prepared
  // again.
  REQUIRE(session.RunBatch({"DEALLOCATE ALL"}, In(seconds(30)), &results).ok());
  REQUIRE(session.RunBatch(batch, In(seconds(30)), &results).ok());
  CHECK_THAT(results[0].error, Catch::Contains("SQLSTATE 26000"));
  REQUIRE(session.RunBatch(batch, In(seconds(30)), &results).ok());
  CHECK(results[0].ok);
  CHECK(results[0].rows.at(0).at(0) == "1");
}

TEST_CASE("LibpqAsyncSession: statement timeout and application name") {
  TestCluster& c = Cluster();
  SyncSession session(Server(c.PrimaryDsn()), milliseconds(200));
  REQUIRE(session.Connect(In(seconds(30))).ok());
  std::vector<QueryResult> results;
  REQUIRE(session
              .RunBatch({"SHOW statement_timeout", "SELECT pg_sleep(30)",
                         "SELECT current_setting('application_name')"},
                        In(seconds(60)), &results)
              .ok());
  REQUIRE(results.size() == 3);
  CHECK(results[0].rows.at(0).at(0) == "200ms");
  CHECK_FALSE(results[1].ok);
  CHECK_THAT(results[1].error, Catch::Contains("SQLSTATE 57014"));
  CHECK(results[2].rows.at(0).at(0) == "pg_replica_exporter");
  CHECK(session.IsConnected());
}

TEST_CASE(
    "LibpqAsyncSession: a hung server makes calls return at the deadline") {
  TestCluster& c = Cluster();
  SyncSession connected(Server(c.PrimaryDsn()), seconds(60));
  REQUIRE(connected.Connect(In(seconds(30))).ok());
  {
    StoppedServer stopped(c, kPrimary);

    std::vector<QueryResult> results;
    const Status batch =
        connected.RunBatch({"SELECT 1"}, In(milliseconds(1000)), &results);
    CHECK_FALSE(batch.ok());
    CHECK_THAT(batch.message(), Catch::StartsWith("timeout after"));
    CHECK_FALSE(connected.IsConnected());

    SyncSession fresh(Server(c.PrimaryDsn()), seconds(60));
    const Status connect = fresh.Connect(In(milliseconds(1000)));
    CHECK_FALSE(connect.ok());
    CHECK_THAT(connect.message(),
               Catch::StartsWith("connection timeout after"));
    CHECK_FALSE(fresh.IsConnected());
    fresh.Close();  // never blocks on the stopped server
  }
  // Once the server is back, the same session reconnects.
  REQUIRE(connected.Connect(In(seconds(30))).ok());
  std::vector<QueryResult> results;
  REQUIRE(connected.RunBatch({"SELECT 1"}, In(seconds(30)), &results).ok());
  CHECK(results.at(0).ok);
}

TEST_CASE("LibpqAsyncSession: a closed port fails fast, without the password") {
  const int port = FreePort();
  SyncSession session(
      Server("host=127.0.0.1 port=" + std::to_string(port) +
             " user=monitor password='pw-9f2c closed' connect_timeout=60"),
      seconds(5));
  const Status s = session.Connect(In(seconds(60)));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("Connection refused"));
  RequireNoPassword(s.message());
}

TEST_CASE("LibpqAsyncSession: authentication errors never show the password") {
  TestCluster& c = Cluster();
  {
    // The right password, a database that does not exist.
    SyncSession session(Server(c.PrimaryDsn() + " dbname=no_such_db"),
                        seconds(5));
    const Status s = session.Connect(In(seconds(30)));
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("no_such_db"));
    RequireNoPassword(s.message());
  }
  {
    // A wrong password (a variant of the real one).
    SyncSession session(Server(c.SuperuserDsn(kPrimary) +
                               " user=monitor password='pw-9f2c quoted wrong'"),
                        seconds(5));
    const Status s = session.Connect(In(seconds(30)));
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains("password authentication failed"));
    RequireNoPassword(s.message());
  }
}

// Runs every default collector on `server` as `monitor`; REQUIREs that each
// query succeeds and parses.
ServerSample Collect(TestCluster& c, int server) {
  SyncSession session(Server(c.Dsn(server)), seconds(10));
  REQUIRE(session.Connect(In(seconds(30))).ok());
  const auto collectors = DefaultCollectors();
  std::vector<std::string> queries;
  for (const auto& col : collectors) queries.emplace_back(col->Query());
  std::vector<QueryResult> results;
  REQUIRE(session.RunBatch(queries, In(seconds(30)), &results).ok());
  REQUIRE(results.size() == collectors.size());
  ServerSample sample;
  for (size_t i = 0; i < collectors.size(); ++i) {
    INFO("collector " << collectors[i]->Name() << ": " << results[i].error);
    REQUIRE(results[i].ok);
    const Status s = collectors[i]->Parse(results[i], &sample);
    INFO(s.message());
    REQUIRE(s.ok());
  }
  return sample;
}

TEST_CASE("Collectors run on a primary as pg_monitor", "[versions]") {
  TestCluster& c = Cluster();
  REQUIRE(c.WaitStreaming(seconds(30)));
  // An idle client of another role, for the activity collector (with an
  // application_name of its own: the agent's connections are not counted).
  SyncSession idle(
      Server(c.SuperuserDsn(kPrimary) + " application_name=some_app"),
      seconds(10));
  REQUIRE(idle.Connect(In(seconds(30))).ok());

  const ServerSample s = Collect(c, kPrimary);
  CHECK_FALSE(s.in_recovery);
  CHECK(s.current_lsn.has_value());
  CHECK_FALSE(s.receive_lsn.has_value());
  CHECK_FALSE(s.replay_lsn.has_value());
  CHECK_FALSE(s.replay_paused.has_value());
  CHECK(s.timeline == 1);
  CHECK(s.max_connections > 0);
  CHECK(s.superuser_reserved_connections.has_value());

  REQUIRE(s.standbys.size() == 1);
  CHECK(s.standbys[0].application_name == c.ReplicaName(0));
  CHECK(s.standbys[0].client_addr == "127.0.0.1");
  CHECK(s.standbys[0].state == "streaming");
  CHECK(s.standbys[0].sent_lsn.has_value());
  CHECK(s.standbys[0].replay_lsn.has_value());

  REQUIRE(s.slots.size() == 1);
  CHECK(s.slots[0].slot_type == "physical");
  CHECK(s.slots[0].active);
  CHECK(s.slots[0].retained_bytes.has_value());
  CHECK(s.slots[0].wal_status == "reserved");

  CHECK_FALSE(s.wal_receiver.has_value());
  CHECK(s.connections_by_state.count("idle") == 1);
}

TEST_CASE("Collectors run on a replica as pg_monitor", "[versions]") {
  TestCluster& c = Cluster();
  REQUIRE(c.WaitStreaming(seconds(30)));
  c.Psql(0, "SELECT pg_create_physical_replication_slot('standby_slot')");
  c.Psql(0,
         "SELECT pg_create_physical_replication_slot('reserved_slot', true)");
  c.Write(10);

  const ServerSample s = Collect(c, 0);
  CHECK(s.in_recovery);
  CHECK_FALSE(s.current_lsn.has_value());
  CHECK(s.receive_lsn.has_value());
  CHECK(s.replay_lsn.has_value());
  CHECK(s.replay_paused == false);
  CHECK(s.timeline == 1);
  CHECK(s.standbys.empty());

  // A slot on a standby: retained bytes measured against the received WAL.
  REQUIRE(s.slots.size() == 2);
  CHECK(s.slots[0].slot_name == "reserved_slot");
  CHECK(s.slots[0].retained_bytes.has_value());
  CHECK(s.slots[0].wal_status == "reserved");
  CHECK(s.slots[1].slot_name == "standby_slot");
  CHECK_FALSE(s.slots[1].active);
  CHECK_FALSE(s.slots[1].retained_bytes.has_value());  // never reserved WAL
  CHECK(s.slots[1].wal_status.empty());

  REQUIRE(s.wal_receiver.has_value());
  CHECK(s.wal_receiver->status == "streaming");
  CHECK(s.wal_receiver->sender_port == c.Port(kPrimary));
  CHECK(s.wal_receiver->received_tli == 1);
  CHECK(s.wal_receiver->slot_name == "slot1");
  c.Psql(0, "SELECT pg_drop_replication_slot('standby_slot')");
  c.Psql(0, "SELECT pg_drop_replication_slot('reserved_slot')");
}

}  // namespace
}  // namespace pgre::testing
