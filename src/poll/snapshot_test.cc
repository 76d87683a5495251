#include "poll/snapshot.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

using std::chrono::seconds;

Config TwoReplicas() {
  Config c;
  c.cluster = "main";
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  for (const char* name : {"replica1", "replica2"}) {
    ServerConfig r;
    r.name = name;
    r.application_name = name;
    r.role = Role::kReplica;
    c.replicas.push_back(r);
  }
  return c;
}

PollOutcome PrimaryAt(const FakeClock& clock, Lsn lsn) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.sample.in_recovery = false;
  o.sample.current_lsn = lsn;
  o.sample.collector_success["server"] = true;
  o.sample.collector_success["stat_replication"] = true;
  StandbyRow row;
  row.application_name = "replica1";
  o.sample.standbys.push_back(row);
  return o;
}

PollOutcome ReplicaAt(const FakeClock& clock, Lsn replay) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.sample.in_recovery = true;
  o.sample.replay_lsn = replay;
  o.sample.collector_success["server"] = true;
  return o;
}

PollOutcome Failed(const FakeClock& clock) {
  PollOutcome o;
  o.ok = false;
  o.error = "connect: refused";
  o.at = clock.Now();
  return o;
}

TEST_CASE("replica lag follows the primary's observed WAL", "[snapshot]") {
  FakeClock clock;
  SnapshotStore store(TwoReplicas(), &clock);
  store.RecordPoll(SnapshotStore::kPrimary, PrimaryAt(clock, 1000));
  store.RecordPoll(0, ReplicaAt(clock, 1000));
  store.RecordPoll(1, ReplicaAt(clock, 1000));
  for (int i = 0; i < 3; ++i) {
    clock.Advance(seconds(1));
    store.RecordPoll(SnapshotStore::kPrimary,
                     PrimaryAt(clock, 2000 + 1000 * i));
    store.RecordPoll(0, ReplicaAt(clock, 2000 + 1000 * i));  // keeps up
    store.RecordPoll(1, ReplicaAt(clock, 1000));             // paused
  }
  auto snap = store.Get();
  CHECK(snap->replicas[0].lag_seconds == 0.0);
  CHECK(snap->replicas[0].lag_bytes == 0u);
  CHECK(snap->replicas[1].lag_seconds == 2.0);
  CHECK(snap->replicas[1].lag_bytes == 3000u);
  CHECK(snap->replicas[0].up);
}

TEST_CASE("a replica that cannot be polled has no lag, never 0", "[snapshot]") {
  FakeClock clock;
  SnapshotStore store(TwoReplicas(), &clock);
  store.RecordPoll(SnapshotStore::kPrimary, PrimaryAt(clock, 1000));
  store.RecordPoll(0, ReplicaAt(clock, 1000));
  REQUIRE(store.Get()->replicas[0].lag_seconds.has_value());
  store.RecordPoll(0, Failed(clock));
  auto snap = store.Get();
  CHECK_FALSE(snap->replicas[0].up);
  CHECK_FALSE(snap->replicas[0].lag_seconds.has_value());
  CHECK_FALSE(snap->replicas[0].lag_bytes.has_value());
  CHECK_FALSE(snap->replicas[0].sample.has_value());
  CHECK(snap->replicas[0].poll_errors_total == 1);
  CHECK(snap->replicas[0].last_error == "connect: refused");
}

TEST_CASE("a promoted replica has no lag figure", "[snapshot]") {
  FakeClock clock;
  SnapshotStore store(TwoReplicas(), &clock);
  store.RecordPoll(SnapshotStore::kPrimary, PrimaryAt(clock, 1000));
  PollOutcome promoted = PrimaryAt(clock, 1500);
  store.RecordPoll(0, promoted);
  auto snap = store.Get();
  CHECK(snap->replicas[0].up);
  CHECK_FALSE(snap->replicas[0].lag_seconds.has_value());
}

TEST_CASE("standby_connected comes from the primary's pg_stat_replication",
          "[snapshot]") {
  FakeClock clock;
  SnapshotStore store(TwoReplicas(), &clock);
  CHECK_FALSE(store.Get()->replicas[0].standby_connected.has_value());
  store.RecordPoll(SnapshotStore::kPrimary, PrimaryAt(clock, 1000));
  auto snap = store.Get();
  CHECK(snap->replicas[0].standby_connected == true);
  CHECK(snap->replicas[1].standby_connected == false);
  store.RecordPoll(SnapshotStore::kPrimary, Failed(clock));
  CHECK_FALSE(store.Get()->replicas[0].standby_connected.has_value());
}

TEST_CASE("routing state is published beside poll data", "[snapshot]") {
  FakeClock clock;
  SnapshotStore store(TwoReplicas(), &clock);
  CHECK_FALSE(store.Get()->routing_active);
  RoutingView in;
  in.in_rotation = true;
  in.routed_reads = 5;
  RoutingView out;
  out.reason = "down";
  RoutingView primary;
  primary.routed_reads = 2;
  primary.synthetic_ok = true;
  store.RecordRouting({in, out}, primary, false);
  auto snap = store.Get();
  CHECK(snap->routing_active);
  CHECK(snap->replicas[0].routing.in_rotation);
  CHECK(snap->replicas[0].routing.routed_reads == 5);
  CHECK(snap->replicas[1].routing.reason == "down");
  CHECK(snap->primary.routing.routed_reads == 2);
  CHECK(snap->primary.routing.synthetic_ok == true);
}

}  // namespace
}  // namespace pgre
