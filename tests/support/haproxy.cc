#include "support/haproxy.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "support/http_client.h"
#include "support/ports.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) out.push_back(field);
  return out;
}

// The test cluster's port of a server the config names, or -1.
int PortOf(const TestCluster& cluster, const std::string& name) {
  if (name == "primary") return cluster.Port(TestCluster::kPrimary);
  for (int i = 0; i < cluster.replica_count(); ++i) {
    if (cluster.ReplicaName(i) == name) return cluster.Port(i);
  }
  return -1;
}

}  // namespace

std::string ShippedConfigForTest(const std::string& shipped,
                                 const TestCluster& cluster,
                                 const std::string& cluster_name,
                                 const HaproxyPorts& ports) {
  const std::regex listen(R"(^listen\s+(\S+).*)");
  const std::regex bind(R"(^(\s*bind\s+)\S+(.*)$)");
  const std::regex server(R"(^(\s*server\s+)(\S+)(\s+)(\S+)(.*)$)");
  const std::regex agent(R"(addr\s+\S+\s+port\s+\d+)");
  const std::regex uri(R"(/lb/[^/\s]+/)");
  std::string out;
  std::string section;
  int agent_lines = 0;
  std::map<std::string, int> servers;  // per pool
  // The address (in the shipped file) of each named server, so that other
  // lines for the same address (the backup) get its port.
  std::map<std::string, int> port_of_address;
  std::vector<std::string> lines = Lines(shipped);
  for (const std::string& line : lines) {
    std::smatch m;
    if (std::regex_match(line, m, server) && PortOf(cluster, m[2]) > 0) {
      port_of_address[m[4]] = PortOf(cluster, m[2]);
    }
  }
  for (std::size_t k = 0; k < lines.size(); ++k) {
    std::string line = lines[k];
    std::smatch m;
    if (std::regex_match(line, m, listen)) section = m[1];
    if (std::regex_match(line, m, bind)) {
      const int port = section == "writes"  ? ports.writes
                       : section == "reads" ? ports.reads
                                            : ports.stats;
      line = std::string(m[1]) + "127.0.0.1:" + std::to_string(port) +
             std::string(m[2]);
    }
    if (std::regex_search(line, agent)) {
      line = std::regex_replace(
          line, agent, "addr 127.0.0.1 port " + std::to_string(ports.agent));
      ++agent_lines;
    }
    line = std::regex_replace(line, uri, "/lb/" + cluster_name + "/");
    if (std::regex_match(line, m, server)) {
      const std::string name = m[2];
      int port = PortOf(cluster, name);
      if (port < 0 && port_of_address.count(m[4])) {
        port = port_of_address[m[4]];
      }
      if (port < 0) {
        throw std::runtime_error("config/haproxy.cfg: server " + name +
                                 " matches no test server");
      }
      const std::string head = m[1], gap = m[3], tail = m[5];
      out +=
          head + name + gap + "127.0.0.1:" + std::to_string(port) + tail + "\n";
      ++servers[section];
      // After the shipped file's last replica line of this pool: the test
      // cluster's replicas it does not list.
      const bool replica = name.rfind("replica", 0) == 0;
      std::smatch next;
      const bool last_replica =
          replica && !(k + 1 < lines.size() &&
                       std::regex_match(lines[k + 1], next, server) &&
                       std::string(next[2]).rfind("replica", 0) == 0);
      if (last_replica) {
        for (int i = 0; i < cluster.replica_count(); ++i) {
          const std::string extra = cluster.ReplicaName(i);
          if (shipped.find(" " + extra + " ") != std::string::npos) continue;
          out += head + extra + gap +
                 "127.0.0.1:" + std::to_string(cluster.Port(i)) + tail + "\n";
          ++servers[section];
        }
      }
      continue;
    }
    out += line + "\n";
  }
  if (servers["reads"] == 0 || servers["writes"] == 0 || agent_lines < 2) {
    throw std::runtime_error(
        "config/haproxy.cfg: expected the pools `reads` and `writes` with "
        "servers, each checking the agent (addr ... port ...)");
  }
  return out;
}

TestHaproxy::TestHaproxy(const TestCluster& cluster,
                         const std::string& cluster_name, int agent_port) {
  char templ[] = "/tmp/pgre-haproxy-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error("TestHaproxy: mkdtemp failed");
  }
  dir_ = templ;
  ports_.writes = FreePort();
  ports_.reads = FreePort();
  ports_.stats = FreePort();
  ports_.agent = agent_port;
  const std::string shipped =
      ReadFileOrEmpty(std::string(PGRE_SOURCE_DIR) + "/config/haproxy.cfg");
  config_ = ShippedConfigForTest(shipped, cluster, cluster_name, ports_);
  std::ofstream(dir_ + "/haproxy.cfg") << config_;
  SubprocessOptions options;
  options.log_path = dir_ + "/haproxy.log";
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{"haproxy", "-db", "-f", dir_ + "/haproxy.cfg"},
      options);
  const bool ready = WaitUntil(
      [&] {
        return HttpGet("127.0.0.1", ports_.stats, "/;csv",
                       std::chrono::seconds(1))
                   .status == 200;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!ready) {
    const std::string log = Log();
    process_.reset();
    throw std::runtime_error("TestHaproxy: not ready within 20 s:\n" + log);
  }
}

TestHaproxy::~TestHaproxy() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestHaproxy::ReadDsn() const {
  return "host=127.0.0.1 port=" + std::to_string(ports_.reads) +
         " dbname=postgres user=postgres";
}

std::string TestHaproxy::WriteDsn() const {
  return "host=127.0.0.1 port=" + std::to_string(ports_.writes) +
         " dbname=postgres user=postgres";
}

std::map<std::string, std::string> TestHaproxy::States(
    const std::string& pool) const {
  const HttpResponse r =
      HttpGet("127.0.0.1", ports_.stats, "/;csv", std::chrono::seconds(2));
  if (r.status != 200) {
    throw std::runtime_error("TestHaproxy: stats: " + r.error);
  }
  std::map<std::string, std::string> out;
  std::vector<std::string> lines = Lines(r.body);
  if (lines.empty() || lines[0].rfind("# ", 0) != 0) return out;
  const std::vector<std::string> header = SplitCsv(lines[0].substr(2));
  int status = -1;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "status") status = static_cast<int>(i);
  }
  for (std::size_t k = 1; k < lines.size(); ++k) {
    const std::vector<std::string> f = SplitCsv(lines[k]);
    if (f.size() <= static_cast<std::size_t>(status) || f[0] != pool ||
        f[1] == "FRONTEND" || f[1] == "BACKEND") {
      continue;
    }
    out[f[1]] = f[status];
  }
  return out;
}

std::string TestHaproxy::UpServers(const std::string& pool) const {
  std::map<std::string, std::string> states;
  try {
    states = States(pool);
  } catch (const std::exception&) {
    return "?";
  }
  // Config order: the order of the server lines.
  std::string out;
  std::set<std::string> seen;
  for (const std::string& line : Lines(config_)) {
    std::istringstream in(line);
    std::string word, name;
    in >> word >> name;
    if (word != "server") continue;
    auto it = states.find(name);
    if (it != states.end() && it->second.rfind("UP", 0) == 0 &&
        seen.insert(name).second) {
      out += (out.empty() ? "" : ",") + name;
    }
  }
  return out;
}

std::string TestHaproxy::Log() const {
  return process_ ? process_->ReadLog()
                  : ReadFileOrEmpty(dir_ + "/haproxy.log");
}

}  // namespace pgre::testing
