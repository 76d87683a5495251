#include "engine/engine.h"

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "engine/fake_async_session.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;

// Calls engine.Heartbeat() every 10 ms until it returns `want`, at most
// `timeout`. Returns whether it did.
bool HeartbeatBecomes(Engine& engine, bool want, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (engine.Heartbeat() == want) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

TEST_CASE("Heartbeat: false while a loop is wedged, true once it runs again",
          "[engine]") {
  Config config;
  config.cluster = "test";
  config.primary.name = "primary";
  config.primary.role = Role::kPrimary;
  FakeAsyncSessionFactory sessions;
  sessions.Server("primary")->reachable = false;  // polls fail, then back off
  auto cluster = std::make_shared<ClusterState>(config, Clock::Real());
  Engine engine({config}, {cluster}, /*loops=*/2, Clock::Real(), nullptr,
                &sessions);
  engine.Start(/*routing=*/false);

  CHECK(engine.Heartbeat());  // the first call
  REQUIRE(HeartbeatBecomes(engine, true, milliseconds(5000)));

  // Wedge the cluster's loop in a callback.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  engine.OnCluster(0, [&entered, released](ClusterDriver*) {
    entered.set_value();
    released.wait();
  });
  entered.get_future().wait();
  engine.Heartbeat();  // its beat now waits behind the wedged callback
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    CHECK_FALSE(engine.Heartbeat());
  }

  release.set_value();
  CHECK(HeartbeatBecomes(engine, true, milliseconds(5000)));
  engine.Stop();
}

}  // namespace
}  // namespace pgre
