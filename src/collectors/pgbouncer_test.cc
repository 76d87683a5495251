#include "collectors/pgbouncer.h"

#include <catch2/catch.hpp>

#include "collectors/test_results.h"

namespace pgre {
namespace {

using testing::ErrorResult;
using testing::OkResult;

// Shaped exactly as PgBouncer 1.18.0 (Debian 12) answers, captured with
// psql -A from the admin console of the test fixture's pgbouncer.
QueryResult Pools118() {
  return OkResult(
      {"database", "user", "cl_active", "cl_waiting", "cl_active_cancel_req",
       "cl_waiting_cancel_req", "sv_active", "sv_active_cancel",
       "sv_being_canceled", "sv_idle", "sv_used", "sv_tested", "sv_login",
       "maxwait", "maxwait_us", "pool_mode"},
      {{"app", "postgres", "2", "3", "0", "0", "2", "0", "0", "0", "1", "0",
        "0", "4", "250000", "transaction"},
       {"pgbouncer", "pgbouncer", "1", "0", "0", "0", "0", "0", "0", "0", "0",
        "0", "0", "0", "0", "statement"}});
}

QueryResult Stats118() {
  return OkResult(
      {"database", "total_xact_count", "total_query_count", "total_received",
       "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
       "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
       "avg_xact_time", "avg_query_time", "avg_wait_time"},
      {{"app", "10", "20", "3000", "4000", "5000000", "2500000", "1500000", "1",
        "2", "300", "400", "500000", "125000", "150000"}});
}

QueryResult Databases118() {
  return OkResult(
      {"name", "host", "port", "database", "force_user", "pool_size",
       "min_pool_size", "reserve_pool", "pool_mode", "max_connections",
       "current_connections", "paused", "disabled"},
      {{"app", "127.0.0.1", "5999", "postgres", "", "2", "0", "0", "", "0", "1",
        "0", "0"},
       {"pgbouncer", "", "16432", "pgbouncer", "pgbouncer", "2", "0", "0",
        "statement", "0", "0", "0", "0"}});
}

QueryResult Config118() {
  return OkResult({"key", "value", "default", "changeable"},
                  {{"admin_users", "postgres", "", "yes"},
                   {"max_client_conn", "100", "100", "yes"},
                   {"pool_mode", "transaction", "session", "yes"}});
}

QueryResult Version118() {
  return OkResult({"version"}, {{"PgBouncer 1.18.0"}});
}

std::vector<QueryResult> All() {
  return {Pools118(), Stats118(), Databases118(), Config118(), Version118()};
}

TEST_CASE("PgBouncer 1.18 answers parse by column name", "[pgbouncer]") {
  PgBouncerSample s;
  std::string error;
  FillPgBouncerSample(All(), &s, &error);
  CHECK(error.empty());
  for (const auto& c : PgBouncerCollectors()) {
    CHECK(s.collector_success.at(std::string(c.name)));
  }
  REQUIRE(s.pools.size() == 2);
  const PgBouncerPool& p = s.pools[0];
  CHECK(p.database == "app");
  CHECK(p.user == "postgres");
  CHECK(p.cl_active == 2);
  CHECK(p.cl_waiting == 3);
  CHECK(p.sv_active == 2);
  CHECK(p.sv_idle == 0);
  CHECK(p.sv_used == 1);
  CHECK(p.maxwait_seconds == Approx(4.25));
  CHECK(p.pool_mode == "transaction");

  REQUIRE(s.stats.size() == 1);
  CHECK(s.stats[0].total_xact_count == 10);
  CHECK(s.stats[0].total_received == 3000);
  CHECK(s.stats[0].total_xact_time == Approx(5.0));
  CHECK(s.stats[0].total_wait_time == Approx(1.5));
  CHECK(s.stats[0].avg_recv == 300);
  CHECK(s.stats[0].avg_query_time == Approx(0.125));

  REQUIRE(s.databases.size() == 2);
  CHECK(s.databases[0].name == "app");
  CHECK(s.databases[0].target == "postgres");
  CHECK(s.databases[0].pool_size == 2);
  CHECK(s.databases[0].current_connections == 1);
  CHECK(s.databases[0].pool_mode.empty());
  CHECK(s.max_client_conn == 100);
  CHECK(s.default_pool_mode == "transaction");
  CHECK(s.version == "PgBouncer 1.18.0");
}

TEST_CASE("PgBouncer: columns are found by name, in any order or version",
          "[pgbouncer]") {
  // An older PgBouncer: no maxwait_us, no cancel columns, other order.
  QueryResult pools =
      OkResult({"pool_mode", "maxwait", "sv_used", "sv_idle", "sv_active",
                "cl_waiting", "cl_active", "user", "database"},
               {{"session", "7", "0", "1", "2", "5", "3", "u", "d"}});
  PgBouncerSample s;
  std::string error;
  FillPgBouncerSample(
      {pools, Stats118(), Databases118(), Config118(), Version118()}, &s,
      &error);
  CHECK(error.empty());
  REQUIRE(s.pools.size() == 1);
  CHECK(s.pools[0].cl_waiting == 5);
  CHECK(s.pools[0].sv_active == 2);
  CHECK(s.pools[0].maxwait_seconds == 7);
}

TEST_CASE("PgBouncer: a failing collector marks only itself", "[pgbouncer]") {
  auto results = All();
  results[1] = ErrorResult("invalid command 'SHOW STATS' (SQLSTATE 08P01)");
  results[3] = OkResult({"key", "value"}, {{"pool_mode", "session"}});
  PgBouncerSample s;
  std::string error;
  FillPgBouncerSample(results, &s, &error);
  CHECK(error == "stats: invalid command 'SHOW STATS' (SQLSTATE 08P01)");
  CHECK(s.collector_success.at("pools"));
  CHECK_FALSE(s.collector_success.at("stats"));
  CHECK(s.collector_success.at("databases"));
  CHECK_FALSE(s.collector_success.at("config"));
  CHECK(s.collector_success.at("version"));
  CHECK(s.pools.size() == 2);
  CHECK(s.stats.empty());
  CHECK_FALSE(s.max_client_conn.has_value());

  // Garbage in a number, a missing key column, a short result list.
  results = All();
  results[0].rows[0][3] = "lots";
  results[2] = OkResult({"host"}, {{"x"}});
  results.pop_back();
  PgBouncerSample t;
  error.clear();
  FillPgBouncerSample(results, &t, &error);
  CHECK_THAT(error, Catch::StartsWith("pools: row 0, column \"cl_waiting\": "
                                      "not a number"));
  CHECK_FALSE(t.collector_success.at("pools"));
  CHECK(t.pools.empty());
  CHECK_FALSE(t.collector_success.at("databases"));
  CHECK_FALSE(t.collector_success.at("version"));
  CHECK(t.collector_success.at("stats"));
}

}  // namespace
}  // namespace pgre
