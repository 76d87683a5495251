#include "http/text_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace pgre {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

template <typename Int>
void AppendInt(Int value, std::string* out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 24 bytes hold any 64-bit integer
  out->append(buf, end);
}

// Writes `value` at `p` as prometheus-cpp writes a sample value (at most
// 25 bytes); returns the end.
char* WriteSampleValue(double value, char* p) {
  if (std::isnan(value)) {
    std::memcpy(p, "Nan", 3);
    return p + 3;
  }
  if (std::isinf(value)) {
    std::memcpy(p, value < 0 ? "-Inf" : "+Inf", 4);
    return p + 4;
  }
  // Most values are whole numbers (flags, counts, bytes): under 1e16 "%.16g"
  // writes them as integers (not -0, which it writes "-0").
  if (value > -1e16 && value < 1e16 && value == std::trunc(value) &&
      !(value == 0 && std::signbit(value))) {
    return std::to_chars(p, p + 24, static_cast<std::int64_t>(value)).ptr;
  }
  // "%.16g", without printf's locale and varargs: to_chars with a precision
  // is printf's conversion, digit for digit. 16 significant digits, a sign,
  // a point and "e-308" fit in 32 bytes.
  return std::to_chars(p, p + 32, value, std::chars_format::general, 16).ptr;
}

// The bytes a label value escapes: backslash, double quote, newline.
constexpr auto kEscaped = [] {
  std::array<bool, 256> t{};
  t[static_cast<unsigned char>('\\')] = true;
  t[static_cast<unsigned char>('"')] = true;
  t[static_cast<unsigned char>('\n')] = true;
  return t;
}();

// Whether any byte of the word `w` is backslash, double quote or newline
// (the classic test for a zero byte, on w XOR each of them: exact on
// whether, which is all that is asked).
bool HasEscapedByte(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  auto has = [](std::uint64_t x, unsigned char b) {
    const std::uint64_t y = x ^ (kOnes * b);
    return (y - kOnes) & ~y & kHighs;
  };
  return (has(w, '\\') | has(w, '"') | has(w, '\n')) != 0;
}

// Writes `value` escaped at `p` (room for twice its size); returns the end.
// Label values seldom hold a byte to escape: eight bytes at a time are
// copied while a word holds none.
char* WriteLabelValue(std::string_view value, char* p) {
  std::size_t i = 0;
  for (; i + 8 <= value.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, value.data() + i, 8);
    if (HasEscapedByte(w)) break;
    std::memcpy(p, &w, 8);
    p += 8;
  }
  for (; i < value.size(); ++i) {
    const char c = value[i];
    if (kEscaped[static_cast<unsigned char>(c)]) {
      *p++ = '\\';
      *p++ = c == '\n' ? 'n' : c;
    } else {
      *p++ = c;
    }
  }
  return p;
}

// A label value: backslash, double quote and newline escaped.
void AppendLabelValue(std::string_view value, std::string* out) {
  std::size_t from = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (!kEscaped[static_cast<unsigned char>(c)]) continue;
    out->append(value.data() + from, i - from);
    out->push_back('\\');
    out->push_back(c == '\n' ? 'n' : c);
    from = i + 1;
  }
  out->append(value.data() + from, value.size() - from);
}

// `NAME="VALUE"`, after a comma unless first.
void AppendLabel(std::string_view name, std::string_view value, bool first,
                 std::string* out) {
  if (!first) out->push_back(',');
  out->append(name);
  out->append("=\"");
  AppendLabelValue(value, out);
  out->push_back('"');
}

// HELP text: backslash and newline escaped.
void AppendHelp(std::string_view help, std::string* out) {
  std::size_t from = 0;
  for (std::size_t i = 0; i < help.size(); ++i) {
    const char c = help[i];
    if (c != '\\' && c != '\n') continue;
    out->append(help.data() + from, i - from);
    out->push_back('\\');
    out->push_back(c == '\n' ? 'n' : c);
    from = i + 1;
  }
  out->append(help.data() + from, help.size() - from);
}

// The name, the suffix and the labels (with one extra label when
// extra_name is not empty), then a space.
void AppendHead(const MetricFamily& family, const ClientMetric& metric,
                std::string_view suffix, std::string_view extra_name,
                std::string_view extra_value, std::string* out) {
  out->append(family.name);
  out->append(suffix);
  if (!metric.label.empty() || !extra_name.empty()) {
    out->push_back('{');
    bool first = true;
    for (const ClientMetric::Label& l : metric.label) {
      AppendLabel(l.name, l.value, first, out);
      first = false;
    }
    if (!extra_name.empty()) AppendLabel(extra_name, extra_value, first, out);
    out->push_back('}');
  }
  out->push_back(' ');
}

void AppendTail(const ClientMetric& metric, std::string* out) {
  if (metric.timestamp_ms != 0) {
    out->push_back(' ');
    AppendInt(metric.timestamp_ms, out);
  }
  out->push_back('\n');
}

std::string DoubleText(double value) {
  std::string s;
  AppendSampleValue(value, &s);
  return s;
}

void AppendSimple(const MetricFamily& family, const ClientMetric& metric,
                  double value, std::string* out) {
  AppendHead(family, metric, {}, {}, {}, out);
  AppendSampleValue(value, out);
  AppendTail(metric, out);
}

void AppendSummary(const MetricFamily& family, const ClientMetric& metric,
                   std::string* out) {
  const auto& sum = metric.summary;
  AppendHead(family, metric, "_count", {}, {}, out);
  AppendInt(sum.sample_count, out);
  AppendTail(metric, out);
  AppendHead(family, metric, "_sum", {}, {}, out);
  AppendSampleValue(sum.sample_sum, out);
  AppendTail(metric, out);
  for (const auto& q : sum.quantile) {
    AppendHead(family, metric, {}, "quantile", DoubleText(q.quantile), out);
    AppendSampleValue(q.value, out);
    AppendTail(metric, out);
  }
}

void AppendHistogram(const MetricFamily& family, const ClientMetric& metric,
                     std::string* out) {
  const auto& hist = metric.histogram;
  AppendHead(family, metric, "_count", {}, {}, out);
  AppendInt(hist.sample_count, out);
  AppendTail(metric, out);
  AppendHead(family, metric, "_sum", {}, {}, out);
  AppendSampleValue(hist.sample_sum, out);
  AppendTail(metric, out);
  double last = -std::numeric_limits<double>::infinity();
  for (const auto& b : hist.bucket) {
    AppendHead(family, metric, "_bucket", "le", DoubleText(b.upper_bound), out);
    last = b.upper_bound;
    AppendInt(b.cumulative_count, out);
    AppendTail(metric, out);
  }
  if (last != std::numeric_limits<double>::infinity()) {
    AppendHead(family, metric, "_bucket", "le", "+Inf", out);
    AppendInt(hist.sample_count, out);
    AppendTail(metric, out);
  }
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Summary:
      return "summary";
    case MetricType::Untyped:
      return "untyped";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void AppendSampleValue(double value, std::string* out) {
  char buf[32];
  out->append(buf, WriteSampleValue(value, buf));
}

void AppendSampleLine(std::string_view name, const LabelRef* labels,
                      std::size_t label_count, double value, std::string* out) {
  AppendSampleLine(name, std::string_view(), labels, label_count, value, out);
}

void AppendLabelText(const LabelRef* labels, std::size_t label_count,
                     std::string* out) {
  for (std::size_t i = 0; i < label_count; ++i) {
    AppendLabel(labels[i].first, labels[i].second, i == 0, out);
  }
}

void AppendSampleLine(std::string_view name, std::string_view written,
                      const LabelRef* labels, std::size_t label_count,
                      double value, std::string* out) {
  // The line is built in a buffer on the stack and appended once: the
  // string's appends, a call each, were most of a line's cost. The bound
  // counts every label value's bytes twice (each may be escaped).
  std::size_t bound = name.size() + written.size() + 4 + 32;  // {} \n value
  for (std::size_t i = 0; i < label_count; ++i) {
    bound += labels[i].first.size() + 2 * labels[i].second.size() + 4;
  }
  const bool braces = !written.empty() || label_count > 0;
  char stack[1024];
  if (bound > sizeof(stack)) {  // a long line: the string's appends
    out->append(name);
    if (braces) {
      out->push_back('{');
      out->append(written);
      for (std::size_t i = 0; i < label_count; ++i) {
        AppendLabel(labels[i].first, labels[i].second,
                    i == 0 && written.empty(), out);
      }
      out->push_back('}');
    }
    out->push_back(' ');
    AppendSampleValue(value, out);
    out->push_back('\n');
    return;
  }
  char* p = stack;
  auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // an empty view's data() may be null: no memcpy
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(name);
  if (braces) {
    *p++ = '{';
    put(written);
    for (std::size_t i = 0; i < label_count; ++i) {
      if (i > 0 || !written.empty()) *p++ = ',';
      put(labels[i].first);
      *p++ = '=';
      *p++ = '"';
      p = WriteLabelValue(labels[i].second, p);
      *p++ = '"';
    }
    *p++ = '}';
  }
  *p++ = ' ';
  p = WriteSampleValue(value, p);
  *p++ = '\n';
  out->append(stack, p);
}

void AppendFamilyHeader(std::string_view name, std::string_view help,
                        MetricType type, std::string* out) {
  if (!help.empty()) {
    out->append("# HELP ");
    out->append(name);
    out->push_back(' ');
    AppendHelp(help, out);
    out->push_back('\n');
  }
  out->append("# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(TypeName(type));
  out->push_back('\n');
}

void AppendFamilyHeader(const MetricFamily& family, std::string* out) {
  AppendFamilyHeader(family.name, family.help, family.type, out);
}

void AppendFamilySamples(const MetricFamily& family, std::string* out) {
  for (const ClientMetric& m : family.metric) {
    switch (family.type) {
      case MetricType::Counter:
        AppendSimple(family, m, m.counter.value, out);
        break;
      case MetricType::Gauge:
        AppendSimple(family, m, m.gauge.value, out);
        break;
      case MetricType::Untyped:
        AppendSimple(family, m, m.untyped.value, out);
        break;
      case MetricType::Summary:
        AppendSummary(family, m, out);
        break;
      case MetricType::Histogram:
        AppendHistogram(family, m, out);
        break;
    }
  }
}

void AppendTextFormat(const std::vector<MetricFamily>& families,
                      std::string* out) {
  for (const MetricFamily& f : families) {
    AppendFamilyHeader(f, out);
    AppendFamilySamples(f, out);
  }
}

std::string TextFormat(const std::vector<MetricFamily>& families) {
  std::string out;
  AppendTextFormat(families, &out);
  return out;
}

}  // namespace pgre
