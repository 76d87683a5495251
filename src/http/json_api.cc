#include "http/json_api.h"

#include <event2/http.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cluster/health.h"
#include "cluster/manager.h"
#include "http/levels.h"

namespace pgre {
namespace {

// Insertion-ordered, so answers read in the documented field order.
using Json = nlohmann::ordered_json;

constexpr std::string_view kStatusPath = "/v1/system/database/replicas/status";
constexpr std::string_view kHealthPath = "/v1/system/database/replicas/health";
constexpr std::string_view kLagPath = "/v1/system/database/replicas/lag";
constexpr std::string_view kPoolPath =
    "/v1/system/database/connection-pool/stats";

// Unknown values become JSON null, never 0.
template <typename T>
Json OrNull(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json StringOrNull(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

Json ObservedRole(const ServerView& v) {
  if (!v.sample) return nullptr;
  return v.sample->in_recovery ? "replica" : "primary";
}

// The adopted primary first, then every other server in configured order:
// the JSON groups servers by observed role (`role` keeps the configured
// one).
std::vector<const ServerView*> Others(const Snapshot& snap) {
  std::vector<const ServerView*> out;
  for (const ServerView& v : snap.servers) {
    if (!v.is_primary) out.push_back(&v);
  }
  return out;
}
const ServerView& PrimaryOf(const Snapshot& snap) {
  return snap.servers.at(snap.topology.primary);
}

Json NameOrNull(const Snapshot& snap, int index) {
  if (index < 0 || index >= static_cast<int>(snap.servers.size())) {
    return nullptr;
  }
  return snap.servers[index].name;
}

Json ConnectionsByState(const ServerView& v) {
  if (!v.sample || !v.sample->CollectorOk("activity")) return nullptr;
  Json out = Json::object();
  for (const char* state : kConnectionStates) out[state] = 0;
  for (const auto& [state, n] : v.sample->connections_by_state) {
    out[state] = n;
  }
  return out;
}

Json ServerStatus(const Snapshot& snap, const ServerView& v) {
  Json j;
  j["name"] = v.name;
  j["endpoint"] = v.endpoint;
  j["role"] = std::string(RoleName(v.role));
  j["observedRole"] = ObservedRole(v);
  j["isPrimary"] = v.is_primary;
  j["up"] = v.up;
  j["lastError"] = StringOrNull(v.last_error);
  if (v.is_primary) {
    j["healthy"] = v.up && v.claims_primary;
    j["healthReason"] = nullptr;
    j["inRotation"] = nullptr;
    j["reason"] = nullptr;
  } else {
    j["healthy"] = v.health.healthy;
    j["healthReason"] = v.health.reason;
    j["inRotation"] = v.routing.in_rotation;
    j["reason"] = v.routing.reason;
  }
  j["lagSeconds"] = OrNull(v.lag_seconds);
  j["lagBytes"] = OrNull(v.lag_bytes);
  j["lagLowerBound"] = v.lag_seconds ? Json(v.lag_lower_bound) : Json(nullptr);
  j["lagUnknownReason"] = v.lag_seconds || v.is_primary
                              ? Json(nullptr)
                              : StringOrNull(v.lag_unknown_reason);
  j["heartbeatLagSeconds"] = OrNull(v.heartbeat_lag_seconds);
  j["heartbeatUnknownReason"] =
      !snap.heartbeat.enabled || v.heartbeat_lag_seconds || v.is_primary
          ? Json(nullptr)
          : StringOrNull(v.heartbeat_unknown_reason);
  j["upstream"] = NameOrNull(snap, v.upstream);
  j["streaming"] = OrNull(v.streaming);
  j["replayPaused"] =
      v.sample ? OrNull(v.sample->replay_paused) : Json(nullptr);
  j["standbyConnected"] = OrNull(v.standby_connected);
  j["timeline"] = v.sample ? OrNull(v.sample->timeline) : Json(nullptr);
  j["connections"] = ConnectionsByState(v);
  j["lastPollTime"] =
      v.last_success ? Json(Iso8601(*v.last_success)) : Json(nullptr);
  j["pollErrorsTotal"] = v.poll_errors_total;
  return j;
}

Json TopologyBody(const Snapshot& snap) {
  const TopologyView& t = snap.topology;
  Json j;
  j["state"] = std::string(TopologyStateName(t.state));
  j["primary"] = NameOrNull(snap, t.primary);
  j["configuredPrimary"] = snap.servers.at(0).name;
  Json claimants = Json::array();
  for (int c : t.claimants) claimants.push_back(snap.servers.at(c).name);
  j["claimPrimary"] = std::move(claimants);
  j["timeline"] = OrNull(t.timeline);
  j["primaryChanges"] = t.primary_changes;
  j["timelineChanges"] = t.timeline_changes;
  j["primaryDown"] = t.state == TopologyState::kNoPrimary;
  j["staleReads"] = t.stale_reads;
  j["primaryLastLsn"] = OrNull(t.primary_last_lsn);
  j["primaryLastSeen"] =
      t.primary_last_seen ? Json(Iso8601(*t.primary_last_seen)) : Json(nullptr);
  return j;
}

Json HeartbeatBody(const Snapshot& snap) {
  const HeartbeatView& h = snap.heartbeat;
  Json j;
  j["enabled"] = h.enabled;
  if (!h.enabled) return j;
  j["intervalSeconds"] = ToSeconds(h.interval);
  j["table"] = h.table;
  j["writesTotal"] = h.writes_total;
  j["writeErrorsTotal"] = h.write_errors_total;
  j["lastWriteOk"] = h.writes_total > 0 ? Json(h.last_write_ok) : Json(nullptr);
  j["lastError"] = StringOrNull(h.last_error);
  j["lastWrittenTo"] = NameOrNull(snap, h.last_target);
  j["lastSeq"] = OrNull(h.last_seq);
  j["lastWriteTime"] =
      h.last_written_at ? Json(Iso8601(*h.last_written_at)) : Json(nullptr);
  return j;
}

// The HA manager's view (discovery.patroni), null without discovery.
Json ManagerBody(const Snapshot& snap) {
  const ManagerView& m = snap.manager;
  if (!m.enabled) return nullptr;
  Json j;
  j["kind"] = "patroni";
  j["ok"] = m.ok;
  j["leader"] = StringOrNull(m.leader);
  j["observedPrimary"] = StringOrNull(ObservedPrimaryName(snap));
  j["leaderMismatch"] = ManagerLeaderMismatch(snap);
  Json members = Json::array();
  for (const PatroniMember& member : m.members) {
    Json e;
    e["name"] = member.name;
    e["role"] = member.role;
    e["state"] = member.state;
    e["endpoint"] = member.host + ":" + std::to_string(member.port);
    e["timeline"] = OrNull(member.timeline);
    members.push_back(std::move(e));
  }
  j["members"] = std::move(members);
  j["url"] = StringOrNull(m.url);
  j["lastSuccess"] =
      m.last_success ? Json(Iso8601(*m.last_success)) : Json(nullptr);
  j["lastError"] = StringOrNull(m.last_error);
  return j;
}

Json StatusBody(const Snapshot& snap) {
  Json j;
  j["cluster"] = snap.cluster;
  j["replicasEnabled"] = snap.replicas_enabled;
  j["topology"] = TopologyBody(snap);
  j["primary"] = ServerStatus(snap, PrimaryOf(snap));
  Json replicas = Json::array();
  for (const ServerView* r : Others(snap)) {
    replicas.push_back(ServerStatus(snap, *r));
  }
  j["replicas"] = std::move(replicas);
  j["routingActive"] = snap.routing_active;
  j["failoverActive"] = snap.failover_active;
  Json routed = Json::object();
  for (const ServerView& v : snap.servers) {
    routed[v.name] = v.routing.routed_reads;
  }
  j["routedReads"] = std::move(routed);
  j["heartbeat"] = HeartbeatBody(snap);
  j["manager"] = ManagerBody(snap);
  j["lagHistory"] = snap.state_file_status;
  j["generatedAt"] = Iso8601(snap.taken_at);
  return j;
}

Json HealthBody(const Snapshot& snap, int* healthy_count) {
  const std::vector<const ServerView*> others = Others(snap);
  int healthy = 0;
  for (const ServerView* r : others) {
    if (r->routing.in_rotation) ++healthy;
  }
  *healthy_count = healthy;
  const ServerView& primary = PrimaryOf(snap);
  Json j;
  j["healthy"] = healthy > 0;
  j["replicaCount"] = others.size();
  j["healthyReplicaCount"] = healthy;
  j["failoverActive"] = snap.failover_active;
  j["primaryUp"] = primary.up && primary.claims_primary;
  j["staleReads"] = snap.topology.stale_reads;
  j["routingActive"] = snap.routing_active;
  j["generatedAt"] = Iso8601(snap.taken_at);
  return j;
}

Json LagBody(const Snapshot& snap) {
  Json replicas = Json::array();
  for (const ServerView* r : Others(snap)) {
    Json e;
    e["name"] = r->name;
    e["lagSeconds"] = OrNull(r->lag_seconds);
    e["lagBytes"] = OrNull(r->lag_bytes);
    e["lowerBound"] = r->lag_seconds ? Json(r->lag_lower_bound) : Json(nullptr);
    e["status"] = std::string(LevelName(LagLevel(snap, *r)));
    e["unknownReason"] =
        r->lag_seconds ? Json(nullptr) : StringOrNull(r->lag_unknown_reason);
    e["heartbeatLagSeconds"] = OrNull(r->heartbeat_lag_seconds);
    replicas.push_back(std::move(e));
  }
  Json j;
  j["replicas"] = std::move(replicas);
  j["heartbeatEnabled"] = snap.heartbeat.enabled;
  j["thresholds"] = {
      {"warningSeconds", ToSeconds(snap.lag_status.warning)},
      {"criticalSeconds", ToSeconds(snap.lag_status.critical)},
  };
  j["generatedAt"] = Iso8601(snap.taken_at);
  return j;
}

// One pgbouncer of the pool endpoint: its state and every pool.
Json PgBouncerJson(const PgBouncerView& b) {
  Json j;
  j["name"] = b.name;
  j["server"] = b.server.empty() ? Json(nullptr) : Json(b.server);
  j["endpoint"] = b.endpoint;
  j["up"] = b.up;
  j["lastError"] = b.last_error.empty() ? Json(nullptr) : Json(b.last_error);
  Json pools = Json::array();
  if (b.sample) {
    for (const PgBouncerPool& p : b.sample->pools) {
      std::optional<std::int64_t> size;
      for (const PgBouncerDatabase& d : b.sample->databases) {
        if (d.name == p.database) size = d.pool_size;
      }
      std::optional<double> utilization;
      if (size && *size > 0) utilization = double(p.sv_active) / double(*size);
      pools.push_back({{"database", p.database},
                       {"user", p.user},
                       {"poolMode", p.pool_mode},
                       {"clientActive", p.cl_active},
                       {"clientWaiting", p.cl_waiting},
                       {"serverActive", p.sv_active},
                       {"serverIdle", p.sv_idle},
                       {"serverUsed", p.sv_used},
                       {"maxWaitSeconds", p.maxwait_seconds},
                       {"poolSize", OrNull(size)},
                       {"utilization", OrNull(utilization)}});
    }
    j["maxClientConnections"] = OrNull(b.sample->max_client_conn);
    j["version"] = b.sample->version;
  } else {
    j["maxClientConnections"] = nullptr;
    j["version"] = nullptr;
  }
  j["pools"] = std::move(pools);
  return j;
}

Json PgBouncersOf(const Snapshot& snap, const std::string& server) {
  Json out = Json::array();
  for (const PgBouncerView& b : snap.pgbouncers) {
    if (b.server == server) out.push_back(PgBouncerJson(b));
  }
  return out;
}

Json PoolServer(const Snapshot& snap, const ServerView& v) {
  const PoolUsage u = PoolUsageOf(v);
  Json j;
  j["name"] = v.name;
  j["role"] = std::string(RoleName(v.role));
  j["up"] = v.up;
  if (u.total) {
    j["connections"] = {
        {"active", *u.active},
        {"idle", *u.idle},
        {"idleInTransaction", *u.idle_in_transaction},
        {"other", *u.other},
        {"total", *u.total},
    };
  } else {
    j["connections"] = nullptr;
  }
  std::optional<double> app_utilization;
  if (u.total && snap.app_pool_size && *snap.app_pool_size > 0) {
    app_utilization = static_cast<double>(*u.total) / *snap.app_pool_size;
  }
  j["maxConnections"] = OrNull(u.max_connections);
  j["superuserReservedConnections"] = OrNull(u.superuser_reserved);
  j["usableConnections"] = OrNull(u.usable);
  j["utilization"] = OrNull(u.utilization);
  j["appPoolSize"] = OrNull(snap.app_pool_size);
  j["appPoolUtilization"] = OrNull(app_utilization);
  j["status"] = std::string(LevelName(PoolLevel(u.utilization)));
  // The pgbouncers configured in front of this server.
  j["pgbouncers"] = PgBouncersOf(snap, v.name);
  return j;
}

Json PoolBody(const Snapshot& snap) {
  Json j;
  j["primary"] = PoolServer(snap, PrimaryOf(snap));
  Json replicas = Json::array();
  for (const ServerView* r : Others(snap)) {
    replicas.push_back(PoolServer(snap, *r));
  }
  j["replicas"] = std::move(replicas);
  // The pgbouncers that front no configured server.
  j["pgbouncers"] = PgBouncersOf(snap, "");
  j["thresholds"] = {{"warningUtilization", kPoolWarningUtilization},
                     {"criticalUtilization", kPoolCriticalUtilization}};
  j["generatedAt"] = Iso8601(snap.taken_at);
  return j;
}

void Fill(const Json& body, int status, HttpResponse* response) {
  response->status = status;
  response->content_type = "application/json";
  // Server names and error text may hold bytes that are not UTF-8 (e.g. a
  // localized libpq message); replace them rather than throw.
  response->body =
      body.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string Iso8601(WallTime t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto millis = duration_cast<milliseconds>(t - secs).count();
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(millis));
  return out;
}

bool IsJsonEndpoint(std::string_view path) {
  return path == kStatusPath || path == kHealthPath || path == kLagPath ||
         path == kPoolPath;
}

void ClustersResponse(const std::vector<std::shared_ptr<const Snapshot>>& all,
                      HttpResponse* response) {
  Json list = Json::array();
  WallTime newest{};
  for (const auto& snap : all) {
    newest = std::max(newest, snap->taken_at);
    int polled = 0, in_rotation = 0;
    for (const ServerView& v : snap->servers) {
      polled += v.polled ? 1 : 0;
      in_rotation += v.routing.in_rotation && !v.is_primary ? 1 : 0;
    }
    const TopologyView& t = snap->topology;
    Json c;
    c["name"] = snap->cluster;
    c["servers"] = snap->servers.size();
    c["primary"] = t.primary_observed ? Json(snap->servers.at(t.primary).name)
                                      : Json(nullptr);
    c["topology"] = std::string(TopologyStateName(t.state));
    c["replicasInRotation"] = in_rotation;
    c["failoverActive"] = snap->failover_active;
    c["ready"] = polled == static_cast<int>(snap->servers.size());
    char* name =
        evhttp_uriencode(snap->cluster.data(), snap->cluster.size(), 0);
    const std::string query = std::string("?cluster=") + (name ? name : "");
    std::free(name);
    c["endpoints"] = {{"status", std::string(kStatusPath) + query},
                      {"health", std::string(kHealthPath) + query},
                      {"lag", std::string(kLagPath) + query},
                      {"pool", std::string(kPoolPath) + query}};
    list.push_back(std::move(c));
  }
  Json body;
  body["clusters"] = std::move(list);
  body["generatedAt"] = Iso8601(newest);
  Fill(body, 200, response);
}

void UnknownClusterResponse(const std::vector<std::string>& names,
                            HttpResponse* response) {
  Json body;
  body["error"] = "no such cluster";
  body["clusters"] = names;
  Fill(body, 404, response);
}

void LbCheckResponse(const Snapshot& snapshot, int server, LbCheck check,
                     const LbAnswer& answer, HttpResponse* response) {
  const ServerView& v = snapshot.servers.at(server);
  Json body;
  body["cluster"] = snapshot.cluster;
  body["server"] = v.name;
  body["check"] = std::string(LbCheckName(check));
  body["role"] = std::string(RoleName(v.role));
  body["observedRole"] = ObservedRole(v);
  body["up"] = v.up;
  body["inRotation"] = v.routing.in_rotation;
  body["lagSeconds"] = OrNull(v.lag_seconds);
  body["lagIsLowerBound"] = v.lag_lower_bound;
  body["reason"] = answer.reason;
  Fill(body, answer.pass ? 200 : 503, response);
}

void LbNotFoundResponse(std::string_view what, std::string_view name,
                        std::string_view hint, HttpResponse* response) {
  Json body;
  body["error"] = "no such " + std::string(what);
  if (!name.empty()) body[std::string(what)] = std::string(name);
  if (!hint.empty()) body["expected"] = std::string(hint);
  Fill(body, 404, response);
}

bool HandleJsonEndpoint(std::string_view path, const Snapshot& snapshot,
                        HttpResponse* response) {
  if (path == kStatusPath) {
    Fill(StatusBody(snapshot), 200, response);
  } else if (path == kHealthPath) {
    int healthy = 0;
    Json body = HealthBody(snapshot, &healthy);
    Fill(body, healthy > 0 ? 200 : 503, response);
  } else if (path == kLagPath) {
    Fill(LagBody(snapshot), 200, response);
  } else if (path == kPoolPath) {
    Fill(PoolBody(snapshot), 200, response);
  } else {
    return false;
  }
  return true;
}

}  // namespace pgre
