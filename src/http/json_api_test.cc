#include "http/json_api.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/thresholds.h"

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
  v.sample->timeline = 1;
  v.is_primary = true;
  v.claims_primary = true;
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
  v.sample->timeline = 1;
  v.streaming = true;
  v.upstream = 0;
  v.lag_seconds = lag_seconds;
  v.lag_bytes = lag_seconds ? lag_bytes : std::nullopt;
  if (!lag_seconds) v.lag_unknown_reason = "no primary position observed yet";
  v.standby_connected = true;
  v.health = {true, HealthCode::kOk, "ok"};
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
  v.lag_unknown_reason = "down";
  v.health = {false, HealthCode::kDown, "down"};
  v.routing.in_rotation = false;
  v.routing.reason = "down";
  return v;
}

// A cluster with its primary up and adopted, and no replica yet.
Snapshot BaseSnapshot() {
  Snapshot s;
  s.cluster = "main";
  s.servers = {Primary()};
  s.topology.state = TopologyState::kSinglePrimary;
  s.topology.primary = 0;
  s.topology.primary_observed = true;
  s.topology.claimants = {0};
  s.topology.timeline = 1;
  s.topology.primary_last_lsn = 50595328;
  s.topology.primary_last_seen = BaseTime() - 400ms;
  s.state_file_status = "restored: 812 entries saved 2s ago";
  s.taken_at = BaseTime();
  return s;
}

// The snapshot the examples in docs/json-endpoints.md are rendered from.
Snapshot ExampleSnapshot() {
  Snapshot s = BaseSnapshot();
  s.cluster = "hospitality";
  s.app_pool_size = 100;
  s.servers.push_back(Replica("replica1", 0.012, 0));
  s.servers.push_back(Replica("replica2", 2.5, 1048576));
  s.servers.back().sample->connections_by_state["idle in transaction"] = 1;
  s.servers.back()
      .sample->connections_by_state["idle in transaction (aborted)"] = 1;
  s.servers.push_back(DownReplica("replica3"));
  s.routing_active = true;
  s.servers[0].routing.routed_reads = 0;
  s.servers[0].routing.reason = "primary";
  s.servers[1].routing.routed_reads = 5120;
  s.servers[2].routing.routed_reads = 5119;
  s.servers[3].routing.routed_reads = 2048;
  s.servers[3].routing.rotation_changes = 1;
  // A pgbouncer in front of the primary, its pool full with one client
  // waiting; and one that fronts no configured server, down.
  PgBouncerView b;
  b.name = "bouncer1";
  b.server = "primary";
  b.server_index = 0;
  b.endpoint = "db1:6432";
  b.polled = b.up = true;
  PgBouncerSample bs;
  bs.pools.push_back(PgBouncerPool{.database = "app",
                                   .user = "app",
                                   .cl_active = 20,
                                   .cl_waiting = 1,
                                   .sv_active = 20,
                                   .sv_idle = 0,
                                   .sv_used = 0,
                                   .maxwait_seconds = 0.5,
                                   .pool_mode = "transaction"});
  PgBouncerDatabase db;
  db.name = db.target = "app";
  db.pool_size = 20;
  bs.databases.push_back(db);
  bs.max_client_conn = 200;
  bs.version = "PgBouncer 1.18.0";
  b.sample = bs;
  s.pgbouncers.push_back(b);
  PgBouncerView down;
  down.name = "bouncer-batch";
  down.endpoint = "batch1:6432";
  down.polled = true;
  down.last_error = "connect: connection refused";
  s.pgbouncers.push_back(down);
  return s;
}

json OrNullJson(const std::optional<bool>& v) {
  return v ? json(*v) : json(nullptr);
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

TEST_CASE("status: observed role and streaming as decided", "[json][status]") {
  struct Case {
    const char* what;
    bool up;
    bool in_recovery;
    std::optional<bool> streaming;  // ServerView::streaming (DecideStreaming)
    json observed_role;
  };
  const std::vector<Case> cases = {
      {"streaming", true, true, true, "replica"},
      {"not streaming", true, true, false, "replica"},
      {"unknown", true, true, std::nullopt, "replica"},
      {"promoted", true, false, std::nullopt, "primary"},
      {"down", false, true, std::nullopt, nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Snapshot snap = BaseSnapshot();
    ServerView r = c.up ? Replica("r", 0.1) : DownReplica("r");
    if (c.up) r.sample->in_recovery = c.in_recovery;
    r.streaming = c.streaming;
    snap.servers.push_back(r);
    const json body = Get(kStatus, snap).body;
    CHECK(body["replicas"][0]["observedRole"] == c.observed_role);
    CHECK(body["replicas"][0]["streaming"] == OrNullJson(c.streaming));
  }
}

TEST_CASE("status: before the routing loop has run nothing is in rotation",
          "[json][status]") {
  Snapshot snap = ExampleSnapshot();
  snap.routing_active = false;
  for (ServerView& v : snap.servers) {
    v.routing.in_rotation = false;
    v.routing.reason = "not checked yet";
  }
  const json body = Get(kStatus, snap).body;
  CHECK(body["routingActive"] == false);
  for (const json& r : body["replicas"]) {
    CHECK(r["inRotation"] == false);
    CHECK(r["reason"] == "not checked yet");
  }
  // The health predicate's verdict is there already.
  CHECK(body["replicas"][0]["healthy"] == true);
  CHECK(body["replicas"][2]["healthy"] == false);
  CHECK(body["replicas"][2]["healthReason"] == "down");
  CHECK(Get(kHealth, snap).response.status == 503);
}

TEST_CASE("status: the topology says who claims to be primary",
          "[json][status]") {
  SECTION("normal") {
    const json t = Get(kStatus, ExampleSnapshot()).body["topology"];
    CHECK(t["state"] == "ok");
    CHECK(t["primary"] == "primary");
    CHECK(t["configuredPrimary"] == "primary");
    CHECK(t["claimPrimary"] == json::array({"primary"}));
    CHECK(t["primaryDown"] == false);
    CHECK(t["staleReads"] == false);
  }
  SECTION("split brain") {
    Snapshot snap = ExampleSnapshot();
    snap.topology.state = TopologyState::kSplitBrain;
    snap.topology.claimants = {0, 1};
    snap.servers[1].claims_primary = true;
    snap.servers[1].sample->in_recovery = false;
    const json body = Get(kStatus, snap).body;
    CHECK(body["topology"]["state"] == "split_brain");
    CHECK(body["topology"]["claimPrimary"] ==
          json::array({"primary", "replica1"}));
    CHECK(body["primary"]["name"] == "primary");
    CHECK(body["replicas"][0]["observedRole"] == "primary");
  }
  SECTION("after a promotion the primary is the adopted server") {
    Snapshot snap = ExampleSnapshot();
    snap.servers[0] = DownReplica("primary");
    snap.servers[0].role = Role::kPrimary;
    snap.servers[1].is_primary = true;
    snap.servers[1].claims_primary = true;
    snap.servers[1].sample->in_recovery = false;
    snap.topology.primary = 1;
    snap.topology.claimants = {1};
    snap.topology.primary_changes = 1;
    snap.topology.timeline_changes = 1;
    snap.topology.timeline = 2;
    const json body = Get(kStatus, snap).body;
    CHECK(body["topology"]["primary"] == "replica1");
    CHECK(body["topology"]["configuredPrimary"] == "primary");
    CHECK(body["topology"]["primaryChanges"] == 1);
    CHECK(body["primary"]["name"] == "replica1");
    CHECK(body["primary"]["role"] == "replica");  // as configured
    CHECK(body["primary"]["isPrimary"] == true);
    CHECK(body["primary"]["healthy"] == true);
    REQUIRE(body["replicas"].size() == 3);
    CHECK(body["replicas"][0]["name"] == "primary");
    CHECK(body["replicas"][0]["role"] == "primary");
    CHECK(body["replicas"][0]["up"] == false);
    CHECK(Get(kLag, snap).body["replicas"][0]["name"] == "primary");
    CHECK(Get(kPool, snap).body["primary"]["name"] == "replica1");
  }
  SECTION("primary down: reads are served stale") {
    Snapshot snap = ExampleSnapshot();
    snap.servers[0] = DownReplica("primary");
    snap.servers[0].role = Role::kPrimary;
    snap.servers[0].is_primary = true;
    snap.topology.state = TopologyState::kNoPrimary;
    snap.topology.claimants = {};
    snap.topology.stale_reads = true;
    const json body = Get(kStatus, snap).body;
    CHECK(body["topology"]["primaryDown"] == true);
    CHECK(body["topology"]["staleReads"] == true);
    CHECK(body["topology"]["primaryLastLsn"] == 50595328);
    CHECK(body["topology"]["primaryLastSeen"] == "2025-12-13T09:59:59.600Z");
    const Answer health = Get(kHealth, snap);
    CHECK(health.response.status == 200);
    CHECK(health.body["primaryUp"] == false);
    CHECK(health.body["staleReads"] == true);
  }
}

TEST_CASE("status: unknown numbers are null, never 0", "[json][status]") {
  Snapshot snap = BaseSnapshot();
  snap.servers.push_back(Replica("r", std::nullopt));
  snap.servers[1].sample->replay_paused.reset();
  snap.servers[1].standby_connected.reset();
  snap.servers[1].sample->collector_success["activity"] = false;
  snap.servers[1].last_success.reset();
  const json r = Get(kStatus, snap).body["replicas"][0];
  CHECK(r["lagSeconds"].is_null());
  CHECK(r["lagBytes"].is_null());
  CHECK(r["replayPaused"].is_null());
  CHECK(r["standbyConnected"].is_null());
  CHECK(r["connections"].is_null());
  CHECK(r["lastPollTime"].is_null());
  CHECK(r["lagLowerBound"].is_null());
  CHECK(r["lagUnknownReason"] == "no primary position observed yet");
}

TEST_CASE("status: text that is not UTF-8 does not break the answer",
          "[json][status]") {
  Snapshot snap = BaseSnapshot();
  snap.servers.push_back(DownReplica("r"));
  snap.servers[1].last_error =
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
                        {"staleReads", false},
                        {"routingActive", true},
                        {"generatedAt", "2025-12-13T10:00:00.000Z"}}));

  snap.servers[2].routing.in_rotation = false;
  a = Get(kHealth, snap);
  CHECK(a.response.status == 200);
  CHECK(a.body["healthyReplicaCount"] == 1);
  CHECK(a.body["healthy"] == true);

  // The routing loop's decision wins over good-looking poll data.
  snap.servers[1].routing.in_rotation = false;
  snap.failover_active = true;
  snap.servers[0].up = false;
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
    snap.servers.push_back(Replica("r", c.lag, 4096));
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
    snap.servers.push_back(
        Replica("r" + std::to_string(snap.servers.size()), lag));
  }
  const json body = Get(kLag, snap).body;
  CHECK(body["thresholds"]["warningSeconds"] == Approx(0.25));
  CHECK(body["thresholds"]["criticalSeconds"] == 2);
  CHECK(body["replicas"][0]["status"] == "ok");
  CHECK(body["replicas"][1]["status"] == "warning");
  CHECK(body["replicas"][2]["status"] == "critical");
}

TEST_CASE("lag: a lower bound is flagged and judged as at least that",
          "[json][lag]") {
  Snapshot snap = BaseSnapshot();
  snap.servers.push_back(Replica("r", 7.0, 4096));
  snap.servers[1].lag_lower_bound = true;
  const json e = Get(kLag, snap).body["replicas"][0];
  CHECK(e["lowerBound"] == true);
  CHECK(e["status"] == "critical");
  CHECK(Get(kStatus, snap).body["replicas"][0]["lagLowerBound"] == true);
}

TEST_CASE("lag: a down replica is unknown with null figures", "[json][lag]") {
  const json body = Get(kLag, ExampleSnapshot()).body;
  REQUIRE(body["replicas"].size() == 3);
  CHECK(body["replicas"][0] == json({{"name", "replica1"},
                                     {"lagSeconds", 0.012},
                                     {"lagBytes", 0},
                                     {"lowerBound", false},
                                     {"status", "ok"},
                                     {"unknownReason", nullptr},
                                     {"heartbeatLagSeconds", nullptr}}));
  CHECK(body["replicas"][1]["status"] == "warning");
  CHECK(body["replicas"][1]["lagBytes"] == 1048576);
  const json& down = body["replicas"][2];
  CHECK(down["name"] == "replica3");
  CHECK(down["lagSeconds"].is_null());
  CHECK(down["lagBytes"].is_null());
  CHECK(down["status"] == "unknown");
  CHECK(down["lowerBound"].is_null());
  CHECK(down["unknownReason"] == "down");
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
  snap.servers.push_back(r);

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
        json({{"warningUtilization", thresholds::kPoolWarning},
              {"criticalUtilization", thresholds::kPoolCritical}}));

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
    snap.servers[0].sample->connections_by_state.clear();
    snap.servers[0].sample->connections_by_state["active"] = c.total;
    snap.servers[0].sample->max_connections = 103;
    snap.servers[0].sample->superuser_reserved_connections = 3;
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
    snap.servers.push_back(DownReplica("r"));
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
    snap.servers[0].sample->collector_success["activity"] = false;
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["connections"].is_null());
    CHECK(p["maxConnections"] == 100);
    CHECK(p["usableConnections"] == 97);
    CHECK(p["utilization"].is_null());
    CHECK(p["status"] == "unknown");
  }
  SECTION("settings unknown") {
    Snapshot snap = BaseSnapshot();
    snap.servers[0].sample->superuser_reserved_connections.reset();
    const json p = Get(kPool, snap).body["primary"];
    CHECK(p["connections"]["total"] == 44);
    CHECK(p["maxConnections"] == 100);
    CHECK(p["usableConnections"].is_null());
    CHECK(p["utilization"].is_null());
    CHECK(p["status"] == "unknown");
  }
  SECTION("no usable slots") {
    Snapshot snap = BaseSnapshot();
    snap.servers[0].sample->superuser_reserved_connections = 100;
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
  // The source tree's (__FILE__ may be relative to the build directory, as
  // ccache's base_dir makes it, and ctest runs elsewhere).
  return std::filesystem::path(PGRE_SOURCE_DIR) / "docs" / "json-endpoints.md";
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

// Replaces the ```json block after each example marker with `answers`.
std::string UpdateExamples(std::string doc, const Snapshot& snap) {
  for (const char* path : {kStatus, kHealth, kLag, kPool}) {
    const std::string marker = "<!-- example: " + std::string(path) + " -->";
    std::size_t at = doc.find(marker);
    if (at == std::string::npos) continue;
    at = doc.find("```json\n", at);
    if (at == std::string::npos) continue;
    at += 8;
    const std::size_t end = doc.find("```", at);
    if (end == std::string::npos) continue;
    doc.replace(at, end - at, Get(path, snap).response.body);
  }
  return doc;
}

TEST_CASE("docs: the examples are this code's answers", "[json][docs]") {
  // docs/json-endpoints.md carries the examples (the README links there).
  // Regenerate them with PGRE_UPDATE_DOCS=1 http_tests '[docs]'.
  const std::filesystem::path file = DocsPath();
  CAPTURE(file.string());
  std::ifstream in(file);
  REQUIRE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  const Snapshot snap = ExampleSnapshot();
  if (const char* update = std::getenv("PGRE_UPDATE_DOCS");
      update != nullptr && std::string(update) == "1") {
    std::ofstream(file, std::ios::binary) << UpdateExamples(doc.str(), snap);
    doc.str(UpdateExamples(doc.str(), snap));
  }
  for (const char* path : {kStatus, kHealth, kLag, kPool}) {
    CAPTURE(path);
    std::optional<json> example = DocExample(doc.str(), path);
    REQUIRE(example);
    CHECK(*example == Get(path, snap).body);
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
