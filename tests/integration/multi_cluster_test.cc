// Many clusters in one agent: two real clusters (each a primary with two
// streaming replicas) where one primary is SIGSTOPped and the other cluster's
// series, routing and JSON stay right; and 200 servers (50 clusters of 4
// over one real cluster, each reached as its own role) on the same number
// of threads as 4, with a hung server delaying none of the others.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kStep(200);

std::optional<double> Value(const std::vector<MetricSample>& samples,
                            const std::string& name, const std::string& cluster,
                            const std::string& server) {
  return Find(samples, name, {{"cluster", cluster}, {"server", server}});
}

// The agent's thread count, from /proc.
int Threads(AgentProcess& agent) {
  std::ifstream in("/proc/" + std::to_string(agent.process().pid()) +
                   "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_CASE("two clusters: one primary hung, the other cluster unaffected",
          "[multi_cluster]") {
  TestCluster east(ClusterOptions{.replicas = 2});
  TestCluster west(ClusterOptions{.replicas = 2});
  AgentOptions options;
  const std::string yaml = MultiClusterYaml(
      {{"east", &east, "", ""}, {"west", &west, "", ""}}, options);
  PolledAgent agent(yaml, 6, options);
  const std::vector<std::string> servers = {"primary", east.ReplicaName(0),
                                            east.ReplicaName(1)};

  // Both clusters up, their replicas in rotation.
  REQUIRE(agent.ScrapeUntil(
      [&](const auto& s) {
        for (const char* c : {"east", "west"}) {
          for (const auto& srv : servers) {
            if (Value(s, "pg_replica_up", c, srv) != 1.0) return false;
            if (srv != "primary" &&
                Value(s, "pg_replica_healthy", c, srv) != 1.0) {
              return false;
            }
          }
        }
        return true;
      },
      seconds(30)));

  // The clusters list.
  JsonAnswer list = agent.GetJson("/v1/system/database/clusters");
  REQUIRE(list.status == 200);
  REQUIRE(list.body.at("clusters").size() == 2);
  CHECK(list.body["clusters"][0]["name"] == "east");
  CHECK(list.body["clusters"][1]["name"] == "west");
  CHECK(list.body["clusters"][1]["primary"] == "primary");
  CHECK(list.body["clusters"][1]["ready"] == true);

  StoppedServer hung(east, TestCluster::kPrimary);
  std::vector<MetricSample> samples;
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        return Value(samples, "pg_replica_up", "east", "primary") == 0.0;
      },
      seconds(20), kStep));
  std::map<std::string, double> west_ts;
  for (const auto& srv : servers) {
    west_ts[srv] =
        Value(samples, "pg_replica_last_poll_success_timestamp_seconds", "west",
              srv)
            .value_or(0);
  }
  // For longer than connect_timeout + query_timeout, west keeps polling,
  // routing and answering as before; every scrape is fast.
  int scrapes = 0;
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        ++scrapes;
        REQUIRE(Value(samples, "pg_replica_up", "east", "primary") == 0.0);
        for (const auto& srv : servers) {
          INFO("west " << srv);
          REQUIRE(Value(samples, "pg_replica_up", "west", srv) == 1.0);
          if (srv != "primary") {
            REQUIRE(Value(samples, "pg_replica_healthy", "west", srv) == 1.0);
            REQUIRE(Value(samples, "pg_replica_lag_seconds", "west", srv));
          }
        }
        for (const auto& [srv, ts] : west_ts) {
          if (Value(samples, "pg_replica_last_poll_success_timestamp_seconds",
                    "west", srv)
                  .value_or(0) < ts + 5) {
            return false;
          }
        }
        return true;
      },
      seconds(40), kStep));
  CHECK(scrapes >= 5);
  CHECK(Find(samples, "pg_replica_read_failover_active",
             {{"cluster", "west"}}) == 0.0);
  CHECK(Find(samples, "pg_replica_primaries", {{"cluster", "west"}}) == 1.0);
  CHECK(Find(samples, "pg_replica_primaries", {{"cluster", "east"}}) == 0.0);

  // JSON: ?cluster= picks the cluster; the default is the first (east).
  JsonAnswer west_status =
      agent.GetJson("/v1/system/database/replicas/status?cluster=west");
  REQUIRE(west_status.status == 200);
  CHECK(west_status.body.at("cluster") == "west");
  CHECK(west_status.body.at("primary").at("up") == true);
  for (const auto& r : west_status.body.at("replicas")) {
    CHECK(r.at("up") == true);
  }
  JsonAnswer east_status = agent.GetJson("/v1/system/database/replicas/status");
  REQUIRE(east_status.status == 200);
  CHECK(east_status.body.at("cluster") == "east");
  CHECK(east_status.body.at("primary").at("up") == false);
  JsonAnswer west_health =
      agent.GetJson("/v1/system/database/replicas/health?cluster=west");
  CHECK(west_health.status == 200);
  CHECK(agent.GetJson("/v1/system/database/replicas/lag?cluster=nope").status ==
        404);
}

// A TCP port that accepts connections (the kernel completes the handshake)
// and never answers: a hung Patroni. Closed on destruction.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("SilentListener: cannot listen");
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_CASE(
    "a cluster waiting for its members from Patroni keeps /-/ready at 503 "
    "until its first discovery round ends",
    "[multi_cluster]") {
  TestCluster east(ClusterOptions{.replicas = 1});
  SilentListener patroni;
  AgentOptions options;
  // The discovery round waits connect_timeout (8 s) for the hung Patroni.
  options.extra_yaml =
      "  - name: ha\n"
      "    connect_timeout: 8s\n"
      "    discovery:\n"
      "      patroni:\n"
      "        urls: [\"http://127.0.0.1:" +
      std::to_string(patroni.port()) +
      "\"]\n"
      "        dsn_template: \"host={host} port={port} dbname=postgres "
      "user=postgres\"\n";
  options.no_wait_for_servers = true;
  const auto start = std::chrono::steady_clock::now();
  AgentProcess agent(MultiClusterYaml({{"east", &east, "", ""}}, options), 2,
                     options);
  // east polled: only the cluster without members keeps the agent unready.
  REQUIRE(agent.ScrapeUntil(
      [&](const auto& s) {
        return Value(s, "pg_replica_up", "east", "primary") == 1.0 &&
               Value(s, "pg_replica_up", "east", east.ReplicaName(0)) == 1.0;
      },
      seconds(6)));
  REQUIRE(std::chrono::steady_clock::now() - start < seconds(7));
  HttpResponse r = agent.Get("/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "not ready: waiting for the members of ha from Patroni\n");
  // The round fails at its deadline: ready (as a server's failed first poll
  // counts as polled), and the failure is in the metrics.
  REQUIRE(WaitUntil([&] { return agent.Get("/-/ready").status == 200; },
                    seconds(30), kStep));
  CHECK(std::chrono::steady_clock::now() - start >= seconds(7));
  const auto samples = agent.Scrape();
  CHECK(Find(samples, "pg_replica_discovery_success", {{"cluster", "ha"}}) ==
        0.0);

  // After a reload the cluster's round had ended already: it is not waited
  // for again (the new round takes its 8 s); ready again once east's
  // servers are polled by the new pipeline.
  const std::string reloaded =
      "pg_replica_exporter_config_last_reload_success_timestamp_seconds";
  const auto before = agent.Metric(reloaded);
  REQUIRE(before);
  const auto sighup = std::chrono::steady_clock::now();
  REQUIRE(agent.process().Signal(SIGHUP));
  REQUIRE(WaitUntil([&] { return agent.Metric(reloaded) != before; },
                    seconds(6), milliseconds(50)));
  CHECK(WaitUntil([&] { return agent.Get("/-/ready").status == 200; },
                  seconds(6), milliseconds(50)));
  CHECK(std::chrono::steady_clock::now() - sighup < seconds(7));
}

TEST_CASE("200 servers on the threads of 4, and a hung server delays no other",
          "[multi_cluster]") {
  TestCluster cluster(ClusterOptions{
      .replicas = 3, .password = "pw-multi", .max_connections = 120});
  AgentOptions options;
  options.poll_interval = "1s";
  options.start_timeout = seconds(90);

  int small_threads = 0;
  {
    AgentProcess small(cluster, options);
    small_threads = Threads(small);
  }
  REQUIRE(small_threads > 0);

  constexpr int kClusters = 50;
  std::vector<ClusterEntry> entries;
  for (int i = 0; i < kClusters; ++i) {
    const std::string user = "agent" + std::to_string(i);
    cluster.CreateRole(user, "pw-" + user);
    entries.push_back({"c" + std::to_string(i), &cluster, user, "pw-" + user});
  }
  PolledAgent agent(MultiClusterYaml(entries, options), 4 * kClusters, options);
  CHECK(Threads(agent) == small_threads);

  // The first health checks are done.
  REQUIRE(agent.ScrapeUntil(
      [&](const auto& s) {
        return FindAll(s, "pg_replica_healthy").size() == 3 * kClusters;
      },
      seconds(60)));

  // One PostgreSQL server hung: 50 of the agent's servers (one per
  // cluster) hang with it; the 150 others go on.
  const std::string hung = cluster.ReplicaName(1);
  StoppedServer stopped(cluster, 1);
  std::vector<MetricSample> samples;
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        return FindAll(samples, "pg_replica_up", {{"server", hung}}).size() ==
                   kClusters &&
               Find(samples, "pg_replica_up", {{"server", hung}}) == 0.0 &&
               [&] {
                 for (const auto& s :
                      FindAll(samples, "pg_replica_up", {{"server", hung}})) {
                   if (s.value != 0.0) return false;
                 }
                 return true;
               }();
      },
      seconds(30), kStep));
  std::map<std::string, double> ts;  // "cluster/server" -> last success
  for (const auto& s :
       FindAll(samples, "pg_replica_last_poll_success_timestamp_seconds")) {
    if (s.labels.at("server") == hung) continue;
    ts[s.labels.at("cluster") + "/" + s.labels.at("server")] = s.value;
  }
  REQUIRE(ts.size() == 3 * kClusters);
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        for (const auto& s : FindAll(
                 samples, "pg_replica_last_poll_success_timestamp_seconds")) {
          if (s.labels.at("server") == hung) continue;
          const auto it =
              ts.find(s.labels.at("cluster") + "/" + s.labels.at("server"));
          if (it == ts.end() || s.value < it->second + 5) return false;
        }
        return true;
      },
      seconds(40), kStep));
  for (const auto& s : FindAll(samples, "pg_replica_up")) {
    INFO(s.labels.at("cluster") << "/" << s.labels.at("server"));
    CHECK(s.value == (s.labels.at("server") == hung ? 0.0 : 1.0));
  }
  CHECK(Threads(agent) == small_threads);
}

}  // namespace
}  // namespace pgre::testing
