// EventLoop: one thread running a libevent event_base, with the two things
// the engine needs of it: running a function on the loop thread (Post), and
// watching a socket and/or a deadline (Watch). Everything that touches a
// server's sessions runs on its loop's thread, so sessions, pollers and
// probers need no locks of their own.
//
// Thread safety: Post and Stop are thread-safe; Watch and its methods are
// for the loop thread (or before Start).
#ifndef PGRE_ENGINE_EVENT_LOOP_H_
#define PGRE_ENGINE_EVENT_LOOP_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"

struct event_base;
struct event;

namespace pgre {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();  // Stop()s; then frees the base
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Start();
  // Ends the loop and joins its thread; functions still posted are dropped.
  // Idempotent. Not from the loop thread.
  void Stop();

  // Runs `fn` on the loop thread, soon, in posting order.
  void Post(std::function<void()> fn);

  event_base* base() const { return base_; }

  // For tests that drive a loop that is not Start()ed, on their own thread:
  // runs what is ready now (posted functions, including those they post;
  // due events) without waiting.
  void RunPending();

 private:
  static void OnPosted(int fd, short what, void* self);

  event_base* base_ = nullptr;
  event* posted_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopped_ = false;                     // guarded by mu_
};

// The number of times, process-wide, a Watch's timer fired before its
// deadline and had to wait for the rest (a wakeup of its loop for nothing).
// For tests. Thread-safe.
std::uint64_t EarlyTimerWakeups();

// A socket and/or deadline watch on a loop: calls back once per Arm() when
// the socket is ready as asked, or when the deadline passes. Re-Arm() to
// wait again (with another fd, events or deadline). Destroying or Cancel()
// drops a pending callback.
//
// The socket stays registered with the kernel from one Arm() to the next
// while the fd and events stay the same (re-arming costs no system call,
// even from the callback); it is unregistered by Cancel(), by another fd or
// events, and when a callback returns without re-arming. REQUIRES: Cancel()
// before the socket is closed or replaced by another of the same number
// (the kernel forgets a closed socket; the registration would not follow
// the new one).
class Watch {
 public:
  struct Ready {
    bool readable = false;
    bool writable = false;
    bool timed_out = false;
  };
  Watch(EventLoop* loop, std::function<void(Ready)> callback);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // fd < 0: deadline only. No deadline: wait for the socket alone. The
  // callback never sees timed_out before `deadline`. The loop's timers run
  // on the precise monotonic clock, so a timer wakes its loop once, at its
  // deadline; a wakeup that still comes early waits again (counted by
  // EarlyTimerWakeups()).
  void Arm(int fd, bool read, bool write, std::optional<MonoTime> deadline);
  void Cancel();
  bool armed() const;

 private:
  static void OnEvent(int fd, short what, void* self);
  // event_add of ev_ with a timeout that ends at `deadline`.
  void AddTimeout(MonoTime deadline);

  EventLoop* loop_;
  std::function<void(Ready)> callback_;
  event* ev_ = nullptr;  // persistent: stays registered between Arms
  int fd_ = -1;          // what ev_ is assigned to
  short what_ = 0;
  bool armed_ = false;
  bool* destroyed_ = nullptr;         // set while the callback runs
  std::optional<MonoTime> deadline_;  // of the last Arm
};

}  // namespace pgre

#endif  // PGRE_ENGINE_EVENT_LOOP_H_
