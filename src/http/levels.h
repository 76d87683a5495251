// Levels: the status words of a replica's lag and of a server's connection
// usage (ok / warning / critical / unknown), decided here once for the JSON
// endpoints' `status` fields (json_api.h) and the status page
// (status_page.h). Pure.
#ifndef PGRE_HTTP_LEVELS_H_
#define PGRE_HTTP_LEVELS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "cluster/snapshot.h"
#include "common/thresholds.h"

namespace pgre {

enum class Level { kOk, kWarning, kCritical, kUnknown };

// "ok", "warning", "critical", "unknown".
std::string_view LevelName(Level level);

// A server's lag against the snapshot's lag_status thresholds (over
// `warning`: warning; over `critical`: critical); a lower bound counts as
// the figure it is at least. kUnknown without a lag figure.
Level LagLevel(const Snapshot& snapshot, const ServerView& server);
// The same thresholds applied to the heartbeat lag (unknown without one).
Level HeartbeatLagLevel(const Snapshot& snapshot, const ServerView& server);

// The seed's connection-pool alert thresholds, as fractions of the usable
// connections (max_connections - superuser_reserved_connections), from
// thresholds.toml.
inline constexpr double kPoolWarningUtilization = thresholds::kPoolWarning;
inline constexpr double kPoolCriticalUtilization = thresholds::kPoolCritical;

// A server's client connections against what it can take; every field
// unset when its last poll did not read them.
struct PoolUsage {
  std::optional<std::int64_t> active, idle, idle_in_transaction, other, total;
  std::optional<int> max_connections, superuser_reserved, usable;
  std::optional<double> utilization;  // total / usable
};
PoolUsage PoolUsageOf(const ServerView& server);

// Over kPoolWarningUtilization: warning; over kPoolCriticalUtilization:
// critical; kUnknown when unset.
Level PoolLevel(std::optional<double> utilization);

}  // namespace pgre

#endif  // PGRE_HTTP_LEVELS_H_
