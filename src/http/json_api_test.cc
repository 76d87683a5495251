#include "http/json_api.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace pgre {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kStatus = "/v1/system/database/replicas/status";
constexpr const char* kHealth = "/v1/system/database/replicas/health";
constexpr const char* kLag = "/v1/system/database/replicas/lag";
constexpr const char* kPool = "/v1/system/database/connection-pool/stats";

// 2025-12-13T10:00:00Z.
WallTime BaseTime() {
  return WallTime(std::chrono::sys_days(std::chrono::year(2025) / 12 / 13)
                      .time_since_epoch() +
                  10h);
}

ServerSample ActivitySample(std::int64_t active, std::int64_t idle) {
  ServerSample s;
  s.collector_success["server"] = true;
  s.collector_success["activity"] = true;
  s.max_connections = 100;
  s.superuser_reserved_connections = 3;
  s.connections_by_state["active"] = active;
  s.connections_by_state["idle"] = idle;
  return s;
}

ServerView Primary() {
  ServerView v;
  v.name = "primary";
  v.role = Role::kPrimary;
  v.endpoint = "db-primary:5432";
  v.polled = true;
  v.up = true;
  v.last_success = BaseTime() - 400ms;
  v.sample = ActivitySample(12, 30);
  v.sample->in_recovery = false;
  v.sample->collector_success["stat_replication"] = true;
  v.sample->collector_success["wal_receiver"] = true;
  v.sample->connections_by_state["idle in transaction"] = 2;
  return v;
}

// An up, streaming replica with the given lag.
ServerView Replica(const std::string& name, std::optional<double> lag_seconds,
                   std::optional<std::uint64_t> lag_bytes = 0) {
  ServerView v;
  v.name = name;
  v.role = Role::kReplica;
  v.endpoint = "db-" + name + ":5432";
  v.application_name = name;
  v.polled = true;
  v.up = true;
  v.last_success = BaseTime() - 300ms;
  v.sample = ActivitySample(4, 20);
  v.sample->in_recovery = true;
  v.sample->replay_paused = false;
  v.sample->collector_success["wal_receiver"] = true;
  v.sample->wal_receiver = WalReceiverRow{};
  v.sample->wal_receiver->status = "streaming";
  v.lag_seconds = lag_seconds;
  v.lag_bytes = lag_seconds ? lag_bytes : std::nullopt;
  v.standby_connected = true;
  v.routing.in_rotation = true;
  v.routing.reason = "ok";
  return v;
}

// A replica whose polls fail: what SnapshotStore publishes after a failure.
ServerView DownReplica(const std::string& name) {
  ServerView v;
  v.name = name;
  v.role = Role::kReplica;
  v.endpoint = "db-" + name + ":5432";
  v.application_name = name;
  v.polled = true;
  v.up = false;
  v.last_error = "connection to server at \"db-" + name +
                 "\", port 5432 failed: Connection refused";
  v.poll_errors_total = 7;
  v.last_success = BaseTime() - 42s;
  v.standby_connected = false;
  v.routing.in_rotation = false;
  v.routing.reason = "down";
  return v;
}

Snapshot BaseSnapshot() {
  Snapshot s;
  s.cluster = "main";
  s.primary = Primary();
  s.taken_at = BaseTime();
  return s;
}

// The snapshot the examples in docs/json-endpoints.md are rendered from.
Snapshot ExampleSnapshot() {
  Snapshot s = BaseSnapshot();
  s.cluster = "hospitality";
  s.app_pool_size = 100;
  s.replicas.push_back(Replica("replica1", 0.012, 0));
  s.replicas.push_back(Replica("replica2", 2.5, 1048576));
  s.replicas.back().sample->connections_by_state["idle in transaction"] = 1;
  s.replicas.back()
      .sample->connections_by_state["idle in transaction (aborted)"] = 1;
  s.replicas.push_back(DownReplica("replica3"));
  s.routing_active = true;
  s.primary.routing.routed_reads = 0;
  s.replicas[0].routing.routed_reads = 5120;
  s.replicas[1].routing.routed_reads = 5119;
  s.replicas[2].routing.routed_reads = 2048;
  s.replicas[2].routing.rotation_changes = 1;
  return s;
}

struct Answer {
  bool handled = false;
  HttpResponse response;
  json body;
};

Answer Get(std::string_view path, const Snapshot& snap) {
  Answer a;
  a.handled = HandleJsonEndpoint(path, snap, &a.response);
  if (a.handled) a.body = json::parse(a.response.body);
  return a;
}

TEST_CASE("every endpoint answers application/json", "[json]") {
  const Snapshot snap = ExampleSnapshot();
  for (const char* path : {kStatus, kHealth, kLag, kPool}) {
    CAPTURE(path);
    Answer a = Get(path, snap);
    REQUIRE(a.handled);
    CHECK(a.response.content_type == "application/json");
    CHECK(a.body.is_object());
    CHECK(a.body.at("generatedAt") == "2025-12-13T10:00:00.000Z");
  }
}

TEST_CASE("unknown paths are not handled", "[json]") {
  const Snapshot snap = ExampleSnapshot();
  for (const char* path : {
           "/",
           "/metrics",
           "/v1/system/database/replicas",
           "/v1/system/database/replicas/",
           "/v1/system/database/replicas/status/",
           "/v1/system/database/replicas/statusx",
           "/v1/system/database/connection-pool",
           "v1/system/database/replicas/lag",
           "",
       }) {
    CAPTURE(path);
    HttpResponse response;
    response.body = "untouched";
    CHECK_FALSE(HandleJsonEndpoint(path, snap, &response));
    CHECK(response.body == "untouched");
    CHECK(response.status == 200);
  }
}

TEST_CASE("status: cluster, servers and routing", "[json][status]") {
  const json body = Get(kStatus, ExampleSnapshot()).body;
  CHECK(body["cluster"] == "hospitality");
  CHECK(body["replicasEnabled"] == true);
  CHECK(body["routingActive"] == true);
  CHECK(body["failoverActive"] == false);
  CHECK(body["routedReads"] == json({{"primary", 0},
                                     {"replica1", 5120},
                                     {"replica2", 5119},
                                     {"replica3", 2048}}));

  const json& p = body["primary"];
  CHECK(p["name"] == "primary");
  CHECK(p["endpoint"] == "db-primary:5432");
  CHECK(p["role"] == "primary");
  CHECK(p["observedRole"] == "primary");
  CHECK(p["up"] == true);
  CHECK(p["lastError"].is_null());
  CHECK(p["healthy"] == true);
  CHECK(p["inRotation"].is_null());
  CHECK(p["reason"].is_null());
  CHECK(p["lagSeconds"].is_null());
  CHECK(p["lagBytes"].is_null());
  CHECK(p["streaming"].is_null());
  CHECK(p["standbyConnected"].is_null());
  CHECK(p["connections"]["active"] == 12);
  CHECK(p["connections"]["idle"] == 30);
  CHECK(p["connections"]["idle in transaction"] == 2);
  CHECK(p["connections"]["disabled"] == 0);
  CHECK(p["lastPollTime"] == "2025-12-13T09:59:59.600Z");
  CHECK(p["pollErrorsTotal"] == 0);

  REQUIRE(body["replicas"].size() == 3);
  const json& r1 = body["replicas"][0];
  CHECK(r1["name"] == "replica1");
  CHECK(r1["endpoint"] == "db-replica1:5432");
  CHECK(r1["role"] == "replica");
  CHECK(r1["observedRole"] == "replica");
  CHECK(r1["up"] == true);
  CHECK(r1["lastError"].is_null());
  CHECK(r1["healthy"] == true);
  CHECK(r1["inRotation"] == true);
  CHECK(r1["reason"] == "ok");
  CHECK(r1["lagSeconds"] == Approx(0.012));
  CHECK(r1["lagBytes"] == 0);
  CHECK(r1["streaming"] == true);
  CHECK(r1["replayPaused"] == false);
  CHECK(r1["standbyConnected"] == true);
  CHECK(r1["lastPollTime"] == "2025-12-13T09:59:59.700Z");

  const json& r3 = body["replicas"][2];
  CHECK(r3["up"] == false);
  CHECK(r3["observedRole"].is_null());
  CHECK(r3["lastError"] ==
        "connection to server at \"db-replica3\", port 5432 failed: "
        "Connection refused");
  CHECK(r3["healthy"] == false);
  CHECK(r3["inRotation"] == false);
  CHECK(r3["reason"] == "down");
  CHECK(r3["lagSeconds"].is_null());
  CHECK(r3["lagBytes"].is_null());
  CHECK(r3["streaming"].is_null());
  CHECK(r3["replayPaused"].is_null());
  CHECK(r3["standbyConnected"] == false);
  CHECK(r3["connections"].is_null());
  CHECK(r3["lastPollTime"] == "2025-12-13T09:59:18.000Z");
  CHECK(r3["pollErrorsTotal"] == 7);
}

TEST_CASE("status: keys are camelCase and the same for every server",
          "[json][status]") {
  const json body = Get(kStatus, ExampleSnapshot()).body;
  std::vector<std::string> primary_keys;
  for (const auto& [key, value] : body["primary"].items()) {
    primary_keys.push_back(key);
    CAPTURE(key);
    CHECK(key.find('_') == std::string::npos);
  }
  for (const json& r : body["replicas"]) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : r.items()) keys.push_back(key);
    CHECK(keys == primary_keys);
  }
}

TEST_CASE("status: observed role and streaming", "[json][status]") {
  struct Case {
    const char* what;
    bool up;
    bool in_recovery;
    std::optional<bool> wal_receiver_ok;  // nullopt: collector not reported
    const char* receiver_status;          // nullptr: no row
    json observed_role;
    json streaming;
  };
  const std::vector<Case> cases = {
      {"streaming", true, true, true, "streaming", "replica", true},
      {"waiting", true, true, true, "waiting", "replica", false},
      {"no receiver row", true, true, true, nullptr, "replica", false},
      {"collector failed", true, true, false, "streaming", "replica", nullptr},
      {"collector absent", true, true, std::nullopt, "streaming", "replica",
       nullptr},
      {"promoted", true, false, true, nullptr, "primary", nullptr},
      {"down", false, true, true, "streaming", nullptr, nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Snapshot snap = BaseSnapshot();
    ServerView r = c.up ? Replica("r", 0.1) : DownReplica("r");
    if (c.up) {
      r.sample->in_recovery = c.in_recovery;
      r.sample->collector_success.erase("wal_receiver");
      if (c.wal_receiver_ok) {
        r.sample->collector_success["wal_receiver"] = *c.wal_receiver_ok;
      }
      r.sample->wal_receiver.reset();
      if (c.receiver_status) {
        r.sample->wal_receiver = WalReceiverRow{};
        r.sample->wal_receiver->status = c.receiver_status;
      }
    }
    snap.replicas.push_back(r);
    const json body = Get(kStatus, snap).body;
    CHECK(body["replicas"][0]["observedRole"] == c.observed_role);
    CHECK(body["replicas"][0]["streaming"] == c.streaming);
  }
}

TEST_CASE("status: reason is null before the routing loop has run",
          "[json][status]") {
  Snapshot snap = ExampleSnapshot();
  snap.routing_active = false;
  const json body = Get(kStatus, snap).body;
  CHECK(body["routingActive"] == false);
  for (const json& r : body["replicas"]) CHECK(r["reason"].is_null());
  // The proxy decides: replica1 (12 ms) and replica2 (2.5 s) are within the
  // critical threshold; replica3 is down.
  CHECK(body["replicas"][0]["inRotation"] == true);
  CHECK(body["replicas"][1]["inRotation"] == true);
  CHECK(body["replicas"][2]["inRotation"] == false);
}

TEST_CASE("status: unknown numbers are null, never 0", "[json][status]") {
  Snapshot snap = BaseSnapshot();
  snap.replicas.push_back(Replica("r", std::nullopt));
  snap.replicas[0].sample->replay_paused.reset();
  snap.replicas[0].standby_connected.reset();
  snap.replicas[0].sample->collector_success["activity"] = false;
  snap.replicas[0].last_success.reset();
  const json r = Get(kStatus, snap).body["replicas"][0];
  CHECK(r["lagSeconds"].is_null());
  CHECK(r["lagBytes"].is_null());
  CHECK(r["replayPaused"].is_null());
  CHECK(r["standbyConnected"].is_null());
  CHECK(r["connections"].is_null());
  CHECK(r["lastPollTime"].is_null());
}

TEST_CASE("status: text that is not UTF-8 does not break the answer",
          "[json][status]") {
  Snapshot snap = BaseSnapshot();
  snap.replicas.push_back(DownReplica("r"));
  snap.replicas[0].last_error =
      "FATAL: \xe9"
      "chec";  // Latin-1 "échec"
  Answer a = Get(kStatus, snap);
  REQUIRE(a.handled);
  CHECK(a.body["replicas"][0]["lastError"].get<std::string>().find("FATAL: ") ==
        0);
}

TEST_CASE("health: 200 with a replica in rotation, 503 without",
          "[json][health]") {
  Snapshot snap = ExampleSnapshot();
  Answer a = Get(kHealth, snap);
  CHECK(a.response.status == 200);
  CHECK(a.body == json({{"healthy", true},
                        {"replicaCount", 3},
                        {"healthyReplicaCount", 2},
                        {"failoverActive", false},
                        {"primaryUp", true},
                        {"routingActive", true},
                        {"generatedAt", "2025-12-13T10:00:00.000Z"}}));

  snap.replicas[1].routing.in_rotation = false;
  a = Get(kHealth, snap);
  CHECK(a.response.status == 200);
  CHECK(a.body["healthyReplicaCount"] == 1);
  CHECK(a.body["healthy"] == true);

  // The routing loop's decision wins over good-looking poll data.
  snap.replicas[0].routing.in_rotation = false;
  snap.failover_active = true;
  snap.primary.up = false;
  a = Get(kHealth, snap);
  CHECK(a.response.status == 503);
  CHECK(a.body["healthy"] == false);
  CHECK(a.body["healthyReplicaCount"] == 0);
  CHECK(a.body["replicaCount"] == 3);
  CHECK(a.body["failoverActive"] == true);
  CHECK(a.body["primaryUp"] == false);
}

TEST_CASE("health: no replicas configured is unhealthy", "[json][health]") {
  Snapshot snap = BaseSnapshot();
  snap.routing_active = true;
  Answer a = Get(kHealth, snap);
  CHECK(a.response.status == 503);
  CHECK(a.body["replicaCount"] == 0);
  CHECK(a.body["healthy"] == false);
}

TEST_CASE("health: before routing runs, up+streaming+lag<=critical counts",
          "[json][health]") {
  struct Case {
    const char* what;
    ServerView replica;
    bool in_rotation;
  };
  ServerView not_streaming = Replica("r", 0.1);
  not_streaming.sample->wal_receiver->status = "waiting";
  ServerView receiver_unknown = Replica("r", 0.1);
  receiver_unknown.sample->collector_success["wal_receiver"] = false;
  ServerView promoted = Replica("r", 0.1);
  promoted.sample->in_recovery = false;
  ServerView routed_out = Replica("r", 0.1);
  routed_out.routing.in_rotation = false;  // ignored while routing inactive
  const std::vector<Case> cases = {
      {"lag 0", Replica("r", 0.0), true},
      {"lag 4.999", Replica("r", 4.999), true},
      {"lag exactly critical", Replica("r", 5.0), true},
      {"lag over critical", Replica("r", 5.001), false},
      {"lag unknown", Replica("r", std::nullopt), false},
      {"not streaming", not_streaming, false},
      {"wal_receiver unknown", receiver_unknown, false},
      {"promoted", promoted, false},
      {"down", DownReplica("r"), false},
      {"routing view ignored", routed_out, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Snapshot snap = BaseSnapshot();
    snap.routing_active = false;
    snap.replicas.push_back(c.replica);
    Answer a = Get(kHealth, snap);
    CHECK(a.response.status == (c.in_rotation ? 200 : 503));
    CHECK(a.body["healthyReplicaCount"] == (c.in_rotation ? 1 : 0));
    CHECK(a.body["routingActive"] == false);
    CHECK(Get(kStatus, snap).body["replicas"][0]["inRotation"] ==
          c.in_rotation);
  }
}

TEST_CASE("lag: status at the thresholds (strictly greater)", "[json][lag]") {
  struct Case {
    std::optional<double> lag;
    const char* status;
  };
  const std::vector<Case> cases = {
      {std::nullopt, "unknown"},
      {0.0, "ok"},
      {0.999, "ok"},
      {1.0, "ok"},
      {1.001, "warning"},
      {5.0, "warning"},
      {5.001, "critical"},
      {3600.0, "critical"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.lag.value_or(-1));
    Snapshot snap = BaseSnapshot();
    snap.replicas.push_back(Replica("r", c.lag, 4096));
    const json body = Get(kLag, snap).body;
    REQUIRE(body["replicas"].size() == 1);
    CHECK(body["replicas"][0]["status"] == c.status);
    CHECK(body["thresholds"] ==
          json({{"warningSeconds", 1}, {"criticalSeconds", 5}}));
  }
}

TEST_CASE("lag: thresholds come from the snapshot", "[json][lag]") {
  Snapshot snap = BaseSnapshot();
  snap.lag_status.warning = 250ms;
  snap.lag_status.critical = 2s;
  for (double lag : {0.2, 0.3, 2.5}) {
    snap.replicas.push_back(
        Replica("r" + std::to_string(snap.replicas.size()), lag));
  }
  const json body = Get(kLag, snap).body;
  CHECK(body["thresholds"]["warningSeconds"] == Approx(0.25));
  CHECK(body["thresholds"]["criticalSeconds"] == 2);
  CHECK(body["replicas"][0]["status"] == "ok");
  CHECK(body["replicas"][1]["status"] == "warning");
  CHECK(body["replicas"][2]["status"] == "critical");

  // The proxy of /health uses the same critical threshold.
  snap.routing_active = false;
  CHECK(Get(kHealth, snap).body["healthyReplicaCount"] == 2);
}

TEST_CASE("lag: a down replica is unknown with null figures", "[json][lag]") {
  const json body = Get(kLag, ExampleSnapshot()).body;
  REQUIRE(body["replicas"].size() == 3);
  CHECK(body["replicas"][0] == json({{"name", "replica1"},
                                     {"lagSeconds", 0.012},
                                     {"lagBytes", 0},
                                     {"status", "ok"}}));
  CHECK(body["replicas"][1]["status"] == "warning");
  CHECK(body["replicas"][1]["lagBytes"] == 1048576);
  const json& down = body["replicas"][2];
  CHECK(down["name"] == "replica3");
  CHECK(down["lagSeconds"].is_null());
  CHECK(down["lagBytes"].is_null());
  CHECK(down["status"] == "unknown");
}

TEST_CASE("pool: connection counts and utilization", "[json][pool]") {
  Snapshot snap = BaseSnapshot();
  snap.app_pool_size = 50;
  ServerView r = Replica("r", 0.1);
  auto& states = r.sample->connections_by_state;
  states.clear();
  states["active"] = 10;
  states["idle"] = 20;
  states["idle in transaction"] = 3;
  states["idle in transaction (aborted)"] = 1;
  states["fastpath function call"] = 1;
  states[""] = 2;  // a backend whose state is NULL
  r.sample->max_connections = 100;
  r.sample->superuser_reserved_connections = 3;
  snap.replicas.push_back(r);

  const json body = Get(kPool, snap).body;
  REQUIRE(body["replicas"].size() == 1);
  const json& s = body["replicas"][0];
  CHECK(s["name"] == "r");
  CHECK(s["role"] == "replica");
  CHECK(s["up"] == true);
  CHECK(s["connections"] == json({{"active", 10},
                                  {"idle", 20},
                                  {"idleInTransaction", 4},
                                  {"other", 3},
                                  {"total", 37}}));
  CHECK(s["maxConnections"] == 100);
  CHECK(s["superuserReservedConnections"] == 3);
  CHECK(s["usableConnections"] == 97);
  CHECK(s["utilization"].get<double>() == Approx(37.0 / 97.0));
  CHECK(s["appPoolSize"] == 50);
  CHECK(s["appPoolUtilization"].get<double>() == Approx(37.0 / 50.0));
  CHECK(s["status"] == "ok");
  CHECK(body["thresholds"] ==
        json({{"warningUtilization", 0.8}, {"criticalUtilization", 0.9}}));

  // The primary: 12 active + 30 idle + 2 idle in transaction.
  const json& p = body["primary"];
  CHECK(p["role"] == "primary");
  CHECK(p["connections"]["total"] == 44);
  CHECK(p["connections"]["idleInTransaction"] == 2);
  CHECK(p["connections"]["other"] == 0);
}

TEST_CASE("pool: status at the thresholds (strictly greater)", "[json][pool]") {
  struct Case {
    std::int64_t total;  // of 100 usable
    const char* status;
  };
  const std::vector<Case> cases = {
      {0, "ok"},        {80, "ok"},        {81, "warning"},   {90, "warning"},
      {91, "critical"}, {100, "critical"}, {120, "critical"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.total);
    Snapshot snap = BaseSnapshot();
    snap.primary.sample->connections_by_state.clear();
    snap.primary.sample->connections_by_state["active"] = c.total;
    snap.primary.sample->max_connections = 103;
    snap.primary.sample->superuser_reserved_connections = 3;
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["usableConnections"] == 100);
    CHECK(p["utilization"].get<double>() == Approx(c.total / 100.0));
    CHECK(p["status"] == c.status);
  }
}

TEST_CASE("pool: unknown figures are null and status unknown", "[json][pool]") {
  SECTION("down server") {
    Snapshot snap = BaseSnapshot();
    snap.app_pool_size = 100;
    snap.replicas.push_back(DownReplica("r"));
    const json s = Get(kPool, snap).body["replicas"][0];
    CHECK(s["up"] == false);
    CHECK(s["connections"].is_null());
    CHECK(s["maxConnections"].is_null());
    CHECK(s["superuserReservedConnections"].is_null());
    CHECK(s["usableConnections"].is_null());
    CHECK(s["utilization"].is_null());
    CHECK(s["appPoolSize"] == 100);
    CHECK(s["appPoolUtilization"].is_null());
    CHECK(s["status"] == "unknown");
  }
  SECTION("activity collector failed") {
    Snapshot snap = BaseSnapshot();
    snap.primary.sample->collector_success["activity"] = false;
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["connections"].is_null());
    CHECK(p["maxConnections"] == 100);
    CHECK(p["usableConnections"] == 97);
    CHECK(p["utilization"].is_null());
    CHECK(p["status"] == "unknown");
  }
  SECTION("settings unknown") {
    Snapshot snap = BaseSnapshot();
    snap.primary.sample->superuser_reserved_connections.reset();
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["connections"]["total"] == 44);
    CHECK(p["maxConnections"] == 100);
    CHECK(p["usableConnections"].is_null());
    CHECK(p["utilization"].is_null());
    CHECK(p["status"] == "unknown");
  }
  SECTION("no usable slots") {
    Snapshot snap = BaseSnapshot();
    snap.primary.sample->superuser_reserved_connections = 100;
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["usableConnections"] == 0);
    CHECK(p["utilization"].is_null());
  }
  SECTION("app pool size not configured") {
    Snapshot snap = BaseSnapshot();
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["appPoolSize"].is_null());
    CHECK(p["appPoolUtilization"].is_null());
    CHECK(p["utilization"].get<double>() == Approx(44.0 / 97.0));
  }
}

// --- docs/json-endpoints.md ------------------------------------------------

std::filesystem::path DocsPath() {
  // __FILE__ is src/http/json_api_test.cc under the source tree.
  return std::filesystem::path(__FILE__)
             .parent_path()
             .parent_path()
             .parent_path() /
         "docs" / "json-endpoints.md";
}

// The ```json block that follows the line "<!-- example: PATH -->".
std::optional<json> DocExample(const std::string& doc,
                               const std::string& path) {
  const std::string marker = "<!-- example: " + path + " -->";
  std::size_t at = doc.find(marker);
  if (at == std::string::npos) return std::nullopt;
  at = doc.find("```json\n", at);
  if (at == std::string::npos) return std::nullopt;
  at += 8;
  const std::size_t end = doc.find("```", at);
  if (end == std::string::npos) return std::nullopt;
  return json::parse(doc.substr(at, end - at));
}

TEST_CASE("docs: the examples are this code's answers", "[json][docs]") {
  // docs/json-endpoints.md and the README carry the same examples.
  for (const auto& file :
       {DocsPath(), DocsPath().parent_path().parent_path() / "README.md"}) {
    CAPTURE(file.string());
    std::ifstream in(file);
    REQUIRE(in.good());
    std::stringstream doc;
    doc << in.rdbuf();
    const Snapshot snap = ExampleSnapshot();
    for (const char* path : {kStatus, kHealth, kLag, kPool}) {
      CAPTURE(path);
      std::optional<json> example = DocExample(doc.str(), path);
      REQUIRE(example);
      CHECK(*example == Get(path, snap).body);
    }
  }
}

// Prints the examples for docs/json-endpoints.md. Hidden; run with
//   http_tests "[.dump]"
TEST_CASE("dump the documented examples", "[.dump]") {
  const Snapshot snap = ExampleSnapshot();
  for (const char* path : {kStatus, kHealth, kLag, kPool}) {
    HttpResponse response;
    REQUIRE(HandleJsonEndpoint(path, snap, &response));
    std::cout << "<!-- example: " << path << " -->\n"
              << "HTTP " << response.status << "\n```json\n"
              << response.body << "```\n\n";
  }
}

}  // namespace
}  // namespace pgre
