#include "engine/cluster_driver.h"

#include <catch2/catch.hpp>

#include "collectors/heartbeat.h"
#include "engine/fake_async_session.h"
#include "engine/route_check.h"

namespace pgre {
namespace {

Config ThreeReplicas() {
  Config c;
  c.cluster = "test";
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  for (int i = 1; i <= 3; ++i) {
    ServerConfig r;
    r.name = "replica" + std::to_string(i);
    r.application_name = r.name;
    r.role = Role::kReplica;
    c.replicas.push_back(r);
  }
  c.routing.fall = 2;
  c.routing.rise = 2;
  return c;
}

QueryResult One() {
  QueryResult r;
  r.ok = true;
  r.columns = {"?column?"};
  r.rows = {{std::string("1")}};
  return r;
}

PollOutcome Healthy(const FakeClock& clock, bool primary) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.sample.collector_success["server"] = true;
  o.sample.collector_success["wal_receiver"] = true;
  o.sample.in_recovery = !primary;
  if (primary) {
    o.sample.current_lsn = 1000;
  } else {
    o.sample.replay_lsn = 1000;
    o.sample.wal_receiver = WalReceiverRow{};
    o.sample.wal_receiver->status = "streaming";
  }
  return o;
}

using Reads = std::vector<std::pair<RouteTarget, ProbeResult>>;

// A driver on a loop that is never started (the test runs it with
// RunPending); polls are recorded straight into the cluster state.
struct Fixture {
  Fixture()
      : cluster(std::make_shared<ClusterState>(config, &clock)),
        collectors(DefaultCollectors()),
        driver(config, cluster, &loop, &sessions, &collectors, &clock) {
    for (const char* s : {"primary", "replica1", "replica2", "replica3"}) {
      sessions.Server(s)->Answer("SELECT 1", One());
    }
    cluster->RecordPoll(0, Healthy(clock, true));
    for (int i = 1; i <= 3; ++i) cluster->RecordPoll(i, Healthy(clock, false));
  }
  Reads Round(int reads) {
    std::optional<Reads> out;
    driver.SyntheticRound(reads, [&](Reads r) { out = std::move(r); });
    loop.RunPending();
    REQUIRE(out.has_value());
    return *out;
  }

  Config config = ThreeReplicas();
  FakeClock clock;
  FakeAsyncSessionFactory sessions;
  EventLoop loop;
  std::shared_ptr<ClusterState> cluster;
  std::vector<std::unique_ptr<Collector>> collectors;
  ClusterDriver driver;
};

TEST_CASE("healthy replicas enter the rotation at the first check",
          "[cluster_driver]") {
  Fixture f;
  f.cluster->HealthCheck();
  auto snap = f.cluster->Get();
  REQUIRE(snap->routing_active);
  for (const auto& r : snap->replicas()) CHECK(r.routing.in_rotation);
  CHECK_FALSE(snap->failover_active);

  const Reads reads = f.Round(300);
  REQUIRE(reads.size() == 300);
  for (const auto& [target, result] : reads) {
    CHECK(target.kind == RouteTarget::kReplica);
    CHECK(result.ok);
  }
  snap = f.cluster->Get();
  for (const auto& r : snap->replicas()) {
    CHECK(r.routing.routed_reads == 100);
    CHECK(r.routing.synthetic_ok == true);
  }
  CHECK(snap->primary().routing.routed_reads == 0);
  // Each server's reads ran over its one connection.
  for (int i = 1; i <= 3; ++i) {
    CHECK(f.sessions.Server("replica" + std::to_string(i))->connects == 1);
  }
}

TEST_CASE("a failing probe takes a replica out after fall checks",
          "[cluster_driver]") {
  Fixture f;
  f.cluster->HealthCheck();
  QueryResult broken;
  broken.error = "relation does not exist";
  f.sessions.Server("replica2")->Answer("SELECT 1", broken);
  f.Round(3);
  CHECK(f.cluster->Get()->servers[2].routing.synthetic_ok == false);
  f.cluster->HealthCheck();
  CHECK(f.cluster->Get()->servers[2].routing.in_rotation);  // fall = 2
  f.cluster->HealthCheck();
  auto snap = f.cluster->Get();
  CHECK_FALSE(snap->servers[2].routing.in_rotation);
  CHECK(snap->servers[2].routing.reason == "synthetic check failed");
  CHECK(snap->servers[2].routing.rotation_changes == 2);  // in, out

  // Out of rotation it still gets probed, so it can come back.
  f.sessions.Server("replica2")->Answer("SELECT 1", One());
  const Reads reads = f.Round(4);
  for (const auto& [target, result] : reads) CHECK(target.server != 2);
  CHECK(f.cluster->Get()->servers[2].routing.synthetic_ok == true);
  f.cluster->HealthCheck();
  f.cluster->HealthCheck();
  CHECK(f.cluster->Get()->servers[2].routing.in_rotation);
}

TEST_CASE("all replicas down: reads fail over to the primary",
          "[cluster_driver]") {
  Fixture f;
  PollOutcome down;
  down.error = "connect: refused";
  for (int i = 1; i <= 3; ++i) f.cluster->RecordPoll(i, down);
  f.cluster->HealthCheck();
  const Reads reads = f.Round(5);
  for (const auto& [target, result] : reads) {
    CHECK(target.kind == RouteTarget::kPrimary);
    CHECK(result.ok);
  }
  auto snap = f.cluster->Get();
  CHECK(snap->failover_active);
  CHECK(snap->primary().routing.routed_reads == 5);
  CHECK(snap->primary().routing.synthetic_ok == true);
  for (const auto& r : snap->replicas()) {
    CHECK_FALSE(r.routing.in_rotation);
    CHECK(r.routing.reason == "down");
  }
}

TEST_CASE("a hung replica holds its own reads, not the others'",
          "[cluster_driver]") {
  Fixture f;
  f.cluster->HealthCheck();
  f.sessions.Server("replica3")->hang = true;
  int done = 0;
  f.driver.SyntheticRound(6, [&](Reads) { ++done; });
  f.loop.RunPending();
  // The round waits for replica3 (its deadline ends it in real life), but
  // the other replicas' reads ran and were counted at once.
  CHECK(done == 0);
  CHECK(f.sessions.Server("replica1")->batches == 2);
  CHECK(f.sessions.Server("replica2")->batches == 2);
  CHECK(f.sessions.Server("replica3")->batches == 0);
}

TEST_CASE("route-check report: shares, errors, starvation", "[route_check]") {
  Config config = ThreeReplicas();
  std::vector<ServerConfig> servers = {config.primary};
  servers.insert(servers.end(), config.replicas.begin(), config.replicas.end());
  RoutingModel model(config.routing, ServerSpecs(servers), 0);
  const HealthVerdict ok{true, HealthCode::kOk, "ok"};
  model.Check({{false, HealthCode::kPrimary, "primary"}, ok, ok, ok});
  std::vector<std::pair<RouteTarget, ProbeResult>> reads;
  for (int i = 0; i < 6; ++i) {
    ProbeResult r;
    r.ok = true;
    r.duration = std::chrono::milliseconds(i + 1);
    reads.push_back({model.RouteRead(), r});
  }
  RouteCheckReport report = BuildRouteCheckReport(model, reads);
  CHECK(report.ok());
  CHECK(report.total_reads == 6);
  for (int i = 1; i <= 3; ++i) {
    CHECK(report.rows[i].reads == 2);
    CHECK(report.rows[i].share == Approx(1.0 / 3));
  }
  CHECK(report.rows[0].reads == 0);
  const std::string text = FormatRouteCheckReport(report);
  CHECK(text.find("route-check: OK") != std::string::npos);

  // A failed read fails the check.
  reads[0].second.ok = false;
  reads[0].second.error = "timeout";
  report = BuildRouteCheckReport(model, reads);
  CHECK_FALSE(report.ok());
  CHECK(report.failed_reads == 1);
  CHECK(FormatRouteCheckReport(report).find("timeout") != std::string::npos);

  // A replica in rotation with no read fails the check.
  reads.erase(std::remove_if(reads.begin(), reads.end(),
                             [](const auto& r) { return r.first.server == 3; }),
              reads.end());
  reads[0].second.ok = true;
  report = BuildRouteCheckReport(model, reads);
  REQUIRE(report.starved.size() == 1);
  CHECK(report.starved[0] == "replica3");
  CHECK_FALSE(report.ok());
}

TEST_CASE("the change hook runs on the poll slots' grid, once an interval",
          "[cluster_driver]") {
  using std::chrono::milliseconds;
  const MonoTime origin = MonoTime{} + std::chrono::seconds(100);
  const auto at = [&](int ms) { return origin + milliseconds(ms); };
  struct Row {
    int now, last_call, interval, expected;  // ms from origin
  };
  for (const Row& r : std::vector<Row>{
           // A quarter interval after the change, rounded up to a slot.
           {0, -100000, 1000, 260},
           {3, -100000, 1000, 260},
           {517, -100000, 1000, 780},
           {10, -100000, 1000, 260},
           // Not within an interval of the last call (itself on the grid).
           {1100, 1000, 1000, 2000},
           {1990, 1000, 1000, 2240},
           // 10 s polls: slots of 200 ms.
           {1, -100000, 10000, 2600},
           // Shorter than kPollSlots ms: no grid.
           {7, -100000, 40, 17},
       }) {
    CAPTURE(r.now, r.last_call, r.interval);
    CHECK(ChangeCallAt(at(r.now), at(r.last_call), origin,
                       milliseconds(r.interval)) == at(r.expected));
  }
}

}  // namespace
}  // namespace pgre

namespace pgre {
namespace {

QueryResult Ok() {
  QueryResult r;
  r.ok = true;
  return r;
}
QueryResult Seq(int seq) {
  QueryResult r;
  r.ok = true;
  r.columns = {"seq"};
  r.rows = {{std::to_string(seq)}};
  return r;
}
QueryResult Error(const std::string& e) {
  QueryResult r;
  r.error = e;
  return r;
}

struct HeartbeatFixture {
  HeartbeatFixture()
      : config(WithHeartbeat()),
        cluster(std::make_shared<ClusterState>(config, &clock)),
        collectors(DefaultCollectors()),
        driver(config, cluster, &loop, &sessions, &collectors, &clock) {
    primary = sessions.Server("primary");
    primary->Answer("SET synchronous_commit TO local", Ok());
    cluster->RecordPoll(0, Healthy(clock, true));
    for (int i = 1; i <= 3; ++i) cluster->RecordPoll(i, Healthy(clock, false));
  }
  static Config WithHeartbeat() {
    Config c = ThreeReplicas();
    c.heartbeat.enabled = true;
    c.heartbeat.table = "hb";
    return c;
  }
  HeartbeatView Write() {
    driver.HeartbeatNow();
    loop.RunPending();
    return cluster->Get()->heartbeat;
  }

  Config config;
  FakeClock clock;
  FakeAsyncSessionFactory sessions;
  EventLoop loop;
  std::shared_ptr<ClusterState> cluster;
  std::vector<std::unique_ptr<Collector>> collectors;
  ClusterDriver driver;
  std::shared_ptr<FakeAsyncServer> primary;
};

TEST_CASE("the heartbeat is written on the observed primary, unprepared",
          "[cluster_driver][heartbeat]") {
  HeartbeatFixture f;
  f.primary->AnswerPrefix("INSERT INTO \"hb\"", Seq(3));
  const HeartbeatView h = f.Write();
  CHECK(h.writes_total == 1);
  CHECK(h.last_write_ok);
  CHECK(h.last_seq == 3);
  CHECK(h.last_target == 0);
  REQUIRE(f.primary->batch_log.size() == 1);
  CHECK(f.primary->unprepared_batches == 1);
  const auto& batch = f.primary->batch_log[0];
  REQUIRE(batch.size() == 2);
  CHECK(batch[0] == "SET synchronous_commit TO local");
  CHECK(batch[1] == HeartbeatWriteSql("hb", f.clock.WallNow()));
  // No replica is written to.
  CHECK(f.sessions.Server("replica1")->batch_log.empty());
}

TEST_CASE("a missing heartbeat table is created once, then written",
          "[cluster_driver][heartbeat]") {
  HeartbeatFixture f;
  f.primary->AnswerPrefix(
      "INSERT INTO \"hb\"",
      Error("relation \"hb\" does not exist (SQLSTATE 42P01)"));
  f.primary->Answer(HeartbeatCreateSql("hb"),
                    Error("permission denied for schema public (SQLSTATE "
                          "42501)"));
  HeartbeatView h = f.Write();
  REQUIRE(f.primary->batch_log.size() == 2);
  CHECK(f.primary->batch_log[1][1] == HeartbeatCreateSql("hb"));
  CHECK(h.writes_total == 1);
  CHECK(h.write_errors_total == 1);
  CHECK(h.last_error ==
        "the table hb is missing and cannot be created: permission denied "
        "for schema public (SQLSTATE 42501)");
  // With the right to create it.
  f.primary->Answer(HeartbeatCreateSql("hb"), Ok());
  f.primary->prefix_answers.clear();
  f.primary->AnswerPrefix("INSERT INTO \"hb\"", Seq(1));
  // The fake answers the lone write with 42P01 no more: it exists now.
  h = f.Write();
  CHECK(h.last_write_ok);
  CHECK(h.last_seq == 1);
}

TEST_CASE("no heartbeat is written while no primary is up",
          "[cluster_driver][heartbeat]") {
  HeartbeatFixture f;
  PollOutcome down;
  down.error = "connect: connection refused";
  down.at = f.clock.Now();
  down.wall_at = f.clock.WallNow();
  f.cluster->RecordPoll(0, down);
  const HeartbeatView h = f.Write();
  CHECK(h.writes_total == 0);
  CHECK(f.primary->batch_log.empty());
}

TEST_CASE("polls start on the interval's slots", "[cluster_driver]") {
  using std::chrono::milliseconds;
  struct Row {
    milliseconds offset, interval, slot;
  };
  for (const Row& r : std::vector<Row>{
           {milliseconds(0), milliseconds(1000), milliseconds(0)},
           {milliseconds(1), milliseconds(1000), milliseconds(20)},
           {milliseconds(20), milliseconds(1000), milliseconds(20)},
           {milliseconds(21), milliseconds(1000), milliseconds(40)},
           {milliseconds(62), milliseconds(1000), milliseconds(80)},
           {milliseconds(499), milliseconds(1000), milliseconds(500)},
           {milliseconds(7), milliseconds(10000), milliseconds(200)},
           // Shorter than kPollSlots ms: no grid.
           {milliseconds(7), milliseconds(40), milliseconds(7)},
       }) {
    CAPTURE(r.offset.count(), r.interval.count());
    CHECK(PollSlot(r.offset, r.interval) == r.slot);
  }
}

}  // namespace
}  // namespace pgre
