// Metrics: renders a Snapshot as Prometheus metric families (prometheus-cpp
// data model). docs/metrics.md lists every family. Pure: no I/O.
#ifndef PGRE_HTTP_METRICS_H_
#define PGRE_HTTP_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "poll/snapshot.h"

namespace pgre {

// Every family derived from `snapshot`. Series exist only for what the
// snapshot knows: a server that cannot be polled keeps its up, poll and
// error series and loses the rest (lag included: absent, never 0); a
// standby that left pg_stat_replication has no series.
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const Snapshot& snapshot);

// A Collectable that renders the store's latest snapshot on each Collect().
// Thread-safe.
class SnapshotCollectable : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(const SnapshotStore* store) : store_(store) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return BuildMetricFamilies(*store_->Get());
  }

 private:
  const SnapshotStore* store_;
};

}  // namespace pgre

#endif  // PGRE_HTTP_METRICS_H_
