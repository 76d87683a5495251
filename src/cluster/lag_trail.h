// LagTrail: a server's lag over the last minutes, for the status page's
// sparkline (http/status_page.h). One point per `bucket` of the agent's
// monotonic clock: the highest lag a poll measured in that bucket, or none
// when no poll in it measured one (down, not in recovery, not known yet).
// The latest `points` buckets are kept, oldest first; a bucket without any
// poll (the agent was busy, a poll hung) is a point without a value, so
// the points are evenly spaced in time and the last one is the bucket of
// the latest poll. Pure: no clock of its own, no I/O. Memory is bounded by
// `points`.
//
// Thread safety: not thread-safe (ClusterState serializes its calls).
#ifndef PGRE_CLUSTER_LAG_TRAIL_H_
#define PGRE_CLUSTER_LAG_TRAIL_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "common/clock.h"

namespace pgre {

struct LagTrailLimits {
  Duration bucket = std::chrono::seconds(5);
  std::size_t points = 60;  // 60 x 5 s: the last 5 minutes

  Duration span() const { return bucket * static_cast<int>(points); }
};

// A trail's points, oldest first (nullopt: no lag measured in that bucket).
using LagTrailPoints = std::vector<std::optional<double>>;

class LagTrail {
 public:
  // REQUIRES: limits.bucket > 0, limits.points >= 1.
  explicit LagTrail(LagTrailLimits limits = {});

  // Records the lag one poll measured at `at` (nullopt: none measured).
  // Within the bucket of the previous record the point keeps the highest
  // value; a later bucket starts a new point (after a point without a value
  // for every bucket skipped), the oldest dropping out past the limit. A
  // time before the previous record's bucket counts as that bucket.
  // Returns true when Points() changed.
  bool Record(MonoTime at, std::optional<double> lag_seconds);

  // At most limits().points points, oldest first; empty before any record.
  LagTrailPoints Points() const;
  const LagTrailLimits& limits() const { return limits_; }

 private:
  LagTrailLimits limits_;
  std::deque<std::optional<double>> points_;
  std::optional<long long> last_bucket_;
};

}  // namespace pgre

#endif  // PGRE_CLUSTER_LAG_TRAIL_H_
