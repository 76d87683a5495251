// Fuzz target: the web config loader (exporter-toolkit YAML). Relative
// file names resolve into a directory that does not exist.
#include <cstddef>
#include <cstdint>
#include <string>

#include "web/web_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto security =
      pgre::LoadWebConfigText(text, "w.yml", "/nonexistent-pgre-fuzz", &error);
  if (!security && error.rfind("w.yml:", 0) != 0) __builtin_trap();
  return 0;
}
