// The agent's threads under load: the poll loops (polls, health checks,
// synthetic reads, background rendering of the metrics), the resolvers, the
// state keeper, the HTTP loop, and the signal thread reloading the whole
// pipeline, all at once. Built with ThreadSanitizer
// (CI's TSan lane runs the [tsan] cases against a TSan-built agent), a data
// race makes the agent report it and exit 66, and this test fails.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("start, poll, reload and stop under load", "[threads][tsan]") {
  TestCluster cluster(ClusterOptions{.replicas = 2});
  char templ[] = "/tmp/pgre-state-XXXXXX";
  REQUIRE(mkdtemp(templ) != nullptr);
  const std::string state = templ;
  AgentOptions options;
  options.poll_interval = "100ms";
  options.routing = {{"health_check_interval", "100ms"},
                     {"synthetic_check_interval", "100ms"},
                     {"fall", "1"},
                     {"rise", "1"}};
  options.extra_args = {"--state.directory=" + state};
  AgentProcess agent(cluster, options);
  BackgroundWriter writer(cluster);

  std::atomic<bool> stop{false};
  std::atomic<int> answers{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      const char* paths[] = {"/metrics", "/v1/system/database/replicas/status",
                             "/v1/system/database/replicas/health", "/-/ready"};
      while (!stop) {
        if (agent.Get(paths[i % 4], seconds(5)).status != 0) ++answers;
      }
    });
  }
  // Reloads, each replacing pollers, routing loop and cluster state while
  // the clients read and the servers are polled; a replica paused and
  // resumed in between moves routing state too.
  for (int round = 0; round < 6; ++round) {
    const int before = answers.load();
    REQUIRE(agent.process().Signal(SIGHUP));
    if (round == 2) cluster.PauseReplay(0);
    if (round == 4) cluster.ResumeReplay(0);
    REQUIRE(
        WaitUntil([&] { return answers.load() > before + 20; }, seconds(30)));
    REQUIRE(agent.process().Running());
  }
  stop = true;
  for (auto& t : clients) t.join();
  INFO(agent.Log());
  CHECK(agent.Log().find("ThreadSanitizer") == std::string::npos);
  CHECK(agent.process().Stop() == 0);  // a TSan report would make it 66
  std::error_code ec;
  std::filesystem::remove_all(state, ec);
}

}  // namespace
}  // namespace pgre::testing
