// The topology follows the servers, and lag survives what happens to the
// agent: promotion with followers, split brain, a replica that comes back far
// behind, the primary down at start and during operation, agent restart and
// reload while a replica is paused, and state files that must not be
// trusted. Real primary and streaming replicas; the real agent binary with
// quick settings (polls, health and synthetic checks every 500 ms, fall 2,
// rise 2).
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/lag_state.h"
#include "common/clock.h"
#include "support/agent.h"
#include "support/cluster.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kStatusPath = "/v1/system/database/replicas/status";
constexpr const char* kHealthPath = "/v1/system/database/replicas/health";
constexpr const char* kLagPath = "/v1/system/database/replicas/lag";
// Bounds for waits; generous for a loaded 2-core machine.
constexpr seconds kTimeout(45);

double Value(const std::vector<MetricSample>& samples, const std::string& name,
             const std::string& server = "") {
  if (server.empty()) return Find(samples, name).value_or(std::nan(""));
  return Find(samples, name, {{"server", server}}).value_or(std::nan(""));
}

bool InRotation(const std::vector<MetricSample>& s, const std::string& server) {
  return Value(s, "pg_replica_healthy", server) == 1.0;
}

bool AllReplicasInRotation(const std::vector<MetricSample>& s) {
  for (const char* r : {"replica1", "replica2", "replica3"}) {
    if (!InRotation(s, r)) return false;
  }
  return true;
}

std::string Tail(const AgentProcess& agent) {
  const std::string log = agent.Log();
  return log.size() <= 6000 ? log : log.substr(log.size() - 6000);
}

TEST_CASE("promotion: lag, rotation and writes follow the new primary",
          "[topology][versions]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  REQUIRE(agent.ScrapeUntil(AllReplicasInRotation, kTimeout));
  BackgroundWriter writer(cluster);

  cluster.Stop(TestCluster::kPrimary);
  cluster.Promote(0);  // replica1
  const auto promoted = std::chrono::steady_clock::now();
  const auto adopted = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_is_primary", "replica1") == 1.0;
      },
      kTimeout);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - promoted)
          .count();
  INFO(Tail(agent));
  REQUIRE(adopted);
  // Two polls are 1 s; the rest is scheduling on a loaded machine.
  CHECK(took < 4.0);
  CHECK(Value(*adopted, "pg_replica_is_primary", "primary") == 0.0);
  CHECK_FALSE(InRotation(*adopted, "replica1"));
  CHECK(Value(*adopted, "pg_replica_primary_changes_total") == 1.0);
  CHECK(WaitUntil(
      [&] { return agent.Metric("pg_replica_timeline_changes_total") == 1.0; },
      kTimeout));

  // The followers are re-pointed at it (slots created there), and
  // replica2's replay is paused while the new primary takes writes.
  cluster.Follow(1, 0);
  cluster.Follow(2, 0);
  cluster.PauseReplay(1);
  const auto lagging = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_lag_seconds", "replica2") > 5.0 &&
               InRotation(s, "replica3") && !InRotation(s, "replica2");
      },
      kTimeout);
  INFO("writes " << writer.writes() << ", failures " << writer.failures());
  REQUIRE(lagging);
  CHECK(Value(*lagging, "pg_replica_lag_lower_bound", "replica2") == 0.0);
  CHECK(Value(*lagging, "pg_replica_lag_bytes", "replica2") > 0.0);
  CHECK(Value(*lagging, "pg_replica_lag_seconds", "replica3") < 1.0);
  CHECK(Value(*lagging, "pg_replica_primaries") == 1.0);
  CHECK(Value(*lagging, "pg_replica_primary_changes_total") == 1.0);
  const JsonAnswer status = agent.GetJson(kStatusPath);
  REQUIRE(status.status == 200);
  CHECK(status.body["topology"]["primary"] == "replica1");
  CHECK(status.body["topology"]["configuredPrimary"] == "primary");
  CHECK(status.body["primary"]["name"] == "replica1");
  CHECK(status.body["primary"]["isPrimary"] == true);
  cluster.ResumeReplay(1);

  // The old primary comes back, still out of recovery: reported as such,
  // never adopted again.
  cluster.Start(TestCluster::kPrimary);
  const auto split = agent.ScrapeUntil(
      [](const auto& s) { return Value(s, "pg_replica_primaries") == 2.0; },
      kTimeout);
  REQUIRE(split);
  CHECK(Value(*split, "pg_replica_is_primary", "replica1") == 1.0);
  CHECK(Value(*split, "pg_replica_is_primary", "primary") == 0.0);
  CHECK(Value(*split, "pg_replica_primary_changes_total") == 1.0);
  const JsonAnswer after = agent.GetJson(kStatusPath);
  CHECK(after.body["topology"]["state"] == "split_brain");
  CHECK(after.body["topology"]["claimPrimary"] ==
        json::array({"primary", "replica1"}));
  CHECK(after.body["topology"]["primary"] == "replica1");
  CHECK(agent.Log().find("the primary changed from primary to replica1") !=
        std::string::npos);
}

TEST_CASE("split brain: a replica promoted while the primary runs",
          "[topology]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  REQUIRE(agent.ScrapeUntil(AllReplicasInRotation, kTimeout));
  cluster.Promote(0);  // the primary keeps running
  const auto split = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_primaries") == 2.0 &&
               !InRotation(s, "replica1");
      },
      kTimeout);
  INFO(Tail(agent));
  REQUIRE(split);
  // The adopted primary stays; the others follow it verifiably, so their
  // lag is still measured.
  CHECK(Value(*split, "pg_replica_is_primary", "primary") == 1.0);
  CHECK(Value(*split, "pg_replica_is_primary", "replica1") == 0.0);
  CHECK(Value(*split, "pg_replica_lag_seconds", "replica2") < 1.0);
  CHECK(std::isnan(Value(*split, "pg_replica_lag_seconds", "replica1")));
  CHECK(Value(*split, "pg_replica_primary_changes_total") == 0.0);
  const JsonAnswer status = agent.GetJson(kStatusPath);
  CHECK(status.body["topology"]["state"] == "split_brain");
  CHECK(status.body["topology"]["claimPrimary"] ==
        json::array({"primary", "replica1"}));
  const json& r1 = status.body["replicas"][0];
  CHECK(r1["name"] == "replica1");
  CHECK(r1["observedRole"] == "primary");
  CHECK(r1["reason"] == "not in recovery");
  CHECK(agent.Log().find("split brain: primary, replica1") !=
        std::string::npos);
}

TEST_CASE("a replica down at start comes back far behind: lag at least that",
          "[topology][lag]") {
  TestCluster cluster;
  cluster.CutWalReceiver(2);  // replica3 will come back unable to stream
  cluster.Stop(2);
  // The primary moves on before the agent starts: replica3's position is
  // older than anything the agent will see, so its lag can only be bounded
  // from below.
  cluster.Write(1000);
  AgentProcess agent(cluster);
  REQUIRE(agent.ScrapeUntil(
      [](const auto& s) {
        return InRotation(s, "replica1") && InRotation(s, "replica2");
      },
      kTimeout));
  BackgroundWriter writer(cluster);
  // replica1 paused is the clock: the primary has written for as long as
  // its lag.
  cluster.PauseReplay(0);
  const auto written = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_lag_seconds", "replica1") >= 8.0;
      },
      kTimeout);
  REQUIRE(written);
  const double wrote_for =
      Value(*written, "pg_replica_lag_seconds", "replica1");

  cluster.Start(2);
  const auto back = agent.ScrapeUntil(
      [](const auto& s) {
        return !std::isnan(Value(s, "pg_replica_lag_seconds", "replica3"));
      },
      kTimeout);
  INFO(Tail(agent));
  REQUIRE(back);
  CHECK(Value(*back, "pg_replica_lag_seconds", "replica3") >= wrote_for);
  CHECK(Value(*back, "pg_replica_lag_lower_bound", "replica3") == 1.0);
  CHECK(Value(*back, "pg_replica_wal_receiver_streaming", "replica3") == 0.0);
  CHECK_FALSE(InRotation(*back, "replica3"));
  const JsonAnswer lag = agent.GetJson(kLagPath);
  for (const json& r : lag.body["replicas"]) {
    if (r["name"] != "replica3") continue;
    CHECK(r["lowerBound"] == true);
    CHECK(r["status"] == "critical");
  }
  cluster.ResumeReplay(0);
}

TEST_CASE("the primary down at start: caught-up replicas serve reads",
          "[topology][outage]") {
  TestCluster cluster;
  cluster.Stop(TestCluster::kPrimary);
  AgentProcess agent(cluster);
  const auto serving = agent.ScrapeUntil(
      [](const auto& s) {
        return AllReplicasInRotation(s) &&
               Value(s, "pg_replica_read_failover_active") == 0.0;
      },
      kTimeout);
  INFO(Tail(agent));
  REQUIRE(serving);
  CHECK(Value(*serving, "pg_replica_stale_reads_active") == 1.0);
  CHECK(Value(*serving, "pg_replica_primaries") == 0.0);
  CHECK(Value(*serving, "pg_replica_up", "primary") == 0.0);
  const JsonAnswer health = agent.GetJson(kHealthPath);
  CHECK(health.status == 200);
  CHECK(health.body["healthy"] == true);
  CHECK(health.body["primaryUp"] == false);
  CHECK(health.body["staleReads"] == true);
  const JsonAnswer status = agent.GetJson(kStatusPath);
  CHECK(status.body["topology"]["primaryDown"] == true);
  CHECK(status.body["topology"]["staleReads"] == true);

  cluster.Start(TestCluster::kPrimary);
  const auto normal = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_stale_reads_active") == 0.0 &&
               Value(s, "pg_replica_primaries") == 1.0 &&
               AllReplicasInRotation(s) &&
               Value(s, "pg_replica_lag_seconds", "replica1") < 1.0;
      },
      kTimeout);
  CHECK(normal);
}

TEST_CASE("the primary stops during operation: reads stay on the replicas",
          "[topology][outage][versions]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  REQUIRE(agent.ScrapeUntil(AllReplicasInRotation, kTimeout));
  cluster.Stop(TestCluster::kPrimary);
  // Four failed polls of the primary: more than fall (2) health checks ran
  // since it stopped.
  const auto outage = agent.ScrapeUntil(
      [](const auto& s) {
        return Value(s, "pg_replica_poll_errors_total", "primary") >= 4.0;
      },
      kTimeout);
  INFO(Tail(agent));
  REQUIRE(outage);
  CHECK(AllReplicasInRotation(*outage));
  CHECK(Value(*outage, "pg_replica_read_failover_active") == 0.0);
  CHECK(Value(*outage, "pg_replica_stale_reads_active") == 1.0);
  for (const char* r : {"replica1", "replica2", "replica3"}) {
    INFO(r);
    // Entered once at the start, never left.
    CHECK(Value(*outage, "pg_replica_rotation_changes_total", r) == 1.0);
    CHECK(Value(*outage, "pg_replica_lag_lower_bound", r) == 1.0);
  }
  CHECK(agent.GetJson(kHealthPath).status == 200);
}

// The lag of replica1, paused under writes, when it passes `at_least`.
double PausedLag(const AgentProcess& agent, double at_least) {
  const auto s = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_lag_seconds", "replica1") > at_least;
      },
      kTimeout);
  REQUIRE(s);
  return Value(*s, "pg_replica_lag_seconds", "replica1");
}

// The first lag figure of replica1 the agent publishes.
double FirstLag(const AgentProcess& agent) {
  const auto s = agent.ScrapeUntil(
      [](const auto& s) {
        return !std::isnan(Value(s, "pg_replica_lag_seconds", "replica1"));
      },
      kTimeout);
  REQUIRE(s);
  return Value(*s, "pg_replica_lag_seconds", "replica1");
}

TEST_CASE("restart and reload while a replica is paused: lag continues",
          "[topology][lag][state][tsan]") {
  TestCluster cluster;
  TempDir state;
  AgentOptions options;
  options.extra_args = {"--state.directory=" + state.path()};
  AgentProcess agent(cluster, options);
  REQUIRE(agent.ScrapeUntil(AllReplicasInRotation, kTimeout));
  BackgroundWriter writer(cluster);
  cluster.PauseReplay(0);
  const double before_restart = PausedLag(agent, 6.0);

  CHECK(agent.Restart() == 0);
  const double after_restart = FirstLag(agent);
  INFO(Tail(agent));
  CHECK(after_restart >= before_restart);
  CHECK_THAT(agent.GetJson(kStatusPath).body["lagHistory"].get<std::string>(),
             Catch::StartsWith("restored: "));

  // A reload (same file) hands the history over in memory.
  const double before_reload = PausedLag(agent, after_restart);
  REQUIRE(agent.process().Signal(SIGHUP));
  REQUIRE(WaitUntil(
      [&] {
        return agent.Log().find("reloading the configuration") !=
               std::string::npos;
      },
      kTimeout));
  const double after_reload = FirstLag(agent);
  CHECK(after_reload >= before_reload);
  cluster.ResumeReplay(0);
}

TEST_CASE("a missing, corrupt or foreign state file is reported and ignored",
          "[topology][state]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  TempDir state;
  const std::string file = state.path() + "/test.lag-state.json";
  AgentOptions options;
  options.extra_args = {"--state.directory=" + state.path()};
  AgentProcess agent(cluster, options);
  auto history = [&] {
    return agent.GetJson(kStatusPath).body["lagHistory"].get<std::string>();
  };
  CHECK(history() == "missing");
  CHECK(agent.Log().find("no saved lag history") != std::string::npos);
  // Lag is right whatever the file said.
  auto lag_ok = [&] {
    return agent.ScrapeUntil(
        [](const auto& s) {
          return Value(s, "pg_replica_lag_seconds", "replica1") < 1.0 &&
                 Value(s, "pg_replica_lag_lower_bound", "replica1") == 0.0;
        },
        kTimeout);
  };
  CHECK(lag_ok());

  agent.Restart([&] { std::ofstream(file) << "{\"format\": 1, \"clu"; });
  CHECK_THAT(history(), Catch::StartsWith("corrupt: " + file + ": not JSON"));
  CHECK(agent.Log().find("lag history not restored: corrupt") !=
        std::string::npos);
  CHECK(lag_ok());

  agent.Restart([&] {
    // What another cluster of the same name would have saved.
    LagState foreign;
    foreign.cluster = "test";
    foreign.system_identifier = 42;
    foreign.entries = {{Clock::Real()->Now(), 1}};
    foreign.saved_mono = Clock::Real()->Now();
    foreign.saved_wall = Clock::Real()->WallNow();
    std::ofstream(file) << EncodeLagState(foreign);
  });
  REQUIRE(WaitUntil(
      [&] {
        return history().rfind("ignored: saved for system identifier 42", 0) ==
               0;
      },
      kTimeout));
  CHECK(lag_ok());
  CHECK(agent.process().Running());
}

}  // namespace
}  // namespace pgre::testing
