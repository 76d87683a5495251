// The seed-compatible environment mode: DATABASE_URL, USE_READ_REPLICAS,
// READ_REPLICA_<N>_CONNECTION_STRING, ... (see config_keys.cc, kEnvVars).
#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include "common/redact.h"
#include "common/text.h"
#include "config/config.h"
#include "config/config_keys.h"
#include "config/dsn.h"

namespace pgre {
namespace {

constexpr std::string_view kReplicaPrefix = "READ_REPLICA_";
constexpr std::string_view kDsnSuffix = "_CONNECTION_STRING";
constexpr std::string_view kAppNameSuffix = "_APPLICATION_NAME";
constexpr std::string_view kPgBouncerPrefix = "PGBOUNCER_";
constexpr std::string_view kServerSuffix = "_SERVER";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return s;
}

std::string ReplicaVar(long n, std::string_view suffix) {
  return std::string(kReplicaPrefix) + std::to_string(n) + std::string(suffix);
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

class EnvLoader {
 public:
  explicit EnvLoader(const std::map<std::string, std::string>& env)
      : env_(env) {}

  std::optional<Config> Load(std::string* error) {
    // Secrets first, so that no message below can show one; this includes
    // replica DSNs that end up ignored.
    for (const auto& [name, value] : env_) {
      if (name == "DATABASE_URL" || ((StartsWith(name, kReplicaPrefix) ||
                                      StartsWith(name, kPgBouncerPrefix)) &&
                                     EndsWith(name, kDsnSuffix))) {
        RegisterDsnSecrets(value);
      }
    }
    std::optional<Config> config = LoadImpl();
    if (!config) *error = ScrubSecrets(error_);
    return config;
  }

 private:
  bool Fail(std::string_view var, std::string_view what) {
    error_ = EscapeControl("environment: " + std::string(var) + ": " +
                           std::string(what));
    return false;
  }

  const std::string* Get(std::string_view name) const {
    auto it = env_.find(std::string(name));
    return it == env_.end() ? nullptr : &it->second;
  }

  std::optional<Config> LoadImpl() {
    Config config;
    config.source = "environment";
    config.replicas_enabled = false;
    for (const EnvVarDef& var : EnvVars()) {
      if (var.name.find('<') != std::string_view::npos) continue;  // patterns
      if (!LoadVar(var, &config)) return std::nullopt;
    }
    if (config.replicas_enabled && !LoadReplicas(&config)) return std::nullopt;
    if (!LoadPgBouncers(&config)) return std::nullopt;
    std::string key, problem;
    if (!CheckServers(config, &key, &problem)) {
      // Names are fixed (primary, replica<N>), so only application names of
      // replicas can collide: key is "replicas[I].application_name".
      const long index = std::stol(key.substr(key.find('[') + 1));
      Fail(ReplicaVar(index + 1, kAppNameSuffix), problem);
      return std::nullopt;
    }
    if (!CheckPgBouncers(config, &key, &problem)) {
      // Names are fixed (pgbouncer<N>): only `server` can be wrong.
      const long index = std::stol(key.substr(key.find('[') + 1));
      Fail(std::string(kPgBouncerPrefix) + std::to_string(index + 1) +
               std::string(kServerSuffix),
           problem);
      return std::nullopt;
    }
    return config;
  }

  bool LoadVar(const EnvVarDef& var, Config* config) {
    const std::string* value = Get(var.name);
    const KeyDef* key = var.key.empty() ? nullptr : FindKey(var.key);
    std::string problem;
    switch (var.kind) {
      case EnvKind::kPrimaryDsn: {
        if (value == nullptr) {
          return Fail(var.name,
                      "not set (the primary's connection string is "
                      "required)");
        }
        if (value->empty()) return Fail(var.name, "is empty");
        config->primary.name = "primary";
        config->primary.role = Role::kPrimary;
        config->primary.dsn = *value;
        if (!FinishServer(&config->primary, &problem)) {
          return Fail(var.name, problem);
        }
        return true;
      }
      case EnvKind::kEnableReplicas: {
        if (value == nullptr) return true;
        const std::string v = Lower(*value);
        if (v == "true" || v == "1" || v == "yes") {
          config->replicas_enabled = true;
        } else if (v == "false" || v == "0" || v == "no") {
          config->replicas_enabled = false;
        } else {
          return Fail(var.name, "expected true, 1, yes, false, 0 or no, got " +
                                    Quote(*value));
        }
        return true;
      }
      case EnvKind::kMilliseconds: {
        if (value == nullptr) return true;
        auto ms = ParseIntValue(*value, 1, &problem);
        if (!ms) return Fail(var.name, problem + " (milliseconds)");
        *key->duration_field(*config) = Duration(*ms);
        return true;
      }
      case EnvKind::kDuration: {
        if (value == nullptr) return true;
        auto d = ParsePositiveDuration(*value, &problem);
        if (!d) return Fail(var.name, problem);
        *key->duration_field(*config) = *d;
        return true;
      }
      case EnvKind::kInt: {
        if (value == nullptr) return true;
        auto v = ParseIntValue(*value, key->min_int, &problem);
        if (!v) return Fail(var.name, problem);
        if (key->int_field != nullptr) *key->int_field(*config) = *v;
        if (key->optional_int_field != nullptr) {
          *key->optional_int_field(*config) = *v;
        }
        return true;
      }
      case EnvKind::kString:
        if (value == nullptr) return true;
        if (value->empty()) return Fail(var.name, "is empty");
        *key->string_field(*config) = *value;
        return true;
      case EnvKind::kIgnored:
      case EnvKind::kReplicaDsn:
      case EnvKind::kReplicaAppName:
      case EnvKind::kPgBouncerDsn:
      case EnvKind::kPgBouncerServer:
        return true;
    }
    return true;
  }

  bool LoadReplicas(Config* config) {
    std::map<long, std::string> dsns;
    std::map<long, std::string> app_names;
    for (const auto& [name, value] : env_) {
      if (!StartsWith(name, kReplicaPrefix)) continue;
      const std::string_view rest =
          std::string_view(name).substr(kReplicaPrefix.size());
      std::string_view suffix;
      if (EndsWith(rest, kDsnSuffix)) {
        suffix = kDsnSuffix;
      } else if (EndsWith(rest, kAppNameSuffix)) {
        suffix = kAppNameSuffix;
      } else {
        continue;  // not ours; documented as ignored
      }
      const std::string_view number =
          rest.substr(0, rest.size() - suffix.size());
      if (number.empty() || number.size() > 6 || number[0] == '0' ||
          number.find_first_not_of("0123456789") != std::string_view::npos) {
        return Fail(name, "expected READ_REPLICA_<N>" + std::string(suffix) +
                              " with N = 1, 2, 3, ... (no leading zeros)");
      }
      const long n = std::stol(std::string(number));
      (suffix == kDsnSuffix ? dsns : app_names)[n] = value;
    }
    for (const auto& [n, app_name] : app_names) {
      if (!dsns.count(n)) {
        return Fail(ReplicaVar(n, kAppNameSuffix),
                    "set, but " + ReplicaVar(n, kDsnSuffix) + " is not");
      }
    }
    const long last = dsns.empty() ? 0 : dsns.rbegin()->first;
    for (long n = 1; n <= last; ++n) {
      if (!dsns.count(n)) {
        return Fail(ReplicaVar(n, kDsnSuffix),
                    "not set, but " + ReplicaVar(last, kDsnSuffix) +
                        " is (replicas are numbered 1, 2, 3, ... without "
                        "gaps)");
      }
    }
    for (const auto& [n, dsn] : dsns) {
      ServerConfig server;
      server.role = Role::kReplica;
      server.name = "replica" + std::to_string(n);
      server.dsn = dsn;
      if (dsn.empty()) return Fail(ReplicaVar(n, kDsnSuffix), "is empty");
      if (auto it = app_names.find(n); it != app_names.end()) {
        if (it->second.empty()) {
          return Fail(ReplicaVar(n, kAppNameSuffix), "is empty");
        }
        server.application_name = it->second;
      }
      std::string problem;
      if (!FinishServer(&server, &problem)) {
        return Fail(ReplicaVar(n, kDsnSuffix), problem);
      }
      config->replicas.push_back(std::move(server));
    }
    return true;
  }

  // PGBOUNCER_<N>_CONNECTION_STRING / _SERVER, N = 1.. without gaps.
  bool LoadPgBouncers(Config* config) {
    auto var = [](long n, std::string_view suffix) {
      return std::string(kPgBouncerPrefix) + std::to_string(n) +
             std::string(suffix);
    };
    std::map<long, std::string> dsns, servers;
    for (const auto& [name, value] : env_) {
      if (!StartsWith(name, kPgBouncerPrefix)) continue;
      const std::string_view rest =
          std::string_view(name).substr(kPgBouncerPrefix.size());
      std::string_view suffix;
      if (EndsWith(rest, kDsnSuffix)) {
        suffix = kDsnSuffix;
      } else if (EndsWith(rest, kServerSuffix)) {
        suffix = kServerSuffix;
      } else {
        continue;
      }
      const std::string_view number =
          rest.substr(0, rest.size() - suffix.size());
      if (number.empty() || number.size() > 6 || number[0] == '0' ||
          number.find_first_not_of("0123456789") != std::string_view::npos) {
        return Fail(name, "expected PGBOUNCER_<N>" + std::string(suffix) +
                              " with N = 1, 2, 3, ... (no leading zeros)");
      }
      const long n = std::stol(std::string(number));
      (suffix == kDsnSuffix ? dsns : servers)[n] = value;
    }
    for (const auto& [n, server] : servers) {
      if (!dsns.count(n)) {
        return Fail(var(n, kServerSuffix),
                    "set, but " + var(n, kDsnSuffix) + " is not");
      }
    }
    const long last = dsns.empty() ? 0 : dsns.rbegin()->first;
    for (long n = 1; n <= last; ++n) {
      if (!dsns.count(n)) {
        return Fail(var(n, kDsnSuffix),
                    "not set, but " + var(last, kDsnSuffix) +
                        " is (pgbouncers are numbered 1, 2, 3, ... without "
                        "gaps)");
      }
    }
    for (const auto& [n, dsn] : dsns) {
      PgBouncerConfig p;
      p.connection.name = "pgbouncer" + std::to_string(n);
      p.connection.dsn = dsn;
      if (dsn.empty()) return Fail(var(n, kDsnSuffix), "is empty");
      if (auto it = servers.find(n); it != servers.end()) {
        if (it->second.empty()) return Fail(var(n, kServerSuffix), "is empty");
        p.server = it->second;
      }
      std::string problem;
      if (!FinishServer(&p.connection, &problem)) {
        return Fail(var(n, kDsnSuffix), problem);
      }
      config->pgbouncers.push_back(std::move(p));
    }
    return true;
  }

  const std::map<std::string, std::string>& env_;
  std::string error_;
};

}  // namespace

std::optional<Config> LoadConfigFromEnv(
    const std::map<std::string, std::string>& env, std::string* error) {
  return EnvLoader(env).Load(error);
}

std::vector<std::string> SeedEnvironmentVariables(
    const std::map<std::string, std::string>& env) {
  std::vector<std::string> names;
  for (const auto& [name, value] : env) {
    bool seed = StartsWith(name, kReplicaPrefix) || StartsWith(name, "DB_");
    for (const EnvVarDef& var : EnvVars()) {
      if (var.seed && var.name == name) seed = true;
    }
    if (seed) names.push_back(name);
  }
  return names;  // std::map iteration order: sorted
}

bool HasSeedEnvironment(const std::map<std::string, std::string>& env) {
  return !SeedEnvironmentVariables(env).empty();
}

}  // namespace pgre
