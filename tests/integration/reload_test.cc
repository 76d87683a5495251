// Configuration reload on SIGHUP: a valid file replaces the running
// configuration; an invalid one is refused and the old one keeps running.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::seconds;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST_CASE("SIGHUP reloads a valid config and refuses an invalid one",
          "[reload][tsan]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  AgentOptions options;
  options.cluster_name = "before";
  AgentProcess agent(cluster, options);
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_up", {{"cluster", "before"},
                                              {"server", "replica1"}}) == 1.0;
      },
      seconds(20)));
  REQUIRE(agent.Metric("pg_replica_exporter_config_last_reload_successful") ==
          1.0);

  // A valid change takes effect.
  options.cluster_name = "after";
  WriteFile(agent.config_path(), AgentConfigYaml(cluster, options));
  REQUIRE(agent.process().Signal(SIGHUP));
  CHECK(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_up", {{"cluster", "after"},
                                              {"server", "replica1"}}) == 1.0;
      },
      seconds(20)));
  CHECK_FALSE(agent.Metric("pg_replica_up", {{"cluster", "before"}}));

  // An invalid file is refused: the running configuration stays, the error
  // names file, line and key, and the reload gauge drops to 0.
  WriteFile(agent.config_path(),
            AgentConfigYaml(cluster, options) + "no_such_key: 1\n");
  REQUIRE(agent.process().Signal(SIGHUP));
  CHECK(WaitUntil(
      [&] {
        return agent.Metric(
                   "pg_replica_exporter_config_last_reload_successful") == 0.0;
      },
      seconds(20)));
  CHECK(agent.Log().find(agent.config_path() + ":") != std::string::npos);
  CHECK(agent.Log().find("no_such_key: unknown key") != std::string::npos);
  CHECK(agent.process().Running());
  CHECK(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_up", {{"cluster", "after"},
                                              {"server", "primary"}}) == 1.0;
      },
      seconds(10)));
}

}  // namespace
}  // namespace pgre::testing
