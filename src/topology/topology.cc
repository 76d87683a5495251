#include "topology/topology.h"

#include <algorithm>
#include <cassert>

namespace pgre {

std::string_view TopologyStateName(TopologyState state) {
  switch (state) {
    case TopologyState::kSinglePrimary:
      return "ok";
    case TopologyState::kNoPrimary:
      return "no_primary";
    case TopologyState::kSplitBrain:
      return "split_brain";
  }
  return "?";
}

TopologyTracker::TopologyTracker(int server_count, int expected_primary)
    : primary_(expected_primary), upstream_(server_count, -1) {
  assert(expected_primary >= 0 && expected_primary < server_count);
}

void TopologyTracker::Restore(int adopted,
                              std::optional<std::int64_t> timeline) {
  if (adopted < 0 || adopted >= static_cast<int>(upstream_.size())) return;
  primary_ = adopted;
  observed_ = true;
  timeline_ = timeline;
}

TopologyTracker TopologyTracker::Remapped(const TopologyTracker& old,
                                          const std::vector<int>& old_of_new) {
  const int n = static_cast<int>(old_of_new.size());
  std::vector<int> new_of_old(old.upstream_.size(), -1);
  for (int j = 0; j < n; ++j) {
    const int k = old_of_new[j];
    if (k >= 0 && k < static_cast<int>(new_of_old.size())) new_of_old[k] = j;
  }
  auto map = [&](int k) {
    return k >= 0 && k < static_cast<int>(new_of_old.size()) ? new_of_old[k]
                                                             : -1;
  };
  const int primary = map(old.primary_);
  TopologyTracker out(n, primary >= 0 ? primary : 0);
  out.observed_ = primary >= 0 && old.observed_;
  out.state_ = old.state_;
  out.timeline_ = old.timeline_;
  out.primary_changes_ = old.primary_changes_;
  out.timeline_changes_ = old.timeline_changes_;
  for (int c : old.claimants_) {
    if (map(c) >= 0) out.claimants_.push_back(map(c));
  }
  std::sort(out.claimants_.begin(), out.claimants_.end());
  for (int j = 0; j < n; ++j) {
    const int k = old_of_new[j];
    if (k >= 0 && k < static_cast<int>(old.upstream_.size())) {
      out.upstream_[j] = map(old.upstream_[k]);
    }
  }
  return out;
}

bool TopologyTracker::Claims(int server) const {
  return std::find(claimants_.begin(), claimants_.end(), server) !=
         claimants_.end();
}

int TopologyTracker::Upstream(int server) const {
  if (server < 0 || server >= static_cast<int>(upstream_.size())) return -1;
  return upstream_[server];
}

std::vector<TopologyEvent> TopologyTracker::Update(
    const std::vector<RoleObservation>& servers) {
  assert(servers.size() == upstream_.size());
  const int n = static_cast<int>(std::min(servers.size(), upstream_.size()));
  claimants_.clear();
  for (int i = 0; i < n; ++i) {
    if (servers[i].up && !servers[i].in_recovery) claimants_.push_back(i);
  }

  std::vector<TopologyEvent> events;
  if (claimants_.size() == 1 && claimants_[0] != primary_) {
    const int from = primary_;
    primary_ = claimants_[0];
    if (observed_) {
      ++primary_changes_;
      TopologyEvent e;
      e.kind = TopologyEvent::kPrimaryChanged;
      e.from = from;
      e.to = primary_;
      events.push_back(e);
    }
    observed_ = true;
  } else if (claimants_.size() == 1) {
    observed_ = true;
  }
  state_ = claimants_.empty()       ? TopologyState::kNoPrimary
           : claimants_.size() == 1 ? TopologyState::kSinglePrimary
                                    : TopologyState::kSplitBrain;

  if (Claims(primary_) && servers[primary_].timeline) {
    const auto seen = servers[primary_].timeline;
    if (timeline_ && *timeline_ != *seen) {
      ++timeline_changes_;
      TopologyEvent e;
      e.kind = TopologyEvent::kTimelineChanged;
      e.from_timeline = timeline_;
      e.to_timeline = seen;
      events.push_back(e);
    }
    timeline_ = seen;
  }

  for (int i = 0; i < n; ++i) {
    upstream_[i] = -1;
    const RoleObservation& s = servers[i];
    if (!s.up || !s.in_recovery) continue;
    for (int c : claimants_) {
      const auto& names = servers[c].standbys;
      if (!s.application_name.empty() &&
          std::find(names.begin(), names.end(), s.application_name) !=
              names.end()) {
        upstream_[i] = c;
        break;
      }
    }
    if (upstream_[i] >= 0 || s.sender_host.empty()) continue;
    for (int c : claimants_) {
      if (servers[c].host == s.sender_host &&
          servers[c].port == s.sender_port) {
        upstream_[i] = c;
        break;
      }
    }
  }
  return events;
}

}  // namespace pgre
