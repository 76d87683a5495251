#include "app/app.h"

#include <prometheus/gauge.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>

#include "app/logging.h"
#include "cluster/cluster_state.h"
#include "common/redact.h"
#include "config/config.h"
#include "http/api.h"
#include "http/http_server.h"
#include "pg/libpq_session.h"
#include "poll/poller.h"
#include "probe/route_check.h"
#include "probe/routing_loop.h"
#include "state/state_file.h"
#include "web/web_config.h"

extern char** environ;

namespace pgre {
namespace {

constexpr const char* kDefaultListenAddress = ":9856";

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

// How often a changed lag state is written to the state file.
constexpr auto kStateSaveInterval = std::chrono::seconds(10);

struct Flags {
  std::string listen_address = kDefaultListenAddress;
  std::string web_config_file;
  HttpLimits http_limits;
  std::string unauthenticated_paths = "/-/healthy,/-/ready";
  std::string state_directory;  // "" = no state file
  std::string telemetry_path = "/metrics";
  std::string config_file;
  bool config_check = false;
  std::string log_level = "info";
  std::string log_format = "logfmt";
};

// Loads the configuration from --config.file, else from the seed's
// environment variables. Returns nullopt after printing the error.
std::optional<Config> LoadConfig(const Flags& flags) {
  const auto env = Environment();
  std::string error;
  std::optional<Config> config;
  if (!flags.config_file.empty()) {
    config = LoadConfigFile(flags.config_file, &error);
    if (config && HasSeedEnvironment(env)) {
      std::string names;
      for (const std::string& name : SeedEnvironmentVariables(env)) {
        names += (names.empty() ? "" : ", ") + name;
      }
      spdlog::warn("--config.file is given: ignoring environment variables {}",
                   names);
    }
  } else if (HasSeedEnvironment(env)) {
    config = LoadConfigFromEnv(env, &error);
  } else {
    error =
        "no configuration: pass --config.file=FILE, or set DATABASE_URL "
        "(and USE_READ_REPLICAS, READ_REPLICA_<N>_CONNECTION_STRING)";
  }
  if (!config) spdlog::error("{}", error);
  return config;
}

std::string DescribeServers(const Config& c) {
  std::string out = c.primary.name + " (" + c.primary.redacted_dsn + ")";
  for (const auto& r : c.replicas) {
    out += ", " + r.name + " (" + r.redacted_dsn + ")";
  }
  return out;
}

// The monitoring pipeline of one configuration: the cluster state, one
// poller per server, the routing loop, and the state keeper that writes the
// lag state every kStateSaveInterval when it changed. Replaced whole on a
// reload, handing its lag state to the next one.
class Pipeline {
 public:
  Pipeline(const Config& config, RestoreInput restore,
           std::string state_directory)
      : cluster_(std::make_shared<ClusterState>(config, Clock::Real(),
                                                std::move(restore))),
        state_directory_(std::move(state_directory)),
        boot_id_(BootId()),
        sessions_(config.query_timeout),
        probe_sessions_(config.query_timeout),
        pollers_(config, &sessions_, cluster_.get(), Clock::Real()),
        routing_(config, &probe_sessions_, cluster_.get(), Clock::Real()) {}
  ~Pipeline() { Stop(); }

  void Start() {
    pollers_.Start();
    routing_.Start();
    if (!state_directory_.empty()) {
      keeper_ = std::jthread([this](std::stop_token stop) { Keep(stop); });
    }
  }
  // Stops everything, then writes the state a last time.
  void Stop() {
    routing_.Stop();
    pollers_.Stop();
    if (keeper_.joinable()) {
      keeper_.request_stop();
      keeper_.join();
      SaveIfChanged();
    }
  }
  std::shared_ptr<ClusterState> cluster() const { return cluster_; }
  // The lag state to hand to the next pipeline.
  RestoreInput Handover() const {
    RestoreInput r;
    r.boot_id = boot_id_;
    r.state = cluster_->Save(boot_id_);
    r.status = r.state ? "" : "missing";
    return r;
  }

 private:
  void Keep(std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, stop, kStateSaveInterval, [] { return false; });
      lock.unlock();
      SaveIfChanged();
    }
  }
  void SaveIfChanged() {
    const std::uint64_t generation = cluster_->save_generation();
    if (generation == saved_generation_) return;
    std::optional<LagState> state = cluster_->Save(boot_id_);
    if (!state) return;
    Status s = WriteStateFile(state_directory_, *state);
    if (!s.ok()) {
      if (!write_failing_) spdlog::warn("state file: {}", s.message());
      write_failing_ = true;
      return;
    }
    if (write_failing_) spdlog::info("state file: written again");
    write_failing_ = false;
    saved_generation_ = generation;
  }

  std::shared_ptr<ClusterState> cluster_;
  const std::string state_directory_;
  const std::string boot_id_;
  LibpqSessionFactory sessions_;
  LibpqSessionFactory probe_sessions_;
  PollerGroup pollers_;
  RoutingLoop routing_;
  // Used by the keeper thread, then by Stop() after it has ended.
  std::uint64_t saved_generation_ = 0;
  bool write_failing_ = false;
  std::jthread keeper_;
};

// Where the first pipeline's lag state comes from.
RestoreInput InitialRestore(const Flags& flags, const Config& config) {
  if (flags.state_directory.empty()) return RestoreInput{};
  return ReadStateFile(flags.state_directory, config.cluster, BootId());
}

std::vector<std::string> SplitPaths(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto comma = list.find(',', start);
    std::string item = list.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// The web config of --web.config.file, or none. Nullopt after logging the
// error.
std::optional<WebSecurity> LoadWebSecurity(const Flags& flags) {
  if (flags.web_config_file.empty()) return WebSecurity{};
  std::string error;
  auto security = LoadWebConfigFile(flags.web_config_file, &error);
  if (!security) spdlog::error("{}", error);
  return security;
}

std::string DescribeSecurity(const WebSecurity& s) {
  std::string out = s.tls ? "TLS" : "plain HTTP";
  out += s.auth && !s.auth->empty() ? ", basic auth" : ", no auth";
  return out;
}

int Serve(const Flags& flags, Config config, WebSecurity security) {
  // Signals are taken synchronously by this thread; every thread started
  // from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto pipeline = std::make_unique<Pipeline>(
      config, InitialRestore(flags, config), flags.state_directory);
  std::mutex cluster_mu;
  std::shared_ptr<ClusterState> cluster = pipeline->cluster();  // guarded
  Api api(
      [&]() -> std::shared_ptr<const Snapshot> {
        std::shared_ptr<ClusterState> current;
        {
          std::lock_guard<std::mutex> lock(cluster_mu);
          current = cluster;
        }
        return current->Get();
      },
      BuildInfo{PGRE_VERSION, PGRE_REVISION}, flags.telemetry_path);
  auto& reload_ok =
      prometheus::BuildGauge()
          .Name("pg_replica_exporter_config_last_reload_successful")
          .Help("Whether the last configuration reload succeeded.")
          .Register(api.self_registry())
          .Add({});
  auto& reload_time =
      prometheus::BuildGauge()
          .Name(
              "pg_replica_exporter_config_last_reload_success_timestamp_"
              "seconds")
          .Help("Unix time of the last successful configuration load.")
          .Register(api.self_registry())
          .Add({});
  reload_ok.Set(1);
  reload_time.Set(ToUnixSeconds(Clock::Real()->WallNow()));
  auto& web_reload_ok =
      prometheus::BuildGauge()
          .Name("pg_replica_exporter_web_config_last_reload_successful")
          .Help("Whether the last load of --web.config.file succeeded.")
          .Register(api.self_registry())
          .Add({});
  web_reload_ok.Set(1);

  // The HTTP server's own counters, once it runs (set before it serves, so
  // that no request reads the Api while this thread writes it).
  auto http_stats = std::make_shared<std::atomic<const HttpServer*>>(nullptr);
  api.SetExtraMetrics([http_stats] {
    const HttpServer* s = http_stats->load();
    return s != nullptr ? s->StatsFamilies()
                        : std::vector<prometheus::MetricFamily>{};
  });
  std::string error;
  auto server =
      HttpServer::Start(flags.listen_address, &api, flags.http_limits,
                        std::make_shared<const WebSecurity>(security),
                        SplitPaths(flags.unauthenticated_paths), &error);
  if (!server) {
    spdlog::error("{}", error);
    return kExitFailure;
  }
  http_stats->store(server.get());
  spdlog::info(
      "pg_replica_exporter {} ({}) cluster={} config={} servers: {}; "
      "listening on {} (port {}, {}), metrics at {}",
      PGRE_VERSION, PGRE_REVISION, config.cluster, config.source,
      DescribeServers(config), flags.listen_address, server->port(),
      DescribeSecurity(security), flags.telemetry_path);
  pipeline->Start();

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) {
      spdlog::info("received {}, shutting down",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    if (!flags.web_config_file.empty()) {
      std::string web_error;
      if (auto next = LoadWebConfigFile(flags.web_config_file, &web_error)) {
        spdlog::info("reloaded {}: {}", flags.web_config_file,
                     DescribeSecurity(*next));
        server->SetSecurity(std::make_shared<const WebSecurity>(*next));
        web_reload_ok.Set(1);
      } else {
        web_reload_ok.Set(0);
        spdlog::error("web config reload failed, keeping the running one: {}",
                      web_error);
      }
    }
    if (flags.config_file.empty()) {
      spdlog::info(
          "SIGHUP: the configuration comes from the environment; nothing to "
          "reload");
      continue;
    }
    std::string reload_error;
    std::optional<Config> next =
        LoadConfigFile(flags.config_file, &reload_error);
    if (!next) {
      reload_ok.Set(0);
      spdlog::error("reload failed, keeping the running configuration: {}",
                    reload_error);
      continue;
    }
    spdlog::info("reloading the configuration: cluster={} servers: {}",
                 next->cluster, DescribeServers(*next));
    pipeline->Stop();
    RestoreInput handover = pipeline->Handover();
    pipeline = std::make_unique<Pipeline>(*next, std::move(handover),
                                          flags.state_directory);
    {
      std::lock_guard<std::mutex> lock(cluster_mu);
      cluster = pipeline->cluster();
    }
    pipeline->Start();
    config = std::move(*next);
    reload_ok.Set(1);
    reload_time.Set(ToUnixSeconds(Clock::Real()->WallNow()));
  }
  server.reset();  // no request runs past this
  http_stats->store(nullptr);
  pipeline.reset();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

int RunApp(int argc, char** argv) {
  CLI::App app{
      "pg_replica_exporter: monitors a PostgreSQL primary and its streaming "
      "read replicas for Prometheus"};
  app.set_version_flag("--version", std::string("pg_replica_exporter ") +
                                        PGRE_VERSION + " (revision " +
                                        PGRE_REVISION + ")");
  Flags flags;
  app.add_option("--web.listen-address", flags.listen_address,
                 "Address to listen on for HTTP")
      ->capture_default_str();
  app.add_option("--web.config.file", flags.web_config_file,
                 "TLS and basic auth settings, in the Prometheus "
                 "exporter-toolkit format (reloaded on SIGHUP)");
  app.add_option("--web.unauthenticated-paths", flags.unauthenticated_paths,
                 "Comma-separated paths served without basic auth (what a "
                 "load balancer or systemd polls)")
      ->capture_default_str();
  app.add_option("--web.max-connections", flags.http_limits.max_connections,
                 "Most open HTTP connections; more are closed at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  std::string request_timeout = "5s", idle_timeout = "2m";
  app.add_option("--web.request-timeout", request_timeout,
                 "Time a client has to send a whole request (TLS handshake "
                 "included)")
      ->capture_default_str();
  app.add_option("--web.idle-timeout", idle_timeout,
                 "An HTTP connection silent this long is closed")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", flags.telemetry_path,
                 "Path under which to expose metrics")
      ->capture_default_str();
  app.add_option("--config.file", flags.config_file,
                 "YAML configuration file (without it, the seed's "
                 "environment variables are read)");
  app.add_flag("--config.check", flags.config_check,
               "Validate the configuration and exit (0 valid, 2 invalid)");
  if (const char* dir = std::getenv("STATE_DIRECTORY")) {
    // systemd's StateDirectory=; a colon-separated list, the first wins.
    flags.state_directory =
        std::string(dir).substr(0, std::string(dir).find(':'));
  }
  app.add_option("--state.directory", flags.state_directory,
                 "Directory for the lag state file, so that lag survives a "
                 "restart (default: $STATE_DIRECTORY, else none)");
  app.add_option("--log.level", flags.log_level,
                 "Minimum log level: debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log.format", flags.log_format, "Log format: logfmt or json")
      ->capture_default_str();
  int route_check_reads = 300;
  CLI::App* route_check = app.add_subcommand(
      "route-check",
      "Poll every server once, route N real probe reads through the routing "
      "model, print where they went; exit 1 when a read failed or a healthy "
      "replica got none");
  route_check
      ->add_option("--reads", route_check_reads, "Number of reads to route")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  // Subcommand flags may also come after the subcommand name.
  route_check->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  std::string error;
  if (!SetupLogging(flags.log_level, flags.log_format, &error)) {
    std::cerr << error << "\n";
    return kExitBadInput;
  }
  if (flags.telemetry_path.empty() || flags.telemetry_path[0] != '/') {
    spdlog::error("--web.telemetry-path: must start with '/'");
    return kExitBadInput;
  }
  if (!ParseListenAddress(flags.listen_address, &error)) {
    spdlog::error("--web.listen-address: {}", error);
    return kExitBadInput;
  }
  for (auto [flag, text, out] :
       {std::tuple{"--web.request-timeout", &request_timeout,
                   &flags.http_limits.request_timeout},
        std::tuple{"--web.idle-timeout", &idle_timeout,
                   &flags.http_limits.idle_timeout}}) {
    auto d = ParseDuration(*text);
    if (!d || *d <= Duration::zero()) {
      spdlog::error("{}: \"{}\" is not a duration like 5s", flag, *text);
      return kExitBadInput;
    }
    *out = *d;
  }
  for (const std::string& path : SplitPaths(flags.unauthenticated_paths)) {
    if (path[0] != '/') {
      spdlog::error(
          "--web.unauthenticated-paths: \"{}\" does not start with "
          "'/'",
          path);
      return kExitBadInput;
    }
  }
  std::optional<WebSecurity> security = LoadWebSecurity(flags);
  if (!security) return kExitBadInput;
  std::optional<Config> config = LoadConfig(flags);
  if (!config) return kExitBadInput;
  if (!flags.state_directory.empty()) {
    Status s = CheckStateDirectory(flags.state_directory);
    if (!s.ok()) {
      spdlog::warn(
          "--state.directory: {}: lag history is not kept across restarts",
          s.message());
      flags.state_directory.clear();
    }
  }
  if (flags.config_check) {
    // Scrubbed as the log is: the DSNs are redacted already, this is the
    // second line of defence.
    const std::string line =
        ScrubSecrets("configuration OK (" + config->source + "): cluster " +
                     config->cluster + ", servers " + DescribeServers(*config) +
                     "; web: " + DescribeSecurity(*security) + " (" +
                     security->source + ")\n");
    std::fputs(line.c_str(), stdout);
    return kExitOk;
  }
  if (route_check->parsed()) {
    LibpqSessionFactory sessions(config->query_timeout);
    return RunRouteCheck(*config, route_check_reads, &sessions, Clock::Real(),
                         std::cout);
  }
  return Serve(flags, *config, std::move(*security));
}

}  // namespace pgre
