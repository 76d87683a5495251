#include "support/auto_failover.h"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "support/ports.h"
#include "support/pq.h"
#include "support/procs.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPath[] = "PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin";

std::string Tail(const std::string& text) {
  const std::size_t at = text.size() > 3000 ? text.size() - 3000 : 0;
  return text.substr(at);
}

}  // namespace

std::vector<std::string> TestAutoFailover::Ctl(
    std::vector<std::string> args) const {
  std::vector<std::string> out;
  if (geteuid() == 0) out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), {"env", kPath, "HOME=" + dir_, "pg_autoctl"});
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::string TestAutoFailover::MonitorDsn() const {
  return "host=127.0.0.1 port=" + std::to_string(monitor_port_) +
         " dbname=pg_auto_failover user=postgres connect_timeout=5";
}

std::string TestAutoFailover::Dsn(int i) const {
  return "host=127.0.0.1 port=" + std::to_string(Port(i)) +
         " dbname=postgres user=postgres connect_timeout=5";
}

std::string TestAutoFailover::ApplicationName(int i) const {
  return "pgautofailover_standby_" + std::to_string(i + 1);
}

TestAutoFailover::TestAutoFailover(int nodes) {
  char templ[] = "/tmp/pgre-autofailover-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error("TestAutoFailover: mkdtemp failed");
  }
  dir_ = templ;
  try {
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("TestAutoFailover: no postgres user");
      }
    }
    monitor_port_ = FreePort();
    auto start = [&](const std::string& name, std::vector<std::string> args) {
      SubprocessOptions o;
      o.log_path = dir_ + "/" + name + ".log";
      o.cwd = dir_;
      processes_.push_back(std::make_unique<Subprocess>(Ctl(args), o));
    };
    start("monitor",
          {"create", "monitor", "--pgdata", dir_ + "/monitor", "--pgport",
           std::to_string(monitor_port_), "--hostname", "127.0.0.1", "--auth",
           "trust", "--ssl-self-signed", "--run"});
    if (!WaitUntil(
            [&] {
              try {
                QueryRows(MonitorDsn(),
                          "SELECT 1 FROM pgautofailover.node LIMIT 1");
                return true;
              } catch (const std::exception&) {
                return false;
              }
            },
            seconds(60), milliseconds(200))) {
      throw std::runtime_error("TestAutoFailover: no monitor:\n" +
                               Log("monitor"));
    }
    const std::string monitor =
        "postgres://autoctl_node@127.0.0.1:" + std::to_string(monitor_port_) +
        "/pg_auto_failover?sslmode=require";
    for (int i = 0; i < nodes; ++i) {
      ports_.push_back(FreePort());
      start(Name(i), {"create", "postgres", "--pgdata", dir_ + "/" + Name(i),
                      "--pgport", std::to_string(Port(i)), "--hostname",
                      "127.0.0.1", "--name", Name(i), "--auth", "trust",
                      "--ssl-self-signed", "--monitor", monitor, "--run"});
      // One at a time: the first runs alone ("single"), then is the
      // primary of each secondary that joins.
      auto ready = [&] {
        const auto st = States();
        if (i == 0)
          return st.count(Name(0)) && st.at(Name(0)) == "single/single";
        return st.count(Name(0)) && st.at(Name(0)) == "primary/primary" &&
               st.count(Name(i)) && st.at(Name(i)) == "secondary/secondary";
      };
      if (!WaitUntil(ready, seconds(120), milliseconds(250))) {
        throw std::runtime_error("TestAutoFailover: " + Name(i) +
                                 " not ready:\n" + Log(Name(i)));
      }
    }
    Psql(0,
         "CREATE TABLE IF NOT EXISTS pgre_test_writes (id bigserial PRIMARY "
         "KEY, payload text, at timestamptz DEFAULT now())");
  } catch (...) {
    Cleanup();
    throw;
  }
}

TestAutoFailover::~TestAutoFailover() { Cleanup(); }

void TestAutoFailover::Cleanup() noexcept {
  try {
    // Nodes first, the monitor last.
    for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
      (*it)->Stop(seconds(30));
    }
    processes_.clear();
    if (!dir_.empty()) {
      for (pid_t pid : ProcessesMatching(dir_)) kill(pid, SIGKILL);
      if (std::getenv("PGRE_KEEP_CLUSTER") == nullptr) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
      }
    }
  } catch (...) {
  }
}

std::map<std::string, std::string> TestAutoFailover::States() const {
  std::map<std::string, std::string> out;
  std::string rows;
  try {
    rows = QueryRows(MonitorDsn(),
                     "SELECT nodename, reportedstate, goalstate FROM "
                     "pgautofailover.node ORDER BY nodeid");
  } catch (const std::exception&) {
    return out;
  }
  std::istringstream in(rows);
  for (std::string line; std::getline(in, line);) {
    const std::size_t a = line.find('|'), b = line.rfind('|');
    if (a == std::string::npos || a == b) continue;
    out[line.substr(0, a)] =
        line.substr(a + 1, b - a - 1) + "/" + line.substr(b + 1);
  }
  return out;
}

std::optional<std::string> TestAutoFailover::Primary() const {
  for (const auto& [name, state] : States()) {
    if (state.rfind("primary/", 0) == 0 ||
        state.rfind("wait_primary/", 0) == 0 ||
        state.rfind("single/", 0) == 0) {
      return name;
    }
  }
  return std::nullopt;
}

void TestAutoFailover::Switchover() {
  const std::optional<std::string> before = Primary();
  std::string out;
  CommandOptions o;
  o.timeout = seconds(120);
  if (RunCommand(Ctl({"perform", "switchover", "--pgdata", dir_ + "/node1"}),
                 &out, o) != 0) {
    throw std::runtime_error("TestAutoFailover: switchover failed: " + out);
  }
  if (!WaitUntil(
          [&] {
            const auto p = Primary();
            return p && p != before;
          },
          seconds(60), milliseconds(100))) {
    throw std::runtime_error("TestAutoFailover: no new primary: " + out);
  }
}

void TestAutoFailover::Write() const {
  const std::optional<std::string> p = Primary();
  if (!p) throw std::runtime_error("TestAutoFailover: no primary");
  Psql(std::atoi(p->c_str() + 4) - 1,
       "INSERT INTO pgre_test_writes (payload) VALUES ('x')");
}

std::string TestAutoFailover::Psql(int i, const std::string& sql) const {
  return QueryFirst(Dsn(i), sql);
}

std::string TestAutoFailover::Log(const std::string& name) const {
  return Tail(ReadFileOrEmpty(dir_ + "/" + name + ".log"));
}

}  // namespace pgre::testing
