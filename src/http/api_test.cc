#include "http/api.h"

#include <catch2/catch.hpp>

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

TEST_CASE("listen addresses map to civetweb ports", "[api]") {
  struct Case {
    const char* in;
    bool ok;
    const char* out;
  };
  const Case cases[] = {
      {":9856", true, "9856"},
      {"127.0.0.1:9856", true, "127.0.0.1:9856"},
      {"[::1]:9856", true, "[::1]:9856"},
      {"[::]:9856", true, "+9856"},
      {"localhost:80", true, "127.0.0.1:80"},
      {"9856", false, ""},
      {":", false, ""},
      {":99999", false, ""},
      {":abc", false, ""},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    std::string ports, error;
    CHECK(ToCivetwebPorts(c.in, &ports, &error) == c.ok);
    if (c.ok) CHECK(ports == c.out);
    if (!c.ok) CHECK_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace pgre
