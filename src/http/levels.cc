#include "http/levels.h"

namespace pgre {

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kOk:
      return "ok";
    case Level::kWarning:
      return "warning";
    case Level::kCritical:
      return "critical";
    case Level::kUnknown:
      break;
  }
  return "unknown";
}

namespace {

Level LagSecondsLevel(const Snapshot& snapshot, std::optional<double> lag) {
  if (!lag) return Level::kUnknown;
  if (*lag > ToSeconds(snapshot.lag_status.critical)) return Level::kCritical;
  if (*lag > ToSeconds(snapshot.lag_status.warning)) return Level::kWarning;
  return Level::kOk;
}

}  // namespace

Level LagLevel(const Snapshot& snapshot, const ServerView& server) {
  return LagSecondsLevel(snapshot, server.lag_seconds);
}

Level HeartbeatLagLevel(const Snapshot& snapshot, const ServerView& server) {
  return LagSecondsLevel(snapshot, server.heartbeat_lag_seconds);
}

PoolUsage PoolUsageOf(const ServerView& v) {
  PoolUsage u;
  if (!v.sample) return u;
  if (v.sample->CollectorOk("activity")) {
    const auto& by_state = v.sample->connections_by_state;
    auto count = [&](const char* state) -> std::int64_t {
      auto it = by_state.find(state);
      return it == by_state.end() ? 0 : it->second;
    };
    std::int64_t sum = 0;
    for (const auto& [state, n] : by_state) sum += n;
    u.active = count("active");
    u.idle = count("idle");
    u.idle_in_transaction =
        count("idle in transaction") + count("idle in transaction (aborted)");
    u.other = sum - *u.active - *u.idle - *u.idle_in_transaction;
    u.total = sum;
  }
  u.max_connections = v.sample->max_connections;
  u.superuser_reserved = v.sample->superuser_reserved_connections;
  if (u.max_connections && u.superuser_reserved) {
    u.usable = *u.max_connections - *u.superuser_reserved;
  }
  if (u.total && u.usable && *u.usable > 0) {
    u.utilization = static_cast<double>(*u.total) / *u.usable;
  }
  return u;
}

Level PoolLevel(std::optional<double> utilization) {
  if (!utilization) return Level::kUnknown;
  if (*utilization > kPoolCriticalUtilization) return Level::kCritical;
  if (*utilization > kPoolWarningUtilization) return Level::kWarning;
  return Level::kOk;
}

}  // namespace pgre
