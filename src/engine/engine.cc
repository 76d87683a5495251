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
               AsyncSessionFactory* sessions)
    : collectors_(DefaultCollectors()), clock_(clock) {
  loops = std::max(1, loops);
  for (int i = 0; i < loops; ++i) {
    loops_.push_back(std::make_unique<EventLoop>());
  }
  if (sessions == nullptr) {
    resolver_ = std::make_unique<Resolver>();
    own_sessions_ = std::make_unique<LibpqAsyncSessionFactory>(resolver_.get());
    sessions = own_sessions_.get();
  }
  for (std::size_t i = 0; i < configs.size(); ++i) {
    EventLoop* loop = loops_[i % loops_.size()].get();
    drivers_.push_back(
        std::make_unique<ClusterDriver>(configs[i], clusters[i], loop, sessions,
                                        &collectors_, clock, on_change));
    driver_loop_.push_back(loop);
    intervals_.push_back(configs[i].poll_interval);
  }
}

Engine::~Engine() { Stop(); }

void Engine::Start(bool routing) {
  if (started_) return;
  started_ = true;
  const MonoTime now = clock_->Now();
  const std::size_t n = drivers_.size();
  for (std::size_t i = 0; i < n; ++i) {
    // Clusters spread over half of their poll interval.
    const MonoTime first = now + intervals_[i] * i / (2 * n);
    ClusterDriver* d = drivers_[i].get();
    driver_loop_[i]->Post([d, first, routing] { d->Start(first, routing); });
  }
  for (auto& loop : loops_) loop->Start();
}

void Engine::Stop() {
  for (auto& loop : loops_) loop->Stop();
  // The loops are gone: nothing runs any more; closing sessions now is safe.
  drivers_.clear();
  driver_loop_.clear();
}

void Engine::OnCluster(int i, std::function<void(ClusterDriver*)> fn) {
  if (i < 0 || i >= static_cast<int>(drivers_.size())) return;
  ClusterDriver* d = drivers_[i].get();
  driver_loop_[i]->Post([d, fn = std::move(fn)] { fn(d); });
}

}  // namespace pgre
