// End to end: an HA pair as a new user would run it (docs/scaling.md). Two
// agents with the same config watch one cluster (a primary, three streaming
// replicas); one Prometheus scrapes both in one job with the shipped rules
// (`for:` shortened, nothing else) and sends every alert to two
// Alertmanagers clustered over their gossip ports; a webhook counts what
// they deliver. The assertions are on notifications (one POST each), what a
// person on call receives:
//  - a replica paused past the lag threshold: one PgReplicaLagHigh
//    notification for its group, holding one alert without `instance`;
//  - one agent killed: the alert stays firing (no resolved notification
//    while the replica lags) and resolves once, when the replica catches
//    up;
//  - one Alertmanager killed: the resolution, and the next alert, still
//    arrive exactly once.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/prometheus_stack.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Labels = std::map<std::string, std::string>;

// Bound on each wait for a notification. The shortened rules need about
// 10 s, the second Alertmanager its peer timeout (5 s) more.
constexpr auto kDeliveryTimeout = seconds(90);
// How long a count must stay put to count as final: longer than the peer
// timeout (5 s: when the second Alertmanager would send what the first did
// not) plus group_wait and group_interval (1 s each) and a few evaluations.
constexpr auto kQuiet = seconds(15);

std::string Target(const AgentProcess& agent) {
  return "127.0.0.1:" + std::to_string(agent.port());
}

// Members are destroyed in reverse: the alerting stack, the agents, then
// the cluster.
struct HaEnv {
  HaEnv()
      : a(cluster),
        b(cluster),
        stack({Target(a), Target(b)}, ShippedRulesShortened()) {}

  std::string Diagnostics() {
    std::ostringstream out;
    out << stack.Diagnostics();
    for (AgentProcess* agent : {&a, &b}) {
      out << "== agent " << Target(*agent) << " log tail:\n"
          << TailLines(agent->Log(), 15);
    }
    return out.str();
  }

  TestCluster cluster;
  AgentProcess a;
  AgentProcess b;
  ClusteredAlertingStack stack;
};

// The group of PgReplicaLagHigh for `server` (the Alertmanager route
// groups by alertname, cluster, server, as config/alertmanager.yml does).
Labels LagGroup(const std::string& server) {
  return {{"alertname", "PgReplicaLagHigh"}, {"server", server}};
}

std::size_t Count(HaEnv& env, const Labels& group, const std::string& status) {
  return env.stack.sink().Notifications(group, status).size();
}

// Waits until `n` notifications of `group` with `status` arrived; fails
// with diagnostics at kDeliveryTimeout.
void RequireNotified(HaEnv& env, const Labels& group, const std::string& status,
                     std::size_t n = 1) {
  const bool arrived = WaitUntil([&] { return Count(env, group, status) >= n; },
                                 kDeliveryTimeout, milliseconds(200));
  if (!arrived) {
    FAIL("no " << status << " notification of " << group.at("alertname")
               << " for " << group.at("server") << " within "
               << kDeliveryTimeout.count() << " s\n"
               << env.Diagnostics());
  }
}

// For kQuiet: the number of notifications of `group` with `status` never
// exceeds `n`. Returns false (with the count in INFO) when it did.
bool StaysAt(HaEnv& env, const Labels& group, const std::string& status,
             std::size_t n) {
  const bool exceeded = WaitUntil([&] { return Count(env, group, status) > n; },
                                  kQuiet, milliseconds(200));
  return !exceeded;
}

// Every alert of every notification of `group`: one alert per
// notification, never carrying the agent's identity.
void CheckOneAlertWithoutInstance(HaEnv& env, const Labels& group) {
  for (const auto& n : env.stack.sink().Notifications(group)) {
    INFO(n.dump());
    const auto& alerts = n.at("alerts");
    CHECK(alerts.size() == 1);
    for (const auto& alert : alerts) {
      CHECK_FALSE(alert.at("labels").contains("instance"));
    }
  }
}

// Waits for the notification of `group` with `status`, then checks that
// it stays the only one (no copy from the other agent or Alertmanager) and
// holds one alert without `instance`.
void RequireExactlyOne(HaEnv& env, const Labels& group,
                       const std::string& status) {
  RequireNotified(env, group, status);
  INFO(env.Diagnostics());
  CHECK(StaysAt(env, group, status, 1));
  CheckOneAlertWithoutInstance(env, group);
}

TEST_CASE(
    "HA pair: two agents, one Prometheus, two clustered Alertmanagers: one "
    "PgReplicaLagHigh notification, firing while either agent runs, resolved "
    "once, and once more with one Alertmanager left",
    "[e2e][alerting][ha]") {
  HaEnv env;
  const PrometheusServer& prom = env.stack.prometheus();
  // Both agents scraped, every server seen by each.
  const bool scraped = WaitUntil(
      [&] {
        return OrFalse(
            [&] { return prom.Query("pg_replica_up == 1").size() == 8; });
      },
      seconds(60), milliseconds(250));
  if (!scraped)
    FAIL("Prometheus never saw 2 x 4 servers up\n" << env.Diagnostics());

  const int paused = 1;
  const Labels group = LagGroup(env.cluster.ReplicaName(paused));
  BackgroundWriter writer(env.cluster);
  env.cluster.PauseReplay(paused);

  // One notification, one alert in it, and no second one from the other
  // agent's copy or the other Alertmanager.
  RequireExactlyOne(env, group, "firing");
  CHECK(Count(env, group, "resolved") == 0);

  // Agent a dies (no goodbye): its series end, the alert is the same alert.
  env.a.process().Signal(SIGKILL);
  const std::string a_down = "up{instance=\"" + Target(env.a) + "\"} == 0";
  const bool seen_down = WaitUntil(
      [&] { return OrFalse([&] { return prom.Query(a_down).size() == 1; }); },
      seconds(30), milliseconds(250));
  REQUIRE(seen_down);
  {
    INFO(env.Diagnostics());
    CHECK(StaysAt(env, group, "firing", 1));
    CHECK(Count(env, group, "resolved") == 0);
    CHECK(env.stack.sink()
              .Find({{"alertname", "PgReplicaLagHigh"}}, "resolved")
              .empty());
    CHECK(prom.Query("ALERTS{alertname=\"PgReplicaLagHigh\",alertstate="
                     "\"firing\"}")
              .size() == 1);
  }

  // One Alertmanager dies too; the replica catches up: resolved once, by
  // the survivor, which knows from the gossip that the firing was sent.
  env.stack.alertmanager(0).Kill();
  env.cluster.ResumeReplay(paused);
  RequireExactlyOne(env, group, "resolved");
  CHECK(Count(env, group, "firing") == 1);

  // With one agent and one Alertmanager left, the next lagging replica is
  // still one notification.
  const int next = 2;
  const Labels next_group = LagGroup(env.cluster.ReplicaName(next));
  env.cluster.PauseReplay(next);
  RequireExactlyOne(env, next_group, "firing");
  env.cluster.ResumeReplay(next);
  CHECK(writer.failures() == 0);
}

}  // namespace
}  // namespace pgre::testing
