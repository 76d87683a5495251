#include "support/pgbouncer.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/ports.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TestPgBouncer::TestPgBouncer(const TestCluster& cluster,
                             PgBouncerOptions options)
    : cluster_(cluster), options_(std::move(options)) {
  char templ[] = "/tmp/pgre-pgbouncer-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error("TestPgBouncer: mkdtemp failed");
  }
  dir_ = templ;
  if (geteuid() == 0) {
    if (const passwd* pw = getpwnam("postgres")) {
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("TestPgBouncer: chown failed");
      }
    }
  }
  port_ = FreePort();
  std::ofstream ini(dir_ + "/pgbouncer.ini");
  ini << "[databases]\n";
  for (int s : options_.servers) {
    ini << Database(s) << " = host=127.0.0.1 port=" << cluster_.Port(s)
        << " dbname=postgres user=postgres\n";
  }
  ini << "[pgbouncer]\n"
      << "listen_addr = 127.0.0.1\n"
      << "listen_port = " << port_ << "\n"
      << "unix_socket_dir =\n"
      << "auth_type = trust\n"
      << "auth_file = " << dir_ << "/users.txt\n"
      << "admin_users = postgres\n"
      << "pool_mode = transaction\n"
      << "default_pool_size = " << options_.pool_size << "\n"
      << "max_client_conn = " << options_.max_client_conn << "\n"
      << "logfile = " << dir_ << "/pgbouncer.log\n"
      << "pidfile = " << dir_ << "/pgbouncer.pid\n";
  ini.close();
  std::ofstream(dir_ + "/users.txt") << "\"postgres\" \"\"\n";
  Start();
}

TestPgBouncer::~TestPgBouncer() {
  ReleaseClients();
  try {
    Stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestPgBouncer::Database(int server) const {
  return server == TestCluster::kPrimary ? "primary"
                                         : cluster_.ReplicaName(server);
}

std::string TestPgBouncer::AdminDsn() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " dbname=pgbouncer user=postgres connect_timeout=5";
}

std::string TestPgBouncer::Dsn(int server) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " dbname=" + Database(server) + " user=postgres connect_timeout=5";
}

std::string TestPgBouncer::Log() const {
  return ReadAll(dir_ + "/pgbouncer.log") +
         (process_ ? process_->ReadLog() : std::string());
}

void TestPgBouncer::Start() {
  if (process_) return;
  std::vector<std::string> argv = {"pgbouncer"};
  if (geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("postgres");
  }
  argv.push_back(dir_ + "/pgbouncer.ini");
  process_ = std::make_unique<Subprocess>(argv);
  const bool ready = WaitUntil(
      [&] {
        try {
          return Admin("SHOW VERSION").rfind("PgBouncer", 0) == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  if (!ready) {
    const std::string log = Log();
    process_.reset();
    throw std::runtime_error("TestPgBouncer: not ready within 20 s:\n" + log);
  }
}

void TestPgBouncer::Stop() {
  if (!process_) return;
  process_->Stop();
  process_.reset();
}

std::string TestPgBouncer::Admin(const std::string& sql) const {
  PGconn* conn = PQconnectdb(AdminDsn().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string e = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("TestPgBouncer: " + e);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK &&
      PQresultStatus(r) != PGRES_COMMAND_OK) {
    const std::string e = PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
    throw std::runtime_error("TestPgBouncer: " + sql + ": " + e);
  }
  std::string out;
  for (int i = 0; i < PQntuples(r); ++i) {
    if (i > 0) out += '\n';
    for (int j = 0; j < PQnfields(r); ++j) {
      if (j > 0) out += '|';
      out += PQgetvalue(r, i, j);
    }
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

void TestPgBouncer::Hold(int server) {
  PGconn* conn = PQconnectdb(Dsn(server).c_str());
  clients_.push_back(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    throw std::runtime_error("TestPgBouncer: Hold: " +
                             std::string(PQerrorMessage(conn)));
  }
  PGresult* r = PQexec(conn, "BEGIN; SELECT 1");
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  PQclear(r);
  if (!ok) {
    throw std::runtime_error("TestPgBouncer: Hold: " +
                             std::string(PQerrorMessage(conn)));
  }
}

void TestPgBouncer::Wait(int server) {
  PGconn* conn = PQconnectdb(Dsn(server).c_str());
  clients_.push_back(conn);
  if (PQstatus(conn) != CONNECTION_OK || PQsendQuery(conn, "SELECT 1") != 1) {
    throw std::runtime_error("TestPgBouncer: Wait: " +
                             std::string(PQerrorMessage(conn)));
  }
}

void TestPgBouncer::ReleaseClients() {
  for (PGconn* c : clients_) PQfinish(c);
  clients_.clear();
}

}  // namespace pgre::testing
