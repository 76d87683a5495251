// Collector "replication_slots": slots and the WAL each one holds back.
#include <string_view>
#include <utility>

#include "collectors/builtin.h"
#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

// In recovery the WAL on disk reaches the greater of the last received and
// the last replayed LSN (GREATEST ignores a NULL one); pg_current_wal_lsn()
// would fail there. A standby's slot can briefly point past that end, hence
// the clamp at 0 -- done with CASE, since GREATEST(NULL, 0) would turn a
// NULL restart_lsn into 0.
constexpr std::string_view kQuery = R"sql(SELECT
  slot_name,
  slot_type,
  active,
  CASE WHEN retained < 0 THEN 0 ELSE retained END AS retained_bytes,
  wal_status,
  safe_wal_size
FROM (
  SELECT *,
    CASE WHEN pg_is_in_recovery()
      THEN GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
      ELSE pg_current_wal_lsn()
    END - restart_lsn AS retained
  FROM pg_replication_slots) s
ORDER BY slot_name)sql";

enum Col {
  kSlotName,
  kSlotType,
  kActive,
  kRetainedBytes,
  kWalStatus,
  kSafeWalSize,
};
constexpr std::string_view kColumns[] = {
    "slot_name",      "slot_type",  "active",
    "retained_bytes", "wal_status", "safe_wal_size",
};

class ReplicationSlotsCollector : public Collector {
 public:
  std::string_view Name() const override { return "replication_slots"; }
  std::string_view Query() const override { return kQuery; }
  // wal_status, safe_wal_size / written_lsn, flushed_lsn: PostgreSQL 13.
  int MinServerVersion() const override { return 130000; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    std::vector<SlotRow> slots;
    slots.reserve(result.rows.size());
    for (size_t i = 0; i < result.rows.size(); ++i) {
      RowReader row(result, i);
      SlotRow r;
      r.slot_name = row.Text(kSlotName);
      r.slot_type = row.Text(kSlotType);
      r.active = row.Bool(kActive);
      r.retained_bytes = row.OptUint64(kRetainedBytes);
      r.wal_status = row.Text(kWalStatus);
      r.safe_wal_size = row.OptInt64(kSafeWalSize);
      if (!row.status().ok()) return row.status();
      slots.push_back(std::move(r));
    }
    sample->slots = std::move(slots);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Collector> NewReplicationSlotsCollector() {
  return std::make_unique<ReplicationSlotsCollector>();
}

}  // namespace pgre
