// Snapshot: everything the agent publishes about one cluster, as plain,
// immutable data. Written by ClusterState (cluster/cluster_state.h), read by
// the metrics, the JSON endpoints and the routing loop. Holds no secret.
#ifndef PGRE_CLUSTER_SNAPSHOT_H_
#define PGRE_CLUSTER_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cluster/lag_trail.h"
#include "collectors/pgbouncer.h"
#include "collectors/sample.h"
#include "common/clock.h"
#include "config/config.h"
#include "discovery/patroni.h"
#include "routing/health_verdict.h"
#include "topology/topology.h"

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

// The outcome of one poll of one pgbouncer's admin console.
struct PgBouncerOutcome {
  // The console answered the batch (each collector's own success is in
  // sample.collector_success).
  bool ok = false;
  std::string error;  // when !ok, or the first failed collector's; no secrets
  MonoTime at{};
  WallTime wall_at{};
  std::chrono::nanoseconds duration{};
  PgBouncerSample sample;  // when ok
};

// Everything published about one pgbouncer.
struct PgBouncerView {
  std::string name;
  std::string server;     // the fronted server's name, "" for none
  int server_index = -1;  // its index in Snapshot::servers, -1 for none
  std::string endpoint;   // host:port, no credentials
  bool polled = false;
  bool up = false;
  std::string last_error;
  double poll_duration_seconds = 0;
  std::uint64_t polls_total = 0;
  std::uint64_t poll_errors_total = 0;
  std::optional<WallTime> last_success;
  std::optional<PgBouncerSample> sample;  // the last one, only while up
};

// The routing model's view of one server, published beside the poll data.
struct RoutingView {
  bool in_rotation = false;
  std::string reason = "not checked yet";  // why out of rotation, or "ok"
  std::uint64_t routed_reads = 0;          // since start (or the last reload)
  // Of which in the last Snapshot::reads_window (cluster/read_window.h):
  // what the share of reads is taken of, so that a server that left the
  // rotation long ago shows none.
  std::uint64_t recent_reads = 0;
  std::uint64_t rotation_changes = 0;
  // The hysteresis counters (routing.fall / routing.rise): consecutive
  // healthy and unhealthy checks so far.
  int consecutive_healthy = 0;
  int consecutive_unhealthy = 0;
  std::optional<bool> synthetic_ok;
  std::optional<double> synthetic_duration_seconds;
};

// Everything published about one server.
struct ServerView {
  std::string name;
  Role role = Role::kReplica;  // as configured; never changes
  std::string endpoint;        // host:port, no credentials
  std::string application_name;

  bool polled = false;  // at least one poll attempt finished
  bool up = false;      // the last poll attempt succeeded
  std::string last_error;
  double poll_duration_seconds = 0;
  std::uint64_t polls_total = 0;        // poll attempts finished
  std::uint64_t poll_errors_total = 0;  // of which failed
  std::optional<WallTime> last_success;
  std::optional<ServerSample> sample;  // the last sample, only while up

  // Observed topology.
  bool is_primary = false;      // the adopted primary (lag reference)
  bool claims_primary = false;  // up and out of recovery
  int upstream = -1;            // server index of the claimant it follows

  // Servers in recovery. Unset while not up, not in recovery, or not
  // measurable (lag_unknown_reason says why).
  std::optional<double> lag_seconds;
  std::optional<std::uint64_t> lag_bytes;
  // lag_seconds is a lower bound (the replay position is older than the
  // agent's history, or no primary is reachable to compare with).
  bool lag_lower_bound = false;
  std::string lag_unknown_reason;
  // While no primary is reachable: the lag as of the primary's last
  // sighting (what the outage rule of the health predicate judges).
  std::optional<double> outage_lag_seconds;
  std::optional<std::uint64_t> outage_lag_bytes;
  // Whether the adopted primary's pg_stat_replication has a row with this
  // server's application_name (unset while the primary is not up, or for
  // the primary itself).
  std::optional<bool> standby_connected;
  // Whether its WAL receiver streams: from its own pg_stat_wal_receiver,
  // else from its upstream's pg_stat_replication; unset when neither tells
  // (or it is not in recovery).
  std::optional<bool> streaming;
  // With the heartbeat on (Snapshot::heartbeat.enabled), a server in
  // recovery: the agent's wall-clock time at the poll minus the newest
  // heartbeat the server shows (write-to-read visibility on one clock).
  // Unset while not up, not in recovery, or no heartbeat is visible
  // (heartbeat_unknown_reason says why).
  std::optional<double> heartbeat_lag_seconds;
  std::optional<std::int64_t> heartbeat_seq;  // the newest visible
  std::string heartbeat_unknown_reason;
  // lag_seconds over the last minutes (cluster/lag_trail.h), oldest first;
  // shared by the snapshots between two changes of it. Null before the
  // first poll.
  std::shared_ptr<const LagTrailPoints> lag_trail;

  HealthVerdict health;  // on the latest data
  RoutingView routing;   // the model's state
};

// The cluster's observed topology.
struct TopologyView {
  TopologyState state = TopologyState::kNoPrimary;
  int primary = 0;                // server index of the adopted primary
  bool primary_observed = false;  // adopted from an observation
  std::vector<int> claimants;     // servers out of recovery
  std::optional<std::int64_t> timeline;
  std::uint64_t primary_changes = 0;
  std::uint64_t timeline_changes = 0;
  // The adopted primary's last known WAL position and when it was seen.
  std::optional<Lsn> primary_last_lsn;
  std::optional<WallTime> primary_last_seen;
  // No primary is reachable, and reads go to replicas whose data stops at
  // primary_last_lsn (or earlier).
  bool stale_reads = false;
};

// The heartbeat writer's state (heartbeat.enabled only).
struct HeartbeatView {
  bool enabled = false;
  Duration interval{};
  std::string table;
  std::uint64_t writes_total = 0;        // attempts finished
  std::uint64_t write_errors_total = 0;  // of which failed
  bool last_write_ok = false;
  std::string last_error;  // of the last failed attempt, scrubbed
  int last_target = -1;    // server index written to last
  std::optional<std::int64_t> last_seq;
  std::optional<WallTime> last_written_at;  // of the last successful write
};

// What the HA manager says (discovery.patroni only), beside what the
// servers say: the members and leader of its last successful answer.
struct ManagerView {
  bool enabled = false;
  bool ok = false;         // the last discovery succeeded
  std::string last_error;  // of the last failed one; no secrets
  std::string url;         // the URL that answered last
  std::optional<WallTime> last_success;
  std::vector<PatroniMember> members;  // by name
  std::string leader;                  // "" for none
};

struct Snapshot {
  std::string cluster;
  bool replicas_enabled = true;
  std::optional<int> app_pool_size;
  LagStatusConfig lag_status;
  RoutingConfig routing_config;
  LagTrailLimits lag_trail_limits;  // what ServerView::lag_trail covers
  // What RoutingView::recent_reads covers (ClusterState::ReadsWindow).
  Duration reads_window = std::chrono::minutes(1);
  // [0] the configured primary, then the replicas in configured order.
  std::vector<ServerView> servers;
  // The configured pgbouncers, in order (config.pgbouncers).
  std::vector<PgBouncerView> pgbouncers;
  TopologyView topology;
  HeartbeatView heartbeat;
  ManagerView manager;
  bool routing_active = false;  // the routing loop has checked once
  // Reads go to the primary because no server is in rotation.
  bool failover_active = false;
  // The lag history as restored at start ("restored", "missing", ...).
  std::string state_file_status;
  WallTime taken_at{};
  // Which change of its cluster's state this is: equal for two snapshots
  // of the same state between two changes, and never the same for another
  // change or another state (a new one after a reload); 0 only for a
  // snapshot no ClusterState made.
  std::uint64_t change = 0;

  const ServerView& primary() const { return servers.at(0); }
  std::span<const ServerView> replicas() const {
    return std::span<const ServerView>(servers).subspan(1);
  }
};

}  // namespace pgre

#endif  // PGRE_CLUSTER_SNAPSHOT_H_
