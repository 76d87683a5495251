#include "cluster/lag_state.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace pgre {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

LagState Sample() {
  FakeClock clock;
  LagState s;
  s.cluster = "main";
  s.system_identifier = 18446744073709551615ull;  // needs all 64 bits
  s.primary = "replica1";
  s.timeline = 3;
  s.entries = {{clock.Now(), 100}, {clock.Now() + seconds(1), 200}};
  s.last_replay = {{"replica2", 150}, {"primary", 90}};
  s.boot_id = "5c2b0f1e-0000-4000-8000-000000000001";
  s.saved_mono = clock.Now() + seconds(2);
  s.saved_wall = clock.WallNow() + seconds(2);
  return s;
}

TEST_CASE("a lag state survives encoding", "[lag_state]") {
  const LagState s = Sample();
  std::string error;
  auto back = DecodeLagState(EncodeLagState(s), &error);
  INFO(error);
  REQUIRE(back);
  CHECK(back->cluster == s.cluster);
  CHECK(back->system_identifier == s.system_identifier);
  CHECK(back->primary == s.primary);
  CHECK(back->timeline == s.timeline);
  CHECK(back->entries == s.entries);
  CHECK(back->last_replay == s.last_replay);
  CHECK(back->boot_id == s.boot_id);
  CHECK(back->saved_mono == s.saved_mono);
  CHECK(back->saved_wall == s.saved_wall);
}

TEST_CASE("a corrupt lag state is refused with the reason", "[lag_state]") {
  const std::string good = EncodeLagState(Sample());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "not JSON"},
      {good.substr(0, good.size() / 2), "not JSON"},
      {"[1,2]", "not a JSON object"},
      {"{}", "no format number"},
      {replace("\"format\":1", "\"format\":7"), "format 7 is not 1"},
      {replace("\"cluster\":\"main\"", "\"cluster\":5"), "cluster: missing"},
      {replace("\"system_identifier\":\"", "\"system_identifier\":\"x"),
       "system_identifier: not a number"},
      {replace("\"timeline\":3", "\"timeline\":\"3\""), "timeline: bad"},
      {replace("\"replica2\":150", "\"replica2\":-1"),
       "last_replay.replica2: bad"},
      {replace(",200]", ",50]"), "entries[1]: not after the entry before it"},
      {replace("[[", "[[\"x\","), "entries[0]: not [time, lsn]"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string error;
    CHECK_FALSE(DecodeLagState(c.text, &error));
    CHECK(error == c.error);
  }
}

TEST_CASE("CheckLagState: cluster, age and clock", "[lag_state]") {
  const LagState s = Sample();
  const WallTime now = s.saved_wall + seconds(30);
  CHECK(CheckLagState(s, "main", now, hours(24)).empty());
  CHECK(CheckLagState(s, "other", now, hours(24)) ==
        "saved for cluster \"main\"");
  CHECK(CheckLagState(s, "main", s.saved_wall + hours(25), hours(24)) ==
        "saved 25h ago, older than the history's max_age 24h");
  CHECK(CheckLagState(s, "main", s.saved_wall - hours(1), hours(24)) ==
        "saved in the future");
}

TEST_CASE("EntriesOnThisClock: same boot as is, another boot by wall time",
          "[lag_state]") {
  const LagState s = Sample();
  const MonoTime now_mono = s.saved_mono + seconds(5);
  const WallTime now_wall = s.saved_wall + seconds(5);
  CHECK(EntriesOnThisClock(s, s.boot_id, now_mono, now_wall) == s.entries);
  // After a reboot: the monotonic clock starts near 0 again.
  const MonoTime rebooted = MonoTime(seconds(40));
  auto moved = EntriesOnThisClock(s, "another-boot", rebooted, now_wall);
  REQUIRE(moved.size() == 2);
  // The entries were 2 s and 1 s old at the save, 5 s ago.
  CHECK(moved[0].at == rebooted - seconds(7));
  CHECK(moved[1].at == rebooted - seconds(6));
  CHECK(moved[0].lsn == 100);
}

}  // namespace
}  // namespace pgre
