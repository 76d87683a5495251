#include "lag/wal_history.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

namespace pgre {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// The lag figure alone (nullopt when nothing was observed).
std::optional<Duration> Lag(const WalHistory& h, Lsn replay, MonoTime at) {
  auto lag = h.LagAt(replay, at);
  if (!lag) return std::nullopt;
  return lag->lag;
}

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
        auto lag = Lag(history, step.replay, clock.Now());
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

TEST_CASE("a position older than the whole history is a lower bound", "[lag]") {
  // The replica was paused long before the history began (agent start
  // without a state file): the history cannot say since when, only that it
  // is at least the age of its oldest entry.
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 5000);
  auto lag = history.LagAt(1000, clock.Now());
  REQUIRE(lag);
  CHECK(lag->lag == Duration::zero());
  CHECK(lag->lower_bound);
  clock.Advance(seconds(3));
  history.Observe(clock.Now(), 6000);
  lag = history.LagAt(1000, clock.Now());
  REQUIRE(lag);
  CHECK(lag->lag == seconds(3));
  CHECK(lag->lower_bound);
  // At or past the oldest entry the figure is exact.
  lag = history.LagAt(5000, clock.Now());
  REQUIRE(lag);
  CHECK(lag->lag == Duration::zero());
  CHECK_FALSE(lag->lower_bound);
  lag = history.LagAt(5500, clock.Now());
  CHECK_FALSE(lag->lower_bound);
}

TEST_CASE("an observation after the replica's sample does not count", "[lag]") {
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 100);
  const MonoTime replica_seen = clock.Now();
  clock.Advance(seconds(1));
  history.Observe(clock.Now(), 200);
  CHECK(Lag(history, 100, replica_seen) == Duration::zero());
}

TEST_CASE("two positions at the same instant make one entry", "[lag]") {
  FakeClock clock;
  WalHistory history;
  history.Observe(clock.Now(), 100);
  history.Observe(clock.Now(), 200);
  CHECK(history.size() == 1);
  CHECK(history.latest() == 200u);
  clock.Advance(seconds(2));
  CHECK(Lag(history, 150, clock.Now()) == seconds(2));
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
  CHECK(Lag(history, 10, clock.Now()) == Duration::zero());
}

TEST_CASE("rebase drops what the new primary has not passed", "[lag]") {
  FakeClock clock;
  WalHistory history;
  for (Lsn lsn = 100; lsn <= 500; lsn += 100) {
    history.Observe(clock.Now(), lsn);
    clock.Advance(seconds(1));
  }
  // The new primary forked at 300: 400 and 500 were the old timeline's.
  history.Rebase(300);
  CHECK(history.latest() == 300u);
  CHECK(history.size() == 3);
  history.Observe(clock.Now(), 350);  // not a regression: no reset
  CHECK(history.size() == 4);
  // A replica at 250 has been behind since 300 was first seen (t=2s).
  CHECK(Lag(history, 250, clock.Now()) == seconds(3));
}

TEST_CASE("prune drops what no replica needs, keeps the latest", "[lag]") {
  FakeClock clock;
  WalHistory history;
  for (Lsn lsn = 100; lsn <= 1000; lsn += 100) {
    history.Observe(clock.Now(), lsn);
    clock.Advance(seconds(1));
  }
  REQUIRE(history.size() == 10);
  const auto before = Lag(history, 450, clock.Now());
  history.Prune(450);
  CHECK(history.size() == 7);  // 400 kept, then 500..1000
  CHECK(Lag(history, 450, clock.Now()) == before);
  CHECK_FALSE(history.LagAt(450, clock.Now())->lower_bound);
  history.Prune(5000);
  CHECK(history.size() == 1);
  CHECK(history.latest() == 1000u);
}

TEST_CASE("thinning bounds memory and keeps the oldest entry", "[lag]") {
  FakeClock clock;
  WalHistory history(WalHistoryLimits{.max_entries = 8});
  const MonoTime start = clock.Now();
  for (Lsn lsn = 1; lsn <= 100; ++lsn) {
    history.Observe(clock.Now(), lsn * 10);
    clock.Advance(seconds(1));
  }
  CHECK(history.size() <= 8);
  // A replica stalled at the first write still reads the full time; one
  // stalled before it, at least that.
  CHECK(Lag(history, 5, clock.Now()) ==
        std::chrono::duration_cast<Duration>(clock.Now() - start));
  CHECK(history.LagAt(5, clock.Now())->lower_bound);
  // Recent positions keep full resolution.
  CHECK(Lag(history, 990, clock.Now()) == seconds(1));
}

TEST_CASE("entries older than max_age go, the reach stays a lower bound",
          "[lag]") {
  FakeClock clock;
  WalHistory history(
      WalHistoryLimits{.max_entries = 4096, .max_age = minutes(10)});
  const MonoTime start = clock.Now();
  Lsn lsn = 0;
  for (int i = 0; i < 30; ++i) {  // 30 minutes of a write a minute
    history.Observe(clock.Now(), lsn += 100);
    clock.Advance(minutes(1));
  }
  CHECK(history.size() == 11);  // the last 10 minutes, both ends included
  auto lag = history.LagAt(50, clock.Now());  // stalled at the very start
  REQUIRE(lag);
  CHECK(lag->lower_bound);
  CHECK(lag->lag == minutes(11));  // at least the oldest entry's age
  CHECK(lag->lag < clock.Now() - start);
  // An idle primary keeps its one entry however old: it is the position.
  WalHistory idle(WalHistoryLimits{.max_entries = 16, .max_age = minutes(1)});
  idle.Observe(clock.Now(), 7);
  clock.Advance(hours(5));
  idle.Observe(clock.Now(), 7);
  CHECK(idle.size() == 1);
  CHECK(Lag(idle, 7, clock.Now()) == Duration::zero());
}

TEST_CASE("memory stays flat on a primary that writes for days", "[lag]") {
  // Three days of 1 s polls, every one seeing a new position, and a
  // replica that never catches up (so pruning never helps): the history
  // stays within its entry bound and reaches back max_age.
  FakeClock clock;
  const WalHistoryLimits limits;  // the defaults: 4096 entries, 24 h
  WalHistory history(limits);
  const MonoTime start = clock.Now();
  std::size_t most = 0;
  for (int i = 0; i < 3 * 86400; ++i) {
    history.Observe(clock.Now(), 1000 + static_cast<Lsn>(i) * 8192);
    most = std::max(most, history.size());
    clock.Advance(seconds(1));
  }
  CHECK(most <= limits.max_entries);
  auto stalled = history.LagAt(500, clock.Now());
  REQUIRE(stalled);
  CHECK(stalled->lower_bound);
  CHECK(stalled->lag >= hours(23));
  CHECK(stalled->lag <= limits.max_age + seconds(1));
  (void)start;
  // One hour behind, exact within a few thinned gaps.
  const Lsn hour_ago = 1000 + static_cast<Lsn>(3 * 86400 - 3600) * 8192;
  auto behind = history.LagAt(hour_ago, clock.Now());
  REQUIRE(behind);
  CHECK_FALSE(behind->lower_bound);
  CHECK(behind->lag > minutes(59));
  CHECK(behind->lag <= hours(1) + seconds(1));
}

TEST_CASE("restore keeps a saved history's order and bounds", "[lag]") {
  FakeClock clock;
  const MonoTime t0 = clock.Now();
  WalHistory history(WalHistoryLimits{.max_entries = 4, .max_age = hours(1)});
  history.Restore({{t0, 100},
                   {t0 + seconds(1), 200},
                   {t0 + seconds(1), 300},  // not after the one before: out
                   {t0 + seconds(2), 150},  // position goes back: out
                   {t0 + seconds(3), 400},
                   {t0 + seconds(4), 500},
                   {t0 + seconds(5), 600}});
  CHECK(history.size() <= 4);
  CHECK(history.latest() == 600u);
  const auto entries = history.Entries();
  CHECK(entries.front() == WalEntry{t0, 100});
  for (std::size_t i = 1; i < entries.size(); ++i) {
    CHECK(entries[i].at > entries[i - 1].at);
    CHECK(entries[i].lsn > entries[i - 1].lsn);
  }
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
  CHECK(Lag(history, 100, clock.Now()) == seconds(1));
}

}  // namespace
}  // namespace pgre
