// Load-balancer checks: whether one server should get traffic of a kind
// now, as a load balancer (HAProxy's httpchk) or an application's replica
// manager asks it through GET /lb/{cluster}/{server}/{check}. Pure: a
// function of one snapshot; nothing here decides "healthy" anew: the
// answers come from the routing model's state (published in the snapshot)
// and the one health predicate (cluster/health.h). docs/load-balancer.md
// states each rule for operators.
//
// Checks (a server is `snapshot.servers[i]`):
//   read-only   passes exactly for the servers the routing model would send
//               a read to now: a server in rotation; the write target (the
//               adopted primary) only while reads fail over to it
//               (Snapshot::failover_active) or when the cluster has no read
//               candidate at all.
//   replica     passes for a server in rotation (never the write target).
//     ?lag=D    instead: the health predicate with routing.max_lag replaced
//               by D and no byte limit: up, in recovery, streaming, lag
//               known (not only a lower bound) and at most D now; no
//               hysteresis.
//   primary     (alias read-write) passes only for the one observed
//               primary: the adopted primary, up and out of recovery, while
//               it is the only server out of recovery. During a split brain
//               or with no primary, no server passes.
//   health      passes while the agent's last poll of the server succeeded.
// Every check fails with the reason "first health check not done yet"
// until the cluster's routing loop has checked once.
#ifndef PGRE_CLUSTER_LB_CHECK_H_
#define PGRE_CLUSTER_LB_CHECK_H_

#include <optional>
#include <string>
#include <string_view>

#include "cluster/snapshot.h"
#include "common/clock.h"

namespace pgre {

enum class LbCheck { kReadOnly, kReplica, kPrimary, kHealth };

// "read-only", "replica", "primary" (and its alias "read-write"),
// "health"; nullopt for anything else.
std::optional<LbCheck> ParseLbCheck(std::string_view name);
// The canonical name: "read-only", "replica", "primary", "health".
std::string_view LbCheckName(LbCheck check);
// The accepted names, comma-separated (for error messages and docs).
std::string_view LbCheckNames();

struct LbQuery {
  LbCheck check = LbCheck::kReadOnly;
  // kReplica only: the ?lag= bound that replaces the rotation.
  std::optional<Duration> max_lag;
};

struct LbAnswer {
  bool pass = false;
  // Why: the routing model's reason ("ok", "lag 7.2s over 5s", "down",
  // "split brain: 2 servers claim primary", ...) or the check's own
  // ("primary", "reads fail over to the primary"). Never error text of a
  // server or a secret.
  std::string reason;
};

// The answer of `query` for snapshot.servers[server].
// REQUIRES: 0 <= server < snapshot.servers.size().
LbAnswer DecideLbCheck(const Snapshot& snapshot, int server,
                       const LbQuery& query);

}  // namespace pgre

#endif  // PGRE_CLUSTER_LB_CHECK_H_
