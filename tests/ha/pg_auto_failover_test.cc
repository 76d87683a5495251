// The agent beside a real pg_auto_failover formation (a monitor and two
// nodes on loopback, support/auto_failover.h), writes running through the
// node the monitor calls primary, `pg_autoctl perform switchover` followed
// as with Patroni: sampled every half second, the agent names the monitor's
// new primary within one poll interval plus one second of the monitor
// reporting it (primary or wait_primary), never names the other while the
// monitor has one for longer than that, keeps the streaming replica's lag
// under 1.5 s, and takes the demoted node into the read rotation only once
// it streams from the new primary. No discovery: the agent lists both.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/agent.h"
#include "support/auto_failover.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kBound = 0.5 + 1.0 + 0.5;  // poll + 1 s + a sample

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Sample {
  double t = 0;
  std::optional<std::string> monitor;  // the monitor's primary
  std::optional<std::string> agent;    // the agent's (state ok)
  std::optional<double> replica_lag;   // the other node's, agent's view
  std::string replica;                 // its name
  bool replica_in_rotation = false;
  bool replica_streams = false;  // the primary lists it streaming
};

TEST_CASE("pg_auto_failover: a switchover followed", "[autofailover]") {
  TestAutoFailover f;
  std::ostringstream y;
  y << "cluster: paf\npoll_interval: 500ms\nconnect_timeout: 2s\n"
    << "query_timeout: 2s\n"
    << "primary:\n  name: node1\n  dsn: \"" << f.Dsn(0) << "\"\n"
    << "  application_name: " << f.ApplicationName(0) << "\n"
    << "replicas:\n  - name: node2\n    dsn: \"" << f.Dsn(1) << "\"\n"
    << "    application_name: " << f.ApplicationName(1) << "\n"
    << "routing:\n  health_check_interval: 500ms\n"
    << "  synthetic_check_interval: 500ms\n  fall: 2\n  rise: 2\n";
  AgentOptions options;
  options.start_timeout = seconds(30);
  AgentProcess agent(y.str(), 2, options);
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_healthy", {{"server", "node2"}}) == 1;
      },
      seconds(30), milliseconds(200)));

  std::atomic<bool> stop{false};
  std::jthread writer([&] {
    while (!stop) {
      try {
        f.Write();
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(milliseconds(150));
    }
  });
  std::mutex mu;
  std::vector<Sample> samples;
  std::jthread sampler([&](std::stop_token st) {
    while (!st.stop_requested()) {
      const double next = Now() + 0.5;
      Sample s;
      s.t = Now();
      s.monitor = f.Primary();
      try {
        const JsonAnswer a =
            agent.GetJson("/v1/system/database/replicas/status");
        if (a.body["topology"].value("state", "") == "ok") {
          s.agent = a.body["topology"]["primary"].get<std::string>();
        }
        const json& r = a.body["replicas"].at(0);
        s.replica = r.value("name", "");
        if (r["lagSeconds"].is_number()) s.replica_lag = r["lagSeconds"];
        s.replica_in_rotation = r["inRotation"] == true;
        if (s.monitor) {
          const int p = *s.monitor == "node1" ? 0 : 1;
          s.replica_streams =
              f.Psql(p,
                     "SELECT count(*) FROM pg_stat_replication WHERE "
                     "application_name = '" +
                         f.ApplicationName(1 - p) +
                         "' AND state = 'streaming'") == "1";
        }
      } catch (const std::exception&) {
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        samples.push_back(s);
      }
      while (!st.stop_requested() && Now() < next) {
        std::this_thread::sleep_for(milliseconds(20));
      }
    }
  });
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return samples.size();
  };
  REQUIRE(WaitUntil([&] { return count() >= 4; }, seconds(30)));
  f.Switchover();
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric("pg_replica_healthy", {{"server", "node1"}}) == 1;
      },
      seconds(60), milliseconds(200)));
  const std::size_t settled = count();
  REQUIRE(WaitUntil([&] { return count() >= settled + 6; }, seconds(30)));
  sampler.request_stop();
  sampler.join();
  stop = true;

  std::string record;
  for (const Sample& s : samples) {
    record += "+" + std::to_string(s.t - samples.front().t) +
              " monitor=" + s.monitor.value_or("-") +
              " agent=" + s.agent.value_or("-") + " " + s.replica +
              " lag=" + (s.replica_lag ? std::to_string(*s.replica_lag) : "-") +
              (s.replica_in_rotation ? " in" : " out") +
              (s.replica_streams ? " streams" : "") + "\n";
  }
  INFO(record);
  // The monitor names node2; the agent within the bound.
  double named = -1, agent_named = -1;
  for (const Sample& s : samples) {
    if (named < 0 && s.monitor == "node2") named = s.t;
    if (named >= 0 && agent_named < 0 && s.agent == "node2") agent_named = s.t;
  }
  REQUIRE(named >= 0);
  REQUIRE(agent_named >= 0);
  std::printf("figure autofailover.primary_named_after %.2f s\n",
              agent_named - named);
  CHECK(agent_named - named <= kBound);
  // Never the other one for longer than that while the monitor has one.
  double wrong_since = -1;
  for (const Sample& s : samples) {
    const bool wrong = s.monitor && s.agent && s.agent != s.monitor;
    if (wrong && wrong_since < 0) wrong_since = s.t;
    if (!wrong) wrong_since = -1;
    CHECK((wrong_since < 0 || s.t - wrong_since <= kBound));
  }
  // Lag while streaming (steadily, for a sample), and the demoted node in
  // the rotation only once it streams.
  for (std::size_t k = 1; k < samples.size(); ++k) {
    const Sample& s = samples[k];
    if (s.replica_streams && samples[k - 1].replica_streams &&
        s.replica == samples[k - 1].replica && s.replica_lag) {
      CHECK(*s.replica_lag < 1.5);
    }
    if (s.replica_in_rotation && !samples[k - 1].replica_in_rotation) {
      CHECK((s.replica_streams || samples[k - 1].replica_streams));
    }
  }
  // The demoted node1 is the replica at the end, in rotation.
  CHECK(samples.back().replica == "node1");
  CHECK(samples.back().replica_in_rotation);
}

}  // namespace
}  // namespace pgre::testing
