// TestCluster: a throwaway PostgreSQL primary with N streaming replicas on
// free 127.0.0.1 ports, for integration and end-to-end tests.
//
// Version: Debian 12's PostgreSQL 15 from /usr/lib/postgresql/15/bin (or
// PGRE_PG_BINDIR), run as `postgres` through runuser. With PGRE_PG_RUNNER
// set (scripts/pg-tree.sh prints one), every server tool runs as
// `RUNNER TOOL ARGS...` instead: another major version from a Debian tree.
//
// Layout: a fresh temp dir /tmp/pgre-cluster-XXXXXX owned by the `postgres`
// OS user (PostgreSQL refuses to run as root; when the test runs as root,
// every server command runs through `runuser -u postgres`), holding the data
// dirs `primary`, `replica1`.. and their logs `primary.log`, `replica1.log`..
// The primary is initdb'ed once; each replica is a pg_basebackup of it with
// its own physical slot `slotN` and `application_name=replicaN` in its
// primary_conninfo, so it shows up under that name in the primary's
// pg_stat_replication. Settings favour speed (fsync=off, small
// shared_buffers) and quick feedback (wal_receiver_status_interval=1s,
// wal_retrieve_retry_interval=500ms). A table `pgre_test_writes` exists on
// the primary for Write().
//
// Server indexes: kPrimary (-1) is the primary, 0..replica_count()-1 the
// replicas ("replica1" is index 0).
//
// Authentication: the OS/DB superuser `postgres` connects over TCP without a
// password (trust). When ClusterOptions::password is set, a role `monitor`
// (LOGIN, member of pg_monitor) exists with that password, every role but
// `postgres` must authenticate with scram-sha-256 over TCP, and the *Dsn()
// functions use `monitor`.
//
// Errors: every operation that fails throws std::runtime_error with the
// reason (and the server log tail when a server would not start).
// Thread safety: Port, replica_count, *Dsn, ReplicaName, dir, Psql, Write and
// WaitStreaming may be called concurrently (e.g. a writer thread); the other
// members must not run concurrently with anything else on the object.
// Set PGRE_KEEP_CLUSTER=1 in the environment to keep the temp dir for
// debugging (the servers are still stopped).
#ifndef PGRE_TESTS_SUPPORT_CLUSTER_H_
#define PGRE_TESTS_SUPPORT_CLUSTER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace pgre::testing {

struct ClusterOptions {
  int replicas = 3;
  // When non-empty: user `monitor` with this password, pg_monitor role,
  // scram over TCP required for it; the DSNs use it.
  std::string password = {};
  // Every server's max_connections.
  int max_connections = 60;
};

class TestCluster {
 public:
  static constexpr int kPrimary = -1;  // server index: -1 primary, 0..n-1

  // Creates and starts the cluster and waits (up to 60 s) until every
  // replica is streaming. Typically takes about 3 s.
  // Throws std::runtime_error (with the relevant log tail) on failure,
  // having stopped whatever it started and removed the temp dir.
  explicit TestCluster(ClusterOptions options = {});
  // SIGCONTs stopped servers, stops every server (immediate shutdown) and
  // removes the temp dir. Never throws.
  ~TestCluster();

  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // The TCP port of `server`. Throws std::out_of_range for a bad index.
  int Port(int server) const;
  int replica_count() const { return static_cast<int>(replicas_.size()); }

  // key=value DSNs: "host=127.0.0.1 port=P dbname=postgres user=postgres",
  // or "... user=monitor password=SECRET" when a password is set.
  std::string PrimaryDsn() const;
  std::string ReplicaDsn(int i) const;
  // The DSN of any server index (kPrimary or a replica).
  std::string Dsn(int server) const;
  // The superuser DSN (user postgres, no password) of any server.
  std::string SuperuserDsn(int server) const;

  // "replica1".. : replica i's application_name (and the name tests should
  // give it in the agent's config).
  std::string ReplicaName(int i) const;

  // Runs `sql` with `psql -XAtq -v ON_ERROR_STOP=1` as the superuser on
  // `server` (connect timeout 10 s). Returns stdout with trailing
  // whitespace trimmed (rows separated by '\n', columns by '|').
  // Throws std::runtime_error with psql's stderr on failure.
  std::string Psql(int server, const std::string& sql) const;

  // pg_ctl stop -m fast (SIGCONTs it first if stopped); no-op when it is not
  // running.
  void Stop(int server);
  // pg_ctl start; returns once it accepts connections. No-op when running.
  // Throws with the log tail if it does not start within 60 s.
  void Start(int server);

  // pg_wal_replay_pause() / pg_wal_replay_resume() on replica i.
  // PauseReplay returns once the replica reports the state 'paused'.
  void PauseReplay(int i);
  void ResumeReplay(int i);

  // SIGSTOP / SIGCONT the postmaster and all its children: a fully hung
  // server whose sockets still accept connections (connect attempts then
  // hang until their timeout).
  void SigStop(int server);
  void SigCont(int server);

  // Points replica i's primary_conninfo at a closed port, reloads, and
  // returns once its WAL receiver no longer streams (and the primary no
  // longer lists it as streaming). Replay continues to work.
  void CutWalReceiver(int i);
  // Restores the original primary_conninfo and returns once replica i
  // streams again (as seen in the primary's pg_stat_replication).
  void RestoreWalReceiver(int i);

  // CREATE ROLE name LOGIN PASSWORD password IN ROLE pg_monitor (on the
  // current primary; replicated). `name` must be a plain identifier.
  void CreateRole(const std::string& name, const std::string& password);

  // Generates WAL on the current primary: inserts `rows` rows into
  // pgre_test_writes (creating it if needed).
  void Write(int rows = 1000);

  // pg_ctl promote on `server`; returns once it is out of recovery. It is
  // the current primary from then on (Write, WaitStreaming, ...).
  void Promote(int server);
  // Points replica i at `upstream` (a server index): its slot `slotN` is
  // created there if missing, primary_conninfo and primary_slot_name are
  // changed and reloaded. Returns once `upstream` lists it as streaming.
  void Follow(int i, int upstream);
  // The server Write() and WaitStreaming() use: kPrimary until Promote().
  int current_primary() const { return primary_index_.load(); }
  // The server's major version (13, 15, 17, ...).
  int major_version() const { return major_version_; }

  // True once every replica's application_name appears with
  // state 'streaming' in the current primary's pg_stat_replication; false at
  // the deadline (or while the primary is unreachable).
  bool WaitStreaming(std::chrono::milliseconds timeout);

  // The temp dir holding the data dirs and logs.
  std::string dir() const { return dir_; }
  std::string DataDir(int server) const;
  std::string LogPath(int server) const;
  // The last `lines` lines of the server's log.
  std::string LogTail(int server, int lines = 40) const;
  // The postmaster's pid (from postmaster.pid), or -1 when not running.
  pid_t PostmasterPid(int server) const;

 private:
  struct Server {
    std::string name;  // "primary", "replica1", ..
    int port = 0;
    bool running = false;
    bool sigstopped = false;
  };

  Server& At(int server);
  const Server& At(int server) const;
  // The command line that runs a server tool ({"pg_ctl", args...}) as the
  // postgres user, from the runner or the bindir.
  std::vector<std::string> Pg(std::vector<std::string> argv) const;
  std::string ReplicaConninfo(int i, int port) const;
  void Create();
  void Cleanup() noexcept;
  void WaitReplicaStreaming(int i, bool streaming);

  ClusterOptions options_;
  std::string bindir_;
  std::string runner_;
  int major_version_ = 0;
  std::atomic<int> primary_index_{kPrimary};  // read by writer threads
  std::string dir_;
  bool as_root_ = false;
  Server primary_;
  std::vector<Server> replicas_;
};

// SIGSTOPs a server of `c` for its lifetime and SIGCONTs it when it ends,
// however the test ends.
class StoppedServer {
 public:
  StoppedServer(TestCluster& c, int server) : c_(c), server_(server) {
    c_.SigStop(server_);
  }
  ~StoppedServer() { c_.SigCont(server_); }
  StoppedServer(const StoppedServer&) = delete;
  StoppedServer& operator=(const StoppedServer&) = delete;

 private:
  TestCluster& c_;
  int server_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_CLUSTER_H_
