#include "cluster/lag_trail.h"

#include <algorithm>

namespace pgre {

LagTrail::LagTrail(LagTrailLimits limits) : limits_(limits) {
  if (limits_.bucket <= Duration::zero()) limits_.bucket = Duration(1);
  if (limits_.points < 1) limits_.points = 1;
}

bool LagTrail::Record(MonoTime at, std::optional<double> lag_seconds) {
  const long long bucket = at.time_since_epoch() / limits_.bucket;
  if (last_bucket_ && bucket <= *last_bucket_) {
    std::optional<double>& point = points_.back();
    if (lag_seconds && (!point || *lag_seconds > *point)) {
      point = lag_seconds;
      return true;
    }
    return false;
  }
  if (last_bucket_) {
    // Buckets without a poll: points without a value (never more than the
    // trail holds).
    const long long skipped = std::min<long long>(
        bucket - *last_bucket_ - 1, static_cast<long long>(limits_.points));
    for (long long i = 0; i < skipped; ++i) points_.push_back(std::nullopt);
  }
  points_.push_back(lag_seconds);
  while (points_.size() > limits_.points) points_.pop_front();
  last_bucket_ = bucket;
  return true;
}

LagTrailPoints LagTrail::Points() const {
  return LagTrailPoints(points_.begin(), points_.end());
}

}  // namespace pgre
