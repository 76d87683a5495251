// ClusterDriver: one cluster on one loop: a ServerWorker per server, a
// PgBouncerWorker per configured pgbouncer
// (staggered over the first poll interval on PollSlot's grid, so that a
// thousand servers do not start at the same instant), and the routing model's
// two timers:
//  - health checks every routing.health_check_interval
//    (ClusterState::HealthCheck); the first waits (bounded by
//    connect_timeout + query_timeout + poll_interval) until
//    ClusterState::ReadyForFirstCheck, after one synthetic read of every
//    server out of rotation, so that it decides on real data;
//  - synthetic checks every routing.synthetic_check_interval: routes
//    routing.synthetic_reads reads through the model, runs the probe query
//    on each chosen server (on that server's worker), records the results.
//    Servers out of rotation get one read per round too, so they can
//    return.
// With heartbeat.enabled, every heartbeat.interval a heartbeat is written
// (collectors/heartbeat.h) on the worker of the observed primary (one
// server out of recovery, up; none is written during split brain or while
// no primary is reachable), with synchronous_commit=local so that a
// synchronous standby that is down does not hold it; a missing table is
// created once, then written; each outcome goes to
// ClusterState::RecordHeartbeatWrite. Every server's poll then reads the
// row back (the "heartbeat" collector, added to this cluster's
// collectors).
//
// After the cluster changed (a poll landed, a check, a round), `on_change`
// (when set) runs on the loop, coalesced: a quarter of the poll interval
// after the change (so that one poll round is one call), and at most once
// per poll interval. The agent renders the cluster's metrics there
// (http/exposition.h), off the HTTP thread.
//
// Thread safety: the loop's thread only (construct and destroy anywhere
// while the loop is not running).
#ifndef PGRE_ENGINE_CLUSTER_DRIVER_H_
#define PGRE_ENGINE_CLUSTER_DRIVER_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "cluster/cluster_state.h"
#include "engine/pgbouncer_worker.h"
#include "engine/server_worker.h"

namespace pgre {

// Polls start on a grid of kPollSlots slots per poll interval: `offset`
// (from the engine's start) rounded up to the next slot; `offset` when the
// interval is shorter than kPollSlots milliseconds. A loop then wakes once
// per slot for the polls due in it (and, mostly, once for their answers)
// instead of once per server: at 1 000 servers and 1 s polls, 50 timer
// wakeups a second instead of 1 000, each starting 20 polls. Ticks stay on
// the grid, since they advance by whole intervals.
inline constexpr int kPollSlots = 50;
Duration PollSlot(Duration offset, Duration poll_interval);

// When the change hook runs after a change at `now`: a quarter interval
// later (the cluster's other servers answer within it), at least a poll
// interval after its last call at `last_call`, and on the poll slots' grid
// from `origin` (the driver's start), so that it shares the loop's wakeup
// with the polls of that slot: at 1 000 servers and 1 s polls, 250
// renderings a second while scraped, and no wakeup of their own. Pure.
MonoTime ChangeCallAt(MonoTime now, MonoTime last_call, MonoTime origin,
                      Duration poll_interval);

class ClusterDriver {
 public:
  using RoundDone =
      std::function<void(std::vector<std::pair<RouteTarget, ProbeResult>>)>;
  using ChangeHook =
      std::function<void(const ClusterState&, Duration poll_interval)>;

  // REQUIRES: every pointer outlives the driver.
  ClusterDriver(const Config& config, std::shared_ptr<ClusterState> cluster,
                EventLoop* loop, AsyncSessionFactory* sessions,
                const std::vector<std::unique_ptr<Collector>>* collectors,
                const Clock* clock, ChangeHook on_change = nullptr);

  // Starts polling at `first`; with `routing`, the health and synthetic
  // timers too.
  void Start(MonoTime first, bool routing = true);

  // One synthetic round now: `reads` routed reads plus a read of every
  // server out of rotation; `done` (optional) gets each routed read's
  // target and result, in order.
  void SyntheticRound(int reads, RoundDone done);

  // One heartbeat write now, as the heartbeat.interval timer does (nothing
  // when the heartbeat is off, no primary is observed, or a write is in
  // flight).
  void HeartbeatNow();

 private:
  void AwaitFirstCheck();
  void HealthTick();
  void SyntheticTick();
  void Changed();
  void HeartbeatTick();
  void WriteHeartbeat(int server, bool create);

  const Config config_;
  std::shared_ptr<ClusterState> cluster_;
  EventLoop* loop_;
  const Clock* clock_;
  // This cluster's collectors, when they differ from the shared ones (the
  // heartbeat's table is per cluster).
  std::vector<std::unique_ptr<Collector>> own_collectors_;
  std::vector<std::unique_ptr<ServerWorker>> workers_;  // by server index
  // By config.pgbouncers index; polled on the same loop, apart.
  std::vector<std::unique_ptr<PgBouncerWorker>> pgbouncers_;
  MonoTime next_heartbeat_{};
  bool heartbeat_running_ = false;
  std::string heartbeat_error_;  // the last one logged
  Watch health_timer_;
  Watch synthetic_timer_;
  Watch heartbeat_timer_;
  ChangeHook on_change_;
  Watch change_timer_;
  MonoTime change_at_{};         // the armed change_timer_'s deadline
  MonoTime last_change_call_{};  // the deadline of its last call
  MonoTime origin_{};            // Start()'s `first`: the poll slots' grid
  MonoTime first_check_deadline_{};
  MonoTime next_health_{};
  MonoTime next_synthetic_{};
  bool round_running_ = false;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_CLUSTER_DRIVER_H_
