// HealthVerdict: the input of the routing model's checks, produced by the
// health predicate (cluster/health.h). Plain data.
#ifndef PGRE_ROUTING_HEALTH_VERDICT_H_
#define PGRE_ROUTING_HEALTH_VERDICT_H_

#include <string>

namespace pgre {

// The health predicate's verdict on one server (cluster/health.h); the
// codes are explained there.
enum class HealthCode {
  kOk,
  kNotChecked,     // no poll yet
  kDown,           // the last poll failed
  kPrimary,        // the adopted primary: takes writes, not reads
  kNotInRecovery,  // claims to be a primary but is not the adopted one
  kSplitBrain,     // lag cannot be told: two servers claim primary
  kNotStreaming,
  kStreamingUnknown,
  kSyntheticFailed,
  kLagUnknown,
  kLagUnbounded,  // only a lower bound is known, and it is within limits
  kLagHigh,
  kLagBytesHigh,
  kNotCaughtUp,  // primary down: has not replayed what it received
};

struct HealthVerdict {
  bool healthy = false;
  HealthCode code = HealthCode::kNotChecked;
  std::string reason = "not checked yet";  // "ok", "lag 7.2s over 5s", ...
};

}  // namespace pgre

#endif  // PGRE_ROUTING_HEALTH_VERDICT_H_
