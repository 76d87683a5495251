// The heartbeat end to end: the real agent writes its clock into the table
// on a real primary and reads it back on streaming replicas. Lag under a
// paused replica grows with the wall time, returns under 1 s after resume,
// stays right across an agent restart and with two agents writing it; a
// role that may not create or write the table gets one clear error while
// the WAL-position lag keeps working.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "common/clock.h"
#include "support/agent.h"
#include "support/cluster.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kStatusPath = "/v1/system/database/replicas/status";
constexpr const char* kLagPath = "/v1/system/database/replicas/lag";
constexpr seconds kTimeout(45);

double Value(const std::vector<MetricSample>& s, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  return Find(s, name, labels).value_or(std::nan(""));
}
double HeartbeatLag(const std::vector<MetricSample>& s,
                    const std::string& server) {
  return Value(s, "pg_replica_heartbeat_lag_seconds", {{"server", server}});
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

double WallSeconds() { return ToUnixSeconds(Clock::Real()->WallNow()); }

// replica1's heartbeat lag in `s` (replay paused at `paused_at`) is the
// wall time since the pause.
void CheckSincePause(const std::vector<MetricSample>& s, double paused_at) {
  const double since_pause = WallSeconds() - paused_at;
  CHECK(HeartbeatLag(s, "replica1") >= since_pause - 1.5);
  CHECK(HeartbeatLag(s, "replica1") <= since_pause + 1.0);
}

// Waits until replica1's heartbeat lag passes 4 s, then checks it against
// the wall time since the pause, and replica2 (not paused) caught up.
void CheckPausedLag(const AgentProcess& agent, double paused_at) {
  const auto grown = agent.ScrapeUntil(
      [](const auto& s) { return HeartbeatLag(s, "replica1") >= 4.0; },
      kTimeout);
  REQUIRE(grown);
  CheckSincePause(*grown, paused_at);
  CHECK(HeartbeatLag(*grown, "replica2") < 1.0);
}

AgentOptions HeartbeatOptions() {
  AgentOptions options;
  options.extra_yaml = "heartbeat:\n  enabled: true\n  interval: 250ms\n";
  return options;
}

TEST_CASE("heartbeat lag follows the wall time through a pause and a restart",
          "[heartbeat]") {
  TestCluster cluster(ClusterOptions{.replicas = 2});
  AgentProcess agent(cluster, HeartbeatOptions());
  INFO(agent.Log());
  REQUIRE(agent.ScrapeUntil(
      [](const auto& s) {
        return HeartbeatLag(s, "replica1") < 1.0 &&
               HeartbeatLag(s, "replica2") < 1.0;
      },
      kTimeout));
  // The primary has none; both lags side by side in the JSON.
  CHECK_FALSE(agent.Metric("pg_replica_heartbeat_lag_seconds",
                           {{"server", "primary"}}));
  const JsonAnswer lag = agent.GetJson(kLagPath);
  CHECK(lag.body["heartbeatEnabled"] == true);
  CHECK(lag.body["replicas"][0]["heartbeatLagSeconds"].is_number());
  CHECK(lag.body["replicas"][0]["lagSeconds"].is_number());

  // Replay paused: no WAL is replayed, so no newer heartbeat is visible;
  // the lag grows with the wall time since the pause.
  cluster.PauseReplay(0);
  const double paused_at = WallSeconds();
  CheckPausedLag(agent, paused_at);

  // Restarted meanwhile: the heartbeat carries the agent's wall clock, so
  // the first figure after the restart is as right as before it.
  CHECK(agent.Restart() == 0);
  const auto after = agent.ScrapeUntil(
      [](const auto& s) { return !std::isnan(HeartbeatLag(s, "replica1")); },
      kTimeout);
  REQUIRE(after);
  CheckSincePause(*after, paused_at);

  cluster.ResumeReplay(0);
  CHECK(agent.ScrapeUntil(
      [](const auto& s) { return HeartbeatLag(s, "replica1") < 1.0; },
      kTimeout));
  const auto writes = agent.Metric("pg_replica_heartbeat_writes_total");
  REQUIRE(writes);
  CHECK(*writes > 0);
  CHECK(agent.Metric("pg_replica_heartbeat_write_errors_total") == 0.0);
}

TEST_CASE(
    "two agents (an HA pair) write one heartbeat row: each reads the right "
    "lag, and the survivor goes on alone",
    "[heartbeat][ha]") {
  TestCluster cluster(ClusterOptions{.replicas = 2});
  AgentProcess a(cluster, HeartbeatOptions());
  AgentProcess b(cluster, HeartbeatOptions());
  INFO(a.Log() << b.Log());
  const auto caught_up = [](const auto& s) {
    return HeartbeatLag(s, "replica1") < 1.0 &&
           HeartbeatLag(s, "replica2") < 1.0;
  };
  REQUIRE(a.ScrapeUntil(caught_up, kTimeout));
  REQUIRE(b.ScrapeUntil(caught_up, kTimeout));
  // One row, written by both: its seq counts the writes of the two.
  const double writes = a.Metric("pg_replica_heartbeat_writes_total").value() +
                        b.Metric("pg_replica_heartbeat_writes_total").value();
  const std::string seq = cluster.Psql(
      TestCluster::kPrimary,
      "SELECT count(*) || ' ' || max(seq) FROM pg_replica_exporter_heartbeat");
  INFO("rows and seq: " << seq);
  CHECK(seq.rfind("1 ", 0) == 0);
  CHECK(std::stod(seq.substr(2)) >= writes);

  // Paused: each agent's heartbeat lag follows the wall time since the
  // pause, although the newest heartbeat is now one agent's, now the
  // other's.
  cluster.PauseReplay(0);
  const double paused_at = WallSeconds();
  CheckPausedLag(a, paused_at);
  CheckPausedLag(b, paused_at);

  // Agent a dies: b writes alone, the lags stay right.
  a.process().Signal(SIGKILL);
  const double b_writes = b.Metric("pg_replica_heartbeat_writes_total").value();
  const auto alone = b.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_heartbeat_writes_total") >= b_writes + 8 &&
               HeartbeatLag(s, "replica2") < 1.0;
      },
      kTimeout);
  REQUIRE(alone);
  CheckSincePause(*alone, paused_at);
  cluster.ResumeReplay(0);
  CHECK(b.ScrapeUntil(caught_up, kTimeout));
  CHECK(b.Metric("pg_replica_heartbeat_write_errors_total") == 0.0);
}

TEST_CASE(
    "heartbeat without the right to create or write the table: one "
    "clear error, the WAL-position lag keeps working",
    "[heartbeat]") {
  // The DSNs use `monitor` (pg_monitor, no CREATE on schema public).
  TestCluster cluster(ClusterOptions{.replicas = 1, .password = "s3cret-Hb"});
  AgentOptions options = HeartbeatOptions();
  AgentProcess agent(cluster, options);
  INFO(agent.Log());
  const std::string cannot_create =
      "the table pg_replica_exporter_heartbeat is missing and cannot be "
      "created: permission denied for schema public (SQLSTATE 42501)";
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_heartbeat_write_errors_total")
                   .value_or(0) >= 4;
      },
      kTimeout));
  CHECK(Count(agent.Log(), cannot_create) == 1);
  const JsonAnswer status = agent.GetJson(kStatusPath);
  CHECK(status.body["heartbeat"]["lastError"] == cannot_create);
  CHECK(status.body["heartbeat"]["lastWriteOk"] == false);
  CHECK(status.body["replicas"][0]["heartbeatUnknownReason"] ==
        "the heartbeat table cannot be read");
  auto s = agent.Scrape();
  CHECK(Value(s, "pg_replica_heartbeat_write_success") == 0.0);
  CHECK(Value(s, "pg_replica_collector_success",
              {{"server", "replica1"}, {"collector", "heartbeat"}}) == 0.0);
  CHECK(std::isnan(HeartbeatLag(s, "replica1")));
  // The rest works: WAL-position lag, the other collectors.
  CHECK(Value(s, "pg_replica_lag_seconds", {{"server", "replica1"}}) < 1.0);
  CHECK(Value(s, "pg_replica_collector_success",
              {{"server", "replica1"}, {"collector", "server"}}) == 1.0);

  // The table made by hand, read-only for the agent: a write error of its
  // own, logged once; the replicas read the (empty) table.
  cluster.Psql(TestCluster::kPrimary,
               "CREATE TABLE pg_replica_exporter_heartbeat (id integer "
               "PRIMARY KEY CHECK (id = 1), written_at timestamptz NOT NULL, "
               "seq bigint NOT NULL); GRANT SELECT ON "
               "pg_replica_exporter_heartbeat TO monitor");
  const std::string read_only =
      "permission denied for table pg_replica_exporter_heartbeat (SQLSTATE "
      "42501)";
  REQUIRE(WaitUntil(
      [&] {
        return agent.GetJson(kStatusPath).body["heartbeat"]["lastError"] ==
               read_only;
      },
      kTimeout));
  const double errors =
      agent.Metric("pg_replica_heartbeat_write_errors_total").value_or(0);
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_heartbeat_write_errors_total")
                   .value_or(0) >= errors + 4;
      },
      kTimeout));
  CHECK(Count(agent.Log(), read_only) == 1);
  REQUIRE(WaitUntil(
      [&] {
        return agent.GetJson(kStatusPath)
                   .body["replicas"][0]["heartbeatUnknownReason"] ==
               "no heartbeat visible yet";
      },
      kTimeout));

  // Granted: written again, the heartbeat lag appears.
  cluster.Psql(TestCluster::kPrimary,
               "GRANT INSERT, UPDATE ON pg_replica_exporter_heartbeat TO "
               "monitor");
  CHECK(agent.ScrapeUntil(
      [](const auto& s) {
        return HeartbeatLag(s, "replica1") < 1.0 &&
               Value(s, "pg_replica_heartbeat_write_success") == 1.0;
      },
      kTimeout));
  CHECK(agent.Log().find("heartbeat written again on primary") !=
        std::string::npos);
  // The password is nowhere in what the agent said.
  CHECK(agent.Log().find("s3cret-Hb") == std::string::npos);
}

}  // namespace
}  // namespace pgre::testing
