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
  beats_ = std::make_unique<std::atomic<std::uint64_t>[]>(loops);
  for (int i = 0; i < loops; ++i) beats_[i].store(0);
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
    // Clusters spread over half of their poll interval, on its slots.
    const MonoTime first =
        now + PollSlot(intervals_[i] * i / (2 * n), intervals_[i]);
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
  if (i < 0 || i >= static_cast<int>(drivers_.size())) return;
  ClusterDriver* d = drivers_[i].get();
  driver_loop_[i]->Post([d, fn = std::move(fn)] { fn(d); });
}

}  // namespace pgre
