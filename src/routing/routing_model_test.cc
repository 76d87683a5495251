#include "routing/routing_model.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

HealthVerdict Healthy() { return {true, HealthCode::kOk, "ok"}; }

HealthVerdict Down() { return {false, HealthCode::kDown, "down"}; }

// Unhealthy on lag; `seconds` as the reason shows it.
HealthVerdict Lagging(const std::string& seconds) {
  return {false, HealthCode::kLagHigh, "lag " + seconds + "s over 5s"};
}

std::vector<ServerSpec> Specs(const std::vector<int>& weights) {
  std::vector<ServerSpec> specs;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    specs.push_back({"r" + std::to_string(i + 1), weights[i]});
  }
  return specs;
}

std::vector<ServerSpec> EqualSpecs(int n) {
  return Specs(std::vector<int>(n, 1));
}

std::vector<HealthVerdict> All(int n, const HealthVerdict& o) {
  return std::vector<HealthVerdict>(n, o);
}

// Routes `n` reads and returns the replica index of each (-1 for the
// primary, -2 for no target).
std::vector<int> Reads(RoutingModel& model, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    RouteTarget t = model.RouteRead();
    out.push_back(t.kind == RouteTarget::kReplica   ? t.server
                  : t.kind == RouteTarget::kPrimary ? -1
                                                    : -2);
  }
  return out;
}

std::vector<int> Counts(const std::vector<int>& reads, int replicas) {
  std::vector<int> counts(replicas, 0);
  for (int r : reads) {
    if (r >= 0) ++counts[r];
  }
  return counts;
}

TEST_CASE("before any check every replica is out and reads fail over",
          "[routing]") {
  RoutingModel model(RoutingConfig{}, EqualSpecs(3));
  REQUIRE(model.server_count() == 3);
  CHECK(model.in_rotation_count() == 0);
  CHECK(model.failover_active());
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(model.server(i).checked);
    CHECK_FALSE(model.server(i).in_rotation);
    CHECK(model.server(i).reason == "not checked yet");
  }
  CHECK(model.server(1).name == "r2");
  CHECK(Reads(model, 4) == std::vector<int>{-1, -1, -1, -1});
  CHECK(model.primary_reads() == 4);
}

TEST_CASE("the first check decides at once", "[routing]") {
  RoutingConfig config;
  config.rise = 5;  // would take 5 checks if the first did not decide
  RoutingModel model(config, EqualSpecs(3));
  std::vector<RotationChange> changes =
      model.Check({Healthy(), Lagging("7.2"), Down()});
  REQUIRE(changes.size() == 1);  // the unhealthy ones never were in
  CHECK(changes[0].server == "r1");
  CHECK(changes[0].entered);
  CHECK(changes[0].reason == "healthy");
  CHECK(model.server(0).in_rotation);
  CHECK(model.server(0).reason == "ok");
  CHECK(model.server(0).rotation_changes == 1);
  CHECK_FALSE(model.server(1).in_rotation);
  CHECK(model.server(1).reason == "lag 7.2s over 5s");
  CHECK(model.server(1).rotation_changes == 0);
  CHECK_FALSE(model.server(2).in_rotation);
  CHECK(model.server(2).reason == "down");
  CHECK(model.server(2).last_verdict.reason == "down");
  CHECK_FALSE(model.failover_active());
  CHECK(Reads(model, 3) == std::vector<int>{0, 0, 0});
}

TEST_CASE("equal weights: strict rotation in configured order", "[routing]") {
  RoutingModel model(RoutingConfig{}, EqualSpecs(3));
  model.Check(All(3, Healthy()));
  CHECK(Reads(model, 9) == std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2});
}

TEST_CASE("equal weights: fair over 10000 reads", "[routing]") {
  const int kReads = 10000;
  for (int n : {1, 2, 3, 4, 5, 7}) {
    SECTION(std::to_string(n) + " replicas") {
      RoutingModel model(RoutingConfig{}, EqualSpecs(n));
      model.Check(All(n, Healthy()));
      std::vector<int> counts = Counts(Reads(model, kReads), n);
      const double share = static_cast<double>(kReads) / n;
      for (int i = 0; i < n; ++i) {
        CHECK(std::abs(counts[i] - share) <= 1.0);
        CHECK(model.server(i).routed_reads ==
              static_cast<std::uint64_t>(counts[i]));
      }
      CHECK(model.primary_reads() == 0);
    }
  }
}

TEST_CASE("weights: smooth interleaving, exact shares", "[routing]") {
  struct Row {
    std::vector<int> weights;
    std::vector<int> first_cycle;  // empty: not checked
  };
  const std::vector<Row> rows = {
      {{1, 2, 3}, {2, 1, 0, 2, 1, 2}},
      {{5, 1, 1}, {0, 0, 1, 0, 2, 0, 0}},  // nginx's example: a a b a c a a
      {{1, 1, 1}, {0, 1, 2}},
      {{3, 3}, {0, 1, 0, 1, 0, 1}},
      {{10, 1}, {}},
      {{2, 3, 5, 7}, {}},
  };
  const int kReads = 6000;
  for (const Row& row : rows) {
    const int n = static_cast<int>(row.weights.size());
    int total = 0;
    for (int w : row.weights) total += w;
    SECTION("weights " + Catch::Detail::stringify(row.weights)) {
      RoutingModel model(RoutingConfig{}, Specs(row.weights));
      model.Check(All(n, Healthy()));
      std::vector<int> reads = Reads(model, kReads);
      if (!row.first_cycle.empty()) {
        CHECK(std::vector<int>(reads.begin(),
                               reads.begin() + row.first_cycle.size()) ==
              row.first_cycle);
      }
      // Smooth: at every prefix, each replica is within 1 of its share.
      std::vector<int> counts(n, 0);
      double worst = 0;
      for (int k = 0; k < kReads; ++k) {
        ++counts[reads[k]];
        for (int i = 0; i < n; ++i) {
          const double share =
              static_cast<double>(k + 1) * row.weights[i] / total;
          worst = std::max(worst, std::abs(counts[i] - share));
        }
      }
      CHECK(worst <= 1.0);
      for (int i = 0; i < n; ++i) {
        const double share =
            static_cast<double>(kReads) * row.weights[i] / total;
        CHECK(std::abs(counts[i] - share) <= 1.0);
      }
    }
  }
}

TEST_CASE("weights below 1 count as 1", "[routing]") {
  RoutingModel model(RoutingConfig{}, Specs({0, -3, 1}));
  CHECK(model.server(0).weight == 1);
  CHECK(model.server(1).weight == 1);
  model.Check(All(3, Healthy()));
  CHECK(Reads(model, 6) == std::vector<int>{0, 1, 2, 0, 1, 2});
}

TEST_CASE("fall and rise thresholds are exact", "[routing]") {
  struct Row {
    int fall, rise;
  };
  for (Row row : {Row{3, 2}, Row{1, 1}, Row{2, 5}, Row{4, 1}}) {
    SECTION("fall " + std::to_string(row.fall) + " rise " +
            std::to_string(row.rise)) {
      RoutingConfig config;
      config.fall = row.fall;
      config.rise = row.rise;
      RoutingModel model(config, EqualSpecs(2));
      REQUIRE(model.Check(All(2, Healthy())).size() == 2);

      for (int k = 1; k < row.fall; ++k) {
        CHECK(model.Check({Lagging("30"), Healthy()}).empty());
        CHECK(model.server(0).in_rotation);
        CHECK(model.server(0).consecutive_unhealthy == k);
        CHECK(model.server(0).reason == "ok");
        CHECK(model.server(0).last_verdict.reason == "lag 30s over 5s");
      }
      std::vector<RotationChange> out = model.Check({Lagging("30"), Healthy()});
      REQUIRE(out.size() == 1);
      CHECK(out[0].server == "r1");
      CHECK_FALSE(out[0].entered);
      CHECK(out[0].reason == "lag 30s over 5s");
      CHECK_FALSE(model.server(0).in_rotation);
      CHECK(model.server(0).reason == "lag 30s over 5s");

      for (int k = 1; k < row.rise; ++k) {
        CHECK(model.Check(All(2, Healthy())).empty());
        CHECK_FALSE(model.server(0).in_rotation);
        CHECK(model.server(0).consecutive_healthy == k);
        CHECK(model.server(0).reason == "lag 30s over 5s");  // why still out
      }
      std::vector<RotationChange> in = model.Check(All(2, Healthy()));
      REQUIRE(in.size() == 1);
      CHECK(in[0].server == "r1");
      CHECK(in[0].entered);
      CHECK(in[0].reason == "recovered");
      CHECK(model.server(0).in_rotation);
      CHECK(model.server(0).reason == "ok");
      CHECK(model.server(0).rotation_changes == 3);
      CHECK(model.server(1).rotation_changes == 1);
    }
  }
}

TEST_CASE("a flapping replica never re-enters and a blip never ejects",
          "[routing]") {
  RoutingConfig config;  // fall 3, rise 2
  RoutingModel model(config, EqualSpecs(2));
  model.Check({Down(), Healthy()});
  REQUIRE_FALSE(model.server(0).in_rotation);
  for (int k = 0; k < 200; ++k) {
    const bool good = k % 2 == 0;
    CHECK(model.Check({good ? Healthy() : Down(), Healthy()}).empty());
    CHECK_FALSE(model.server(0).in_rotation);
    CHECK(model.server(0).reason == "down");
  }
  // And an in-rotation replica with isolated bad checks stays in.
  for (int k = 0; k < 200; ++k) {
    const bool good = k % 2 == 0;
    CHECK(model.Check({Down(), good ? Healthy() : Down()}).empty());
  }
  CHECK(model.server(1).in_rotation);
  CHECK(model.server(1).rotation_changes == 1);
  CHECK(Reads(model, 4) == std::vector<int>{1, 1, 1, 1});
}

TEST_CASE("all replicas out: reads fail over to the primary", "[routing]") {
  RoutingConfig config;
  config.fall = 1;
  RoutingModel model(config, EqualSpecs(3));
  model.Check(All(3, Healthy()));
  Reads(model, 3);
  REQUIRE_FALSE(model.failover_active());

  CHECK(model.Check(All(3, Down())).size() == 3);
  CHECK(model.in_rotation_count() == 0);
  CHECK(model.failover_active());
  CHECK_FALSE(model.reads_unroutable());
  CHECK(Reads(model, 5) == std::vector<int>{-1, -1, -1, -1, -1});
  CHECK(model.primary_reads() == 5);
  for (int i = 0; i < 3; ++i) CHECK(model.server(i).routed_reads == 1);
}

TEST_CASE("fallback none: reads get no target", "[routing]") {
  RoutingConfig config;
  config.fallback = Fallback::kNone;
  RoutingModel model(config, EqualSpecs(2));
  model.Check(All(2, Down()));
  CHECK_FALSE(model.failover_active());
  CHECK(model.reads_unroutable());
  RouteTarget t = model.RouteRead();
  CHECK(t.kind == RouteTarget::kNone);
  CHECK(t.server == -1);
  CHECK(model.unrouted_reads() == 1);
  CHECK(model.primary_reads() == 0);
  CHECK(model.RouteWrite().kind == RouteTarget::kPrimary);
}

TEST_CASE("recovery from failover", "[routing]") {
  RoutingConfig config;  // rise 2
  RoutingModel model(config, EqualSpecs(2));
  model.Check(All(2, Down()));
  REQUIRE(model.failover_active());
  CHECK(model.Check({Healthy(), Down()}).empty());
  CHECK(model.failover_active());
  CHECK(model.RouteRead().kind == RouteTarget::kPrimary);
  std::vector<RotationChange> changes = model.Check({Healthy(), Down()});
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].server == "r1");
  CHECK(changes[0].entered);
  CHECK(changes[0].reason == "recovered");
  CHECK_FALSE(model.failover_active());
  CHECK(Reads(model, 3) == std::vector<int>{0, 0, 0});
  CHECK(model.primary_reads() == 1);
}

TEST_CASE("rotation continues when a replica leaves and returns", "[routing]") {
  RoutingConfig config;
  config.fall = 1;
  config.rise = 1;
  RoutingModel model(config, EqualSpecs(3));
  model.Check(All(3, Healthy()));
  CHECK(Reads(model, 2) == std::vector<int>{0, 1});

  REQUIRE(model.Check({Healthy(), Down(), Healthy()}).size() == 1);
  // r2 served last; the rotation goes on with r3, not r1 again.
  CHECK(Reads(model, 4) == std::vector<int>{2, 0, 2, 0});

  REQUIRE(model.Check(All(3, Healthy())).size() == 1);
  // r1 served last: r2 comes next in order, once, no catch-up burst.
  std::vector<int> after = Reads(model, 3000);
  CHECK(std::vector<int>(after.begin(), after.begin() + 6) ==
        std::vector<int>{1, 2, 0, 1, 2, 0});
  for (int c : Counts(after, 3)) CHECK(c == 1000);
}

TEST_CASE("weighted rotation stays fair across a leave and return",
          "[routing]") {
  RoutingConfig config;
  config.fall = 1;
  config.rise = 1;
  RoutingModel model(config, Specs({1, 2, 3}));
  model.Check(All(3, Healthy()));
  for (int prefix : {0, 1, 2, 3, 4, 5, 7}) {
    SECTION("leaves after " + std::to_string(prefix) + " reads") {
      Reads(model, prefix);
      model.Check({Down(), Healthy(), Healthy()});  // r1 (weight 1) leaves
      std::vector<int> without = Reads(model, 50);
      std::vector<int> c = Counts(without, 3);
      CHECK(c[0] == 0);
      CHECK(std::abs(c[1] - 20) <= 1);
      CHECK(std::abs(c[2] - 30) <= 1);

      model.Check(All(3, Healthy()));  // r1 returns
      std::vector<int> after = Reads(model, 600);
      // No burst: the returning weight-1 replica gets one read per 6.
      for (std::size_t start = 0; start + 6 <= after.size(); start += 6) {
        CHECK(Counts({after.begin() + start, after.begin() + start + 6},
                     3)[0] == 1);
      }
      c = Counts(after, 3);
      CHECK(c == std::vector<int>{100, 200, 300});
    }
  }
}

TEST_CASE("writes always go to the primary", "[routing]") {
  RoutingConfig none;
  none.fallback = Fallback::kNone;
  RoutingModel model(none, EqualSpecs(2));
  CHECK(model.RouteWrite().kind == RouteTarget::kPrimary);  // unchecked
  model.Check(All(2, Healthy()));
  RouteTarget t = model.RouteWrite();
  CHECK(t.kind == RouteTarget::kPrimary);
  CHECK(t.server == -1);
  model.Check(All(2, Down()));
  CHECK(model.RouteWrite().kind == RouteTarget::kPrimary);
  CHECK(model.primary_writes() == 3);
  CHECK(model.primary_reads() == 0);
  CHECK(model.server(0).routed_reads == 0);
}

TEST_CASE("no replicas configured: everything goes to the primary",
          "[routing]") {
  RoutingConfig config;
  config.fallback = Fallback::kNone;  // irrelevant without replicas
  RoutingModel model(config, {});
  CHECK(model.Check({}).empty());
  CHECK_FALSE(model.failover_active());
  CHECK_FALSE(model.reads_unroutable());
  CHECK(Reads(model, 3) == std::vector<int>{-1, -1, -1});
  CHECK(model.RouteWrite().kind == RouteTarget::kPrimary);
}

TEST_CASE("exactly one RotationChange per change", "[routing]") {
  RoutingConfig config;
  config.fall = 2;
  config.rise = 2;
  const int n = 4;
  RoutingModel model(config, EqualSpecs(n));
  std::mt19937 rng(12345);
  std::bernoulli_distribution good(0.6);
  std::vector<std::uint64_t> events(n, 0);
  for (int check = 0; check < 2000; ++check) {
    std::vector<bool> before(n);
    for (int i = 0; i < n; ++i) before[i] = model.server(i).in_rotation;
    std::vector<HealthVerdict> obs;
    for (int i = 0; i < n; ++i) obs.push_back(good(rng) ? Healthy() : Down());
    std::vector<RotationChange> changes = model.Check(obs);
    std::size_t next = 0;  // changes come in configured order
    for (int i = 0; i < n; ++i) {
      const bool after = model.server(i).in_rotation;
      if (after == before[i]) continue;
      REQUIRE(next < changes.size());
      CHECK(changes[next].server == model.server(i).name);
      CHECK(changes[next].entered == after);
      CHECK(changes[next].reason ==
            (after ? (check == 0 ? "healthy" : "recovered") : "down"));
      ++events[i];
      ++next;
    }
    CHECK(next == changes.size());
    // The routing agrees with the rotation.
    RouteTarget t = model.RouteRead();
    if (model.in_rotation_count() == 0) {
      CHECK(t.kind == RouteTarget::kPrimary);
    } else {
      REQUIRE(t.kind == RouteTarget::kReplica);
      CHECK(model.server(t.server).in_rotation);
    }
  }
  std::uint64_t total = 0;
  for (int i = 0; i < n; ++i) {
    CHECK(model.server(i).rotation_changes == events[i]);
    total += events[i];
  }
  CHECK(total > 20);  // the script did exercise changes
}

TEST_CASE("Reconfigure: fallback at once, fall and rise from the next check",
          "[routing]") {
  RoutingModel model(RoutingConfig{}, EqualSpecs(1));
  model.Check({Lagging("7")});
  REQUIRE(model.failover_active());

  RoutingConfig quicker;
  quicker.rise = 1;
  quicker.fallback = Fallback::kNone;
  model.Reconfigure(quicker);
  CHECK(model.config().rise == 1);
  CHECK(model.RouteRead().kind == RouteTarget::kNone);
  CHECK(model.server(0).reason == "lag 7s over 5s");  // not re-evaluated
  REQUIRE(model.Check({Healthy()}).size() == 1);      // rise 1: back at once
  CHECK(model.server(0).in_rotation);
}

// The agent's form: every server of the cluster, the primary among them.
std::vector<ServerSpec> Cluster() {
  return {{"primary", 1}, {"r1", 1}, {"r2", 1}, {"r3", 1}};
}

HealthVerdict PrimaryVerdict() {
  return {false, HealthCode::kPrimary, "primary"};
}

TEST_CASE("the write target never takes reads, reads fall back to it",
          "[routing]") {
  RoutingModel model(RoutingConfig{}, Cluster(), 0);
  CHECK(model.write_target() == 0);
  CHECK(model.candidate_count() == 3);
  CHECK(model.server(0).reason == "primary");
  // Even a "healthy" verdict for the write target does not put it in.
  model.Check({Healthy(), Healthy(), Healthy(), Down()});
  CHECK_FALSE(model.server(0).in_rotation);
  CHECK(Reads(model, 4) == std::vector<int>{1, 2, 1, 2});
  model.Check({PrimaryVerdict(), Down(), Down(), Down()});
  model.Check({PrimaryVerdict(), Down(), Down(), Down()});
  model.Check({PrimaryVerdict(), Down(), Down(), Down()});
  REQUIRE(model.failover_active());
  RouteTarget t = model.RouteRead();
  CHECK(t.kind == RouteTarget::kPrimary);
  CHECK(t.server == 0);
  CHECK(model.server(0).routed_reads == 1);
  CHECK(model.RouteWrite().server == 0);
}

TEST_CASE("a promotion moves writes and takes the new primary out at once",
          "[routing]") {
  RoutingConfig config;  // fall 3: a flap would take three checks
  RoutingModel model(config, Cluster(), 0);
  model.Check({PrimaryVerdict(), Healthy(), Healthy(), Healthy()});
  REQUIRE(model.in_rotation_count() == 3);
  CHECK(Reads(model, 3) == std::vector<int>{1, 2, 3});

  // r1 was promoted.
  std::optional<RotationChange> change = model.SetWriteTarget(1);
  REQUIRE(change);
  CHECK(change->server == "r1");
  CHECK_FALSE(change->entered);
  CHECK(change->reason == "primary");
  CHECK(model.write_target() == 1);
  CHECK_FALSE(model.server(1).in_rotation);
  CHECK(model.server(1).reason == "primary");
  CHECK_FALSE(model.SetWriteTarget(1));  // no-op the second time
  CHECK(model.RouteWrite().server == 1);
  // The rotation continues with r2 and r3 (no burst, no gap).
  CHECK(Reads(model, 4) == std::vector<int>{2, 3, 2, 3});

  // The old primary comes back as a standby: a candidate that must rise
  // like any returning server (rise 2), not decide at its first check.
  CHECK(
      model.Check({Healthy(), PrimaryVerdict(), Healthy(), Healthy()}).empty());
  CHECK_FALSE(model.server(0).in_rotation);
  std::vector<RotationChange> in =
      model.Check({Healthy(), PrimaryVerdict(), Healthy(), Healthy()});
  REQUIRE(in.size() == 1);
  CHECK(in[0].server == "primary");
  CHECK(in[0].reason == "recovered");
  CHECK(model.server(0).in_rotation);
}

TEST_CASE("with replicas only, no write target: reads fall back outside",
          "[routing]") {
  RoutingModel model(RoutingConfig{}, EqualSpecs(2));
  CHECK(model.write_target() == -1);
  RouteTarget t = model.RouteRead();
  CHECK(t.kind == RouteTarget::kPrimary);
  CHECK(t.server == -1);
  CHECK(model.primary_reads() == 1);
}

TEST_CASE("no read candidate at all: every read goes to the primary",
          "[routing]") {
  RoutingModel model(RoutingConfig{}, {{"primary", 1}}, 0);
  CHECK(model.candidate_count() == 0);
  CHECK_FALSE(model.failover_active());
  model.Check({PrimaryVerdict()});
  RouteTarget t = model.RouteRead();
  CHECK(t.kind == RouteTarget::kPrimary);
  CHECK(t.server == 0);
}

TEST_CASE("ServerSpecs keeps configured order, names and weights",
          "[routing]") {
  ServerConfig a;
  a.name = "east";
  a.weight = 2;
  ServerConfig b;
  b.name = "west";
  std::vector<ServerSpec> specs = ServerSpecs({a, b});
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].name == "east");
  CHECK(specs[0].weight == 2);
  CHECK(specs[1].name == "west");
  CHECK(specs[1].weight == 1);
}

}  // namespace
}  // namespace pgre
