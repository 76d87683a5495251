// TopologyTracker: which server of a cluster is the primary, as the servers
// say it (pg_is_in_recovery(), timeline, pg_stat_replication, the WAL
// receiver's sender), not as the configuration expects it. Pure: no I/O, no
// clock; the caller feeds it every server's latest observation after each
// poll.
//
// Rules
//  - A claimant is a server that is up and out of recovery.
//  - The adopted primary is the lag reference and the write target. It
//    starts as the configured one (expected, not yet observed). When exactly
//    one server claims, and the adopted primary is not itself claiming, the
//    claimant is adopted: a primary change (not counted for the very first
//    adoption after a start without saved state, which has no known
//    predecessor).
//  - While the adopted primary claims, it stays adopted whatever else
//    claims: an old primary that comes back out of recovery after a
//    promotion is reported as a claimant (split brain), never silently
//    re-adopted.
//  - State: kSinglePrimary (one claimant, the adopted primary), kNoPrimary
//    (none: the primary is down or in recovery), kSplitBrain (two or more).
//  - A timeline change is counted when the adopted primary reports a
//    timeline other than the last one seen for the adopted primary
//    (promotions, point-in-time restores).
//  - A server's upstream is the claimant whose pg_stat_replication lists its
//    application_name, else the claimant whose host and port match its WAL
//    receiver's sender; -1 when neither tells.
//
// Thread safety: not thread-safe; callers serialize.
#ifndef PGRE_TOPOLOGY_TOPOLOGY_H_
#define PGRE_TOPOLOGY_TOPOLOGY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgre {

// What the latest poll of one server said about its role.
struct RoleObservation {
  bool up = false;  // the last poll succeeded (the server collector did)
  bool in_recovery = false;
  std::optional<std::int64_t> timeline;
  // application_names in its pg_stat_replication.
  std::vector<std::string> standbys;
  // How this server appears in its upstream's pg_stat_replication.
  std::string application_name;
  // Where its DSN points (the first host), to match against senders.
  std::string host;
  int port = 0;
  // Its WAL receiver's sender (empty / 0 when it has none).
  std::string sender_host;
  int sender_port = 0;
};

enum class TopologyState { kSinglePrimary, kNoPrimary, kSplitBrain };

std::string_view TopologyStateName(TopologyState state);  // "ok", ...

struct TopologyEvent {
  enum Kind { kPrimaryChanged, kTimelineChanged };
  Kind kind = kPrimaryChanged;
  int from = -1, to = -1;  // kPrimaryChanged: server indexes
  std::optional<std::int64_t> from_timeline, to_timeline;  // kTimelineChanged
};

class TopologyTracker {
 public:
  // `expected_primary`: the configured primary's index.
  // REQUIRES: 0 <= expected_primary < server_count.
  TopologyTracker(int server_count, int expected_primary);

  // Restores what a previous run of the agent had adopted (state file), so
  // that a promotion while the agent was away is counted. -1: nothing.
  void Restore(int adopted, std::optional<std::int64_t> timeline);

  // The same tracker over another list of servers (the members changed):
  // server j of the new list is server old_of_new[j] of `old` (-1: new).
  // Everything is kept (adopted primary, whether observed, state, timeline,
  // counters, claimants, upstreams), mapped; when the adopted primary is
  // not in the new list, server 0 is expected instead, not yet observed.
  // REQUIRES: !old_of_new.empty().
  static TopologyTracker Remapped(const TopologyTracker& old,
                                  const std::vector<int>& old_of_new);

  // Re-evaluates the topology. Returns the events of this update, in order.
  // REQUIRES: servers.size() == the server count.
  std::vector<TopologyEvent> Update(
      const std::vector<RoleObservation>& servers);

  // The adopted primary (the configured one until a primary is observed).
  int primary() const { return primary_; }
  // Whether primary() was adopted from an observation or a restored state.
  bool primary_observed() const { return observed_; }
  TopologyState state() const { return state_; }
  // Servers out of recovery, in index order.
  const std::vector<int>& claimants() const { return claimants_; }
  bool Claims(int server) const;
  // The last timeline seen of the adopted primary.
  std::optional<std::int64_t> timeline() const { return timeline_; }
  std::uint64_t primary_changes() const { return primary_changes_; }
  std::uint64_t timeline_changes() const { return timeline_changes_; }
  // The claimant server `server` follows, or -1. From the last Update.
  int Upstream(int server) const;

 private:
  int primary_;
  bool observed_ = false;
  TopologyState state_ = TopologyState::kNoPrimary;
  std::vector<int> claimants_;
  std::vector<int> upstream_;
  std::optional<std::int64_t> timeline_;
  std::uint64_t primary_changes_ = 0;
  std::uint64_t timeline_changes_ = 0;
};

}  // namespace pgre

#endif  // PGRE_TOPOLOGY_TOPOLOGY_H_
