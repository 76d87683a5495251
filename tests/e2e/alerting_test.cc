// End to end: the shipped alert rules, proven through a real Prometheus and a
// real Alertmanager. Each test case starts a primary with three streaming
// replicas, the pg_replica_exporter binary watching them, Prometheus scraping
// it every second and evaluating a copy of rules/pg_replica_exporter.rules.yml
// whose `for:` durations are shortened (nothing else changes), and
// Alertmanager delivering every alert to a webhook sink in this process.
// The assertions are on what the webhook received.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/metrics_text.h"
#include "support/prometheus_stack.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Labels = std::map<std::string, std::string>;

// Bound on each wait for an alert to be delivered or resolved. The shortened
// rules need about 15 s; the rest is slack for a loaded machine.
constexpr auto kDeliveryTimeout = seconds(90);

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The shipped rule file with every `for:` shortened (see
// ShortenRuleForDurations' default scaling: d/12 clamped to 2..5 s, so 1m ->
// 5s). Asserts that one `for:` per alert was rewritten and that no other
// line changed, i.e. expressions and thresholds are the shipped ones.
std::string DerivedRules() {
  const std::string shipped = ReadFileOrEmpty(
      std::string(PGRE_SOURCE_DIR) + "/rules/pg_replica_exporter.rules.yml");
  REQUIRE_FALSE(shipped.empty());
  int rewritten = 0;
  const std::string derived = ShortenRuleForDurations(shipped, {}, &rewritten);

  const std::regex alert_line(R"(^\s*- alert:\s*\S+\s*$)");
  const std::regex for_line(R"(^(\s*)for:\s*\S+\s*$)");
  const auto before = SplitLines(shipped);
  const auto after = SplitLines(derived);
  int alerts = 0;
  for (const auto& line : before) alerts += std::regex_match(line, alert_line);
  REQUIRE(alerts > 0);
  CHECK(rewritten == alerts);
  REQUIRE(before.size() == after.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    INFO("line " << i + 1 << ": " << before[i] << " -> " << after[i]);
    std::smatch a, b;
    REQUIRE(std::regex_match(before[i], a, for_line));
    REQUIRE(std::regex_match(after[i], b, for_line));
    REQUIRE(a[1].str() == b[1].str());
  }
  return derived;
}

// A cluster, the agent watching it (AgentProcess defaults: 500 ms polls and
// health checks, fall 2 / rise 2) and the alerting stack scraping the agent.
// Members are destroyed in reverse: Prometheus and Alertmanager first, then
// the agent, then the cluster.
struct Env {
  Env()
      : agent(cluster),
        stack("127.0.0.1:" + std::to_string(agent.port()), DerivedRules()) {}

  // The stack's diagnostics, the agent's view of the relevant series, and
  // the agent's log tail. Never throws.
  std::string Diagnostics() const {
    std::ostringstream out;
    out << stack.Diagnostics();
    out << "== agent metrics:\n";
    try {
      const auto samples = agent.Scrape();
      for (const char* name :
           {"pg_replica_up", "pg_replica_lag_seconds", "pg_replica_healthy",
            "pg_replica_replay_paused", "pg_replica_read_failover_active"}) {
        for (const auto& s : FindAll(samples, name)) {
          auto it = s.labels.find("server");
          out << "  " << name << "{" << (it == s.labels.end() ? "" : it->second)
              << "} " << s.value << "\n";
        }
      }
    } catch (const std::exception& e) {
      out << "  (scrape failed: " << e.what() << ")\n";
    }
    out << "== agent log tail:\n" << TailLines(agent.Log(), 30);
    return out.str();
  }

  TestCluster cluster;
  AgentProcess agent;
  AlertingStack stack;
};

// Waits until Prometheus has scraped every server as up and has evaluated
// every rule group at least twice since, with every rule healthy.
void WaitScrapedAndEvaluated(const Env& env) {
  const PrometheusServer& prom = env.stack.prometheus();
  const bool scraped = WaitUntil(
      [&] {
        return OrFalse(
            [&] { return prom.Query("pg_replica_up == 1").size() == 4; });
      },
      seconds(60), milliseconds(250));
  if (!scraped) {
    FAIL("Prometheus never saw 4 servers up\n" << env.Diagnostics());
  }

  // lastEvaluation of each group, as Prometheus reports it.
  auto evaluations = [&] {
    std::map<std::string, std::string> last;
    for (const auto& g : prom.RuleGroups()) {
      last[g.at("name").get<std::string>()] =
          g.value("lastEvaluation", std::string());
    }
    return last;
  };
  for (int round = 0; round < 2; ++round) {
    const auto before = evaluations();
    REQUIRE_FALSE(before.empty());
    const bool evaluated = WaitUntil(
        [&] {
          return OrFalse([&] {
            const auto now = evaluations();
            for (const auto& [group, at] : before) {
              auto it = now.find(group);
              if (it == now.end() || it->second == at) return false;
            }
            return true;
          });
        },
        seconds(30), milliseconds(250));
    if (!evaluated) {
      FAIL("rule groups were not evaluated\n" << env.Diagnostics());
    }
  }
  for (const auto& g : prom.RuleGroups()) {
    for (const auto& r : g.at("rules")) {
      INFO(g.value("name", std::string())
           << "/" << r.value("name", std::string()) << ": " << r.dump());
      CHECK(r.value("health", std::string()) == "ok");
    }
  }
}

// The alert's label `name`, or "<absent>".
std::string Label(const DeliveredAlert& alert, const std::string& name) {
  auto it = alert.labels.find(name);
  return it == alert.labels.end() ? "<absent>" : it->second;
}

// Waits until the sink received an alert with `labels` and `status`; fails
// the test with diagnostics at kDeliveryTimeout. Returns the first such
// alert.
DeliveredAlert RequireDelivered(const Env& env, const Labels& labels,
                                const std::string& status) {
  const WebhookSink& sink = env.stack.sink();
  const bool delivered =
      WaitUntil([&] { return !sink.Find(labels, status).empty(); },
                kDeliveryTimeout, milliseconds(200));
  std::ostringstream what;
  for (const auto& [k, v] : labels) what << k << "=" << v << " ";
  if (!delivered) {
    FAIL("no " << status << " alert " << what.str() << "delivered within "
               << kDeliveryTimeout.count() << "s\n"
               << env.Diagnostics());
  }
  return sink.Find(labels, status).front();
}

TEST_CASE("the shipped rules' derived copy shortens only `for:`",
          "[e2e][alerting]") {
  const std::string derived = DerivedRules();
  // 1m -> 5s, 30s -> 2.5s, longer ones capped at 5s.
  CHECK(derived.find("for: 5s") != std::string::npos);
  CHECK(derived.find("for: 2500ms") != std::string::npos);
  CHECK(derived.find("for: 1m") == std::string::npos);
  CHECK(derived.find("(pg_replica_lag_seconds) > 5\n") != std::string::npos);
}

TEST_CASE(
    "paused replay on one replica delivers PgReplicaLagHigh for it, and its "
    "resolution once replay resumes",
    "[e2e][alerting]") {
  Env env;
  WaitScrapedAndEvaluated(env);
  const int paused = 1;
  const std::string paused_name = env.cluster.ReplicaName(paused);
  const Labels lag_high = {{"alertname", "PgReplicaLagHigh"},
                           {"server", paused_name}};

  env.cluster.PauseReplay(paused);
  BackgroundWriter writer(env.cluster);

  const DeliveredAlert firing = RequireDelivered(env, lag_high, "firing");
  CHECK(Label(firing, "alertname") == "PgReplicaLagHigh");
  CHECK(Label(firing, "server") == paused_name);
  CHECK(Label(firing, "severity") == "warning");
  CHECK(Label(firing, "cluster") == "test");
  CHECK(Label(firing, "job") == "pg_replica_exporter");
  CHECK(firing.annotations.count("runbook_url") == 1);

  env.cluster.ResumeReplay(paused);
  const DeliveredAlert resolved = RequireDelivered(env, lag_high, "resolved");
  CHECK(resolved.labels == firing.labels);
  CHECK(resolved.received >= firing.received);

  CHECK(writer.failures() == 0);
  CHECK(writer.writes() > 0);
  INFO(env.stack.sink().Summary());
  for (int i = 0; i < env.cluster.replica_count(); ++i) {
    if (i == paused) continue;
    INFO(env.cluster.ReplicaName(i));
    CHECK(env.stack.sink()
              .Find({{"alertname", "PgReplicaLagHigh"},
                     {"server", env.cluster.ReplicaName(i)}})
              .empty());
  }
}

TEST_CASE(
    "a promotion delivers PgPrimaryChanged once, and PgReplicaLagHigh still "
    "fires for a paused replica measured against the new primary",
    "[e2e][alerting]") {
  Env env;
  WaitScrapedAndEvaluated(env);
  BackgroundWriter writer(env.cluster);
  env.cluster.Stop(TestCluster::kPrimary);
  env.cluster.Promote(0);  // replica1
  env.cluster.Follow(1, 0);
  env.cluster.Follow(2, 0);

  const DeliveredAlert changed =
      RequireDelivered(env, {{"alertname", "PgPrimaryChanged"}}, "firing");
  CHECK(Label(changed, "cluster") == "test");
  CHECK(Label(changed, "severity") == "warning");
  CHECK(RequireDelivered(env, {{"alertname", "PgTimelineChanged"}}, "firing")
            .labels.count("server") == 0);

  const std::string paused = env.cluster.ReplicaName(1);
  env.cluster.PauseReplay(1);
  const DeliveredAlert lag = RequireDelivered(
      env, {{"alertname", "PgReplicaLagHigh"}, {"server", paused}}, "firing");
  CHECK(Label(lag, "severity") == "warning");
  env.cluster.ResumeReplay(1);
  INFO(env.stack.sink().Summary());
  // One change, one alert: never a second firing notification of a new
  // alert for the same change.
  CHECK(env.stack.prometheus()
            .Query("pg_replica_primary_changes_total == 1")
            .size() == 1);
  CHECK(writer.writes() > 0);
}

TEST_CASE(
    "all replicas stopped delivers PgReadFailoverActive, and its resolution "
    "once they are back",
    "[e2e][alerting]") {
  Env env;
  WaitScrapedAndEvaluated(env);
  const Labels failover = {{"alertname", "PgReadFailoverActive"}};
  REQUIRE(env.stack.sink().Find(failover).empty());

  for (int i = 0; i < env.cluster.replica_count(); ++i) env.cluster.Stop(i);

  const DeliveredAlert firing = RequireDelivered(env, failover, "firing");
  CHECK(Label(firing, "severity") == "critical");
  CHECK(Label(firing, "cluster") == "test");
  CHECK(firing.labels.count("server") == 0);  // cluster-wide
  CHECK(firing.annotations.count("summary") == 1);

  for (int i = 0; i < env.cluster.replica_count(); ++i) env.cluster.Start(i);
  const DeliveredAlert resolved = RequireDelivered(env, failover, "resolved");
  CHECK(resolved.labels == firing.labels);
}

TEST_CASE("an idle, healthy cluster delivers no alert", "[e2e][alerting]") {
  Env env;
  WaitScrapedAndEvaluated(env);
  const PrometheusServer& prom = env.stack.prometheus();

  // Watch Prometheus' pending and firing alerts for 25 s (25 evaluations);
  // `samples` counts the successful looks.
  std::set<std::string> seen;
  int samples = 0;
  WaitUntil(
      [&] {
        OrFalse([&] {
          for (const auto& a : prom.Alerts()) {
            seen.insert(a.value("state", std::string()) + " " +
                        a.at("labels").dump());
          }
          ++samples;
          return true;
        });
        return false;
      },
      seconds(25), seconds(1));

  std::ostringstream seen_text;
  for (const auto& s : seen) seen_text << "  " << s << "\n";
  INFO("alerts seen in Prometheus:\n" << seen_text.str());
  INFO(env.Diagnostics());
  CHECK(samples >= 10);
  CHECK(seen.empty());
  CHECK(env.stack.sink().payload_count() == 0);
  CHECK(env.stack.sink().InvalidBodies().empty());
  // Scraping and evaluating went on all along.
  CHECK(prom.Query("pg_replica_up == 1").size() == 4);
  CHECK(prom.Query("ALERTS").empty());
}

}  // namespace
}  // namespace pgre::testing
