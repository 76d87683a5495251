// Tests of the test support library itself (no PostgreSQL needed).
#include <civetweb.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "support/agent.h"
#include "support/http_client.h"
#include "support/metrics_text.h"
#include "support/ports.h"
#include "support/prometheus_stack.h"
#include "support/subprocess.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("ParseMetricsText reads names, labels and values") {
  const std::string text =
      "# HELP up Whether it is up.\n"
      "# TYPE up gauge\n"
      "up 1\n"
      "lag_seconds{server=\"replica1\",cluster=\"c\"} 0.25\n"
      "lag_seconds{server=\"replica2\",cluster=\"c\"} NaN\n"
      "esc{v=\"a\\\"b\\\\c\\nd\"} +Inf 1700000000000\n"
      "neg{} -Inf\n"
      "\n"
      "sci 1.5e+03\n";
  std::string error;
  const auto samples = ParseMetricsText(text, &error);
  CHECK(error.empty());
  REQUIRE(samples.size() == 6);
  CHECK(Find(samples, "up") == 1.0);
  CHECK(Find(samples, "lag_seconds", {{"server", "replica1"}}) == 0.25);
  const auto nan = Find(samples, "lag_seconds", {{"server", "replica2"}});
  REQUIRE(nan.has_value());
  CHECK(std::isnan(*nan));
  REQUIRE(samples[3].labels.count("v") == 1);
  CHECK(samples[3].labels.at("v") == "a\"b\\c\nd");
  CHECK(std::isinf(*Find(samples, "esc")));
  CHECK(*Find(samples, "neg") < 0);
  CHECK(Find(samples, "sci") == 1500.0);
  CHECK_FALSE(Find(samples, "lag_seconds", {{"server", "replica9"}}));
  CHECK_FALSE(Find(samples, "absent"));
  CHECK(FindAll(samples, "lag_seconds", {{"cluster", "c"}}).size() == 2);
  CHECK(ParseMetricTypes(text) ==
        std::map<std::string, std::string>{{"up", "gauge"}});
}

TEST_CASE("ParseMetricsText reports the first malformed line") {
  struct Case {
    std::string line;
  };
  const Case cases[] = {
      {"x{a=\"1\" 2"}, {"x{a=1} 2"}, {"x abc"}, {"x 1 2 3"}, {"{a=\"b\"} 1"}};
  for (const auto& c : cases) {
    INFO(c.line);
    std::string error;
    const auto samples = ParseMetricsText("ok 1\n" + c.line + "\n", &error);
    CHECK(samples.size() == 1);
    CHECK(error.rfind("line 2:", 0) == 0);
  }
}

TEST_CASE(
    "WaitUntil returns true once the condition holds, false at the "
    "deadline") {
  int calls = 0;
  CHECK(WaitUntil([&] { return ++calls == 3; }, seconds(10), milliseconds(1)));
  CHECK(calls == 3);
  calls = 0;
  CHECK_FALSE(WaitUntil(
      [&] {
        ++calls;
        return false;
      },
      milliseconds(0)));
  CHECK(calls >= 1);
}

TEST_CASE("PolledOnce: every server up, every replica with a lag") {
  const std::string primary =
      "pg_replica_up{cluster=\"a\",server=\"primary\"} 1\n"
      "pg_replica_in_recovery{cluster=\"a\",server=\"primary\"} 0\n";
  const std::string replica =
      "pg_replica_up{cluster=\"a\",server=\"replica1\"} 1\n"
      "pg_replica_in_recovery{cluster=\"a\",server=\"replica1\"} 1\n";
  const std::string lag =
      "pg_replica_lag_seconds{cluster=\"a\",server=\"replica1\"} 0.1\n";
  // The same replica name in another cluster, without a lag.
  const std::string other =
      "pg_replica_up{cluster=\"b\",server=\"replica1\"} 1\n"
      "pg_replica_in_recovery{cluster=\"b\",server=\"replica1\"} 1\n";
  struct Case {
    std::string what;
    std::string text;
    int servers;
    bool want;
  };
  const std::vector<Case> cases = {
      {"polled", primary + replica + lag, 2, true},
      {"a replica without a lag yet", primary + replica, 2, false},
      {"fewer servers than configured", primary + replica + lag, 3, false},
      {"a server down",
       "pg_replica_up{cluster=\"a\",server=\"primary\"} 0\n" + replica + lag, 2,
       false},
      {"a lag of another cluster's replica does not count",
       primary + replica + lag + other, 3, false},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(PolledOnce(ParseMetricsText(c.text), c.servers) == c.want);
  }
}

TEST_CASE("FreePort returns distinct loopback ports") {
  const int a = FreePort();
  const int b = FreePort();
  CHECK(a > 0);
  CHECK(b > 0);
  CHECK(a != b);
}

TEST_CASE("RunCommand returns exit code and output") {
  std::string out;
  CHECK(RunCommand({"sh", "-c", "echo hello; echo oops >&2; exit 3"}, &out) ==
        3);
  CHECK(out == "hello\noops\n");

  std::string err;
  CommandOptions opts;
  opts.errors = &err;
  opts.env = {{"PGRE_X", "42"}};
  opts.cwd = "/";
  CHECK(RunCommand({"sh", "-c", "echo $PGRE_X; pwd; echo e >&2"}, &out, opts) ==
        0);
  CHECK(out == "42\n/\n");
  CHECK(err == "e\n");

  CHECK(RunCommand({"/nonexistent/program"}, &out) == -1);
  CHECK(out.find("nonexistent") != std::string::npos);

  CommandOptions quick;
  quick.timeout = milliseconds(100);
  CHECK(RunCommand({"sleep", "30"}, &out, quick) == -1);
}

TEST_CASE("Subprocess logs output, reports exit and stops") {
  {
    Subprocess p({"sh", "-c", "echo started; exit 7"});
    CHECK(p.Wait(seconds(30)) == 7);
    CHECK_FALSE(p.Running());
    CHECK(p.ReadLog() == "started\n");
  }
  {
    Subprocess p({"sleep", "30"});
    CHECK(p.pid() > 0);
    CHECK(p.Running());
    CHECK(p.Wait(milliseconds(10)) == -1);
    CHECK(p.Signal(SIGTERM));
    CHECK(p.Wait(seconds(30)) == 128 + SIGTERM);
    CHECK_FALSE(p.Signal(SIGTERM));
  }
  {
    // Ignores SIGTERM: Stop() escalates to SIGKILL after the grace period.
    Subprocess p({"sh", "-c", "trap '' TERM; echo ready; while :; do :; done"});
    REQUIRE(WaitUntil([&] { return p.ReadLog() == "ready\n"; }, seconds(30)));
    CHECK(p.Stop(milliseconds(100)) == 128 + SIGKILL);
  }
  CHECK_THROWS(Subprocess({"/nonexistent/program"}));
}

int Handler(mg_connection* conn, void*) {
  const mg_request_info* req = mg_get_request_info(conn);
  std::string body = std::string(req->request_method) + " " + req->local_uri +
                     "\n" + std::string(20000, 'x');
  mg_printf(conn,
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
            "X-Test: yes\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            body.size());
  mg_write(conn, body.data(), body.size());
  return 201;
}

TEST_CASE("HttpRequest talks to a civetweb server") {
  mg_init_library(0);
  const int port = FreePort();
  const std::string ports = "127.0.0.1:" + std::to_string(port);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2",
                           nullptr};
  mg_callbacks callbacks{};
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  REQUIRE(ctx != nullptr);
  mg_set_request_handler(ctx, "/", Handler, nullptr);

  const HttpResponse get = HttpGet("127.0.0.1", port, "/metrics");
  CHECK(get.status == 201);
  CHECK(get.Header("x-TEST") == "yes");
  CHECK(get.Header("Content-Type") == "text/plain");
  CHECK(get.body.rfind("GET /metrics\n", 0) == 0);
  CHECK(get.body.size() == 13 + 20000);

  const HttpResponse post =
      HttpRequest("POST", "127.0.0.1", port, "/-/reload", seconds(5), "{}");
  CHECK(post.status == 201);
  CHECK(post.body.rfind("POST /-/reload\n", 0) == 0);
  mg_stop(ctx);

  const HttpResponse refused = HttpGet("127.0.0.1", port, "/");
  CHECK(refused.status == 0);
  CHECK_FALSE(refused.error.empty());
}

TEST_CASE(
    "PrometheusConfigYaml scrapes every agent in one job and alerts every "
    "Alertmanager") {
  PrometheusOptions o;
  o.scrape_target = "127.0.0.1:1001";
  o.extra_scrape_targets = {"127.0.0.1:1002"};
  o.alertmanager_port = 2001;
  o.extra_alertmanager_ports = {2002};
  const std::string y = PrometheusConfigYaml(o);
  CHECK(y.find("- targets: [\"127.0.0.1:1001\", \"127.0.0.1:1002\"]\n") !=
        std::string::npos);
  CHECK(y.find("- targets: [\"127.0.0.1:2001\", \"127.0.0.1:2002\"]\n") !=
        std::string::npos);
  CHECK(y.find("job_name: pg_replica_exporter\n") != std::string::npos);
  // One job: the second target is no job of its own.
  CHECK(y.find("job_name:") == y.rfind("job_name:"));
}

}  // namespace
}  // namespace pgre::testing
