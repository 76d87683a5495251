// Fuzz target: the environment loader (the seed's variables). The input is
// "NAME=VALUE" lines.
#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::map<std::string, std::string> env;
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  std::string error;
  auto config = pgre::LoadConfigFromEnv(env, &error);
  if (!config && error.rfind("environment", 0) != 0) __builtin_trap();
  return 0;
}
