// TestAutoFailover: a real pg_auto_failover formation (Debian 12's
// postgresql-15-auto-failover, pg_autoctl 2.0) on loopback: a monitor and
// N PostgreSQL nodes named node1, node2, ... (`pg_autoctl create monitor`,
// `create postgres ... --auth trust --ssl-self-signed --run`), each node
// supervised by its own `pg_autoctl` process, as the unprivileged
// `postgres` user in a fresh temp dir /tmp/pgre-autofailover-XXXXXX.
//
// The constructor returns once the monitor reports node1 primary and every
// other node secondary (deadline 120 s). The monitor's view is read from
// its database (pgautofailover.node).
//
// pg_auto_failover names each standby's application_name
// `pgautofailover_standby_<node id>` (ApplicationName()).
//
// Errors throw std::runtime_error with the relevant log tail.
// Thread safety: const members may be called from any thread.
#ifndef PGRE_TESTS_SUPPORT_AUTO_FAILOVER_H_
#define PGRE_TESTS_SUPPORT_AUTO_FAILOVER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.h"

namespace pgre::testing {

class TestAutoFailover {
 public:
  explicit TestAutoFailover(int nodes = 2);
  // Stops every pg_autoctl (which stops its PostgreSQL), then kills what is
  // left of the temp dir; removes it.
  ~TestAutoFailover();
  TestAutoFailover(const TestAutoFailover&) = delete;
  TestAutoFailover& operator=(const TestAutoFailover&) = delete;

  int node_count() const { return static_cast<int>(ports_.size()); }
  std::string Name(int i) const { return "node" + std::to_string(i + 1); }
  int Port(int i) const { return ports_.at(i); }
  std::string Dsn(int i) const;  // superuser, trust
  std::string ApplicationName(int i) const;

  // The monitor's view: node name -> "reported/assigned" state.
  std::map<std::string, std::string> States() const;
  // The node the monitor has promoted: reported state primary or
  // wait_primary (its PostgreSQL is out of recovery); nullopt for none.
  std::optional<std::string> Primary() const;

  // `pg_autoctl perform switchover`; returns once it did (deadline 120 s).
  void Switchover();
  // Writes a row on the node the monitor calls primary; throws when none.
  void Write() const;
  // Runs `sql` as the superuser on node i: the first value ("" for none).
  std::string Psql(int i, const std::string& sql) const;
  std::string Log(const std::string& name) const;

 private:
  std::vector<std::string> Ctl(std::vector<std::string> args) const;
  std::string MonitorDsn() const;
  void Cleanup() noexcept;

  std::string dir_;
  int monitor_port_ = 0;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Subprocess>> processes_;  // monitor, nodes
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_AUTO_FAILOVER_H_
