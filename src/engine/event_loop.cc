#include "engine/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace pgre {
namespace {

std::atomic<std::uint64_t> early_timer_wakeups{0};

void InitLibevent() {
  static std::once_flag once;
  std::call_once(once, [] { evthread_use_pthreads(); });
}

// The timeout from now to `deadline`, rounded up, plus the microsecond
// libevent's clock (a timeval) may lag ours by.
timeval Until(MonoTime deadline) {
  const auto left = std::max<std::chrono::nanoseconds>(
      std::chrono::nanoseconds(0), deadline - Clock::Real()->Now());
  const auto us = std::chrono::ceil<std::chrono::microseconds>(left) +
                  std::chrono::microseconds(1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(us.count() % 1000000);
  return tv;
}

}  // namespace

std::uint64_t EarlyTimerWakeups() { return early_timer_wakeups.load(); }

EventLoop::EventLoop() {
  InitLibevent();
  // Timers on the precise monotonic clock (a timerfd under epoll): on
  // libevent's default coarse clock (a few milliseconds behind) a timer
  // fires early, and waiting for the rest costs each tick a second wakeup.
  event_config* config = event_config_new();
  if (config == nullptr) std::abort();
  event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
  base_ = event_base_new_with_config(config);
  event_config_free(config);
  if (base_ == nullptr) std::abort();  // out of file descriptors or memory
  posted_ = event_new(base_, -1, EV_PERSIST, &EventLoop::OnPosted, this);
  event_add(posted_, nullptr);
}

EventLoop::~EventLoop() {
  Stop();
  event_free(posted_);
  event_base_free(base_);
}

void EventLoop::Start() {
  thread_ = std::thread([this] {
    // A server that hangs up mid-write costs an EPIPE, never the process
    // (libpq sends with MSG_NOSIGNAL already; this covers the rest).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  });
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    queue_.clear();
  }
  // Through the posted event, so that a loop that has not started yet
  // still ends (event_base_loop forgets a break that came before it).
  event_active(posted_, EV_READ, 0);
  if (thread_.joinable()) thread_.join();
}

void EventLoop::RunPending() {
  while (true) {
    event_base_loop(base_, EVLOOP_NONBLOCK);
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty() || stopped_) return;
  }
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    queue_.push_back(std::move(fn));
  }
  event_active(posted_, EV_READ, 0);
}

void EventLoop::OnPosted(int, short, void* self) {
  auto* loop = static_cast<EventLoop*>(self);
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(loop->mu_);
    if (loop->stopped_) {
      event_base_loopbreak(loop->base_);
      return;
    }
    batch.swap(loop->queue_);
  }
  for (auto& fn : batch) fn();
}

Watch::Watch(EventLoop* loop, std::function<void(Ready)> callback)
    : loop_(loop), callback_(std::move(callback)) {}

Watch::~Watch() {
  if (destroyed_ != nullptr) *destroyed_ = true;
  if (ev_ != nullptr) event_free(ev_);  // deletes it first
}

void Watch::Arm(int fd, bool read, bool write,
                std::optional<MonoTime> deadline) {
  short what = 0;
  if (fd >= 0 && read) what |= EV_READ;
  if (fd >= 0 && write) what |= EV_WRITE;
  if (what == 0) fd = -1;
  // One event per Watch (no allocation per wait), persistent, so that the
  // same socket and events re-armed only move the timeout: no epoll_ctl.
  if (ev_ == nullptr) {
    ev_ =
        event_new(loop_->base(), fd, what | EV_PERSIST, &Watch::OnEvent, this);
  } else if (fd != fd_ || what != what_) {
    event_del(ev_);
    event_assign(ev_, loop_->base(), fd, what | EV_PERSIST, &Watch::OnEvent,
                 this);
  }
  fd_ = fd;
  what_ = what;
  armed_ = true;
  deadline_ = deadline;
  if (deadline) {
    AddTimeout(*deadline);  // pending already: only the timeout moves
  } else if (fd < 0) {
    event_del(ev_);  // nothing to wait for: never fires
  } else {
    // event_add without a timeout keeps a pending event's old one.
    if (event_pending(ev_, EV_TIMEOUT, nullptr)) event_remove_timer(ev_);
    event_add(ev_, nullptr);
  }
}

void Watch::AddTimeout(MonoTime deadline) {
  const timeval tv = Until(deadline);
  // libevent adds a timeout to the time it cached at the start of this loop
  // iteration: refreshed after the timeout was taken, so the timer fires at
  // `deadline` or just after, never earlier by the time this iteration's
  // callbacks took.
  event_base_update_cache_time(loop_->base());
  event_add(ev_, &tv);
}

void Watch::Cancel() {
  if (ev_ != nullptr) event_del(ev_);
  armed_ = false;
}

bool Watch::armed() const { return armed_; }

void Watch::OnEvent(int, short what, void* self) {
  auto* w = static_cast<Watch*>(self);
  Ready ready;
  ready.readable = (what & EV_READ) != 0;
  ready.writable = (what & EV_WRITE) != 0;
  ready.timed_out = (what & EV_TIMEOUT) != 0;
  if (what == EV_TIMEOUT && w->deadline_ &&
      Clock::Real()->Now() < *w->deadline_) {
    // Woken early: wait for the rest (the event keeps its fd and events).
    early_timer_wakeups.fetch_add(1, std::memory_order_relaxed);
    w->AddTimeout(*w->deadline_);
    return;
  }
  // One callback per Arm. The callback may Arm() again or even destroy
  // this Watch: nothing of `w` is used after it unless it is still alive.
  w->armed_ = false;
  bool destroyed = false;
  w->destroyed_ = &destroyed;
  auto callback = w->callback_;  // a copy: it may destroy the Watch
  callback(ready);
  if (destroyed) return;
  w->destroyed_ = nullptr;
  if (!w->armed_) event_del(w->ev_);  // not re-armed: stop watching
}

}  // namespace pgre
