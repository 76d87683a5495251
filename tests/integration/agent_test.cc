// The agent (the real pg_replica_exporter binary) against a real primary with
// three streaming replicas: lag under replay pause and a cut WAL receiver, a
// stopped and a hung (SIGSTOPped) replica, secrets, exposition format lint,
// clean shutdown.
//
// Each case starts from PolledAgent (support/agent.h: the agent on the
// cluster, every server seen up and every lag measured). Every wait is a
// ScrapeUntil or WaitUntil with a generous but bounded deadline: the tests
// run on a loaded 2-core machine.
#include "support/agent.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/cluster.h"
#include "support/subprocess.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kStep(200);

const std::vector<std::string> kServers = {"primary", "replica1", "replica2",
                                           "replica3"};
const std::vector<std::string> kJsonPaths = {
    "/v1/system/database/replicas/status",
    "/v1/system/database/replicas/health", "/v1/system/database/replicas/lag",
    "/v1/system/database/connection-pool/stats"};

// Runs `f` when the scope ends (also when an assertion throws).
template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ~ScopeGuard() {
    try {
      f_();
    } catch (...) {
    }
  }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  F f_;
};

// A file under /tmp with `content`, removed when the object goes.
class TempFile {
 public:
  TempFile(const std::string& suffix, const std::string& content) {
    std::string templ = "/tmp/pgre-itest-XXXXXX" + suffix;
    const int fd = mkstemps(templ.data(), static_cast<int>(suffix.size()));
    if (fd < 0) throw std::runtime_error("mkstemps failed");
    close(fd);
    path_ = templ;
    std::ofstream out(path_);
    out << content;
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CommandOptions WithTimeout(milliseconds timeout) {
  CommandOptions options;
  options.timeout = timeout;
  return options;
}

std::optional<double> ServerMetric(const std::vector<MetricSample>& samples,
                                   const std::string& name,
                                   const std::string& server) {
  return Find(samples, name, {{"server", server}});
}

// `server` has a lag figure over (under) `seconds`.
bool LagOver(const std::vector<MetricSample>& samples,
             const std::string& server, double seconds) {
  const auto lag = ServerMetric(samples, "pg_replica_lag_seconds", server);
  return lag && *lag > seconds;
}
bool LagUnder(const std::vector<MetricSample>& samples,
              const std::string& server, double seconds) {
  const auto lag = ServerMetric(samples, "pg_replica_lag_seconds", server);
  return lag && *lag < seconds;
}

TEST_CASE("all four servers up, idle lag under 1 s", "[agent][versions]") {
  TestCluster cluster;
  PolledAgent agent(cluster);
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

TEST_CASE("paused replay: lag passes 5 s on that replica only, then recovers",
          "[agent][versions]") {
  TestCluster cluster;
  PolledAgent agent(cluster);
  const int paused = 1;
  const std::string name = cluster.ReplicaName(paused);

  BackgroundWriter writer(cluster);
  cluster.PauseReplay(paused);

  const auto at_five = agent.ScrapeUntil(
      [&](const auto& s) { return LagOver(s, name, 5.0); }, seconds(30));
  INFO("writes " << writer.writes() << ", write errors " << writer.failures());
  REQUIRE(at_five);
  REQUIRE(writer.writes() > 0);
  CHECK(ServerMetric(*at_five, "pg_replica_replay_paused", name) == 1.0);
  CHECK(ServerMetric(*at_five, "pg_replica_lag_bytes", name) > 0.0);
  CHECK(ServerMetric(*at_five, "pg_replica_up", name) == 1.0);
  for (int i = 0; i < cluster.replica_count(); ++i) {
    if (i == paused) continue;
    const std::string other = cluster.ReplicaName(i);
    INFO(other);
    const auto lag = ServerMetric(*at_five, "pg_replica_lag_seconds", other);
    REQUIRE(lag);
    CHECK(*lag < 1.0);
    CHECK(ServerMetric(*at_five, "pg_replica_replay_paused", other) == 0.0);
  }

  cluster.ResumeReplay(paused);
  CHECK(agent.ScrapeUntil(
      [&](const auto& s) {
        return LagUnder(s, name, 1.0) &&
               ServerMetric(s, "pg_replica_replay_paused", name) == 0.0;
      },
      seconds(30)));
}

TEST_CASE("cut WAL receiver: lag grows, not streaming, then recovers",
          "[agent][versions]") {
  TestCluster cluster;
  PolledAgent agent(cluster);
  const int cut = 0;
  const std::string name = cluster.ReplicaName(cut);

  BackgroundWriter writer(cluster);
  cluster.CutWalReceiver(cut);

  const auto grown = agent.ScrapeUntil(
      [&](const auto& s) {
        return LagOver(s, name, 3.0) &&
               ServerMetric(s, "pg_replica_standby_connected", name) == 0.0;
      },
      seconds(30));
  INFO("writes " << writer.writes() << ", write errors " << writer.failures());
  REQUIRE(grown);
  REQUIRE(writer.writes() > 0);
  CHECK(ServerMetric(*grown, "pg_replica_up", name) == 1.0);
  CHECK(ServerMetric(*grown, "pg_replica_wal_receiver_streaming", name) == 0.0);
  CHECK(ServerMetric(*grown, "pg_replica_standby_connected", name) == 0.0);
  CHECK(ServerMetric(*grown, "pg_replica_lag_bytes", name) > 0.0);
  for (int i = 0; i < cluster.replica_count(); ++i) {
    if (i == cut) continue;
    const std::string other = cluster.ReplicaName(i);
    INFO(other);
    CHECK(ServerMetric(*grown, "pg_replica_wal_receiver_streaming", other) ==
          1.0);
    CHECK(ServerMetric(*grown, "pg_replica_standby_connected", other) == 1.0);
  }

  cluster.RestoreWalReceiver(cut);
  CHECK(agent.ScrapeUntil(
      [&](const auto& s) {
        return LagUnder(s, name, 1.0) &&
               ServerMetric(s, "pg_replica_wal_receiver_streaming", name) ==
                   1.0 &&
               ServerMetric(s, "pg_replica_standby_connected", name) == 1.0;
      },
      seconds(30)));
}

TEST_CASE("stopped replica: down with no lag series, then back with a lag",
          "[agent][versions]") {
  TestCluster cluster;
  PolledAgent agent(cluster);
  const int stopped = 2;
  const std::string name = cluster.ReplicaName(stopped);
  const double errors_before =
      ServerMetric(agent.Scrape(), "pg_replica_poll_errors_total", name)
          .value_or(0);

  cluster.Stop(stopped);
  const auto down = agent.ScrapeUntil(
      [&](const auto& s) {
        return ServerMetric(s, "pg_replica_up", name) == 0.0 &&
               ServerMetric(s, "pg_replica_poll_errors_total", name) >
                   errors_before;
      },
      seconds(20));
  REQUIRE(down);
  {
    const auto& samples = *down;
    // Absent, not 0 and not NaN.
    CHECK(
        FindAll(samples, "pg_replica_lag_seconds", {{"server", name}}).empty());
    CHECK(FindAll(samples, "pg_replica_lag_bytes", {{"server", name}}).empty());
    CHECK(FindAll(samples, "pg_replica_wal_receiver_streaming",
                  {{"server", name}})
              .empty());
    CHECK(Find(samples, "pg_replica_up",
               {{"server", name}, {"role", "replica"}}) == 0.0);
    for (const auto& s : kServers) {
      if (s == name) continue;
      INFO(s);
      CHECK(ServerMetric(samples, "pg_replica_up", s) == 1.0);
    }
    for (int i = 0; i < cluster.replica_count(); ++i) {
      if (i == stopped) continue;
      INFO(cluster.ReplicaName(i));
      CHECK(ServerMetric(samples, "pg_replica_lag_seconds",
                         cluster.ReplicaName(i)));
    }
  }
  // The error counter keeps counting while it stays down.
  const double errors_down =
      *ServerMetric(agent.Scrape(), "pg_replica_poll_errors_total", name);
  CHECK(agent.ScrapeUntil(
      [&](const auto& s) {
        return ServerMetric(s, "pg_replica_poll_errors_total", name) >
               errors_down;
      },
      seconds(20)));

  cluster.Start(stopped);
  // The reconnect backoff caps at 30 s.
  CHECK(agent.ScrapeUntil(
      [&](const auto& s) {
        return ServerMetric(s, "pg_replica_up", name) == 1.0 &&
               LagUnder(s, name, 1.0) &&
               ServerMetric(s, "pg_replica_lag_bytes", name).has_value();
      },
      seconds(60)));
}

TEST_CASE("SIGSTOPped replica: /metrics stays fast, the others keep polling",
          "[agent][tsan]") {
  TestCluster cluster;
  PolledAgent agent(cluster);  // query_timeout 2s, connect_timeout 2s
  const int hung = 1;
  const std::string name = cluster.ReplicaName(hung);

  cluster.SigStop(hung);
  ScopeGuard cont([&] { cluster.SigCont(hung); });

  int scrapes = 0;
  std::vector<MetricSample> samples;
  // Phase 1: the hung replica's poll times out and it goes down.
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        ++scrapes;
        return ServerMetric(samples, "pg_replica_up", name) == 0.0;
      },
      seconds(20), kStep));
  const auto hung_ts = ServerMetric(
      samples, "pg_replica_last_poll_success_timestamp_seconds", name);
  REQUIRE(hung_ts);
  std::map<std::string, double> others_ts;
  for (const auto& s : kServers) {
    if (s == name) continue;
    const auto ts = ServerMetric(
        samples, "pg_replica_last_poll_success_timestamp_seconds", s);
    REQUIRE(ts);
    others_ts[s] = *ts;
  }

  // Phase 2: for longer than query_timeout + connect_timeout, every scrape
  // answers fast, the others' successful polls advance, the hung one's not.
  const int phase1_scrapes = scrapes;
  REQUIRE(WaitUntil(
      [&] {
        samples = agent.Scrape(kFastAnswer);
        ++scrapes;
        INFO("scrape " << scrapes);
        REQUIRE(ServerMetric(samples, "pg_replica_up", name) == 0.0);
        REQUIRE(ServerMetric(samples,
                             "pg_replica_last_poll_success_timestamp_seconds",
                             name) == hung_ts);
        REQUIRE(FindAll(samples, "pg_replica_lag_seconds", {{"server", name}})
                    .empty());
        for (const auto& [s, ts] : others_ts) {
          const auto now = ServerMetric(
              samples, "pg_replica_last_poll_success_timestamp_seconds", s);
          if (!now || *now < ts + 5.0) return false;
        }
        return true;
      },
      seconds(40), kStep));
  CHECK(scrapes - phase1_scrapes >= 5);
  for (const auto& [s, ts] : others_ts) {
    INFO(s);
    CHECK(ServerMetric(samples, "pg_replica_up", s) == 1.0);
  }

  const HttpResponse status =
      agent.Get("/v1/system/database/replicas/status", kFastAnswer);
  REQUIRE(status.status == 200);
  const auto json = nlohmann::json::parse(status.body);
  bool found = false;
  for (const auto& r : json.at("replicas")) {
    if (r.at("name") == name) {
      found = true;
      CHECK(r.at("up") == false);
      CHECK(r.at("lagSeconds").is_null());
    } else {
      CHECK(r.at("up") == true);
    }
  }
  CHECK(found);
}

TEST_CASE("secrets: no password in metrics, JSON, logs or config errors",
          "[agent][secrets]") {
  const std::string password = "S3cr3t-pw-xyz";
  const std::string wrong = "Wr0ng-pw-abc";
  TestCluster cluster(ClusterOptions{.password = password});
  const int bad = 2;
  const std::string bad_name = cluster.ReplicaName(bad);

  AgentOptions options;
  std::string bad_dsn = cluster.ReplicaDsn(bad);
  const auto at = bad_dsn.find(password);
  REQUIRE(at != std::string::npos);  // the DSNs do carry the password
  bad_dsn.replace(at, password.size(), wrong);
  options.dsn_override[bad] = bad_dsn;
  options.extra_args = {"--log.level=debug"};
  AgentProcess agent(cluster, options);

  // A few polls: the others up (the right password works), the bad one
  // failing authentication repeatedly.
  REQUIRE(agent.ScrapeUntil(
      [&](const auto& samples) {
        for (const auto& s : kServers) {
          if (s == bad_name) continue;
          if (ServerMetric(samples, "pg_replica_up", s) != 1.0) return false;
        }
        return ServerMetric(samples, "pg_replica_up", bad_name) == 0.0 &&
               ServerMetric(samples, "pg_replica_poll_errors_total",
                            bad_name) >= 3.0 &&
               ServerMetric(samples, "pg_replica_healthy", "replica1")
                   .has_value();
      },
      seconds(30)));

  std::map<std::string, std::string> bodies;
  const HttpResponse metrics = agent.Get("/metrics");
  REQUIRE(metrics.status == 200);
  bodies["/metrics"] = metrics.body;
  for (const auto& path : kJsonPaths) {
    const HttpResponse r = agent.Get(path);
    INFO(path << ": " << r.status << " " << r.error);
    REQUIRE((r.status == 200 || r.status == 503));
    REQUIRE_NOTHROW(nlohmann::json::parse(r.body));
    bodies[path] = r.body;
  }
  bodies["log"] = agent.Log();
  for (const auto& [where, body] : bodies) {
    INFO(where << ":\n" << body);
    CHECK(body.find(password) == std::string::npos);
    CHECK(body.find(wrong) == std::string::npos);
  }
  // The failure itself did reach the log and the status endpoint.
  CHECK_THAT(bodies["log"], Catch::Contains("password authentication failed"));
  const auto status = nlohmann::json::parse(bodies[kJsonPaths[0]]);
  for (const auto& r : status.at("replicas")) {
    if (r.at("name") != bad_name) continue;
    REQUIRE(r.at("lastError").is_string());
    CHECK_THAT(r.at("lastError").get<std::string>(),
               Catch::Contains("password authentication failed"));
  }

  // --config.check prints no password, for a valid and for invalid configs.
  struct Case {
    std::string what;
    std::string yaml;
    int exit_code;
    std::string expect;  // a piece of the output
  };
  const std::string dsn = cluster.PrimaryDsn();
  const std::string uri =
      "postgresql://monitor:" + password + "@127.0.0.1:5432/postgres";
  const std::vector<Case> cases = {
      {"valid", "primary:\n  dsn: \"" + dsn + "\"\n", 0, "configuration OK"},
      {"unknown key", "primary:\n  dsn: \"" + dsn + "\"\nbogus_key: 1\n", 2,
       "bogus_key"},
      {"unknown key, URI dsn",
       "primary:\n  dsn: \"" + uri + "\"\nbogus_key: 1\n", 2, "bogus_key"},
      {"unparsable key=value dsn",
       "primary:\n  dsn: \"host=127.0.0.1 password=" + password +
           " nonsense\"\n",
       2, "dsn"},
      {"unparsable URI dsn (libpq quotes it)",
       "primary:\n  dsn: \"postgresql://monitor:" + password +
           "@[::1/postgres\"\n",
       2, "dsn"},
      {"bad duration", "primary:\n  dsn: \"" + dsn + "\"\npoll_interval: x\n",
       2, "poll_interval"},
  };
  for (const auto& c : cases) {
    TempFile config(".yml", c.yaml);
    std::string output;
    const int rc = RunCommand(
        {PGRE_BINARY, "--config.check", "--config.file=" + config.path()},
        &output, WithTimeout(seconds(30)));
    INFO(c.what << ": exit " << rc << ", output:\n" << output);
    CHECK(rc == c.exit_code);
    CHECK(output.find(password) == std::string::npos);
    CHECK_THAT(output, Catch::Contains(c.expect));
  }
}

TEST_CASE("promtool check metrics on a real scrape is clean", "[agent]") {
  TestCluster cluster;
  PolledAgent agent(cluster);
  // Wait for the routing model's series too, so every family is linted.
  REQUIRE(agent.ScrapeUntil(
      [&](const auto& s) {
        return Find(s, "pg_replica_healthy").has_value() &&
               Find(s, "pg_replica_synthetic_check_success").has_value() &&
               Find(s, "pg_replica_stat_replication_info").has_value();
      },
      seconds(30)));
  const HttpResponse r = agent.Get("/metrics");
  REQUIRE(r.status == 200);
  TempFile body(".prom", r.body);
  std::string output;
  const int rc =
      RunCommand({"sh", "-c", "promtool check metrics < '" + body.path() + "'"},
                 &output, WithTimeout(seconds(60)));
  INFO("promtool exit " << rc << ":\n" << output);
  CHECK(rc == 0);
  CHECK(output.empty());
}

TEST_CASE("SIGTERM stops the agent cleanly with exit code 0", "[agent]") {
  TestCluster cluster;
  PolledAgent agent(cluster);

  SECTION("all servers answering") {}
  SECTION("with a hung (SIGSTOPped) replica mid-poll") {
    cluster.SigStop(0);
    // Its poll is now stuck until query_timeout; terminate meanwhile.
  }
  ScopeGuard cont([&] { cluster.SigCont(0); });
  REQUIRE(agent.process().Signal(SIGTERM));
  const int rc = agent.process().Wait(seconds(10));
  INFO(agent.Log());
  CHECK(rc == 0);
  CHECK_THAT(agent.Log(), Catch::Contains("stopped"));
}

}  // namespace
}  // namespace pgre::testing
