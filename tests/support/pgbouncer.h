// TestPgBouncer: Debian's real `pgbouncer` (1.18 on Debian 12) in front of
// servers of a TestCluster, for integration and end-to-end tests.
//
// Runs as the unprivileged `postgres` user (`pgbouncer -u postgres` when
// the test runs as root) in a fresh temp dir /tmp/pgre-pgbouncer-XXXXXX
// with its own pgbouncer.ini, listening on a free 127.0.0.1 port (no Unix
// socket). auth_type trust with a userlist of `postgres`, who is also in
// admin_users. Each fronted server is one database named after it
// ("primary", "replica1", ...) reached as the cluster's superuser, in
// transaction pool mode with pool_size `pool_size` (small, so a test can
// exhaust it). The constructor waits (deadline 20 s, never a fixed sleep)
// until the admin console answers SHOW VERSION; the destructor stops it.
//
// Clients: Hold() opens a connection through it and leaves a transaction
// open (one server connection of the pool taken); Wait() opens one and
// sends a query without waiting for it (it waits in the pool while the
// pool is exhausted). Both are closed by ReleaseClients() and the
// destructor.
//
// Errors throw std::runtime_error with pgbouncer's log.
// Thread safety: none (one test thread).
#ifndef PGRE_TESTS_SUPPORT_PGBOUNCER_H_
#define PGRE_TESTS_SUPPORT_PGBOUNCER_H_

#include <memory>
#include <string>
#include <vector>

#include "support/cluster.h"
#include "support/subprocess.h"

struct pg_conn;

namespace pgre::testing {

struct PgBouncerOptions {
  // Server indexes of the cluster (TestCluster::kPrimary, 0, 1, ...).
  std::vector<int> servers = {TestCluster::kPrimary};
  int pool_size = 2;
  int max_client_conn = 50;
};

class TestPgBouncer {
 public:
  TestPgBouncer(const TestCluster& cluster, PgBouncerOptions options = {});
  ~TestPgBouncer();
  TestPgBouncer(const TestPgBouncer&) = delete;
  TestPgBouncer& operator=(const TestPgBouncer&) = delete;

  int port() const { return port_; }
  // The admin console's DSN (database pgbouncer, user postgres).
  std::string AdminDsn() const;
  // The DSN of the database fronting `server`.
  std::string Dsn(int server) const;
  // The database name fronting `server` ("primary", "replica1", ...).
  std::string Database(int server) const;

  // Runs `sql` on the admin console (simple query); rows as '\n'-joined,
  // columns '|'-joined text. Throws on failure.
  std::string Admin(const std::string& sql) const;

  // See the file comment. Throw on failure.
  void Hold(int server);
  void Wait(int server);
  void ReleaseClients();

  // Stops pgbouncer (SIGTERM), Start()s it again on the same port.
  void Stop();
  void Start();
  std::string Log() const;

 private:
  const TestCluster& cluster_;
  PgBouncerOptions options_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
  std::vector<pg_conn*> clients_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PGBOUNCER_H_
