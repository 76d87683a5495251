#include "support/patroni.h"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/http_client.h"
#include "support/ports.h"
#include "support/pq.h"
#include "support/procs.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kBindir[] = "/usr/lib/postgresql/15/bin";

std::string Tail(const std::string& text, std::size_t lines) {
  std::size_t at = text.size();
  for (std::size_t n = 0; at > 0 && n <= lines;) {
    --at;
    if (text[at] == '\n') ++n;
  }
  return text.substr(at);
}

// The command line that runs argv as the postgres user (when root).
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace

TestPatroni::TestPatroni(PatroniOptions options)
    : options_(std::move(options)) {
  char templ[] = "/tmp/pgre-patroni-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error("TestPatroni: mkdtemp failed");
  }
  dir_ = templ;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      Cleanup();
      throw std::runtime_error("TestPatroni: no postgres user to run as");
    }
  }
  try {
    etcd_client_port_ = FreePort();
    etcd_peer_port_ = FreePort();
    const std::string client =
        "http://127.0.0.1:" + std::to_string(etcd_client_port_);
    const std::string peer =
        "http://127.0.0.1:" + std::to_string(etcd_peer_port_);
    SubprocessOptions etcd_options;
    etcd_options.log_path = dir_ + "/etcd.log";
    etcd_ = std::make_unique<Subprocess>(
        AsPostgres({"etcd", "--name", "etcd0", "--data-dir", dir_ + "/etcd",
                    "--listen-client-urls", client, "--advertise-client-urls",
                    client, "--listen-peer-urls", peer,
                    "--initial-advertise-peer-urls", peer, "--initial-cluster",
                    "etcd0=" + peer}),
        etcd_options);
    if (!WaitUntil(
            [&] {
              return HttpGet("127.0.0.1", etcd_client_port_, "/health",
                             seconds(1))
                         .status == 200;
            },
            seconds(30), milliseconds(100))) {
      throw std::runtime_error("TestPatroni: etcd did not start:\n" +
                               Tail(ReadFileOrEmpty(dir_ + "/etcd.log"), 20));
    }
    for (int i = 0; i < options_.members; ++i) {
      Member m;
      m.name = "pg" + std::to_string(i + 1);
      m.pg_port = FreePort();
      m.rest_port = FreePort();
      members_.push_back(std::move(m));
      WriteConfig(i);
    }
    // The first bootstraps the cluster; the others clone it once it leads.
    Start(0);
    if (!WaitUntil([&] { return Leader() == Name(0); }, seconds(90),
                   milliseconds(200))) {
      throw std::runtime_error("TestPatroni: no leader:\n" + Log(0));
    }
    for (int i = 1; i < member_count(); ++i) Start(i);
    for (int i = 1; i < member_count(); ++i) {
      if (!WaitUntil([&] { return Streaming(i); }, seconds(120),
                     milliseconds(200))) {
        throw std::runtime_error("TestPatroni: " + Name(i) +
                                 " does not stream:\n" + Log(i));
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

TestPatroni::~TestPatroni() { Cleanup(); }

void TestPatroni::Cleanup() noexcept {
  try {
    for (Member& m : members_) {
      if (m.process) m.process->Stop(seconds(20));
      m.process.reset();
    }
    // Whatever Patroni left (a crashed member's postgres, a stopped one).
    if (!dir_.empty()) {
      for (pid_t pid : ProcessesMatching(dir_)) {
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
      }
    }
    etcd_.reset();
    if (!dir_.empty() && std::getenv("PGRE_KEEP_CLUSTER") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  } catch (...) {
  }
}

std::string TestPatroni::Name(int i) const { return members_.at(i).name; }
int TestPatroni::PgPort(int i) const { return members_.at(i).pg_port; }
int TestPatroni::RestPort(int i) const { return members_.at(i).rest_port; }

std::string TestPatroni::RestUrl(int i) const {
  return std::string(options_.rest_cert.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(RestPort(i));
}

std::string TestPatroni::Dsn(int i) const {
  return "host=127.0.0.1 port=" + std::to_string(PgPort(i)) +
         " dbname=postgres user=postgres connect_timeout=5";
}

int TestPatroni::IndexOf(const std::string& name) const {
  for (int i = 0; i < member_count(); ++i) {
    if (members_[i].name == name) return i;
  }
  return -1;
}

std::string TestPatroni::ConfigPath(int i) const {
  return dir_ + "/" + Name(i) + ".yml";
}

std::string TestPatroni::DataDir(int i) const { return dir_ + "/" + Name(i); }

void TestPatroni::WriteConfig(int i) {
  const Member& m = members_.at(i);
  std::ostringstream y;
  y << "scope: " << options_.scope << "\n"
    << "name: " << m.name << "\n"
    << "restapi:\n"
    << "  listen: 127.0.0.1:" << m.rest_port << "\n"
    << "  connect_address: 127.0.0.1:" << m.rest_port << "\n";
  if (!options_.rest_cert.empty()) {
    y << "  certfile: " << options_.rest_cert << "\n"
      << "  keyfile: " << options_.rest_key << "\n"
      << "  cafile: " << options_.rest_ca << "\n"
      << "  verify_client: required\n";
  }
  y << "ctl:\n"
    << "  insecure: true\n";
  if (!options_.rest_cert.empty()) {
    y << "  certfile: " << options_.rest_cert << "\n"
      << "  keyfile: " << options_.rest_key << "\n";
  }
  y << "etcd3:\n"
    << "  hosts: 127.0.0.1:" << etcd_client_port_ << "\n"
    << "bootstrap:\n"
    << "  dcs:\n"
    << "    ttl: 20\n"
    << "    loop_wait: " << TestPatroni::kLoopWaitSeconds << "\n"
    << "    retry_timeout: 4\n"
    << "    maximum_lag_on_failover: 1073741824\n"
    << "    postgresql:\n"
    << "      use_pg_rewind: true\n"
    << "      use_slots: true\n"
    << "      parameters:\n"
    << "        wal_log_hints: 'on'\n"
    << "        wal_receiver_status_interval: 1s\n"
    << "        wal_keep_size: 256MB\n"
    << "        max_connections: 60\n"
    << "  initdb:\n"
    << "  - encoding: UTF8\n"
    << "  pg_hba:\n"
    << "  - host replication replicator 127.0.0.1/32 trust\n"
    << "  - host all all 127.0.0.1/32 trust\n"
    << "postgresql:\n"
    << "  listen: 127.0.0.1:" << m.pg_port << "\n"
    << "  connect_address: 127.0.0.1:" << m.pg_port << "\n"
    << "  data_dir: " << DataDir(i) << "\n"
    << "  bin_dir: " << kBindir << "\n"
    << "  pgpass: " << dir_ << "/pgpass-" << m.name << "\n"
    << "  authentication:\n"
    << "    replication: {username: replicator, password: rep}\n"
    << "    superuser: {username: postgres, password: pg}\n"
    << "    rewind: {username: rewind_user, password: rw}\n"
    << "  parameters:\n"
    << "    unix_socket_directories: '" << dir_ << "'\n"
    << "    fsync: 'off'\n"
    << "    shared_buffers: 16MB\n";
  std::ofstream(ConfigPath(i)) << y.str();
  if (geteuid() == 0) {
    if (const passwd* pw = getpwnam("postgres")) {
      if (chown(ConfigPath(i).c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("TestPatroni: chown failed");
      }
    }
  }
}

void TestPatroni::Start(int i) {
  Member& m = members_.at(i);
  if (m.process && m.process->Running()) return;
  SubprocessOptions o;
  o.log_path = dir_ + "/" + m.name + ".log";
  o.cwd = dir_;
  m.process =
      std::make_unique<Subprocess>(AsPostgres({"patroni", ConfigPath(i)}), o);
}

void TestPatroni::Stop(int i) {
  Member& m = members_.at(i);
  if (m.process) m.process->Stop(seconds(30));
  m.process.reset();
}

void TestPatroni::Crash(int i) {
  // Patroni first (so it does not restart PostgreSQL), then the postmaster
  // and its children.
  for (pid_t pid : ProcessesMatching("patroni " + ConfigPath(i))) {
    kill(pid, SIGKILL);
  }
  const pid_t pm = PostmasterPid(i);
  if (pm > 0) {
    kill(pm, SIGKILL);
    for (pid_t child : ChildrenOf(pm)) kill(child, SIGKILL);
  }
  for (pid_t pid : ProcessesMatching(DataDir(i) + " ")) kill(pid, SIGKILL);
  Member& m = members_.at(i);
  if (m.process) m.process->Wait(seconds(10));
  m.process.reset();
}

int TestPatroni::AddMember() {
  Member m;
  m.name = "pg" + std::to_string(member_count() + 1);
  m.pg_port = FreePort();
  m.rest_port = FreePort();
  members_.push_back(std::move(m));
  const int i = member_count() - 1;
  WriteConfig(i);
  Start(i);
  return i;
}

pid_t TestPatroni::PostmasterPid(int i) const {
  const std::string pidfile = ReadFileOrEmpty(DataDir(i) + "/postmaster.pid");
  const long pid = std::atol(pidfile.c_str());
  if (pid <= 0 || kill(static_cast<pid_t>(pid), 0) != 0) return -1;
  return static_cast<pid_t>(pid);
}

void TestPatroni::StopReplay(int i) {
  const pid_t pm = PostmasterPid(i);
  for (pid_t child : ChildrenOf(pm)) {
    if (CommandLine(child).find("startup") != std::string::npos) {
      kill(child, SIGSTOP);
      return;
    }
  }
  throw std::runtime_error("TestPatroni: no startup process on " + Name(i));
}

void TestPatroni::ResumeReplay(int i) {
  const pid_t pm = PostmasterPid(i);
  for (pid_t child : ChildrenOf(pm)) {
    if (CommandLine(child).find("startup") != std::string::npos) {
      kill(child, SIGCONT);
    }
  }
}

nlohmann::json TestPatroni::Cluster() const {
  for (int i = 0; i < member_count(); ++i) {
    std::string body;
    if (options_.rest_cert.empty()) {
      const HttpResponse r =
          HttpGet("127.0.0.1", RestPort(i), "/cluster", seconds(2));
      if (r.status != 200) continue;
      body = r.body;
    } else {
      if (RunCommand({"curl", "-sf", "--max-time", "2", "--cacert",
                      options_.rest_ca, "--cert", options_.rest_cert, "--key",
                      options_.rest_key, RestUrl(i) + "/cluster"},
                     &body) != 0) {
        continue;
      }
    }
    try {
      return nlohmann::json::parse(body);
    } catch (const std::exception&) {
    }
  }
  return nullptr;
}

std::optional<std::string> TestPatroni::Leader() const {
  const nlohmann::json c = Cluster();
  if (!c.is_object() || !c.contains("members")) return std::nullopt;
  for (const auto& m : c["members"]) {
    if (m.value("role", "") == "leader") return m.value("name", "");
  }
  return std::nullopt;
}

int TestPatroni::Check(int i, const std::string& path) const {
  if (options_.rest_cert.empty()) {
    return HttpGet("127.0.0.1", RestPort(i), path, seconds(2)).status;
  }
  std::string out;
  RunCommand(
      {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
       "--cacert", options_.rest_ca, "--cert", options_.rest_cert, "--key",
       options_.rest_key, RestUrl(i) + path},
      &out);
  return std::atoi(out.c_str());
}

void TestPatroni::Switchover(const std::string& candidate) {
  const std::optional<std::string> leader = Leader();
  if (!leader) throw std::runtime_error("TestPatroni: no leader to switch");
  std::string out;
  CommandOptions o;
  o.timeout = seconds(90);
  const int rc =
      RunCommand(AsPostgres({"patronictl", "-c", ConfigPath(IndexOf(*leader)),
                             "switchover", "--leader", *leader, "--candidate",
                             candidate, "--force"}),
                 &out, o);
  if (rc != 0) {
    throw std::runtime_error("TestPatroni: switchover failed: " + out);
  }
  if (!WaitUntil([&] { return Leader() == candidate; }, seconds(60),
                 milliseconds(100))) {
    throw std::runtime_error("TestPatroni: " + candidate +
                             " did not become the leader: " + out);
  }
}

std::string TestPatroni::Psql(int i, const std::string& sql) const {
  try {
    return QueryFirst(Dsn(i), sql);
  } catch (const std::exception& e) {
    throw std::runtime_error("TestPatroni: " + Name(i) + ": " + e.what());
  }
}

bool TestPatroni::Streaming(int i) const {
  const std::optional<std::string> leader = Leader();
  if (!leader || *leader == Name(i)) return false;
  try {
    return Psql(IndexOf(*leader),
                "SELECT count(*) FROM pg_stat_replication WHERE "
                "application_name = '" +
                    Name(i) + "' AND state = 'streaming'") == "1";
  } catch (const std::exception&) {
    return false;
  }
}

void TestPatroni::Write(int rows) const {
  const std::optional<std::string> leader = Leader();
  if (!leader) throw std::runtime_error("TestPatroni: no leader to write to");
  Psql(IndexOf(*leader),
       "INSERT INTO pgre_test_writes (payload) SELECT md5(g::text) FROM "
       "generate_series(1, " +
           std::to_string(rows) + ") g");
}

std::string TestPatroni::Log(int i) const {
  return Tail(ReadFileOrEmpty(dir_ + "/" + Name(i) + ".log"), 40);
}

}  // namespace pgre::testing
