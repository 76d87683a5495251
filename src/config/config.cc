// The YAML config file loader.
#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/redact.h"
#include "common/text.h"
#include "config/config_keys.h"
#include "config/dsn.h"

namespace pgre {
namespace {

int LineOf(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 1;
}

std::string_view Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "?";
}

// Registers the secrets of every `dsn:` value in the tree before anything
// else, so that no later error message can show one.
// `name` or `schema.name`, each an unquoted SQL identifier.
bool ValidHeartbeatTable(const std::string& table) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = table.find('.', start);
    const std::string part = table.substr(start, dot - start);
    if (part.empty() || part.size() > 63 ||
        !(std::isalpha(static_cast<unsigned char>(part[0])) ||
          part[0] == '_')) {
      return false;
    }
    for (char c : part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
        return false;
      }
    }
    ++parts;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts <= 2;
}

void RegisterTreeSecrets(const YAML::Node& node) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "dsn" &&
          kv.second.IsScalar()) {
        RegisterDsnSecrets(kv.second.Scalar());
      }
      RegisterTreeSecrets(kv.second);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) RegisterTreeSecrets(item);
  }
}

class YamlLoader {
 public:
  explicit YamlLoader(std::string name) : name_(std::move(name)) {}

  std::optional<AgentConfig> Load(const std::string& text, std::string* error) {
    std::optional<AgentConfig> config;
    try {
      config = LoadImpl(text);
    } catch (const YAML::Exception& e) {  // defensive: node access errors
      const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
      error_ = name_ + ":" + std::to_string(line) +
               ": YAML error: " + EscapeControl(e.msg);
      config.reset();
    }
    if (!config) *error = ScrubSecrets(error_);
    return config;
  }

 private:
  std::optional<AgentConfig> LoadImpl(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
      error_ = name_ + ":" + std::to_string(line) +
               ": YAML syntax error: " + EscapeControl(e.msg);
      return std::nullopt;
    }
    RegisterTreeSecrets(root);
    AgentConfig agent;
    agent.source = "file " + name_;
    Config defaults;
    defaults.source = agent.source;
    if (root.IsNull()) {
      Fail(1, "primary",
           "missing (the config is empty; primary.dsn is "
           "required)");
      return std::nullopt;
    }
    if (!root.IsMap()) {
      Fail(LineOf(root), "(top level)",
           "expected a mapping of keys, got " + std::string(Describe(root)));
      return std::nullopt;
    }
    if (!root["clusters"]) {
      // The single-cluster form: the whole file is the one cluster.
      if (!LoadMap(root, "", &defaults) || !FinishCluster(root, &defaults)) {
        return std::nullopt;
      }
      agent.clusters.push_back(std::move(defaults));
      return agent;
    }

    // The multi-cluster form: top-level keys are every cluster's defaults.
    YAML::Node clusters, clusters_key;
    std::set<std::string> seen;
    for (const auto& kv : root) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (key == "clusters") {
        clusters = kv.second;
        clusters_key = kv.first;
        continue;
      }
      if (key == "primary" || key == "replicas" || key == "cluster" ||
          key == "pgbouncers") {
        Fail(LineOf(kv.first), key,
             "with clusters:, every cluster has its own (" +
                 std::string(key == "cluster" ? "clusters[].name" : key) +
                 " under each entry)");
        return std::nullopt;
      }
      if (!LoadKey(kv.first, kv.second, "", &defaults, &seen)) {
        return std::nullopt;
      }
    }
    if (!clusters.IsSequence() || clusters.size() == 0) {
      Fail(LineOf(clusters_key), "clusters",
           "expected a non-empty list of clusters, got " +
               std::string(Describe(clusters)));
      return std::nullopt;
    }
    std::map<std::string, std::string> names;  // cluster name -> its key
    for (std::size_t i = 0; i < clusters.size(); ++i) {
      const YAML::Node entry = clusters[i];
      const std::string at = "clusters[" + std::to_string(i) + "]";
      if (!entry.IsMap()) {
        Fail(LineOf(entry), at,
             "expected a mapping with name, primary and replicas, got " +
                 std::string(Describe(entry)));
        return std::nullopt;
      }
      scope_ = at + ".";
      lines_.clear();
      have_primary_ = false;
      Config cluster = defaults;
      std::set<std::string> keys;
      bool named = false;
      for (const auto& kv : entry) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        if (key == "name") {
          std::string text;
          if (!Scalar(kv.first, kv.second, "name", "a string", &text)) {
            return std::nullopt;
          }
          if (text.empty()) {
            Fail(LineOf(kv.first), "name", "must not be empty");
            return std::nullopt;
          }
          auto [it, fresh] = names.emplace(text, at);
          if (!fresh) {
            Fail(LineOf(kv.first), "name",
                 "duplicate cluster name \"" + text + "\" (also " + it->second +
                     ")");
            return std::nullopt;
          }
          cluster.cluster = text;
          named = true;
          lines_["name"] = LineOf(kv.first);
          continue;
        }
        if (key == "cluster" || key == "clusters") {
          Fail(LineOf(kv.first), key,
               "unknown key (a cluster's name is `name`)");
          return std::nullopt;
        }
        if (!LoadKey(kv.first, kv.second, "", &cluster, &keys)) {
          return std::nullopt;
        }
      }
      if (!named) {
        Fail(LineOf(entry), "name", "missing");
        return std::nullopt;
      }
      if (!FinishCluster(entry, &cluster)) return std::nullopt;
      agent.clusters.push_back(std::move(cluster));
    }
    scope_.clear();
    return agent;
  }

  // The checks of one whole cluster, once its keys are in.
  bool FinishCluster(const YAML::Node& at, Config* config) {
    {
      std::string key, problem;
      if (!CheckDiscovery(config, &key, &problem)) {
        return Fail(KeyLine(key), key, problem);
      }
      if (!have_primary_ && !config->discovery.patroni.enabled()) {
        return Fail(LineOf(at), "primary",
                    "missing (the primary server is required without "
                    "discovery.patroni.urls)");
      }
      if (!have_primary_) {
        config->primary = ServerConfig{};  // none: the manager names them
        config->primary.role = Role::kPrimary;
      }
    }
    if (config->lag_status.critical < config->lag_status.warning) {
      const int line =
          lines_.count("lag_status.critical")  ? lines_["lag_status.critical"]
          : lines_.count("lag_status.warning") ? lines_["lag_status.warning"]
                                               : 1;
      return Fail(line, "lag_status.critical",
                  "must be >= lag_status.warning (" +
                      FormatDuration(config->lag_status.critical) + " < " +
                      FormatDuration(config->lag_status.warning) + ")");
    }
    if (!ValidHeartbeatTable(config->heartbeat.table)) {
      return Fail(KeyLine("heartbeat.table"), "heartbeat.table",
                  "expected name or schema.name (letters, digits, _), got \"" +
                      config->heartbeat.table + "\"");
    }
    if (config->routing.check_heartbeat && !config->heartbeat.enabled) {
      return Fail(KeyLine("routing.check_heartbeat"), "routing.check_heartbeat",
                  "requires heartbeat.enabled: true");
    }
    std::string key, problem;
    if (!CheckServers(*config, &key, &problem) ||
        !CheckPgBouncers(*config, &key, &problem)) {
      return Fail(lines_.count(key) ? lines_[key] : 1, key, problem);
    }
    // The same connection twice (here or in an earlier cluster) is a
    // copy-paste mistake that would poll a server twice under two names:
    // the same endpoint (host and port, defaults applied), database and
    // user.
    auto check = [&](const ServerConfig& s, const std::string& where) {
      std::string error;
      auto parsed = ParseDsn(s.dsn, &error);
      if (!parsed) return true;
      const std::string identity =
          s.endpoint + "|" + parsed->Get("dbname") + "|" + parsed->Get("user");
      auto [it, fresh] = dsns_.emplace(identity, scope_ + where);
      if (fresh) return true;
      return Fail(lines_.count(where + ".dsn") ? lines_[where + ".dsn"] : 1,
                  where + ".dsn",
                  "the same connection as " + it->second + ".dsn");
    };
    if (!config->primary.name.empty() && !check(config->primary, "primary")) {
      return false;
    }
    for (std::size_t i = 0; i < config->replicas.size(); ++i) {
      if (!check(config->replicas[i], "replicas[" + std::to_string(i) + "]")) {
        return false;
      }
    }
    return true;
  }

  // The line a key was set on (1 when it was not).
  int KeyLine(const std::string& key) {
    return lines_.count(key) ? lines_[key] : 1;
  }

  bool Fail(int line, std::string_view key, std::string_view what) {
    // One printable line, whatever the file's keys and values hold; keys
    // of a cluster entry carry its place ("clusters[1].").
    error_ = EscapeControl(name_ + ":" + std::to_string(line) + ": " + scope_ +
                           std::string(key) + ": " + std::string(what));
    return false;
  }

  // True when some key lives under `path.`.
  static bool IsSection(const std::string& path) {
    for (const KeyDef& key : ConfigKeys()) {
      if (key.path.size() > path.size() &&
          key.path.substr(0, path.size()) == path &&
          key.path[path.size()] == '.') {
        return true;
      }
    }
    return false;
  }

  // Reads the scalar text of a value; fails when the value is not a scalar.
  bool Scalar(const YAML::Node& key_node, const YAML::Node& value,
              const std::string& path, std::string_view expected,
              std::string* text) {
    if (!value.IsScalar()) {
      return Fail(LineOf(key_node), path,
                  "expected " + std::string(expected) + ", got " +
                      std::string(Describe(value)));
    }
    *text = value.Scalar();
    return true;
  }

  bool LoadMap(const YAML::Node& map, const std::string& prefix,
               Config* config) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!LoadKey(kv.first, kv.second, prefix, config, &seen)) return false;
    }
    return true;
  }

  // One key of a mapping whose keys live under `prefix`.
  bool LoadKey(const YAML::Node& key, const YAML::Node& value,
               const std::string& prefix, Config* config,
               std::set<std::string>* seen) {
    if (!key.IsScalar()) {
      return Fail(LineOf(key), prefix.empty() ? "(top level)" : prefix,
                  "keys must be plain strings");
    }
    const std::string path = prefix + key.Scalar();
    if (!seen->insert(path).second) {
      return Fail(LineOf(key), path, "duplicate key");
    }
    lines_[path] = LineOf(key);
    if (const KeyDef* def = FindKey(path)) {
      if (def->type == KeyType::kClusterList) {
        return Fail(LineOf(key), path, "only at the top level");
      }
      return LoadValue(*def, key, value, config);
    }
    if (IsSection(path)) {
      if (!value.IsMap()) {
        return Fail(LineOf(key), path,
                    "expected a mapping, got " + std::string(Describe(value)));
      }
      return LoadMap(value, path + ".", config);
    }
    return Fail(LineOf(key), path, "unknown key");
  }

  bool LoadValue(const KeyDef& def, const YAML::Node& key_node,
                 const YAML::Node& value, Config* config) {
    const std::string path(def.path);
    const int line = LineOf(key_node);
    std::string text, problem;
    switch (def.type) {
      case KeyType::kString:
        if (!Scalar(key_node, value, path, "a string", &text)) return false;
        if (text.empty()) return Fail(line, path, "must not be empty");
        *def.string_field(*config) = text;
        return true;
      case KeyType::kDuration: {
        if (!Scalar(key_node, value, path, "a duration like 5s", &text)) {
          return false;
        }
        auto d = ParsePositiveDuration(text, &problem);
        if (!d) return Fail(line, path, problem);
        *def.duration_field(*config) = *d;
        return true;
      }
      case KeyType::kInt: {
        if (!Scalar(key_node, value, path, "an integer", &text)) return false;
        auto v = ParseIntValue(text, def.min_int, &problem);
        if (!v) return Fail(line, path, problem);
        if (def.int_field != nullptr) *def.int_field(*config) = *v;
        if (def.size_field != nullptr) *def.size_field(*config) = *v;
        if (def.optional_int_field != nullptr) {
          *def.optional_int_field(*config) = *v;
        }
        return true;
      }
      case KeyType::kBytes: {
        if (!Scalar(key_node, value, path, "a byte count", &text)) {
          return false;
        }
        auto v = ParseBytes(text, &problem);
        if (!v) return Fail(line, path, problem);
        *def.bytes_field(*config) = *v;
        return true;
      }
      case KeyType::kEnum: {
        if (!Scalar(key_node, value, path, "primary or none", &text)) {
          return false;
        }
        auto f = ParseFallback(text);
        if (!f) {
          return Fail(line, path,
                      "expected primary or none, got \"" + text + "\"");
        }
        *def.fallback_field(*config) = *f;
        return true;
      }
      case KeyType::kBool: {
        if (!Scalar(key_node, value, path, "true or false", &text)) {
          return false;
        }
        if (text == "true") {
          *def.bool_field(*config) = true;
        } else if (text == "false") {
          *def.bool_field(*config) = false;
        } else {
          return Fail(line, path,
                      "expected true or false, got \"" + text + "\"");
        }
        return true;
      }
      case KeyType::kServer:
        have_primary_ = true;
        config->primary.role = Role::kPrimary;
        return LoadServer(key_node, value, path, &config->primary);
      case KeyType::kServerList:
        if (!value.IsSequence()) {
          return Fail(line, path,
                      "expected a list of servers, got " +
                          std::string(Describe(value)));
        }
        for (size_t i = 0; i < value.size(); ++i) {
          ServerConfig server;
          server.role = Role::kReplica;
          const std::string at = path + "[" + std::to_string(i) + "]";
          lines_[at] = LineOf(value[i]);
          if (!LoadServer(value[i], value[i], at, &server)) return false;
          config->replicas.push_back(std::move(server));
        }
        return true;
      case KeyType::kPgBouncerList:
        if (!value.IsSequence()) {
          return Fail(line, path,
                      "expected a list of pgbouncers, got " +
                          std::string(Describe(value)));
        }
        for (size_t i = 0; i < value.size(); ++i) {
          PgBouncerConfig pgbouncer;
          const std::string at = path + "[" + std::to_string(i) + "]";
          lines_[at] = LineOf(value[i]);
          if (!LoadPgBouncer(value[i], at, &pgbouncer)) return false;
          config->pgbouncers.push_back(std::move(pgbouncer));
        }
        return true;
      case KeyType::kStringList: {
        if (!value.IsSequence()) {
          return Fail(line, path,
                      "expected a list of strings, got " +
                          std::string(Describe(value)));
        }
        std::vector<std::string> items;
        for (size_t i = 0; i < value.size(); ++i) {
          const std::string at = path + "[" + std::to_string(i) + "]";
          lines_[at] = LineOf(value[i]);
          if (!value[i].IsScalar() || value[i].Scalar().empty()) {
            return Fail(LineOf(value[i]), at,
                        "expected a non-empty string, got " +
                            std::string(Describe(value[i])));
          }
          items.push_back(value[i].Scalar());
        }
        *def.string_list_field(*config) = std::move(items);
        return true;
      }
      case KeyType::kClusterList:
        return Fail(line, path, "only at the top level");
    }
    return Fail(line, path, "unsupported key type");
  }

  // The keys of the mapping `value` at `path`, in order: each must be a
  // plain string, not seen before (recorded in *seen and in lines_), then is
  // handed to `load(name, "path.name", line, key node, value node)`. Stops at
  // the first failure. REQUIRES: value.IsMap().
  template <typename Load>
  bool EachKey(const YAML::Node& value, const std::string& path,
               std::set<std::string>* seen, Load&& load) {
    for (const auto& kv : value) {
      if (!kv.first.IsScalar()) {
        return Fail(LineOf(kv.first), path, "keys must be plain strings");
      }
      const std::string& name = kv.first.Scalar();
      const std::string key = path + "." + name;
      const int line = LineOf(kv.first);
      if (!seen->insert(name).second) return Fail(line, key, "duplicate key");
      lines_[key] = line;
      if (!load(name, key, line, kv.first, kv.second)) return false;
    }
    return true;
  }

  bool LoadPgBouncer(const YAML::Node& value, const std::string& path,
                     PgBouncerConfig* pgbouncer) {
    if (!value.IsMap()) {
      return Fail(LineOf(value), path,
                  "expected a mapping with name and dsn, got " +
                      std::string(Describe(value)));
    }
    std::set<std::string> seen;
    const bool loaded =
        EachKey(value, path, &seen,
                [&](const std::string& name, const std::string& key, int line,
                    const YAML::Node& key_node, const YAML::Node& v) {
                  const PgBouncerKeyDef* def = nullptr;
                  for (const PgBouncerKeyDef& d : PgBouncerKeys()) {
                    if (d.key == name) def = &d;
                  }
                  if (def == nullptr) return Fail(line, key, "unknown key");
                  std::string text;
                  if (!Scalar(key_node, v, key, "a string", &text))
                    return false;
                  if (text.empty()) return Fail(line, key, "must not be empty");
                  *def->string_field(*pgbouncer) = text;
                  return true;
                });
    if (!loaded) return false;
    for (const PgBouncerKeyDef& def : PgBouncerKeys()) {
      if (def.required && !seen.count(std::string(def.key))) {
        return Fail(LineOf(value), path + "." + std::string(def.key),
                    "missing");
      }
    }
    std::string problem, at;
    if (!FinishServer(&pgbouncer->connection, &problem, &at)) {
      return Fail(lines_[path + "." + at], path + "." + at, problem);
    }
    return true;
  }

  // `anchor` is the node whose line locates the server as a whole.
  bool LoadServer(const YAML::Node& anchor, const YAML::Node& value,
                  const std::string& path, ServerConfig* server) {
    const bool replica = server->role == Role::kReplica;
    if (!value.IsMap()) {
      return Fail(LineOf(anchor), path,
                  "expected a mapping with name and dsn, got " +
                      std::string(Describe(value)));
    }
    if (!replica) server->name = "primary";
    std::set<std::string> seen;
    const bool loaded = EachKey(
        value, path, &seen,
        [&](const std::string& name, const std::string& key, int line,
            const YAML::Node& key_node, const YAML::Node& v) {
          const ServerKeyDef* def = nullptr;
          for (const ServerKeyDef& d : ServerKeys()) {
            if (d.key == name) def = &d;
          }
          if (def == nullptr) return Fail(line, key, "unknown key");
          if (def->replica_only && !replica) {
            return Fail(line, key, "unknown key (only replicas have it)");
          }
          std::string text, problem;
          if (def->type == KeyType::kInt) {
            if (!Scalar(key_node, v, key, "an integer", &text)) return false;
            auto n = ParseIntValue(text, def->min_int, &problem);
            if (!n) return Fail(line, key, problem);
            *def->int_field(*server) = *n;
            return true;
          }
          if (!Scalar(key_node, v, key, "a string", &text)) return false;
          if (text.empty()) return Fail(line, key, "must not be empty");
          *def->string_field(*server) = text;
          return true;
        });
    if (!loaded) return false;
    for (const ServerKeyDef& def : ServerKeys()) {
      const bool required =
          replica ? def.required_replica : def.required_primary;
      if (required && !seen.count(std::string(def.key))) {
        return Fail(LineOf(anchor), path + "." + std::string(def.key),
                    "missing");
      }
    }
    std::string problem, at;
    if (!FinishServer(server, &problem, &at)) {
      return Fail(lines_[path + "." + at], path + "." + at, problem);
    }
    // Where CheckServers points for a server whose name was defaulted.
    if (!lines_.count(path + ".name")) lines_[path + ".name"] = LineOf(anchor);
    if (!lines_.count(path + ".application_name")) {
      lines_[path + ".application_name"] = lines_[path + ".name"];
    }
    return true;
  }

  const std::string name_;
  std::string error_;
  bool have_primary_ = false;
  std::map<std::string, int> lines_;  // dotted key -> line it was set on
  std::string scope_;                 // "clusters[1]." while loading that entry
  // Every server's connection identity so far -> where it was configured.
  std::map<std::string, std::string> dsns_;
};

}  // namespace

std::optional<AgentConfig> LoadAgentConfigText(const std::string& text,
                                               const std::string& name,
                                               std::string* error) {
  return YamlLoader(name).Load(text, error);
}

std::optional<Config> LoadConfigText(const std::string& text,
                                     const std::string& name,
                                     std::string* error) {
  auto agent = LoadAgentConfigText(text, name, error);
  if (!agent) return std::nullopt;
  return std::move(agent->clusters.front());
}

std::optional<AgentConfig> LoadAgentConfigFile(const std::string& path,
                                               std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  return LoadAgentConfigText(text.str(), path, error);
}

std::optional<Config> LoadConfigFile(const std::string& path,
                                     std::string* error) {
  auto agent = LoadAgentConfigFile(path, error);
  if (!agent) return std::nullopt;
  return std::move(agent->clusters.front());
}

std::vector<ServerConfig> AllServers(const Config& config) {
  std::vector<ServerConfig> all = {config.primary};
  all.insert(all.end(), config.replicas.begin(), config.replicas.end());
  return all;
}

const ServerConfig& ServerAt(const Config& config, int i) {
  return i == 0 ? config.primary : config.replicas[i - 1];
}

}  // namespace pgre
