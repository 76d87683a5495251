#include "collectors/collector.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

TEST_CASE("DefaultCollectors: stable order and names", "[collector]") {
  const auto collectors = DefaultCollectors();
  std::vector<std::string> names;
  for (const auto& c : collectors) {
    REQUIRE(c != nullptr);
    names.emplace_back(c->Name());
  }
  CHECK(names == std::vector<std::string>{"server", "stat_replication",
                                          "replication_slots", "wal_receiver",
                                          "activity"});
}

TEST_CASE("DefaultCollectors: one parameterless statement each",
          "[collector]") {
  std::set<std::string> queries;
  for (const auto& c : DefaultCollectors()) {
    const std::string q(c->Query());
    INFO(c->Name());
    CHECK_THAT(q, Catch::StartsWith("SELECT"));
    CHECK(q.find(';') == std::string::npos);
    CHECK(q.find('$') == std::string::npos);
    queries.insert(q);
  }
  CHECK(queries.size() == 5);
}

TEST_CASE("Collectors reject a failed result with its error", "[collector]") {
  for (const auto& c : DefaultCollectors()) {
    INFO(c->Name());
    ServerSample s;
    Status st = c->Parse(ErrorResult("canceling statement due to "
                                     "statement timeout (SQLSTATE 57014)"),
                         &s);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(st.message(), Catch::Contains("57014"));
  }
}

}  // namespace
}  // namespace pgre
