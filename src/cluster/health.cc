#include "cluster/health.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

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

HealthVerdict Bad(HealthCode code, std::string reason) {
  return {false, code, std::move(reason)};
}

// The lag limits of the routing config, applied to one figure.
std::optional<HealthVerdict> OverLimits(const RoutingConfig& config, double lag,
                                        std::optional<std::uint64_t> bytes,
                                        std::string_view prefix,
                                        std::string_view suffix) {
  const double max_lag = static_cast<double>(config.max_lag.count()) / 1000.0;
  if (lag > max_lag) {
    return Bad(HealthCode::kLagHigh,
               std::string(prefix) + FormatLagOver(lag, max_lag) + "s over " +
                   FormatLimitSeconds(config.max_lag) + "s" +
                   std::string(suffix));
  }
  if (config.max_lag_bytes > 0 && bytes && *bytes > config.max_lag_bytes) {
    return Bad(HealthCode::kLagBytesHigh,
               "lag " + std::to_string(*bytes) + " bytes over " +
                   std::to_string(config.max_lag_bytes) + std::string(suffix));
  }
  return std::nullopt;
}

bool Known(const std::optional<double>& v) { return v && !std::isnan(*v); }

}  // namespace

std::string FormatLimitSeconds(Duration limit) {
  return FormatFixed(static_cast<double>(limit.count()) / 1000.0, 3);
}

std::string FormatLagOver(double lag, double limit) {
  if (!std::isfinite(lag)) return "inf";
  for (int precision = 1; precision <= 6; ++precision) {
    std::string text = FormatFixed(lag, precision);
    if (std::strtod(text.c_str(), nullptr) > limit) return text;
  }
  return FormatFixed(lag, 9);
}

std::optional<bool> DecideStreaming(const std::vector<ServerView>& servers,
                                    int server, int primary) {
  const ServerView& v = servers.at(server);
  if (!v.up || !v.sample || !v.sample->in_recovery) return std::nullopt;
  if (v.sample->CollectorOk("wal_receiver")) {
    return v.sample->wal_receiver &&
           v.sample->wal_receiver->status == "streaming";
  }
  // Its own view failed: ask the server it follows.
  for (int upstream : {v.upstream, primary}) {
    if (upstream < 0 || upstream >= static_cast<int>(servers.size()) ||
        upstream == server) {
      continue;
    }
    const auto& up = servers[upstream].sample;
    if (!servers[upstream].up || !up || !up->CollectorOk("stat_replication")) {
      continue;
    }
    for (const StandbyRow& row : up->standbys) {
      if (row.application_name == v.application_name) {
        return row.state == "streaming";
      }
    }
  }
  return std::nullopt;
}

HealthVerdict AssessServer(const Snapshot& snapshot, int server) {
  return AssessServer(snapshot, server, snapshot.routing_config);
}

HealthVerdict AssessServer(const Snapshot& snapshot, int server,
                           const RoutingConfig& config) {
  const ServerView& v = snapshot.servers.at(server);
  if (!v.polled) return Bad(HealthCode::kNotChecked, "not checked yet");
  if (!v.up || !v.sample) return Bad(HealthCode::kDown, "down");
  if (v.is_primary) return Bad(HealthCode::kPrimary, "primary");
  if (!v.sample->in_recovery) {
    return Bad(HealthCode::kNotInRecovery, "not in recovery");
  }
  if (v.routing.synthetic_ok == false) {
    return Bad(HealthCode::kSyntheticFailed, "synthetic check failed");
  }

  if (snapshot.topology.state == TopologyState::kNoPrimary) {
    // The outage rule.
    const ServerSample& s = *v.sample;
    const auto& last = snapshot.topology.primary_last_lsn;
    const bool replayed_received =
        !s.receive_lsn || (s.replay_lsn && *s.replay_lsn >= *s.receive_lsn);
    const bool replayed_primary =
        last && s.replay_lsn && *s.replay_lsn >= *last;
    if (!replayed_received && !replayed_primary) {
      return Bad(HealthCode::kNotCaughtUp,
                 "primary down and not caught up: replayed " +
                     std::to_string(s.replay_lsn.value_or(0)) + " of " +
                     std::to_string(*s.receive_lsn) + " bytes received");
    }
    if (Known(v.outage_lag_seconds)) {
      if (auto bad =
              OverLimits(config, *v.outage_lag_seconds, v.outage_lag_bytes,
                         "lag ", " when the primary was last seen")) {
        return *bad;
      }
    }
    return {true, HealthCode::kOk, "ok"};
  }

  if (!v.streaming) {
    return Bad(HealthCode::kStreamingUnknown, "wal receiver state unknown");
  }
  if (!*v.streaming) {
    return Bad(HealthCode::kNotStreaming, "wal receiver not streaming");
  }
  if (!Known(v.lag_seconds)) {
    if (snapshot.topology.state == TopologyState::kSplitBrain) {
      return Bad(
          HealthCode::kSplitBrain,
          "split brain: " + std::to_string(snapshot.topology.claimants.size()) +
              " servers claim primary");
    }
    return Bad(HealthCode::kLagUnknown, "lag unknown");
  }
  if (v.lag_lower_bound) {
    if (auto bad = OverLimits(config, *v.lag_seconds, std::nullopt,
                              "lag at least ", "")) {
      return *bad;
    }
    return Bad(HealthCode::kLagUnbounded, "lag not bounded yet (at least " +
                                              FormatFixed(*v.lag_seconds, 1) +
                                              "s)");
  }
  if (auto bad = OverLimits(config, *v.lag_seconds, v.lag_bytes, "lag ", "")) {
    return *bad;
  }
  return {true, HealthCode::kOk, "ok"};
}

}  // namespace pgre
