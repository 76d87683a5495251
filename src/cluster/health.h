// The one health predicate: whether a server may take reads, and why not.
// Routing (the model's fall/rise checks), /metrics and the JSON endpoints
// all use AssessServer; nothing else decides "healthy". Pure.
//
// In order, the first rule that fails names the verdict:
//   not polled yet                        -> kNotChecked "not checked yet"
//   the last poll failed                  -> kDown "down"
//   the adopted primary                   -> kPrimary "primary" (takes
//                                            writes; never a read target)
//   out of recovery, not adopted          -> kNotInRecovery "not in recovery"
//   the last synthetic read failed        -> kSyntheticFailed
// With a primary reachable (topology ok, or split brain):
//   streaming state unknown               -> kStreamingUnknown
//   WAL receiver not streaming            -> kNotStreaming
//   lag unknown during split brain        -> kSplitBrain
//   lag unknown                           -> kLagUnknown
//   lag only a lower bound, over max_lag  -> kLagHigh "lag at least 9s over 5s"
//   lag only a lower bound, within it     -> kLagUnbounded: not admitted on
//                                            the strength of an unknown
//   lag over routing.max_lag              -> kLagHigh "lag 7.2s over 5s"
//   lag_bytes over routing.max_lag_bytes  -> kLagBytesHigh (when > 0)
// With no primary reachable (the outage rule: reads are served stale rather
// than not at all; the WAL receiver cannot stream, so it is not asked):
//   has not replayed all it received, nor
//   all the primary was last seen to have -> kNotCaughtUp
//   lag at the primary's last sighting
//   over max_lag / max_lag_bytes          -> kLagHigh / kLagBytesHigh
// Otherwise healthy: kOk "ok".
#ifndef PGRE_CLUSTER_HEALTH_H_
#define PGRE_CLUSTER_HEALTH_H_

#include <optional>
#include <string>
#include <vector>

#include "cluster/snapshot.h"

namespace pgre {

// The verdict on snapshot.servers[server], from its view (streaming,
// lag, synthetic result), the cluster's topology and
// snapshot.routing_config. REQUIRES: 0 <= server < servers.size().
HealthVerdict AssessServer(const Snapshot& snapshot, int server);
// The same rules with the lag limits (max_lag, max_lag_bytes) of `limits`
// instead of snapshot.routing_config's (the /lb/ checks' ?lag= bound).
HealthVerdict AssessServer(const Snapshot& snapshot, int server,
                           const RoutingConfig& limits);

// Whether servers[server]'s WAL receiver streams: its own
// pg_stat_wal_receiver when that collector succeeded, else the state of
// its row in its upstream's (or the adopted primary's) pg_stat_replication.
// nullopt when neither tells, or when it is not up and in recovery.
std::optional<bool> DecideStreaming(const std::vector<ServerView>& servers,
                                    int server, int primary);

// Short number formats of the reasons, exposed for tests: a limit exact to
// the millisecond ("5", "1.5", "0.25"), and a lag over `limit` with as few
// decimals as keep it visibly over it (7.2 over 5 -> "7.2", 5.04 -> "5.04").
std::string FormatLimitSeconds(Duration limit);
std::string FormatLagOver(double lag, double limit);

}  // namespace pgre

#endif  // PGRE_CLUSTER_HEALTH_H_
