// Poller: polls one server over one persistent connection; PollerGroup runs
// one poller per server on its own thread, so a down, unreachable or hung
// server never delays the others.
#ifndef PGRE_POLL_POLLER_H_
#define PGRE_POLL_POLLER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/cluster_state.h"
#include "collectors/collector.h"
#include "common/clock.h"
#include "config/config.h"
#include "pg/session.h"

namespace pgre {

// Reconnect backoff: the first retry waits `initial`, each failure doubles
// it up to `max`; a success resets it. Pure.
class Backoff {
 public:
  Backoff(Duration initial, Duration max) : initial_(initial), max_(max) {}
  // Records a failure at `now`; returns when the next attempt may start.
  MonoTime Failed(MonoTime now);
  void Succeeded() { current_ = Duration::zero(); }
  Duration current() const { return current_; }

 private:
  Duration initial_, max_;
  Duration current_{0};
};

// Thread safety: one thread at a time.
class Poller {
 public:
  // REQUIRES: every pointer outlives the poller.
  Poller(const ServerConfig& server, const Config& config,
         SessionFactory* factory,
         const std::vector<std::unique_ptr<Collector>>* collectors,
         const Clock* clock);

  // Polls once: connects when needed (unless backing off), runs every
  // collector's query in one round trip, parses each. Returns nullopt when
  // it skipped the attempt because of backoff; otherwise the outcome, which
  // is ok when the round trip succeeded (a failing collector only clears its
  // own collector_success entry). Bounded by connect_timeout +
  // query_timeout. Collectors whose MinServerVersion() is above the
  // server's version are skipped (success false); a server older than
  // kMinServerVersion is logged once per connection.
  std::optional<PollOutcome> PollOnce();

  const ServerConfig& server() const { return server_; }

 private:
  ServerConfig server_;
  Duration connect_timeout_, query_timeout_;
  // Chooses the collectors for the server version of a new connection.
  void OnConnected();

  const std::vector<std::unique_ptr<Collector>>* collectors_;
  std::vector<std::size_t> active_;   // indexes into *collectors_
  std::vector<std::string> queries_;  // of the active collectors
  int server_version_ = -1;           // of the last connection
  const Clock* clock_;
  std::unique_ptr<PgSession> session_;
  Backoff backoff_;
  MonoTime next_attempt_{};
};

// Runs one thread per server, polling every poll_interval (a poll that takes
// longer delays only its own server's next poll), and records every outcome
// into the cluster state (server index 0 the primary, then the replicas).
class PollerGroup {
 public:
  // REQUIRES: every pointer outlives the group.
  PollerGroup(const Config& config, SessionFactory* factory,
              ClusterState* cluster, const Clock* clock);
  ~PollerGroup();  // Stop()s

  void Start();
  // Stops all threads; returns once they have ended (at most one poll's
  // timeout later).
  void Stop();

 private:
  void Run(int index, Poller* poller);

  Duration interval_;
  ClusterState* cluster_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::vector<std::unique_ptr<Poller>> pollers_;  // by server index
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace pgre

#endif  // PGRE_POLL_POLLER_H_
