#include "routing/routing_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace pgre {
namespace {

// "%.<precision>f" without trailing zeros or a trailing dot: 5.000 -> "5",
// 7.250 -> "7.25".
std::string FormatFixed(double value, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, value);
  std::string text(buf);
  if (text.find('.') != std::string::npos) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  return text;
}

// A configured limit, exact to the millisecond: "5", "1.5", "0.25".
std::string FormatLimit(Duration limit) {
  return FormatFixed(static_cast<double>(limit.count()) / 1000.0, 3);
}

// A lag over `limit` seconds with as few decimals as keep it visibly over
// the limit: 7.2 over 5 -> "7.2", 5.04 over 5 -> "5.04".
std::string FormatLagOver(double lag, double limit) {
  if (!std::isfinite(lag)) return "inf";
  for (int precision = 1; precision <= 6; ++precision) {
    std::string text = FormatFixed(lag, precision);
    if (std::strtod(text.c_str(), nullptr) > limit) return text;
  }
  return FormatFixed(lag, 9);
}

}  // namespace

std::vector<ReplicaSpec> ReplicaSpecs(
    const std::vector<ServerConfig>& servers) {
  std::vector<ReplicaSpec> specs;
  specs.reserve(servers.size());
  for (const ServerConfig& server : servers) {
    specs.push_back({server.name, server.weight});
  }
  return specs;
}

RoutingModel::RoutingModel(const RoutingConfig& config,
                           std::vector<ReplicaSpec> replicas)
    : config_(config) {
  replicas_.reserve(replicas.size());
  for (ReplicaSpec& spec : replicas) {
    Replica replica;
    replica.state.name = std::move(spec.name);
    replica.state.weight = std::max(1, spec.weight);
    replicas_.push_back(std::move(replica));
  }
}

void RoutingModel::Reconfigure(const RoutingConfig& config) {
  config_ = config;
}

HealthVerdict RoutingModel::Evaluate(const RoutingConfig& config,
                                     const ReplicaObservation& observation) {
  if (!observation.up) return {false, "down"};
  if (!observation.in_recovery) return {false, "not in recovery"};
  if (!observation.streaming) return {false, "wal receiver not streaming"};
  if (observation.synthetic_ok.has_value() && !*observation.synthetic_ok) {
    return {false, "synthetic check failed"};
  }
  if (!observation.lag_seconds.has_value() ||
      std::isnan(*observation.lag_seconds)) {
    return {false, "lag unknown"};
  }
  const double lag = *observation.lag_seconds;
  const double max_lag = static_cast<double>(config.max_lag.count()) / 1000.0;
  if (lag > max_lag) {
    return {false, "lag " + FormatLagOver(lag, max_lag) + "s over " +
                       FormatLimit(config.max_lag) + "s"};
  }
  if (config.max_lag_bytes > 0 && observation.lag_bytes.has_value() &&
      *observation.lag_bytes > config.max_lag_bytes) {
    return {false, "lag " + std::to_string(*observation.lag_bytes) +
                       " bytes over " + std::to_string(config.max_lag_bytes)};
  }
  return {true, "ok"};
}

std::vector<RotationChange> RoutingModel::Check(
    const std::vector<ReplicaObservation>& observations) {
  assert(observations.size() == replicas_.size());
  const int fall = std::max(1, config_.fall);
  const int rise = std::max(1, config_.rise);
  std::vector<RotationChange> changes;
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    ReplicaState& st = replicas_[i].state;
    const ReplicaObservation observation =
        i < observations.size() ? observations[i] : ReplicaObservation{};
    HealthVerdict verdict = Evaluate(config_, observation);
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
  for (Replica& replica : replicas_) replica.current_weight = 0;
  origin_ = last_replica_ < 0 ? 0 : (last_replica_ + 1) % replica_count();
}

RouteTarget RoutingModel::RouteRead() {
  // Smooth weighted round-robin (nginx): every candidate gains its weight,
  // the one with the most wins and pays the total. Ties go to the first in
  // configured order, counted cyclically from origin_.
  const int n = replica_count();
  int best = -1;
  long long total = 0;
  for (int k = 0; k < n; ++k) {
    const int i = (origin_ + k) % n;
    Replica& replica = replicas_[i];
    if (!replica.state.in_rotation) continue;
    replica.current_weight += replica.state.weight;
    total += replica.state.weight;
    if (best < 0 || replica.current_weight > replicas_[best].current_weight) {
      best = i;
    }
  }
  if (best >= 0) {
    replicas_[best].current_weight -= total;
    ++replicas_[best].state.routed_reads;
    last_replica_ = best;
    return {RouteTarget::kReplica, best};
  }
  if (n == 0 || config_.fallback == Fallback::kPrimary) {
    ++primary_reads_;
    return {RouteTarget::kPrimary, -1};
  }
  ++unrouted_reads_;
  return {RouteTarget::kNone, -1};
}

RouteTarget RoutingModel::RouteWrite() {
  ++primary_writes_;
  return {RouteTarget::kPrimary, -1};
}

int RoutingModel::in_rotation_count() const {
  return static_cast<int>(
      std::count_if(replicas_.begin(), replicas_.end(),
                    [](const Replica& r) { return r.state.in_rotation; }));
}

bool RoutingModel::failover_active() const {
  return !replicas_.empty() && in_rotation_count() == 0 &&
         config_.fallback == Fallback::kPrimary;
}

bool RoutingModel::reads_unroutable() const {
  return !replicas_.empty() && in_rotation_count() == 0 &&
         config_.fallback == Fallback::kNone;
}

}  // namespace pgre
