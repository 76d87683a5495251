// The routing model, synthetic checks, route-check and the JSON endpoints,
// against a real primary with three streaming replicas: the real binary
// (AgentProcess, and `pg_replica_exporter route-check`) with quick routing
// settings (health and synthetic checks every 500 ms, fall 2, rise 2).
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/subprocess.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::vector<std::string> kReplicas = {"replica1", "replica2", "replica3"};
constexpr const char* kStatusPath = "/v1/system/database/replicas/status";
constexpr const char* kHealthPath = "/v1/system/database/replicas/health";
constexpr const char* kLagPath = "/v1/system/database/replicas/lag";
constexpr const char* kPoolPath = "/v1/system/database/connection-pool/stats";

// Bounds for waits; generous for a loaded 2-core machine.
constexpr seconds kRoutingTimeout(30);  // a rotation change (fall/rise checks)
constexpr seconds kRestartTimeout(60);  // restarted replicas back in rotation

// A config file for route-check, removed on destruction.
class TempConfig {
 public:
  TempConfig(const TestCluster& cluster, const AgentOptions& options) {
    char path[] = "/tmp/pgre-routecheck-XXXXXX.yml";
    const int fd = mkstemps(path, 4);
    if (fd < 0) throw std::runtime_error("mkstemps failed");
    close(fd);
    path_ = path;
    std::ofstream out(path_);
    out << AgentConfigYaml(cluster, options);
  }
  ~TempConfig() { unlink(path_.c_str()); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One server's line of route-check's table.
struct RouteCheckLine {
  std::string role;
  int reads = -1;
  double share_percent = -1;
  int errors = -1;
  std::string status;
};

struct RouteCheckRun {
  int exit_code = -1;
  std::string output;                           // stdout
  std::string errors;                           // stderr (the log)
  std::map<std::string, RouteCheckLine> lines;  // by server name
  std::string summary;                          // the "reads: ..." line
};

// Runs `pg_replica_exporter route-check` against `cluster` and parses its
// table (SERVER ROLE READS SHARE ERRORS P50_MS P95_MS STATUS).
RouteCheckRun RunRouteCheck(const TestCluster& cluster, int reads) {
  TempConfig config(cluster, AgentOptions{});
  RouteCheckRun run;
  CommandOptions options;
  options.errors = &run.errors;
  options.timeout = seconds(90);
  run.exit_code =
      RunCommand({PGRE_BINARY, "route-check", "--config.file=" + config.path(),
                  "--reads=" + std::to_string(reads)},
                 &run.output, options);
  std::istringstream lines(run.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("reads: ", 0) == 0) run.summary = line;
    std::istringstream in(line);
    std::string server, share;
    RouteCheckLine row;
    double p50 = 0, p95 = 0;
    if (!(in >> server >> row.role >> row.reads >> share >> row.errors >> p50 >>
          p95)) {
      continue;
    }
    if (row.role != "primary" && row.role != "replica") continue;
    if (share.empty() || share.back() != '%') continue;
    row.share_percent = std::stod(share.substr(0, share.size() - 1));
    std::getline(in >> std::ws, row.status);
    run.lines[server] = row;
  }
  return run;
}

std::string Describe(const RouteCheckRun& run) {
  return "exit " + std::to_string(run.exit_code) + "\nstdout:\n" + run.output +
         "\nstderr:\n" + run.errors;
}

// The value of `name` for `server`, or NaN when absent (NaN never compares
// equal, so an absent series fails every equality check).
double Value(const std::vector<MetricSample>& samples, const std::string& name,
             const std::string& server) {
  return Find(samples, name, {{"server", server}}).value_or(std::nan(""));
}

double RoutedReads(const std::vector<MetricSample>& samples,
                   const std::string& server) {
  return Value(samples, "pg_replica_routed_reads_total", server);
}

double Healthy(const std::vector<MetricSample>& samples,
               const std::string& server) {
  return Value(samples, "pg_replica_healthy", server);
}

double Failover(const std::vector<MetricSample>& samples) {
  return Find(samples, "pg_replica_read_failover_active").value_or(-1);
}

// True when the routing loop has run and every replica is in rotation.
bool AllInRotation(const std::vector<MetricSample>& samples) {
  for (const auto& r : kReplicas) {
    if (Healthy(samples, r) != 1.0) return false;
  }
  return Failover(samples) == 0.0;
}

// The agent log's last lines, for failure messages.
std::string LogTail(const AgentProcess& agent, std::size_t max_chars = 4000) {
  const std::string log = agent.Log();
  return log.size() <= max_chars ? log : log.substr(log.size() - max_chars);
}

// "2025-12-13T10:00:00.123Z" -> milliseconds since the Unix epoch, or -1.
long long IsoToUnixMillis(const std::string& iso) {
  std::tm tm{};
  const char* rest = strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  int ms = 0;
  if (rest == nullptr || std::sscanf(rest, ".%3dZ", &ms) != 1) return -1;
  return static_cast<long long>(timegm(&tm)) * 1000 + ms;
}

TEST_CASE("route-check spreads reads evenly over three healthy replicas",
          "[routing][route-check]") {
  TestCluster cluster;
  const RouteCheckRun run = RunRouteCheck(cluster, 300);
  INFO(Describe(run));
  CHECK(run.exit_code == 0);
  REQUIRE(run.lines.size() == 4);
  REQUIRE(run.lines.count("primary") == 1);
  CHECK(run.lines.at("primary").role == "primary");
  CHECK(run.lines.at("primary").reads == 0);
  CHECK(run.lines.at("primary").share_percent == 0.0);
  for (const auto& r : kReplicas) {
    INFO(r);
    REQUIRE(run.lines.count(r) == 1);
    const RouteCheckLine& line = run.lines.at(r);
    CHECK(line.role == "replica");
    CHECK(line.reads >= 99);
    CHECK(line.reads <= 101);
    CHECK(line.errors == 0);
    CHECK(line.status == "in rotation");
  }
  CHECK(run.summary == "reads: 300, failed: 0, failover to primary: no");
  CHECK(run.output.find("route-check: OK") != std::string::npos);
}

TEST_CASE("a stopped replica leaves the rotation and the others take its reads",
          "[routing]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  REQUIRE(WaitUntil([&] { return AllInRotation(agent.Scrape()); },
                    kRoutingTimeout));
  const std::string stopped = "replica2";
  const std::vector<std::string> others = {"replica1", "replica3"};
  const auto before = agent.Scrape();
  const double changes_before =
      Value(before, "pg_replica_rotation_changes_total", stopped);
  REQUIRE(changes_before >= 1.0);  // it entered the rotation

  cluster.Stop(1);

  // Every scrape until it has left: the others stay in, no failover.
  int others_out = 0, failovers = 0;
  auto watch_others = [&](const std::vector<MetricSample>& s) {
    for (const auto& o : others) others_out += Healthy(s, o) != 1.0;
    failovers += Failover(s) != 0.0;
  };
  std::vector<MetricSample> left;
  REQUIRE(WaitUntil(
      [&] {
        left = agent.Scrape();
        watch_others(left);
        return Healthy(left, stopped) == 0.0;
      },
      kRoutingTimeout));
  INFO(LogTail(agent));
  CHECK(Value(left, "pg_replica_rotation_changes_total", stopped) ==
        changes_before + 1);
  CHECK(Value(left, "pg_replica_up", stopped) == 0.0);

  // Routed reads keep flowing to the others, none to the stopped one.
  const double stopped_reads = RoutedReads(left, stopped);
  std::map<std::string, double> reads_at_leave;
  for (const auto& o : others) reads_at_leave[o] = RoutedReads(left, o);
  int stopped_read_changes = 0, stopped_back = 0;
  std::vector<MetricSample> later;
  REQUIRE(WaitUntil(
      [&] {
        later = agent.Scrape();
        watch_others(later);
        stopped_read_changes += RoutedReads(later, stopped) != stopped_reads;
        stopped_back += Healthy(later, stopped) != 0.0;
        for (const auto& o : others) {
          if (!(RoutedReads(later, o) >= reads_at_leave[o] + 6)) return false;
        }
        return true;
      },
      kRoutingTimeout));
  CHECK(others_out == 0);
  CHECK(failovers == 0);
  CHECK(stopped_read_changes == 0);
  CHECK(stopped_back == 0);
  CHECK(RoutedReads(later, "primary") == RoutedReads(before, "primary"));

  const JsonAnswer health = agent.GetJson(kHealthPath);
  CHECK(health.status == 200);
  CHECK(health.body.at("healthy") == true);
  CHECK(health.body.at("replicaCount") == 3);
  CHECK(health.body.at("healthyReplicaCount") == 2);
  CHECK(health.body.at("failoverActive") == false);
  CHECK(agent.Log().find("server " + stopped +
                         " left the read rotation: down") != std::string::npos);

  {  // route-check moves its share to the other two
    const RouteCheckRun run = RunRouteCheck(cluster, 300);
    INFO(Describe(run));
    CHECK(run.exit_code == 0);
    REQUIRE(run.lines.size() == 4);
    CHECK(run.lines.at("primary").reads == 0);
    CHECK(run.lines.at(stopped).reads == 0);
    CHECK(run.lines.at(stopped).share_percent == 0.0);
    CHECK(run.lines.at(stopped).status.rfind("out: ", 0) == 0);
    for (const auto& o : others) {
      INFO(o);
      CHECK(run.lines.at(o).reads >= 149);
      CHECK(run.lines.at(o).reads <= 151);
      CHECK(run.lines.at(o).errors == 0);
    }
    CHECK(run.summary == "reads: 300, failed: 0, failover to primary: no");
  }
}

TEST_CASE("all replicas stopped: reads fail over to the primary and come back",
          "[routing]") {
  TestCluster cluster;
  AgentProcess agent(cluster);
  REQUIRE(WaitUntil([&] { return AllInRotation(agent.Scrape()); },
                    kRoutingTimeout));
  for (int i = 0; i < cluster.replica_count(); ++i) cluster.Stop(i);

  std::vector<MetricSample> failed_over;
  REQUIRE(WaitUntil(
      [&] {
        failed_over = agent.Scrape();
        return Failover(failed_over) == 1.0;
      },
      kRoutingTimeout));
  INFO(LogTail(agent));
  for (const auto& r : kReplicas) CHECK(Healthy(failed_over, r) == 0.0);
  const double primary_reads = RoutedReads(failed_over, "primary");
  std::map<std::string, double> replica_reads;
  for (const auto& r : kReplicas)
    replica_reads[r] = RoutedReads(failed_over, r);
  std::vector<MetricSample> later;
  REQUIRE(WaitUntil(
      [&] {
        later = agent.Scrape();
        return RoutedReads(later, "primary") >= primary_reads + 6;
      },
      kRoutingTimeout));
  CHECK(Failover(later) == 1.0);
  for (const auto& r : kReplicas) {
    INFO(r);
    CHECK(RoutedReads(later, r) == replica_reads[r]);
  }

  const JsonAnswer health = agent.GetJson(kHealthPath);
  CHECK(health.status == 503);
  CHECK(health.body.at("healthy") == false);
  CHECK(health.body.at("healthyReplicaCount") == 0);
  CHECK(health.body.at("failoverActive") == true);
  CHECK(health.body.at("primaryUp") == true);
  CHECK(agent.Log().find(
            "no replica in rotation: reads fail over to the primary") !=
        std::string::npos);

  {
    const RouteCheckRun run = RunRouteCheck(cluster, 300);
    INFO(Describe(run));
    CHECK(run.exit_code == 0);
    REQUIRE(run.lines.size() == 4);
    CHECK(run.lines.at("primary").reads == 300);
    CHECK(run.lines.at("primary").share_percent == 100.0);
    CHECK(run.lines.at("primary").errors == 0);
    for (const auto& r : kReplicas) {
      INFO(r);
      CHECK(run.lines.at(r).reads == 0);
    }
    CHECK(run.summary == "reads: 300, failed: 0, failover to primary: yes");
  }

  for (int i = 0; i < cluster.replica_count(); ++i) cluster.Start(i);
  std::vector<MetricSample> back;
  REQUIRE(WaitUntil(
      [&] {
        back = agent.Scrape();
        return AllInRotation(back);
      },
      kRestartTimeout));
  for (const auto& r : kReplicas) {
    INFO(r);
    // Entered, left, entered again.
    CHECK(Value(back, "pg_replica_rotation_changes_total", r) == 3.0);
  }
  const JsonAnswer health_back = agent.GetJson(kHealthPath);
  CHECK(health_back.status == 200);
  CHECK(health_back.body.at("healthy") == true);
  CHECK(health_back.body.at("healthyReplicaCount") == 3);
  CHECK(health_back.body.at("failoverActive") == false);
  CHECK(agent.Log().find("replicas back in rotation: read failover ended") !=
        std::string::npos);
}

TEST_CASE("paused replay: the replica leaves on lag and returns after resume",
          "[routing][lag]") {
  TestCluster cluster;
  AgentOptions options;
  options.routing["max_lag"] = "2s";
  AgentProcess agent(cluster, options);
  REQUIRE(WaitUntil([&] { return AllInRotation(agent.Scrape()); },
                    kRoutingTimeout));
  const std::string paused = "replica1";

  // Lag status of `paused` in /replicas/lag; "" when it cannot be read.
  json lag_entry;
  auto lag_status = [&]() -> std::string {
    const JsonAnswer lag = agent.GetJson(kLagPath);
    if (lag.status != 200) return "";
    for (const auto& r : lag.body.at("replicas")) {
      if (r.at("name") == paused) {
        lag_entry = r;
        return r.at("status").get<std::string>();
      }
    }
    return "";
  };

  BackgroundWriter writer(cluster);
  cluster.PauseReplay(0);
  REQUIRE(WaitUntil([&] { return Healthy(agent.Scrape(), paused) == 0.0; },
                    kRoutingTimeout));
  INFO(LogTail(agent));
  CHECK(agent.Log().find("server " + paused + " left the read rotation: lag") !=
        std::string::npos);
  CHECK(agent.Metric("pg_replica_replay_paused", {{"server", paused}}) == 1.0);
  CHECK(agent.Metric("pg_replica_up", {{"server", paused}}) == 1.0);

  REQUIRE(WaitUntil([&] { return lag_status() == "critical"; }, kRoutingTimeout,
                    milliseconds(200)));
  INFO(lag_entry.dump());
  CHECK(lag_entry.at("lagSeconds").get<double>() > 5.0);
  CHECK(lag_entry.at("lagBytes").get<double>() > 0);
  const JsonAnswer status = agent.GetJson(kStatusPath);
  REQUIRE(status.status == 200);
  const json& replica = status.body.at("replicas").at(0);
  CHECK(replica.at("name") == paused);
  CHECK(replica.at("inRotation") == false);
  CHECK(replica.at("replayPaused") == true);
  CHECK(replica.at("reason").get<std::string>().rfind("lag ", 0) == 0);

  cluster.ResumeReplay(0);
  REQUIRE(WaitUntil([&] { return Healthy(agent.Scrape(), paused) == 1.0; },
                    kRoutingTimeout));
  CHECK(agent.Log().find("server " + paused +
                         " entered the read rotation: recovered") !=
        std::string::npos);
  CHECK(WaitUntil([&] { return lag_status() == "ok"; }, kRoutingTimeout,
                  milliseconds(200)));
  CHECK(writer.writes() > 0);
  CHECK(writer.failures() == 0);
}

TEST_CASE("the JSON endpoints parse and agree with /metrics",
          "[routing][json]") {
  TestCluster cluster;
  AgentOptions options;
  // Few polls, so that a scrape and the JSON answers often see the same one.
  options.poll_interval = "2s";
  AgentProcess agent(cluster, options);
  REQUIRE(WaitUntil(
      [&] {
        const auto s = agent.Scrape();
        if (!AllInRotation(s)) return false;
        for (const auto& r : kReplicas) {
          if (!Find(s, "pg_replica_lag_bytes", {{"server", r}})) return false;
        }
        return true;
      },
      kRoutingTimeout));

  // A scrape, the four answers, another scrape; kept when no poll finished
  // in between (every server's last-success time the same in both scrapes),
  // so that both scrapes and the answers show the same polls.
  const std::vector<std::string> servers = {"primary", "replica1", "replica2",
                                            "replica3"};
  const std::string kLastPoll =
      "pg_replica_last_poll_success_timestamp_seconds";
  std::vector<MetricSample> first, second;
  JsonAnswer status, health, lag, pool;
  REQUIRE(WaitUntil(
      [&] {
        first = agent.Scrape();
        status = agent.GetJson(kStatusPath);
        health = agent.GetJson(kHealthPath);
        lag = agent.GetJson(kLagPath);
        pool = agent.GetJson(kPoolPath);
        second = agent.Scrape();
        for (const auto& s : servers) {
          const auto a = Find(first, kLastPoll, {{"server", s}});
          const auto b = Find(second, kLastPoll, {{"server", s}});
          if (!a || a != b) return false;
          // While scrapes come often, /metrics may serve a cluster as
          // rendered up to a poll interval and a second ago (docs/metrics.md),
          // and the synthetic reads count between polls: keep a triple whose
          // answers also fall between the two scrapes' read counts.
          if (status.status != 200) return false;
          const double reads = status.body.at("routedReads").value(s, -1.0);
          if (reads < RoutedReads(first, s) || reads > RoutedReads(second, s))
            return false;
        }
        return AllInRotation(first) && AllInRotation(second);
      },
      seconds(60), milliseconds(100)));

  for (const JsonAnswer* a : {&status, &health, &lag, &pool}) {
    CHECK(a->content_type.rfind("application/json", 0) == 0);
  }
  REQUIRE(status.status == 200);
  REQUIRE(health.status == 200);
  REQUIRE(lag.status == 200);
  REQUIRE(pool.status == 200);
  INFO("status: " << status.body.dump(2));

  // /replicas/status, per server.
  CHECK(status.body.at("cluster") == "test");
  CHECK(status.body.at("routingActive") == true);
  CHECK(status.body.at("failoverActive") == (Failover(first) == 1.0));
  std::vector<json> server_status = {status.body.at("primary")};
  for (const auto& r : status.body.at("replicas")) server_status.push_back(r);
  REQUIRE(server_status.size() == servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const std::string& name = servers[i];
    const json& s = server_status[i];
    INFO(name);
    CHECK(s.at("name") == name);
    CHECK(s.at("up") == (Value(first, "pg_replica_up", name) == 1.0));
    CHECK(s.at("up") == true);
    CHECK(s.at("pollErrorsTotal").get<double>() ==
          Value(first, "pg_replica_poll_errors_total", name));
    const long long poll_ms =
        IsoToUnixMillis(s.at("lastPollTime").get<std::string>());
    const double metric_ms = 1000 * Value(first, kLastPoll, name);
    CHECK(std::abs(double(poll_ms) - metric_ms) < 1.5);
    // Connections by state, each as pg_replica_connections{state}.
    const json& connections = s.at("connections");
    REQUIRE(connections.is_object());
    const auto by_state =
        FindAll(first, "pg_replica_connections", {{"server", name}});
    CHECK(by_state.size() >= 6);
    for (const auto& sample : by_state) {
      const std::string& state = sample.labels.at("state");
      INFO(state);
      REQUIRE(connections.contains(state));
      CHECK(connections.at(state).get<double>() == sample.value);
    }
    CHECK(status.body.at("routedReads").at(name).get<double>() >=
          RoutedReads(first, name));
    CHECK(status.body.at("routedReads").at(name).get<double>() <=
          RoutedReads(second, name));
    if (i == 0) {
      CHECK(s.at("inRotation").is_null());
      CHECK(s.at("lagBytes").is_null());
      continue;
    }
    CHECK(s.at("inRotation") == (Healthy(first, name) == 1.0));
    CHECK(s.at("healthy") == s.at("inRotation"));
    CHECK(s.at("reason") == "ok");
    CHECK(s.at("streaming") ==
          (Value(first, "pg_replica_wal_receiver_streaming", name) == 1.0));
    CHECK(s.at("lagBytes").get<double>() ==
          Value(first, "pg_replica_lag_bytes", name));
    CHECK(s.at("lagSeconds").get<double>() ==
          Approx(Value(first, "pg_replica_lag_seconds", name)).margin(1e-9));
  }

  // /replicas/health.
  INFO("health: " << health.body.dump(2));
  CHECK(health.body.at("healthy") == true);
  CHECK(health.body.at("replicaCount") == 3);
  int in_rotation = 0;
  for (const auto& r : kReplicas) in_rotation += Healthy(first, r) == 1.0;
  CHECK(health.body.at("healthyReplicaCount") == in_rotation);
  CHECK(health.body.at("failoverActive") == (Failover(first) == 1.0));
  CHECK(health.body.at("primaryUp") ==
        (Value(first, "pg_replica_up", "primary") == 1.0));
  CHECK(health.body.at("routingActive") == true);

  // /replicas/lag.
  INFO("lag: " << lag.body.dump(2));
  const json& lag_replicas = lag.body.at("replicas");
  REQUIRE(lag_replicas.size() == kReplicas.size());
  for (std::size_t i = 0; i < kReplicas.size(); ++i) {
    const json& r = lag_replicas[i];
    INFO(kReplicas[i]);
    CHECK(r.at("name") == kReplicas[i]);
    CHECK(r.at("lagBytes").get<double>() ==
          Value(first, "pg_replica_lag_bytes", kReplicas[i]));
    CHECK(r.at("lagSeconds").get<double>() ==
          Approx(Value(first, "pg_replica_lag_seconds", kReplicas[i]))
              .margin(1e-9));
    CHECK(r.at("status") == "ok");  // idle: no lag
  }
  CHECK(lag.body.at("thresholds").at("warningSeconds") == 1.0);
  CHECK(lag.body.at("thresholds").at("criticalSeconds") == 5.0);

  // /connection-pool/stats.
  INFO("pool: " << pool.body.dump(2));
  std::vector<json> server_pool = {pool.body.at("primary")};
  for (const auto& r : pool.body.at("replicas")) server_pool.push_back(r);
  REQUIRE(server_pool.size() == servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const std::string& name = servers[i];
    const json& s = server_pool[i];
    INFO(name);
    CHECK(s.at("name") == name);
    CHECK(s.at("up") == true);
    double total = 0;
    for (const auto& sample :
         FindAll(first, "pg_replica_connections", {{"server", name}})) {
      total += sample.value;
    }
    CHECK(s.at("connections").at("total").get<double>() == total);
    CHECK(s.at("maxConnections").get<double>() ==
          Value(first, "pg_replica_max_connections", name));
    CHECK(s.at("superuserReservedConnections").get<double>() ==
          Value(first, "pg_replica_superuser_reserved_connections", name));
  }

  // Anything else: 404; another method: 405.
  CHECK(agent.Get("/v1/system/database/replicas/nope").status == 404);
  CHECK(agent.Get(std::string(kHealthPath) + "/").status == 404);
  for (const char* path : {kStatusPath, kHealthPath, kLagPath, kPoolPath}) {
    INFO(path);
    const HttpResponse post =
        HttpRequest("POST", "127.0.0.1", agent.port(), path, seconds(5), "{}");
    CHECK(post.status == 405);
  }
}

}  // namespace
}  // namespace pgre::testing
