// The agent against a real PgBouncer (Debian's pgbouncer, tests/support/
// pgbouncer.h) in front of the primary and a replica of a real cluster:
// pools fill as clients hold transactions, clients wait once the pool is
// exhausted, and a stopped pgbouncer is down without touching any server's
// series. Every wait is bounded.
#include "support/pgbouncer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kSecret[] = "bouncer-dsn-SECRET-77";

std::string PgBouncersYaml(const TestPgBouncer& b) {
  // A password in the DSN (trust ignores it): it must never show.
  return "pgbouncers:\n"
         "  - name: bouncer1\n"
         "    dsn: \"" +
         b.AdminDsn() + " password=" + kSecret +
         "\"\n"
         "    server: primary\n"
         "  - name: bouncer2\n"
         "    dsn: \"" +
         b.AdminDsn() + "\"\n";
}

std::optional<double> Value(const std::vector<MetricSample>& m,
                            const std::string& name,
                            const std::map<std::string, std::string>& l) {
  return Find(m, name, l);
}

TEST_CASE("pgbouncer: pools, utilization, waiting clients, down",
          "[pgbouncer]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  TestPgBouncer bouncer(cluster, {.servers = {TestCluster::kPrimary, 0},
                                  .pool_size = 2,
                                  .max_client_conn = 50});
  AgentOptions options;
  options.extra_yaml = PgBouncersYaml(bouncer);
  AgentProcess agent(cluster, options);

  const std::map<std::string, std::string> b1 = {{"pgbouncer", "bouncer1"},
                                                 {"server", "primary"}};
  auto m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_up", b1) == 1.0 &&
               Value(s, "pg_replica_pgbouncer_up",
                     {{"pgbouncer", "bouncer2"}, {"server", ""}}) == 1.0;
      },
      seconds(20));
  INFO(agent.Log());
  REQUIRE(m.has_value());
  for (const char* c : {"pools", "stats", "databases", "config", "version"}) {
    CHECK(Value(*m, "pg_replica_pgbouncer_collector_success",
                {{"pgbouncer", "bouncer1"}, {"collector", c}}) == 1.0);
  }
  CHECK(Value(*m, "pg_replica_pgbouncer_version_info",
              {{"pgbouncer", "bouncer1"}, {"version", "PgBouncer 1.18.0"}}) ==
        1.0);
  CHECK(Value(*m, "pg_replica_pgbouncer_max_client_connections", b1) == 50.0);
  CHECK(Value(*m, "pg_replica_pgbouncer_database_pool_size",
              {{"pgbouncer", "bouncer1"}, {"database", "primary"}}) == 2.0);

  // Two clients hold a transaction each through the primary's pool: it is
  // full (sv_active 2 of pool_size 2); on the replica's, one of two.
  bouncer.Hold(TestCluster::kPrimary);
  bouncer.Hold(TestCluster::kPrimary);
  bouncer.Hold(0);
  const std::map<std::string, std::string> primary_pool = {
      {"pgbouncer", "bouncer1"}, {"database", "primary"}, {"user", "postgres"}};
  const std::map<std::string, std::string> replica_pool = {
      {"pgbouncer", "bouncer1"},
      {"database", "replica1"},
      {"user", "postgres"}};
  m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_pool_utilization_ratio",
                     primary_pool) == 1.0 &&
               Value(s, "pg_replica_pgbouncer_pool_utilization_ratio",
                     replica_pool) == 0.5;
      },
      seconds(20));
  REQUIRE(m.has_value());
  CHECK(Value(*m, "pg_replica_pgbouncer_pool_server_active_connections",
              primary_pool) == 2.0);
  CHECK(Value(*m, "pg_replica_pgbouncer_pool_client_waiting_connections",
              primary_pool) == 0.0);
  CHECK(Value(*m, "pg_replica_pgbouncer_pool_info",
              {{"pgbouncer", "bouncer1"},
               {"database", "primary"},
               {"pool_mode", "transaction"}}) == 1.0);
  // 3 clients + the agent's two console connections, over 50.
  const auto clients =
      Value(*m, "pg_replica_pgbouncer_client_utilization_ratio", b1);
  REQUIRE(clients.has_value());
  CHECK(*clients >= 3.0 / 50);

  // A third client of the primary waits; maxwait grows past a second.
  bouncer.Wait(TestCluster::kPrimary);
  m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_pool_client_waiting_connections",
                     primary_pool) == 1.0 &&
               Value(s, "pg_replica_pgbouncer_pool_maxwait_seconds",
                     primary_pool)
                       .value_or(0) > 1.0;
      },
      seconds(20));
  REQUIRE(m.has_value());
  bouncer.ReleaseClients();
  m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_pool_client_waiting_connections",
                     primary_pool) == 0.0 &&
               Value(s, "pg_replica_pgbouncer_transactions_total",
                     {{"pgbouncer", "bouncer1"}, {"database", "primary"}})
                       .value_or(0) >= 2;
      },
      seconds(30));
  REQUIRE(m.has_value());

  // pgbouncer stopped: both down; every server's series unchanged.
  auto servers = [](const std::vector<MetricSample>& s) {
    std::vector<std::string> out;
    for (const MetricSample& x : s) {
      if (x.name == "pg_replica_up" || x.name == "pg_replica_lag_seconds" ||
          x.name == "pg_replica_server_healthy") {
        std::string line = x.name;
        for (const auto& [k, v] : x.labels) line += "," + k + "=" + v;
        out.push_back(line + "=" +
                      (x.name == "pg_replica_lag_seconds"
                           ? std::string("*")
                           : std::to_string(x.value)));
      }
    }
    return out;
  };
  const auto before = servers(*m);
  bouncer.Stop();
  m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_up", b1) == 0.0 &&
               Value(s, "pg_replica_pgbouncer_up",
                     {{"pgbouncer", "bouncer2"}}) == 0.0;
      },
      seconds(20));
  REQUIRE(m.has_value());
  CHECK(servers(*m) == before);
  CHECK(Value(*m, "pg_replica_up", {{"server", "primary"}}) == 1.0);
  CHECK(Value(*m, "pg_replica_up", {{"server", "replica1"}}) == 1.0);
  CHECK_FALSE(
      Value(*m, "pg_replica_pgbouncer_pool_utilization_ratio", primary_pool)
          .has_value());

  // No secret anywhere the agent speaks.
  const auto metrics = agent.Get("/metrics");
  CHECK(metrics.body.find(kSecret) == std::string::npos);
  CHECK(agent.Log().find(kSecret) == std::string::npos);
  for (const char* path : {"/v1/system/database/connection-pool/stats",
                           "/v1/system/database/replicas/status"}) {
    CHECK(agent.Get(path).body.find(kSecret) == std::string::npos);
  }

  // And back.
  bouncer.Start();
  m = agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_pgbouncer_up", b1) == 1.0;
      },
      seconds(45));
  CHECK(m.has_value());
}

}  // namespace
}  // namespace pgre::testing
