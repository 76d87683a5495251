#include "topology/topology.h"

#include <catch2/catch.hpp>
#include <vector>

namespace pgre {
namespace {

// Observations of servers 0 (the configured primary), 1, 2, 3.
struct Servers {
  std::vector<RoleObservation> s;
  Servers() : s(4) {
    for (int i = 0; i < 4; ++i) {
      s[i].application_name = i == 0 ? "primary" : "r" + std::to_string(i);
      s[i].host = "db" + std::to_string(i);
      s[i].port = 5432;
    }
  }
  Servers& primary(int i, std::int64_t timeline = 1) {
    s[i].up = true;
    s[i].in_recovery = false;
    s[i].timeline = timeline;
    return *this;
  }
  Servers& replica(int i) {
    s[i].up = true;
    s[i].in_recovery = true;
    return *this;
  }
  Servers& down(int i) {
    RoleObservation o;
    o.application_name = s[i].application_name;
    o.host = s[i].host;
    o.port = s[i].port;
    s[i] = o;
    return *this;
  }
  Servers& lists(int primary, std::vector<std::string> names) {
    s[primary].standbys = std::move(names);
    return *this;
  }
  Servers& sender(int i, std::string host, int port) {
    s[i].sender_host = std::move(host);
    s[i].sender_port = port;
    return *this;
  }
};

// A normal cluster: 0 primary, 1..3 streaming from it.
Servers Normal() {
  return Servers().primary(0).replica(1).replica(2).replica(3).lists(
      0, {"r1", "r2", "r3"});
}

TEST_CASE("a normal cluster: the configured primary is adopted", "[topology]") {
  TopologyTracker t(4, 0);
  CHECK(t.primary() == 0);
  CHECK_FALSE(t.primary_observed());
  CHECK(t.Update(Normal().s).empty());
  CHECK(t.primary_observed());
  CHECK(t.state() == TopologyState::kSinglePrimary);
  CHECK(t.claimants() == std::vector<int>{0});
  CHECK(t.timeline() == 1);
  for (int i = 1; i <= 3; ++i) CHECK(t.Upstream(i) == 0);
  CHECK(t.Upstream(0) == -1);
  CHECK(t.primary_changes() == 0);
}

TEST_CASE("a start where a replica is the only primary adopts it, uncounted",
          "[topology]") {
  TopologyTracker t(4, 0);
  CHECK(t.Update(Servers().down(0).primary(2).replica(1).replica(3).s).empty());
  CHECK(t.primary() == 2);
  CHECK(t.primary_changes() == 0);  // no known predecessor
}

TEST_CASE("promotion: primary stopped, replica1 promoted, followers re-pointed",
          "[topology]") {
  TopologyTracker t(4, 0);
  t.Update(Normal().s);
  // The primary stops: no primary, still adopted (the lag reference stays).
  t.Update(Servers().down(0).replica(1).replica(2).replica(3).s);
  CHECK(t.state() == TopologyState::kNoPrimary);
  CHECK(t.primary() == 0);
  CHECK(t.claimants().empty());
  // replica1 promoted: adopted at once, counted, timeline 2.
  auto events =
      t.Update(Servers().down(0).primary(1, 2).replica(2).replica(3).s);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == TopologyEvent::kPrimaryChanged);
  CHECK(events[0].from == 0);
  CHECK(events[0].to == 1);
  CHECK(events[1].kind == TopologyEvent::kTimelineChanged);
  CHECK(events[1].from_timeline == 1);
  CHECK(events[1].to_timeline == 2);
  CHECK(t.primary() == 1);
  CHECK(t.state() == TopologyState::kSinglePrimary);
  CHECK(t.primary_changes() == 1);
  CHECK(t.timeline_changes() == 1);
  // Followers: known by the new primary's pg_stat_replication.
  t.Update(Servers()
               .down(0)
               .primary(1, 2)
               .replica(2)
               .replica(3)
               .lists(1, {"r2", "r3"})
               .s);
  CHECK(t.Upstream(2) == 1);
  CHECK(t.Upstream(3) == 1);
  CHECK(t.primary_changes() == 1);  // counted once
  CHECK(t.timeline_changes() == 1);
}

TEST_CASE("the old primary back out of recovery is never re-adopted",
          "[topology]") {
  TopologyTracker t(4, 0);
  t.Update(Normal().s);
  t.Update(Servers().down(0).primary(1, 2).replica(2).replica(3).s);
  REQUIRE(t.primary() == 1);
  // The old primary restarts, still a primary on timeline 1: split brain.
  auto events =
      t.Update(Servers().primary(0, 1).primary(1, 2).replica(2).replica(3).s);
  CHECK(events.empty());
  CHECK(t.state() == TopologyState::kSplitBrain);
  CHECK(t.claimants() == std::vector<int>{0, 1});
  CHECK(t.primary() == 1);
  CHECK(t.timeline() == 2);
  CHECK(t.primary_changes() == 1);
  // Only when replica1 goes away is the old one adopted again: a change.
  events = t.Update(Servers().primary(0, 1).down(1).replica(2).replica(3).s);
  REQUIRE(events.size() == 2);
  CHECK(t.primary() == 0);
  CHECK(t.primary_changes() == 2);
}

TEST_CASE("split brain: upstreams tell which replicas follow whom",
          "[topology]") {
  TopologyTracker t(4, 0);
  t.Update(Normal().s);
  // replica1 promoted while the primary keeps running.
  t.Update(Servers()
               .primary(0, 1)
               .primary(1, 2)
               .replica(2)
               .replica(3)
               .lists(0, {"r2"})
               .sender(3, "db1", 5432)
               .s);
  CHECK(t.state() == TopologyState::kSplitBrain);
  CHECK(t.primary() == 0);  // the adopted one stays
  CHECK(t.Upstream(2) == 0);
  CHECK(t.Upstream(3) == 1);  // by its WAL receiver's sender
  CHECK(t.Upstream(1) == -1);
  CHECK(t.primary_changes() == 0);
}

TEST_CASE("a sender that matches no claimant is no upstream", "[topology]") {
  TopologyTracker t(4, 0);
  t.Update(Servers()
               .primary(0)
               .replica(1)
               .sender(1, "db9", 5432)
               .replica(2)
               .sender(2, "db0", 5433)
               .s);
  CHECK(t.Upstream(1) == -1);
  CHECK(t.Upstream(2) == -1);
}

TEST_CASE("no server reachable: no primary, nothing adopted anew",
          "[topology]") {
  TopologyTracker t(4, 0);
  CHECK(t.Update(Servers().down(0).down(1).down(2).down(3).s).empty());
  CHECK(t.state() == TopologyState::kNoPrimary);
  CHECK(t.primary() == 0);
  CHECK_FALSE(t.primary_observed());
}

TEST_CASE("a timeline change without a primary change is counted",
          "[topology]") {
  TopologyTracker t(4, 0);
  t.Update(Normal().s);
  auto events = t.Update(Servers().primary(0, 3).s);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == TopologyEvent::kTimelineChanged);
  CHECK(t.timeline_changes() == 1);
  CHECK(t.primary_changes() == 0);
}

TEST_CASE("restored state: a promotion while the agent was away counts",
          "[topology]") {
  TopologyTracker t(4, 0);
  t.Restore(0, 1);  // the last run saw the configured primary, timeline 1
  CHECK(t.primary_observed());
  auto events = t.Update(Servers().down(0).primary(1, 2).replica(2).s);
  REQUIRE(events.size() == 2);
  CHECK(t.primary() == 1);
  CHECK(t.primary_changes() == 1);
  CHECK(t.timeline_changes() == 1);
  // Out-of-range restores are ignored.
  TopologyTracker u(4, 0);
  u.Restore(7, 1);
  CHECK_FALSE(u.primary_observed());
}

}  // namespace
}  // namespace pgre
