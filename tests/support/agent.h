// AgentProcess: the real pg_replica_exporter binary, run against a
// TestCluster for integration and end-to-end tests.
//
// Thread safety: const members may run concurrently.
#ifndef PGRE_TESTS_SUPPORT_AGENT_H_
#define PGRE_TESTS_SUPPORT_AGENT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/cluster.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/subprocess.h"

namespace pgre::testing {

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
};

// The YAML config the agent gets for `cluster` (servers named "primary",
// "replica1", ...).
std::string AgentConfigYaml(const TestCluster& cluster,
                            const AgentOptions& options);

class AgentProcess {
 public:
  // Writes the config to a temp file, starts the agent on a free loopback
  // port and waits (up to 15 s) until /metrics answers 200 with every
  // server's pg_replica_up. Throws std::runtime_error with the agent's log
  // on failure.
  explicit AgentProcess(const TestCluster& cluster, AgentOptions options = {});
  ~AgentProcess();  // stops the agent, removes the config

  int port() const { return port_; }
  std::string config_path() const { return config_path_; }
  std::string Log() const { return process_->ReadLog(); }
  Subprocess& process() { return *process_; }

  // GET on the agent.
  HttpResponse Get(const std::string& path, std::chrono::milliseconds timeout =
                                                std::chrono::seconds(5)) const;
  // One scrape of /metrics, parsed. Throws when the scrape fails.
  std::vector<MetricSample> Scrape() const;
  // One scrape; the value of `name` with `labels`, or nullopt.
  std::optional<double> Metric(
      const std::string& name,
      const std::map<std::string, std::string>& labels = {}) const;

 private:
  std::string config_path_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_AGENT_H_
