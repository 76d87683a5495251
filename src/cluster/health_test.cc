#include "cluster/health.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "cluster/test_views.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;

ServerView HealthyReplica() { return testing::StreamingReplica(); }
ServerView Primary() { return testing::ObservedPrimary(); }

// Builds a one-primary, one-replica snapshot and changes one thing.
struct Case {
  Snapshot snap;
  Case() {
    snap.servers = {Primary(), HealthyReplica()};
    snap.topology.state = TopologyState::kSinglePrimary;
    snap.topology.primary = 0;
    snap.topology.claimants = {0};
    snap.topology.primary_last_lsn = 1000;
  }
  ServerView& r() { return snap.servers[1]; }
  Case& up(bool v) { return r().up = v, *this; }
  Case& not_polled() { return r().polled = false, *this; }
  Case& no_sample() { return r().sample.reset(), *this; }
  Case& in_recovery(bool v) {
    r().sample->in_recovery = v;
    r().claims_primary = !v;
    return *this;
  }
  Case& streaming(std::optional<bool> v) { return r().streaming = v, *this; }
  Case& lag(std::optional<double> v) { return r().lag_seconds = v, *this; }
  Case& lower_bound() { return r().lag_lower_bound = true, *this; }
  Case& bytes(std::optional<std::uint64_t> v) {
    return r().lag_bytes = v, *this;
  }
  Case& synthetic(std::optional<bool> v) {
    return r().routing.synthetic_ok = v, *this;
  }
  Case& max_lag_ms(long long ms) {
    snap.routing_config.max_lag = milliseconds(ms);
    return *this;
  }
  Case& max_bytes(std::uint64_t b) {
    snap.routing_config.max_lag_bytes = b;
    return *this;
  }
  Case& split_brain() {
    snap.topology.state = TopologyState::kSplitBrain;
    snap.topology.claimants = {0, 2};
    return *this;
  }
  // The outage: no server out of recovery; the primary was last seen at
  // `last` (unset: never).
  Case& outage(std::optional<Lsn> last) {
    snap.servers[0].up = false;
    snap.servers[0].claims_primary = false;
    snap.servers[0].sample.reset();
    snap.topology.state = TopologyState::kNoPrimary;
    snap.topology.claimants.clear();
    snap.topology.primary_last_lsn = last;
    r().streaming = false;  // no primary to stream from
    r().lag_lower_bound = true;
    return *this;
  }
  Case& replayed(std::optional<Lsn> replay, std::optional<Lsn> receive) {
    r().sample->replay_lsn = replay;
    r().sample->receive_lsn = receive;
    return *this;
  }
  Case& outage_lag(std::optional<double> seconds,
                   std::optional<std::uint64_t> bytes = std::nullopt) {
    r().outage_lag_seconds = seconds;
    r().outage_lag_bytes = bytes;
    return *this;
  }
};

TEST_CASE("AssessServer: every reason, in order", "[health]") {
  struct Row {
    const char* name;
    Case c;
    bool healthy;
    HealthCode code;
    std::string reason;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Row> rows = {
      {"healthy", Case(), true, HealthCode::kOk, "ok"},
      {"not polled yet", Case().not_polled(), false, HealthCode::kNotChecked,
       "not checked yet"},
      {"down", Case().up(false).no_sample(), false, HealthCode::kDown, "down"},
      {"down wins over lag", Case().up(false).no_sample().lag(60), false,
       HealthCode::kDown, "down"},
      {"promoted, not adopted: not in recovery", Case().in_recovery(false),
       false, HealthCode::kNotInRecovery, "not in recovery"},
      {"not in recovery wins over not streaming",
       Case().in_recovery(false).streaming(false), false,
       HealthCode::kNotInRecovery, "not in recovery"},
      {"synthetic check failed", Case().synthetic(false), false,
       HealthCode::kSyntheticFailed, "synthetic check failed"},
      {"synthetic failure wins over lag", Case().synthetic(false).lag(60),
       false, HealthCode::kSyntheticFailed, "synthetic check failed"},
      {"synthetic check passed", Case().synthetic(true), true, HealthCode::kOk,
       "ok"},
      {"no synthetic check yet counts as passed",
       Case().synthetic(std::nullopt), true, HealthCode::kOk, "ok"},
      {"streaming state unknown", Case().streaming(std::nullopt), false,
       HealthCode::kStreamingUnknown, "wal receiver state unknown"},
      {"wal receiver not streaming", Case().streaming(false), false,
       HealthCode::kNotStreaming, "wal receiver not streaming"},
      {"not streaming wins over lag unknown",
       Case().streaming(false).lag(std::nullopt), false,
       HealthCode::kNotStreaming, "wal receiver not streaming"},
      {"lag unknown", Case().lag(std::nullopt), false, HealthCode::kLagUnknown,
       "lag unknown"},
      {"lag NaN is unknown", Case().lag(nan), false, HealthCode::kLagUnknown,
       "lag unknown"},
      {"lag over", Case().lag(7.2), false, HealthCode::kLagHigh,
       "lag 7.2s over 5s"},
      {"lag just over keeps enough decimals", Case().lag(5.04), false,
       HealthCode::kLagHigh, "lag 5.04s over 5s"},
      {"lag whole seconds", Case().lag(12), false, HealthCode::kLagHigh,
       "lag 12s over 5s"},
      {"fractional limit", Case().lag(2).max_lag_ms(1500), false,
       HealthCode::kLagHigh, "lag 2s over 1.5s"},
      {"sub-second limit", Case().lag(0.3).max_lag_ms(250), false,
       HealthCode::kLagHigh, "lag 0.3s over 0.25s"},
      {"infinite lag", Case().lag(inf), false, HealthCode::kLagHigh,
       "lag infs over 5s"},
      {"lag exactly at the limit is healthy", Case().lag(5), true,
       HealthCode::kOk, "ok"},
      {"zero lag", Case().lag(0), true, HealthCode::kOk, "ok"},
      {"a lower bound within the limit is not admitted",
       Case().lag(0.4).lower_bound(), false, HealthCode::kLagUnbounded,
       "lag not bounded yet (at least 0.4s)"},
      {"a lower bound over the limit is lag over it",
       Case().lag(9).lower_bound(), false, HealthCode::kLagHigh,
       "lag at least 9s over 5s"},
      {"bytes over", Case().bytes(123456).max_bytes(100000), false,
       HealthCode::kLagBytesHigh, "lag 123456 bytes over 100000"},
      {"bytes exactly at the limit", Case().bytes(100000).max_bytes(100000),
       true, HealthCode::kOk, "ok"},
      {"no byte limit when max_lag_bytes is 0", Case().bytes(1ull << 40), true,
       HealthCode::kOk, "ok"},
      {"unknown bytes never fail the byte limit",
       Case().bytes(std::nullopt).max_bytes(100000), true, HealthCode::kOk,
       "ok"},
      {"seconds reason wins over bytes",
       Case().lag(9).bytes(123456).max_bytes(100000), false,
       HealthCode::kLagHigh, "lag 9s over 5s"},
      // Split brain: a replica that verifiably follows the adopted primary
      // keeps its lag; one that does not has none, and says why.
      {"split brain, lag known", Case().split_brain(), true, HealthCode::kOk,
       "ok"},
      {"split brain, lag unknown", Case().split_brain().lag(std::nullopt),
       false, HealthCode::kSplitBrain, "split brain: 2 servers claim primary"},
      // The outage rule.
      {"primary down, caught up with what it received", Case().outage(1000),
       true, HealthCode::kOk, "ok"},
      {"primary down: the WAL receiver is not asked",
       Case().outage(1000).streaming(std::nullopt), true, HealthCode::kOk,
       "ok"},
      {"primary down, replayed all it received though the primary had more",
       Case().outage(5000).replayed(900, 900), true, HealthCode::kOk, "ok"},
      {"primary down, not caught up", Case().outage(5000).replayed(900, 1000),
       false, HealthCode::kNotCaughtUp,
       "primary down and not caught up: replayed 900 of 1000 bytes "
       "received"},
      {"primary down, replayed what the primary had (received more)",
       Case().outage(900).replayed(900, 1000), true, HealthCode::kOk, "ok"},
      {"primary down at start: nothing known but up and caught up",
       Case().outage(std::nullopt).replayed(900, 900).lag(std::nullopt), true,
       HealthCode::kOk, "ok"},
      {"primary down, never streamed (archive only)",
       Case().outage(std::nullopt).replayed(900, std::nullopt), true,
       HealthCode::kOk, "ok"},
      {"primary down, was already far behind when last seen",
       Case().outage(5000).replayed(900, 900).outage_lag(40), false,
       HealthCode::kLagHigh, "lag 40s over 5s when the primary was last seen"},
      {"primary down: lag growing since is no reason",
       Case().outage(5000).replayed(900, 900).lag(300).outage_lag(0.5), true,
       HealthCode::kOk, "ok"},
      {"primary down, bytes over when last seen",
       Case().outage(5000).replayed(900, 900).outage_lag(0, 4100).max_bytes(
           4000),
       false, HealthCode::kLagBytesHigh,
       "lag 4100 bytes over 4000 when the primary was last seen"},
      {"primary down: a failing synthetic read still counts",
       Case().outage(1000).synthetic(false), false,
       HealthCode::kSyntheticFailed, "synthetic check failed"},
  };
  for (const Row& row : rows) {
    SECTION(row.name) {
      const HealthVerdict v = AssessServer(row.c.snap, 1);
      CHECK(v.healthy == row.healthy);
      CHECK(v.code == row.code);
      CHECK(v.reason == row.reason);
    }
  }
}

TEST_CASE("AssessServer: the adopted primary takes no reads", "[health]") {
  Case c;
  const HealthVerdict v = AssessServer(c.snap, 0);
  CHECK_FALSE(v.healthy);
  CHECK(v.code == HealthCode::kPrimary);
  CHECK(v.reason == "primary");
  // Even while it is down, it is the primary (until another is adopted).
  c.outage(1000);
  CHECK(AssessServer(c.snap, 0).code == HealthCode::kDown);
}

TEST_CASE("DecideStreaming: own view first, then the upstream's", "[health]") {
  Case c;
  std::vector<ServerView>& s = c.snap.servers;
  CHECK(DecideStreaming(s, 1, 0) == true);
  s[1].sample->wal_receiver->status = "waiting";
  CHECK(DecideStreaming(s, 1, 0) == false);
  s[1].sample->wal_receiver.reset();  // no row: the receiver is not running
  CHECK(DecideStreaming(s, 1, 0) == false);

  // Its own collector failed (e.g. a PostgreSQL older than 13): the
  // primary's pg_stat_replication says.
  s[1].sample->collector_success["wal_receiver"] = false;
  CHECK_FALSE(DecideStreaming(s, 1, 0).has_value());
  s[0].sample->collector_success["stat_replication"] = true;
  StandbyRow row;
  row.application_name = "replica1";
  row.state = "streaming";
  s[0].sample->standbys.push_back(row);
  CHECK(DecideStreaming(s, 1, 0) == true);
  s[0].sample->standbys[0].state = "catchup";
  CHECK(DecideStreaming(s, 1, 0) == false);
  s[0].sample->standbys.clear();
  CHECK_FALSE(DecideStreaming(s, 1, 0).has_value());

  // Not in recovery, or down: no answer.
  CHECK_FALSE(DecideStreaming(s, 0, 0).has_value());
  s[1].up = false;
  CHECK_FALSE(DecideStreaming(s, 1, 0).has_value());
}

}  // namespace
}  // namespace pgre
