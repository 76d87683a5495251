// Collector "wal_receiver": a standby's view of its upstream.
#include <string_view>
#include <utility>

#include "collectors/builtin.h"
#include "collectors/row_reader.h"

namespace pgre {
namespace {

using collectors_internal::CheckShape;
using collectors_internal::RowReader;

// conninfo is deliberately not selected: it may carry a password.
constexpr std::string_view kQuery = R"sql(SELECT
  status,
  written_lsn - '0/0' AS written_lsn,
  flushed_lsn - '0/0' AS flushed_lsn,
  latest_end_lsn - '0/0' AS latest_end_lsn,
  received_tli,
  extract(epoch FROM last_msg_send_time) AS last_msg_send_time,
  extract(epoch FROM last_msg_receipt_time) AS last_msg_receipt_time,
  sender_host,
  sender_port,
  slot_name
FROM pg_stat_wal_receiver)sql";

enum Col {
  kStatus,
  kWrittenLsn,
  kFlushedLsn,
  kLatestEndLsn,
  kReceivedTli,
  kLastMsgSendTime,
  kLastMsgReceiptTime,
  kSenderHost,
  kSenderPort,
  kSlotName,
};
constexpr std::string_view kColumns[] = {
    "status",
    "written_lsn",
    "flushed_lsn",
    "latest_end_lsn",
    "received_tli",
    "last_msg_send_time",
    "last_msg_receipt_time",
    "sender_host",
    "sender_port",
    "slot_name",
};

class WalReceiverCollector : public Collector {
 public:
  std::string_view Name() const override { return "wal_receiver"; }
  std::string_view Query() const override { return kQuery; }
  // wal_status, safe_wal_size / written_lsn, flushed_lsn: PostgreSQL 13.
  int MinServerVersion() const override { return 130000; }

  Status Parse(const QueryResult& result, ServerSample* sample) const override {
    Status s = CheckShape(result, kColumns);
    if (!s.ok()) return s;
    if (result.rows.size() > 1) {
      return Status::Error("want at most 1 row, got " +
                           std::to_string(result.rows.size()));
    }
    if (result.rows.empty()) {
      sample->wal_receiver.reset();
      return Status::Ok();
    }
    RowReader row(result, 0);
    WalReceiverRow r;
    r.status = row.Text(kStatus);
    r.written_lsn = row.OptLsn(kWrittenLsn);
    r.flushed_lsn = row.OptLsn(kFlushedLsn);
    r.latest_end_lsn = row.OptLsn(kLatestEndLsn);
    r.received_tli = row.OptInt64(kReceivedTli);
    r.last_msg_send_time = row.OptDouble(kLastMsgSendTime);
    r.last_msg_receipt_time = row.OptDouble(kLastMsgReceiptTime);
    r.sender_host = row.Text(kSenderHost);
    r.sender_port = row.OptInt(kSenderPort);
    r.slot_name = row.Text(kSlotName);
    if (!row.status().ok()) return row.status();
    sample->wal_receiver = std::move(r);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Collector> NewWalReceiverCollector() {
  return std::make_unique<WalReceiverCollector>();
}

}  // namespace pgre
