#include "probe/routing_loop.h"

#include <catch2/catch.hpp>

#include "pg/fake_session.h"
#include "probe/route_check.h"

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

struct Fixture {
  Fixture() : store(config, &clock) {
    for (const char* s : {"primary", "replica1", "replica2", "replica3"}) {
      sessions.Server(s)->Answer("SELECT 1", One());
    }
    store.RecordPoll(0, Healthy(clock, true));
    for (int i = 1; i <= 3; ++i) store.RecordPoll(i, Healthy(clock, false));
  }
  Config config = ThreeReplicas();
  FakeClock clock;
  FakeSessionFactory sessions;
  ClusterState store;
};

TEST_CASE("healthy replicas enter the rotation at the first check",
          "[routing_loop]") {
  Fixture f;
  RoutingLoop loop(f.config, &f.sessions, &f.store, &f.clock);
  loop.HealthCheck();
  auto snap = f.store.Get();
  REQUIRE(snap->routing_active);
  for (const auto& r : snap->replicas()) CHECK(r.routing.in_rotation);
  CHECK_FALSE(snap->failover_active);

  auto reads = loop.SyntheticRound(300);
  REQUIRE(reads.size() == 300);
  for (const auto& [target, result] : reads) {
    CHECK(target.kind == RouteTarget::kReplica);
    CHECK(result.ok);
  }
  snap = f.store.Get();
  for (const auto& r : snap->replicas()) {
    CHECK(r.routing.routed_reads == 100);
    CHECK(r.routing.synthetic_ok == true);
  }
  CHECK(snap->primary().routing.routed_reads == 0);
}

TEST_CASE("a failing probe takes a replica out after fall checks",
          "[routing_loop]") {
  Fixture f;
  RoutingLoop loop(f.config, &f.sessions, &f.store, &f.clock);
  loop.HealthCheck();
  QueryResult broken;
  broken.error = "relation does not exist";
  f.sessions.Server("replica2")->Answer("SELECT 1", broken);
  loop.SyntheticRound(3);
  CHECK(f.store.Get()->servers[2].routing.synthetic_ok == false);
  loop.HealthCheck();
  CHECK(f.store.Get()->servers[2].routing.in_rotation);  // fall = 2
  loop.HealthCheck();
  auto snap = f.store.Get();
  CHECK_FALSE(snap->servers[2].routing.in_rotation);
  CHECK(snap->servers[2].routing.reason == "synthetic check failed");
  CHECK(snap->servers[2].routing.rotation_changes == 2);  // in, out

  // Out of rotation it still gets probed, so it can come back.
  f.sessions.Server("replica2")->Answer("SELECT 1", One());
  auto reads = loop.SyntheticRound(4);
  for (const auto& [target, result] : reads) CHECK(target.server != 2);
  CHECK(f.store.Get()->servers[2].routing.synthetic_ok == true);
  loop.HealthCheck();
  loop.HealthCheck();
  CHECK(f.store.Get()->servers[2].routing.in_rotation);
}

TEST_CASE("all replicas down: reads fail over to the primary",
          "[routing_loop]") {
  Fixture f;
  PollOutcome down;
  down.error = "connect: refused";
  for (int i = 1; i <= 3; ++i) f.store.RecordPoll(i, down);
  RoutingLoop loop(f.config, &f.sessions, &f.store, &f.clock);
  loop.HealthCheck();
  auto reads = loop.SyntheticRound(5);
  for (const auto& [target, result] : reads) {
    CHECK(target.kind == RouteTarget::kPrimary);
    CHECK(result.ok);
  }
  auto snap = f.store.Get();
  CHECK(snap->failover_active);
  CHECK(snap->primary().routing.routed_reads == 5);
  CHECK(snap->primary().routing.synthetic_ok == true);
  for (const auto& r : snap->replicas()) {
    CHECK_FALSE(r.routing.in_rotation);
    CHECK(r.routing.reason == "down");
  }
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

}  // namespace
}  // namespace pgre
