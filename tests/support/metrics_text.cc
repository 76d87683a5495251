#include "support/metrics_text.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace pgre::testing {
namespace {

bool IsNameChar(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

std::optional<double> ParseValue(const std::string& s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// Parses one sample line into *out. Returns "" on success, else the problem.
std::string ParseLine(const std::string& line, MetricSample* out) {
  size_t i = 0;
  while (i < line.size() && IsNameChar(line[i], i == 0)) ++i;
  if (i == 0) return "expected a metric name";
  out->name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      const size_t start = i;
      while (i < line.size() && IsNameChar(line[i], i == start)) ++i;
      if (i == start) return "expected a label name";
      const std::string label = line.substr(start, i - start);
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return "expected =\" after label " + label;
      }
      i += 2;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < line.size()) {
          const char e = line[i++];
          value += e == 'n' ? '\n' : e;  // \\ -> \, \" -> ", \n -> newline
        } else {
          value += c;
        }
      }
      if (!closed) return "unterminated value of label " + label;
      out->labels[label] = value;
    }
  }
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) {
    return "expected a space before the value";
  }
  std::istringstream rest(line.substr(i));
  std::string value_text, timestamp, extra;
  rest >> value_text >> timestamp >> extra;
  if (!extra.empty()) return "trailing text";
  const auto value = ParseValue(value_text);
  if (!value) return "bad value '" + value_text + "'";
  out->value = *value;
  return "";
}

bool Matches(const MetricSample& s, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  if (s.name != name) return false;
  for (const auto& [k, v] : labels) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

std::vector<MetricSample> ParseMetricsText(const std::string& text,
                                           std::string* error) {
  std::vector<MetricSample> samples;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool reported = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    MetricSample sample;
    const std::string problem = ParseLine(line.substr(first), &sample);
    if (problem.empty()) {
      samples.push_back(std::move(sample));
    } else if (error != nullptr && !reported) {
      *error = "line " + std::to_string(line_no) + ": " + problem;
      reported = true;
    }
  }
  return samples;
}

std::map<std::string, std::string> ParseMetricTypes(const std::string& text) {
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    words >> hash >> keyword >> name >> type;
    if (hash == "#" && keyword == "TYPE" && !name.empty()) types[name] = type;
  }
  return types;
}

std::optional<double> Find(const std::vector<MetricSample>& samples,
                           const std::string& name,
                           const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples) {
    if (Matches(s, name, labels)) return s.value;
  }
  return std::nullopt;
}

std::vector<MetricSample> FindAll(
    const std::vector<MetricSample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  std::vector<MetricSample> out;
  for (const auto& s : samples) {
    if (Matches(s, name, labels)) out.push_back(s);
  }
  return out;
}

}  // namespace pgre::testing
