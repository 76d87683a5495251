// Durations, integers and byte counts as written in configs.
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "config/config.h"
#include "config/config_keys.h"

namespace pgre {
namespace {

// Longest accepted duration: 100 years, far beyond any sensible setting but
// safely inside std::int64_t milliseconds.
constexpr std::int64_t kMaxMillis = 100LL * 365 * 24 * 3600 * 1000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::optional<Duration> ParseDuration(const std::string& text) {
  const size_t n = text.size();
  if (n == 0) return std::nullopt;
  std::int64_t total = 0;
  size_t i = 0;
  while (i < n) {
    // number: digits [. digits], at least one digit in all.
    std::int64_t whole = 0;
    int whole_digits = 0;
    while (i < n && IsDigit(text[i])) {
      if (++whole_digits > 12) return std::nullopt;
      whole = whole * 10 + (text[i++] - '0');
    }
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    int frac_digits = 0;
    if (i < n && text[i] == '.') {
      ++i;
      while (i < n && IsDigit(text[i])) {
        if (++frac_digits > 9) return std::nullopt;
        frac = frac * 10 + (text[i++] - '0');
        frac_scale *= 10;
      }
    }
    if (whole_digits + frac_digits == 0) return std::nullopt;
    // unit
    std::int64_t unit_ms = 0;
    if (text.compare(i, 2, "ms") == 0) {
      unit_ms = 1;
      i += 2;
    } else if (i < n && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else if (i < n && text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (i < n && text[i] == 'h') {
      unit_ms = 3600 * 1000;
      ++i;
    } else {
      return std::nullopt;  // no unit, or an unknown one
    }
    // Sub-millisecond precision is not representable: reject it.
    if ((frac * unit_ms) % frac_scale != 0) return std::nullopt;
    total += whole * unit_ms + frac * unit_ms / frac_scale;
    if (total > kMaxMillis) return std::nullopt;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::int64_t h = ms / 3'600'000;
  const std::int64_t m = ms / 60'000 % 60;
  const std::int64_t s = ms / 1000 % 60;
  const std::int64_t frac = ms % 1000;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (s == 0 && frac == 0) return out;
  if (h == 0 && m == 0 && s == 0) return out + std::to_string(frac) + "ms";
  out += std::to_string(s);
  if (frac > 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 3 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out + "s";
}

std::optional<Duration> ParsePositiveDuration(const std::string& text,
                                              std::string* problem) {
  if (text.empty()) {
    *problem = "empty duration (use e.g. 5s)";
    return std::nullopt;
  }
  auto d = ParseDuration(text);
  if (!d) {
    if (text[0] == '-') {
      *problem = "negative duration " + Quote(text);
    } else if (text.find_first_not_of("0123456789.") == std::string::npos) {
      *problem = "duration " + Quote(text) +
                 " has no unit (use ms, s, m or h, e.g. " + text + "s)";
    } else {
      *problem = "invalid duration " + Quote(text) +
                 " (use numbers with units ms, s, m, h, e.g. 250ms, 5s, "
                 "1m30s)";
    }
    return std::nullopt;
  }
  if (d->count() <= 0) {
    *problem = "duration must be greater than 0, got " + Quote(text);
    return std::nullopt;
  }
  return d;
}

std::optional<int> ParseIntValue(const std::string& text, int min,
                                 std::string* problem) {
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (!AllDigits(digits) || ec != std::errc() || ptr != end ||
      value > std::numeric_limits<int>::max()) {
    *problem = "expected an integer, got " + Quote(text);
    return std::nullopt;
  }
  if (value < min) {
    *problem = "must be >= " + std::to_string(min) + ", got " + text;
    return std::nullopt;
  }
  return static_cast<int>(value);
}

std::optional<std::uint64_t> ParseBytes(const std::string& text,
                                        std::string* problem) {
  size_t digits_end = 0;
  while (digits_end < text.size() && IsDigit(text[digits_end])) ++digits_end;
  const std::string unit = text.substr(digits_end);
  int shift = -1;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "kB") {
    shift = 10;
  } else if (unit == "MB") {
    shift = 20;
  } else if (unit == "GB") {
    shift = 30;
  } else if (unit == "TB") {
    shift = 40;
  }
  std::uint64_t value = 0;
  const char* begin = text.data();
  auto [ptr, ec] = std::from_chars(begin, begin + digits_end, value);
  if (digits_end == 0 || shift < 0 || ec != std::errc() ||
      ptr != begin + digits_end ||
      value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    *problem =
        "expected a byte count like 0, 1048576 or 16MB, got " + Quote(text);
    return std::nullopt;
  }
  return value << shift;
}

}  // namespace pgre
