// Pipeline: the monitoring pipeline of one configuration: a ClusterState
// per cluster, the engine that polls and probes them all (a fixed number of
// threads, engine/engine.h), the state keeper that writes each cluster's
// lag state every kStateSaveInterval when it changed, and, for clusters
// with discovery.patroni, the member lists Patroni gives.
//
// Replaced whole on a reload, handing its lag state and its discovered
// members to the next one, cluster by cluster name.
//
// Discovery (discovery/patroni.h): each round's outcome is recorded in the
// cluster (its manager view) and in the pipeline's discovery status (the
// pg_replica_discovery_* families); when the merged server list differs
// from the one in use, the cluster is rebuilt on its loop: a new
// ClusterState carrying every kept server's state by name
// (cluster_state.h), a new driver (Engine::ReplaceCluster), the Api's list
// swapped. A failed round keeps the last list. A cluster with no
// configured primary waits, unpublished and unpolled, for its first
// successful round. Errors and member changes are logged once per change.
//
// Thread safety: clusters(), Snapshots(), DiscoveryFamilies() and
// Heartbeat() may be called from any thread; Start/Stop/Handover and the
// destructor from the owning thread.
#ifndef PGRE_APP_PIPELINE_H_
#define PGRE_APP_PIPELINE_H_

#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_state.h"
#include "config/config.h"
#include "engine/engine.h"
#include "http/api.h"

namespace pgre {

class Pipeline {
 public:
  // What the next pipeline gets of a cluster of this one.
  struct Handover {
    RestoreInput restore;
    // The members of the last successful discovery, if any.
    std::optional<std::vector<PatroniMember>> members;
    // Whether a discovery round had ended (ok or not): a cluster still
    // without members is then not waited for again (WaitingForMembers).
    bool discovery_answered = false;
  };
  using Handovers = std::map<std::string, Handover>;

  // Clusters not in `handover` read their state file (if any).
  Pipeline(const AgentConfig& config, Handovers handover,
           std::string state_directory, ClusterDriver::ChangeHook on_change);
  ~Pipeline();

  void Start();
  // Stops everything, then writes the state a last time. Idempotent.
  void Stop();

  // The published clusters, in configured order (a cluster waiting for its
  // members is not among them).
  std::shared_ptr<const ClusterList> clusters() const;
  // The clusters with no servers yet whose first discovery round has not
  // answered (a failed round counts, as a failed first poll does for a
  // server), in configured order. Thread-safe.
  std::vector<std::string> WaitingForMembers() const;
  // Whether every poll loop answered since the previous call
  // (Engine::Heartbeat): what feeds the service manager's watchdog.
  bool Heartbeat() { return engine_->Heartbeat(); }
  // Every published cluster's latest snapshot, in configured order.
  std::vector<std::shared_ptr<const Snapshot>> Snapshots() const;
  // pg_replica_discovery_success, _members and
  // _last_success_timestamp_seconds of the clusters with discovery.
  std::vector<prometheus::MetricFamily> DiscoveryFamilies() const;
  // What to hand to the next pipeline, by cluster name.
  Handovers TakeHandover() const;

 private:
  struct Slot {
    Config configured;  // as loaded
    Config current;     // the servers in use (configured + discovered)
    std::shared_ptr<ClusterState> state;  // null: waiting for members
    // Discovery.
    bool discovery = false;
    bool answered = false;  // a discovery round has ended (ok or not)
    bool ok = false;
    bool ever_ok = false;
    std::size_t members = 0;
    std::optional<WallTime> last_success;
    std::optional<std::vector<PatroniMember>> last_members;
    std::string logged_error;
    std::string logged_skipped;
    std::uint64_t saved = 0;  // save_generation last written
    bool failing = false;     // the last state file write failed
  };

  void OnDiscovery(int i, DiscoveryOutcome outcome);
  // Builds slot i's servers from `members` (REQUIRES: mu_ held). Returns
  // the new state when the list changed, else null.
  std::shared_ptr<ClusterState> Rebuild(Slot& slot,
                                        const std::vector<PatroniMember>& m);
  void PublishLocked();
  void Keep(std::stop_token stop);
  void SaveIfChanged();
  RestoreInput Restore(const std::string& cluster) const;

  const std::string state_directory_;
  const std::string boot_id_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;                  // guarded by mu_
  std::shared_ptr<const ClusterList> list_;  // guarded by mu_
  std::unique_ptr<Engine> engine_;
  std::jthread keeper_;
  bool stopped_ = false;
};

}  // namespace pgre

#endif  // PGRE_APP_PIPELINE_H_
