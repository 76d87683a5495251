#include "discovery/patroni.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "config/config_keys.h"

namespace pgre {

std::optional<std::vector<PatroniMember>> ParsePatroniCluster(
    std::string_view body, std::string* error) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  if (!j.contains("members") || !j["members"].is_array()) {
    *error = "no \"members\" list";
    return std::nullopt;
  }
  std::vector<PatroniMember> out;
  int index = 0;
  for (const nlohmann::json& m : j["members"]) {
    const std::string at = "member " + std::to_string(index++);
    if (!m.is_object()) {
      *error = at + ": not an object";
      return std::nullopt;
    }
    PatroniMember member;
    for (auto [key, field] :
         {std::pair{"name", &member.name}, std::pair{"host", &member.host},
          std::pair{"role", &member.role}, std::pair{"state", &member.state}}) {
      if (m.contains(key) && m[key].is_string()) {
        *field = m[key].get<std::string>();
      }
    }
    if (member.name.empty()) {
      *error = at + ": no name";
      return std::nullopt;
    }
    if (member.host.empty()) {
      *error = at + " (" + member.name + "): no host";
      return std::nullopt;
    }
    if (!m.contains("port") || !m["port"].is_number_integer() ||
        m["port"].get<std::int64_t>() < 1 ||
        m["port"].get<std::int64_t>() > 65535) {
      *error = at + " (" + member.name + "): no port";
      return std::nullopt;
    }
    member.port = m["port"].get<int>();
    if (m.contains("timeline") && m["timeline"].is_number_integer()) {
      member.timeline = m["timeline"].get<std::int64_t>();
    }
    out.push_back(std::move(member));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) {
      *error = "member " + out[i].name + " listed twice";
      return std::nullopt;
    }
  }
  return out;
}

std::string PatroniLeader(const std::vector<PatroniMember>& members) {
  for (const PatroniMember& m : members) {
    if (m.role == "leader" || m.role == "standby_leader") return m.name;
  }
  return "";
}

std::optional<std::string> ExpandDsnTemplate(std::string_view dsn_template,
                                             const PatroniMember& member) {
  const std::string port = std::to_string(member.port);
  for (const std::string* v : {&member.host, &member.name}) {
    if (v->find_first_of(" \t\n'\"\\=") != std::string::npos) {
      return std::nullopt;
    }
  }
  std::string out(dsn_template);
  for (auto [field, value] :
       {std::pair{"{host}", &member.host}, std::pair{"{port}", &port},
        std::pair{"{name}", &member.name}}) {
    const std::string_view f(field);
    for (std::size_t at = 0; (at = out.find(f, at)) != std::string::npos;) {
      out.replace(at, f.size(), *value);
      at += value->size();
    }
  }
  return out;
}

std::optional<Config> MergeMembers(const Config& configured,
                                   const std::vector<PatroniMember>& members,
                                   const std::string& previous_first,
                                   std::vector<std::string>* skipped) {
  Config out = configured;
  const PatroniDiscoveryConfig& d = configured.discovery.patroni;
  std::map<std::string, bool> known;
  if (!configured.primary.name.empty()) known[configured.primary.name] = true;
  for (const ServerConfig& r : configured.replicas) known[r.name] = true;
  const std::string leader = PatroniLeader(members);

  std::vector<ServerConfig> found;  // discovered, by name
  for (const PatroniMember& m : members) {
    if (known.count(m.name)) continue;
    ServerConfig s;
    s.name = m.name;
    s.role = Role::kReplica;
    s.application_name = m.name;
    s.password_file = d.password_file;
    std::optional<std::string> dsn = ExpandDsnTemplate(d.dsn_template, m);
    std::string problem;
    if (!dsn) {
      skipped->push_back("member " + m.name +
                         ": its host or name would change the DSN");
      continue;
    }
    s.dsn = std::move(*dsn);
    if (!FinishServer(&s, &problem)) {
      skipped->push_back("member " + m.name + ": " + problem);
      continue;
    }
    found.push_back(std::move(s));
  }
  if (configured.primary.name.empty()) {
    // The manager names the first place: its leader, else the first.
    if (found.empty() && configured.replicas.empty()) return std::nullopt;
    auto named = [&](const std::string& name) {
      return std::find_if(found.begin(), found.end(),
                          [&](const auto& s) { return s.name == name; });
    };
    auto first = named(previous_first);
    if (first == found.end()) first = named(leader);
    if (first == found.end()) first = found.begin();
    if (first != found.end()) {
      out.primary = *first;
      found.erase(first);
    } else {
      out.primary = out.replicas.front();
      out.replicas.erase(out.replicas.begin());
    }
    out.primary.role = Role::kPrimary;
  }
  for (ServerConfig& s : found) out.replicas.push_back(std::move(s));
  return out;
}

bool SameServers(const Config& a, const Config& b) {
  const std::vector<ServerConfig> x = AllServers(a), y = AllServers(b);
  if (x.size() != y.size()) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].name != y[i].name || x[i].dsn != y[i].dsn ||
        x[i].password != y[i].password ||
        x[i].application_name != y[i].application_name ||
        x[i].weight != y[i].weight) {
      return false;
    }
  }
  return true;
}

}  // namespace pgre
