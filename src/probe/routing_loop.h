// RoutingLoop: runs the routing model (routing/routing_model.h) against the
// live servers. Two threads:
//  - health checks every routing.health_check_interval: one observation per
//    replica from the latest snapshot plus its latest synthetic result, fed
//    to RoutingModel::Check; every rotation change is logged once;
//  - synthetic checks every routing.synthetic_check_interval: routes
//    routing.synthetic_reads reads through the model and runs the probe
//    query on each chosen server, over probe connections separate from the
//    pollers'. Replicas out of rotation get one probe per round as well (not
//    counted as routed reads) so that their synthetic result stays current
//    and they can return. Each server's probes run on their own thread, so
//    a hung server delays no other server's probe.
// The first health check waits until every server has been polled once and
// every replica's lag is known (at most connect_timeout + query_timeout +
// poll_interval), so start-up does not empty the rotation.
//
// Thread safety: Start/Stop from one thread; everything else is internal.
#ifndef PGRE_PROBE_ROUTING_LOOP_H_
#define PGRE_PROBE_ROUTING_LOOP_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pg/session.h"
#include "poll/snapshot.h"
#include "routing/routing_model.h"

namespace pgre {

// The outcome of one probe read.
struct ProbeResult {
  bool ok = false;
  std::chrono::nanoseconds duration{};
  std::string error;
};

// Runs the probe query on one server over its own persistent session.
// Thread safety: one thread at a time.
class Prober {
 public:
  Prober(std::unique_ptr<PgSession> session, const Config& config,
         const Clock* clock);
  // Connects when needed; bounded by connect_timeout + query_timeout.
  ProbeResult Probe();

 private:
  std::unique_ptr<PgSession> session_;
  std::vector<std::string> query_;
  Duration connect_timeout_, query_timeout_;
  const Clock* clock_;
};

// The server slot of a route target: 0 for the primary, i + 1 for replica i,
// -1 for no target. Slots index per-server arrays of size replicas + 1.
inline int ServerSlot(const RouteTarget& t) {
  switch (t.kind) {
    case RouteTarget::kPrimary:
      return 0;
    case RouteTarget::kReplica:
      return t.replica + 1;
    case RouteTarget::kNone:
      break;
  }
  return -1;
}

// Builds a replica's routing observation from a snapshot view. Pure.
ReplicaObservation ObserveReplica(const ServerView& view,
                                  std::optional<bool> synthetic_ok);

class RoutingLoop {
 public:
  // REQUIRES: every pointer outlives the loop.
  RoutingLoop(const Config& config, SessionFactory* probe_sessions,
              SnapshotStore* store, const Clock* clock);
  ~RoutingLoop();  // Stop()s

  void Start();
  void Stop();

  // One health check now (also used by route-check and tests).
  void HealthCheck();
  // One synthetic round now: `reads` routed reads plus probes of replicas
  // out of rotation. Returns per routed read its target and result.
  std::vector<std::pair<RouteTarget, ProbeResult>> SyntheticRound(int reads);

  // Publishes the model's state into the store.
  void Publish();

  // A copy of the model, for reports (route-check).
  RoutingModel model() const;

 private:
  void PublishLocked();
  void HealthThread();
  void SyntheticThread();
  // Waits until `deadline` or Stop(); returns false when stopping.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline);

  Config config_;
  SnapshotStore* store_;
  const Clock* clock_;
  std::unique_ptr<Prober> primary_prober_;
  std::vector<std::unique_ptr<Prober>> replica_probers_;

  mutable std::mutex model_mu_;
  RoutingModel model_;                             // guarded by model_mu_
  std::vector<std::optional<bool>> synthetic_ok_;  // guarded by model_mu_
  std::vector<std::optional<double>> synthetic_seconds_;  // guarded
  std::optional<bool> primary_synthetic_ok_;              // guarded
  std::optional<double> primary_synthetic_seconds_;       // guarded

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;          // guarded by stop_mu_
  bool first_check_done_ = false;  // guarded by stop_mu_
  bool failover_logged_ = false;   // guarded by model_mu_
  std::vector<std::thread> threads_;
};

}  // namespace pgre

#endif  // PGRE_PROBE_ROUTING_LOOP_H_
