// Collector "stat_replication": the primary's view of its standbys.
#include <string_view>
#include <utility>

#include "collectors/builtin.h"
#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

// pg_stat_replication's two halves, joined per WAL sender: the view reads
// every backend's status (O(max_connections), a third of a millisecond per
// 100 connections), while pg_stat_get_activity(pid) for each WAL sender
// reads it once per transaction and not at all on a server without WAL
// senders (most standbys): this is what a thousand polls a second cost the
// servers. host() drops the "/32" netmask that inet's text form carries.
constexpr std::string_view kQuery = R"sql(SELECT
  a.application_name,
  host(a.client_addr) AS client_addr,
  w.state,
  w.sync_state,
  w.sent_lsn - '0/0' AS sent_lsn,
  w.write_lsn - '0/0' AS write_lsn,
  w.flush_lsn - '0/0' AS flush_lsn,
  w.replay_lsn - '0/0' AS replay_lsn,
  extract(epoch FROM w.write_lag) AS write_lag,
  extract(epoch FROM w.flush_lag) AS flush_lag,
  extract(epoch FROM w.replay_lag) AS replay_lag
FROM pg_stat_get_wal_senders() w
CROSS JOIN LATERAL pg_stat_get_activity(w.pid) a
ORDER BY a.application_name, w.pid)sql";

enum Col {
  kApplicationName,
  kClientAddr,
  kState,
  kSyncState,
  kSentLsn,
  kWriteLsn,
  kFlushLsn,
  kReplayLsn,
  kWriteLag,
  kFlushLag,
  kReplayLag,
};
constexpr std::string_view kColumns[] = {
    "application_name", "client_addr", "state",      "sync_state",
    "sent_lsn",         "write_lsn",   "flush_lsn",  "replay_lsn",
    "write_lag",        "flush_lag",   "replay_lag",
};

class StatReplicationCollector : public Collector {
 public:
  std::string_view Name() const override { return "stat_replication"; }
  std::string_view Query() const override { return kQuery; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    std::vector<StandbyRow> standbys;
    standbys.reserve(result.rows.size());
    for (size_t i = 0; i < result.rows.size(); ++i) {
      RowReader row(result, i);
      StandbyRow r;
      r.application_name = row.Text(kApplicationName);
      r.client_addr = row.Text(kClientAddr);
      r.state = row.Text(kState);
      r.sync_state = row.Text(kSyncState);
      r.sent_lsn = row.OptLsn(kSentLsn);
      r.write_lsn = row.OptLsn(kWriteLsn);
      r.flush_lsn = row.OptLsn(kFlushLsn);
      r.replay_lsn = row.OptLsn(kReplayLsn);
      r.write_lag = row.OptDouble(kWriteLag);
      r.flush_lag = row.OptDouble(kFlushLag);
      r.replay_lag = row.OptDouble(kReplayLag);
      if (!row.status().ok()) return row.status();
      standbys.push_back(std::move(r));
    }
    sample->standbys = std::move(standbys);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Collector> NewStatReplicationCollector() {
  return std::make_unique<StatReplicationCollector>();
}

}  // namespace pgre
