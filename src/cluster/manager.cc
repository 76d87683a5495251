#include "cluster/manager.h"

#include <algorithm>

namespace pgre {

std::string ObservedPrimaryName(const Snapshot& snapshot) {
  const TopologyView& t = snapshot.topology;
  if (t.state != TopologyState::kSinglePrimary || !t.primary_observed ||
      t.primary < 0 || t.primary >= static_cast<int>(snapshot.servers.size())) {
    return "";
  }
  return snapshot.servers[t.primary].name;
}

bool ManagerLeaderMismatch(const Snapshot& snapshot) {
  const ManagerView& m = snapshot.manager;
  if (!m.enabled || !m.ok) return false;
  const bool all_polled =
      std::all_of(snapshot.servers.begin(), snapshot.servers.end(),
                  [](const ServerView& v) { return v.polled; });
  if (!all_polled) return false;
  return ObservedPrimaryName(snapshot) != m.leader;
}

}  // namespace pgre
