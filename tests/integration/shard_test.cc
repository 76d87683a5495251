// Shards with real agents (docs/scaling.md): --shard=K --total-shards=N
// agents over one config of 60 clusters cover every cluster exactly once,
// each publishing, listing and polling its own; going to N + 1 moves only
// the clusters the hash says, all onto the new shard; every shard refuses a
// bad config alike; a cluster that moves to another shard is picked up with
// its lag state (a shared state directory), its lagging replica never
// readmitted by a reset.
//
// The 60 clusters: 12 on a real primary and replica, 48 on closed loopback
// ports (pg_replica_up 0 is a series too), so that the three agents make 24
// connections in all and start in a second.
#include "shard/shard.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/ports.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::seconds;
using ServerKey = std::pair<std::string, std::string>;  // cluster, server

constexpr seconds kTimeout(45);
constexpr int kClusters = 60;
constexpr int kReal = 12;  // clusters on the real servers

std::string ClusterName(int i) { return "c" + std::to_string(i); }

// The 60-cluster config: primary and replica1 each, the first kReal on
// `cluster`'s primary and first replica (as a role of their own each: one
// connection twice is refused), the others on a closed port.
std::string SixtyClusters(TestCluster& cluster) {
  const int closed = FreePort();  // nobody listens there
  std::string y =
      "poll_interval: 500ms\nconnect_timeout: 1s\nquery_timeout: 2s\n"
      "routing:\n  health_check_interval: 500ms\n"
      "  synthetic_check_interval: 500ms\nclusters:\n";
  for (int i = 0; i < kClusters; ++i) {
    const std::string name = ClusterName(i);
    std::string primary, replica;
    if (i < kReal) {
      const std::string user = "shard_" + name;
      cluster.CreateRole(user, "pw-" + user);
      const std::string as = " user=" + user + " password=pw-" + user;
      primary = cluster.Dsn(TestCluster::kPrimary) + as;
      replica = cluster.Dsn(0) + as;
    } else {
      const std::string at =
          "host=127.0.0.1 port=" + std::to_string(closed) + " dbname=" + name;
      primary = at + " user=nobody_p";
      replica = at + " user=nobody_r";
    }
    y += "  - name: " + name + "\n    primary:\n      name: primary\n" +
         "      dsn: \"" + primary + "\"\n    replicas:\n" +
         "      - name: replica1\n        dsn: \"" + replica + "\"\n";
  }
  return y;
}

// The clusters shard `k` of `total` owns, by the module the agent uses.
std::set<std::string> Owned(int k, int total) {
  std::set<std::string> out;
  for (int i = 0; i < kClusters; ++i) {
    if (ShardOf(ClusterName(i), total) == k) out.insert(ClusterName(i));
  }
  return out;
}

AgentOptions ShardOptions(int k, int total) {
  AgentOptions options;
  options.extra_args = {"--shard=" + std::to_string(k),
                        "--total-shards=" + std::to_string(total)};
  options.start_timeout = seconds(30);
  return options;
}

// Every (cluster, server) of the agent's pg_replica_up series.
std::set<ServerKey> UpSeries(const AgentProcess& agent) {
  std::set<ServerKey> out;
  for (const auto& s : FindAll(agent.Scrape(), "pg_replica_up")) {
    out.insert({s.labels.at("cluster"), s.labels.at("server")});
  }
  return out;
}

std::set<std::string> Clusters(const std::set<ServerKey>& series) {
  std::set<std::string> out;
  for (const auto& [cluster, server] : series) out.insert(cluster);
  return out;
}

// The names /v1/system/database/clusters lists.
std::set<std::string> ListedClusters(const AgentProcess& agent) {
  const JsonAnswer answer = agent.GetJson("/v1/system/database/clusters");
  std::set<std::string> out;
  for (const auto& c : answer.body.at("clusters")) {
    out.insert(c.at("name").get<std::string>());
  }
  return out;
}

// N agents, shards 0..N-1 of N, over `yaml`; each waits for its own servers.
std::vector<std::unique_ptr<AgentProcess>> StartShards(const std::string& yaml,
                                                       int total) {
  std::vector<std::unique_ptr<AgentProcess>> agents;
  for (int k = 0; k < total; ++k) {
    const int servers = 2 * static_cast<int>(Owned(k, total).size());
    agents.push_back(
        std::make_unique<AgentProcess>(yaml, servers, ShardOptions(k, total)));
  }
  return agents;
}

TEST_CASE(
    "three shards cover 60 clusters exactly once, and a fourth shard takes "
    "only "
    "the clusters the hash moves",
    "[shard]") {
  TestCluster cluster(ClusterOptions{.replicas = 1, .password = "pw-shards"});
  const std::string yaml = SixtyClusters(cluster);

  std::map<std::string, int> owner3;  // cluster -> shard among 3
  {
    auto agents = StartShards(yaml, 3);
    std::set<ServerKey> all;
    std::size_t total_series = 0;
    for (int k = 0; k < 3; ++k) {
      AgentProcess& agent = *agents[k];
      INFO("shard " << k << "\n" << agent.Log());
      const std::set<ServerKey> mine = UpSeries(agent);
      const std::set<std::string> owned = Owned(k, 3);
      CHECK(Clusters(mine) == owned);
      CHECK(mine.size() == 2 * owned.size());
      CHECK(ListedClusters(agent) == owned);
      CHECK(agent.Metric("pg_replica_exporter_shard",
                         {{"shard", std::to_string(k)}, {"total", "3"}}) ==
            3.0);
      total_series += mine.size();
      all.insert(mine.begin(), mine.end());
      for (const std::string& c : owned) owner3[c] = k;
      // Another shard's cluster is not served at all.
      for (int i = 0; i < kClusters; ++i) {
        if (owned.contains(ClusterName(i))) continue;
        CHECK(agent
                  .GetJson("/v1/system/database/replicas/status?cluster=" +
                           ClusterName(i))
                  .status == 404);
        break;
      }
    }
    // Union: every server of every cluster; intersection: empty (the sizes
    // add up to the union's).
    CHECK(all.size() == 2u * kClusters);
    CHECK(total_series == all.size());
    // The real clusters are really polled, by their one owner.
    for (int i = 0; i < kReal; ++i) {
      const int k = owner3.at(ClusterName(i));
      INFO(ClusterName(i) << " on shard " << k);
      CHECK(agents[k]
                ->ScrapeUntil(
                    [&](const auto& s) {
                      return Find(s, "pg_replica_up",
                                  {{"cluster", ClusterName(i)},
                                   {"server", "replica1"}}) == 1.0;
                    },
                    kTimeout)
                .has_value());
    }
  }
  CHECK(owner3.size() == static_cast<std::size_t>(kClusters));

  // What --config.check says each of 4 shards owns, before they run.
  std::string check;
  {
    TempDir dir("pgre-shards");
    const std::string config_path = dir.path() + "/shards.yml";
    std::ofstream(config_path) << yaml;
    CHECK(RunCommand({PGRE_BINARY, "--config.file=" + config_path,
                      "--total-shards=4", "--shard=3", "--config.check"},
                     &check) == 0);
  }
  INFO(check);

  auto agents = StartShards(yaml, 4);
  int moved = 0;
  for (int k = 0; k < 4; ++k) {
    AgentProcess& agent = *agents[k];
    INFO("shard " << k << " of 4\n" << agent.Log());
    const std::set<std::string> mine = Clusters(UpSeries(agent));
    CHECK(mine == Owned(k, 4));
    std::string line = "shard " + std::to_string(k) +
                       (k == 3 ? " (this agent's --shard)" : "") + ": " +
                       std::to_string(mine.size()) + " clusters: ";
    for (int i = 0; i < kClusters; ++i) {
      if (!mine.contains(ClusterName(i))) continue;
      if (line.back() != ' ') line += ", ";
      line += ClusterName(i);
    }
    CHECK(check.find(line + "\n") != std::string::npos);
    for (const std::string& c : mine) {
      if (owner3.at(c) == k) continue;
      // A cluster that moved went to the new shard, from any old one.
      CHECK(k == 3);
      ++moved;
    }
    // The old shards kept every cluster they still own.
    if (k < 3) {
      for (const std::string& c : Owned(k, 3)) {
        if (ShardOf(c, 4) != 3) CHECK(mine.contains(c));
      }
    }
  }
  // About a quarter moved, and only those.
  CHECK(moved == static_cast<int>(Owned(3, 4).size()));
  CHECK(moved > kClusters / 8);
  CHECK(moved < kClusters * 3 / 8);
}

TEST_CASE("every shard refuses a bad config alike, and bad shard flags",
          "[shard]") {
  TempDir dir("pgre-bad");
  const std::string path = dir.path() + "/bad.yml";
  // Cluster c2 (whichever shard owns it) has a replica without a DSN.
  std::ofstream(path) << "clusters:\n"
                         "  - name: c0\n    primary:\n      dsn: \"host=a\"\n"
                         "  - name: c1\n    primary:\n      dsn: \"host=b\"\n"
                         "  - name: c2\n    primary:\n      dsn: \"host=c\"\n"
                         "    replicas:\n      - name: r1\n";
  std::set<std::string> messages;
  for (int k = 0; k < 3; ++k) {
    for (bool check : {false, true}) {
      std::vector<std::string> argv = {
          PGRE_BINARY, "--config.file=" + path, "--shard=" + std::to_string(k),
          "--total-shards=3", "--web.listen-address=127.0.0.1:0"};
      if (check) argv.push_back("--config.check");
      std::string out;
      INFO("shard " << k << (check ? " --config.check" : ""));
      CHECK(RunCommand(argv, &out) == 2);
      // The message without the log line's time stamp.
      const auto at = out.find(path);
      REQUIRE(at != std::string::npos);
      messages.insert(out.substr(at, out.find('\n', at) - at));
    }
  }
  INFO(*messages.begin());
  CHECK(messages.size() == 1);
  CHECK(messages.begin()->find(":12: clusters[2].replicas[0].dsn: missing") !=
        std::string::npos);

  struct Bad {
    std::vector<std::string> flags;
    std::string message;
  };
  const Bad bad[] = {
      {{"--shard=3", "--total-shards=3"},
       "--shard=3 is not below --total-shards=3: shards are numbered 0 to 2"},
      {{"--shard=1"},
       "--shard=1 is not below --total-shards=1: shards are numbered 0 to 0"},
      {{"--total-shards=0"},
       "--total-shards=0: must be between 1 (no sharding) and 65536"},
      {{"--shard=-1", "--total-shards=2"}, "--shard=-1: must not be negative"},
      {{"--shard=one"}, "--shard"},
  };
  for (const Bad& b : bad) {
    std::vector<std::string> argv = {PGRE_BINARY, "--config.check"};
    argv.insert(argv.end(), b.flags.begin(), b.flags.end());
    std::string out;
    INFO(b.flags.front() << ": " << out);
    CHECK(RunCommand(argv, &out) == 2);
    CHECK(out.find(b.message) != std::string::npos);
  }
}

double Lag(const std::vector<MetricSample>& s, const std::string& server) {
  return Find(s, "pg_replica_lag_seconds", {{"server", server}}).value_or(-1);
}
double HeartbeatLag(const std::vector<MetricSample>& s,
                    const std::string& server) {
  return Find(s, "pg_replica_heartbeat_lag_seconds", {{"server", server}})
      .value_or(-1);
}

TEST_CASE(
    "a cluster that moves to another shard keeps its lag: the new owner "
    "reads the shared state file and the heartbeat, the lagging replica "
    "stays out",
    "[shard][state]") {
  TestCluster cluster(ClusterOptions{.replicas = 2});
  // The agent's cluster is named "test": the first N it moves at from
  // shard 0 (its shard without sharding), and its new owner.
  int total = 2;
  while (ShardOf("test", total) == 0) ++total;
  const int owner = ShardOf("test", total);
  TempDir state;
  const std::string paused = cluster.ReplicaName(0);

  const std::string heartbeat = "heartbeat:\n  enabled: true\n";
  double before = 0, heartbeat_before = 0;
  {
    AgentOptions options;
    options.extra_args = {"--state.directory=" + state.path()};
    options.extra_yaml = heartbeat;
    AgentProcess agent(cluster, options);
    BackgroundWriter writer(cluster);
    // A heartbeat replayed on the replica first.
    REQUIRE(agent.ScrapeUntil(
        [&](const auto& s) {
          const double lag = HeartbeatLag(s, paused);
          return lag >= 0 && lag < 1.0;
        },
        kTimeout));
    cluster.PauseReplay(0);
    const auto lagging = agent.ScrapeUntil(
        [&](const auto& s) {
          return Lag(s, paused) > 6.0 && HeartbeatLag(s, paused) > 6.0;
        },
        kTimeout);
    REQUIRE(lagging);
    before = Lag(*lagging, paused);
    heartbeat_before = HeartbeatLag(*lagging, paused);
    // Stopped (SIGTERM): the state file is written a last time.
  }
  BackgroundWriter writer(cluster);
  // The shard that no longer owns it publishes nothing of it.
  AgentOptions other = ShardOptions(0, total);
  other.extra_args.push_back("--state.directory=" + state.path());
  AgentProcess old_owner("cluster: test\nprimary:\n  dsn: \"" +
                             cluster.Dsn(TestCluster::kPrimary) + "\"\n",
                         0, other);
  CHECK(FindAll(old_owner.Scrape(), "pg_replica_up").empty());

  AgentOptions options = ShardOptions(owner, total);
  options.extra_args.push_back("--state.directory=" + state.path());
  options.extra_yaml = heartbeat;
  AgentProcess agent(cluster, options);
  INFO("shard " << owner << " of " << total << "\n" << agent.Log());
  const auto first = agent.ScrapeUntil(
      [&](const auto& s) { return Lag(s, paused) >= 0; }, kTimeout);
  REQUIRE(first);
  // The lag it had, and more: not a history begun at this start.
  CHECK(Lag(*first, paused) >= before);
  CHECK(Find(*first, "pg_replica_lag_lower_bound", {{"server", paused}}) ==
        0.0);
  const JsonAnswer status =
      agent.GetJson("/v1/system/database/replicas/status");
  CHECK_THAT(status.body["lagHistory"].get<std::string>(),
             Catch::StartsWith("restored: "));
  // The heartbeat row tells it too, state file or not.
  const auto seen = agent.ScrapeUntil(
      [&](const auto& s) { return HeartbeatLag(s, paused) >= 0; }, kTimeout);
  REQUIRE(seen);
  CHECK(HeartbeatLag(*seen, paused) >= heartbeat_before);
  // Never readmitted: in no scrape until the first health checks are done
  // (the other replica in rotation) and after, out of rotation for its lag.
  bool admitted = false;
  const auto checked = agent.ScrapeUntil(
      [&](const auto& s) {
        admitted = admitted ||
                   Find(s, "pg_replica_healthy", {{"server", paused}}) == 1.0;
        return Find(s, "pg_replica_healthy",
                    {{"server", cluster.ReplicaName(1)}}) == 1.0;
      },
      kTimeout);
  REQUIRE(checked);
  CHECK_FALSE(admitted);
  CHECK(Find(*checked, "pg_replica_healthy", {{"server", paused}}) == 0.0);
  cluster.ResumeReplay(0);
}

}  // namespace
}  // namespace pgre::testing
