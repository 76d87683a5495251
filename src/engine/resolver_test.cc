#include "engine/resolver.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>

#include "engine/event_loop.h"

namespace pgre {
namespace {

using std::chrono::seconds;

TEST_CASE("which hosts need resolving", "[resolver]") {
  CHECK(NeedsResolving("db.example.com"));
  CHECK(NeedsResolving("localhost"));
  CHECK_FALSE(NeedsResolving("127.0.0.1"));
  CHECK_FALSE(NeedsResolving("::1"));
  CHECK_FALSE(NeedsResolving("/var/run/postgresql"));
  CHECK_FALSE(NeedsResolving("@abstract"));
  CHECK_FALSE(NeedsResolving(""));
}

// Resolves on a started loop; waits (bounded) for the answer.
std::pair<Status, std::string> Resolve(Resolver& r, EventLoop& loop,
                                       std::vector<std::string> hosts) {
  std::promise<std::pair<Status, std::string>> p;
  r.Resolve(hosts, &loop, [&](Status s, std::string list) {
    p.set_value({s, list});
  });
  auto f = p.get_future();
  REQUIRE(f.wait_for(seconds(10)) == std::future_status::ready);
  return f.get();
}

TEST_CASE("names become hostaddr lists, answers are cached", "[resolver]") {
  std::atomic<int> lookups{0};
  Resolver r(seconds(30),
             [&](const std::string& host,
                 std::string* error) -> std::optional<std::string> {
               ++lookups;
               if (host == "db1") return "10.0.0.1";
               if (host == "db2") return "fd00::2";
               *error = "Name or service not known";
               return std::nullopt;
             });
  EventLoop loop;
  loop.Start();
  auto [s, list] = Resolve(r, loop, {"db1", "127.0.0.9", "/tmp", "db2"});
  CHECK(s.ok());
  CHECK(list == "10.0.0.1,127.0.0.9,,fd00::2");
  CHECK(lookups == 2);
  Resolve(r, loop, {"db1"});
  CHECK(lookups == 2);  // cached
  auto [bad, ignored] = Resolve(r, loop, {"db1", "nowhere"});
  CHECK_FALSE(bad.ok());
  CHECK(bad.message() ==
        "could not resolve host \"nowhere\": Name or service not known");
  loop.Stop();
}

TEST_CASE("a slow name delays only the sessions that need it", "[resolver]") {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  Resolver r(
      seconds(30),
      [&](const std::string& host, std::string*) -> std::optional<std::string> {
        if (host == "slow") {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return release; });
        }
        return "10.0.0.7";
      });
  EventLoop loop;
  loop.Start();
  std::promise<std::string> slow;
  r.Resolve({"slow"}, &loop, [&](Status, std::string l) { slow.set_value(l); });
  auto [s, list] = Resolve(r, loop, {"fast"});
  CHECK(list == "10.0.0.7");
  auto f = slow.get_future();
  CHECK(f.wait_for(std::chrono::milliseconds(0)) ==
        std::future_status::timeout);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(f.wait_for(seconds(10)) == std::future_status::ready);
  CHECK(f.get() == "10.0.0.7");
  loop.Stop();
}

}  // namespace
}  // namespace pgre
