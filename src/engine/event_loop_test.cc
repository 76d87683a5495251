#include "engine/event_loop.h"

#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <vector>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("posted functions run on the loop thread, in order", "[event_loop]") {
  EventLoop loop;
  loop.Start();
  std::vector<int> order;  // written on the loop thread only
  std::promise<std::thread::id> ran;
  for (int i = 0; i < 100; ++i) loop.Post([&order, i] { order.push_back(i); });
  loop.Post([&] { ran.set_value(std::this_thread::get_id()); });
  auto f = ran.get_future();
  REQUIRE(f.wait_for(seconds(10)) == std::future_status::ready);
  CHECK(f.get() != std::this_thread::get_id());
  loop.Stop();
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(order[i] == i);
}

TEST_CASE("a watch fires at its deadline, once per Arm", "[event_loop]") {
  EventLoop loop;
  std::promise<Watch::Ready> fired;
  int calls = 0;
  Watch watch(&loop, [&](Watch::Ready r) {
    if (++calls == 1) fired.set_value(r);
  });
  const MonoTime start = Clock::Real()->Now();
  watch.Arm(-1, false, false, start + milliseconds(50));
  loop.Start();
  auto f = fired.get_future();
  REQUIRE(f.wait_for(seconds(10)) == std::future_status::ready);
  CHECK(f.get().timed_out);
  CHECK(Clock::Real()->Now() - start >= milliseconds(50));
  loop.Stop();
  CHECK(calls == 1);
  CHECK_FALSE(watch.armed());
}

TEST_CASE(
    "timers re-armed from busy callbacks fire at their deadline, never early",
    "[event_loop]") {
  // Pollers' tickers: each callback does some work, then arms the next
  // deadline. On libevent's coarse clock (milliseconds behind) such timers
  // fired early and each waited again: two wakeups per tick.
  EventLoop loop;
  constexpr int kWatches = 5;
  constexpr int kTicks = 20;
  std::vector<std::unique_ptr<Watch>> watches;
  std::vector<MonoTime> deadlines(kWatches);
  std::vector<int> ticks(kWatches, 0);
  std::promise<void> done;
  int finished = 0;
  bool early_callback = false;
  for (int i = 0; i < kWatches; ++i) {
    watches.push_back(std::make_unique<Watch>(&loop, [&, i](Watch::Ready) {
      MonoTime now = Clock::Real()->Now();
      if (now < deadlines[i]) early_callback = true;  // the contract, broken
      // Busy for 0.3 ms, as a poll's parsing is.
      const MonoTime until = now + std::chrono::microseconds(300);
      while (Clock::Real()->Now() < until) {
      }
      if (++ticks[i] == kTicks) {
        if (++finished == kWatches) done.set_value();
        return;
      }
      deadlines[i] = Clock::Real()->Now() + milliseconds(3 + i);
      watches[i]->Arm(-1, false, false, deadlines[i]);
    }));
  }
  const std::uint64_t early_before = EarlyTimerWakeups();
  loop.Post([&] {
    for (int i = 0; i < kWatches; ++i) {
      deadlines[i] = Clock::Real()->Now() + milliseconds(2);
      watches[i]->Arm(-1, false, false, deadlines[i]);
    }
  });
  loop.Start();
  REQUIRE(done.get_future().wait_for(seconds(20)) == std::future_status::ready);
  loop.Stop();
  CHECK_FALSE(early_callback);
  CHECK(EarlyTimerWakeups() - early_before == 0);
}

TEST_CASE("a watch sees its socket become readable", "[event_loop]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  EventLoop loop;
  std::optional<Watch::Ready> ready;
  Watch watch(&loop, [&](Watch::Ready r) { ready = r; });
  watch.Arm(fds[0], true, false, Clock::Real()->Now() + seconds(60));
  loop.RunPending();
  CHECK_FALSE(ready.has_value());
  REQUIRE(write(fds[1], "x", 1) == 1);
  loop.RunPending();
  REQUIRE(ready.has_value());
  CHECK(ready->readable);
  CHECK_FALSE(ready->timed_out);
  // Cancelled: never fires.
  ready.reset();
  watch.Arm(fds[0], true, false, std::nullopt);
  watch.Cancel();
  loop.RunPending();
  CHECK_FALSE(ready.has_value());
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE(
    "a watch on a socket that stays readable calls back once per Arm, "
    "re-armed from its callback or not",
    "[event_loop]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  REQUIRE(write(fds[1], "x", 1) == 1);  // readable from now on, never read
  EventLoop loop;
  int calls = 0;
  int rearm = 2;  // the callback re-arms itself twice
  Watch* self = nullptr;
  Watch watch(&loop, [&](Watch::Ready r) {
    CHECK(r.readable);
    ++calls;
    if (rearm-- > 0) self->Arm(fds[0], true, false, std::nullopt);
  });
  self = &watch;
  watch.Arm(fds[0], true, false, Clock::Real()->Now() + seconds(60));
  for (int i = 0; i < 5; ++i) loop.RunPending();
  CHECK(calls == 3);
  CHECK_FALSE(watch.armed());
  // Armed again from outside: once more.
  watch.Arm(fds[0], true, false, std::nullopt);
  for (int i = 0; i < 5; ++i) loop.RunPending();
  CHECK(calls == 4);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE(
    "a watch re-armed on the same socket without a deadline drops the old one",
    "[event_loop]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  EventLoop loop;
  std::vector<Watch::Ready> seen;
  Watch watch(&loop, [&](Watch::Ready r) { seen.push_back(r); });
  const MonoTime old_deadline = Clock::Real()->Now() + milliseconds(20);
  watch.Arm(fds[0], true, false, old_deadline);
  watch.Arm(fds[0], true, false, std::nullopt);  // same socket: no deadline
  // Absence can only be shown over a while: well past the old deadline.
  while (Clock::Real()->Now() < old_deadline + milliseconds(100)) {
    loop.RunPending();
  }
  CHECK(seen.empty());
  CHECK(watch.armed());
  REQUIRE(write(fds[1], "x", 1) == 1);
  loop.RunPending();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].readable);
  CHECK_FALSE(seen[0].timed_out);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("a watch may be destroyed by its own callback", "[event_loop]") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  REQUIRE(write(fds[1], "x", 1) == 1);
  EventLoop loop;
  int calls = 0;
  std::unique_ptr<Watch> watch;
  watch = std::make_unique<Watch>(&loop, [&](Watch::Ready) {
    ++calls;
    watch.reset();  // ASan would see a use after free here
  });
  watch->Arm(fds[0], true, false, std::nullopt);
  for (int i = 0; i < 3; ++i) loop.RunPending();
  CHECK(calls == 1);
  CHECK(watch == nullptr);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("Stop ends a loop that was just started, and drops what is posted",
          "[event_loop]") {
  for (int i = 0; i < 50; ++i) {
    EventLoop loop;
    loop.Start();
    loop.Stop();  // would hang if the break were lost
    bool ran = false;
    loop.Post([&] { ran = true; });
    CHECK_FALSE(ran);
  }
}

}  // namespace
}  // namespace pgre
