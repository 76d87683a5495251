#include "http/api.h"

#include <catch2/catch.hpp>

#include "http/gzip.h"
#include "http/http_server.h"

namespace pgre {
namespace {

Config OneReplica() {
  Config c;
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  ServerConfig r;
  r.name = "replica1";
  c.replicas.push_back(r);
  return c;
}

TEST_CASE("routes, methods and content types", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1.2.3", "abc"}, "/metrics");

  struct Case {
    const char* method;
    const char* path;
    int status;
  };
  const Case cases[] = {
      {"GET", "/metrics", 200},
      {"HEAD", "/metrics", 200},
      {"GET", "/", 200},
      {"GET", "/-/healthy", 200},
      {"POST", "/metrics", 405},
      {"DELETE", "/", 405},
      {"GET", "/nope", 404},
      {"GET", "/metrics/", 404},
      {"POST", "/nope", 404},
      {"GET", "/v1/system/database/replicas/status", 200},
      {"PUT", "/v1/system/database/replicas/status", 405},
  };
  for (const Case& c : cases) {
    INFO(c.method << " " << c.path);
    CHECK(api.Handle(c.method, c.path).status == c.status);
  }
  const HttpResponse metrics = api.Handle("GET", "/metrics");
  CHECK(metrics.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(metrics.body.find("pg_replica_exporter_build_info{revision=\"abc\","
                          "version=\"1.2.3\"} 1") != std::string::npos);
  CHECK(metrics.body.find("pg_replica_up{") != std::string::npos);
}

TEST_CASE("a custom telemetry path moves the metrics", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"}, "/prom");
  CHECK(api.Handle("GET", "/prom").status == 200);
  CHECK(api.Handle("GET", "/metrics").status == 404);
}

TEST_CASE("listen addresses", "[api]") {
  struct Case {
    const char* in;
    bool ok;
    const char* host;
    int port;
  };
  const Case cases[] = {
      {":9856", true, "", 9856},
      {"127.0.0.1:9856", true, "127.0.0.1", 9856},
      {"[::1]:9856", true, "::1", 9856},
      {"[::]:9856", true, "::", 9856},
      {"localhost:80", true, "127.0.0.1", 80},
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"9856", false, "", 0},
      {":", false, "", 0},
      {":99999", false, "", 0},
      {":abc", false, "", 0},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    std::string error;
    auto a = ParseListenAddress(c.in, &error);
    CHECK(a.has_value() == c.ok);
    if (a) {
      CHECK(a->host == c.host);
      CHECK(a->port == c.port);
    } else {
      CHECK_FALSE(error.empty());
    }
  }
}

TEST_CASE("/-/ready waits for every server's first poll", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"});
  HttpResponse r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "not ready: 2 servers not polled yet\n");
  PollOutcome failed;  // a failed poll counts: the server was polled
  failed.error = "connect: refused";
  store.RecordPoll(0, failed);
  CHECK(api.Handle("GET", "/-/ready").status == 503);
  store.RecordPoll(1, failed);
  r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
  CHECK(api.Handle("POST", "/-/ready").status == 405);
  CHECK(api.Handle("GET", "/-/healthy").status == 200);
}

TEST_CASE("/metrics is gzipped when the client accepts it", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"});
  ApiRequest plain{"GET", "/metrics", "", false};
  ApiRequest gz{"GET", "/metrics", "", true};
  const HttpResponse a = api.Handle(plain);
  const HttpResponse b = api.Handle(gz);
  bool ok = false;
  CHECK(Gunzip(b.Body(), &ok) == a.Body());
  CHECK(ok);
  auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  CHECK(header(b, "Content-Encoding") == "gzip");
  CHECK(header(a, "Content-Encoding").empty());
  CHECK(header(a, "Vary") == "Accept-Encoding");
  // Only /metrics is compressed.
  CHECK(header(api.Handle(ApiRequest{"GET", "/-/healthy", "", true}),
               "Content-Encoding")
            .empty());
}

}  // namespace
}  // namespace pgre
