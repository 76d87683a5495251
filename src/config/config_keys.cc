#include "config/config_keys.h"

#include <array>
#include <sstream>

#include "common/thresholds.h"

namespace pgre {
namespace {

constexpr KeyDef kKeys[] = {
    {.path = "clusters",
     .type = KeyType::kClusterList,
     .default_text = "(none)",
     .reloadable = true,
     .doc = "The multi-cluster form: a list of clusters, each with `name` "
            "(unique), `primary`, `replicas` and, optionally, any other key "
            "of this table but `cluster` (its own `routing`, `lag_status`, "
            "`poll_interval`, ...). Top-level keys are then every "
            "cluster's defaults; `primary`, `replicas` and `cluster` are "
            "not allowed at the top level. Without `clusters` the file is "
            "one cluster (the single-cluster form)."},
    {.path = "cluster",
     .type = KeyType::kString,
     .default_text = "default",
     .reloadable = true,
     .doc = "Name of the monitored cluster (single-cluster form): the "
            "`cluster` label of every metric.",
     .string_field = [](Config& c) { return &c.cluster; }},
    {.path = "poll_interval",
     .type = KeyType::kDuration,
     .default_text = "1s",
     .reloadable = true,
     .doc = "How often every server is polled.",
     .duration_field = [](Config& c) { return &c.poll_interval; }},
    {.path = "connect_timeout",
     .type = KeyType::kDuration,
     .default_text = "5s",
     .reloadable = true,
     .doc = "Limit on opening a connection to a server (TCP, TLS and "
            "authentication). The seed's `DB_CONNECTION_TIMEOUT`.",
     .duration_field = [](Config& c) { return &c.connect_timeout; }},
    {.path = "query_timeout",
     .type = KeyType::kDuration,
     .default_text = "5s",
     .reloadable = true,
     .doc = "Limit on the queries of one poll of one server. The seed's "
            "`DB_QUERY_TIMEOUT`.",
     .duration_field = [](Config& c) { return &c.query_timeout; }},
    {.path = "app_pool_size",
     .type = KeyType::kInt,
     .default_text = "(unset)",
     .reloadable = true,
     .doc = "The application's own connection pool size (the seed's "
            "`DB_MAX_CONNECTIONS`), to compare connection counts against. "
            "Unset: unknown.",
     .min_int = 1,
     .optional_int_field = [](Config& c) { return &c.app_pool_size; }},
    {.path = "primary",
     .type = KeyType::kServer,
     .default_text = "(required)",
     .reloadable = true,
     .doc = "The primary server; see [Server keys](#server-keys). "
            "`primary.dsn` is the one key every config must set.",
     .required = true},
    {.path = "replicas",
     .type = KeyType::kServerList,
     .default_text = "[]",
     .reloadable = true,
     .doc = "The streaming replicas, in routing order; see "
            "[Server keys](#server-keys). May be empty."},
    {.path = "pgbouncers",
     .type = KeyType::kPgBouncerList,
     .default_text = "[]",
     .reloadable = true,
     .doc = "PgBouncers in front of the cluster, each polled every "
            "`poll_interval` over its admin console (`SHOW POOLS`, `STATS`, "
            "`DATABASES`, `CONFIG`, `VERSION`); see "
            "[PgBouncer keys](#pgbouncer-keys). May be empty."},
    {.path = "routing.max_lag",
     .type = KeyType::kDuration,
     .default_text = thresholds::kRoutingMaxLagText,
     .reloadable = true,
     .doc = "A replica whose replication lag exceeds this is taken out of "
            "read routing.",
     .duration_field = [](Config& c) { return &c.routing.max_lag; }},
    {.path = "routing.max_lag_bytes",
     .type = KeyType::kBytes,
     .default_text = "0",
     .reloadable = true,
     .doc = "A replica more than this much WAL behind the primary is taken "
            "out of read routing. 0: no byte limit.",
     .bytes_field = [](Config& c) { return &c.routing.max_lag_bytes; }},
    {.path = "routing.fall",
     .type = KeyType::kInt,
     .default_text = "3",
     .reloadable = true,
     .doc = "Consecutive failed health checks before a replica is marked "
            "down (>= 1).",
     .min_int = 1,
     .int_field = [](Config& c) { return &c.routing.fall; }},
    {.path = "routing.rise",
     .type = KeyType::kInt,
     .default_text = "2",
     .reloadable = true,
     .doc = "Consecutive successful health checks before a down replica is "
            "marked up again (>= 1).",
     .min_int = 1,
     .int_field = [](Config& c) { return &c.routing.rise; }},
    {.path = "routing.health_check_interval",
     .type = KeyType::kDuration,
     .default_text = "30s",
     .reloadable = true,
     .doc = "Interval of the routing health checks. The seed's "
            "`REPLICA_HEALTH_CHECK_INTERVAL`.",
     .duration_field =
         [](Config& c) { return &c.routing.health_check_interval; }},
    {.path = "routing.fallback",
     .type = KeyType::kEnum,
     .default_text = "primary",
     .reloadable = true,
     .doc = "Where reads go when no replica is routable: `primary`, or "
            "`none` (no read target).",
     .fallback_field = [](Config& c) { return &c.routing.fallback; }},
    {.path = "routing.synthetic_check_interval",
     .type = KeyType::kDuration,
     .default_text = "10s",
     .reloadable = true,
     .doc = "How often the synthetic read check runs.",
     .duration_field =
         [](Config& c) { return &c.routing.synthetic_check_interval; }},
    {.path = "routing.synthetic_reads",
     .type = KeyType::kInt,
     .default_text = "3",
     .reloadable = true,
     .doc = "Number of reads one synthetic check routes (>= 1).",
     .min_int = 1,
     .int_field = [](Config& c) { return &c.routing.synthetic_reads; }},
    {.path = "routing.probe_query",
     .type = KeyType::kString,
     .default_text = "SELECT 1",
     .reloadable = true,
     .doc = "The statement a synthetic read runs.",
     .string_field = [](Config& c) { return &c.routing.probe_query; }},
    {.path = "routing.check_heartbeat",
     .type = KeyType::kBool,
     .default_text = "false",
     .reloadable = true,
     .doc = "With the heartbeat on: a synthetic read on a server in "
            "recovery also reads the heartbeat row and fails when the "
            "newest heartbeat it sees is older than `routing.max_lag` (a "
            "read-your-writes check). Requires `heartbeat.enabled`.",
     .bool_field = [](Config& c) { return &c.routing.check_heartbeat; }},
    {.path = "heartbeat.enabled",
     .type = KeyType::kBool,
     .default_text = "false",
     .reloadable = true,
     .doc = "Write the agent's wall-clock time and a sequence number into "
            "a one-row table on the primary every `heartbeat.interval`, and "
            "read it back on every replica at each poll: "
            "`pg_replica_heartbeat_lag_seconds`. Needs a role that may "
            "write that table ([lag.md](lag.md#heartbeat-write-to-read-"
            "visibility)); an idle "
            "primary then writes a little WAL (at most about 32 MB a day at "
            "1s, measured by scripts/heartbeat-wal.sh).",
     .bool_field = [](Config& c) { return &c.heartbeat.enabled; }},
    {.path = "heartbeat.interval",
     .type = KeyType::kDuration,
     .default_text = "1s",
     .reloadable = true,
     .doc = "How often the heartbeat is written (its resolution: the "
            "heartbeat lag of a replica that is fully caught up reads "
            "between 0 and this).",
     .duration_field = [](Config& c) { return &c.heartbeat.interval; }},
    {.path = "heartbeat.table",
     .type = KeyType::kString,
     .default_text = "pg_replica_exporter_heartbeat",
     .reloadable = true,
     .doc = "The heartbeat table, `name` or `schema.name` (letters, digits "
            "and `_`). Created on the primary when absent, if the role may.",
     .string_field = [](Config& c) { return &c.heartbeat.table; }},
    {.path = "discovery.patroni.urls",
     .type = KeyType::kStringList,
     .default_text = "[]",
     .reloadable = true,
     .doc = "Patroni REST API base URLs (`http://HOST:8008` or `https://...`; "
            "any member's: each serves the whole cluster). With them, the "
            "cluster's members come from `GET URL/cluster` of the first URL "
            "that answers, every `discovery.patroni.interval`: a member "
            "not configured by name is polled as a replica with "
            "`discovery.patroni.dsn_template`; one that disappears stops "
            "being polled; a failed discovery keeps the last list. "
            "`primary` is then optional. See "
            "[patroni.md](patroni.md#members-discovered-from-patroni).",
     .string_list_field = [](Config& c) { return &c.discovery.patroni.urls; }},
    {.path = "discovery.patroni.interval",
     .type = KeyType::kDuration,
     .default_text = "10s",
     .reloadable = true,
     .doc = "How often the members are discovered; a member that appears "
            "is polled within two intervals, without a reload.",
     .duration_field = [](Config& c) { return &c.discovery.patroni.interval; }},
    {.path = "discovery.patroni.dsn_template",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "The connection string of a discovered member: `{host}` and "
            "`{port}` (required) and `{name}` are replaced by Patroni's "
            "values, e.g. `host={host} port={port} dbname=postgres "
            "user=monitor`. Credentials stay here, in "
            "`discovery.patroni.password_file` or in `.pgpass`, never in "
            "what is discovered.",
     .string_field =
         [](Config& c) { return &c.discovery.patroni.dsn_template; }},
    {.path = "discovery.patroni.password_file",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "A file holding the discovered members' password (its first "
            "line), as a server's `password_file`.",
     .string_field =
         [](Config& c) { return &c.discovery.patroni.password_file; }},
    {.path = "discovery.patroni.basic_auth.username",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "Basic auth to the REST API (with "
            "`discovery.patroni.basic_auth.password_file`).",
     .string_field = [](Config& c) { return &c.discovery.patroni.username; }},
    {.path = "discovery.patroni.basic_auth.password_file",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "The file holding the REST API password (its first line).",
     .string_field =
         [](Config& c) { return &c.discovery.patroni.rest_password_file; }},
    {.path = "discovery.patroni.tls_config.ca_file",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "CA certificates (PEM) that sign the REST API's certificate "
            "(`https://` URLs); the system's when unset. The URL's host is "
            "verified against the certificate.",
     .string_field = [](Config& c) { return &c.discovery.patroni.ca_file; }},
    {.path = "discovery.patroni.tls_config.cert_file",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "A client certificate (PEM) for a REST API with "
            "`verify_client: required` (with `tls_config.key_file`).",
     .string_field = [](Config& c) { return &c.discovery.patroni.cert_file; }},
    {.path = "discovery.patroni.tls_config.key_file",
     .type = KeyType::kString,
     .default_text = "",
     .reloadable = true,
     .doc = "The client certificate's private key (PEM).",
     .string_field = [](Config& c) { return &c.discovery.patroni.key_file; }},
    {.path = "lag_status.warning",
     .type = KeyType::kDuration,
     .default_text = thresholds::kLagTargetText,
     .reloadable = true,
     .doc = "Replication lag threshold of the `warning` status in the lag "
            "endpoint.",
     .duration_field = [](Config& c) { return &c.lag_status.warning; }},
    {.path = "lag_status.critical",
     .type = KeyType::kDuration,
     .default_text = thresholds::kLagAlertText,
     .reloadable = true,
     .doc = "Replication lag threshold of the `critical` status. Must be >= "
            "`lag_status.warning`.",
     .duration_field = [](Config& c) { return &c.lag_status.critical; }},
    {.path = "lag_history.max_age",
     .type = KeyType::kDuration,
     .default_text = "24h",
     .reloadable = true,
     .doc = "How far back the primary's WAL history (what lag is measured "
            "against) reaches. A replica whose replay position is older "
            "than the whole history reads the history's age as a lower "
            "bound. A saved history older than this is not restored.",
     .duration_field = [](Config& c) { return &c.lag_history.max_age; }},
    {.path = "lag_history.max_entries",
     .type = KeyType::kInt,
     .default_text = "4096",
     .reloadable = true,
     .doc = "Most entries the WAL history holds (16 bytes each; one per "
            "poll that sees the primary's WAL move). Past it, older "
            "entries are thinned: the reach stays, the resolution of old "
            "positions coarsens (>= 4).",
     .min_int = 4,
     .size_field = [](Config& c) { return &c.lag_history.max_entries; }},
};

constexpr ServerKeyDef kServerKeys[] = {
    {.key = "name",
     .type = KeyType::kString,
     .default_text = "`primary` for the primary; required for replicas",
     .replica_only = false,
     .required_primary = false,
     .required_replica = true,
     .doc = "Server name, unique across the config: the `server` label.",
     .string_field = [](ServerConfig& s) { return &s.name; }},
    {.key = "dsn",
     .type = KeyType::kString,
     .default_text = "(required)",
     .replica_only = false,
     .required_primary = true,
     .required_replica = true,
     .doc = "libpq connection string, as a URI "
            "(`postgresql://monitor@db1:5432/app?sslmode=require`) or in "
            "key=value form (`host=db1 port=5432 user=monitor`). A password "
            "in it is never logged or published; a password file "
            "(`~/.pgpass`, `PGPASSFILE`) keeps it out of the config "
            "altogether.",
     .string_field = [](ServerConfig& s) { return &s.dsn; }},
    {.key = "password_file",
     .type = KeyType::kString,
     .default_text = "(none)",
     .replica_only = false,
     .required_primary = false,
     .required_replica = false,
     .doc = "A file whose first line is the password (a systemd "
            "credential, `$CREDENTIALS_DIRECTORY/...`, or a mounted "
            "Kubernetes secret), so that none sits in the YAML. Read at "
            "start and at every reload. Not with a password in `dsn`. "
            "libpq's `passfile` (in the DSN, or `PGPASSFILE`) works too.",
     .string_field = [](ServerConfig& s) { return &s.password_file; }},
    {.key = "application_name",
     .type = KeyType::kString,
     .default_text = "the server's `name`",
     .replica_only = false,
     .required_primary = false,
     .required_replica = false,
     .doc = "The server's `application_name` in its upstream's "
            "`pg_stat_replication` (as set in its `primary_conninfo`); for "
            "the primary, once it follows another server after a "
            "failover. Unique across servers.",
     .string_field = [](ServerConfig& s) { return &s.application_name; }},
    {.key = "weight",
     .type = KeyType::kInt,
     .default_text = "1",
     .replica_only = true,
     .required_primary = false,
     .required_replica = false,
     .doc = "Replicas only: relative share of reads routed to this replica "
            "(>= 1). The configured primary has weight 1 when, after a "
            "failover, it serves reads as a replica.",
     .min_int = 1,
     .int_field = [](ServerConfig& s) { return &s.weight; }},
};

constexpr PgBouncerKeyDef kPgBouncerKeys[] = {
    {.key = "name",
     .default_text = "(required)",
     .required = true,
     .doc = "Unique among the cluster's servers and pgbouncers: the "
            "`pgbouncer` label.",
     .string_field = [](PgBouncerConfig& p) { return &p.connection.name; }},
    {.key = "dsn",
     .default_text = "(required)",
     .required = true,
     .doc = "libpq connection string of its admin console (database "
            "`pgbouncer`, a user in its `admin_users` or `stats_users`), "
            "e.g. `host=127.0.0.1 port=6432 dbname=pgbouncer "
            "user=pgbouncer`. Secrets are handled as a server's `dsn`.",
     .string_field = [](PgBouncerConfig& p) { return &p.connection.dsn; }},
    {.key = "password_file",
     .default_text = "(none)",
     .required = false,
     .doc = "As a server's `password_file`.",
     .string_field =
         [](PgBouncerConfig& p) { return &p.connection.password_file; }},
    {.key = "server",
     .default_text = "(none)",
     .required = false,
     .doc = "The name of the cluster's server it fronts (`primary`, or a "
            "replica's `name`): the `server` label of its metrics, and "
            "where the connection-pool endpoint lists its pools.",
     .string_field = [](PgBouncerConfig& p) { return &p.server; }},
};

constexpr EnvVarDef kEnvVars[] = {
    {"DATABASE_URL", EnvKind::kPrimaryDsn, "primary.dsn", true,
     "Required. The primary's connection string; the server is named "
     "`primary`."},
    {"USE_READ_REPLICAS", EnvKind::kEnableReplicas, "", true,
     "`true`, `1` or `yes` (any case): monitor the `READ_REPLICA_<N>_*` "
     "replicas. `false`, `0`, `no` or unset: no replicas; "
     "`READ_REPLICA_*` are ignored."},
    {"READ_REPLICA_<N>_CONNECTION_STRING", EnvKind::kReplicaDsn,
     "replicas[].dsn", true,
     "Replica N's connection string, for N = 1, 2, 3, ... without gaps; "
     "the server is named `replica<N>`."},
    {"READ_REPLICA_<N>_APPLICATION_NAME", EnvKind::kReplicaAppName,
     "replicas[].application_name", false,
     "Optional: replica N's `application_name` in `pg_stat_replication` "
     "(default `replica<N>`)."},
    {"REPLICA_HEALTH_CHECK_INTERVAL", EnvKind::kMilliseconds,
     "routing.health_check_interval", true, "In milliseconds, e.g. `30000`."},
    {"DB_CONNECTION_TIMEOUT", EnvKind::kDuration, "connect_timeout", true,
     "A duration, e.g. `30s`."},
    {"DB_QUERY_TIMEOUT", EnvKind::kDuration, "query_timeout", true,
     "A duration, e.g. `60s`."},
    {"DB_MAX_CONNECTIONS", EnvKind::kInt, "app_pool_size", true,
     "An integer >= 1."},
    {"DB_MIN_CONNECTIONS", EnvKind::kIgnored, "", true,
     "Accepted and ignored (the application's pool setting)."},
    {"DB_MAX_IDLE_TIME", EnvKind::kIgnored, "", true,
     "Accepted and ignored (the application's pool setting)."},
    {"DB_MAX_LIFETIME", EnvKind::kIgnored, "", true,
     "Accepted and ignored (the application's pool setting)."},
    {"PGRE_CLUSTER", EnvKind::kString, "cluster", false,
     "Optional: the cluster name (default `default`)."},
    {"PGBOUNCER_<N>_CONNECTION_STRING", EnvKind::kPgBouncerDsn,
     "pgbouncers[].dsn", false,
     "Optional: PgBouncer N's admin console connection string, for N = 1, "
     "2, 3, ... without gaps; it is named `pgbouncer<N>`."},
    {"PGBOUNCER_<N>_SERVER", EnvKind::kPgBouncerServer, "pgbouncers[].server",
     false,
     "Optional: the server PgBouncer N fronts: `primary` or `replica<M>`."},
};

constexpr std::array<std::pair<std::string_view, Fallback>, 2> kFallbackNames =
    {{{"primary", Fallback::kPrimary}, {"none", Fallback::kNone}}};

constexpr std::string_view kMarkdownHeader =
    R"(# Configuration

<!-- Generated by ConfigReferenceMarkdown() in src/config/config_keys.cc.
     Do not edit; regenerate with
     PGRE_UPDATE_DOCS=1 build/src/config/config_tests '[docs]' -->

pg_replica_exporter takes its configuration from one of two sources:

1. **A YAML file**, given with `--config.file=PATH`.
   [`config/pg_replica_exporter.yml`](../config/pg_replica_exporter.yml) is a
   commented example that shows every key with its default.
2. **The seed application's environment variables** (`DATABASE_URL`,
   `USE_READ_REPLICAS`, `READ_REPLICA_<N>_CONNECTION_STRING`, ...; see
   [Environment mode](#environment-mode) and
   [`config/env.example`](../config/env.example)). This mode applies only
   when no `--config.file` is given.

When both a `--config.file` and seed variables are present, **the file wins**:
the variables are ignored and the agent logs a warning that names each
ignored variable (never its value).

Loading is all or nothing. The first problem found (an unknown key, a wrong
type, a bad duration, a duplicate server or cluster name, the same server
(host, port, database and user) twice, no primary, a connection string
libpq cannot parse) stops it with one line, `FILE:LINE: KEY: what is wrong`
for a file (KEY is a dotted path such as `routing.fall` or
`replicas[1].dsn`; list entries count from 0) or
`environment: VARIABLE: what is wrong` in environment mode, and the agent
exits with code 2 before it starts anything (`--config.check` checks the
same way and starts nothing). No message ever contains a password.

**Durations** are a sequence of numbers with units `ms`, `s`, `m`, `h`:
`250ms`, `5s`, `1.5s`, `10m`, `1h30m`. A bare number, a negative value and
(for every duration key) zero are rejected. **Byte counts** are an integer,
optionally with a unit `kB`, `MB`, `GB` or `TB` (powers of 1024, as in
PostgreSQL): `16MB`.

**Reloading.** `kill -HUP` (or `systemctl reload`) makes the agent read
the file again. The new file is validated in full first: when it is invalid
the running configuration stays, the error is logged and
`pg_replica_exporter_config_last_reload_successful` drops to 0. A valid file
replaces the whole monitoring pipeline (servers, polling, routing) at once,
so **Reloadable** keys (all of them) take effect at once; each cluster's lag
history is handed to the new pipeline by cluster name, with the checks of a
restart ([lag.md](lag.md#across-restarts-and-reloads)), while routing state
and counters start over. The HTTP server, its address and the command-line
flags are not reloaded (the web config file is:
[security.md](security.md#tls-and-basic-auth)). In environment mode there is
nothing to reload.

**Many clusters, one agent.** `clusters:` lists clusters, each with its
`name`, `primary`, `replicas` and, when they differ, its own `routing`,
`lag_status` and timing keys; the top-level keys are every cluster's
defaults ([`config/multi-cluster.yml`](../config/multi-cluster.yml)):

```yaml
poll_interval: 1s
routing:
  max_lag: 5s
clusters:
  - name: orders
    primary: {dsn: "host=orders-db1 dbname=app user=monitor"}
    replicas:
      - {name: replica1, dsn: "host=orders-db2 dbname=app user=monitor"}
  - name: billing
    routing: {max_lag: 2s}
    primary: {dsn: "host=billing-db1 dbname=app user=monitor"}
    replicas:
      - {name: replica1, dsn: "host=billing-db2 dbname=app user=monitor"}
```

Every series carries its `cluster` label, the JSON endpoints take
`?cluster=NAME` ([json-endpoints.md](json-endpoints.md)), and a cluster's
failure touches no other's ([reliability.md](reliability.md#many-clusters-one-agent)).
The single-cluster form (the keys at the top level) stays valid and means
one cluster.

The `endpoint` shown for a server is `host:port` from its DSN (IPv6 hosts in
brackets; a Unix socket directory when the host is a path). A DSN without a
host is shown with libpq's default socket directory. libpq's `PGHOST`/`PGPORT`
environment variables also apply to connections but are not reflected in the
endpoint.
)";

std::string Code(std::string_view s) {
  // Built by appending: GCC 12 at -O3 reports a false -Wrestrict on
  // "`" + std::string(s).
  std::string out;
  out.reserve(s.size() + 2);
  out += '`';
  out += s;
  out += '`';
  return out;
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kString:
      return "string";
    case KeyType::kDuration:
      return "duration";
    case KeyType::kInt:
      return "integer";
    case KeyType::kBytes:
      return "bytes";
    case KeyType::kEnum:
      return "enum";
    case KeyType::kBool:
      return "boolean";
    case KeyType::kServer:
      return "server";
    case KeyType::kServerList:
      return "list of servers";
    case KeyType::kClusterList:
      return "list of clusters";
    case KeyType::kPgBouncerList:
      return "list of pgbouncers";
    case KeyType::kStringList:
      return "list of strings";
  }
  return "?";
}

std::span<const KeyDef> ConfigKeys() { return kKeys; }
std::span<const ServerKeyDef> ServerKeys() { return kServerKeys; }
std::span<const EnvVarDef> EnvVars() { return kEnvVars; }
std::span<const PgBouncerKeyDef> PgBouncerKeys() { return kPgBouncerKeys; }

const KeyDef* FindKey(std::string_view path) {
  for (const KeyDef& key : kKeys) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

std::optional<Fallback> ParseFallback(std::string_view name) {
  for (const auto& [n, f] : kFallbackNames) {
    if (n == name) return f;
  }
  return std::nullopt;
}

std::string_view FallbackName(Fallback f) {
  for (const auto& [n, value] : kFallbackNames) {
    if (value == f) return n;
  }
  return "?";
}

std::string ConfigReferenceMarkdown() {
  std::ostringstream out;
  out << kMarkdownHeader;

  out << "\n## Keys\n\n"
         "| Key | Type | Default | Reloadable | Description |\n"
         "|---|---|---|---|---|\n";
  for (const KeyDef& key : kKeys) {
    std::string type(KeyTypeName(key.type));
    if (key.type == KeyType::kEnum) {
      type += ": ";
      for (size_t i = 0; i < kFallbackNames.size(); ++i) {
        if (i > 0) type += ", ";
        type += Code(kFallbackNames[i].first);
      }
    }
    const bool literal = key.default_text.front() != '(';
    out << "| " << Code(key.path) << " | " << type << " | "
        << (literal ? Code(key.default_text) : std::string(key.default_text))
        << " | " << (key.reloadable ? "yes" : "no") << " | " << key.doc
        << " |\n";
  }

  out << "\n## Server keys\n\n"
         "The keys of `primary` and of each entry of `replicas`:\n\n"
         "| Key | Type | Default | Description |\n"
         "|---|---|---|---|\n";
  for (const ServerKeyDef& key : kServerKeys) {
    out << "| " << Code(key.key) << " | " << KeyTypeName(key.type) << " | "
        << (key.default_text == "1" ? Code(key.default_text)
                                    : std::string(key.default_text))
        << " | " << key.doc << " |\n";
  }

  out << "\n## PgBouncer keys\n\n"
         "The keys of each entry of `pgbouncers`:\n\n"
         "| Key | Type | Default | Description |\n"
         "|---|---|---|---|\n";
  for (const PgBouncerKeyDef& key : kPgBouncerKeys) {
    out << "| " << Code(key.key) << " | string | " << key.default_text << " | "
        << key.doc << " |\n";
  }

  out << "\n## Environment mode\n\n"
         "Used only when no `--config.file` is given. Every key not listed "
         "here keeps its default. Errors name the variable: "
         "`environment: READ_REPLICA_2_CONNECTION_STRING: ...`. Other "
         "`READ_REPLICA_<N>_*` variables are ignored.\n\n"
         "| Variable | Sets | Description |\n"
         "|---|---|---|\n";
  for (const EnvVarDef& var : kEnvVars) {
    out << "| " << Code(var.name) << " | "
        << (var.key.empty() ? std::string("-") : Code(var.key)) << " | "
        << var.doc << " |\n";
  }
  return out.str();
}

}  // namespace pgre
