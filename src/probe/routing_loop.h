// RoutingLoop: runs the routing model of a ClusterState against the live
// servers. Two threads:
//  - health checks every routing.health_check_interval
//    (ClusterState::HealthCheck: the health predicate's verdict on every
//    server, fed to the model; every rotation change is logged once);
//  - synthetic checks every routing.synthetic_check_interval: routes
//    routing.synthetic_reads reads through the model and runs the probe
//    query on each chosen server, over probe connections separate from the
//    pollers'. Servers out of rotation get one probe per round as well (not
//    counted as routed reads) so that their synthetic result stays current
//    and they can return. Each server's probes run on their own thread, so
//    a hung server delays no other server's probe.
// The first health check waits until ClusterState::ReadyForFirstCheck (at
// most connect_timeout + query_timeout + poll_interval), so start-up does
// not empty the rotation.
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

#include "cluster/cluster_state.h"
#include "config/config.h"
#include "pg/session.h"
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

class RoutingLoop {
 public:
  // REQUIRES: every pointer outlives the loop.
  RoutingLoop(const Config& config, SessionFactory* probe_sessions,
              ClusterState* cluster, const Clock* clock);
  ~RoutingLoop();  // Stop()s

  void Start();
  void Stop();

  // One health check now (also used by route-check and tests).
  void HealthCheck() { cluster_->HealthCheck(); }
  // One synthetic round now: `reads` routed reads plus probes of servers
  // out of rotation. Returns per routed read its target and result.
  std::vector<std::pair<RouteTarget, ProbeResult>> SyntheticRound(int reads);

 private:
  void HealthThread();
  void SyntheticThread();
  // Waits until `deadline` or Stop(); returns false when stopping.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline);

  Config config_;
  ClusterState* cluster_;
  std::vector<std::unique_ptr<Prober>> probers_;  // by server index

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;          // guarded by stop_mu_
  bool first_check_done_ = false;  // guarded by stop_mu_
  std::vector<std::thread> threads_;
};

}  // namespace pgre

#endif  // PGRE_PROBE_ROUTING_LOOP_H_
