#include "support/cluster.h"

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "support/ports.h"
#include "support/procs.h"
#include "support/subprocess.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kDefaultBindir[] = "/usr/lib/postgresql/15/bin";
constexpr auto kStartTimeout = seconds(60);

std::string TrimRight(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.pop_back();
  }
  return s;
}

std::string Tail(const std::string& text, int lines) {
  std::vector<std::string> all;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) all.push_back(line);
  std::string out;
  const size_t first =
      all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  for (size_t i = first; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

// A libpq key=value value, quoted when needed.
std::string ConnValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" '\\\t\n") == std::string::npos) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// A SQL string literal.
std::string SqlLiteral(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

void AppendFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
  if (!out) throw std::runtime_error("TestCluster: cannot write " + path);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("TestCluster: cannot write " + path);
}

// With PGRE_CLUSTER_TRACE set, prints how long each setup phase took.
void Trace(const char* what) {
  static const bool enabled = std::getenv("PGRE_CLUSTER_TRACE") != nullptr;
  if (!enabled) return;
  static const auto start = std::chrono::steady_clock::now();
  std::fprintf(
      stderr, "[TestCluster +%.3fs] %s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count(),
      what);
}

// Direct children of `pid`, from /proc.
}  // namespace

TestCluster::TestCluster(ClusterOptions options)
    : options_(std::move(options)) {
  if (options_.replicas < 0) {
    throw std::invalid_argument("TestCluster: negative replica count");
  }
  const char* bindir = std::getenv("PGRE_PG_BINDIR");
  bindir_ = bindir != nullptr && *bindir != '\0' ? bindir : kDefaultBindir;
  const char* runner = std::getenv("PGRE_PG_RUNNER");
  runner_ = runner != nullptr ? runner : "";
  as_root_ = geteuid() == 0;
  try {
    Create();
  } catch (...) {
    Cleanup();
    throw;
  }
}

TestCluster::~TestCluster() { Cleanup(); }

TestCluster::Server& TestCluster::At(int server) {
  return const_cast<Server&>(std::as_const(*this).At(server));
}

const TestCluster::Server& TestCluster::At(int server) const {
  if (server == kPrimary) return primary_;
  if (server < 0 || server >= replica_count()) {
    throw std::out_of_range("TestCluster: no server " + std::to_string(server));
  }
  return replicas_[static_cast<size_t>(server)];
}

std::vector<std::string> TestCluster::Pg(std::vector<std::string> argv) const {
  if (!runner_.empty()) {
    argv.insert(argv.begin(), runner_);
    return argv;
  }
  argv[0] = bindir_ + "/" + argv[0];
  if (!as_root_) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string TestCluster::DataDir(int server) const {
  return dir_ + "/" + At(server).name;
}

std::string TestCluster::LogPath(int server) const {
  return dir_ + "/" + At(server).name + ".log";
}

std::string TestCluster::LogTail(int server, int lines) const {
  return Tail(ReadFileOrEmpty(LogPath(server)), lines);
}

pid_t TestCluster::PostmasterPid(int server) const {
  const std::string pidfile =
      ReadFileOrEmpty(DataDir(server) + "/postmaster.pid");
  const long pid = std::strtol(pidfile.c_str(), nullptr, 10);
  return pid > 0 ? static_cast<pid_t>(pid) : -1;
}

int TestCluster::Port(int server) const { return At(server).port; }

std::string TestCluster::SuperuserDsn(int server) const {
  return "host=127.0.0.1 port=" + std::to_string(Port(server)) +
         " dbname=postgres user=postgres";
}

std::string TestCluster::Dsn(int server) const {
  if (options_.password.empty()) return SuperuserDsn(server);
  return "host=127.0.0.1 port=" + std::to_string(Port(server)) +
         " dbname=postgres user=monitor password=" +
         ConnValue(options_.password);
}

std::string TestCluster::PrimaryDsn() const { return Dsn(kPrimary); }

std::string TestCluster::ReplicaDsn(int i) const {
  At(i);
  return Dsn(i);
}

std::string TestCluster::ReplicaName(int i) const {
  At(i);
  return "replica" + std::to_string(i + 1);
}

std::string TestCluster::ReplicaConninfo(int i, int port) const {
  return "host=127.0.0.1 port=" + std::to_string(port) +
         " user=postgres application_name=" + ReplicaName(i);
}

std::string TestCluster::Psql(int server, const std::string& sql) const {
  std::string out, err;
  CommandOptions opts;
  opts.errors = &err;
  opts.env = {{"PGCONNECT_TIMEOUT", "10"}};
  opts.timeout = std::chrono::minutes(2);
  const int rc = RunCommand(
      Pg({"psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-d",
          SuperuserDsn(server) + " application_name=pgre_test_cluster", "-c",
          sql}),
      &out, opts);
  if (rc != 0) {
    throw std::runtime_error("TestCluster::Psql on " + At(server).name +
                             " failed (exit " + std::to_string(rc) +
                             "): " + TrimRight(err) + "\nSQL: " + sql);
  }
  return TrimRight(out);
}

void TestCluster::Create() {
  // The temp dir, owned by postgres.
  char templ[] = "/tmp/pgre-cluster-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error(std::string("TestCluster: mkdtemp: ") +
                             std::strerror(errno));
  }
  dir_ = templ;
  if (as_root_) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      throw std::runtime_error("TestCluster: no OS user 'postgres'");
    }
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error(std::string("TestCluster: chown: ") +
                               std::strerror(errno));
    }
  }
  chmod(dir_.c_str(), 0700);

  primary_.name = "primary";
  primary_.port = FreePort();
  for (int i = 0; i < options_.replicas; ++i) {
    Server s;
    s.name = "replica" + std::to_string(i + 1);
    s.port = FreePort();
    replicas_.push_back(s);
  }

  Trace("setup: start");
  // The server version decides a few flags and functions.
  std::string version;
  if (RunCommand(Pg({"pg_ctl", "--version"}), &version) != 0) {
    throw std::runtime_error("TestCluster: pg_ctl --version failed: " +
                             version);
  }
  const size_t digit = version.find_first_of("0123456789");
  major_version_ =
      digit == std::string::npos ? 0 : std::atoi(version.c_str() + digit);
  // The primary.
  CommandOptions in_dir;
  in_dir.cwd = dir_;
  std::string out;
  std::vector<std::string> initdb = {
      "initdb",   "-D",         DataDir(kPrimary), "-U",
      "postgres", "-A",         "trust",           "-E",
      "UTF8",     "--locale=C", "--no-sync"};
  if (major_version_ >= 14) initdb.push_back("--no-instructions");
  if (RunCommand(Pg(initdb), &out, in_dir) != 0) {
    throw std::runtime_error("TestCluster: initdb failed: " + out);
  }
  Trace("initdb done");
  AppendFile(DataDir(kPrimary) + "/postgresql.conf",
             "\n# pgre TestCluster\n"
             "listen_addresses = '127.0.0.1'\n"
             "port = " +
                 std::to_string(primary_.port) +
                 "\n"
                 "unix_socket_directories = ''\n"
                 "fsync = off\n"
                 "full_page_writes = off\n"
                 "shared_buffers = 16MB\n"
                 "max_connections = " +
                 std::to_string(options_.max_connections) +
                 "\n"
                 "wal_level = replica\n"
                 "max_wal_senders = 16\n"
                 "max_replication_slots = 16\n"
                 "wal_keep_size = 64MB\n"
                 "hot_standby = on\n"
                 "wal_receiver_status_interval = 1s\n"
                 "wal_retrieve_retry_interval = 500ms\n"
                 "log_line_prefix = '%m [%p] %q%a '\n");
  std::string hba;
  if (!options_.password.empty()) {
    // Every role but the superuser (the fixture's own) needs its password.
    hba +=
        "host all postgres 127.0.0.1/32 trust\n"
        "host replication all 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n";
  } else {
    hba +=
        "host all all 127.0.0.1/32 trust\n"
        "host replication all 127.0.0.1/32 trust\n";
  }
  WriteFile(DataDir(kPrimary) + "/pg_hba.conf", hba);
  Start(kPrimary);
  Trace("primary started");
  Psql(kPrimary,
       "CREATE TABLE IF NOT EXISTS pgre_test_writes (id bigserial PRIMARY "
       "KEY, payload text, at timestamptz DEFAULT now())");
  if (!options_.password.empty()) {
    Psql(kPrimary,
         "SET password_encryption = 'scram-sha-256'; "
         "CREATE ROLE monitor LOGIN PASSWORD " +
             SqlLiteral(options_.password) + " IN ROLE pg_monitor");
  }

  // Replicas: base backups in parallel, then start them in parallel. The
  // slots are created (reserving WAL) up front: one backup's checkpoint must
  // not recycle WAL that another backup still has to stream.
  for (int i = 0; i < replica_count(); ++i) {
    Psql(kPrimary, "SELECT pg_create_physical_replication_slot('slot" +
                       std::to_string(i + 1) + "', true)");
  }
  std::vector<std::unique_ptr<Subprocess>> jobs;
  for (int i = 0; i < replica_count(); ++i) {
    SubprocessOptions opts;
    opts.cwd = dir_;
    opts.log_path = dir_ + "/" + replicas_[i].name + ".basebackup.log";
    jobs.push_back(std::make_unique<Subprocess>(
        Pg({"pg_basebackup", "-h", "127.0.0.1", "-p",
            std::to_string(primary_.port), "-U", "postgres", "-D", DataDir(i),
            "-R", "-X", "stream", "-S", "slot" + std::to_string(i + 1),
            "--checkpoint=fast", "--no-sync"}),
        opts));
  }
  for (int i = 0; i < replica_count(); ++i) {
    if (jobs[i]->Wait(kStartTimeout) != 0) {
      throw std::runtime_error("TestCluster: pg_basebackup for " +
                               replicas_[i].name +
                               " failed: " + jobs[i]->ReadLog());
    }
    AppendFile(DataDir(i) + "/postgresql.conf",
               "port = " + std::to_string(replicas_[i].port) + "\n");
    WriteFile(DataDir(i) + "/postgresql.auto.conf",
              "# Do not edit this file manually!\n"
              "# It will be overwritten by the ALTER SYSTEM command.\n"
              "primary_conninfo = '" +
                  ReplicaConninfo(i, primary_.port) +
                  "'\n"
                  "primary_slot_name = 'slot" +
                  std::to_string(i + 1) + "'\n");
  }
  Trace("base backups done");
  jobs.clear();
  for (int i = 0; i < replica_count(); ++i) {
    jobs.push_back(std::make_unique<Subprocess>(
        Pg({"pg_ctl", "-D", DataDir(i), "-l", LogPath(i), "-w", "-t",
            std::to_string(kStartTimeout.count()), "start"}),
        SubprocessOptions{{}, "", dir_}));
  }
  for (int i = 0; i < replica_count(); ++i) {
    if (jobs[i]->Wait(kStartTimeout + seconds(10)) != 0) {
      throw std::runtime_error("TestCluster: " + replicas_[i].name +
                               " did not start: " + jobs[i]->ReadLog() +
                               "\n--- log tail ---\n" + LogTail(i));
    }
    replicas_[i].running = true;
  }
  Trace("replicas started");
  if (!WaitStreaming(kStartTimeout)) {
    std::string logs;
    for (int i = 0; i < replica_count(); ++i) {
      logs += "\n--- " + replicas_[i].name + " log tail ---\n" + LogTail(i);
    }
    throw std::runtime_error("TestCluster: replicas not streaming after 60 s" +
                             logs);
  }
}

void TestCluster::Cleanup() noexcept {
  if (dir_.empty()) return;
  std::vector<int> servers = {kPrimary};
  for (int i = 0; i < replica_count(); ++i) servers.push_back(i);
  for (int server : servers) {
    try {
      Server& s = At(server);
      if (s.sigstopped) SigCont(server);
      const pid_t pid = PostmasterPid(server);
      if (pid <= 0) continue;
      std::string out;
      CommandOptions opts;
      opts.cwd = dir_;
      opts.timeout = seconds(30);
      if (RunCommand(Pg({"pg_ctl", "-D", DataDir(server), "-m", "immediate",
                         "-w", "stop"}),
                     &out, opts) != 0 &&
          kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
      }
      s.running = false;
    } catch (...) {
    }
  }
  Trace("stopped");
  const char* keep = std::getenv("PGRE_KEEP_CLUSTER");
  if (keep == nullptr || *keep == '\0' || std::string(keep) == "0") {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  dir_.clear();
}

void TestCluster::Stop(int server) {
  Server& s = At(server);
  if (s.sigstopped) SigCont(server);
  if (PostmasterPid(server) <= 0) {
    s.running = false;
    return;
  }
  std::string out;
  CommandOptions opts;
  opts.cwd = dir_;
  opts.timeout = std::chrono::minutes(2);
  if (RunCommand(Pg({"pg_ctl", "-D", DataDir(server), "-m", "fast", "-w", "-t",
                     "90", "stop"}),
                 &out, opts) != 0) {
    throw std::runtime_error("TestCluster: stopping " + s.name +
                             " failed: " + out);
  }
  s.running = false;
}

void TestCluster::Start(int server) {
  Server& s = At(server);
  if (PostmasterPid(server) > 0 && kill(PostmasterPid(server), 0) == 0) {
    s.running = true;
    return;
  }
  std::string out;
  CommandOptions opts;
  opts.cwd = dir_;
  opts.timeout = kStartTimeout + seconds(10);
  if (RunCommand(
          Pg({"pg_ctl", "-D", DataDir(server), "-l", LogPath(server), "-w",
              "-t", std::to_string(kStartTimeout.count()), "start"}),
          &out, opts) != 0) {
    throw std::runtime_error("TestCluster: " + s.name + " did not start: " +
                             out + "\n--- log tail ---\n" + LogTail(server));
  }
  s.running = true;
}

void TestCluster::PauseReplay(int i) {
  At(i);
  Psql(i, "SELECT pg_wal_replay_pause()");
  // PostgreSQL 13 has no pause state: pg_is_wal_replay_paused() says
  // whether a pause was requested, and replay stops at the next record.
  const std::string query = major_version_ >= 14
                                ? "SELECT pg_get_wal_replay_pause_state()"
                                : "SELECT CASE WHEN pg_is_wal_replay_paused() "
                                  "THEN 'paused' END";
  if (!WaitUntil([&] { return Psql(i, query) == "paused"; }, seconds(30),
                 milliseconds(20))) {
    throw std::runtime_error("TestCluster: " + ReplicaName(i) +
                             " did not pause replay");
  }
}

void TestCluster::ResumeReplay(int i) {
  At(i);
  Psql(i, "SELECT pg_wal_replay_resume()");
}

void TestCluster::SigStop(int server) {
  Server& s = At(server);
  const pid_t pid = PostmasterPid(server);
  if (pid <= 0) {
    throw std::runtime_error("TestCluster: SigStop: " + s.name +
                             " is not running");
  }
  // The postmaster first, so it cannot fork new children meanwhile.
  kill(pid, SIGSTOP);
  for (pid_t child : ChildrenOf(pid)) kill(child, SIGSTOP);
  s.sigstopped = true;
}

void TestCluster::SigCont(int server) {
  Server& s = At(server);
  const pid_t pid = PostmasterPid(server);
  if (pid > 0) {
    for (pid_t child : ChildrenOf(pid)) kill(child, SIGCONT);
    kill(pid, SIGCONT);
  }
  s.sigstopped = false;
}

void TestCluster::WaitReplicaStreaming(int i, bool streaming) {
  const std::string name = ReplicaName(i);
  const bool ok = WaitUntil(
      [&] {
        const bool on_primary =
            Psql(primary_index_,
                 "SELECT count(*) FROM pg_stat_replication WHERE "
                 "state = 'streaming' AND application_name = " +
                     SqlLiteral(name)) != "0";
        if (streaming) return on_primary;
        const bool on_replica =
            Psql(i,
                 "SELECT count(*) FROM pg_stat_wal_receiver WHERE "
                 "status = 'streaming'") != "0";
        return !on_primary && !on_replica;
      },
      seconds(30), milliseconds(50));
  if (!ok) {
    throw std::runtime_error(
        "TestCluster: " + name +
        (streaming ? " not streaming again" : " still streaming") +
        " after 30 s\n--- log tail ---\n" + LogTail(i));
  }
}

void TestCluster::CutWalReceiver(int i) {
  Psql(i, "ALTER SYSTEM SET primary_conninfo = " +
              SqlLiteral(ReplicaConninfo(i, FreePort())));
  Psql(i, "SELECT pg_reload_conf()");
  WaitReplicaStreaming(i, false);
}

void TestCluster::RestoreWalReceiver(int i) {
  Psql(i, "ALTER SYSTEM SET primary_conninfo = " +
              SqlLiteral(ReplicaConninfo(i, Port(primary_index_))));
  Psql(i, "SELECT pg_reload_conf()");
  WaitReplicaStreaming(i, true);
}

void TestCluster::Promote(int server) {
  std::string out;
  CommandOptions opts;
  opts.cwd = dir_;
  opts.timeout = std::chrono::minutes(2);
  if (RunCommand(
          Pg({"pg_ctl", "-D", DataDir(server), "-w", "-t", "60", "promote"}),
          &out, opts) != 0) {
    throw std::runtime_error("TestCluster: promoting " + At(server).name +
                             " failed: " + out + "\n--- log tail ---\n" +
                             LogTail(server));
  }
  if (!WaitUntil(
          [&] { return Psql(server, "SELECT pg_is_in_recovery()") == "f"; },
          seconds(60), milliseconds(50))) {
    throw std::runtime_error("TestCluster: " + At(server).name +
                             " still in recovery after promote");
  }
  primary_index_ = server;
}

void TestCluster::Follow(int i, int upstream) {
  if (i == kPrimary) throw std::invalid_argument("Follow: not a replica");
  const std::string slot = "slot" + std::to_string(i + 1);
  Psql(upstream,
       "SELECT pg_create_physical_replication_slot(" + SqlLiteral(slot) +
           ", true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots "
           "WHERE slot_name = " +
           SqlLiteral(slot) + ")");
  Psql(i, "ALTER SYSTEM SET primary_conninfo = " +
              SqlLiteral(ReplicaConninfo(i, Port(upstream))));
  Psql(i, "ALTER SYSTEM SET primary_slot_name = " + SqlLiteral(slot));
  Psql(i, "SELECT pg_reload_conf()");
  const std::string name = ReplicaName(i);
  if (!WaitUntil(
          [&] {
            return Psql(upstream,
                        "SELECT count(*) FROM pg_stat_replication WHERE "
                        "state = 'streaming' AND application_name = " +
                            SqlLiteral(name)) != "0";
          },
          seconds(60), milliseconds(50))) {
    throw std::runtime_error("TestCluster: " + name + " does not stream from " +
                             At(upstream).name + "\n--- log tail ---\n" +
                             LogTail(i));
  }
}

void TestCluster::CreateRole(const std::string& name,
                             const std::string& password) {
  Psql(primary_index_,
       "SET password_encryption = 'scram-sha-256'; "
       "CREATE ROLE " +
           name + " LOGIN PASSWORD " + SqlLiteral(password) +
           " IN ROLE pg_monitor");
}

void TestCluster::Write(int rows) {
  Psql(primary_index_,
       "CREATE TABLE IF NOT EXISTS pgre_test_writes (id bigserial PRIMARY "
       "KEY, payload text, at timestamptz DEFAULT now()); "
       "INSERT INTO pgre_test_writes (payload) SELECT md5(g::text) FROM "
       "generate_series(1, " +
           std::to_string(rows) + ") g");
}

bool TestCluster::WaitStreaming(milliseconds timeout) {
  std::string names;
  for (int i = 0; i < replica_count(); ++i) {
    names += (i ? ", " : "") + SqlLiteral(ReplicaName(i));
  }
  if (names.empty()) return true;
  const std::string sql =
      "SELECT count(DISTINCT application_name) FROM pg_stat_replication "
      "WHERE state = 'streaming' AND application_name IN (" +
      names + ")";
  const std::string want = std::to_string(replica_count());
  return WaitUntil(
      [&] {
        try {
          return Psql(primary_index_, sql) == want;
        } catch (const std::runtime_error&) {
          return false;
        }
      },
      timeout, milliseconds(50));
}

}  // namespace pgre::testing
