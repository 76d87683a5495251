#include "routing/routing_model.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace pgre {

std::vector<ServerSpec> ServerSpecs(const std::vector<ServerConfig>& servers) {
  std::vector<ServerSpec> specs;
  specs.reserve(servers.size());
  for (const ServerConfig& server : servers) {
    specs.push_back({server.name, server.weight});
  }
  return specs;
}

RoutingModel::RoutingModel(const RoutingConfig& config,
                           std::vector<ServerSpec> servers, int write_target)
    : config_(config) {
  servers_.reserve(servers.size());
  for (ServerSpec& spec : servers) {
    Server server;
    server.state.name = std::move(spec.name);
    server.state.weight = std::max(1, spec.weight);
    servers_.push_back(std::move(server));
  }
  if (write_target >= 0 && write_target < server_count()) {
    write_target_ = write_target;
    servers_[write_target].state.reason = "primary";
  }
}

RoutingModel RoutingModel::Remapped(const RoutingModel& old,
                                    std::vector<ServerSpec> servers,
                                    const std::vector<int>& old_of_new,
                                    int write_target) {
  RoutingModel out(old.config_, servers, -1);
  for (std::size_t j = 0; j < out.servers_.size(); ++j) {
    const int k = j < old_of_new.size() ? old_of_new[j] : -1;
    if (k < 0 || k >= old.server_count()) continue;
    ServerState state = old.servers_[k].state;
    state.name = out.servers_[j].state.name;
    state.weight = out.servers_[j].state.weight;
    out.servers_[j].state = std::move(state);
    if (k == old.write_target_) write_target = static_cast<int>(j);
  }
  if (write_target >= 0 && write_target < out.server_count()) {
    out.write_target_ = write_target;
    ServerState& st = out.servers_[write_target].state;
    st.reason = "primary";
    st.in_rotation = false;
  }
  out.primary_reads_ = old.primary_reads_;
  out.primary_writes_ = old.primary_writes_;
  out.unrouted_reads_ = old.unrouted_reads_;
  out.RestartRoundRobin();
  return out;
}

void RoutingModel::Reconfigure(const RoutingConfig& config) {
  config_ = config;
}

std::optional<RotationChange> RoutingModel::SetWriteTarget(int index) {
  if (index < -1 || index >= server_count()) index = -1;
  if (index == write_target_) return std::nullopt;
  if (write_target_ >= 0) {
    // A candidate again, but not "first check decides at once": rise.
    ServerState& old = servers_[write_target_].state;
    old.checked = true;
    old.consecutive_healthy = 0;
    old.reason =
        old.last_verdict.healthy ? "not checked yet" : old.last_verdict.reason;
  }
  write_target_ = index;
  if (index < 0) return std::nullopt;
  ServerState& st = servers_[index].state;
  st.reason = "primary";
  st.consecutive_healthy = 0;
  if (!st.in_rotation) return std::nullopt;
  st.in_rotation = false;
  ++st.rotation_changes;
  RestartRoundRobin();
  return RotationChange{st.name, false, "primary"};
}

std::vector<RotationChange> RoutingModel::Check(
    const std::vector<HealthVerdict>& verdicts) {
  assert(verdicts.size() == servers_.size());
  const int fall = std::max(1, config_.fall);
  const int rise = std::max(1, config_.rise);
  std::vector<RotationChange> changes;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    ServerState& st = servers_[i].state;
    HealthVerdict verdict =
        i < verdicts.size() ? verdicts[i]
                            : HealthVerdict{false, HealthCode::kDown, "down"};
    if (static_cast<int>(i) == write_target_) {
      st.last_verdict = std::move(verdict);
      continue;
    }
    if (verdict.healthy) {
      ++st.consecutive_healthy;
      st.consecutive_unhealthy = 0;
    } else {
      ++st.consecutive_unhealthy;
      st.consecutive_healthy = 0;
    }
    const bool first = !st.checked;
    st.checked = true;
    bool entered = false;
    bool left = false;
    if (st.in_rotation) {
      left = !verdict.healthy && st.consecutive_unhealthy >= fall;
    } else if (verdict.healthy) {
      entered = first || st.consecutive_healthy >= rise;
    } else {
      st.reason = verdict.reason;  // still out: keep the latest why
    }
    if (entered) {
      st.in_rotation = true;
      st.reason = "ok";
      ++st.rotation_changes;
      changes.push_back({st.name, true, first ? "healthy" : "recovered"});
    } else if (left) {
      st.in_rotation = false;
      st.reason = verdict.reason;
      ++st.rotation_changes;
      changes.push_back({st.name, false, verdict.reason});
    }
    st.last_verdict = std::move(verdict);
  }
  if (!changes.empty()) RestartRoundRobin();
  return changes;
}

void RoutingModel::RestartRoundRobin() {
  for (Server& server : servers_) server.current_weight = 0;
  origin_ = last_server_ < 0 ? 0 : (last_server_ + 1) % server_count();
}

RouteTarget RoutingModel::RouteRead() {
  // Smooth weighted round-robin (nginx): every candidate gains its weight,
  // the one with the most wins and pays the total. Ties go to the first in
  // configured order, counted cyclically from origin_.
  const int n = server_count();
  int best = -1;
  long long total = 0;
  for (int k = 0; k < n; ++k) {
    const int i = (origin_ + k) % n;
    Server& server = servers_[i];
    if (!server.state.in_rotation) continue;
    server.current_weight += server.state.weight;
    total += server.state.weight;
    if (best < 0 || server.current_weight > servers_[best].current_weight) {
      best = i;
    }
  }
  if (best >= 0) {
    servers_[best].current_weight -= total;
    ++servers_[best].state.routed_reads;
    last_server_ = best;
    return {RouteTarget::kReplica, best};
  }
  if (candidate_count() == 0 || config_.fallback == Fallback::kPrimary) {
    ++primary_reads_;
    if (write_target_ >= 0) ++servers_[write_target_].state.routed_reads;
    return {RouteTarget::kPrimary, write_target_};
  }
  ++unrouted_reads_;
  return {RouteTarget::kNone, -1};
}

RouteTarget RoutingModel::RouteWrite() {
  ++primary_writes_;
  return {RouteTarget::kPrimary, write_target_};
}

int RoutingModel::candidate_count() const {
  return server_count() - (write_target_ >= 0 ? 1 : 0);
}

int RoutingModel::in_rotation_count() const {
  return static_cast<int>(
      std::count_if(servers_.begin(), servers_.end(),
                    [](const Server& s) { return s.state.in_rotation; }));
}

bool RoutingModel::failover_active() const {
  return candidate_count() > 0 && in_rotation_count() == 0 &&
         config_.fallback == Fallback::kPrimary;
}

bool RoutingModel::reads_unroutable() const {
  return candidate_count() > 0 && in_rotation_count() == 0 &&
         config_.fallback == Fallback::kNone;
}

}  // namespace pgre
