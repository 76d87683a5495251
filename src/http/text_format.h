// The Prometheus text format (0.0.4) of prometheus-cpp's MetricFamily,
// written into a std::string.
//
// Why not prometheus::TextSerializer: at 1 000 servers every cluster is
// rendered once a poll, and the library's serializer (an ostream, one
// operator<< per character of a label value, doubles through num_put) is
// three quarters of a rendering: about 9 500 of 12 400 instructions per
// series (callgrind, bench/scrape_bench.cc --mode=changed-all). This writer
// appends to a string and formats numbers with std::to_chars: see
// docs/performance.md for the figures.
//
// Its output is byte for byte prometheus-cpp 1.0's for every family whose
// HELP text has no backslash and no newline (text_format_test.cc holds the
// two together on the agent's real families and on edge cases); such HELP
// text is escaped as the format requires (`\\`, `\n`), where prometheus-cpp
// 1.0 writes it raw. Numbers as prometheus-cpp writes them: `%.16g` (the
// same digits as C's printf), `Nan`, `+Inf`, `-Inf`; label values escaped
// (`\\`, `\"`, `\n`); a timestamp only when not 0.
//
// Thread safety: pure functions.
#ifndef PGRE_HTTP_TEXT_FORMAT_H_
#define PGRE_HTTP_TEXT_FORMAT_H_

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgre {

// Appends `family`'s "# HELP" (when its help is not empty) and "# TYPE"
// lines.
void AppendFamilyHeader(const prometheus::MetricFamily& family,
                        std::string* out);
void AppendFamilyHeader(std::string_view name, std::string_view help,
                        prometheus::MetricType type, std::string* out);
// Appends `family`'s sample lines (every metric, in order).
void AppendFamilySamples(const prometheus::MetricFamily& family,
                         std::string* out);
// Appends every family: header, then samples.
void AppendTextFormat(const std::vector<prometheus::MetricFamily>& families,
                      std::string* out);
std::string TextFormat(const std::vector<prometheus::MetricFamily>& families);

// A label's name and value.
using LabelRef = std::pair<std::string_view, std::string_view>;

// Appends one sample line without a timestamp, `NAME{L1="V1",...} VALUE`
// (no braces without labels), as AppendFamilySamples writes a counter's,
// gauge's or untyped metric's.
void AppendSampleLine(std::string_view name, const LabelRef* labels,
                      std::size_t label_count, double value, std::string* out);

// Appends the text of `labels` between a sample's braces, `L1="V1",...`,
// values escaped.
void AppendLabelText(const LabelRef* labels, std::size_t label_count,
                     std::string* out);

// The same line with its first labels already written: `written` is their
// text as AppendLabelText writes it (empty: none), `labels` the labels
// after them. Appends the bytes AppendSampleLine appends for all of them;
// a renderer whose series share their first labels (a server's forty)
// escapes them once.
void AppendSampleLine(std::string_view name, std::string_view written,
                      const LabelRef* labels, std::size_t label_count,
                      double value, std::string* out);

// Appends `value` as prometheus-cpp writes a sample value.
void AppendSampleValue(double value, std::string* out);

}  // namespace pgre

#endif  // PGRE_HTTP_TEXT_FORMAT_H_
