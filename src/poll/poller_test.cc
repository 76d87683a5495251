#include "poll/poller.h"

#include <catch2/catch.hpp>

#include "pg/fake_session.h"

namespace pgre {
namespace {

using std::chrono::seconds;

// A collector that reads one integer into max_connections.
class IntCollector : public Collector {
 public:
  IntCollector(std::string name, std::string query, int min_version = 100000)
      : name_(std::move(name)),
        query_(std::move(query)),
        min_version_(min_version) {}
  std::string_view Name() const override { return name_; }
  std::string_view Query() const override { return query_; }
  int MinServerVersion() const override { return min_version_; }
  Status Parse(const QueryResult& r, ServerSample* s) const override {
    if (r.rows.size() != 1 || !r.rows[0][0]) return Status::Error("shape");
    s->max_connections = std::stoi(*r.rows[0][0]);
    return Status::Ok();
  }

 private:
  std::string name_, query_;
  int min_version_;
};

QueryResult Rows(std::vector<std::optional<std::string>> row) {
  QueryResult r;
  r.ok = true;
  r.columns.resize(row.size());
  r.rows.push_back(std::move(row));
  return r;
}

struct Fixture {
  Fixture() {
    config.poll_interval = seconds(1);
    server.name = "replica1";
    collectors.push_back(std::make_unique<IntCollector>("server", "Q1"));
    collectors.push_back(std::make_unique<IntCollector>("activity", "Q2"));
    fake = factory.Server("replica1");
    fake->Answer("Q1", Rows({"100"}));
    fake->Answer("Q2", Rows({"7"}));
  }
  Config config;
  ServerConfig server;
  FakeSessionFactory factory;
  std::shared_ptr<FakeServer> fake;
  std::vector<std::unique_ptr<Collector>> collectors;
  FakeClock clock;
};

TEST_CASE("a poll runs every collector in one batch", "[poller]") {
  Fixture f;
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK(f.fake->batches == 1);
  CHECK(f.fake->connects == 1);
  CHECK(out->sample.collector_success["server"]);
  CHECK(out->sample.collector_success["activity"]);
  // The connection persists across polls.
  REQUIRE(poller.PollOnce());
  CHECK(f.fake->connects == 1);
  CHECK(f.fake->batches == 2);
}

TEST_CASE("a failing collector never breaks the others", "[poller]") {
  Fixture f;
  QueryResult error;
  error.error = "permission denied";
  f.fake->Answer("Q2", error);
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK(out->sample.collector_success["server"]);
  CHECK_FALSE(out->sample.collector_success["activity"]);
  CHECK(out->sample.max_connections == 100);
}

TEST_CASE("garbage from a lying server fails only that collector", "[poller]") {
  Fixture f;
  f.fake->Answer("Q2", Rows({std::nullopt}));
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK_FALSE(out->sample.collector_success["activity"]);
}

TEST_CASE("a server older than a collector's minimum skips only that one",
          "[poller]") {
  Fixture f;
  f.collectors.push_back(
      std::make_unique<IntCollector>("wal_receiver", "Q13", 130000));
  f.fake->Answer("Q13", Rows({"5"}));
  f.fake->server_version = 120017;  // PostgreSQL 12.17
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK(out->ok);  // the server stays up: no eviction for an old version
  CHECK(out->sample.server_version == 120017);
  CHECK(out->sample.collector_success["server"]);
  CHECK(out->sample.collector_success["activity"]);
  CHECK(out->sample.collector_success.count("wal_receiver") == 1);
  CHECK_FALSE(out->sample.collector_success["wal_receiver"]);
  CHECK(out->sample.max_connections == 7);  // Q13 never ran
  // A newer server runs it.
  f.fake->server_version = 150018;
  f.fake->reachable = false;
  poller.PollOnce();  // drops the connection
  f.fake->reachable = true;
  f.clock.Advance(seconds(60));
  out = poller.PollOnce();
  REQUIRE(out);
  CHECK(out->sample.collector_success["wal_receiver"]);
  CHECK(out->sample.max_connections == 5);
}

TEST_CASE("without the server collector the poll fails", "[poller]") {
  Fixture f;
  f.fake->Answer("Q1", QueryResult{});
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
}

TEST_CASE("reconnects with exponential backoff", "[poller]") {
  Fixture f;
  f.fake->reachable = false;
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
  CHECK(out->error.find("connect") != std::string::npos);
  CHECK(f.fake->connects == 1);
  // Within the first backoff (1 s) no attempt is made.
  f.clock.Advance(std::chrono::milliseconds(500));
  CHECK_FALSE(poller.PollOnce().has_value());
  f.clock.Advance(std::chrono::milliseconds(500));
  REQUIRE(poller.PollOnce().has_value());
  CHECK(f.fake->connects == 2);
  // Now 2 s.
  f.clock.Advance(std::chrono::milliseconds(1999));
  CHECK_FALSE(poller.PollOnce().has_value());
  f.clock.Advance(std::chrono::milliseconds(1));
  f.fake->reachable = true;
  auto back = poller.PollOnce();
  REQUIRE(back);
  CHECK(back->ok);
  CHECK(f.fake->connects == 3);
}

TEST_CASE("a broken connection fails the poll and reconnects later",
          "[poller]") {
  Fixture f;
  Poller poller(f.server, f.config, &f.factory, &f.collectors, &f.clock);
  REQUIRE(poller.PollOnce()->ok);
  f.fake->break_on_query = true;
  auto out = poller.PollOnce();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
  f.fake->break_on_query = false;
  f.clock.Advance(seconds(1));
  auto back = poller.PollOnce();
  REQUIRE(back);
  CHECK(back->ok);
  CHECK(f.fake->connects == 2);
}

TEST_CASE("backoff doubles up to its cap", "[poller]") {
  Backoff b(seconds(1), seconds(5));
  FakeClock clock;
  const MonoTime now = clock.Now();
  CHECK(b.Failed(now) - now == seconds(1));
  CHECK(b.Failed(now) - now == seconds(2));
  CHECK(b.Failed(now) - now == seconds(4));
  CHECK(b.Failed(now) - now == seconds(5));
  CHECK(b.Failed(now) - now == seconds(5));
  b.Succeeded();
  CHECK(b.Failed(now) - now == seconds(1));
}

}  // namespace
}  // namespace pgre
