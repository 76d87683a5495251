#include "engine/engine.h"

#include <algorithm>
#include <thread>

#include "engine/libpq_async_session.h"

namespace pgre {

int DefaultLoopCount() {
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(cores, 1, 4));
}

Engine::Engine(const std::vector<Config>& configs,
               std::vector<std::shared_ptr<ClusterState>> clusters, int loops,
               const Clock* clock, ClusterDriver::ChangeHook on_change,
               AsyncSessionFactory* sessions, DiscoveryHook on_discovery)
    : collectors_(DefaultCollectors()),
      on_change_(std::move(on_change)),
      clock_(clock) {
  loops = std::max(1, loops);
  beats_ = std::make_unique<std::atomic<std::uint64_t>[]>(loops);
  for (int i = 0; i < loops; ++i) beats_[i].store(0);
  for (int i = 0; i < loops; ++i) {
    loops_.push_back(std::make_unique<EventLoop>());
  }
  // The resolver also serves the discovery pollers.
  resolver_ = std::make_unique<Resolver>();
  if (sessions == nullptr) {
    own_sessions_ = std::make_unique<LibpqAsyncSessionFactory>(resolver_.get());
    sessions = own_sessions_.get();
  }
  sessions_ = sessions;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    EventLoop* loop = loops_[i % loops_.size()].get();
    drivers_.push_back(clusters[i]
                           ? std::make_unique<ClusterDriver>(
                                 configs[i], clusters[i], loop, sessions,
                                 &collectors_, clock, on_change_)
                           : nullptr);
    pollers_.push_back(nullptr);
    if (on_discovery && configs[i].discovery.patroni.enabled()) {
      const int index = static_cast<int>(i);
      pollers_.back() = std::make_unique<PatroniPoller>(
          configs[i].discovery.patroni, configs[i].connect_timeout, loop,
          resolver_.get(), clock, [on_discovery, index](DiscoveryOutcome out) {
            on_discovery(index, std::move(out));
          });
    }
    driver_loop_.push_back(loop);
    intervals_.push_back(configs[i].poll_interval);
  }
}

Engine::~Engine() { Stop(); }

void Engine::Start(bool routing) {
  if (started_) return;
  started_ = true;
  routing_ = routing;
  const MonoTime now = clock_->Now();
  const std::size_t n = drivers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    // Clusters spread over half of their poll interval, on its slots.
    const MonoTime first =
        now + PollSlot(intervals_[i] * i / (2 * n), intervals_[i]);
    if (ClusterDriver* d = drivers_[i].get()) {
      driver_loop_[i]->Post([d, first, routing] { d->Start(first, routing); });
    }
    // The members at once: a cluster may wait for them.
    if (PatroniPoller* p = pollers_[i].get()) {
      driver_loop_[i]->Post([p, now] { p->Start(now); });
    }
  }
  for (auto& loop : loops_) loop->Start();
}

void Engine::Stop() {
  for (auto& loop : loops_) loop->Stop();
  // The loops are gone: nothing runs any more; closing sessions now is safe.
  pollers_.clear();
  drivers_.clear();
  driver_loop_.clear();
}

void Engine::ReplaceCluster(int i, const Config& config,
                            std::shared_ptr<ClusterState> cluster) {
  if (i < 0 || i >= static_cast<int>(driver_loop_.size())) return;
  EventLoop* loop = driver_loop_[i];
  const bool routing = routing_;
  // Built and swapped on the loop (a driver's watches belong to it).
  loop->Post([this, i, loop, config, cluster = std::move(cluster), routing] {
    drivers_[i].reset();  // the old one closes its sessions
    drivers_[i] = std::make_unique<ClusterDriver>(
        config, cluster, loop, sessions_, &collectors_, clock_, on_change_);
    drivers_[i]->Start(clock_->Now(), routing);
  });
}

bool Engine::Heartbeat() {
  bool alive = true;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (beats_[i].load(std::memory_order_acquire) != beats_posted_) {
      alive = false;
    }
  }
  const std::uint64_t beat = ++beats_posted_;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    std::atomic<std::uint64_t>* slot = &beats_[i];
    loops_[i]->Post(
        [slot, beat] { slot->store(beat, std::memory_order_release); });
  }
  return alive;
}

void Engine::OnCluster(int i, std::function<void(ClusterDriver*)> fn) {
  if (i < 0 || i >= static_cast<int>(driver_loop_.size())) return;
  // Looked up on the loop: ReplaceCluster swaps drivers there.
  driver_loop_[i]->Post([this, i, fn = std::move(fn)] {
    if (drivers_[i]) fn(drivers_[i].get());
  });
}

}  // namespace pgre
