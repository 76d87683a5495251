// Engine: every cluster of the agent polled and probed on a fixed number of
// event-loop threads, whatever the number of servers: `loops` threads
// (default: one per core, at most 4), plus the resolver's pool
// (Resolver::kThreads). Clusters are spread over the loops (each cluster on
// one), and their first polls over the first poll interval.
//
// Thread safety: Start/Stop/Heartbeat from one thread.
#ifndef PGRE_ENGINE_ENGINE_H_
#define PGRE_ENGINE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "cluster/cluster_state.h"
#include "collectors/collector.h"
#include "engine/cluster_driver.h"
#include "engine/event_loop.h"
#include "engine/patroni_poller.h"
#include "engine/resolver.h"

namespace pgre {

// One loop per core, at least 1, at most 4.
int DefaultLoopCount();

class Engine {
 public:
  // What a cluster's HA manager said (discovery.patroni): called on the
  // cluster's loop after each discovery round, with the cluster's index.
  using DiscoveryHook = std::function<void(int, DiscoveryOutcome)>;

  // `clusters[i]` is driven with `configs[i]`; a null cluster is not
  // polled (one waiting for its members: ReplaceCluster starts it).
  // `on_change` (optional) is every cluster's change hook
  // (cluster_driver.h), called on its loop. With `on_discovery`, every
  // cluster with discovery.patroni gets a PatroniPoller on its loop.
  // `sessions` null: libpq sessions (with this engine's resolver).
  // REQUIRES: pointers outlive the engine; configs.size() ==
  // clusters.size().
  Engine(const std::vector<Config>& configs,
         std::vector<std::shared_ptr<ClusterState>> clusters, int loops,
         const Clock* clock, ClusterDriver::ChangeHook on_change = nullptr,
         AsyncSessionFactory* sessions = nullptr,
         DiscoveryHook on_discovery = nullptr);
  ~Engine();  // Stop()s

  // Starts the loops and every cluster (routing timers included unless
  // `routing` is false).
  void Start(bool routing = true);
  // Stops the loops, then drops every session (connections closed).
  void Stop();

  // Liveness of the loops, for a watchdog: true when every loop has run
  // the beat posted by the previous call (the first call after Start: true),
  // then posts a new beat to every loop. A loop wedged in a callback since
  // the previous call makes it false. Call every fraction of the watchdog
  // interval. REQUIRES: Start()ed.
  bool Heartbeat();

  int loop_count() const { return static_cast<int>(loops_.size()); }
  // Runs `fn(driver)` on cluster i's loop thread (not for a null cluster).
  void OnCluster(int i, std::function<void(ClusterDriver*)> fn);

  // Drives cluster i with `config` and `cluster` from now on: on its loop
  // (posted), the old driver (its workers and connections) goes, a new one
  // starts polling at once (routing timers as Start said). Thread-safe.
  // REQUIRES: Start()ed; `cluster` non-null.
  void ReplaceCluster(int i, const Config& config,
                      std::shared_ptr<ClusterState> cluster);

 private:
  // Written by the loops (beats_[i]: the last beat loop i ran), read by
  // Heartbeat(); declared before loops_ so that it outlives them.
  std::unique_ptr<std::atomic<std::uint64_t>[]> beats_;
  std::uint64_t beats_posted_ = 0;  // Heartbeat()'s thread only
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<AsyncSessionFactory> own_sessions_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  // drivers_[i]: touched on cluster i's loop only once started.
  std::vector<std::unique_ptr<ClusterDriver>> drivers_;
  std::vector<std::unique_ptr<PatroniPoller>> pollers_;  // by cluster
  std::vector<EventLoop*> driver_loop_;
  ClusterDriver::ChangeHook on_change_;
  AsyncSessionFactory* sessions_ = nullptr;
  bool routing_ = true;
  const Clock* clock_;
  std::vector<Duration> intervals_;
  bool started_ = false;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_ENGINE_H_
