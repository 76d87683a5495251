#include "cluster/lb_check.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "cluster/test_views.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;

ServerView Replica(const std::string& name) {
  ServerView v = testing::StreamingReplica(name);
  v.routing.in_rotation = true;
  v.routing.reason = "ok";
  return v;
}

ServerView Primary() {
  ServerView v = testing::ObservedPrimary();
  v.routing.reason = "primary";
  return v;
}

// A checked cluster: the primary and two replicas in rotation.
Snapshot Checked() {
  Snapshot s;
  s.cluster = "main";
  s.servers = {Primary(), Replica("replica1"), Replica("replica2")};
  s.topology.state = TopologyState::kSinglePrimary;
  s.topology.claimants = {0};
  s.topology.primary_last_lsn = 1000;
  s.routing_config.max_lag = milliseconds(5000);
  s.routing_active = true;
  return s;
}

void Out(Snapshot* s, int i, const std::string& reason) {
  s->servers[i].routing.in_rotation = false;
  s->servers[i].routing.reason = reason;
}

// Both replicas out: reads fail over to the primary.
Snapshot FailingOver() {
  Snapshot s = Checked();
  Out(&s, 1, "down");
  s.servers[1].up = false;
  s.servers[1].sample.reset();
  Out(&s, 2, "lag 7.2s over 5s");
  s.servers[2].lag_seconds = 7.2;
  s.failover_active = true;
  return s;
}

Snapshot SplitBrain() {
  Snapshot s = Checked();
  s.topology.state = TopologyState::kSplitBrain;
  s.topology.claimants = {0, 2};
  s.servers[2].sample->in_recovery = false;
  s.servers[2].claims_primary = true;
  s.servers[1].lag_seconds.reset();
  Out(&s, 1, "split brain: 2 servers claim primary");
  Out(&s, 2, "not in recovery");
  s.failover_active = true;
  return s;
}

Snapshot NoPrimary() {
  Snapshot s = Checked();
  s.topology.state = TopologyState::kNoPrimary;
  s.topology.claimants = {};
  s.servers[0].up = false;
  s.servers[0].sample.reset();
  s.servers[0].claims_primary = false;
  return s;
}

Snapshot Unchecked() {
  Snapshot s = Checked();
  s.routing_active = false;
  for (ServerView& v : s.servers) {
    v.routing.in_rotation = false;
    v.routing.reason = "not checked yet";
  }
  return s;
}

Snapshot PrimaryOnly() {
  Snapshot s = Checked();
  s.servers.resize(1);
  return s;
}

// The replica with a lag of `lag` seconds, and out of rotation (the
// hysteresis has not let it back yet) when `in_rotation` is false.
Snapshot Lagging(double lag, bool in_rotation, bool lower_bound = false) {
  Snapshot s = Checked();
  s.servers[1].lag_seconds = lag;
  s.servers[1].lag_lower_bound = lower_bound;
  s.servers[1].lag_bytes = 1ull << 40;  // over any byte limit
  s.routing_config.max_lag_bytes = 1024;
  if (!in_rotation) Out(&s, 1, "lag 7.2s over 5s");
  return s;
}

Snapshot NotStreaming() {
  Snapshot s = Checked();
  s.servers[1].streaming = false;
  return s;
}

struct Row {
  const char* name;
  Snapshot snap;
  int server;
  LbQuery query;
  bool pass;
  std::string reason;
};

LbQuery Q(LbCheck check) { return {check, std::nullopt}; }
LbQuery Lag(long long ms) { return {LbCheck::kReplica, milliseconds(ms)}; }

TEST_CASE("lb checks: one answer per situation", "[lb]") {
  using enum LbCheck;
  const std::vector<Row> rows = {
      // read-only: the routing model's read targets, exactly.
      {"replica in rotation", Checked(), 1, Q(kReadOnly), true, "ok"},
      {"primary while replicas serve", Checked(), 0, Q(kReadOnly), false,
       "primary"},
      {"replica out of rotation", FailingOver(), 2, Q(kReadOnly), false,
       "lag 7.2s over 5s"},
      {"down replica", FailingOver(), 1, Q(kReadOnly), false, "down"},
      {"primary during read failover", FailingOver(), 0, Q(kReadOnly), true,
       "reads fail over to the primary"},
      {"primary of a cluster without replicas", PrimaryOnly(), 0, Q(kReadOnly),
       true, "no read replicas"},
      {"adopted primary during a split brain (the model's fallback)",
       SplitBrain(), 0, Q(kReadOnly), true, "reads fail over to the primary"},
      {"the other claimant", SplitBrain(), 2, Q(kReadOnly), false,
       "not in recovery"},
      {"before the first health check", Unchecked(), 1, Q(kReadOnly), false,
       "first health check not done yet"},
      // replica: the rotation without the primary's fallback.
      {"replica: in rotation", Checked(), 2, Q(kReplica), true, "ok"},
      {"replica: the primary, failing over", FailingOver(), 0, Q(kReplica),
       false, "primary"},
      {"replica: out of rotation", FailingOver(), 2, Q(kReplica), false,
       "lag 7.2s over 5s"},
      {"replica: not checked yet", Unchecked(), 2, Q(kReplica), false,
       "first health check not done yet"},
      // replica?lag=: the predicate with another bound, no hysteresis.
      {"lag within the bound, out of rotation", Lagging(0.8, false), 1,
       Lag(1000), true, "ok"},
      {"lag over the bound, in rotation", Lagging(2.5, true), 1, Lag(1000),
       false, "lag 2.5s over 1s"},
      {"lag only a lower bound, within", Lagging(0.5, true, true), 1, Lag(1000),
       false, "lag not bounded yet (at least 0.5s)"},
      {"lag only a lower bound, over", Lagging(3, true, true), 1, Lag(1000),
       false, "lag at least 3s over 1s"},
      {"not streaming", NotStreaming(), 1, Lag(60000), false,
       "wal receiver not streaming"},
      {"lag bound on the primary", Checked(), 0, Lag(60000), false, "primary"},
      {"lag bound on a down replica", FailingOver(), 1, Lag(60000), false,
       "down"},
      // primary: only the one observed primary.
      {"primary: the primary", Checked(), 0, Q(kPrimary), true, "primary"},
      {"primary: a replica", Checked(), 1, Q(kPrimary), false, "replica"},
      {"primary: split brain, adopted", SplitBrain(), 0, Q(kPrimary), false,
       "split brain: 2 servers claim primary"},
      {"primary: split brain, the other", SplitBrain(), 2, Q(kPrimary), false,
       "split brain: 2 servers claim primary"},
      {"primary: none", NoPrimary(), 0, Q(kPrimary), false, "no primary"},
      {"primary: none, a replica", NoPrimary(), 1, Q(kPrimary), false,
       "no primary"},
      // health: reached or not.
      {"health: up", Checked(), 1, Q(kHealth), true, "ok"},
      {"health: down", FailingOver(), 1, Q(kHealth), false, "down"},
      {"health: primary down", NoPrimary(), 0, Q(kHealth), false, "down"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    const LbAnswer a = DecideLbCheck(row.snap, row.server, row.query);
    CHECK(a.pass == row.pass);
    CHECK(a.reason == row.reason);
  }
}

TEST_CASE("lb checks: a split brain leaves no server for writes", "[lb]") {
  const Snapshot s = SplitBrain();
  for (int i = 0; i < static_cast<int>(s.servers.size()); ++i) {
    CAPTURE(i);
    CHECK_FALSE(DecideLbCheck(s, i, Q(LbCheck::kPrimary)).pass);
  }
}

TEST_CASE("lb checks: read-only passes for exactly the model's targets",
          "[lb]") {
  // However the rotation stands, the servers passing read-only are the
  // servers in rotation, or the primary alone when none is.
  for (int mask = 0; mask < 4; ++mask) {
    Snapshot s = Checked();
    for (int r = 0; r < 2; ++r) {
      if ((mask >> r & 1) == 0) Out(&s, r + 1, "down");
    }
    s.failover_active = mask == 0;
    CAPTURE(mask);
    for (int i = 0; i < 3; ++i) {
      const bool expected =
          i == 0 ? mask == 0 : s.servers[i].routing.in_rotation;
      CHECK(DecideLbCheck(s, i, Q(LbCheck::kReadOnly)).pass == expected);
    }
  }
}

TEST_CASE("lb checks: names", "[lb]") {
  CHECK(ParseLbCheck("read-only") == LbCheck::kReadOnly);
  CHECK(ParseLbCheck("replica") == LbCheck::kReplica);
  CHECK(ParseLbCheck("primary") == LbCheck::kPrimary);
  CHECK(ParseLbCheck("read-write") == LbCheck::kPrimary);
  CHECK(ParseLbCheck("health") == LbCheck::kHealth);
  CHECK_FALSE(ParseLbCheck("Primary"));
  CHECK_FALSE(ParseLbCheck(""));
  CHECK_FALSE(ParseLbCheck("readonly"));
  for (LbCheck c : {LbCheck::kReadOnly, LbCheck::kReplica, LbCheck::kPrimary,
                    LbCheck::kHealth}) {
    CHECK(ParseLbCheck(LbCheckName(c)) == c);
  }
}

}  // namespace
}  // namespace pgre
