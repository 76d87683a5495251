#include "app/app.h"

#include <errno.h>
#include <malloc.h>
#include <prometheus/gauge.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
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
#include "app/pipeline.h"
#include "app/service_notifier.h"
#include "cluster/cluster_state.h"
#include "common/redact.h"
#include "config/config.h"
#include "config/dsn.h"
#include "engine/engine.h"
#include "engine/route_check.h"
#include "http/api.h"
#include "http/http_server.h"
#include "shard/shard.h"
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
  // --shard / --total-shards: the clusters this agent owns (shard/shard.h).
  ShardSpec shard;
};

// Loads the configuration from --config.file, else from the seed's
// environment variables (one cluster). Returns nullopt after printing the
// error.
std::optional<AgentConfig> LoadConfig(const Flags& flags) {
  const auto env = Environment();
  std::string error;
  std::optional<AgentConfig> config;
  if (!flags.config_file.empty()) {
    config = LoadAgentConfigFile(flags.config_file, &error);
    if (config && HasSeedEnvironment(env)) {
      std::string names;
      for (const std::string& name : SeedEnvironmentVariables(env)) {
        names += (names.empty() ? "" : ", ") + name;
      }
      spdlog::warn("--config.file is given: ignoring environment variables {}",
                   names);
    }
  } else if (HasSeedEnvironment(env)) {
    if (auto one = LoadConfigFromEnv(env, &error)) {
      config = AgentConfig{{*one}, one->source};
    }
  } else {
    error =
        "no configuration: pass --config.file=FILE, or set DATABASE_URL "
        "(and USE_READ_REPLICAS, READ_REPLICA_<N>_CONNECTION_STRING)";
  }
  if (!config) spdlog::error("{}", error);
  return config;
}

std::string DescribeServers(const Config& c) {
  std::string out;
  if (!c.primary.name.empty()) {
    out = c.primary.name + " (" + c.primary.redacted_dsn + ")";
  }
  for (const auto& r : c.replicas) {
    out += (out.empty() ? "" : ", ") + r.name + " (" + r.redacted_dsn + ")";
  }
  if (c.discovery.patroni.enabled()) {
    std::string urls;
    for (const std::string& u : c.discovery.patroni.urls) {
      urls += (urls.empty() ? "" : " ") + u;
    }
    out += std::string(out.empty() ? "" : ", ") +
           "members discovered from Patroni (" + urls + ")";
  }
  return out;
}

// The clusters of `config` that `shard` owns, in configured order (all of
// them without sharding). Every shard loads and validates the whole file
// first, so that all refuse the same bad one.
AgentConfig OwnedClusters(const AgentConfig& config, const ShardSpec& shard) {
  AgentConfig out;
  out.source = config.source;
  for (const Config& c : config.clusters) {
    if (Owns(shard, c.cluster)) out.clusters.push_back(c);
  }
  return out;
}

// "shard 1 of 3 owns 20 of the 60 clusters of file x.yml", for the log;
// "" without sharding.
std::string DescribeShard(const ShardSpec& shard, std::size_t owned,
                          const AgentConfig& all) {
  if (!shard.sharded()) return "";
  return "shard " + std::to_string(shard.shard) + " of " +
         std::to_string(shard.total) + " owns " + std::to_string(owned) +
         " of the " + std::to_string(all.clusters.size()) + " clusters of " +
         all.source;
}

// For --config.check with --total-shards > 1: one line per shard, the
// clusters it owns ("shard 1 (this agent's --shard): 2 clusters: a, b").
std::string DescribeShards(const AgentConfig& all, const ShardSpec& shard) {
  std::vector<std::string> names;
  for (const Config& c : all.clusters) names.push_back(c.cluster);
  const auto shards = AssignShards(names, shard.total);
  std::string out = std::to_string(shard.total) +
                    " shards (jump consistent hash of the FNV-1a 64 of each "
                    "cluster name):\n";
  for (std::int32_t k = 0; k < shard.total; ++k) {
    const auto& owned = shards[static_cast<std::size_t>(k)];
    out += "shard " + std::to_string(k) +
           (k == shard.shard ? " (this agent's --shard)" : "") + ": " +
           std::to_string(owned.size()) +
           (owned.size() == 1 ? " cluster" : " clusters");
    for (std::size_t i = 0; i < owned.size(); ++i) {
      out += (i == 0 ? ": " : ", ") + owned[i];
    }
    out += "\n";
  }
  return out;
}

std::size_t ServerCount(const AgentConfig& c) {
  std::size_t n = 0;
  for (const Config& cluster : c.clusters) n += 1 + cluster.replicas.size();
  return n;
}

// "cluster a: servers ...; cluster b: ..." for a few clusters, a count for
// many (each is then logged at debug level).
std::string DescribeClusters(const AgentConfig& c) {
  constexpr std::size_t kListed = 8;
  if (c.clusters.size() > kListed) {
    for (const Config& cluster : c.clusters) {
      spdlog::debug("cluster {}: servers {}", cluster.cluster,
                    DescribeServers(cluster));
    }
    return std::to_string(c.clusters.size()) + " clusters, " +
           std::to_string(ServerCount(c)) + " servers";
  }
  std::string out;
  for (const Config& cluster : c.clusters) {
    out += (out.empty() ? "" : "; ") + std::string("cluster ") +
           cluster.cluster + ": servers " + DescribeServers(cluster);
  }
  return out;
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

// Waits for one of `signals` at most `timeout`; returns it, or 0 at the
// timeout.
int WaitForSignal(const sigset_t& signals, std::chrono::milliseconds timeout) {
  const auto ms = std::max<std::int64_t>(0, timeout.count());
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ms / 1000);
  ts.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
  while (true) {
    const int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno != EINTR) return 0;  // EAGAIN: timed out
  }
}

// How often the main thread updates the service manager's STATUS= line and,
// under a watchdog, checks the poll loops (four checks per interval: one
// slow round does not miss the deadline, a wedged loop does).
std::chrono::milliseconds ServiceTick(const ServiceNotifier& notifier) {
  using std::chrono::milliseconds;
  milliseconds tick(1000);
  if (notifier.watchdog_interval().count() > 0) {
    tick = std::min(tick, std::chrono::duration_cast<milliseconds>(
                              notifier.watchdog_interval() / 4));
  }
  return std::max(tick, milliseconds(10));
}

// `all`: the whole configuration; the agent runs its shard's clusters.
int Serve(const Flags& flags, const AgentConfig& all, WebSecurity security) {
  AgentConfig config = OwnedClusters(all, flags.shard);
  if (flags.shard.sharded()) {
    spdlog::info("{}", DescribeShard(flags.shard, config.clusters.size(), all));
    if (config.clusters.empty()) {
      spdlog::warn(
          "shard {} of {} owns no cluster: it serves its own metrics only",
          flags.shard.shard, flags.shard.total);
    }
  }
  // Signals are taken synchronously by this thread; every thread started
  // from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Type=notify under systemd (a no-op otherwise).
  const ServiceNotifier notifier;

  std::mutex pipeline_mu;
  // What the Api serves (its clusters: discovery may change them); guarded
  // by pipeline_mu, replaced on a reload.
  std::shared_ptr<Pipeline> serving;
  const auto current = [&] {
    std::lock_guard<std::mutex> lock(pipeline_mu);
    return serving;
  };
  Api api(
      [&]() -> std::shared_ptr<const ClusterList> {
        const std::shared_ptr<Pipeline> p = current();
        return p ? p->clusters() : std::make_shared<const ClusterList>();
      },
      BuildInfo{PGRE_VERSION, PGRE_REVISION}, flags.telemetry_path);
  api.SetWaitingClusters([&] {
    const std::shared_ptr<Pipeline> p = current();
    return p ? p->WaitingForMembers() : std::vector<std::string>{};
  });
  // Each cluster's metrics are rendered on its poll loop after it changed,
  // while scrapes come often; while they are rare, what the last scrape
  // kept of it is released (http/exposition.h).
  const ClusterDriver::ChangeHook prerender = [&api](const ClusterState& c,
                                                     Duration poll_interval) {
    if (api.exposition().hot()) {
      // Rendered from the state itself: no snapshot copied for it.
      c.Visit([&](const Snapshot& s) { api.Prerender(s, 2 * poll_interval); });
    } else {
      api.Forget(c.name());
    }
  };
  auto pipeline = std::make_shared<Pipeline>(config, Pipeline::Handovers{},
                                             flags.state_directory, prerender);
  {
    std::lock_guard<std::mutex> lock(pipeline_mu);
    serving = pipeline;
  }
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
  api.UpdateAgentState([&](AgentState& a) {
    a.config_source = config.source;
    a.config_loaded_at = Clock::Real()->WallNow();
  });
  auto& web_reload_ok =
      prometheus::BuildGauge()
          .Name("pg_replica_exporter_web_config_last_reload_successful")
          .Help("Whether the last load of --web.config.file succeeded.")
          .Register(api.self_registry())
          .Add({});
  web_reload_ok.Set(1);
  // Which shard this is: the value is the total, so that a rule can count
  // the shards it sees against it (PgReplicaExporterShardMissing).
  prometheus::BuildGauge()
      .Name("pg_replica_exporter_shard")
      .Help(
          "This agent's shard (label shard, from 0) of total shards "
          "(--shard, --total-shards; 0 of 1 without sharding); the value is "
          "the total.")
      .Register(api.self_registry())
      .Add({{"shard", std::to_string(flags.shard.shard)},
            {"total", std::to_string(flags.shard.total)}})
      .Set(flags.shard.total);

  // The HTTP server's own counters, once it runs (set before it serves, so
  // that no request reads the Api while this thread writes it).
  auto http_stats = std::make_shared<std::atomic<const HttpServer*>>(nullptr);
  api.SetExtraMetrics([http_stats, &current] {
    const HttpServer* s = http_stats->load();
    std::vector<prometheus::MetricFamily> out =
        s != nullptr ? s->StatsFamilies()
                     : std::vector<prometheus::MetricFamily>{};
    if (const std::shared_ptr<Pipeline> p = current()) {
      for (auto& f : p->DiscoveryFamilies()) out.push_back(std::move(f));
    }
    return out;
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
      "pg_replica_exporter {} ({}) config={} {}; listening on {} (port {}, "
      "{}), metrics at {}; {} poll threads",
      PGRE_VERSION, PGRE_REVISION, config.source, DescribeClusters(config),
      flags.listen_address, server->port(), DescribeSecurity(security),
      flags.telemetry_path, DefaultLoopCount());
  pipeline->Start();

  // Set after a refused reload, until the next one succeeds; leads the
  // STATUS= line.
  std::string reload_note;
  const auto status_line = [&] {
    return reload_note + ServiceStatus(pipeline->Snapshots());
  };
  std::string last_status = status_line();
  // Configuration loaded, listener bound, polls started.
  notifier.Ready(last_status);
  const bool watchdog = notifier.watchdog_interval().count() > 0;
  if (watchdog) {
    spdlog::info(
        "systemd watchdog: every {} ms, fed while the poll loops "
        "answer",
        notifier.watchdog_interval().count() / 1000);
  }
  const std::chrono::milliseconds tick = ServiceTick(notifier);
  auto next_tick = std::chrono::steady_clock::now() + tick;

  while (true) {
    // Without a service manager there is nothing to tick for.
    const std::chrono::milliseconds wait =
        notifier.active()
            ? std::chrono::duration_cast<std::chrono::milliseconds>(
                  next_tick - std::chrono::steady_clock::now())
            : std::chrono::hours(24);
    const int sig = WaitForSignal(signals, wait);
    if (notifier.active() && std::chrono::steady_clock::now() >= next_tick) {
      next_tick = std::chrono::steady_clock::now() + tick;
      // A wedged poll loop stops the keep-alives: systemd then restarts us.
      if (watchdog && pipeline->Heartbeat()) notifier.Watchdog();
      std::string status = status_line();
      if (status != last_status) {
        notifier.Status(status);
        last_status = std::move(status);
      }
    }
    if (sig == 0) continue;
    if (sig != SIGHUP) {
      spdlog::info("received {}, shutting down",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
      notifier.Stopping();
      break;
    }
    notifier.Reloading();
    std::string web_note;
    if (!flags.web_config_file.empty()) {
      std::string web_error;
      if (auto next = LoadWebConfigFile(flags.web_config_file, &web_error)) {
        spdlog::info("reloaded {}: {}", flags.web_config_file,
                     DescribeSecurity(*next));
        server->SetSecurity(std::make_shared<const WebSecurity>(*next));
        web_reload_ok.Set(1);
        api.UpdateAgentState([](AgentState& a) {
          a.web_config_reload_ok = true;
          a.web_config_reload_error.clear();
        });
      } else {
        web_reload_ok.Set(0);
        spdlog::error("web config reload failed, keeping the running one: {}",
                      web_error);
        api.UpdateAgentState([&](AgentState& a) {
          a.web_config_reload_ok = false;
          a.web_config_reload_error = ScrubSecrets(web_error);
        });
        web_note = "web config reload refused (see the log); ";
      }
    }
    // Reload done (or refused): READY=1 again, with the outcome in front.
    const auto reloaded = [&](std::string note) {
      reload_note = web_note + std::move(note);
      last_status = status_line();
      notifier.Ready(last_status);
    };
    if (flags.config_file.empty()) {
      spdlog::info(
          "SIGHUP: the configuration comes from the environment; nothing to "
          "reload");
      reloaded("");
      continue;
    }
    std::string reload_error;
    std::optional<AgentConfig> next_all =
        LoadAgentConfigFile(flags.config_file, &reload_error);
    if (!next_all) {
      reload_ok.Set(0);
      spdlog::error("reload failed, keeping the running configuration: {}",
                    reload_error);
      api.UpdateAgentState([&](AgentState& a) {
        a.config_reload_ok = false;
        a.config_reload_error = ScrubSecrets(reload_error);
        a.config_reload_failed_at = Clock::Real()->WallNow();
      });
      reloaded(
          "config reload refused (see the log), running the previous "
          "configuration; ");
      continue;
    }
    std::optional<AgentConfig> next = OwnedClusters(*next_all, flags.shard);
    if (flags.shard.sharded()) {
      spdlog::info(
          "{}", DescribeShard(flags.shard, next->clusters.size(), *next_all));
    }
    spdlog::info("reloading the configuration: {}", DescribeClusters(*next));
    pipeline->Stop();
    Pipeline::Handovers handover = pipeline->TakeHandover();
    pipeline = std::make_shared<Pipeline>(*next, std::move(handover),
                                          flags.state_directory, prerender);
    {
      std::lock_guard<std::mutex> lock(pipeline_mu);
      serving = pipeline;
    }
    pipeline->Start();
    config = std::move(*next);
    reload_ok.Set(1);
    reload_time.Set(ToUnixSeconds(Clock::Real()->WallNow()));
    api.UpdateAgentState([&](AgentState& a) {
      a.config_source = config.source;
      a.config_loaded_at = Clock::Real()->WallNow();
      a.config_reload_ok = true;
      a.config_reload_error.clear();
      a.config_reload_failed_at.reset();
    });
    reloaded("");
  }
  server.reset();  // no request runs past this
  http_stats->store(nullptr);
  {
    std::lock_guard<std::mutex> lock(pipeline_mu);
    serving.reset();
  }
  pipeline.reset();
  spdlog::info("stopped");
  return kExitOk;
}

// glibc's allocator, set for a daemon whose big allocations are /metrics
// bodies (megabytes at a thousand servers) made on several threads: one
// arena, and every block over 256 KiB mapped on its own and returned when
// freed (by default the mmap threshold grows to the largest block freed, so
// the bodies stay in the heap, spread over up to 8 arenas per core). At
// 1 000 servers after 10 s under wrk: 55 MB anonymous instead of 119
// (docs/performance.md). An operator's GLIBC_TUNABLES wins.
void TuneAllocator() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

}  // namespace

int RunApp(int argc, char** argv) {
  TuneAllocator();
  // A peer that hangs up mid-write is an EPIPE to handle, not a reason to
  // die (the HTTP and poll threads block SIGPIPE too).
  signal(SIGPIPE, SIG_IGN);
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
                 "load balancer or systemd polls); a final /* makes a prefix, "
                 "e.g. /lb/* for the load-balancer checks")
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
  std::int64_t shard = 0, total_shards = 1;
  app.add_option("--shard", shard,
                 "This agent's shard, from 0: it watches and publishes only "
                 "the clusters whose name hashes to it (see --total-shards)")
      ->capture_default_str();
  app.add_option("--total-shards", total_shards,
                 "Number of shards the configured clusters are split over, "
                 "by jump consistent hash of the FNV-1a 64 of the cluster "
                 "name; 1: no sharding")
      ->capture_default_str();
  int route_check_reads = 300;
  std::string route_check_cluster;
  CLI::App* route_check = app.add_subcommand(
      "route-check",
      "Poll every server once, route N real probe reads through the routing "
      "model, print where they went; exit 1 when a read failed or a healthy "
      "replica got none. With --through: the load mode");
  route_check
      ->add_option("--reads", route_check_reads, "Number of reads to route")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  route_check->add_option("--cluster", route_check_cluster,
                          "The cluster to check (default: the first)");
  LoadCheckOptions load;
  std::string load_duration = "30s";
  CLI::Option* through = route_check->add_option(
      "--through", load.through,
      "Load mode: real reads through this read endpoint (a libpq DSN, e.g. "
      "HAProxy's read pool), a new connection each, while the agent's "
      "pipeline runs in-process; per server reads, share, latency, when it "
      "left and rejoined; exit 1 when a read failed or a replica in the "
      "agent's rotation throughout got none");
  route_check
      ->add_option("--duration", load_duration,
                   "Load mode: how long to read, e.g. 30s")
      ->capture_default_str()
      ->needs(through);
  route_check
      ->add_option("--connections", load.connections,
                   "Load mode: concurrent readers")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000))
      ->needs(through);
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
  if (!PathPatterns::Parse(SplitPaths(flags.unauthenticated_paths), &error)) {
    spdlog::error("--web.unauthenticated-paths: {}", error);
    return kExitBadInput;
  }
  if (auto spec = MakeShardSpec(shard, total_shards, &error)) {
    flags.shard = *spec;
  } else {
    spdlog::error("{}", error);
    return kExitBadInput;
  }
  std::optional<WebSecurity> security = LoadWebSecurity(flags);
  if (!security) return kExitBadInput;
  std::optional<AgentConfig> config = LoadConfig(flags);
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
    std::string clusters;
    for (const Config& c : config->clusters) {
      clusters += (clusters.empty() ? "" : "; ") + std::string("cluster ") +
                  c.cluster + ", servers " + DescribeServers(c);
    }
    std::string line =
        ScrubSecrets("configuration OK (" + config->source + "): " + clusters +
                     "; web: " + DescribeSecurity(*security) + " (" +
                     security->source + ")\n");
    if (flags.shard.sharded()) {
      line += ScrubSecrets(DescribeShards(*config, flags.shard));
    }
    std::fputs(line.c_str(), stdout);
    return kExitOk;
  }
  if (route_check->parsed()) {
    const Config* chosen = &config->clusters.front();
    if (!route_check_cluster.empty()) {
      chosen = nullptr;
      for (const Config& c : config->clusters) {
        if (c.cluster == route_check_cluster) chosen = &c;
      }
      if (chosen == nullptr) {
        spdlog::error("route-check --cluster: no cluster named \"{}\" in {}",
                      route_check_cluster, config->source);
        return kExitBadInput;
      }
    }
    if (!load.through.empty()) {
      auto d = ParseDuration(load_duration);
      if (!d || *d <= Duration::zero()) {
        spdlog::error(
            "route-check --duration: \"{}\" is not a duration like 30s",
            load_duration);
        return kExitBadInput;
      }
      load.duration = *d;
      // The endpoint's password, if it holds one, stays out of messages.
      RegisterDsnSecrets(load.through);
      return RunLoadCheck(*chosen, load, Clock::Real(), std::cout);
    }
    return RunRouteCheck(*chosen, route_check_reads, Clock::Real(), std::cout);
  }
  return Serve(flags, *config, std::move(*security));
}

}  // namespace pgre
