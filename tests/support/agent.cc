#include "support/agent.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/ports.h"
#include "support/wait.h"

namespace pgre::testing {

namespace {

// YAML double-quoted scalar.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string AgentConfigYaml(const TestCluster& cluster,
                            const AgentOptions& options) {
  auto dsn = [&](int server) {
    auto it = options.dsn_override.find(server);
    return it != options.dsn_override.end() ? it->second : cluster.Dsn(server);
  };
  std::ostringstream y;
  y << "cluster: " << Quote(options.cluster_name) << "\n"
    << "poll_interval: " << options.poll_interval << "\n"
    << "connect_timeout: " << options.connect_timeout << "\n"
    << "query_timeout: " << options.query_timeout << "\n"
    << "primary:\n"
    << "  name: primary\n"
    << "  dsn: " << Quote(dsn(TestCluster::kPrimary)) << "\n";
  auto keys = [&](int server, const char* indent) {
    auto it = options.server_keys.find(server);
    if (it == options.server_keys.end()) return;
    for (const std::string& line : it->second) y << indent << line << "\n";
  };
  keys(TestCluster::kPrimary, "  ");
  y << "replicas:\n";
  for (int i = 0; i < cluster.replica_count(); ++i) {
    y << "  - name: " << cluster.ReplicaName(i) << "\n"
      << "    dsn: " << Quote(dsn(i)) << "\n";
    keys(i, "    ");
  }
  if (!options.routing.empty()) {
    y << "routing:\n";
    for (const auto& [k, v] : options.routing) {
      y << "  " << k << ": " << v << "\n";
    }
  }
  y << options.extra_yaml;
  return y.str();
}

std::string MultiClusterYaml(const std::vector<ClusterEntry>& entries,
                             const AgentOptions& options) {
  std::ostringstream y;
  y << "poll_interval: " << options.poll_interval << "\n"
    << "connect_timeout: " << options.connect_timeout << "\n"
    << "query_timeout: " << options.query_timeout << "\n";
  if (!options.routing.empty()) {
    y << "routing:\n";
    for (const auto& [k, v] : options.routing) {
      y << "  " << k << ": " << v << "\n";
    }
  }
  y << "clusters:\n";
  for (const ClusterEntry& e : entries) {
    auto dsn = [&](int server) {
      std::string d = e.cluster->Dsn(server);
      if (!e.user.empty()) {
        d += " user=" + e.user + " password=" + e.password;
      }
      return Quote(d);
    };
    y << "  - name: " << Quote(e.name) << "\n"
      << "    primary:\n"
      << "      name: primary\n"
      << "      dsn: " << dsn(TestCluster::kPrimary) << "\n"
      << "    replicas:\n";
    for (int i = 0; i < e.cluster->replica_count(); ++i) {
      y << "      - name: " << e.cluster->ReplicaName(i) << "\n"
        << "        dsn: " << dsn(i) << "\n";
    }
  }
  y << options.extra_yaml;
  return y.str();
}

AgentProcess::AgentProcess(const std::string& config_yaml, int servers,
                           AgentOptions options)
    : servers_(servers), options_(std::move(options)) {
  Init(config_yaml);
}

AgentProcess::AgentProcess(const TestCluster& cluster, AgentOptions options)
    : servers_(cluster.replica_count() + 1), options_(std::move(options)) {
  Init(AgentConfigYaml(cluster, options_));
}

void AgentProcess::Init(const std::string& config_yaml) {
  char path[] = "/tmp/pgre-agent-XXXXXX.yml";
  const int fd = mkstemps(path, 4);
  if (fd < 0) throw std::runtime_error("mkstemps failed");
  close(fd);
  config_path_ = path;
  {
    std::ofstream out(config_path_);
    out << config_yaml;
  }
  port_ = FreePort();
  try {
    Launch();
  } catch (...) {
    unlink(config_path_.c_str());
    throw;
  }
}

void AgentProcess::Launch() {
  std::vector<std::string> argv = {
      PGRE_BINARY, "--config.file=" + config_path_,
      "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
  for (const auto& a : options_.extra_args) argv.push_back(a);
  SubprocessOptions sub;
  sub.env = options_.env;
  process_ = std::make_unique<Subprocess>(argv, sub);
  const bool ready = WaitUntil(
      [&] {
        if (!process_->Running()) return true;
        std::string body;
        if (!options_.ca_file.empty()) {
          CurlResponse r = Curl("/metrics");
          if (r.status != 200) return false;
          body = r.body;
        } else {
          HttpResponse r = Get("/metrics", std::chrono::seconds(1));
          if (r.status != 200) return false;
          body = r.body;
        }
        if (options_.no_wait_for_servers) return true;
        if (FindAll(ParseMetricsText(body), "pg_replica_up").size() !=
            static_cast<std::size_t>(servers_)) {
          return false;
        }
        // Every server polled once (or failed once).
        return (!options_.ca_file.empty()
                    ? Curl("/-/ready").status
                    : Get("/-/ready", std::chrono::seconds(1)).status) == 200;
      },
      options_.start_timeout);
  if (!ready || !process_->Running()) {
    const std::string log = Log();
    process_.reset();
    throw std::runtime_error("agent did not start; log:\n" + log);
  }
}

int AgentProcess::Restart(const std::function<void()>& between) {
  const int status = process_->Stop();
  if (between) between();
  Launch();
  return status;
}

AgentProcess::~AgentProcess() {
  process_.reset();
  unlink(config_path_.c_str());
}

HttpResponse AgentProcess::Get(const std::string& path,
                               std::chrono::milliseconds timeout) const {
  return HttpGet("127.0.0.1", port_, path, timeout);
}

std::vector<MetricSample> AgentProcess::Scrape(
    std::chrono::milliseconds timeout) const {
  HttpResponse r = Get("/metrics", timeout);
  if (r.status != 200) {
    throw std::runtime_error("scrape failed: status " +
                             std::to_string(r.status) + " " + r.error);
  }
  std::string error;
  auto samples = ParseMetricsText(r.body, &error);
  if (!error.empty()) throw std::runtime_error("bad exposition: " + error);
  return samples;
}

CurlResponse AgentProcess::Curl(const std::string& path,
                                const std::vector<std::string>& extra) const {
  char templ[] = "/tmp/pgre-curl-XXXXXX";
  const int fd = mkstemp(templ);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  const std::string headers_file = templ;
  const bool tls = !options_.ca_file.empty();
  std::vector<std::string> argv = {"curl", "-sS", "--max-time",
                                   "10",   "-D",  headers_file};
  if (tls) argv.insert(argv.end(), {"--cacert", options_.ca_file});
  if (!options_.client_cert.empty()) {
    argv.insert(argv.end(), {"--cert", options_.client_cert + ".crt", "--key",
                             options_.client_cert + ".key"});
  }
  if (!options_.user.empty()) {
    argv.insert(argv.end(), {"-u", options_.user + ":" + options_.password});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(std::string(tls ? "https" : "http") +
                 "://127.0.0.1:" + std::to_string(port_) + path);
  CurlResponse r;
  CommandOptions opts;
  opts.errors = &r.error;
  opts.timeout = std::chrono::seconds(20);
  r.exit_code = RunCommand(argv, &r.body, opts);
  r.headers = ReadFileOrEmpty(headers_file);
  unlink(headers_file.c_str());
  // The last status line (after a 100 Continue there would be two).
  const auto at = r.headers.rfind("HTTP/");
  if (at != std::string::npos && r.headers.size() > at + 12) {
    r.status = std::atoi(r.headers.c_str() + r.headers.find(' ', at) + 1);
  }
  return r;
}

JsonAnswer AgentProcess::GetJson(const std::string& path) const {
  HttpResponse r = Get(path);
  JsonAnswer a;
  a.status = r.status;
  a.content_type = r.Header("content-type").value_or("");
  if (!r.body.empty()) a.body = nlohmann::json::parse(r.body);
  return a;
}

std::optional<std::vector<MetricSample>> AgentProcess::ScrapeUntil(
    const std::function<bool(const std::vector<MetricSample>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::optional<std::vector<MetricSample>> last;
  const bool ok = WaitUntil(
      [&] {
        try {
          auto samples = Scrape();
          if (!done(samples)) return false;
          last = std::move(samples);
          return true;
        } catch (const std::runtime_error&) {
          return false;
        }
      },
      timeout, std::chrono::milliseconds(200));
  if (!ok) return std::nullopt;
  return last;
}

std::optional<double> AgentProcess::Metric(
    const std::string& name,
    const std::map<std::string, std::string>& labels) const {
  return Find(Scrape(), name, labels);
}

bool PolledOnce(const std::vector<MetricSample>& samples, int servers) {
  const auto up = FindAll(samples, "pg_replica_up");
  if (up.size() != static_cast<std::size_t>(servers)) return false;
  for (const MetricSample& s : up) {
    if (s.value != 1.0) return false;
  }
  for (const MetricSample& s : FindAll(samples, "pg_replica_in_recovery")) {
    if (s.value != 1.0) continue;
    if (!Find(samples, "pg_replica_lag_seconds",
              {{"cluster", s.labels.at("cluster")},
               {"server", s.labels.at("server")}})) {
      return false;
    }
  }
  return true;
}

PolledAgent::PolledAgent(const TestCluster& cluster, AgentOptions options)
    : AgentProcess(cluster, std::move(options)) {
  WaitPolled();
}

PolledAgent::PolledAgent(const std::string& config_yaml, int servers,
                         AgentOptions options)
    : AgentProcess(config_yaml, servers, std::move(options)) {
  WaitPolled();
}

void PolledAgent::WaitPolled() const {
  const int servers = this->servers();
  if (!ScrapeUntil(
          [&](const auto& samples) { return PolledOnce(samples, servers); },
          options().start_timeout + kPolledTimeout)) {
    throw std::runtime_error(
        "agent did not see every server up with a lag; log:\n" + Log());
  }
}

}  // namespace pgre::testing
