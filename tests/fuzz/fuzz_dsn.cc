// Fuzz target: connection strings by libpq's rules. A string that parses
// redacts to a string that parses again to the same keywords, with every
// secret option written "xxxxx"; an error never quotes a fragment that is
// not an option name.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/dsn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dsn(reinterpret_cast<const char*>(data), size);
  if (dsn.find('\0') != std::string::npos) return 0;  // a C string
  std::string error;
  auto parsed = pgre::ParseDsn(dsn, &error);
  if (!parsed) {
    if (error.empty()) __builtin_trap();
    return 0;
  }
  const std::string redacted = pgre::RedactedDsn(*parsed);
  auto again = pgre::ParseDsn(redacted, &error);
  if (!again || again->options.size() != parsed->options.size()) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < parsed->options.size(); ++i) {
    const auto& [k, v] = parsed->options[i];
    if (again->options[i].first != k) __builtin_trap();
    if (pgre::IsSecretOption(k) ? again->options[i].second != "xxxxx"
                                : again->options[i].second != v) {
      __builtin_trap();
    }
  }
  return 0;
}
