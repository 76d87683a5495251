#include "engine/event_loop.h"

#include <catch2/catch.hpp>
#include <future>
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
