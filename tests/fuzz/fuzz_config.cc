// Fuzz target: the YAML config loader. Any input either loads (a complete
// config: a primary with a DSN, or discovery to find one) or fails with one
// "f.yml:LINE: ..." line; never a crash, a hang or an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto config = pgre::LoadConfigText(text, "f.yml", &error);
  if (config) {
    if (config->primary.dsn.empty() && !config->discovery.patroni.enabled())
      __builtin_trap();
  } else if (error.rfind("f.yml:", 0) != 0 ||
             error.find('\n') != std::string::npos) {
    __builtin_trap();
  }
  return 0;
}
