#include "engine/server_worker.h"

#include <catch2/catch.hpp>
#include <optional>

#include "engine/fake_async_session.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
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

// A worker on a loop that is never started: the test runs what the loop
// would (RunPending), and time is a FakeClock.
struct Fixture {
  Fixture() {
    config.poll_interval = seconds(1);
    config.query_timeout = milliseconds(1500);
    server.name = "replica1";
    collectors.push_back(std::make_unique<IntCollector>("server", "Q1"));
    collectors.push_back(std::make_unique<IntCollector>("activity", "Q2"));
    fake = factory.Server("replica1");
    fake->Answer("Q1", Rows({"100"}));
    fake->Answer("Q2", Rows({"7"}));
    fake->Answer("SELECT 1", Rows({"1"}));
  }
  ServerWorker& Worker() {
    if (!worker) {
      worker = std::make_unique<ServerWorker>(server, config, &loop, &factory,
                                              &collectors, &clock,
                                              [this](const PollOutcome& o) {
                                                outcome = o;
                                                ++outcomes;
                                              });
    }
    return *worker;
  }
  // Queues a poll and runs the loop; the outcome, if the poll ran.
  std::optional<PollOutcome> Poll() {
    outcome.reset();
    Worker().QueuePoll();
    loop.RunPending();
    return outcome;
  }
  std::optional<ProbeResult> Probe() {
    std::optional<ProbeResult> result;
    Worker().QueueProbe([&](ProbeResult r) { result = r; });
    loop.RunPending();
    return result;
  }

  Config config;
  ServerConfig server;
  FakeAsyncSessionFactory factory;
  std::shared_ptr<FakeAsyncServer> fake;
  std::vector<std::unique_ptr<Collector>> collectors;
  FakeClock clock;
  EventLoop loop;
  std::unique_ptr<ServerWorker> worker;
  std::optional<PollOutcome> outcome;
  int outcomes = 0;
};

TEST_CASE("a poll runs every collector in one batch", "[server_worker]") {
  Fixture f;
  auto out = f.Poll();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK(f.fake->batches == 1);
  CHECK(f.fake->connects == 1);
  CHECK(f.fake->batch_log[0] == std::vector<std::string>{"Q1", "Q2"});
  CHECK(out->sample.collector_success["server"]);
  CHECK(out->sample.collector_success["activity"]);
  // The connection persists across polls; sessions get the cluster's
  // query_timeout as their statement timeout.
  REQUIRE(f.Poll());
  CHECK(f.fake->connects == 1);
  CHECK(f.fake->batches == 2);
  CHECK(f.fake->statement_timeout == milliseconds(1500));
}

TEST_CASE("a failing collector never breaks the others", "[server_worker]") {
  Fixture f;
  QueryResult error;
  error.error = "permission denied";
  f.fake->Answer("Q2", error);
  auto out = f.Poll();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK(out->sample.collector_success["server"]);
  CHECK_FALSE(out->sample.collector_success["activity"]);
  CHECK(out->sample.max_connections == 100);
}

TEST_CASE("garbage from a lying server fails only that collector",
          "[server_worker]") {
  Fixture f;
  f.fake->Answer("Q2", Rows({std::nullopt}));
  auto out = f.Poll();
  REQUIRE(out);
  CHECK(out->ok);
  CHECK_FALSE(out->sample.collector_success["activity"]);
}

TEST_CASE("a server older than a collector's minimum skips only that one",
          "[server_worker]") {
  Fixture f;
  f.collectors.push_back(
      std::make_unique<IntCollector>("wal_receiver", "Q13", 130000));
  f.fake->Answer("Q13", Rows({"5"}));
  f.fake->server_version = 120017;  // PostgreSQL 12.17
  auto out = f.Poll();
  REQUIRE(out);
  CHECK(out->ok);  // the server stays up: no eviction for an old version
  CHECK(out->sample.collector_success["server"]);
  CHECK(out->sample.collector_success["activity"]);
  CHECK(out->sample.collector_success.count("wal_receiver") == 1);
  CHECK_FALSE(out->sample.collector_success["wal_receiver"]);
  CHECK(out->sample.max_connections == 7);  // Q13 never ran
  // After a reconnect to a newer server, it runs.
  f.fake->server_version = 150018;
  f.fake->break_on_query = true;
  REQUIRE(f.Poll());  // drops the connection
  f.fake->break_on_query = false;
  f.clock.Advance(seconds(60));
  out = f.Poll();
  REQUIRE(out);
  CHECK(out->sample.collector_success["wal_receiver"]);
  CHECK(out->sample.max_connections == 5);
}

TEST_CASE("without the server collector the poll fails", "[server_worker]") {
  Fixture f;
  f.fake->Answer("Q1", QueryResult{});
  auto out = f.Poll();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
}

TEST_CASE("reconnects with exponential backoff", "[server_worker]") {
  Fixture f;
  f.fake->reachable = false;
  auto out = f.Poll();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
  CHECK(out->error == "connect: connection refused");
  CHECK(f.fake->connects == 1);
  // Within the first backoff (1 s) no attempt is made, and no outcome
  // replaces the last one.
  f.clock.Advance(milliseconds(500));
  CHECK_FALSE(f.Poll().has_value());
  f.clock.Advance(milliseconds(500));
  REQUIRE(f.Poll().has_value());
  CHECK(f.fake->connects == 2);
  // Now 2 s.
  f.clock.Advance(milliseconds(1999));
  CHECK_FALSE(f.Poll().has_value());
  f.clock.Advance(milliseconds(1));
  f.fake->reachable = true;
  auto back = f.Poll();
  REQUIRE(back);
  CHECK(back->ok);
  CHECK(f.fake->connects == 3);
}

TEST_CASE("a broken connection fails the poll and reconnects later",
          "[server_worker]") {
  Fixture f;
  REQUIRE(f.Poll()->ok);
  f.fake->break_on_query = true;
  auto out = f.Poll();
  REQUIRE(out);
  CHECK_FALSE(out->ok);
  CHECK(out->error == "query: server closed the connection unexpectedly");
  f.fake->break_on_query = false;
  f.clock.Advance(seconds(1));
  auto back = f.Poll();
  REQUIRE(back);
  CHECK(back->ok);
  CHECK(f.fake->connects == 2);
}

TEST_CASE("probes share the poll's connection and queue behind it",
          "[server_worker]") {
  Fixture f;
  std::vector<std::string> order;
  ServerWorker& w = f.Worker();
  w.QueuePoll();
  w.QueueProbe([&](ProbeResult r) { order.push_back(r.ok ? "probe" : "x"); });
  w.QueuePoll();  // a poll already queued: not doubled
  f.loop.RunPending();
  CHECK(f.outcomes == 1);
  CHECK(order == std::vector<std::string>{"probe"});
  CHECK(f.fake->connects == 1);
  REQUIRE(f.fake->batch_log.size() == 2);
  CHECK(f.fake->batch_log[0] == std::vector<std::string>{"Q1", "Q2"});
  CHECK(f.fake->batch_log[1] == std::vector<std::string>{"SELECT 1"});
}

TEST_CASE("a probe connects even while polls back off, as a client would",
          "[server_worker]") {
  Fixture f;
  f.fake->reachable = false;
  REQUIRE(f.Poll());
  auto probe = f.Probe();
  REQUIRE(probe);
  CHECK_FALSE(probe->ok);
  CHECK(probe->error == "connect: connection refused");
  CHECK(f.fake->connects == 2);
  f.fake->reachable = true;
  probe = f.Probe();
  REQUIRE(probe);
  CHECK(probe->ok);
  // A failing probe query leaves the connection up.
  QueryResult broken;
  broken.error = "relation does not exist";
  f.fake->Answer("SELECT 1", broken);
  probe = f.Probe();
  REQUIRE(probe);
  CHECK(probe->error == "query: relation does not exist");
  CHECK(f.fake->connects == 3);
  CHECK(f.Poll()->ok);
  CHECK(f.fake->connects == 3);
}

TEST_CASE("a hung server holds only its own queue", "[server_worker]") {
  Fixture f;
  f.fake->hang = true;
  CHECK_FALSE(f.Poll().has_value());
  // The next ticks do not pile polls up behind the hung one.
  f.Worker().QueuePoll();
  f.Worker().QueuePoll();
  f.loop.RunPending();
  CHECK(f.fake->connects == 1);
  CHECK(f.outcomes == 0);
}

TEST_CASE("backoff doubles up to its cap", "[server_worker]") {
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

namespace pgre {
namespace {

TEST_CASE("with routing.check_heartbeat a synthetic read checks visibility",
          "[server_worker][heartbeat]") {
  Fixture f;
  f.config.heartbeat.enabled = true;
  f.config.heartbeat.table = "hb";
  f.config.routing.check_heartbeat = true;
  f.config.routing.max_lag = seconds(5);
  const std::string check =
      "SELECT pg_is_in_recovery() AS in_recovery, extract(epoch FROM "
      "written_at) AS written_at FROM \"hb\" RIGHT JOIN (SELECT 1 AS id) one "
      "USING (id)";
  const double now = ToUnixSeconds(f.clock.WallNow());
  auto answer = [&](std::optional<std::string> recovery,
                    std::optional<std::string> written) {
    f.fake->Answer(check, Rows({std::move(recovery), std::move(written)}));
  };
  answer("t", std::to_string(now - 1.5));
  auto probe = f.Probe();
  REQUIRE(probe);
  CHECK(probe->ok);
  REQUIRE(f.fake->batch_log.size() >= 1);
  CHECK(f.fake->batch_log.back() ==
        std::vector<std::string>{"SELECT 1", check});

  answer("t", std::to_string(now - 7.25));
  probe = f.Probe();
  REQUIRE(probe);
  CHECK_FALSE(probe->ok);
  CHECK(probe->error ==
        "heartbeat: the newest visible is 7.2s old, over routing.max_lag 5s");

  answer("t", std::nullopt);
  probe = f.Probe();
  CHECK(probe->error == "heartbeat: none visible yet");

  // Out of recovery (the primary, as a fallback target): no check.
  answer("f", std::to_string(now - 60));
  probe = f.Probe();
  CHECK(probe->ok);

  // The table unreadable: the read fails with the error.
  QueryResult missing;
  missing.error = "relation \"hb\" does not exist (SQLSTATE 42P01)";
  f.fake->Answer(check, missing);
  probe = f.Probe();
  CHECK(probe->error ==
        "heartbeat: relation \"hb\" does not exist (SQLSTATE 42P01)");
}

}  // namespace
}  // namespace pgre
