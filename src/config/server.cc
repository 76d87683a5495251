// Validation of server entries: DSNs (via libpq), endpoints, unique names.
#include <libpq-fe.h>
#include <pg_config_manual.h>  // DEFAULT_PGSOCKET_DIR

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/redact.h"
#include "config/config_keys.h"
#include "config/dsn.h"

namespace pgre {
namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

bool ValidPort(const std::string& port) {
  if (port.empty()) return true;  // libpq's default
  int value = 0;
  const char* end = port.data() + port.size();
  auto [ptr, ec] = std::from_chars(port.data(), end, value);
  return ec == std::errc() && ptr == end && value >= 1 && value <= 65535;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The first line of a password file, without its line break; nullopt and
// *problem when it cannot be read or holds nothing. Reads at most
// kMaxPasswordBytes: a password_file pointing at a device or a huge file
// must not hang or swell the agent.
constexpr std::size_t kMaxPasswordBytes = 4096;

}  // namespace

std::optional<std::string> ReadPasswordFile(const std::string& path,
                                            std::string* problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *problem = "cannot read " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string data(kMaxPasswordBytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  const auto newline = data.find('\n');
  if (newline == std::string::npos && data.size() == kMaxPasswordBytes) {
    *problem = path + ": no line break in its first " +
               std::to_string(kMaxPasswordBytes) + " bytes";
    return std::nullopt;
  }
  std::string line = data.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) {
    *problem = path + " is empty";
    return std::nullopt;
  }
  return line;
}

bool FinishServer(ServerConfig* server, std::string* problem,
                  std::string* key) {
  if (key != nullptr) *key = "dsn";
  std::string error;
  std::optional<ParsedDsn> dsn = ParseDsn(server->dsn, &error);
  if (!dsn) {
    *problem = "invalid connection string: " + Trim(error);
    return false;
  }
  RegisterDsnSecrets(*dsn);
  server->password.clear();
  if (!server->password_file.empty()) {
    if (!dsn->Get("password").empty()) {
      *problem =
          "the connection string has a password and password_file is set: "
          "keep one";
      return false;
    }
    auto password = ReadPasswordFile(server->password_file, problem);
    if (!password) {
      if (key != nullptr) *key = "password_file";
      return false;
    }
    RegisterSecret(*password);
    server->password = std::move(*password);
  }
  struct {
    std::string host, hostaddr, port;
  } parsed{dsn->Get("host"), dsn->Get("hostaddr"), dsn->Get("port")};

  const std::vector<std::string> hosts = SplitCommas(parsed.host);
  const std::vector<std::string> addrs = SplitCommas(parsed.hostaddr);
  const std::vector<std::string> ports = SplitCommas(parsed.port);
  if (!parsed.host.empty() && !parsed.hostaddr.empty() &&
      hosts.size() != addrs.size()) {
    *problem = "invalid connection string: " + std::to_string(hosts.size()) +
               " host names but " + std::to_string(addrs.size()) +
               " hostaddr values";
    return false;
  }
  const size_t count = parsed.host.empty() ? addrs.size() : hosts.size();
  if (ports.size() != 1 && ports.size() != count) {
    *problem = "invalid connection string: " + std::to_string(ports.size()) +
               " ports for " + std::to_string(count) + " hosts";
    return false;
  }
  for (const std::string& port : ports) {
    if (!ValidPort(port)) {
      // The value is not echoed: a malformed URI can put password text here.
      *problem = "invalid connection string: port is not a number in 1..65535";
      return false;
    }
  }

  std::string endpoint;
  server->host.clear();
  for (size_t i = 0; i < count; ++i) {
    std::string host = parsed.host.empty() ? "" : hosts[i];
    if (host.empty() && !parsed.hostaddr.empty()) host = addrs[i];
    if (host.empty()) host = DEFAULT_PGSOCKET_DIR;
    std::string port = ports.size() == 1 ? ports[0] : ports[i];
    if (port.empty()) port = "5432";
    if (i == 0) {
      server->host = host;
      server->port = std::stoi(port);  // ValidPort() checked it
    }
    if (!endpoint.empty()) endpoint += ",";
    if (host.find(':') != std::string::npos && host[0] != '/') {
      endpoint += "[" + host + "]:" + port;  // IPv6 literal
    } else {
      endpoint += host + ":" + port;
    }
  }
  server->endpoint = ScrubSecrets(endpoint);
  server->redacted_dsn = RedactedDsn(*dsn);
  if (server->application_name.empty()) {
    server->application_name = server->name;
  }
  return true;
}

bool CheckServers(const Config& config, std::string* key,
                  std::string* problem) {
  std::map<std::string, std::string> names;  // name -> key of its first use
  names[config.primary.name] = "primary";
  std::map<std::string, std::string> app_names;  // -> server name
  app_names[config.primary.application_name] = config.primary.name;
  for (size_t i = 0; i < config.replicas.size(); ++i) {
    const ServerConfig& r = config.replicas[i];
    const std::string at = "replicas[" + std::to_string(i) + "]";
    auto [it, inserted] = names.emplace(r.name, at);
    if (!inserted) {
      *key = at + ".name";
      *problem = "duplicate server name \"" + r.name + "\" (also used by " +
                 it->second + ")";
      return false;
    }
    auto [app_it, app_inserted] = app_names.emplace(r.application_name, r.name);
    if (!app_inserted) {
      *key = at + ".application_name";
      *problem = "duplicate application_name \"" + r.application_name +
                 "\" (also that of server \"" + app_it->second +
                 "\"); each replica needs its own pg_stat_replication row";
      return false;
    }
  }
  return true;
}

bool CheckPgBouncers(const Config& config, std::string* key,
                     std::string* problem) {
  std::map<std::string, std::string> names;  // name -> key of its first use
  names[config.primary.name] = "primary";
  for (size_t i = 0; i < config.replicas.size(); ++i) {
    names.emplace(config.replicas[i].name,
                  "replicas[" + std::to_string(i) + "]");
  }
  const std::map<std::string, std::string> servers = names;
  for (size_t i = 0; i < config.pgbouncers.size(); ++i) {
    const PgBouncerConfig& p = config.pgbouncers[i];
    const std::string at = "pgbouncers[" + std::to_string(i) + "]";
    auto [it, inserted] = names.emplace(p.connection.name, at);
    if (!inserted) {
      *key = at + ".name";
      *problem = "duplicate name \"" + p.connection.name + "\" (also used by " +
                 it->second + ")";
      return false;
    }
    if (!p.server.empty() && !servers.count(p.server)) {
      *key = at + ".server";
      std::string known;
      for (const auto& [name, where] : servers) {
        known += (known.empty() ? "" : ", ") + name;
      }
      *problem =
          "no server named \"" + p.server + "\" in the cluster (" + known + ")";
      return false;
    }
  }
  return true;
}

}  // namespace pgre
