// ClusterState: everything the agent knows about one cluster, and the one
// place where it changes. Pollers record poll outcomes into it, the routing
// loop runs health checks and synthetic reads through it, and readers (HTTP)
// take immutable snapshots of it. No I/O (it logs events once each).
//
// On every recorded poll it
//  1. updates the server's view;
//  2. re-evaluates the topology (topology/topology.h) from every server's
//     latest observation: a new primary is adopted at once, becomes the
//     routing model's write target (leaving the read rotation) and the lag
//     reference (the history is rebased on the new primary's last replay
//     position as a standby);
//  3. records the adopted primary's WAL position in the history
//     (lag/wal_history.h) while it is the only server out of recovery;
//  4. computes the lag of the polled server if it is in recovery: against
//     the history while one primary is observed (or while two claim, for a
//     server that verifiably follows the adopted one); against the history
//     as last seen, flagged as a lower bound, while no primary is reachable;
//     not at all otherwise;
//  5. prunes the history down to what the servers in recovery still need:
//     never past a server that has not reported a replay position yet, nor
//     past one that is down (its last known position counts);
//     With the heartbeat on, also its heartbeat lag: the poll's wall time
//     minus the newest heartbeat it shows (servers in recovery only);
//  6. adds the polled server's lag (or its absence) to its trail of the
//     last minutes (cluster/lag_trail.h, for the status page);
//  7. re-runs the health predicate (cluster/health.h) on every server and
//     publishes a new snapshot.
//
// Every read a synthetic round routes is also counted in a window of the
// last minute (cluster/read_window.h; longer when synthetic rounds are
// further apart), published per server as RoutingView::recent_reads.
//
// Saved state (cluster/lag_state.h): a state given at construction is held
// until the first poll that reports the system identifier; it is adopted
// when the identifier matches, else dropped as foreign. Its status is
// published (Snapshot::state_file_status) and logged.
//
// Thread safety: all methods are thread-safe.
#ifndef PGRE_CLUSTER_CLUSTER_STATE_H_
#define PGRE_CLUSTER_CLUSTER_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/lag_state.h"
#include "cluster/lag_trail.h"
#include "cluster/read_window.h"
#include "cluster/snapshot.h"
#include "common/clock.h"
#include "config/config.h"
#include "lag/wal_history.h"
#include "routing/routing_model.h"
#include "topology/topology.h"

namespace pgre {

// A state to restore, or why there is none.
struct RestoreInput {
  std::optional<LagState> state;  // decoded and not yet identity-checked
  // When !state: "missing", "disabled", "corrupt: ...", ...; logged and
  // published as is.
  std::string status = "disabled";
  std::string boot_id;  // this boot's id (for EntriesOnThisClock)
};

// What a synthetic round should do: the routed reads, in order, and how many
// probes to run per server (the reads' targets, plus one for every read
// candidate out of rotation, so it can return).
struct SyntheticPlan {
  std::vector<RouteTarget> reads;
  std::vector<int> probes;  // per server index
};

class ClusterState {
 public:
  // `config` is copied. REQUIRES: clock outlives the state.
  ClusterState(const Config& config, const Clock* clock,
               RestoreInput restore = {});

  // The cluster with another list of servers (the HA manager's members
  // changed): `config`'s servers, each carrying over, by name, everything
  // `previous` knew of it (its view and counters, lag trail, last replay
  // position, recent reads, routing state and hysteresis), with the lag
  // history, the topology (adopted primary by name, counters, timeline),
  // the heartbeat, pgbouncer and manager views, and whether routing has
  // checked. A server new to it starts unpolled and unchecked (the routing
  // model's first check decides it at once); one no longer listed is gone,
  // with its series. Nothing is reset that would re-admit a lagging
  // replica. Thread-safe (locks `previous`).
  ClusterState(const Config& config, const Clock* clock,
               const ClusterState& previous);

  // Index of servers: 0 the configured primary, 1..n the replicas.
  int server_count() const { return server_count_; }
  // The cluster's configured name (config.cluster).
  const std::string& name() const { return config_.cluster; }

  // Records a finished poll of servers[server] (see the file comment).
  // Its sample is moved into the state: pass an rvalue to avoid a copy.
  void RecordPoll(int server, PollOutcome outcome);

  // Records a finished poll of pgbouncers[pgbouncer]; touches nothing of
  // the servers'.
  void RecordPgBouncer(int pgbouncer, const PgBouncerOutcome& outcome);

  // True once every server has been polled and, while one primary is
  // observed, every server in recovery has a lag figure that is not only a
  // lower bound (the first health check waits for this, bounded, so that it
  // decides on real data; a replica truly behind the whole history never
  // gets there, hence the bound).
  bool ReadyForFirstCheck() const;

  // One health check: the predicate's verdict on every server, fed to the
  // routing model. Logs every rotation change once, and the start and end
  // of read failover.
  void HealthCheck();

  // The outcome of one heartbeat write to servers[server]: on success the
  // seq it wrote and the wall time it carried, else the error.
  void RecordHeartbeatWrite(int server, bool ok, const std::string& error,
                            std::optional<std::int64_t> seq,
                            WallTime written_at);

  // What the HA manager said last (discovery.patroni): on success its
  // members, else the error (the members of the last success stay).
  void RecordManager(bool ok, const std::string& error, const std::string& url,
                     std::vector<PatroniMember> members, WallTime at);

  // Routes `reads` reads through the model and says which probes to run.
  SyntheticPlan PlanSynthetic(int reads);
  // The outcome of one server's probes of a round: all_ok, and the
  // duration of the last one.
  void RecordSynthetic(int server, bool all_ok, double seconds);

  // The latest snapshot: shared and immutable; copied once per change (by
  // the first Get() after it), never per reader.
  std::shared_ptr<const Snapshot> Get() const;
  // Calls fn with the current state as a snapshot, under the state's lock,
  // without the copy Get() makes (its `taken_at` unset): for a reader that
  // only reads it through, once per change (the background rendering of
  // the metrics). REQUIRES: fn is quick and does not call into this state.
  void Visit(const std::function<void(const Snapshot&)>& fn) const;

  // What to save (state file, or the next pipeline after a reload).
  // `boot_id` is this boot's id. Returns nullopt while the system
  // identifier is not known yet (nothing worth saving).
  std::optional<LagState> Save(const std::string& boot_id) const;
  // Bumped on every change that Save() would show.
  std::uint64_t save_generation() const;

  // A copy of the routing model, for reports (route-check).
  RoutingModel model() const;

  // The span of RoutingView::recent_reads: a minute, or six synthetic
  // rounds when they are further apart (so that a window holds reads).
  static Duration ReadsWindow(const RoutingConfig& routing);

 private:
  // The carrying constructor, with `previous` locked.
  ClusterState(const Config& config, const Clock* clock,
               const ClusterState& previous, std::unique_lock<std::mutex> lock);
  // Index in `previous` of each of config's servers, by name (-1: new).
  static std::vector<int> OldOfNew(const Config& config,
                                   const Snapshot& previous);
  void RecordPollLocked(int server, PollOutcome& outcome);
  void UpdateTopologyLocked(MonoTime at);
  void ComputeLagLocked(int server, MonoTime at);
  void ComputeHeartbeatLagLocked(int server, WallTime at);
  void PruneLocked();
  void MaybeRestoreLocked(std::uint64_t system_identifier);
  void PublishLocked();
  void PublishRoutingLocked();
  ServerView& ViewLocked(int server) { return building_.servers[server]; }

  const Config config_;
  const Clock* clock_;
  const int server_count_;

  mutable std::mutex mu_;
  Snapshot building_;  // guarded by mu_
  // The last published copy of building_, rebuilt by Get() when dirty_.
  mutable std::shared_ptr<const Snapshot> published_;  // guarded by mu_
  mutable bool dirty_ = true;                          // guarded by mu_
  WalHistory history_;                                 // guarded by mu_
  TopologyTracker topology_;                           // guarded by mu_
  RoutingModel model_;                                 // guarded by mu_
  std::vector<std::optional<Lsn>> last_replay_;        // guarded; per server
  std::vector<LagTrail> trails_;                       // guarded; per server
  ReadWindow recent_reads_;                            // guarded
  std::optional<std::uint64_t> system_identifier_;     // guarded
  std::optional<MonoTime> primary_last_seen_;          // guarded
  std::optional<RestoreInput> pending_restore_;        // guarded
  bool failover_logged_ = false;                       // guarded
  std::string last_topology_log_;                      // guarded
  std::uint64_t generation_ = 0;                       // guarded
};

}  // namespace pgre

#endif  // PGRE_CLUSTER_CLUSTER_STATE_H_
