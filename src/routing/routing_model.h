// RoutingModel: the canonical read-routing model. Pure: no I/O, no threads,
// no clock. The routing loop feeds it one health check of every server at a
// time (Check, with the verdicts of cluster/health.h), and tells it which
// server takes writes (SetWriteTarget); it answers where a read or a write
// goes (RouteRead / RouteWrite) and publishes its state.
//
// Servers. The model knows the read candidates in configured order and,
// optionally, which of them is the write target (the adopted primary). The
// agent passes every server of the cluster, the configured primary first,
// and moves the write target when the topology changes. Without a write
// target among them (-1) the primary is outside the list (the tests' and
// route-check's replica-only form).
//
// Routing
//  - Writes always go to the write target (the primary).
//  - Reads go to the servers in rotation by smooth weighted round-robin
//    (nginx's algorithm): with equal weights this is strict rotation in the
//    configured order (r1, r2, r3, r1, ...); with weights 1:2:3 every window
//    of 6 reads holds exactly 1, 2 and 3, interleaved (r3 r2 r1 r3 r2 r3).
//    Over any run of reads without a rotation change, each server's count
//    is within 1 of its exact share.
//  - When the set of servers in rotation changes, the round-robin restarts
//    for the new set, cyclically from the server after the one that served
//    the last read. With equal weights the rotation therefore just continues
//    (r1 r2 | r2 leaves | r3 r1 r3 r1 | r2 returns | r2 r3 r1 ...), and a
//    returning server gets its share from then on, never a burst of
//    "catch-up" reads.
//  - When no server is in rotation, reads fail over to the write target
//    (routing.fallback: primary, the seed's behaviour) and failover_active()
//    is true; with fallback none they get no target.
//  - The write target's own health does not affect read routing.
//  - With no read candidate at all (USE_READ_REPLICAS=false), every read
//    goes to the primary and failover_active() is false.
//
// Hysteresis (HAProxy's fall/rise): a server in rotation leaves after
// `routing.fall` consecutive unhealthy checks; one out of rotation returns
// after `routing.rise` consecutive healthy checks. Before its first check a
// server is out of rotation; the FIRST check decides at once (healthy: in,
// reason "healthy"; unhealthy: stays out), so start-up needs no rise checks.
// Hence, until the first Check, all reads fail over to the primary.
// Becoming the write target is not a flap: the server leaves the rotation
// at once (reason "primary"); a former write target is a candidate again,
// subject to `rise` (its first check does not decide at once).
//
// Every change of rotation yields exactly one RotationChange from the call
// that caused it, for the caller to log once. A server that is unhealthy on
// its first check yields none (it never was in rotation); its state's
// `reason` says why it is out.
//
// Thread safety: not thread-safe; the caller serializes all calls.
#ifndef PGRE_ROUTING_ROUTING_MODEL_H_
#define PGRE_ROUTING_ROUTING_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "routing/health_verdict.h"

namespace pgre {

struct RouteTarget {
  enum Kind { kReplica, kPrimary, kNone };
  Kind kind = kNone;
  // kReplica: the index of the server in rotation. kPrimary: the write
  // target's index, or -1 when the primary is outside the list. kNone: -1.
  int server = -1;
};

// One server entering (entered = true) or leaving the rotation.
// reason: for entries "healthy" (first check) or "recovered"; for exits the
// failing health reason of the check that made it leave, or "primary".
struct RotationChange {
  std::string server;  // its configured name
  bool entered = false;
  std::string reason;
};

struct ServerSpec {
  std::string name;
  int weight = 1;  // >= 1; smaller values are treated as 1
};

// The specs of configured servers, in order.
std::vector<ServerSpec> ServerSpecs(const std::vector<ServerConfig>& servers);

// What the model keeps per server.
struct ServerState {
  std::string name;
  int weight = 1;
  bool checked = false;  // at least one Check has run
  bool in_rotation = false;
  int consecutive_healthy = 0;    // resets to 0 on an unhealthy check
  int consecutive_unhealthy = 0;  // resets to 0 on a healthy check
  // "ok" while in rotation; while out, why: the latest failing health reason
  // ("not checked yet" before the first check, "primary" for the write
  // target).
  std::string reason = "not checked yet";
  HealthVerdict last_verdict;          // of the latest check
  std::uint64_t rotation_changes = 0;  // times it entered or left
  std::uint64_t routed_reads = 0;      // reads RouteRead sent to it
};

class RoutingModel {
 public:
  // `servers` in configured order (the round-robin order); `write_target`
  // the index of the primary among them, or -1. Every server starts out of
  // rotation, unchecked.
  RoutingModel(const RoutingConfig& config, std::vector<ServerSpec> servers,
               int write_target = -1);

  // The same model over another list of servers (the members changed):
  // server j of `servers` is server old_of_new[j] of `old` (-1: new, out of
  // rotation and unchecked, so that its first check decides at once).
  // Kept, mapped: each server's state (rotation, hysteresis counters,
  // reason, reads) and the write target (when it is in the new list, else
  // `write_target`), the model's counters; the round-robin restarts.
  // REQUIRES: servers.size() == old_of_new.size().
  static RoutingModel Remapped(const RoutingModel& old,
                               std::vector<ServerSpec> servers,
                               const std::vector<int>& old_of_new,
                               int write_target);

  // Applies new routing settings. Thresholds and limits take effect from the
  // next Check; the fallback at once. Rotation and counters are kept.
  void Reconfigure(const RoutingConfig& config);

  // Moves writes (and the fallback of reads) to server `index` (-1: outside
  // the list). That server leaves the rotation at once; the change is
  // returned. No-op when it already is the write target.
  std::optional<RotationChange> SetWriteTarget(int index);
  int write_target() const { return write_target_; }

  // One health check of all servers: verdicts[i] is server i's. The write
  // target's verdict is recorded but never puts it in rotation. Updates the
  // hysteresis counters and the rotation, and returns one RotationChange per
  // server whose rotation changed, in configured order.
  // REQUIRES: verdicts.size() == server_count(). (Checked by assert; without
  // asserts, missing verdicts count as "down", extra ones are ignored.)
  std::vector<RotationChange> Check(const std::vector<HealthVerdict>& verdicts);

  // Where the next read goes, and counts it: a server in rotation (kReplica,
  // round-robin); else the write target when failing over (kPrimary); else
  // (fallback none) kNone. Always kPrimary when there is no read candidate.
  RouteTarget RouteRead();

  // Where a write goes: always the primary (kPrimary). Counts it.
  RouteTarget RouteWrite();

  // True when read candidates exist but none is in rotation and reads go to
  // the primary instead (fallback primary). False with fallback none.
  bool failover_active() const;

  // True when no server is in rotation and reads have no target (fallback
  // none and at least one read candidate).
  bool reads_unroutable() const;

  int server_count() const { return static_cast<int>(servers_.size()); }
  // Servers other than the write target.
  int candidate_count() const;
  int in_rotation_count() const;
  // REQUIRES: 0 <= i < server_count().
  const ServerState& server(int i) const { return servers_[i].state; }
  const RoutingConfig& config() const { return config_; }

  // Reads that went to the primary (the fallback), wherever it is.
  std::uint64_t primary_reads() const { return primary_reads_; }
  std::uint64_t primary_writes() const { return primary_writes_; }
  // Reads that got kNone.
  std::uint64_t unrouted_reads() const { return unrouted_reads_; }

 private:
  struct Server {
    ServerState state;
    long long current_weight = 0;  // smooth weighted round-robin state
  };
  // Restarts the round-robin for a changed rotation (see the file comment).
  void RestartRoundRobin();

  RoutingConfig config_;
  std::vector<Server> servers_;
  int write_target_ = -1;
  int origin_ = 0;        // where ties in the round-robin start (cyclically)
  int last_server_ = -1;  // index of the server that served the last read
  std::uint64_t primary_reads_ = 0;
  std::uint64_t primary_writes_ = 0;
  std::uint64_t unrouted_reads_ = 0;
};

}  // namespace pgre

#endif  // PGRE_ROUTING_ROUTING_MODEL_H_
