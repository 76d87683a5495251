// SnapshotStore: the agent's single source of truth between the pollers (and
// the routing loop), which write into it, and the HTTP handlers, which read
// immutable Snapshots from it. A scrape never touches a database.
//
// Thread safety: all methods are thread-safe.
#ifndef PGRE_POLL_SNAPSHOT_H_
#define PGRE_POLL_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/sample.h"
#include "common/clock.h"
#include "config/config.h"
#include "lag/wal_history.h"

namespace pgre {

// The outcome of one poll of one server.
struct PollOutcome {
  bool ok = false;
  std::string error;  // when !ok; no secrets
  MonoTime at{};      // when the poll's answer arrived (agent's clock)
  WallTime wall_at{};
  std::chrono::nanoseconds duration{};
  ServerSample sample;  // when ok
};

// The routing loop's view of one replica, published beside the poll data.
struct RoutingView {
  bool in_rotation = false;
  std::string reason;  // why out of rotation, or "ok"
  std::uint64_t routed_reads = 0;
  std::uint64_t rotation_changes = 0;
  std::optional<bool> synthetic_ok;
  std::optional<double> synthetic_duration_seconds;
};

// Everything published about one server. Holds no secret.
struct ServerView {
  std::string name;
  Role role = Role::kReplica;  // as configured
  std::string endpoint;        // host:port, no credentials
  std::string application_name;

  bool polled = false;  // at least one poll attempt finished
  bool up = false;      // the last poll attempt succeeded
  std::string last_error;
  double poll_duration_seconds = 0;
  std::uint64_t poll_errors_total = 0;
  std::optional<WallTime> last_success;
  std::optional<ServerSample> sample;  // the last sample, only while up

  // Replicas (nullopt while not up, or not in recovery).
  std::optional<double> lag_seconds;
  std::optional<std::uint64_t> lag_bytes;
  // Replicas: whether the primary's pg_stat_replication has a row with this
  // replica's application_name (nullopt while the primary is not up).
  std::optional<bool> standby_connected;

  // Replicas: rotation state; the primary: routed reads and synthetic
  // checks only.
  RoutingView routing;
};

struct Snapshot {
  std::string cluster;
  bool replicas_enabled = true;
  std::optional<int> app_pool_size;
  LagStatusConfig lag_status;
  ServerView primary;
  std::vector<ServerView> replicas;
  // Routing: failover_active while reads go to the primary because no
  // replica is in rotation (the primary's routed reads are in
  // primary.routing).
  bool routing_active = false;  // the routing loop has run at least once
  bool failover_active = false;
  WallTime taken_at{};
};

class SnapshotStore {
 public:
  // REQUIRES: clock outlives the store.
  SnapshotStore(const Config& config, const Clock* clock);

  // Index of servers: kPrimary for the primary, 0..n-1 for replicas in
  // configured order.
  static constexpr int kPrimary = -1;

  // Records a finished poll. Updates the primary's WAL history and every
  // lag figure that depends on it.
  void RecordPoll(int server, const PollOutcome& outcome);

  // Publishes the routing state (from the routing loop): each replica's,
  // the primary's (its routed reads and synthetic checks), and whether reads
  // are failing over to the primary.
  // REQUIRES: replicas.size() == replica count.
  void RecordRouting(const std::vector<RoutingView>& replicas,
                     const RoutingView& primary, bool failover_active);

  // A consistent copy of everything, with standby_connected derived.
  std::shared_ptr<const Snapshot> Get() const;

 private:
  ServerView& View(int server);

  const Clock* clock_;
  mutable std::mutex mu_;
  Snapshot snapshot_;                            // guarded by mu_
  WalHistory history_;                           // guarded by mu_
  std::vector<std::optional<Lsn>> last_replay_;  // per replica; guarded
};

}  // namespace pgre

#endif  // PGRE_POLL_SNAPSHOT_H_
