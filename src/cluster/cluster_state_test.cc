#include "cluster/cluster_state.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::uint64_t kSystem = 7320012870716651519ull;

Config ThreeReplicas() {
  Config c;
  c.cluster = "main";
  c.primary.name = "primary";
  c.primary.application_name = "primary";
  c.primary.role = Role::kPrimary;
  c.primary.host = "db0";
  for (int i = 1; i <= 3; ++i) {
    ServerConfig r;
    r.name = "replica" + std::to_string(i);
    r.application_name = r.name;
    r.role = Role::kReplica;
    r.host = "db" + std::to_string(i);
    c.replicas.push_back(r);
  }
  c.routing.fall = 1;
  c.routing.rise = 1;
  return c;
}

// Polls as the real pipeline produces them.
struct Polls {
  FakeClock clock;

  PollOutcome Base() const {
    PollOutcome o;
    o.ok = true;
    o.at = clock.Now();
    o.wall_at = clock.WallNow();
    o.sample.collector_success["server"] = true;
    o.sample.collector_success["stat_replication"] = true;
    o.sample.collector_success["wal_receiver"] = true;
    o.sample.system_identifier = kSystem;
    o.sample.timeline = 1;
    return o;
  }
  // A primary at `lsn` listing `standbys` as streaming.
  PollOutcome Primary(Lsn lsn,
                      std::vector<std::string> standbys = {"replica1",
                                                           "replica2",
                                                           "replica3"},
                      std::int64_t timeline = 1) const {
    PollOutcome o = Base();
    o.sample.current_lsn = lsn;
    o.sample.timeline = timeline;
    for (const std::string& name : standbys) {
      StandbyRow row;
      row.application_name = name;
      row.state = "streaming";
      o.sample.standbys.push_back(row);
    }
    return o;
  }
  // A standby that replayed `replay` (received `receive`, default the same).
  PollOutcome Replica(Lsn replay, bool streaming = true,
                      std::optional<Lsn> receive = std::nullopt) const {
    PollOutcome o = Base();
    o.sample.in_recovery = true;
    o.sample.replay_lsn = replay;
    o.sample.receive_lsn = receive.value_or(replay);
    if (streaming) {
      o.sample.wal_receiver = WalReceiverRow{};
      o.sample.wal_receiver->status = "streaming";
    }
    return o;
  }
  PollOutcome Failed() const {
    PollOutcome o;
    o.error = "connect: connection refused";
    o.at = clock.Now();
    o.wall_at = clock.WallNow();
    return o;
  }
};

const ServerView& View(const ClusterState& c, int i) {
  static thread_local std::shared_ptr<const Snapshot> keep;
  keep = c.Get();
  return keep->servers.at(i);
}

TEST_CASE("replica lag follows the primary's observed WAL", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(100));
  c.RecordPoll(1, p.Replica(100));
  CHECK(View(c, 1).lag_seconds == 0.0);
  CHECK_FALSE(View(c, 1).lag_lower_bound);
  CHECK(View(c, 1).lag_bytes == 0u);
  CHECK(View(c, 1).standby_connected == true);
  CHECK(View(c, 1).streaming == true);
  CHECK(View(c, 1).upstream == 0);
  CHECK(View(c, 0).is_primary);
  CHECK(View(c, 1).health.healthy);
  p.clock.Advance(seconds(1));
  c.RecordPoll(0, p.Primary(200));
  p.clock.Advance(seconds(2));
  c.RecordPoll(0, p.Primary(300));
  c.RecordPoll(1, p.Replica(100));
  CHECK(View(c, 1).lag_seconds == 2.0);
  CHECK(View(c, 1).lag_bytes == 200u);
  CHECK(View(c, 1).health.reason == "ok");
  p.clock.Advance(seconds(4));
  c.RecordPoll(1, p.Replica(100));
  CHECK(View(c, 1).lag_seconds == 6.0);
  CHECK(View(c, 1).health.reason == "lag 6s over 5s");
}

TEST_CASE("a server that cannot be polled has no lag, never 0", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(100));
  c.RecordPoll(1, p.Replica(100));
  REQUIRE(View(c, 1).lag_seconds);
  c.RecordPoll(1, p.Failed());
  CHECK_FALSE(View(c, 1).lag_seconds.has_value());
  CHECK_FALSE(View(c, 1).lag_bytes.has_value());
  CHECK(View(c, 1).lag_unknown_reason == "down");
  CHECK(View(c, 1).health.code == HealthCode::kDown);
  CHECK(View(c, 1).poll_errors_total == 1);
  CHECK(View(c, 1).polls_total == 2);
}

TEST_CASE("the first check waits for every server and every lag", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(1, p.Replica(100));  // before the primary: no lag yet
  c.RecordPoll(2, p.Replica(100));
  c.RecordPoll(3, p.Failed());
  CHECK_FALSE(c.ReadyForFirstCheck());
  c.RecordPoll(0, p.Primary(100));
  CHECK_FALSE(c.ReadyForFirstCheck());  // replica1 and 2 have no lag yet
  CHECK(View(c, 1).lag_unknown_reason == "no primary position observed yet");
  c.RecordPoll(1, p.Replica(100));
  c.RecordPoll(2, p.Replica(100));
  CHECK(c.ReadyForFirstCheck());
}

TEST_CASE("promotion: lag against the new primary, rotation follows",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  for (int round = 0; round < 2; ++round) {
    c.RecordPoll(0, p.Primary(1000));
    for (int i = 1; i <= 3; ++i) c.RecordPoll(i, p.Replica(1000));
    c.HealthCheck();
  }
  REQUIRE(c.Get()->servers[1].routing.in_rotation);

  // The primary stops. The replicas replayed all they had: they stay.
  p.clock.Advance(seconds(1));
  c.RecordPoll(0, p.Failed());
  for (int i = 1; i <= 3; ++i) c.RecordPoll(i, p.Replica(1000, false));
  c.HealthCheck();
  auto snap = c.Get();
  CHECK(snap->topology.state == TopologyState::kNoPrimary);
  CHECK(snap->topology.stale_reads);
  CHECK(snap->servers[2].routing.in_rotation);
  CHECK(snap->servers[2].lag_lower_bound);

  // replica1 is promoted (timeline 2): adopted at its first poll as a
  // primary, out of the rotation at once, the write target.
  p.clock.Advance(seconds(1));
  c.RecordPoll(1, p.Primary(1100, {}, 2));
  snap = c.Get();
  CHECK(snap->topology.state == TopologyState::kSinglePrimary);
  CHECK(snap->topology.primary == 1);
  CHECK(snap->topology.primary_changes == 1);
  CHECK(snap->topology.timeline_changes == 1);
  CHECK(snap->servers[1].is_primary);
  CHECK_FALSE(snap->servers[0].is_primary);
  CHECK_FALSE(snap->servers[1].routing.in_rotation);
  CHECK(snap->servers[1].routing.reason == "primary");
  CHECK_FALSE(snap->topology.stale_reads);

  // replica2 follows it, paused at 1000; the new primary writes.
  c.RecordPoll(2, p.Replica(1000));
  CHECK(View(c, 2).lag_seconds == 0.0);  // 1100 first seen just now
  p.clock.Advance(seconds(3));
  c.RecordPoll(1, p.Primary(1200, {"replica2", "replica3"}, 2));
  p.clock.Advance(seconds(4));
  c.RecordPoll(1, p.Primary(1300, {"replica2", "replica3"}, 2));
  c.RecordPoll(2, p.Replica(1000));
  CHECK(View(c, 2).lag_seconds == 7.0);
  CHECK_FALSE(View(c, 2).lag_lower_bound);
  CHECK(View(c, 2).upstream == 1);
  CHECK(View(c, 2).lag_bytes == 300u);
  c.RecordPoll(3, p.Replica(1300));
  CHECK(View(c, 3).lag_seconds == 0.0);
  c.HealthCheck();
  snap = c.Get();
  CHECK_FALSE(snap->servers[2].routing.in_rotation);
  CHECK(snap->servers[2].routing.reason == "lag 7s over 5s");
  CHECK(snap->servers[3].routing.in_rotation);
  // Reads fall back to the new primary, writes go there.
  CHECK(c.model().RouteWrite().server == 1);
}

TEST_CASE("promotion rebases the history on the new primary's replay",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(1000));
  c.RecordPoll(1, p.Replica(1000));
  p.clock.Advance(seconds(1));
  // The old primary wrote past what replica1 (to be promoted) received.
  c.RecordPoll(0, p.Primary(2000));
  c.RecordPoll(0, p.Failed());
  p.clock.Advance(seconds(10));
  c.RecordPoll(1, p.Primary(1500, {}, 2));  // forked at ~1000
  c.RecordPoll(2, p.Replica(1200));
  // 1200 was passed on the new timeline when 1500 was first seen (now),
  // not when the old primary passed 2000 ten seconds ago.
  CHECK(View(c, 2).lag_seconds == 0.0);
}

TEST_CASE("split brain: lag only where it is not a guess", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(1000, {"replica2"}));
  c.RecordPoll(1, p.Primary(1000, {}, 2));  // promoted; the primary runs on
  c.RecordPoll(2, p.Replica(1000));
  PollOutcome lost = p.Replica(1000, false);  // follows nobody we can tell
  c.RecordPoll(3, lost);
  auto snap = c.Get();
  CHECK(snap->topology.state == TopologyState::kSplitBrain);
  CHECK(snap->topology.claimants == std::vector<int>{0, 1});
  CHECK(snap->topology.primary == 0);          // the adopted one stays
  CHECK(snap->servers[2].lag_seconds == 0.0);  // verifiably follows primary
  CHECK_FALSE(snap->servers[3].lag_seconds.has_value());
  CHECK_THAT(snap->servers[3].lag_unknown_reason,
             Catch::StartsWith("split brain"));
  CHECK(snap->servers[1].health.code == HealthCode::kNotInRecovery);
  CHECK(snap->servers[1].claims_primary);
  CHECK_FALSE(snap->servers[1].is_primary);
}

TEST_CASE("a replica down at start and back far behind reads its full lag",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(3, p.Failed());  // down when the agent starts
  for (int t = 0; t <= 20; ++t) {
    c.RecordPoll(0, p.Primary(1000 + 100 * t));
    c.RecordPoll(1, p.Replica(1000 + 100 * t));
    c.RecordPoll(2, p.Replica(1000 + 100 * t));
    p.clock.Advance(seconds(1));
  }
  // Back at the position it stopped at before the agent started.
  c.RecordPoll(3, p.Replica(500, false));
  const ServerView& v = View(c, 3);
  REQUIRE(v.lag_seconds);
  CHECK(*v.lag_seconds >= 21.0);  // at least since the agent's first sight
  CHECK(v.lag_lower_bound);
  CHECK(v.health.code == HealthCode::kNotStreaming);
  // Back just behind the start position: exact, not a bound.
  c.RecordPoll(3, p.Replica(1050));
  CHECK(View(c, 3).lag_seconds == 20.0);  // 1100 was first seen at t=1s
  CHECK_FALSE(View(c, 3).lag_lower_bound);
}

TEST_CASE("the primary down at start: caught-up replicas serve reads",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Failed());
  for (int i = 1; i <= 3; ++i) c.RecordPoll(i, p.Replica(1000, false));
  CHECK(c.ReadyForFirstCheck());
  c.HealthCheck();
  auto snap = c.Get();
  CHECK(snap->topology.state == TopologyState::kNoPrimary);
  for (int i = 1; i <= 3; ++i) {
    INFO(i);
    CHECK(snap->servers[i].health.healthy);
    CHECK(snap->servers[i].routing.in_rotation);
    CHECK_FALSE(snap->servers[i].lag_seconds.has_value());
  }
  CHECK(snap->topology.stale_reads);
  CHECK_FALSE(snap->failover_active);
  // One that did not replay what it received stays out.
  c.RecordPoll(2, p.Replica(900, false, 1000));
  c.HealthCheck();
  CHECK_FALSE(c.Get()->servers[2].routing.in_rotation);
  CHECK(c.Get()->servers[2].health.code == HealthCode::kNotCaughtUp);
}

TEST_CASE("the primary up, a WAL receiver down: unhealthy as before",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(1000, {"replica1", "replica2"}));
  c.RecordPoll(3, p.Replica(1000, false));
  CHECK(View(c, 3).health.code == HealthCode::kNotStreaming);
}

TEST_CASE("history is never pruned past a server not polled yet", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  for (int t = 0; t < 10; ++t) {
    c.RecordPoll(0, p.Primary(1000 + 100 * t));
    c.RecordPoll(1, p.Replica(1000 + 100 * t));
    c.RecordPoll(2, p.Replica(1000 + 100 * t));
    p.clock.Advance(seconds(1));
  }
  // replica3 has never answered: everything is kept for it.
  c.RecordPoll(3, p.Replica(1000));
  CHECK(View(c, 3).lag_seconds == 9.0);
  // Then it catches up: history no one needs goes.
  c.RecordPoll(3, p.Replica(1900));
  auto saved = c.Save("boot");
  REQUIRE(saved);
  CHECK(saved->entries.size() == 1);
}

TEST_CASE("an idle primary stores nothing new", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(1000));
  const auto generation = c.save_generation();
  for (int t = 0; t < 100; ++t) {
    p.clock.Advance(seconds(1));
    c.RecordPoll(0, p.Primary(1000));
  }
  CHECK(c.save_generation() == generation);
  CHECK(c.Save("boot")->entries.size() == 1);
}

// A cluster that ran with replica2 paused since `paused_for` ago, saved.
LagState SavedWithPausedReplica(Polls& p, std::chrono::seconds paused_for) {
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(1000));
  c.RecordPoll(2, p.Replica(1000));
  p.clock.Advance(milliseconds(500));
  c.RecordPoll(0, p.Primary(1100));
  p.clock.Advance(paused_for - milliseconds(500));
  c.RecordPoll(0, p.Primary(1200));
  c.RecordPoll(2, p.Replica(1000));
  REQUIRE(View(c, 2).lag_seconds == Approx(paused_for.count() - 0.5));
  return *c.Save("boot-1");
}

TEST_CASE("a restored state keeps lag continuous across a restart",
          "[cluster]") {
  Polls p;
  LagState saved = SavedWithPausedReplica(p, seconds(14));
  const std::string text = EncodeLagState(saved);
  p.clock.Advance(seconds(3));  // the agent restarts

  std::string error;
  RestoreInput in;
  in.state = DecodeLagState(text, &error);
  REQUIRE(in.state);
  in.boot_id = "boot-1";
  ClusterState c(ThreeReplicas(), &p.clock, in);
  CHECK_THAT(c.Get()->state_file_status, Catch::StartsWith("pending"));
  // The paused replica is polled first, before the primary.
  c.RecordPoll(2, p.Replica(1000));
  CHECK_THAT(c.Get()->state_file_status, Catch::StartsWith("restored: "));
  REQUIRE(View(c, 2).lag_seconds);
  CHECK(*View(c, 2).lag_seconds == Approx(16.5));
  // No primary seen yet: the primary may have moved on since.
  CHECK(View(c, 2).lag_lower_bound);
  c.RecordPoll(0, p.Primary(1200));
  c.RecordPoll(2, p.Replica(1000));
  CHECK(*View(c, 2).lag_seconds == Approx(16.5));
  CHECK_FALSE(View(c, 2).lag_lower_bound);
}

TEST_CASE("after a reboot saved times are carried over on the wall clock",
          "[cluster]") {
  Polls p;
  LagState saved = SavedWithPausedReplica(p, seconds(14));
  p.clock.Advance(seconds(3));
  RestoreInput in;
  in.boot_id = "boot-2";
  // A new boot: the monotonic clock restarted from somewhere else.
  saved.saved_mono -= std::chrono::hours(100);
  for (WalEntry& e : saved.entries) e.at -= std::chrono::hours(100);
  in.state = saved;
  ClusterState c(ThreeReplicas(), &p.clock, in);
  c.RecordPoll(2, p.Replica(1000));
  REQUIRE(View(c, 2).lag_seconds);
  CHECK(*View(c, 2).lag_seconds == Approx(16.5));
}

TEST_CASE("a foreign, stale or other cluster's state is not trusted",
          "[cluster]") {
  Polls p;
  const LagState saved = SavedWithPausedReplica(p, seconds(14));
  struct Case {
    const char* name;
    LagState state;
    std::string status;
  };
  LagState foreign = saved;
  foreign.system_identifier = 42;
  LagState other = saved;
  other.cluster = "billing";
  LagState stale = saved;
  stale.saved_wall -= std::chrono::hours(25);
  LagState future = saved;
  future.saved_wall += std::chrono::hours(2);
  const std::vector<Case> cases = {
      {"foreign system", foreign,
       "ignored: saved for system identifier 42, the cluster reports " +
           std::to_string(kSystem)},
      {"another cluster", other, "ignored: saved for cluster \"billing\""},
      {"stale", stale,
       "ignored: saved 25h ago, older than the history's max_age 24h"},
      {"from the future", future, "ignored: saved in the future"},
  };
  for (const Case& k : cases) {
    SECTION(k.name) {
      RestoreInput in;
      in.state = k.state;
      in.boot_id = "boot-1";
      ClusterState c(ThreeReplicas(), &p.clock, in);
      c.RecordPoll(2, p.Replica(1000));
      CHECK(c.Get()->state_file_status == k.status);
      // The lag starts over: nothing past 1000 is known yet.
      c.RecordPoll(0, p.Primary(1200));
      c.RecordPoll(2, p.Replica(1000));
      CHECK(View(c, 2).lag_seconds == 0.0);
      CHECK(View(c, 2).lag_lower_bound);
    }
  }
}

TEST_CASE("servers that do not report a system identifier get no restore",
          "[cluster]") {
  Polls p;
  RestoreInput in;
  in.state = SavedWithPausedReplica(p, seconds(14));
  ClusterState c(ThreeReplicas(), &p.clock, in);
  PollOutcome o = p.Replica(1000);
  o.sample.system_identifier.reset();
  c.RecordPoll(2, o);
  CHECK_THAT(c.Get()->state_file_status,
             Catch::StartsWith("ignored: the servers do not report"));
  CHECK_FALSE(c.Save("x").has_value());
}

TEST_CASE("a restored primary that changed while away is counted",
          "[cluster]") {
  Polls p;
  LagState saved = SavedWithPausedReplica(p, seconds(14));
  RestoreInput in;
  in.state = saved;
  in.boot_id = "boot-1";
  ClusterState c(ThreeReplicas(), &p.clock, in);
  c.RecordPoll(0, p.Failed());
  c.RecordPoll(1, p.Primary(1300, {"replica2"}, 2));
  auto snap = c.Get();
  CHECK(snap->topology.primary == 1);
  CHECK(snap->topology.primary_changes == 1);
  CHECK(snap->topology.timeline_changes == 1);
}

TEST_CASE("snapshots are shared until something changes", "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(100));
  auto a = c.Get();
  auto b = c.Get();
  CHECK(a.get() == b.get());
  c.RecordPoll(1, p.Replica(100));
  CHECK(c.Get().get() != a.get());
}

TEST_CASE("a visit shows the state without copying it; changes are counted",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(100));
  c.RecordPoll(1, p.Replica(100));
  const auto got = c.Get();
  std::uint64_t seen = 0;
  int calls = 0;
  c.Visit([&](const Snapshot& s) {
    ++calls;
    seen = s.change;
    CHECK(&s != got.get());  // the state itself, not a published copy
    CHECK(s.servers.size() == got->servers.size());
    CHECK(s.servers[1].lag_seconds == got->servers[1].lag_seconds);
  });
  CHECK(calls == 1);
  CHECK(seen != 0);
  CHECK(seen == got->change);  // no change since Get()
  CHECK(c.Get() == got);       // and the visit made no copy to publish
  c.RecordPoll(2, p.Replica(100));
  const auto after = c.Get();
  CHECK(after->change > got->change);
  // Another state, or the same cluster's state rebuilt by a reload, never
  // repeats a change: a rendering of the old one is not taken for the new.
  ClusterState other(ThreeReplicas(), &p.clock);
  ClusterState reloaded(ThreeReplicas(), &p.clock, c);
  CHECK(other.Get()->change != after->change);
  CHECK(reloaded.Get()->change != after->change);
  CHECK(reloaded.Get()->change != other.Get()->change);
}

TEST_CASE("each server's lag of the last minutes is published as a trail",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  const Duration bucket = c.Get()->lag_trail_limits.bucket;
  CHECK(View(c, 1).lag_trail == nullptr);
  c.RecordPoll(0, p.Primary(100));
  c.RecordPoll(1, p.Replica(100));
  p.clock.Advance(bucket);
  c.RecordPoll(0, p.Primary(200));
  p.clock.Advance(bucket);
  c.RecordPoll(1, p.Replica(100));  // behind since the primary moved to 200
  p.clock.Advance(bucket);
  c.RecordPoll(1, p.Failed());
  const auto snap = c.Get();
  REQUIRE(snap->servers[1].lag_trail);
  const LagTrailPoints& trail = *snap->servers[1].lag_trail;
  REQUIRE(trail.size() == 4);
  CHECK(trail[0] == 0.0);
  CHECK_FALSE(trail[1].has_value());  // no poll of replica1 in that bucket
  CHECK(trail[2] == Approx(ToSeconds(bucket)));
  CHECK_FALSE(trail[3].has_value());  // down: no lag, never 0
  // The primary has no lag: its points carry none.
  REQUIRE(snap->servers[0].lag_trail);
  for (const auto& point : *snap->servers[0].lag_trail) CHECK_FALSE(point);
  // Shared, not copied, between snapshots while it does not change.
  c.RecordPoll(2, p.Replica(200));
  CHECK(c.Get()->servers[1].lag_trail.get() ==
        snap->servers[1].lag_trail.get());
}

TEST_CASE("routed reads: since start, and in the window of the last minute",
          "[cluster]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  CHECK(c.Get()->reads_window == std::chrono::minutes(1));
  // Synthetic rounds further apart than 10 s: six of them.
  RoutingConfig slow;
  slow.synthetic_check_interval = seconds(30);
  CHECK(ClusterState::ReadsWindow(slow) == std::chrono::minutes(3));

  // Every replica in rotation; a round of 3 reads every 10 s for a minute.
  const auto poll_all = [&](Lsn replica2_replay) {
    c.RecordPoll(0, p.Primary(100));
    c.RecordPoll(1, p.Replica(100));
    c.RecordPoll(2, p.Replica(replica2_replay));
    c.RecordPoll(3, p.Replica(100));
  };
  const auto rounds = [&](int n) {
    for (int i = 0; i < n; ++i) {
      p.clock.Advance(seconds(10));
      poll_all(100);
      c.HealthCheck();
      c.PlanSynthetic(3);
    }
  };
  poll_all(100);
  c.HealthCheck();
  rounds(6);
  auto snap = c.Get();
  for (int i = 1; i <= 3; ++i) {
    INFO(i);
    CHECK(snap->servers[i].routing.routed_reads == 6);
    CHECK(snap->servers[i].routing.recent_reads == 6);
  }
  CHECK(snap->servers[0].routing.recent_reads == 0);

  // replica2 down: out of rotation (fall 1). A minute later it has none of
  // the last minute's reads, and its count since start stands.
  c.RecordPoll(2, p.Failed());
  c.HealthCheck();
  for (int i = 0; i < 6; ++i) {
    p.clock.Advance(seconds(10));
    c.RecordPoll(0, p.Primary(100));
    c.RecordPoll(1, p.Replica(100));
    c.RecordPoll(3, p.Replica(100));
    c.HealthCheck();
    c.PlanSynthetic(3);
  }
  snap = c.Get();
  CHECK_FALSE(snap->servers[2].routing.in_rotation);
  CHECK(snap->servers[2].routing.routed_reads == 6);
  CHECK(snap->servers[2].routing.recent_reads == 0);
  CHECK(snap->servers[1].routing.recent_reads == 9);
  CHECK(snap->servers[3].routing.recent_reads == 9);

  // No read for a minute: the window empties as the clock moves (published
  // at the next poll).
  p.clock.Advance(seconds(60));
  c.RecordPoll(0, p.Primary(100));
  snap = c.Get();
  for (int i = 0; i <= 3; ++i) {
    INFO(i);
    CHECK(snap->servers[i].routing.recent_reads == 0);
  }
  CHECK(snap->servers[1].routing.routed_reads == 15);
}

TEST_CASE("pgbouncer outcomes are published apart from the servers'",
          "[cluster][pgbouncer]") {
  Polls p;
  Config config = ThreeReplicas();
  PgBouncerConfig b;
  b.connection.name = "bouncer1";
  b.connection.endpoint = "db1:6432";
  b.server = "replica2";
  config.pgbouncers.push_back(b);
  ClusterState c(config, &p.clock);
  REQUIRE(c.Get()->pgbouncers.size() == 1);
  CHECK(c.Get()->pgbouncers[0].server_index == 2);
  CHECK_FALSE(c.Get()->pgbouncers[0].polled);
  c.RecordPoll(0, p.Primary(1000));
  c.RecordPoll(2, p.Replica(1000));
  const auto before = c.Get();

  PgBouncerOutcome up;
  up.ok = true;
  up.duration = std::chrono::milliseconds(3);
  up.sample.version = "PgBouncer 1.18.0";
  c.RecordPgBouncer(0, up);
  auto snap = c.Get();
  CHECK(snap->pgbouncers[0].up);
  CHECK(snap->pgbouncers[0].polls_total == 1);
  CHECK(snap->pgbouncers[0].poll_duration_seconds == Approx(0.003));
  CHECK(snap->pgbouncers[0].sample->version == "PgBouncer 1.18.0");

  PgBouncerOutcome down;
  down.error = "connect: connection refused";
  c.RecordPgBouncer(0, down);
  c.RecordPgBouncer(7, down);  // no such pgbouncer: ignored
  snap = c.Get();
  CHECK_FALSE(snap->pgbouncers[0].up);
  CHECK(snap->pgbouncers[0].poll_errors_total == 1);
  CHECK_FALSE(snap->pgbouncers[0].sample.has_value());
  CHECK(snap->pgbouncers[0].last_error == "connect: connection refused");
  // The servers' views are untouched.
  for (int i = 0; i < 4; ++i) {
    CHECK(snap->servers[i].up == before->servers[i].up);
    CHECK(snap->servers[i].polls_total == before->servers[i].polls_total);
    CHECK(snap->servers[i].lag_seconds == before->servers[i].lag_seconds);
  }
}

}  // namespace
}  // namespace pgre

namespace pgre {
namespace {

TEST_CASE("heartbeat lag: the agent's now minus the newest heartbeat shown",
          "[cluster][heartbeat]") {
  Polls p;
  Config config = ThreeReplicas();
  config.heartbeat.enabled = true;
  ClusterState c(config, &p.clock);
  const double now = ToUnixSeconds(p.clock.WallNow());
  auto with_heartbeat = [&](PollOutcome o, std::optional<double> at) {
    o.sample.collector_success["heartbeat"] = true;
    o.sample.heartbeat_written_at = at;
    if (at) o.sample.heartbeat_seq = 7;
    return o;
  };
  c.RecordPoll(0, with_heartbeat(p.Primary(100), now));
  c.RecordPoll(1, with_heartbeat(p.Replica(100), now - 0.25));
  CHECK(View(c, 1).heartbeat_lag_seconds == Approx(0.25));
  CHECK(View(c, 1).heartbeat_seq == 7);
  CHECK_FALSE(View(c, 0).heartbeat_lag_seconds);  // the primary: none
  CHECK(View(c, 0).heartbeat_unknown_reason == "not in recovery");

  // It grows with the wall time while the replica shows the same one (a
  // replica paused, or the writes failing), independent of WAL positions.
  p.clock.Advance(seconds(12));
  c.RecordPoll(1, with_heartbeat(p.Replica(100), now - 0.25));
  CHECK(View(c, 1).heartbeat_lag_seconds == Approx(12.25));

  // Never negative; unknown with a reason when nothing is shown.
  c.RecordPoll(2, with_heartbeat(p.Replica(100), now + 60));
  CHECK(View(c, 2).heartbeat_lag_seconds == 0.0);
  c.RecordPoll(3, with_heartbeat(p.Replica(100), std::nullopt));
  CHECK_FALSE(View(c, 3).heartbeat_lag_seconds);
  CHECK(View(c, 3).heartbeat_unknown_reason == "no heartbeat visible yet");
  PollOutcome unreadable = with_heartbeat(p.Replica(100), now);
  unreadable.sample.collector_success["heartbeat"] = false;
  c.RecordPoll(3, unreadable);
  CHECK(View(c, 3).heartbeat_unknown_reason ==
        "the heartbeat table cannot be read");
  CHECK(View(c, 3).lag_seconds);  // the WAL-position lag is unaffected
  c.RecordPoll(1, p.Failed());
  CHECK_FALSE(View(c, 1).heartbeat_lag_seconds);
  CHECK(View(c, 1).heartbeat_unknown_reason == "down");
}

TEST_CASE("heartbeat writes are counted and their errors kept",
          "[cluster][heartbeat]") {
  Polls p;
  Config config = ThreeReplicas();
  config.heartbeat.enabled = true;
  ClusterState c(config, &p.clock);
  CHECK(c.Get()->heartbeat.enabled);
  CHECK(c.Get()->heartbeat.writes_total == 0);
  c.RecordHeartbeatWrite(0, true, "", 5, p.clock.WallNow());
  c.RecordHeartbeatWrite(0, false, "permission denied for table hb", {},
                         p.clock.WallNow());
  const HeartbeatView h = c.Get()->heartbeat;
  CHECK(h.writes_total == 2);
  CHECK(h.write_errors_total == 1);
  CHECK_FALSE(h.last_write_ok);
  CHECK(h.last_error == "permission denied for table hb");
  CHECK(h.last_seq == 5);
  CHECK(h.last_target == 0);
}

// --- the members change (discovery) ------------------------------------------

TEST_CASE(
    "members change: each server keeps its state by name, new ones "
    "start unchecked, gone ones go",
    "[cluster][discovery]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  c.RecordPoll(0, p.Primary(100));
  for (int i = 1; i <= 3; ++i) c.RecordPoll(i, p.Replica(100));
  c.HealthCheck();
  p.clock.Advance(seconds(1));
  c.RecordPoll(0, p.Primary(200));
  c.RecordPoll(2, p.Replica(200));
  // replica3 stops replaying: 10 s behind, out of rotation (fall 1).
  p.clock.Advance(seconds(10));
  c.RecordPoll(0, p.Primary(300));
  c.RecordPoll(3, p.Replica(100));
  c.HealthCheck();
  REQUIRE_FALSE(View(c, 3).routing.in_rotation);
  REQUIRE(View(c, 2).routing.in_rotation);
  const auto before = c.Get();

  // replica1 left the manager's list, replica4 joined; the order changed.
  Config next = ThreeReplicas();
  next.replicas.erase(next.replicas.begin());
  ServerConfig r4 = next.replicas.back();
  r4.name = r4.application_name = "replica4";
  r4.host = "db4";
  next.replicas.push_back(r4);
  std::swap(next.replicas[0], next.replicas[1]);  // replica3, replica2, r4
  ClusterState d(next, &p.clock, c);
  const auto after = d.Get();
  REQUIRE(after->servers.size() == 4);
  CHECK(after->servers[0].name == "primary");
  CHECK(after->servers[1].name == "replica3");
  CHECK(after->servers[2].name == "replica2");
  CHECK(after->servers[3].name == "replica4");
  // Kept: rotation, the reason, counters, lag, the polls and the topology.
  CHECK_FALSE(after->servers[1].routing.in_rotation);
  CHECK(after->servers[1].routing.reason == before->servers[3].routing.reason);
  CHECK(after->servers[1].lag_seconds == before->servers[3].lag_seconds);
  CHECK(after->servers[2].routing.in_rotation);
  CHECK(after->servers[2].polls_total == before->servers[2].polls_total);
  CHECK(after->servers[2].routing.rotation_changes ==
        before->servers[2].routing.rotation_changes);
  CHECK(after->servers[0].is_primary);
  CHECK(after->topology.primary == 0);
  CHECK(after->topology.primary_observed);
  CHECK(after->topology.state == TopologyState::kSinglePrimary);
  CHECK(after->routing_active);
  // New: unpolled, out of rotation until its first check decides.
  CHECK_FALSE(after->servers[3].polled);
  CHECK_FALSE(after->servers[3].routing.in_rotation);
  CHECK(after->servers[3].routing.reason == "not checked yet");

  // The lagging replica is not re-admitted: it must recover first (rise 1:
  // one healthy check), while the new one's first check admits it at once.
  d.RecordPoll(3, p.Replica(300));
  d.HealthCheck();
  CHECK_FALSE(View(d, 1).routing.in_rotation);
  CHECK(View(d, 3).routing.in_rotation);
  CHECK(View(d, 3).routing.reason == "ok");
  // And its lag is measured against the history carried over.
  d.RecordPoll(1, p.Replica(300));
  CHECK(View(d, 1).lag_seconds == 0.0);
  d.HealthCheck();
  CHECK(View(d, 1).routing.in_rotation);
}

TEST_CASE("members change: the adopted primary is kept by name",
          "[cluster][discovery]") {
  Polls p;
  ClusterState c(ThreeReplicas(), &p.clock);
  // replica2 was promoted: adopted, a primary change counted.
  c.RecordPoll(0, p.Primary(100));
  c.RecordPoll(0, p.Replica(100));
  c.RecordPoll(2, p.Primary(150, {"replica1", "replica3"}, 2));
  REQUIRE(View(c, 2).is_primary);
  REQUIRE(c.Get()->topology.primary_changes == 1);
  Config next = ThreeReplicas();
  next.replicas.erase(next.replicas.begin());  // replica1 gone
  ClusterState d(next, &p.clock, c);
  const auto s = d.Get();
  CHECK(s->servers[1].name == "replica2");
  CHECK(s->servers[1].is_primary);
  CHECK(s->topology.primary == 1);
  CHECK(s->topology.primary_changes == 1);
  CHECK(s->topology.timeline == 2);
  CHECK_FALSE(s->servers[0].is_primary);
}

TEST_CASE("the manager's view: members and leader of the last success",
          "[cluster][discovery]") {
  Polls p;
  Config config = ThreeReplicas();
  config.discovery.patroni.urls = {"http://p:8008"};
  ClusterState c(config, &p.clock);
  CHECK(c.Get()->manager.enabled);
  CHECK_FALSE(c.Get()->manager.ok);
  PatroniMember leader;
  leader.name = "primary";
  leader.role = "leader";
  c.RecordManager(true, "", "http://p:8008", {leader}, p.clock.WallNow());
  CHECK(c.Get()->manager.ok);
  CHECK(c.Get()->manager.leader == "primary");
  c.RecordManager(false, "connection refused", "", {}, p.clock.WallNow());
  CHECK_FALSE(c.Get()->manager.ok);
  CHECK(c.Get()->manager.last_error == "connection refused");
  CHECK(c.Get()->manager.leader == "primary");  // the last answer stays
  CHECK(c.Get()->manager.members.size() == 1);
}

}  // namespace
}  // namespace pgre
