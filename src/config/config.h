// Config: what the agent monitors and how. Loaded from a YAML file or, in the
// seed-compatible environment mode, from DATABASE_URL / READ_REPLICA_<N>_...
// variables. Every key is declared once in config/config_keys.cc (name,
// type, default, reloadable, doc); that table drives parsing, validation and
// the reference in docs/configuration.md.
//
// Loading either returns a complete, validated Config or an error; nothing
// is ever half-applied. Loading registers every secret of every DSN, and
// every password read from a password_file, with the scrubber
// (common/redact.h, config/dsn.h), even when loading then fails.
//
// Thread safety: every function here is safe to call from any thread.
#ifndef PGRE_CONFIG_CONFIG_H_
#define PGRE_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/role.h"
#include "common/thresholds.h"

namespace pgre {

struct ServerConfig {
  std::string name;  // unique across the config; the `server` label
  Role role = Role::kReplica;
  // libpq connection string, URI or key=value form, exactly as configured.
  // SECRET: may hold a password. Never log, publish or put in an error.
  std::string dsn;
  // The DSN's options as key=value, every secret one (password,
  // sslpassword) written "xxxxx"; safe to log.
  std::string redacted_dsn;
  // A file holding the password (its first line), e.g. a systemd
  // credential or a Kubernetes secret; read at every (re)load.
  std::string password_file;
  // SECRET: the password read from password_file ("" without one). Given
  // to libpq beside the DSN, never put into it.
  std::string password;
  // "host:port" (or the socket directory) without credentials, for JSON.
  std::string endpoint;
  // The first host (or hostaddr, or socket directory) and port of the DSN,
  // to recognize the server as another one's WAL sender.
  std::string host;
  int port = 5432;
  // The application_name of this server's row in its upstream's
  // pg_stat_replication (for the configured primary: once it follows
  // another server). Defaults to `name`.
  std::string application_name;
  // Relative routing weight (>= 1) while it serves reads. Default 1.
  int weight = 1;
};

// A PgBouncer in front of the cluster, polled over its admin console
// (SHOW POOLS, STATS, DATABASES, CONFIG, VERSION).
struct PgBouncerConfig {
  // name (unique among the cluster's servers and pgbouncers: the
  // `pgbouncer` label), dsn (SECRET), redacted_dsn, password_file,
  // password (SECRET) and endpoint, exactly as a server's; role unused.
  ServerConfig connection;
  // The name of the cluster's server it fronts ("" = none given).
  std::string server;
};

enum class Fallback { kPrimary, kNone };

struct RoutingConfig {
  Duration max_lag = thresholds::kRoutingMaxLag;
  std::uint64_t max_lag_bytes = 0;  // 0 = no byte limit
  int fall = 3;
  int rise = 2;
  Duration health_check_interval = std::chrono::seconds(30);
  Fallback fallback = Fallback::kPrimary;
  Duration synthetic_check_interval = std::chrono::seconds(10);
  int synthetic_reads = 3;
  std::string probe_query = "SELECT 1";
  // Synthetic reads on servers in recovery also check that the newest
  // heartbeat they see is no older than max_lag (heartbeat.enabled only).
  bool check_heartbeat = false;
};

// The heartbeat (off by default): the agent's wall-clock time and a
// sequence number written into a one-row table on the primary every
// `interval`, read back on every server at each poll.
struct HeartbeatConfig {
  bool enabled = false;
  Duration interval = std::chrono::seconds(1);
  // `name` or `schema.name`, each [A-Za-z_][A-Za-z0-9_]* (validated).
  std::string table = "pg_replica_exporter_heartbeat";
};

// Thresholds of the /replicas/lag status field (defaults: thresholds.toml).
struct LagStatusConfig {
  Duration warning = thresholds::kLagTarget;
  Duration critical = thresholds::kLagAlert;
};

// Bounds of the primary's WAL history that lag is measured against
// (lag/wal_history.h).
struct LagHistoryConfig {
  std::size_t max_entries = 4096;
  Duration max_age = std::chrono::hours(24);
};

// Members discovered from Patroni's REST API (`discovery.patroni`): every
// `interval`, GET URL/cluster from the first of `urls` that answers; each
// member not configured by name becomes a replica polled with
// `dsn_template` ({host}, {port} and {name} replaced). Off while `urls` is
// empty.
struct PatroniDiscoveryConfig {
  std::vector<std::string> urls;  // http:// or https://, validated
  Duration interval = std::chrono::seconds(10);
  // SECRET: may hold a password. Has {host} and {port} (validated).
  std::string dsn_template;
  // The members' password, as a server's password_file (read at every
  // load and every rebuild of the member list).
  std::string password_file;
  // Basic auth to the REST API: both or neither.
  std::string username;
  std::string rest_password_file;
  std::string rest_password;  // SECRET: read from rest_password_file
  // TLS to the REST API (https URLs): a CA to verify it (else the system's),
  // and a client certificate with its key (both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool enabled() const { return !urls.empty(); }
};

struct DiscoveryConfig {
  PatroniDiscoveryConfig patroni;
};

struct Config {
  std::string cluster = "default";
  bool replicas_enabled = true;        // USE_READ_REPLICAS in environment mode
  ServerConfig primary;                // role kPrimary
  std::vector<ServerConfig> replicas;  // role kReplica, in configured order
  std::vector<PgBouncerConfig> pgbouncers;  // in configured order
  Duration poll_interval = std::chrono::seconds(1);
  Duration connect_timeout = std::chrono::seconds(5);
  Duration query_timeout = std::chrono::seconds(5);
  // The application's own pool size (DB_MAX_CONNECTIONS), if known.
  std::optional<int> app_pool_size;
  RoutingConfig routing;
  LagStatusConfig lag_status;
  LagHistoryConfig lag_history;
  HeartbeatConfig heartbeat;
  // With discovery on, `primary` may be absent (primary.name empty): the
  // cluster's servers then come from the manager alone.
  DiscoveryConfig discovery;
  // Where it came from, for logs: "file /etc/x.yml" or "environment".
  std::string source;
};

// Everything one agent monitors: one or more clusters, each a Config
// (global keys such as poll_interval are copied into every one).
struct AgentConfig {
  std::vector<Config> clusters;  // never empty; names unique
  std::string source;            // as Config::source
};

// Loads and validates a YAML config file: the single-cluster form (the
// file is the one cluster) or the multi-cluster form (`clusters:`, a list
// of entries with `name`, `primary`, `replicas` and their own `routing`,
// `lag_status`, ...; top-level keys are every entry's defaults).
// On success returns every cluster. On failure returns nullopt and sets
// *error to one line "FILE:LINE: KEY: what is wrong" (no secrets; KEY is
// e.g. "clusters[1].replicas[0].dsn").
std::optional<AgentConfig> LoadAgentConfigFile(const std::string& path,
                                               std::string* error);
std::optional<AgentConfig> LoadAgentConfigText(const std::string& text,
                                               const std::string& name,
                                               std::string* error);

// The same, returning the first cluster only (single-cluster callers and
// tests).
std::optional<Config> LoadConfigFile(const std::string& path,
                                     std::string* error);
std::optional<Config> LoadConfigText(const std::string& text,
                                     const std::string& name,
                                     std::string* error);

// Builds a Config from seed-compatible environment variables
// (docs/configuration.md, Environment mode).
// Returns nullopt and sets *error ("environment: VAR: what is wrong") when a
// variable is invalid, when DATABASE_URL is missing, or when the replica
// numbering has a gap.
std::optional<Config> LoadConfigFromEnv(
    const std::map<std::string, std::string>& env, std::string* error);

// True when any of the seed's variables is set in env (DATABASE_URL,
// USE_READ_REPLICAS, READ_REPLICA_*, REPLICA_HEALTH_CHECK_INTERVAL, DB_*).
bool HasSeedEnvironment(const std::map<std::string, std::string>& env);

// A cluster's servers in the one order every module indexes them by: [0]
// the configured primary, then the replicas in configured order.
std::vector<ServerConfig> AllServers(const Config& config);
// Server i of AllServers(config), without copying them.
// REQUIRES: 0 <= i <= config.replicas.size().
const ServerConfig& ServerAt(const Config& config, int i);

// Parses "250ms", "1s", "1.5s", "10m", "1h", "1h30m". Returns nullopt on
// anything else (including negative values and a bare number).
std::optional<Duration> ParseDuration(const std::string& text);

// The reference table of every config key (markdown), from the key table.
std::string ConfigReferenceMarkdown();

// Formats a duration in the syntax ParseDuration accepts, shortest form:
// "250ms", "1s", "1.5s", "1m30s", "1h". Zero is "0s" (which ParseDuration,
// like the config, rejects). Negative durations are formatted as "-" + the
// absolute value.
std::string FormatDuration(Duration d);

// The names of the seed variables set in env (see HasSeedEnvironment), in
// sorted order; for the warning logged when a config file overrides them.
// Never returns values.
std::vector<std::string> SeedEnvironmentVariables(
    const std::map<std::string, std::string>& env);

}  // namespace pgre

#endif  // PGRE_CONFIG_CONFIG_H_
