// End to end: every query of the shipped Grafana dashboards, run against a
// real Prometheus that scrapes the real agent watching a real cluster, in
// the scenarios the dashboards are for.
//
// A primary with three streaming replicas, the agent, and Prometheus
// scraping it every second under a job name that is not config/
// prometheus.yml's, evaluating the shipped rules (`for:` shortened, the
// PgReplicaExporterDown job matcher pointed at this job). The scenarios of
// dashboards/grafana.py (SCENARIOS) are driven one after the other; in each,
// every query of every panel, variable and annotation of dashboards/*.json
// is sent to Prometheus's HTTP API the way Grafana sends it (variables from
// their own queries, $__interval/$__rate_interval/$__range from the
// scenario's time range, range queries for graphs, instant ones for tables).
// Every query must parse in every scenario and return data in each scenario
// its panel declares (`python3 dashboards/generate.py --queries`).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/thresholds.h"
#include "support/agent.h"
#include "support/cluster.h"
#include "support/pgbouncer.h"
#include "support/prometheus_stack.h"
#include "support/subprocess.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Not config/prometheus.yml's job name: no query may depend on it.
constexpr char kJob[] = "pgre-dashboards-e2e";
// Prometheus's scrape interval in seconds (the datasource's "scrape
// interval", which Grafana's $__rate_interval is computed from).
constexpr int kScrapeSeconds = 1;
// Grafana's max data points for a panel (about its width in pixels).
constexpr int kMaxDataPoints = 1000;
// An inactive physical slot on the primary (scenario slot_inactive).
constexpr char kOrphanSlot[] = "pgre_dashboards_orphan";

const std::string kSource = PGRE_SOURCE_DIR;

// One query of a dashboard, as generate.py --queries declares it.
struct Proof {
  std::string dashboard;  // uid
  std::string where;  // "panel Replication lag (seconds)", "variable server"
  std::string ref;    // refId, or the variable / annotation name
  std::string expr;
  std::string kind;  // range | instant | variable | annotation
  std::string step;  // annotation only
  std::set<std::string> scenarios;

  std::string Name() const {
    return dashboard + ": " + where + " [" + ref + "]: " + expr;
  }
};

std::vector<Proof> DeclaredProofs() {
  std::string out, err;
  CommandOptions options;
  options.errors = &err;
  const int rc =
      RunCommand({"python3", kSource + "/dashboards/generate.py", "--queries"},
                 &out, options);
  INFO(err);
  REQUIRE(rc == 0);
  std::vector<Proof> proofs;
  for (const json& p : json::parse(out)) {
    Proof proof{
        p.at("dashboard"), p.at("where"),       p.at("ref"), p.at("expr"),
        p.at("kind"),      p.value("step", ""), {}};
    for (const auto& s : p.at("scenarios")) proof.scenarios.insert(s);
    proofs.push_back(std::move(proof));
  }
  return proofs;
}

// The committed dashboards, by uid.
std::map<std::string, json> ShippedDashboards() {
  std::map<std::string, json> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSource + "/dashboards")) {
    if (entry.path().extension() != ".json") continue;
    json d = json::parse(ReadFileOrEmpty(entry.path().string()));
    const std::string uid = d.at("uid");
    out[uid] = std::move(d);
  }
  return out;
}

// Every query expression of a dashboard: panel targets (rows' nested
// panels too), query variables, annotation queries.
std::multiset<std::string> Expressions(const json& dashboard) {
  std::multiset<std::string> out;
  std::function<void(const json&)> panels = [&](const json& list) {
    for (const json& p : list) {
      for (const json& t : p.value("targets", json::array())) {
        out.insert(t.value("expr", ""));
      }
      panels(p.value("panels", json::array()));
    }
  };
  panels(dashboard.value("panels", json::array()));
  for (const json& v : dashboard["templating"].value("list", json::array())) {
    if (v.value("type", "") != "query") continue;
    const json& q = v.at("query");
    out.insert(q.is_object() ? q.value("query", "") : q.get<std::string>());
  }
  for (const json& a : dashboard["annotations"].value("list", json::array())) {
    if (a.contains("expr")) out.insert(a.value("expr", ""));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Grafana's side: time range, interval variables, template variables.
// ---------------------------------------------------------------------------

std::string Seconds(double s) {
  std::ostringstream out;
  out.precision(3);
  out << std::fixed << s;
  return out.str();
}

// A dashboard time range and the built-in variables Grafana derives from
// it: $__interval = max(range / max data points, scrape interval), rounded
// up to whole seconds; $__rate_interval = max($__interval + scrape
// interval, 4 * scrape interval); $__range = the range in seconds.
struct TimeRange {
  double start = 0, end = 0;

  int RangeSeconds() const {
    return std::max(1, static_cast<int>(std::lround(end - start)));
  }
  int IntervalSeconds() const {
    return std::max(
        kScrapeSeconds,
        static_cast<int>(std::ceil(RangeSeconds() / double(kMaxDataPoints))));
  }
  std::map<std::string, std::string> Builtins() const {
    const int interval = IntervalSeconds();
    const int rate = std::max(interval + kScrapeSeconds, 4 * kScrapeSeconds);
    return {{"__interval", std::to_string(interval) + "s"},
            {"__interval_ms", std::to_string(interval * 1000)},
            {"__rate_interval", std::to_string(rate) + "s"},
            {"__range", std::to_string(RangeSeconds()) + "s"},
            {"__range_s", std::to_string(RangeSeconds())},
            {"__range_ms", std::to_string(RangeSeconds() * 1000)}};
  }
};

// Grafana's multi-value (and All) form for Prometheus: (a|b|c), each value
// regex-escaped with the backslash doubled, as it goes into a PromQL string.
std::string RegexOf(const std::vector<std::string>& values) {
  static const std::regex special(R"([\\^$.|?*+()\[\]{}'])");
  std::string out = "(";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += "|";
    out += std::regex_replace(values[i], special, R"(\\$&)");
  }
  return out + ")";
}

// Replaces $name, ${name} and [[name]] by vars[name]; an unknown variable
// is an error (returned in *unknown).
std::string Substitute(const std::string& expr,
                       const std::map<std::string, std::string>& vars,
                       std::string* unknown) {
  static const std::regex var(R"(\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\])");
  std::string out;
  auto begin = std::sregex_iterator(expr.begin(), expr.end(), var);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const std::string name =
        m[1].matched ? m[1].str() : (m[2].matched ? m[2].str() : m[3].str());
    out += expr.substr(last, m.position() - last);
    auto found = vars.find(name);
    if (found == vars.end()) {
      *unknown = name;
      out += m.str();
    } else {
      out += found->second;
    }
    last = m.position() + m.length();
  }
  return out + expr.substr(last);
}

// label_values(SELECTOR, LABEL)
bool ParseLabelValues(const std::string& expr, std::string* selector,
                      std::string* label) {
  static const std::regex re(R"(^\s*label_values\((.*),\s*(\w+)\s*\)\s*$)");
  std::smatch m;
  if (!std::regex_match(expr, m, re)) return false;
  *selector = m[1];
  *label = m[2];
  return true;
}

// ---------------------------------------------------------------------------
// The environment and the scenarios.
// ---------------------------------------------------------------------------

// The shipped rules with `for:` shortened and the job matcher of
// PgReplicaExporterDown pointed at kJob.
std::string Rules() {
  std::string rules =
      ReadFileOrEmpty(kSource + "/rules/pg_replica_exporter.rules.yml");
  REQUIRE_FALSE(rules.empty());
  rules = ShortenRuleForDurations(rules);
  const std::string from = "job=\"pg_replica_exporter\"";
  const std::string to = std::string("job=\"") + kJob + "\"";
  int replaced = 0;
  for (std::size_t pos; (pos = rules.find(from)) != std::string::npos;
       ++replaced) {
    rules.replace(pos, from.size(), to);
  }
  CHECK(replaced == 2);
  return rules;
}

// Prometheus's clock (the query API's `time()`), in seconds.
double PromNow(const PrometheusServer& prom) {
  return std::stod(prom.Query("time()").at(1).get<std::string>());
}

bool NonEmpty(const json& data) {
  const json& result = data.at("result");
  return result.is_array() && !result.empty();
}

// Prometheus scraping the agent on `port` as kJob, with Rules().
PrometheusOptions PrometheusFor(int port) {
  PrometheusOptions options;
  options.scrape_target = "127.0.0.1:" + std::to_string(port);
  options.rules_yaml = Rules();
  options.job_name = kJob;
  return options;
}

// Members are built in order: the cluster, the pgbouncers in front of it,
// the agent (its config lists them from the start), Prometheus.
struct Env {
  // The heartbeat on, so that its panels have data; a pgbouncer in front of
  // the primary and one in front of replica1 (scenario pgbouncer), pools of
  // two server connections so that two held clients exhaust one.
  Env()
      : primary_bouncer(cluster, {.servers = {TestCluster::kPrimary},
                                  .pool_size = 2,
                                  .max_client_conn = 50}),
        replica_bouncer(
            cluster, {.servers = {0}, .pool_size = 2, .max_client_conn = 50}),
        agent(cluster, Options()),
        prom(PrometheusFor(agent.port())) {}

  AgentOptions Options() const {
    AgentOptions options;
    options.extra_yaml =
        "heartbeat:\n  enabled: true\n"
        "pgbouncers:\n"
        "  - name: bouncer-primary\n"
        "    dsn: \"" +
        primary_bouncer.AdminDsn() +
        "\"\n"
        "    server: primary\n"
        "  - name: bouncer-replica1\n"
        "    dsn: \"" +
        replica_bouncer.AdminDsn() +
        "\"\n"
        "    server: " +
        cluster.ReplicaName(0) + "\n";
    return options;
  }

  // Waits until `promql` returns at least one series (or `count`).
  void WaitFor(const std::string& what, const std::string& promql,
               std::size_t count = 1, milliseconds timeout = seconds(90)) {
    const bool ok = WaitUntil(
        [&] {
          return OrFalse([&] { return prom.Query(promql).size() >= count; });
        },
        timeout, milliseconds(250));
    if (!ok) {
      FAIL(what << ": no " << count << " result(s) of " << promql << " within "
                << timeout.count() / 1000 << "s\n"
                << TailLines(agent.Log(), 20) << "\n"
                << TailLines(prom.Log(), 10));
    }
  }

  // The scenario's time range: from now (Prometheus's clock) until
  // Prometheus holds `hold` seconds of scrapes after it, enough samples for
  // every rate over $__rate_interval.
  TimeRange Hold(int hold = 6) {
    TimeRange range;
    range.start = PromNow(prom);
    const std::string last = std::string("timestamp(up{job=\"") + kJob + "\"})";
    const bool ok = WaitUntil(
        [&] {
          return OrFalse([&] {
            const json r = prom.Query(last);
            return !r.empty() &&
                   std::stod(r.at(0).at("value").at(1).get<std::string>()) >=
                       range.start + hold;
          });
        },
        seconds(60), milliseconds(250));
    REQUIRE(ok);
    range.end = PromNow(prom);
    return range;
  }

  TestCluster cluster;
  TestPgBouncer primary_bouncer;
  TestPgBouncer replica_bouncer;
  AgentProcess agent;
  PrometheusServer prom;
};

// What every query returned, per scenario.
class Prover {
 public:
  Prover(const PrometheusServer& prom, std::vector<Proof> proofs,
         std::map<std::string, json> dashboards)
      : prom_(prom),
        proofs_(std::move(proofs)),
        dashboards_(std::move(dashboards)) {}

  // Runs every query as Grafana would in `range`, recording which returned
  // data in `scenario`.
  void Run(const std::string& scenario, const TimeRange& range) {
    scenarios_.insert(scenario);
    for (const auto& [uid, dashboard] : dashboards_) {
      for (const auto& vars : VariableSets(uid, dashboard, scenario, range)) {
        for (std::size_t i = 0; i < proofs_.size(); ++i) {
          const Proof& p = proofs_[i];
          if (p.dashboard != uid || p.kind == "variable") continue;
          if (Execute(p, vars, range)) data_[i].insert(scenario);
        }
      }
    }
  }

  // Every problem found: errors, and declared scenarios without data.
  std::vector<std::string> Problems() const {
    std::vector<std::string> out = errors_;
    for (std::size_t i = 0; i < proofs_.size(); ++i) {
      const Proof& p = proofs_[i];
      auto got = data_.find(i);
      for (const std::string& s : p.scenarios) {
        if (!scenarios_.count(s)) {
          out.push_back(p.Name() + ": scenario " + s + " is not driven");
        } else if (got == data_.end() || !got->second.count(s)) {
          out.push_back(p.Name() + ": no data in scenario " + s);
        }
      }
      if (got == data_.end())
        out.push_back(p.Name() + ": empty in every scenario");
    }
    return out;
  }

  std::size_t executed() const { return executed_; }

  // "healthy: 80 of 91 queries returned data; ...", for the log.
  std::string Summary() const {
    std::ostringstream out;
    for (const std::string& s : scenarios_) {
      std::size_t n = 0;
      for (const auto& [i, where] : data_) n += where.count(s);
      out << s << ": " << n << " of " << proofs_.size()
          << " queries returned data\n";
    }
    out << executed_ << " requests to Prometheus\n";
    return out.str();
  }

 private:
  // The values of each query variable (running its query, which must
  // return data in its scenarios), combined as Grafana would: a multi or
  // All variable as one regex of every value, a single-value one (the
  // server detail's server) once per value.
  std::vector<std::map<std::string, std::string>> VariableSets(
      const std::string& uid, const json& dashboard,
      const std::string& scenario, const TimeRange& range) {
    std::vector<std::map<std::string, std::string>> sets = {range.Builtins()};
    sets[0]["datasource"] = "prometheus";
    for (const json& v : dashboard["templating"]["list"]) {
      if (v.value("type", "") != "query") continue;
      const std::string name = v.at("name");
      const Proof* proof = nullptr;
      std::size_t index = 0;
      for (std::size_t i = 0; i < proofs_.size(); ++i) {
        if (proofs_[i].dashboard == uid && proofs_[i].kind == "variable" &&
            proofs_[i].ref == name) {
          proof = &proofs_[i];
          index = i;
        }
      }
      if (proof == nullptr) {
        errors_.push_back(uid + ": variable " + name + " is not declared");
        continue;
      }
      std::vector<std::map<std::string, std::string>> next;
      for (const auto& vars : sets) {
        const std::vector<std::string> values =
            LabelValues(*proof, vars, range);
        if (!values.empty()) data_[index].insert(scenario);
        if (v.value("multi", false) || v.value("includeAll", false)) {
          auto with = vars;
          with[name] = values.empty() ? "()" : RegexOf(values);
          next.push_back(with);
        } else {
          for (const std::string& value : values) {
            auto with = vars;
            with[name] = value;
            next.push_back(with);
          }
          if (values.empty()) {
            auto with = vars;
            with[name] = "";
            next.push_back(with);
          }
        }
      }
      sets = next;
    }
    return sets;
  }

  std::vector<std::string> LabelValues(
      const Proof& p, const std::map<std::string, std::string>& vars,
      const TimeRange& range) {
    std::string selector, label, unknown;
    if (!ParseLabelValues(p.expr, &selector, &label)) {
      errors_.push_back(p.Name() + ": not label_values(SELECTOR, LABEL)");
      return {};
    }
    selector = Substitute(selector, vars, &unknown);
    if (!unknown.empty()) {
      errors_.push_back(p.Name() + ": unknown variable $" + unknown);
      return {};
    }
    try {
      ++executed_;
      const json values = prom_.Api("/api/v1/label/" + label + "/values",
                                    {{"match[]", selector},
                                     {"start", Seconds(range.start)},
                                     {"end", Seconds(range.end)}});
      std::vector<std::string> out;
      for (const auto& v : values) out.push_back(v.get<std::string>());
      std::sort(out.begin(), out.end());  // the variables' sort: 1
      return out;
    } catch (const std::exception& e) {
      errors_.push_back(p.Name() + ": " + e.what());
      return {};
    }
  }

  // Runs one query; true when it returned data.
  bool Execute(const Proof& p, const std::map<std::string, std::string>& vars,
               const TimeRange& range) {
    std::string unknown;
    const std::string expr = Substitute(p.expr, vars, &unknown);
    if (!unknown.empty()) {
      errors_.push_back(p.Name() + ": unknown variable $" + unknown);
      return false;
    }
    try {
      ++executed_;
      if (p.kind == "instant") {
        return NonEmpty(prom_.Api(
            "/api/v1/query", {{"query", expr}, {"time", Seconds(range.end)}}));
      }
      // Range queries as Grafana aligns them: start and end on multiples
      // of the step ($__interval, or the annotation's step).
      std::chrono::milliseconds step_ms{};
      const int step =
          p.kind == "annotation" && ParsePrometheusDuration(p.step, &step_ms)
              ? static_cast<int>(step_ms.count() / 1000)
              : range.IntervalSeconds();
      const double start = std::floor(range.start / step) * step;
      const double end = std::ceil(range.end / step) * step;
      return NonEmpty(
          prom_.Api("/api/v1/query_range", {{"query", expr},
                                            {"start", Seconds(start)},
                                            {"end", Seconds(end)},
                                            {"step", std::to_string(step)}}));
    } catch (const std::exception& e) {
      errors_.push_back(p.Name() + " as " + expr + ": " + e.what());
      return false;
    }
  }

  const PrometheusServer& prom_;
  std::vector<Proof> proofs_;
  std::map<std::string, json> dashboards_;
  std::set<std::string> scenarios_;
  std::map<std::size_t, std::set<std::string>> data_;
  std::vector<std::string> errors_;
  std::size_t executed_ = 0;
};

TEST_CASE("the declared dashboard queries are exactly the shipped ones",
          "[e2e][dashboards]") {
  const auto proofs = DeclaredProofs();
  const auto dashboards = ShippedDashboards();
  REQUIRE(dashboards.size() >= 2);
  std::map<std::string, std::multiset<std::string>> declared;
  for (const Proof& p : proofs) {
    INFO(p.Name());
    CHECK_FALSE(p.scenarios.empty());
    declared[p.dashboard].insert(p.expr);
  }
  for (const auto& [uid, d] : dashboards) {
    INFO(uid);
    CHECK(declared[uid] == Expressions(d));
    // No query names a scrape job.
    for (const std::string& e : Expressions(d)) {
      INFO(e);
      CHECK_FALSE(std::regex_search(e, std::regex(R"(\bjob\s*=~?\s*"[^$])")));
    }
  }
}

TEST_CASE(
    "every query of every panel, variable and annotation of the shipped "
    "dashboards returns data in the scenarios it is for, under another job "
    "name",
    "[e2e][dashboards]") {
  Env env;
  // With max_slot_wal_keep_size the slots' safe_wal_size is published (the
  // server detail's "safe size left").
  env.cluster.Psql(TestCluster::kPrimary,
                   "ALTER SYSTEM SET max_slot_wal_keep_size = '1GB'");
  env.cluster.Psql(TestCluster::kPrimary, "SELECT pg_reload_conf()");
  Prover prover(env.prom, DeclaredProofs(), ShippedDashboards());

  // Everything up and streaming, every replica in rotation, the rules
  // evaluated.
  env.WaitFor("every server up", "pg_replica_up == 1", 4);
  env.WaitFor("every replica in rotation", "pg_replica_healthy == 1", 3);
  env.WaitFor("the recording rules", "pg_replica:primaries:count == 1");
  env.WaitFor("safe_wal_size", "pg_replica_slot_safe_wal_size_bytes", 3);
  prover.Run("healthy", env.Hold());

  {
    // replica1's replay paused while the primary writes, until its lag is
    // over the alert threshold.
    BackgroundWriter writer(env.cluster);
    env.cluster.PauseReplay(0);
    const double alert =
        std::chrono::duration<double>(thresholds::kLagAlert).count();
    env.WaitFor("replica1 over lag.alert",
                "pg_replica_lag_seconds{server=\"replica1\"} > " +
                    std::to_string(alert));
    prover.Run("replay_paused", env.Hold());
    env.cluster.ResumeReplay(0);
    CHECK(writer.writes() > 0);
  }

  // replica2 stopped, until PgReplicaDown fires for it.
  env.cluster.Stop(1);
  env.WaitFor("PgReplicaDown for replica2",
              "ALERTS{alertname=\"PgReplicaDown\", alertstate=\"firing\", "
              "server=\"replica2\"}");
  prover.Run("replica_stopped", env.Hold());

  // Every replica stopped: reads fail over to the primary.
  env.cluster.Stop(0);
  env.cluster.Stop(2);
  env.WaitFor("read failover", "pg_replica_read_failover_active == 1");
  prover.Run("all_replicas_stopped", env.Hold());

  // The replicas back, and a physical slot nobody consumes.
  for (int i = 0; i < env.cluster.replica_count(); ++i) env.cluster.Start(i);
  REQUIRE(env.cluster.WaitStreaming(seconds(60)));
  env.cluster.Psql(TestCluster::kPrimary,
                   std::string("SELECT pg_create_physical_replication_slot('") +
                       kOrphanSlot + "', true)");
  env.WaitFor("every server up again", "pg_replica_up == 1", 4);
  env.WaitFor(
      "the orphan slot inactive",
      std::string("pg_replica_slot_active{slot=\"") + kOrphanSlot + "\"} == 0");
  prover.Run("slot_inactive", env.Hold());

  {
    // Both pgbouncers polled; two clients hold the primary's pool (2 of
    // pool_size 2) and a third waits in it, one holds replica1's; until
    // Prometheus has the waiting client and its maxwait.
    env.WaitFor("both pgbouncers up", "pg_replica_pgbouncer_up == 1", 2);
    env.primary_bouncer.Hold(TestCluster::kPrimary);
    env.primary_bouncer.Hold(TestCluster::kPrimary);
    env.primary_bouncer.Wait(TestCluster::kPrimary);
    env.replica_bouncer.Hold(0);
    const std::string primary_pool =
        "{pgbouncer=\"bouncer-primary\", database=\"" +
        env.primary_bouncer.Database(TestCluster::kPrimary) + "\"}";
    env.WaitFor(
        "the primary's pool exhausted",
        "pg_replica_pgbouncer_pool_utilization_ratio" + primary_pool + " == 1");
    env.WaitFor("a client waiting in it",
                "pg_replica_pgbouncer_pool_client_waiting_connections" +
                    primary_pool + " >= 1");
    env.WaitFor("its maxwait", "pg_replica_pgbouncer_pool_maxwait_seconds" +
                                   primary_pool + " > 0");
    env.WaitFor("replica1's pool",
                "pg_replica_pgbouncer_pool_utilization_ratio{pgbouncer=\""
                "bouncer-replica1\"} > 0");
    prover.Run("pgbouncer", env.Hold());
    env.primary_bouncer.ReleaseClients();
    env.replica_bouncer.ReleaseClients();
  }

  std::cout << prover.Summary();
  const auto problems = prover.Problems();
  std::ostringstream text;
  for (const auto& p : problems) text << "  " << p << "\n";
  INFO(problems.size() << " problem(s):\n" << text.str());
  CHECK(problems.empty());
  // Every scenario (the six of grafana.SCENARIOS) ran every query (the
  // server detail's once per server).
  CHECK(prover.executed() >= 6 * DeclaredProofs().size());
}

}  // namespace
}  // namespace pgre::testing
