// A minimal reader of the Prometheus text exposition format, FOR TESTS ONLY:
// it lets tests assert on what /metrics serves. It is not production parsing
// (the agent never parses exposition text) and accepts only what a
// well-behaved exporter emits: `name{l="v",...} value [timestamp]` sample
// lines, `# HELP` / `# TYPE` comments, blank lines.
//
// Thread safety: all functions are pure and thread-safe.
#ifndef PGRE_TESTS_SUPPORT_METRICS_TEXT_H_
#define PGRE_TESTS_SUPPORT_METRICS_TEXT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgre::testing {

struct MetricSample {
  std::string name;                           // e.g. "x_bucket"
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;                           // NaN, +Inf, -Inf included
};

// Parses every sample line of `text`, in order. Comment and blank lines are
// skipped. A malformed line is skipped too and, when `error` is non-null, the
// first one is described in *error ("line N: what"); *error is left
// untouched when every line parses.
std::vector<MetricSample> ParseMetricsText(const std::string& text,
                                           std::string* error = nullptr);

// The `# TYPE name type` declarations of `text`: metric family -> type.
std::map<std::string, std::string> ParseMetricTypes(const std::string& text);

// The value of the first sample called `name` whose labels include every
// pair of `labels` (other labels are ignored), or nullopt if there is none.
std::optional<double> Find(
    const std::vector<MetricSample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels = {});

// Every sample called `name` whose labels include `labels`.
std::vector<MetricSample> FindAll(
    const std::vector<MetricSample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels = {});

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_METRICS_TEXT_H_
