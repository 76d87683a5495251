#include "engine/pgbouncer_worker.h"

#include <catch2/catch.hpp>
#include <optional>

#include "engine/fake_async_session.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

QueryResult Result(std::vector<std::string> columns,
                   std::vector<std::vector<std::optional<std::string>>> rows) {
  QueryResult r;
  r.ok = true;
  r.columns = std::move(columns);
  r.rows = std::move(rows);
  return r;
}

struct Fixture {
  Fixture() {
    config.poll_interval = seconds(1);
    pgbouncer.connection.name = "bouncer1";
    pgbouncer.server = "primary";
    fake = factory.Server("bouncer1");
    fake->Answer(
        "SHOW POOLS",
        Result({"database", "user", "cl_active", "cl_waiting", "sv_active",
                "sv_idle", "sv_used", "maxwait", "maxwait_us", "pool_mode"},
               {{"app", "u", "3", "2", "2", "0", "0", "1", "500000",
                 "transaction"}}));
    fake->Answer("SHOW STATS",
                 Result({"database", "total_xact_count"}, {{"app", "9"}}));
    fake->Answer("SHOW DATABASES",
                 Result({"name", "pool_size"}, {{"app", "2"}}));
    fake->Answer("SHOW CONFIG",
                 Result({"key", "value"}, {{"max_client_conn", "100"}}));
    fake->Answer("SHOW VERSION", Result({"version"}, {{"PgBouncer 1.18.0"}}));
  }
  PgBouncerWorker& Worker() {
    if (!worker) {
      worker = std::make_unique<PgBouncerWorker>(
          pgbouncer, config, &loop, &factory, &clock,
          [this](const PgBouncerOutcome& o) {
            outcome = o;
            ++outcomes;
          });
    }
    return *worker;
  }
  std::optional<PgBouncerOutcome> Poll() {
    outcome.reset();
    Worker().Poll();
    loop.RunPending();
    return outcome;
  }

  Config config;
  PgBouncerConfig pgbouncer;
  EventLoop loop;
  FakeClock clock;
  FakeAsyncSessionFactory factory;
  std::shared_ptr<FakeAsyncServer> fake;
  std::unique_ptr<PgBouncerWorker> worker;
  std::optional<PgBouncerOutcome> outcome;
  int outcomes = 0;
};

TEST_CASE("PgBouncerWorker: one simple-query session, every SHOW in a poll",
          "[pgbouncer]") {
  Fixture f;
  auto out = f.Poll();
  REQUIRE(out.has_value());
  CHECK(out->ok);
  CHECK(out->error.empty());
  CHECK(f.fake->simple);  // CreateSimple: no SET, no pipeline
  REQUIRE(f.fake->batch_log.size() == 1);
  CHECK(f.fake->batch_log[0] ==
        std::vector<std::string>{"SHOW POOLS", "SHOW STATS", "SHOW DATABASES",
                                 "SHOW CONFIG", "SHOW VERSION"});
  REQUIRE(out->sample.pools.size() == 1);
  CHECK(out->sample.pools[0].cl_waiting == 2);
  CHECK(out->sample.pools[0].maxwait_seconds == Approx(1.5));
  CHECK(out->sample.max_client_conn == 100);
  CHECK(out->sample.version == "PgBouncer 1.18.0");
  // The second poll reuses the connection.
  f.Poll();
  CHECK(f.fake->connects == 1);
  CHECK(f.fake->batches == 2);
}

TEST_CASE("PgBouncerWorker: a failing SHOW marks only its collector",
          "[pgbouncer]") {
  Fixture f;
  f.fake->answers.erase("SHOW STATS");
  auto out = f.Poll();
  REQUIRE(out.has_value());
  CHECK(out->ok);
  CHECK(out->error == "stats: no answer scripted");
  CHECK_FALSE(out->sample.collector_success.at("stats"));
  CHECK(out->sample.collector_success.at("pools"));
  CHECK(out->sample.pools.size() == 1);
}

TEST_CASE("PgBouncerWorker: down, backoff, back up", "[pgbouncer]") {
  Fixture f;
  f.fake->reachable = false;
  auto out = f.Poll();
  REQUIRE(out.has_value());
  CHECK_FALSE(out->ok);
  CHECK(out->error == "connect: connection refused");
  // Backing off: no attempt within the poll interval.
  CHECK_FALSE(f.Poll().has_value());
  CHECK(f.fake->connects == 1);
  f.clock.Advance(seconds(1));
  f.fake->reachable = true;
  out = f.Poll();
  REQUIRE(out.has_value());
  CHECK(out->ok);
  // A lost connection fails the poll and closes the session.
  f.fake->break_on_query = true;
  out = f.Poll();
  REQUIRE(out.has_value());
  CHECK_FALSE(out->ok);
  CHECK_THAT(out->error, Catch::StartsWith("query: "));
}

TEST_CASE("PgBouncerWorker: a hung console is not polled twice",
          "[pgbouncer]") {
  Fixture f;
  f.fake->hang = true;
  CHECK_FALSE(f.Poll().has_value());
  CHECK_FALSE(f.Poll().has_value());
  CHECK(f.fake->connects == 1);
}

}  // namespace
}  // namespace pgre
