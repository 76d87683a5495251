// Collector "server": recovery state, WAL positions, timeline, settings.
#include <string_view>

#include "collectors/builtin.h"
#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

// pg_current_wal_lsn() and pg_walfile_name() fail in recovery;
// pg_is_wal_replay_paused() fails outside it. pg_is_in_recovery() is
// volatile, so the CASEs are evaluated per execution and really guard them.
// The pg_control_*() functions need pg_monitor (or superuser): without the
// privilege they read NULL instead of failing the whole collector.
constexpr std::string_view kQuery = R"sql(SELECT
  pg_is_in_recovery() AS in_recovery,
  CASE WHEN NOT pg_is_in_recovery()
    THEN pg_current_wal_lsn() - '0/0' END AS current_lsn,
  CASE WHEN pg_is_in_recovery()
    THEN pg_last_wal_receive_lsn() - '0/0' END AS receive_lsn,
  CASE WHEN pg_is_in_recovery()
    THEN pg_last_wal_replay_lsn() - '0/0' END AS replay_lsn,
  CASE WHEN pg_is_in_recovery()
    THEN extract(epoch FROM pg_last_xact_replay_timestamp())
  END AS last_xact_replay_timestamp,
  CASE WHEN pg_is_in_recovery()
    THEN pg_is_wal_replay_paused() END AS replay_paused,
  CASE WHEN NOT pg_is_in_recovery()
    THEN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))
      ::bit(32)::bigint
    WHEN has_function_privilege('pg_control_checkpoint()', 'EXECUTE')
    THEN (pg_control_checkpoint()).timeline_id::bigint
  END AS timeline,
  CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
    THEN (pg_control_system()).system_identifier::text
  END AS system_identifier,
  current_setting('max_connections') AS max_connections,
  current_setting('superuser_reserved_connections')
    AS superuser_reserved_connections)sql";

enum Col {
  kInRecovery,
  kCurrentLsn,
  kReceiveLsn,
  kReplayLsn,
  kLastXactReplayTimestamp,
  kReplayPaused,
  kTimeline,
  kSystemIdentifier,
  kMaxConnections,
  kSuperuserReservedConnections,
};
constexpr std::string_view kColumns[] = {
    "in_recovery",
    "current_lsn",
    "receive_lsn",
    "replay_lsn",
    "last_xact_replay_timestamp",
    "replay_paused",
    "timeline",
    "system_identifier",
    "max_connections",
    "superuser_reserved_connections",
};

class ServerCollector : public Collector {
 public:
  std::string_view Name() const override { return "server"; }
  std::string_view Query() const override { return kQuery; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    if (result.rows.size() != 1) {
      return Status::Error("want 1 row, got " +
                           std::to_string(result.rows.size()));
    }
    RowReader row(result, 0);
    const bool in_recovery = row.Bool(kInRecovery);
    const std::optional<Lsn> current_lsn = row.OptLsn(kCurrentLsn);
    const std::optional<Lsn> receive_lsn = row.OptLsn(kReceiveLsn);
    const std::optional<Lsn> replay_lsn = row.OptLsn(kReplayLsn);
    const std::optional<double> replay_ts =
        row.OptDouble(kLastXactReplayTimestamp);
    const std::optional<bool> paused = row.OptBool(kReplayPaused);
    const std::optional<std::int64_t> timeline = row.OptInt64(kTimeline);
    const std::optional<std::uint64_t> system_identifier =
        row.OptUint64(kSystemIdentifier);
    const std::optional<int> max_connections = row.OptInt(kMaxConnections);
    const std::optional<int> reserved =
        row.OptInt(kSuperuserReservedConnections);
    if (!row.status().ok()) return row.status();
    if (!in_recovery && !current_lsn) {
      return Status::Error("current_lsn is NULL on a server not in recovery");
    }
    sample->in_recovery = in_recovery;
    sample->current_lsn = current_lsn;
    sample->receive_lsn = receive_lsn;
    sample->replay_lsn = replay_lsn;
    sample->last_xact_replay_timestamp = replay_ts;
    sample->replay_paused = paused;
    sample->timeline = timeline;
    sample->system_identifier = system_identifier;
    sample->max_connections = max_connections;
    sample->superuser_reserved_connections = reserved;
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Collector> NewServerCollector() {
  return std::make_unique<ServerCollector>();
}

}  // namespace pgre
