// Server views as the pipeline publishes them, for the cluster module's
// table tests (health_test, lb_check_test). Header-only; never linked into
// the agent.
#ifndef PGRE_CLUSTER_TEST_VIEWS_H_
#define PGRE_CLUSTER_TEST_VIEWS_H_

#include <string>

#include "cluster/snapshot.h"

namespace pgre::testing {

// An up, streaming replica with a small exact lag (0.1 s, 100 bytes).
inline ServerView StreamingReplica(const std::string& name = "replica1") {
  ServerView v;
  v.name = name;
  v.application_name = name;
  v.polled = true;
  v.up = true;
  v.sample = ServerSample{};
  v.sample->collector_success["server"] = true;
  v.sample->collector_success["wal_receiver"] = true;
  v.sample->in_recovery = true;
  v.sample->receive_lsn = 1000;
  v.sample->replay_lsn = 1000;
  v.sample->wal_receiver = WalReceiverRow{};
  v.sample->wal_receiver->status = "streaming";
  v.streaming = true;
  v.lag_seconds = 0.1;
  v.lag_bytes = 100;
  return v;
}

// The adopted primary, up and out of recovery.
inline ServerView ObservedPrimary(const std::string& name = "primary") {
  ServerView v;
  v.name = name;
  v.polled = true;
  v.up = true;
  v.is_primary = true;
  v.claims_primary = true;
  v.sample = ServerSample{};
  v.sample->collector_success["server"] = true;
  v.sample->current_lsn = 1000;
  return v;
}

}  // namespace pgre::testing

#endif  // PGRE_CLUSTER_TEST_VIEWS_H_
