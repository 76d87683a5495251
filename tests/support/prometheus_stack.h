// A real alerting pipeline for end-to-end tests: Prometheus scrapes the agent
// and evaluates the shipped alert rules, Alertmanager routes what fires to a
// webhook, and WebhookSink (an HTTP server in the test process) records what
// Alertmanager delivered.
//
//   agent /metrics <- PrometheusServer --alerts--> AlertmanagerServer
//                                                      |
//                                      webhook POST    v
//                                                  WebhookSink
//
// Every server listens on a free 127.0.0.1 port; Prometheus and Alertmanager
// run as Subprocesses (the Debian binaries `prometheus` and
// `prometheus-alertmanager`, found in PATH) with their config and storage in a
// fresh temp dir /tmp/pgre-prometheus-XXXXXX / /tmp/pgre-alertmanager-XXXXXX
// that their destructors remove. Set PGRE_KEEP_PROMETHEUS=1 to keep the temp
// dirs (the processes are still stopped).
//
// Errors: constructors and the JSON API helpers throw std::runtime_error with
// the reason (and the process log tail when a server would not start).
#ifndef PGRE_TESTS_SUPPORT_PROMETHEUS_STACK_H_
#define PGRE_TESTS_SUPPORT_PROMETHEUS_STACK_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/http_client.h"
#include "support/subprocess.h"

struct mg_connection;
struct mg_context;

namespace pgre::testing {

// ---------------------------------------------------------------------------
// Rule files.
// ---------------------------------------------------------------------------

// How ShortenRuleForDurations maps a rule's `for:` duration d:
// clamp(d / divisor, floor, ceiling), rounded down to whole milliseconds.
struct ForDurationScaling {
  int divisor = 12;
  std::chrono::milliseconds floor = std::chrono::seconds(2);
  std::chrono::milliseconds ceiling = std::chrono::seconds(5);
};

// Parses a Prometheus duration ("30s", "1m", "1h30m", "500ms"; units ms, s,
// m, h, d, w, y). Returns false, leaving *out untouched, when `text` is not
// one.
bool ParsePrometheusDuration(const std::string& text,
                             std::chrono::milliseconds* out);

// Formats a duration the way Prometheus accepts it ("2500ms", "5s").
std::string FormatPrometheusDuration(std::chrono::milliseconds d);

// A copy of a rule file's text in which every `for: <duration>` line is
// rewritten per `scaling`; every other byte (expressions, thresholds, labels,
// annotations, comments) is unchanged. Stores the number of rewritten lines
// in *rewritten when non-null.
// Throws std::runtime_error when a `for:` value is not a Prometheus duration.
// Thread safety: pure, thread-safe.
std::string ShortenRuleForDurations(const std::string& rules_yaml,
                                    const ForDurationScaling& scaling = {},
                                    int* rewritten = nullptr);

// ---------------------------------------------------------------------------
// WebhookSink.
// ---------------------------------------------------------------------------

// One alert of an Alertmanager webhook payload.
struct DeliveredAlert {
  std::string status;    // "firing" or "resolved"
  std::string receiver;  // the payload's receiver
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::chrono::steady_clock::time_point received;  // when the POST arrived
};

// An HTTP server (civetweb's server API) on a free 127.0.0.1 port that
// accepts POSTs on any path, answers 200, and records each body parsed as
// JSON (Alertmanager's webhook payload, version 4). Bodies that are not JSON
// are counted and kept for diagnostics.
// Thread safety: thread-safe (requests arrive on civetweb's threads; the
// accessors may be called from any thread).
class WebhookSink {
 public:
  // Starts the server. Throws std::runtime_error when it cannot listen.
  WebhookSink();
  // Stops the server (waits for running requests). Never throws.
  ~WebhookSink();

  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT/webhook": the URL to give Alertmanager.
  std::string url() const;

  // Every payload received so far, in arrival order.
  std::vector<nlohmann::json> Payloads() const;
  std::size_t payload_count() const;
  // Bodies that were not valid JSON objects.
  std::vector<std::string> InvalidBodies() const;

  // Every alert of every payload, in arrival order.
  std::vector<DeliveredAlert> Alerts() const;
  // The alerts whose labels include every pair of `labels` and, when
  // `status` is non-empty, whose status is `status`.
  std::vector<DeliveredAlert> Find(
      const std::map<std::string, std::string>& labels,
      const std::string& status = "") const;

  // The notifications (payloads) whose groupLabels include every pair of
  // `group_labels` and, when `status` is non-empty, whose status ("firing":
  // some alert of the group fires; "resolved": none does) is `status`.
  // What a person on call receives: one per POST.
  std::vector<nlohmann::json> Notifications(
      const std::map<std::string, std::string>& group_labels,
      const std::string& status = "") const;

  // One line per delivered alert ("+Ns status {labels}", N = seconds since
  // the sink started), for failure messages; "(nothing delivered)" when
  // empty.
  std::string Summary() const;

 private:
  static int Handle(mg_connection* conn, void* self);
  void Record(const std::string& body);

  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::chrono::steady_clock::time_point started_;
  mutable std::mutex mu_;
  std::vector<nlohmann::json> payloads_;     // guarded by mu_
  std::vector<DeliveredAlert> alerts_;       // guarded by mu_
  std::vector<std::string> invalid_bodies_;  // guarded by mu_
};

// ---------------------------------------------------------------------------
// Alertmanager.
// ---------------------------------------------------------------------------

struct AlertmanagerOptions {
  std::string webhook_url;  // REQUIRES: non-empty
  std::string group_wait = "1s";
  std::string group_interval = "1s";
  std::string repeat_interval = "1h";
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(60);
  // Alertmanager's own cluster (gossip): 0 = off. Else it gossips on
  // 127.0.0.1:cluster_port (TCP and UDP) with every 127.0.0.1 port of
  // `cluster_peers` (which need not be up yet: it joins them when they
  // come), and waits peer_timeout per position in the cluster before it
  // sends what a peer may have sent (--cluster.peer-timeout).
  int cluster_port = 0;
  std::vector<int> cluster_peers;
  std::string peer_timeout = "15s";
};

// The Alertmanager config AlertmanagerServer writes: one route (grouped by
// alertname, cluster, server) sending every alert to the webhook, with
// send_resolved. No inhibitions.
std::string AlertmanagerConfigYaml(const AlertmanagerOptions& options);

// `prometheus-alertmanager` with that config, storage in the temp dir,
// gossip per options.cluster_port.
// Thread safety: const members may run concurrently.
class AlertmanagerServer {
 public:
  // Starts it and waits until GET /-/ready answers 200 (retrying on another
  // port if the chosen one was taken). Throws std::runtime_error with the
  // log on failure, having cleaned up.
  explicit AlertmanagerServer(AlertmanagerOptions options);
  // Stops it (SIGTERM, then SIGKILL) and removes the temp dir.
  ~AlertmanagerServer();

  AlertmanagerServer(const AlertmanagerServer&) = delete;
  AlertmanagerServer& operator=(const AlertmanagerServer&) = delete;

  int port() const { return port_; }
  std::string dir() const { return dir_; }
  std::string Log() const;
  HttpResponse Get(const std::string& path) const;

  // GET /api/v2/status: cluster.status ("ready", "settling", "disabled")
  // and the number of cluster.peers (itself included). Throws
  // std::runtime_error when the request fails or the body is not that.
  std::pair<std::string, int> ClusterStatus() const;
  // SIGKILL, as a crash: no goodbye to its peers. Idempotent.
  void Kill();
  bool Running() const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// ---------------------------------------------------------------------------
// Prometheus.
// ---------------------------------------------------------------------------

struct PrometheusOptions {
  // host:port scraped by the job `pg_replica_exporter`. REQUIRES: non-empty.
  std::string scrape_target;
  // More targets of the same job (another agent, another shard).
  std::vector<std::string> extra_scrape_targets;
  // Text of the one rule file (written next to prometheus.yml); none when
  // empty.
  std::string rules_yaml;
  // Alertmanager's port on 127.0.0.1; no alerting section when 0.
  int alertmanager_port = 0;
  // More Alertmanagers (127.0.0.1 ports) every alert is sent to as well:
  // the members of an Alertmanager cluster.
  std::vector<int> extra_alertmanager_ports;
  // scrape_interval (= scrape_timeout) and evaluation_interval.
  std::string interval = "1s";
  // The scrape job's name (the rules and dashboards must not depend on it).
  std::string job_name = "pg_replica_exporter";
  // "https" to scrape over TLS, trusting `ca_file`; `basic_auth_user` (and
  // password) when the target wants basic auth.
  std::string scheme = "http";
  std::string ca_file;
  std::string basic_auth_user;
  std::string basic_auth_password;
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(90);
};

// The prometheus.yml PrometheusServer writes (rule file name: rules.yml).
std::string PrometheusConfigYaml(const PrometheusOptions& options);

// `prometheus` with that config and its TSDB in the temp dir.
// Thread safety: const members may run concurrently.
class PrometheusServer {
 public:
  // Writes the config and the rule file, checks both with `promtool check
  // config`, starts Prometheus and waits until GET /-/ready answers 200
  // (retrying on another port if the chosen one was taken). Throws
  // std::runtime_error with promtool's output or the log on failure, having
  // cleaned up.
  explicit PrometheusServer(PrometheusOptions options);
  // Stops it (SIGTERM, then SIGKILL) and removes the temp dir.
  ~PrometheusServer();

  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const { return port_; }
  std::string dir() const { return dir_; }
  std::string Log() const;
  HttpResponse Get(const std::string& path) const;

  // GET `path` of the HTTP API (e.g. "/api/v1/alerts"). Returns the
  // response's "data" member. Throws std::runtime_error when the request
  // fails, the status is not 200 or the body is not {"status":"success"}.
  nlohmann::json Api(const std::string& path) const;
  // GET `path` with `params` URL-encoded as its query string (a name may
  // repeat, e.g. match[]). Returns data, throws as Api().
  nlohmann::json Api(
      const std::string& path,
      const std::vector<std::pair<std::string, std::string>>& params) const;
  // /api/v1/query?query=<promql> (instant query, now). Returns data.result
  // (an array of {metric, value}). Throws as Api().
  nlohmann::json Query(const std::string& promql) const;
  // /api/v1/alerts: data.alerts (pending and firing alerts).
  nlohmann::json Alerts() const;
  // /api/v1/rules: data.groups.
  nlohmann::json RuleGroups() const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// ---------------------------------------------------------------------------
// The whole stack.
// ---------------------------------------------------------------------------

// WebhookSink + AlertmanagerServer + PrometheusServer scraping
// `scrape_target` with `rules_yaml`, started in that order and stopped in
// reverse. Throws what the parts throw.
// Thread safety: as the parts.
class AlertingStack {
 public:
  AlertingStack(const std::string& scrape_target,
                const std::string& rules_yaml);

  WebhookSink& sink() { return *sink_; }
  const WebhookSink& sink() const { return *sink_; }
  AlertmanagerServer& alertmanager() { return *alertmanager_; }
  PrometheusServer& prometheus() { return *prometheus_; }
  const PrometheusServer& prometheus() const { return *prometheus_; }

  // For failure messages: what the sink received, Prometheus' pending and
  // firing alerts, the state of every alerting rule that is not inactive or
  // not healthy, and the last lines of both logs. Never throws.
  std::string Diagnostics() const;

 private:
  // Declaration order = construction order; destroyed in reverse.
  std::unique_ptr<WebhookSink> sink_;
  std::unique_ptr<AlertmanagerServer> alertmanager_;
  std::unique_ptr<PrometheusServer> prometheus_;
};

// Two agents of an HA pair (or shards) behind one alerting pipeline:
// WebhookSink, two Alertmanagers clustered over their gossip ports (each
// peer of the other, --cluster.peer-timeout `peer_timeout`), and one
// Prometheus scraping every target in one job and sending every alert to
// both Alertmanagers (what an Alertmanager cluster wants: no load balancer
// in between). The constructor waits until both Alertmanagers report the
// cluster ready with two peers. Throws what the parts throw, or
// std::runtime_error when the cluster does not form.
// Thread safety: as the parts.
class ClusteredAlertingStack {
 public:
  ClusteredAlertingStack(const std::vector<std::string>& scrape_targets,
                         const std::string& rules_yaml,
                         const std::string& peer_timeout = "5s");

  WebhookSink& sink() { return *sink_; }
  const WebhookSink& sink() const { return *sink_; }
  AlertmanagerServer& alertmanager(int i) { return *alertmanagers_.at(i); }
  PrometheusServer& prometheus() { return *prometheus_; }
  const PrometheusServer& prometheus() const { return *prometheus_; }

  // As AlertingStack::Diagnostics, with both Alertmanagers' logs. Never
  // throws.
  std::string Diagnostics() const;

 private:
  std::unique_ptr<WebhookSink> sink_;
  std::vector<std::unique_ptr<AlertmanagerServer>> alertmanagers_;
  std::unique_ptr<PrometheusServer> prometheus_;
};

// The shipped rules/pg_replica_exporter.rules.yml with every `for:`
// shortened by ShortenRuleForDurations' default scaling (1m -> 5s); nothing
// else changes. Throws std::runtime_error when the file cannot be read.
std::string ShippedRulesShortened();

// The last `lines` lines of `text`.
std::string TailLines(const std::string& text, int lines);

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PROMETHEUS_STACK_H_
