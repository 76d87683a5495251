#include "lag/wal_history.h"

#include <catch2/catch.hpp>
#include <vector>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One scripted step: time advances by `advance`, then the primary is
// observed at `primary` (if set) and the replica at `replay`; the expected
// lag after the step is `lag_ms`.
struct Step {
  int advance_ms;
  std::optional<Lsn> primary;
  Lsn replay;
  long long lag_ms;
};

struct Script {
  const char* name;
  std::vector<Step> steps;
};

TEST_CASE("lag over scripted LSN histories", "[lag]") {
  const std::vector<Script> scripts = {
      {"idle primary never shows lag: same LSN for a minute",
       {{0, 100, 100, 0},
        {1000, 100, 100, 0},
        {30000, 100, 100, 0},
        {30000, 100, 100, 0}}},
      {"streaming replica keeps up within a poll",
       {{0, 100, 100, 0},
        {1000, 200, 200, 0},
        {1000, 300, 250, 0},  // observed the same instant: 0 s behind
        {1000, 400, 400, 0}}},
      {"replay paused while the primary writes: lag grows with time",
       {{0, 100, 100, 0},
        {1000, 200, 100, 0},  // primary passed 100 at this very step
        {1000, 300, 100, 1000},
        {1000, 400, 100, 2000},
        {4000, 500, 100, 6000}}},
      {"paused replica on an idle primary keeps growing: the primary had "
       "more",
       {{0, 100, 100, 0},
        {1000, 200, 100, 0},
        {10000, 200, 100, 10000},
        {10000, 200, 100, 20000}}},
      {"broken WAL receiver: replay stuck, primary writes",
       {{0, 500, 500, 0},
        {1000, 600, 500, 0},
        {1000, 700, 500, 1000},
        {1000, 800, 500, 2000}}},
      {"catch-up: lag shrinks as replay passes older positions",
       {{0, 100, 100, 0},
        {1000, 200, 100, 0},
        {1000, 300, 100, 1000},
        {1000, 400, 100, 2000},
        {1000, 400, 250, 2000},  // past 200; 300 was first seen at t=2s
        {1000, 400, 400, 0}}},
      {"replica ahead of the last primary observation reads 0",
       {{0, 100, 150, 0}, {1000, 100, 150, 0}}},
      {"primary down: history kept, paused replica still grows",
       {{0, 100, 100, 0},
        {1000, 200, 100, 0},
        {1000, std::nullopt, 100, 1000},
        {1000, std::nullopt, 100, 2000},
        {1000, std::nullopt, 200, 0}}},
  };
  for (const Script& script : scripts) {
    SECTION(script.name) {
      FakeClock clock;
      WalHistory history;
      for (std::size_t i = 0; i < script.steps.size(); ++i) {
        const Step& step = script.steps[i];
        clock.Advance(milliseconds(step.advance_ms));
        if (step.primary) history.Observe(clock.Now(), *step.primary);
        auto lag = history.LagAt(step.replay, clock.Now());
        INFO("step " << i);
        REQUIRE(lag.has_value());
        CHECK(lag->count() == step.lag_ms);
      }
    }
  }
}

TEST_CASE("no observation yet means no lag value", "[lag]") {
  WalHistory history;
  FakeClock clock;
  CHECK_FALSE(history.LagAt(0, clock.Now()).has_value());
  CHECK_FALSE(history.latest().has_value());
}

TEST_CASE("restart of the agent: lag counts from its first observation",
          "[lag]") {
  // The replica was paused long before the agent started; the new history
  // knows only what it has seen since.
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 5000);
  CHECK(history.LagAt(1000, clock.Now()) == Duration::zero());
  clock.Advance(seconds(3));
  history.Observe(clock.Now(), 6000);
  CHECK(history.LagAt(1000, clock.Now()) == seconds(3));
}

TEST_CASE("an observation after the replica's sample does not count", "[lag]") {
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 100);
  const MonoTime replica_seen = clock.Now();
  clock.Advance(seconds(1));
  history.Observe(clock.Now(), 200);
  CHECK(history.LagAt(100, replica_seen) == Duration::zero());
}

TEST_CASE("a lower LSN means a new primary: history restarts", "[lag]") {
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 1000);
  clock.Advance(seconds(5));
  history.Observe(clock.Now(), 2000);
  clock.Advance(seconds(5));
  history.Observe(clock.Now(), 50);  // restored / replaced primary
  CHECK(history.size() == 1);
  CHECK(history.latest() == 50u);
  CHECK(history.LagAt(10, clock.Now()) == Duration::zero());
}

TEST_CASE("prune drops what no replica needs, keeps the latest", "[lag]") {
  FakeClock clock;
  WalHistory history;
  for (Lsn lsn = 100; lsn <= 1000; lsn += 100) {
    history.Observe(clock.Now(), lsn);
    clock.Advance(seconds(1));
  }
  REQUIRE(history.size() == 10);
  const auto before = history.LagAt(450, clock.Now());
  history.Prune(450);
  CHECK(history.size() == 7);  // 400 kept, then 500..1000
  CHECK(history.LagAt(450, clock.Now()) == before);
  history.Prune(5000);
  CHECK(history.size() == 1);
  CHECK(history.latest() == 1000u);
}

TEST_CASE("thinning bounds memory and keeps the oldest entry", "[lag]") {
  FakeClock clock;
  WalHistory history(8);
  const MonoTime start = clock.Now();
  for (Lsn lsn = 1; lsn <= 100; ++lsn) {
    history.Observe(clock.Now(), lsn * 10);
    clock.Advance(seconds(1));
  }
  CHECK(history.size() <= 8);
  // A replica stalled before the first write still reads the full time.
  CHECK(history.LagAt(0, clock.Now()) ==
        std::chrono::duration_cast<Duration>(clock.Now() - start));
  // Recent positions keep full resolution.
  CHECK(history.LagAt(990, clock.Now()) == seconds(1));
}

TEST_CASE("lag bytes clamps at zero", "[lag]") {
  CHECK(LagBytes(200, 100) == 100);
  CHECK(LagBytes(100, 100) == 0);
  CHECK(LagBytes(100, 200) == 0);
}

TEST_CASE("a wall-clock step never changes lag", "[lag]") {
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 100);
  clock.Advance(seconds(1));
  history.Observe(clock.Now(), 200);
  clock.StepWall(std::chrono::hours(-3));
  clock.Advance(seconds(1));
  CHECK(history.LagAt(100, clock.Now()) == seconds(1));
}

}  // namespace
}  // namespace pgre
