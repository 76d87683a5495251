// The agent against a real primary with three streaming replicas.
#include "support/agent.h"

#include <catch2/catch.hpp>

#include "support/cluster.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::seconds;

TEST_CASE("all four servers up, idle lag under 1 s", "[agent]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  const std::vector<std::string> servers = {"primary", "replica1", "replica2",
                                            "replica3"};
  REQUIRE(WaitUntil(
      [&] {
        auto samples = agent.Scrape();
        for (const auto& s : servers) {
          if (Find(samples, "pg_replica_up", {{"server", s}}) != 1.0) {
            return false;
          }
        }
        for (int i = 1; i <= 3; ++i) {
          if (!Find(samples, "pg_replica_lag_seconds",
                    {{"server", "replica" + std::to_string(i)}})) {
            return false;
          }
        }
        return true;
      },
      seconds(20)));
  const auto samples = agent.Scrape();
  CHECK(
      Find(samples, "pg_replica_up",
           {{"server", "primary"}, {"role", "primary"}, {"cluster", "test"}}) ==
      1.0);
  CHECK(Find(samples, "pg_replica_in_recovery", {{"server", "primary"}}) ==
        0.0);
  for (int i = 1; i <= 3; ++i) {
    const std::string name = "replica" + std::to_string(i);
    INFO(name);
    CHECK(Find(samples, "pg_replica_in_recovery", {{"server", name}}) == 1.0);
    CHECK(*Find(samples, "pg_replica_lag_seconds", {{"server", name}}) < 1.0);
    CHECK(Find(samples, "pg_replica_wal_receiver_streaming",
               {{"server", name}}) == 1.0);
    CHECK(Find(samples, "pg_replica_standby_connected", {{"server", name}}) ==
          1.0);
  }
}

}  // namespace
}  // namespace pgre::testing
