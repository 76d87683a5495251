#include "cluster/manager.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

Snapshot Cluster(TopologyState state, bool observed, const std::string& leader,
                 bool ok = true, bool polled = true) {
  Snapshot s;
  for (const char* name : {"pg1", "pg2", "pg3"}) {
    ServerView v;
    v.name = name;
    v.polled = polled;
    s.servers.push_back(v);
  }
  s.topology.state = state;
  s.topology.primary = 1;  // pg2
  s.topology.primary_observed = observed;
  s.manager.enabled = true;
  s.manager.ok = ok;
  s.manager.leader = leader;
  return s;
}

TEST_CASE("manager: the leader against the observed primary", "[manager]") {
  using enum TopologyState;
  struct Row {
    const char* name;
    Snapshot snap;
    bool mismatch;
  };
  const Row rows[] = {
      {"agree", Cluster(kSinglePrimary, true, "pg2"), false},
      {"another leader", Cluster(kSinglePrimary, true, "pg1"), true},
      {"no leader, a primary (lost store, paused)",
       Cluster(kSinglePrimary, true, ""), true},
      {"a leader, no primary reachable", Cluster(kNoPrimary, true, "pg2"),
       true},
      {"a leader, two primaries (hand-promoted)",
       Cluster(kSplitBrain, true, "pg2"), true},
      {"neither", Cluster(kNoPrimary, true, ""), false},
      {"not observed yet", Cluster(kSinglePrimary, false, ""), false},
      {"discovery failing: no opinion",
       Cluster(kSinglePrimary, true, "pg1", false), false},
      {"not every server polled",
       Cluster(kSinglePrimary, true, "pg1", true, false), false},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    CHECK(ManagerLeaderMismatch(r.snap) == r.mismatch);
  }
  Snapshot off = Cluster(kSinglePrimary, true, "pg1");
  off.manager.enabled = false;
  CHECK_FALSE(ManagerLeaderMismatch(off));
  CHECK(ObservedPrimaryName(Cluster(kSinglePrimary, true, "")) == "pg2");
  CHECK(ObservedPrimaryName(Cluster(kSplitBrain, true, "")).empty());
}

}  // namespace
}  // namespace pgre
