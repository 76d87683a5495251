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
#include "engine/resolver.h"

namespace pgre {

// One loop per core, at least 1, at most 4.
int DefaultLoopCount();

class Engine {
 public:
  // `clusters[i]` is driven with `configs[i]`; `on_change` (optional) is
  // every cluster's change hook (cluster_driver.h), called on its loop.
  // `sessions` null: libpq sessions (with this engine's resolver).
  // REQUIRES: pointers outlive the engine; configs.size() ==
  // clusters.size().
  Engine(const std::vector<Config>& configs,
         std::vector<std::shared_ptr<ClusterState>> clusters, int loops,
         const Clock* clock, ClusterDriver::ChangeHook on_change = nullptr,
         AsyncSessionFactory* sessions = nullptr);
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
  // Runs `fn(driver)` on cluster i's loop thread.
  void OnCluster(int i, std::function<void(ClusterDriver*)> fn);

 private:
  // Written by the loops (beats_[i]: the last beat loop i ran), read by
  // Heartbeat(); declared before loops_ so that it outlives them.
  std::unique_ptr<std::atomic<std::uint64_t>[]> beats_;
  std::uint64_t beats_posted_ = 0;  // Heartbeat()'s thread only
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<AsyncSessionFactory> own_sessions_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::vector<std::unique_ptr<ClusterDriver>> drivers_;
  std::vector<EventLoop*> driver_loop_;
  const Clock* clock_;
  std::vector<Duration> intervals_;
  bool started_ = false;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_ENGINE_H_
