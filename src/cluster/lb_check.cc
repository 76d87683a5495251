#include "cluster/lb_check.h"

#include <string>

#include "cluster/health.h"

namespace pgre {

std::optional<LbCheck> ParseLbCheck(std::string_view name) {
  if (name == "read-only") return LbCheck::kReadOnly;
  if (name == "replica") return LbCheck::kReplica;
  if (name == "primary" || name == "read-write") return LbCheck::kPrimary;
  if (name == "health") return LbCheck::kHealth;
  return std::nullopt;
}

std::string_view LbCheckName(LbCheck check) {
  switch (check) {
    case LbCheck::kReadOnly:
      return "read-only";
    case LbCheck::kReplica:
      return "replica";
    case LbCheck::kPrimary:
      return "primary";
    case LbCheck::kHealth:
      return "health";
  }
  return "read-only";
}

std::string_view LbCheckNames() {
  return "read-only, replica, primary, read-write, health";
}

namespace {

LbAnswer Pass(std::string reason) { return {true, std::move(reason)}; }
LbAnswer Fail(std::string reason) { return {false, std::move(reason)}; }

// Why the cluster has no single observed primary, or "" when it has one.
std::string NoSinglePrimary(const Snapshot& snapshot) {
  switch (snapshot.topology.state) {
    case TopologyState::kSinglePrimary:
      return "";
    case TopologyState::kSplitBrain:
      return "split brain: " +
             std::to_string(snapshot.topology.claimants.size()) +
             " servers claim primary";
    case TopologyState::kNoPrimary:
      return "no primary";
  }
  return "no primary";
}

LbAnswer ReadOnly(const Snapshot& snapshot, const ServerView& v) {
  if (!v.is_primary) {
    return v.routing.in_rotation ? Pass(v.routing.reason)
                                 : Fail(v.routing.reason);
  }
  // The write target takes reads only as the model's fallback, or when
  // there is nothing else to read from.
  if (snapshot.servers.size() <= 1) return Pass("no read replicas");
  if (snapshot.failover_active) {
    return Pass("reads fail over to the primary");
  }
  return Fail("primary");
}

LbAnswer Replica(const Snapshot& snapshot, int server, const ServerView& v,
                 const LbQuery& query) {
  if (!query.max_lag) {
    if (v.is_primary) return Fail("primary");
    return v.routing.in_rotation ? Pass(v.routing.reason)
                                 : Fail(v.routing.reason);
  }
  RoutingConfig limits = snapshot.routing_config;
  limits.max_lag = *query.max_lag;
  limits.max_lag_bytes = 0;
  const HealthVerdict verdict = AssessServer(snapshot, server, limits);
  return {verdict.healthy, verdict.reason};
}

LbAnswer Primary(const Snapshot& snapshot, const ServerView& v) {
  if (std::string why = NoSinglePrimary(snapshot); !why.empty()) {
    return Fail(why);
  }
  if (!v.up || !v.sample) return Fail("down");
  if (v.is_primary && v.claims_primary) return Pass("primary");
  return Fail(v.sample->in_recovery ? "replica" : "not the primary");
}

}  // namespace

LbAnswer DecideLbCheck(const Snapshot& snapshot, int server,
                       const LbQuery& query) {
  const ServerView& v = snapshot.servers.at(server);
  if (!snapshot.routing_active) {
    return Fail("first health check not done yet");
  }
  switch (query.check) {
    case LbCheck::kReadOnly:
      return ReadOnly(snapshot, v);
    case LbCheck::kReplica:
      return Replica(snapshot, server, v, query);
    case LbCheck::kPrimary:
      return Primary(snapshot, v);
    case LbCheck::kHealth:
      if (!v.polled) return Fail("not checked yet");
      return v.up ? Pass("ok") : Fail("down");
  }
  return Fail("unknown check");
}

}  // namespace pgre
