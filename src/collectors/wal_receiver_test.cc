#include <catch2/catch.hpp>

#include "collectors/builtin.h"
#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;

const std::vector<std::string> kColumns = {"status",
                                           "written_lsn",
                                           "flushed_lsn",
                                           "latest_end_lsn",
                                           "received_tli",
                                           "last_msg_send_time",
                                           "last_msg_receipt_time",
                                           "sender_host",
                                           "sender_port",
                                           "slot_name"};

const Row kStreaming = {"streaming",         "50595328", "50595300",
                        "50595200",          "3",        "1795703319.510186",
                        "1795703319.510435", "10.0.0.1", "5432",
                        "replica1"};

TEST_CASE("wal_receiver collector: name and query", "[wal_receiver]") {
  auto c = NewWalReceiverCollector();
  CHECK(c->Name() == "wal_receiver");
  const std::string q(c->Query());
  CHECK_THAT(q, Catch::Contains("pg_stat_wal_receiver"));
  // conninfo may hold the upstream's password.
  CHECK_THAT(q, !Catch::Contains("conninfo"));
}

TEST_CASE("wal_receiver collector: streaming row", "[wal_receiver]") {
  ServerSample s;
  REQUIRE(NewWalReceiverCollector()
              ->Parse(OkResult(kColumns, {kStreaming}), &s)
              .ok());
  REQUIRE(s.wal_receiver.has_value());
  const WalReceiverRow& w = *s.wal_receiver;
  CHECK(w.status == "streaming");
  CHECK(w.written_lsn == 50595328u);
  CHECK(w.flushed_lsn == 50595300u);
  CHECK(w.latest_end_lsn == 50595200u);
  CHECK(w.received_tli == 3);
  CHECK(w.last_msg_send_time == Approx(1795703319.510186));
  CHECK(w.last_msg_receipt_time == Approx(1795703319.510435));
  CHECK(w.sender_host == "10.0.0.1");
  CHECK(w.sender_port == 5432);
  CHECK(w.slot_name == "replica1");
}

TEST_CASE("wal_receiver collector: NULLs", "[wal_receiver]") {
  Row starting(kColumns.size(), std::nullopt);
  starting[0] = "starting";
  ServerSample s;
  REQUIRE(NewWalReceiverCollector()
              ->Parse(OkResult(kColumns, {starting}), &s)
              .ok());
  REQUIRE(s.wal_receiver.has_value());
  CHECK(s.wal_receiver->status == "starting");
  CHECK_FALSE(s.wal_receiver->written_lsn.has_value());
  CHECK_FALSE(s.wal_receiver->received_tli.has_value());
  CHECK_FALSE(s.wal_receiver->last_msg_send_time.has_value());
  CHECK_FALSE(s.wal_receiver->sender_port.has_value());
  CHECK(s.wal_receiver->sender_host.empty());
  CHECK(s.wal_receiver->slot_name.empty());
}

TEST_CASE("wal_receiver collector: no row is nullopt", "[wal_receiver]") {
  ServerSample s;
  s.wal_receiver = WalReceiverRow{};  // from an earlier poll
  REQUIRE(NewWalReceiverCollector()->Parse(OkResult(kColumns), &s).ok());
  CHECK_FALSE(s.wal_receiver.has_value());
}

TEST_CASE("wal_receiver collector: garbage is an error", "[wal_receiver]") {
  struct Case {
    size_t col;
    const char* value;
    const char* message_part;
  };
  const Case cases[] = {
      {1, "0/0/0", "written_lsn\": not an LSN"},
      {2, "x", "flushed_lsn\": not an LSN"},
      {3, "-1", "latest_end_lsn\": not an LSN"},
      {4, "1.0", "received_tli\": not a 64-bit integer"},
      {5, "now", "last_msg_send_time\": not a finite number"},
      {6, "-Infinity", "last_msg_receipt_time\": not a finite number"},
      {8, "99999999999", "sender_port\": not a 32-bit integer"},
  };
  for (const Case& c : cases) {
    Row bad = kStreaming;
    bad[c.col] = c.value;
    INFO(c.message_part);
    ServerSample s;
    Status st = NewWalReceiverCollector()->Parse(OkResult(kColumns, {bad}), &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(c.message_part));
    CHECK_FALSE(s.wal_receiver.has_value());
  }
}

TEST_CASE("wal_receiver collector: wrong shape is an error", "[wal_receiver]") {
  auto c = NewWalReceiverCollector();
  ServerSample s;
  CHECK_THAT(
      c->Parse(OkResult(kColumns, {kStreaming, kStreaming}), &s).message(),
      Catch::Contains("want at most 1 row, got 2"));
  std::vector<std::string> with_conninfo = kColumns;
  with_conninfo.push_back("conninfo");
  CHECK_THAT(c->Parse(OkResult(with_conninfo), &s).message(),
             Catch::Contains("unexpected columns"));
  CHECK_FALSE(c->Parse(ErrorResult("e"), &s).ok());
  CHECK_FALSE(s.wal_receiver.has_value());
}

}  // namespace
}  // namespace pgre
