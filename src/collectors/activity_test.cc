#include <catch2/catch.hpp>

#include "collectors/builtin.h"
#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;

const std::vector<std::string> kColumns = {"state", "count"};

QueryResult Result(std::vector<Row> rows) {
  return OkResult(kColumns, std::move(rows));
}

TEST_CASE("activity collector: name and query", "[activity]") {
  auto c = NewActivityCollector();
  CHECK(c->Name() == "activity");
  const std::string q(c->Query());
  CHECK_THAT(q, Catch::Contains("backend_type = 'client backend'"));
  CHECK_THAT(q, Catch::Contains("pid <> pg_backend_pid()"));
}

TEST_CASE("activity collector: counts by state", "[activity]") {
  ServerSample s;
  s.connections_by_state["stale"] = 9;  // from an earlier poll
  REQUIRE(NewActivityCollector()
              ->Parse(Result({Row{"active", "3"}, Row{"idle", "42"},
                              Row{"idle in transaction", "1"},
                              Row{std::nullopt, "5"}}),
                      &s)
              .ok());
  CHECK(s.connections_by_state ==
        std::map<std::string, std::int64_t>{
            {"active", 3}, {"idle", 42}, {"idle in transaction", 1}});
}

TEST_CASE("activity collector: no connections", "[activity]") {
  ServerSample s;
  s.connections_by_state["idle"] = 1;
  REQUIRE(NewActivityCollector()->Parse(Result({}), &s).ok());
  CHECK(s.connections_by_state.empty());
}

TEST_CASE("activity collector: garbage is an error", "[activity]") {
  struct Case {
    const char* name;
    std::vector<Row> rows;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"count not a number", {Row{"idle", "many"}}, "not a 64-bit integer"},
      {"count NULL", {Row{"idle", std::nullopt}}, "non-negative integer"},
      {"count negative", {Row{"idle", "-1"}}, "non-negative integer"},
      {"duplicate state",
       {Row{"idle", "1"}, Row{"idle", "2"}},
       "row 1: duplicate state \"idle\""},
      {"short row", {Row{"idle"}}, "row 0 has 1 values"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    ServerSample s;
    Status st = NewActivityCollector()->Parse(Result(c.rows), &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains(c.message_part));
    CHECK(s.connections_by_state.empty());
  }
}

TEST_CASE("activity collector: wrong columns are an error", "[activity]") {
  ServerSample s;
  CHECK_THAT(
      NewActivityCollector()->Parse(OkResult({"count", "state"}), &s).message(),
      Catch::Contains("unexpected columns"));
}

}  // namespace
}  // namespace pgre
