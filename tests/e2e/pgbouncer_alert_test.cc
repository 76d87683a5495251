// End to end: the shipped PgBouncer alert rules through a real Prometheus.
// A primary with one streaming replica, Debian's real pgbouncer in front of
// both (tests/support/pgbouncer.h, pools of two server connections), the
// pg_replica_exporter binary with that pgbouncer in its `pgbouncers:`, and
// Prometheus scraping it every second and evaluating a copy of
// rules/pg_replica_exporter.rules.yml whose `for:` durations are shortened
// (ShortenRuleForDurations: 1m -> 5s; expressions and thresholds are the
// shipped ones). The assertions are on Prometheus's ALERTS series. Every
// wait has a deadline.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/pgbouncer.h"
#include "support/prometheus_stack.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Bound on each wait for an alert state. The shortened rules need about
// 10 s (maxwait over 1 s, then `for:` 5 s); the rest is slack for a loaded
// machine.
constexpr auto kAlertTimeout = seconds(90);

std::string Rules() {
  const std::string shipped = ReadFileOrEmpty(
      std::string(PGRE_SOURCE_DIR) + "/rules/pg_replica_exporter.rules.yml");
  REQUIRE_FALSE(shipped.empty());
  return ShortenRuleForDurations(shipped);
}

// Members are built in order (the agent's config lists the pgbouncer from
// the start) and destroyed in reverse.
struct Env {
  Env()
      : cluster(ClusterOptions{.replicas = 1}),
        bouncer(cluster, {.servers = {TestCluster::kPrimary, 0},
                          .pool_size = 2,
                          .max_client_conn = 50}),
        agent(cluster, Options()),
        prom(PromOptions()) {}

  AgentOptions Options() const {
    AgentOptions options;
    options.extra_yaml =
        "pgbouncers:\n"
        "  - name: bouncer1\n"
        "    dsn: \"" +
        bouncer.AdminDsn() +
        "\"\n"
        "    server: primary\n";
    return options;
  }

  PrometheusOptions PromOptions() const {
    PrometheusOptions options;
    options.scrape_target = "127.0.0.1:" + std::to_string(agent.port());
    options.rules_yaml = Rules();
    return options;
  }

  // The series of `promql` now, or an empty array when the query fails.
  json Query(const std::string& promql) const {
    try {
      return prom.Query(promql);
    } catch (const std::exception&) {
      return json::array();
    }
  }

  std::string Diagnostics() const {
    std::ostringstream out;
    for (const char* q :
         {"ALERTS", "pg_replica_pgbouncer_up",
          "pg_replica_pgbouncer_pool_maxwait_seconds",
          "pg_replica_pgbouncer_pool_client_waiting_connections",
          "pg_replica_pgbouncer_pool_utilization_ratio"}) {
      out << "== " << q << ": " << Query(q).dump() << "\n";
    }
    out << "== agent log tail:\n" << TailLines(agent.Log(), 20) << "\n";
    out << "== prometheus log tail:\n" << TailLines(prom.Log(), 10) << "\n";
    out << "== pgbouncer log tail:\n" << TailLines(bouncer.Log(), 10);
    return out.str();
  }

  // Waits until `promql` returns a series; fails with diagnostics at
  // `timeout`. Returns the first series' labels.
  std::map<std::string, std::string> RequireSeries(
      const std::string& what, const std::string& promql,
      milliseconds timeout = kAlertTimeout) const {
    json result = json::array();
    const bool ok = WaitUntil(
        [&] {
          result = Query(promql);
          return !result.empty();
        },
        timeout, milliseconds(250));
    if (!ok) {
      FAIL(what << ": no result of " << promql << " within "
                << timeout.count() / 1000 << "s\n"
                << Diagnostics());
    }
    return result.at(0).at("metric").get<std::map<std::string, std::string>>();
  }

  // Waits until `promql` returns nothing; fails with diagnostics at
  // `timeout`.
  void RequireNoSeries(const std::string& what, const std::string& promql,
                       milliseconds timeout = kAlertTimeout) const {
    const bool ok = WaitUntil(
        [&] { return OrFalse([&] { return prom.Query(promql).empty(); }); },
        timeout, milliseconds(250));
    if (!ok) {
      FAIL(what << ": " << promql << " still has results after "
                << timeout.count() / 1000 << "s\n"
                << Diagnostics());
    }
  }

  TestCluster cluster;
  TestPgBouncer bouncer;
  AgentProcess agent;
  PrometheusServer prom;
};

constexpr char kWaiting[] =
    "ALERTS{alertname=\"PgBouncerClientsWaiting\", pgbouncer=\"bouncer1\", "
    "database=\"primary\"";

TEST_CASE(
    "an exhausted pgbouncer pool with a waiting client makes "
    "PgBouncerClientsWaiting pending, then firing, and it resolves once the "
    "clients are gone, and a stopped pgbouncer fires PgBouncerDown",
    "[e2e][alerting][pgbouncer]") {
  Env env;
  env.RequireSeries("pgbouncer polled",
                    "pg_replica_pgbouncer_up{pgbouncer=\"bouncer1\"} == 1");
  // The rule is loaded and healthy, and nothing waits yet.
  bool loaded = false;
  for (const json& g : env.prom.RuleGroups()) {
    for (const json& r : g.at("rules")) {
      if (r.value("name", std::string()) == "PgBouncerClientsWaiting") {
        loaded = true;
        CHECK(r.value("health", std::string()) != "err");
      }
    }
  }
  CHECK(loaded);
  CHECK(env.Query("ALERTS{alertname=\"PgBouncerClientsWaiting\"}").empty());

  // Two clients hold the primary's pool (2 of pool_size 2), a third waits
  // in it: pending once maxwait is over pgbouncer.maxwait (1 s), firing
  // after the shortened `for:`.
  env.bouncer.Hold(TestCluster::kPrimary);
  env.bouncer.Hold(TestCluster::kPrimary);
  env.bouncer.Wait(TestCluster::kPrimary);

  // Watch both states in one loop: pending lasts only the `for:` (5 s).
  std::set<std::string> states;
  std::map<std::string, std::string> labels;
  const bool fired = WaitUntil(
      [&] {
        for (const json& s : env.Query(std::string(kWaiting) + "}")) {
          const auto l =
              s.at("metric").get<std::map<std::string, std::string>>();
          states.insert(l.at("alertstate"));
          if (l.at("alertstate") == "firing") labels = l;
        }
        return !labels.empty();
      },
      kAlertTimeout, milliseconds(250));
  if (!fired)
    FAIL("PgBouncerClientsWaiting never fired\n" << env.Diagnostics());
  CHECK(states.count("pending") == 1);
  CHECK(labels["cluster"] == "test");
  CHECK(labels["pgbouncer"] == "bouncer1");
  CHECK(labels["database"] == "primary");
  CHECK(labels["user"] == "postgres");
  CHECK(labels["server"] == "primary");
  CHECK(labels["severity"] == "warning");
  // The same exhausted pool is at 100 % of pool_size: over pool.critical.
  const auto critical = env.RequireSeries(
      "PgBouncerPoolUtilizationCritical",
      "ALERTS{alertname=\"PgBouncerPoolUtilizationCritical\", "
      "alertstate=\"firing\", pgbouncer=\"bouncer1\", database=\"primary\"}");
  CHECK(critical.at("cluster") == "test");
  // replica1's pool has no client waiting.
  CHECK(env.Query("ALERTS{alertname=\"PgBouncerClientsWaiting\", "
                  "database=\"replica1\"}")
            .empty());

  // The clients gone: the waiting client's maxwait drops to 0 and the
  // alert is no longer pending nor firing.
  env.bouncer.ReleaseClients();
  env.RequireNoSeries("PgBouncerClientsWaiting resolved",
                      std::string(kWaiting) + "}");
  env.RequireNoSeries("PgBouncerPoolUtilizationCritical resolved",
                      "ALERTS{alertname=\"PgBouncerPoolUtilizationCritical\"}");

  // pgbouncer stopped: PgBouncerDown fires for it; back, it resolves.
  env.bouncer.Stop();
  const auto down = env.RequireSeries(
      "PgBouncerDown",
      "ALERTS{alertname=\"PgBouncerDown\", alertstate=\"firing\", "
      "pgbouncer=\"bouncer1\"}");
  CHECK(down.at("cluster") == "test");
  CHECK(down.at("server") == "primary");
  CHECK(down.at("severity") == "critical");
  env.bouncer.Start();
  env.RequireNoSeries("PgBouncerDown resolved",
                      "ALERTS{alertname=\"PgBouncerDown\"}");
}

}  // namespace
}  // namespace pgre::testing
