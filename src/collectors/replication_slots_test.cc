#include <catch2/catch.hpp>

#include "collectors/builtin.h"
#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;

const std::vector<std::string> kColumns = {"slot_name",  "slot_type",
                                           "active",     "retained_bytes",
                                           "wal_status", "safe_wal_size"};

const Row kActive = {"replica1", "physical", "t",
                     "16384",    "reserved", "1073741824"};

TEST_CASE("replication_slots collector: name and query",
          "[replication_slots]") {
  auto c = NewReplicationSlotsCollector();
  CHECK(c->Name() == "replication_slots");
  const std::string q(c->Query());
  CHECK_THAT(q, Catch::Contains("pg_replication_slots"));
  // pg_current_wal_lsn() only outside recovery.
  CHECK_THAT(q, Catch::Contains("CASE WHEN pg_is_in_recovery()"));
}

TEST_CASE("replication_slots collector: rows", "[replication_slots]") {
  Row never_used = {"spare",      "physical",   "f",
                    std::nullopt, std::nullopt, std::nullopt};
  Row logical = {"cdc",  "logical", "f", "18446744073709551615",
                 "lost", "-4096"};
  QueryResult r = OkResult(kColumns, {kActive, never_used, logical});
  ServerSample s;
  REQUIRE(NewReplicationSlotsCollector()->Parse(r, &s).ok());
  REQUIRE(s.slots.size() == 3);
  CHECK(s.slots[0].slot_name == "replica1");
  CHECK(s.slots[0].slot_type == "physical");
  CHECK(s.slots[0].active);
  CHECK(s.slots[0].retained_bytes == 16384u);
  CHECK(s.slots[0].wal_status == "reserved");
  CHECK(s.slots[0].safe_wal_size == 1073741824);
  CHECK_FALSE(s.slots[1].active);
  CHECK_FALSE(s.slots[1].retained_bytes.has_value());
  CHECK(s.slots[1].wal_status.empty());
  CHECK_FALSE(s.slots[1].safe_wal_size.has_value());
  CHECK(s.slots[2].slot_type == "logical");
  CHECK(s.slots[2].retained_bytes == 18446744073709551615u);
  CHECK(s.slots[2].safe_wal_size == -4096);  // negative once past the limit
}

TEST_CASE("replication_slots collector: garbage values are errors",
          "[replication_slots]") {
  struct Case {
    size_t col;
    std::optional<std::string> value;
    const char* message_part;
  };
  const Case cases[] = {
      {2, std::nullopt, "active\": unexpected NULL"},
      {2, "yes", "active\": not a boolean"},
      {3, "-1", "retained_bytes\": not an unsigned 64-bit integer"},
      {3, "12.5", "retained_bytes\": not an unsigned 64-bit integer"},
      {5, "1GB", "safe_wal_size\": not a 64-bit integer"},
  };
  for (const Case& c : cases) {
    Row bad = kActive;
    bad[c.col] = c.value;
    QueryResult r = OkResult(kColumns, {bad});
    INFO(c.message_part);
    ServerSample s;
    Status st = NewReplicationSlotsCollector()->Parse(r, &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(c.message_part));
    CHECK(s.slots.empty());
  }
}

TEST_CASE("replication_slots collector: wrong shape is an error",
          "[replication_slots]") {
  auto c = NewReplicationSlotsCollector();
  ServerSample s;
  std::vector<std::string> extra = kColumns;
  extra.push_back("temporary");
  Row extra_row = kActive;
  extra_row.push_back("f");
  CHECK_THAT(c->Parse(OkResult(extra, {extra_row}), &s).message(),
             Catch::Contains("unexpected columns"));
  CHECK_FALSE(c->Parse(OkResult(kColumns, {extra_row}), &s).ok());
  CHECK(s.slots.empty());
}

}  // namespace
}  // namespace pgre
