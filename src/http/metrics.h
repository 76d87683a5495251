// Metrics: renders a Snapshot as Prometheus metric families, in
// prometheus-cpp's data model or straight in the text format (the scrape's
// path: no model built). docs/metrics.md lists every family. Pure: no I/O.
//
// Thread safety: both functions may run on any number of threads at once
// (each thread keeps its own table of families and buffers).
#ifndef PGRE_HTTP_METRICS_H_
#define PGRE_HTTP_METRICS_H_

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/snapshot.h"
#include "http/text_format.h"

namespace pgre {

// Every family derived from `snapshot`. Series exist only for what the
// snapshot knows: a server that cannot be polled keeps its up, poll and
// error series and loses the rest (lag included: absent, never 0); a
// standby that left pg_stat_replication has no series.
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const Snapshot& snapshot);

// The same families in the text format: each family's name, help and type
// (views of static strings) and its sample lines, in BuildMetricFamilies's
// order; `samples` holds every family's lines one after another. The bytes
// are those text_format.h writes for BuildMetricFamilies(snapshot)
// (metrics_test.cc holds the two together).
struct TextFamilies {
  struct Family {
    std::string_view name;
    std::string_view help;
    prometheus::MetricType type;
    std::size_t begin = 0;  // the family's lines: samples.substr(begin, size)
    std::size_t size = 0;
  };
  std::vector<Family> families;
  std::string samples;
};
TextFamilies BuildTextFamilies(const Snapshot& snapshot);

}  // namespace pgre

#endif  // PGRE_HTTP_METRICS_H_
