// TestPatroni: a real Patroni cluster (Debian 12's patroni 3.0) on
// loopback: a single-node etcd 3.4 (the `etcd3:` store, no v2 API) and N
// members named pg1, pg2, ... each with its own data dir, PostgreSQL port
// and REST port, run as the unprivileged `postgres` user in a fresh temp
// dir /tmp/pgre-patroni-XXXXXX (Patroni and PostgreSQL refuse root).
//
// Timings are short for tests (ttl 20, loop_wait 2, retry_timeout 4),
// use_pg_rewind and use_slots are on; Patroni names each standby's
// application_name after its member name. Authentication over TCP is trust
// for every role from 127.0.0.1, so Dsn() needs no password.
//
// Members: Start()ed in order, the first one bootstraps (initdb) and leads;
// the constructor returns once Patroni has a leader and every other member
// streams from it (deadline 120 s). Patroni's own view comes from its REST
// API (Cluster(): GET /cluster; Role(): GET /primary and /replica status).
//
// Errors throw std::runtime_error with the relevant Patroni log tail.
// Thread safety: const members (Leader, Cluster, Check, Dsn, ...) may be
// called from any thread, e.g. a sampler, while the test thread acts.
#ifndef PGRE_TESTS_SUPPORT_PATRONI_H_
#define PGRE_TESTS_SUPPORT_PATRONI_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.h"

namespace pgre::testing {

struct PatroniOptions {
  int members = 3;
  std::string scope = "pgre";
  // REST API over TLS (cert/key/CA files made by the caller): then every
  // GET needs a client certificate signed by `rest_ca` (verify_client:
  // required).
  std::string rest_cert, rest_key, rest_ca;
};

class TestPatroni {
 public:
  // Patroni's loop_wait: its REST answers reflect its HA loop's view, at
  // most this old.
  static constexpr int kLoopWaitSeconds = 2;

  explicit TestPatroni(PatroniOptions options = {});
  // Stops every member (SIGTERM to Patroni, which stops PostgreSQL; then
  // SIGKILL of whatever is left of the temp dir) and etcd; removes the dir.
  ~TestPatroni();
  TestPatroni(const TestPatroni&) = delete;
  TestPatroni& operator=(const TestPatroni&) = delete;

  int member_count() const { return static_cast<int>(members_.size()); }
  std::string Name(int i) const;  // "pg1", ...
  int PgPort(int i) const;
  int RestPort(int i) const;
  // "http://127.0.0.1:PORT" (https with TLS).
  std::string RestUrl(int i) const;
  // Superuser DSN of member i (trust).
  std::string Dsn(int i) const;
  // The member index of `name`, or -1.
  int IndexOf(const std::string& name) const;

  // GET /cluster from the first member whose REST API answers; null when
  // none does.
  nlohmann::json Cluster() const;
  // The member Patroni calls the leader (role "leader" in /cluster), or
  // nullopt (none, or no REST API answers).
  std::optional<std::string> Leader() const;
  // The status code of GET PATH on member i's REST API (0: no answer), e.g.
  // "/primary" (200 on the leader), "/replica" or "/replica?lag=1MB".
  int Check(int i, const std::string& path) const;

  // `patronictl switchover --leader L --candidate C --force`; returns once
  // Patroni names C the leader (deadline 60 s).
  void Switchover(const std::string& candidate);
  // SIGKILL of member i's Patroni and of every PostgreSQL process of its
  // data dir: what a host crash looks like to the others.
  void Crash(int i);
  // Starts member i's Patroni (again): a crashed former leader rejoins as a
  // replica (pg_rewind). Does not wait.
  void Start(int i);
  // Stops member i cleanly (SIGTERM to Patroni). Its member key expires
  // from the store after the ttl.
  void Stop(int i);
  // A new member (pg<N+1>), started; returns its index. Does not wait.
  int AddMember();
  // SIGSTOP / SIGCONT of member i's startup process alone: its replay
  // stops while its WAL receiver goes on (Patroni does not resume it, as it
  // does a pg_wal_replay_pause()).
  void StopReplay(int i);
  void ResumeReplay(int i);
  // True once member i is a replica streaming from the leader (the
  // leader's pg_stat_replication lists it as streaming).
  bool Streaming(int i) const;
  // Writes `rows` rows on the leader (pgre_test_writes); throws when there
  // is none or the write fails.
  void Write(int rows = 100) const;
  // Runs `sql` as the superuser on member i: the first value ("" when
  // none). Throws on failure.
  std::string Psql(int i, const std::string& sql) const;

  std::string Log(int i) const;
  std::string dir() const { return dir_; }

 private:
  struct Member {
    std::string name;
    int pg_port = 0;
    int rest_port = 0;
    std::unique_ptr<Subprocess> process;
  };
  void WriteConfig(int i);
  std::string ConfigPath(int i) const;
  std::string DataDir(int i) const;
  pid_t PostmasterPid(int i) const;
  void Cleanup() noexcept;

  PatroniOptions options_;
  std::string dir_;
  int etcd_client_port_ = 0;
  int etcd_peer_port_ = 0;
  std::unique_ptr<Subprocess> etcd_;
  std::vector<Member> members_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PATRONI_H_
