#include "support/haproxy.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
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

}  // namespace

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
  std::vector<std::string> argv = {
      std::string(PGRE_SOURCE_DIR) + "/scripts/haproxy-config.py",
      "--cluster=" + cluster_name,
      "--agent=" + std::to_string(ports_.agent),
      "--writes=" + std::to_string(ports_.writes),
      "--reads=" + std::to_string(ports_.reads),
      "--stats=" + std::to_string(ports_.stats),
      "--server=primary=" +
          std::to_string(cluster.Port(TestCluster::kPrimary))};
  for (int i = 0; i < cluster.replica_count(); ++i) {
    argv.push_back("--server=" + cluster.ReplicaName(i) + "=" +
                   std::to_string(cluster.Port(i)));
  }
  std::string errors;
  CommandOptions options;
  options.errors = &errors;
  if (RunCommand(argv, &config_, options) != 0) {
    throw std::runtime_error("TestHaproxy: scripts/haproxy-config.py: " +
                             errors);
  }
  std::ofstream(dir_ + "/haproxy.cfg") << config_;
  SubprocessOptions process_options;
  process_options.log_path = dir_ + "/haproxy.log";
  process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{"haproxy", "-db", "-f", dir_ + "/haproxy.cfg"},
      process_options);
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
