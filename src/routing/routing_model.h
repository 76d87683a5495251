// RoutingModel: the canonical read-routing model. Pure: no I/O, no threads,
// no clock. The poller feeds it one health check of every replica at a time
// (Check); the HTTP layer and the metrics ask it where a read or a write
// would go (RouteRead / RouteWrite) and publish its state.
//
// Routing
//  - Writes always go to the primary.
//  - Reads go to the replicas in rotation by smooth weighted round-robin
//    (nginx's algorithm): with equal weights this is strict rotation in the
//    configured order (r1, r2, r3, r1, ...); with weights 1:2:3 every window
//    of 6 reads holds exactly 1, 2 and 3, interleaved (r3 r2 r1 r3 r2 r3).
//    Over any run of reads without a rotation change, each replica's count
//    is within 1 of its exact share.
//  - When the set of replicas in rotation changes, the round-robin restarts
//    for the new set, cyclically from the replica after the one that served
//    the last read. With equal weights the rotation therefore just continues
//    (r1 r2 | r2 leaves | r3 r1 r3 r1 | r2 returns | r2 r3 r1 ...), and a
//    returning replica gets its share from then on, never a burst of
//    "catch-up" reads.
//  - When no replica is in rotation, reads fail over to the primary
//    (routing.fallback: primary, the seed's behaviour) and failover_active()
//    is true; with fallback none they get no target.
//  - The primary's own health does not affect read routing: reads go to
//    the replicas in rotation whether or not the primary is up.
//  - With no replicas configured (USE_READ_REPLICAS=false), every read
//    goes to the primary and failover_active() is false.
//
// Health (Evaluate): a replica is healthy on a check when it is up (polled
// OK), in recovery, its WAL receiver is streaming, its last synthetic check
// passed (one that has not run counts as passed), its lag_seconds is known
// and <= routing.max_lag, and, when routing.max_lag_bytes > 0, its lag_bytes
// is <= max_lag_bytes. An unknown lag_bytes never fails the byte limit (it
// is unknown whenever the primary is down, which must not empty the
// rotation). The first failing condition, in that order, names the reason.
//
// Hysteresis (HAProxy's fall/rise): a replica in rotation leaves after
// `routing.fall` consecutive unhealthy checks; one out of rotation returns
// after `routing.rise` consecutive healthy checks. Before its first check a
// replica is out of rotation; the FIRST check decides at once (healthy: in,
// reason "healthy"; unhealthy: stays out), so start-up needs no rise checks.
// Hence, until the first Check, all reads fail over to the primary.
//
// Every change of rotation yields exactly one RotationChange from the Check
// that caused it, for the caller to log once. A replica that is unhealthy on
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

namespace pgre {

// What one health check observed of one replica.
struct ReplicaObservation {
  bool up = false;           // the poll of this replica succeeded
  bool in_recovery = false;  // pg_is_in_recovery()
  bool streaming = false;    // pg_stat_wal_receiver.status = 'streaming'
  std::optional<double> lag_seconds;       // nullopt (or NaN): unknown
  std::optional<std::uint64_t> lag_bytes;  // nullopt: unknown
  std::optional<bool> synthetic_ok;        // nullopt: no synthetic check yet
};

// The outcome of Evaluate: healthy, and reason "ok"; or unhealthy and a short
// human reason ("down", "lag 7.2s over 5s", ...).
struct HealthVerdict {
  bool healthy = false;
  std::string reason;
};

struct RouteTarget {
  enum Kind { kReplica, kPrimary, kNone };
  Kind kind = kNone;
  int replica = -1;  // index into the configured replicas when kReplica,
                     // else -1
};

// One replica entering (entered = true) or leaving the rotation.
// reason: for entries "healthy" (first check) or "recovered"; for exits the
// failing health reason of the check that made it leave.
struct RotationChange {
  std::string replica;  // its configured name
  bool entered = false;
  std::string reason;
};

struct ReplicaSpec {
  std::string name;
  int weight = 1;  // >= 1; smaller values are treated as 1
};

// The specs of configured replicas, in order.
std::vector<ReplicaSpec> ReplicaSpecs(const std::vector<ServerConfig>& servers);

// What the model keeps per replica.
struct ReplicaState {
  std::string name;
  int weight = 1;
  bool checked = false;  // at least one Check has run
  bool in_rotation = false;
  int consecutive_healthy = 0;    // resets to 0 on an unhealthy check
  int consecutive_unhealthy = 0;  // resets to 0 on a healthy check
  // "ok" while in rotation; while out, why: the latest failing health reason
  // ("not checked yet" before the first check).
  std::string reason = "not checked yet";
  HealthVerdict last_verdict;          // of the latest check
  std::uint64_t rotation_changes = 0;  // times it entered or left
  std::uint64_t routed_reads = 0;      // reads RouteRead sent to it
};

class RoutingModel {
 public:
  // `replicas` in configured order (the round-robin order). Every replica
  // starts out of rotation, unchecked.
  RoutingModel(const RoutingConfig& config, std::vector<ReplicaSpec> replicas);

  // Applies new routing settings (e.g. on a config reload). Thresholds and
  // limits take effect from the next Check; the fallback at once. Rotation
  // and counters are kept.
  void Reconfigure(const RoutingConfig& config);

  // Pure health evaluation of one observation against `config`.
  // Returns {true, "ok"} when healthy, else {false, reason} with reason one
  // of "down", "not in recovery", "wal receiver not streaming",
  // "synthetic check failed", "lag unknown", "lag <x>s over <max>s",
  // "lag <n> bytes over <max>".
  static HealthVerdict Evaluate(const RoutingConfig& config,
                                const ReplicaObservation& observation);

  // One health check of all replicas: observations[i] is replica i's.
  // Updates the hysteresis counters and the rotation, and returns one
  // RotationChange per replica whose rotation changed, in configured order
  // (empty when nothing changed).
  // REQUIRES: observations.size() == replica_count(). (Checked by assert;
  // without asserts, missing observations count as "down", extra ones are
  // ignored.)
  std::vector<RotationChange> Check(
      const std::vector<ReplicaObservation>& observations);

  // Where the next read goes, and counts it: a replica in rotation (kReplica,
  // round-robin); else the primary when failing over (kPrimary); else
  // (fallback none) kNone. Always kPrimary when no replica is configured.
  RouteTarget RouteRead();

  // Where a write goes: always the primary. Counts it.
  RouteTarget RouteWrite();

  // True when replicas are configured but none is in rotation and reads go
  // to the primary instead (fallback primary). False with fallback none.
  bool failover_active() const;

  // True when no replica is in rotation and reads have no target (fallback
  // none and at least one replica configured).
  bool reads_unroutable() const;

  int replica_count() const { return static_cast<int>(replicas_.size()); }
  int in_rotation_count() const;
  // REQUIRES: 0 <= i < replica_count().
  const ReplicaState& replica(int i) const { return replicas_[i].state; }
  const RoutingConfig& config() const { return config_; }

  std::uint64_t primary_reads() const { return primary_reads_; }
  std::uint64_t primary_writes() const { return primary_writes_; }
  // Reads that got kNone.
  std::uint64_t unrouted_reads() const { return unrouted_reads_; }

 private:
  struct Replica {
    ReplicaState state;
    long long current_weight = 0;  // smooth weighted round-robin state
  };
  // Restarts the round-robin for a changed rotation (see the file comment).
  void RestartRoundRobin();

  RoutingConfig config_;
  std::vector<Replica> replicas_;
  int origin_ = 0;         // where ties in the round-robin start (cyclically)
  int last_replica_ = -1;  // index of the replica that served the last read
  std::uint64_t primary_reads_ = 0;
  std::uint64_t primary_writes_ = 0;
  std::uint64_t unrouted_reads_ = 0;
};

}  // namespace pgre

#endif  // PGRE_ROUTING_ROUTING_MODEL_H_
