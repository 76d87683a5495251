// ServerSample: what one poll of one server observed. Plain data, filled by
// collectors (collectors/collector.h) and read by the snapshot, the metrics
// renderer, the JSON endpoints and the routing model.
#ifndef PGRE_COLLECTORS_SAMPLE_H_
#define PGRE_COLLECTORS_SAMPLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/lsn.h"

namespace pgre {

// One row of pg_stat_replication.
struct StandbyRow {
  std::string application_name;
  std::string client_addr;  // empty for a unix socket
  std::string state;        // streaming, catchup, startup, backup, stopping
  std::string sync_state;   // async, sync, potential, quorum
  std::optional<Lsn> sent_lsn, write_lsn, flush_lsn, replay_lsn;
  // Server-reported lags in seconds; NULL from the server is kept as nullopt.
  std::optional<double> write_lag, flush_lag, replay_lag;
};

// One row of pg_replication_slots.
struct SlotRow {
  std::string slot_name;
  std::string slot_type;  // physical, logical
  bool active = false;
  std::optional<std::uint64_t> retained_bytes;  // current LSN - restart_lsn
  std::string wal_status;  // reserved, extended, unreserved, lost, or empty
  std::optional<std::int64_t> safe_wal_size;
};

// The row of pg_stat_wal_receiver (there is at most one).
struct WalReceiverRow {
  std::string status;  // streaming, starting, waiting, stopping, ...
  std::optional<Lsn> written_lsn, flushed_lsn, latest_end_lsn;
  std::optional<std::int64_t> received_tli;
  std::optional<double> last_msg_send_time;     // unix seconds, sender clock
  std::optional<double> last_msg_receipt_time;  // unix seconds, own clock
  std::string sender_host;
  std::optional<int> sender_port;
  std::string slot_name;
};

// The states pg_stat_activity reports for a client backend. Published
// series and JSON objects list each of them always (0 when none) so that
// they do not come and go.
inline constexpr const char* kConnectionStates[] = {
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
};

struct ServerSample {
  // Collector "server": recovery state, WAL positions, settings.
  bool in_recovery = false;
  std::optional<Lsn> current_lsn;  // pg_current_wal_lsn(); not in recovery
  std::optional<Lsn> receive_lsn;  // pg_last_wal_receive_lsn(); in recovery
  std::optional<Lsn> replay_lsn;   // pg_last_wal_replay_lsn(); in recovery
  std::optional<double> last_xact_replay_timestamp;  // unix s, server clock
  std::optional<bool> replay_paused;
  std::optional<std::int64_t> timeline;
  std::optional<int> max_connections;
  std::optional<int> superuser_reserved_connections;
  // pg_control_system(): shared by a primary and all its physical replicas.
  std::optional<std::uint64_t> system_identifier;
  // server_version_num, e.g. 150018 (from the connection).
  int server_version = 0;

  // Collector "stat_replication".
  std::vector<StandbyRow> standbys;
  // Collector "replication_slots".
  std::vector<SlotRow> slots;
  // Collector "wal_receiver": nullopt when the view has no row.
  std::optional<WalReceiverRow> wal_receiver;
  // Collector "activity": client backends by state (the agent's own
  // connection excluded). Keys are pg_stat_activity.state values.
  std::map<std::string, std::int64_t> connections_by_state;
  // Collector "heartbeat" (heartbeat.enabled only): the newest heartbeat
  // the server shows, written_at in unix seconds of the agent's clock;
  // nullopt when the table has no row (or the collector did not run).
  std::optional<double> heartbeat_written_at;
  std::optional<std::int64_t> heartbeat_seq;

  // Per collector name: whether it succeeded in this poll. Fields of a
  // collector that failed keep their defaults.
  std::map<std::string, bool> collector_success;

  // Whether collector `name` ran and succeeded in this poll.
  bool CollectorOk(std::string_view name) const {
    auto it = collector_success.find(std::string(name));
    return it != collector_success.end() && it->second;
  }
};

}  // namespace pgre

#endif  // PGRE_COLLECTORS_SAMPLE_H_
