#include "common/lsn.h"

#include <charconv>

namespace pgre {

std::optional<Lsn> ParseLsn(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    // Decimal, possibly numeric with a ".0"-free integer form.
    Lsn value = 0;
    auto [ptr, ec] = std::from_chars(begin, end, value, 10);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
  }
  std::uint32_t hi = 0, lo = 0;
  auto [p1, e1] = std::from_chars(begin, begin + slash, hi, 16);
  if (e1 != std::errc() || p1 != begin + slash || slash == 0) {
    return std::nullopt;
  }
  auto [p2, e2] = std::from_chars(begin + slash + 1, end, lo, 16);
  if (e2 != std::errc() || p2 != end || begin + slash + 1 == end) {
    return std::nullopt;
  }
  return (static_cast<Lsn>(hi) << 32) | lo;
}

}  // namespace pgre
