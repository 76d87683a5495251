// The declarative key table of the configuration (pgbouncer style): every
// config-file key and every seed environment variable is declared once in
// config_keys.cc with its type, default, reloadability and documentation.
// The YAML loader, the environment loader, validation, reload checks and
// ConfigReferenceMarkdown() are all driven by these tables.
//
// Thread safety: the tables are immutable; everything here is thread-safe.
#ifndef PGRE_CONFIG_CONFIG_KEYS_H_
#define PGRE_CONFIG_CONFIG_KEYS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace pgre {

enum class KeyType {
  kString,         // non-empty string
  kDuration,       // ParseDuration syntax, > 0
  kInt,            // decimal integer >= min_int
  kBytes,          // non-negative byte count, optional unit (kB, MB, GB, TB)
  kEnum,           // one of kFallbackNames
  kBool,           // true or false
  kServer,         // a mapping of server keys (kServerKeys)
  kServerList,     // a list of such mappings
  kClusterList,    // a list of clusters (the multi-cluster form)
  kPgBouncerList,  // a list of pgbouncer mappings (kPgBouncerKeys)
  kStringList,     // a list of non-empty strings
};

// The user-facing name of a type, e.g. "duration".
std::string_view KeyTypeName(KeyType type);

// One config-file key. `path` is dotted ("routing.max_lag"); a key whose
// path has a dot lives in the mapping named by its first component.
// Exactly the accessor matching `type` is set (none for servers).
struct KeyDef {
  std::string_view path;
  KeyType type;
  std::string_view default_text;  // as documented
  bool reloadable;
  std::string_view doc;
  bool required = false;
  int min_int = 1;  // kInt only
  std::string* (*string_field)(Config&) = nullptr;
  Duration* (*duration_field)(Config&) = nullptr;
  int* (*int_field)(Config&) = nullptr;
  std::optional<int>* (*optional_int_field)(Config&) = nullptr;
  std::size_t* (*size_field)(Config&) = nullptr;  // kInt alternative
  std::uint64_t* (*bytes_field)(Config&) = nullptr;
  Fallback* (*fallback_field)(Config&) = nullptr;
  bool* (*bool_field)(Config&) = nullptr;
  std::vector<std::string>* (*string_list_field)(Config&) = nullptr;
};

// One key of a server mapping (primary, or an entry of replicas).
struct ServerKeyDef {
  std::string_view key;
  KeyType type;  // kString or kInt
  std::string_view default_text;
  bool replica_only;      // unknown key under `primary`
  bool required_primary;  // must be given for the primary
  bool required_replica;  // must be given for each replica
  std::string_view doc;
  int min_int = 1;
  std::string* (*string_field)(ServerConfig&) = nullptr;
  int* (*int_field)(ServerConfig&) = nullptr;
};

// One key of a `pgbouncers` entry (all strings).
struct PgBouncerKeyDef {
  std::string_view key;
  std::string_view default_text;
  bool required;
  std::string_view doc;
  std::string* (*string_field)(PgBouncerConfig&) = nullptr;
};

// How a seed environment variable is read.
enum class EnvKind {
  kPrimaryDsn,       // DATABASE_URL
  kEnableReplicas,   // USE_READ_REPLICAS: true/1/yes, false/0/no
  kReplicaDsn,       // READ_REPLICA_<N>_CONNECTION_STRING
  kReplicaAppName,   // READ_REPLICA_<N>_APPLICATION_NAME
  kMilliseconds,     // integer milliseconds -> the duration key `key`
  kDuration,         // ParseDuration syntax -> the duration key `key`
  kInt,              // integer -> the int key `key`
  kString,           // non-empty string -> the string key `key`
  kIgnored,          // accepted for seed compatibility; no effect
  kPgBouncerDsn,     // PGBOUNCER_<N>_CONNECTION_STRING
  kPgBouncerServer,  // PGBOUNCER_<N>_SERVER
};

struct EnvVarDef {
  std::string_view name;  // "<N>" stands for the replica number
  EnvKind kind;
  std::string_view key;  // the config key it sets, if any
  bool seed;             // one of the seed application's variables
  std::string_view doc;
};

// The tables. Never empty; valid for the life of the process.
std::span<const KeyDef> ConfigKeys();
std::span<const ServerKeyDef> ServerKeys();
std::span<const EnvVarDef> EnvVars();
std::span<const PgBouncerKeyDef> PgBouncerKeys();

// Returns the key with this dotted path, or nullptr.
const KeyDef* FindKey(std::string_view path);

// Returns the fallback named `name` ("primary", "none"), or nullopt.
std::optional<Fallback> ParseFallback(std::string_view name);
std::string_view FallbackName(Fallback f);

// ---- Value parsers shared by the YAML and environment loaders. ----
// Each returns the value, or nullopt and sets *problem to a short
// description of what is wrong (which quotes the text; never a DSN).

std::optional<Duration> ParsePositiveDuration(const std::string& text,
                                              std::string* problem);
std::optional<int> ParseIntValue(const std::string& text, int min,
                                 std::string* problem);
std::optional<std::uint64_t> ParseBytes(const std::string& text,
                                        std::string* problem);

// Completes a server whose name, role, dsn (and optionally password_file,
// application_name and weight) are set: registers the DSN's secrets,
// validates the DSN with libpq, reads the password file, and fills
// redacted_dsn, endpoint, password and a defaulted application_name.
// Returns true, or false with *problem set to a description free of
// secrets and, when `key` is non-null, *key to the server key at fault
// ("dsn" or "password_file").
bool FinishServer(ServerConfig* server, std::string* problem,
                  std::string* key = nullptr);

// The first line of a password file, without its line break; nullopt and
// *problem (naming the file, never its content) when it cannot be read or
// holds nothing. Reads at most 4 KiB.
std::optional<std::string> ReadPasswordFile(const std::string& path,
                                            std::string* problem);

// The checks of a cluster's discovery settings (discovery.patroni.*):
// every URL http(s)://HOST[:PORT][/PATH] without credentials, a
// dsn_template with {host} and {port} that libpq accepts (its secrets
// registered), the password files readable (their passwords read into
// `config` and registered), basic auth and client certificate in pairs,
// the TLS files readable, and no other discovery key without `urls`.
// Returns true, or false with *key the offending dotted key
// ("discovery.patroni.urls[1]") and *problem set (no secrets).
bool CheckDiscovery(Config* config, std::string* key, std::string* problem);

// Cross-server checks of a loaded config: unique server names and unique
// replica application_names. Returns true, or false with *key set to the
// offending dotted key (e.g. "replicas[1].name") and *problem set.
bool CheckServers(const Config& config, std::string* key, std::string* problem);

// Checks of a loaded config's pgbouncers: names unique among the servers
// and pgbouncers, `server` naming a configured server. Returns true, or
// false with *key set to the offending dotted key ("pgbouncers[1].server")
// and *problem set.
bool CheckPgBouncers(const Config& config, std::string* key,
                     std::string* problem);

}  // namespace pgre

#endif  // PGRE_CONFIG_CONFIG_KEYS_H_
