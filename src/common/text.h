// Small text helpers for messages.
#ifndef PGRE_COMMON_TEXT_H_
#define PGRE_COMMON_TEXT_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace pgre {

// `text` with every control character (below 0x20, and 0x7f) written as
// \xNN, so that a message quoting input stays one printable line.
inline std::string EscapeControl(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace pgre

#endif  // PGRE_COMMON_TEXT_H_
