// AgentProcess: the real pg_replica_exporter binary, run against a
// TestCluster for integration and end-to-end tests.
//
// Thread safety: const members may run concurrently.
#ifndef PGRE_TESTS_SUPPORT_AGENT_H_
#define PGRE_TESTS_SUPPORT_AGENT_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/cluster.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/subprocess.h"

namespace pgre::testing {

// How long any answer of the agent may take in a test that says it must be
// fast: the agent serves from snapshots and never waits on a database, so
// even with a server hung this is ample on a loaded machine.
inline constexpr std::chrono::milliseconds kFastAnswer{2000};

struct AgentOptions {
  std::string cluster_name = "test";
  std::string poll_interval = "500ms";
  std::string connect_timeout = "2s";
  std::string query_timeout = "2s";
  // Keys of the `routing:` section, e.g. {"fall", "2"}; quick defaults.
  std::map<std::string, std::string> routing = {
      {"health_check_interval", "500ms"},
      {"synthetic_check_interval", "500ms"},
      {"fall", "2"},
      {"rise", "2"}};
  // Replaces the DSN of a server (index as in TestCluster) in the config.
  std::map<int, std::string> dsn_override;
  std::vector<std::string> extra_args;  // e.g. {"--log.level=debug"}
  std::map<std::string, std::string> env;
  // Appended to the generated config (whole YAML lines).
  std::string extra_yaml;
  // Extra keys of a server's entry (index as in TestCluster), e.g.
  // "password_file: /x".
  std::map<int, std::vector<std::string>> server_keys;
  // When true, start() does not wait for every server's pg_replica_up
  // (only for /metrics to answer).
  bool no_wait_for_servers = false;
  // When the agent serves TLS (a --web.config.file in extra_args): the CA
  // that signed its certificate; Curl() and the start-up wait then use
  // https. `user`/`password`: basic auth for them.
  std::string ca_file;
  std::string user;
  std::string password;
  // A client certificate for TLS: PATH.crt and PATH.key.
  std::string client_cert;
  // How long start-up may take (until every server's pg_replica_up).
  std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
};

// One entry of a multi-cluster config: `servers` of `cluster` (the primary
// then its replicas), reached as `user` (a role made with CreateRole; ""
// for the cluster's own DSNs).
struct ClusterEntry {
  std::string name;
  const TestCluster* cluster = nullptr;
  std::string user;
  std::string password;
};

// The YAML of the multi-cluster form (`clusters:`) for `entries`; the
// timing and routing keys of `options` at the top level (every cluster's
// defaults), options.extra_yaml appended.
std::string MultiClusterYaml(const std::vector<ClusterEntry>& entries,
                             const AgentOptions& options);

// What curl got.
struct CurlResponse {
  int status = 0;       // 0: no HTTP answer (see error)
  std::string headers;  // the raw header block
  std::string body;
  std::string error;  // curl's stderr
  int exit_code = -1;
};

// The YAML config the agent gets for `cluster` (servers named "primary",
// "replica1", ...).
std::string AgentConfigYaml(const TestCluster& cluster,
                            const AgentOptions& options);

// A GET answered with a JSON body, parsed (null when the body is empty).
struct JsonAnswer {
  int status = 0;
  std::string content_type;
  nlohmann::json body;
};

class AgentProcess {
 public:
  // Writes the config to a temp file, starts the agent on a free loopback
  // port and waits (up to options.start_timeout) until /metrics answers 200
  // with every server's pg_replica_up and /-/ready answers 200 (every
  // server polled once). Throws std::runtime_error with the agent's log
  // on failure.
  explicit AgentProcess(const TestCluster& cluster, AgentOptions options = {});
  // The same with a config of its own, of `servers` servers in all.
  AgentProcess(const std::string& config_yaml, int servers,
               AgentOptions options);
  ~AgentProcess();  // stops the agent, removes the config

  // Stops the agent (SIGTERM; it exits 0), runs `between` (if any), and
  // starts it again with the same command line, config file and port,
  // waiting as the constructor does. Returns the exit status of the stopped
  // process. Log() then shows the new process's log only.
  int Restart(const std::function<void()>& between = {});

  int port() const { return port_; }
  std::string config_path() const { return config_path_; }
  std::string Log() const { return process_->ReadLog(); }
  Subprocess& process() { return *process_; }

  // GET on the agent.
  HttpResponse Get(const std::string& path, std::chrono::milliseconds timeout =
                                                std::chrono::seconds(5)) const;
  // One scrape of /metrics, parsed. Throws when the scrape fails, does not
  // answer 200 within `timeout` (the agent serves from a snapshot and never
  // waits on a database: tests that hang a server scrape with a short one)
  // or is not the text format.
  std::vector<MetricSample> Scrape(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // GET `path` with curl (https when options.ca_file is set, with the
  // options' user unless `extra` says otherwise), `extra` curl arguments
  // added.
  CurlResponse Curl(const std::string& path,
                    const std::vector<std::string>& extra = {}) const;
  // GET `path`, its body parsed as JSON. Throws when the body is not JSON.
  JsonAnswer GetJson(const std::string& path) const;
  // Scrapes every 200 ms until `done` holds for a scrape, and returns that
  // scrape; nullopt at the deadline. A failed scrape counts as not done.
  // (To fail on a scrape that is slow or fails: WaitUntil with Scrape(t).)
  std::optional<std::vector<MetricSample>> ScrapeUntil(
      const std::function<bool(const std::vector<MetricSample>&)>& done,
      std::chrono::milliseconds timeout) const;
  // One scrape; the value of `name` with `labels`, or nullopt.
  std::optional<double> Metric(
      const std::string& name,
      const std::map<std::string, std::string>& labels = {}) const;

 protected:
  int servers() const { return servers_; }
  const AgentOptions& options() const { return options_; }

 private:
  // Writes the config, picks a port, launches.
  void Init(const std::string& config_yaml);
  // Starts the process and waits for it; throws with its log on failure.
  void Launch();

  std::string config_path_;
  int port_ = 0;
  int servers_ = 0;
  AgentOptions options_;
  std::unique_ptr<Subprocess> process_;
};

// Whether `samples` show `servers` servers, every one up, and a lag figure
// (pg_replica_lag_seconds) for every server in recovery.
bool PolledOnce(const std::vector<MetricSample>& samples, int servers);

// The integration tests' starting point: an agent on this cluster, polled
// once. An AgentProcess (started and waited on as there) that has also seen
// every server up and measured every replica's lag (PolledOnce), so that a
// test begins from a cluster the agent has seen whole. Throws with the
// agent's log when it does not get there within options.start_timeout +
// kPolledTimeout.
class PolledAgent : public AgentProcess {
 public:
  static constexpr std::chrono::seconds kPolledTimeout{20};

  explicit PolledAgent(const TestCluster& cluster, AgentOptions options = {});
  // The same with a config of its own (MultiClusterYaml), of `servers`
  // servers in all.
  PolledAgent(const std::string& config_yaml, int servers,
              AgentOptions options);

 private:
  void WaitPolled() const;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_AGENT_H_
