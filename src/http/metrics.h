// Metrics: renders a Snapshot as Prometheus metric families (prometheus-cpp
// data model). docs/metrics.md lists every family. Pure: no I/O.
#ifndef PGRE_HTTP_METRICS_H_
#define PGRE_HTTP_METRICS_H_

#include <prometheus/metric_family.h>

#include <vector>

#include "cluster/snapshot.h"

namespace pgre {

// Every family derived from `snapshot`. Series exist only for what the
// snapshot knows: a server that cannot be polled keeps its up, poll and
// error series and loses the rest (lag included: absent, never 0); a
// standby that left pg_stat_replication has no series.
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const Snapshot& snapshot);

}  // namespace pgre

#endif  // PGRE_HTTP_METRICS_H_
