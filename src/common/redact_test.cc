#include "common/redact.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace pgre {
namespace {

TEST_CASE("ScrubSecrets replaces every registered secret", "[redact]") {
  RegisterSecret("alpha-secret-1");
  RegisterSecret("beta-secret-2");
  RegisterSecret("");   // ignored: must not turn everything into xxxxx
  RegisterSecret("y");  // too short: would mangle "key" and "f.yml"
  CHECK(ScrubSecrets("key f.yml") == "key f.yml");
  CHECK(ScrubSecrets("a alpha-secret-1 b beta-secret-2 c alpha-secret-1") ==
        "a xxxxx b xxxxx c xxxxx");
  CHECK(ScrubSecrets("nothing to hide") == "nothing to hide");
  CHECK(ScrubSecrets("") == "");
}

TEST_CASE("ScrubSecrets prefers the longest secret", "[redact]") {
  RegisterSecret("gamma-long-secret");
  RegisterSecret("gamma-long");
  CHECK(ScrubSecrets("x gamma-long-secret y gamma-long z") ==
        "x xxxxx y xxxxx z");
}

TEST_CASE("Registry is safe to use from many threads", "[redact]") {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 200; ++i) {
        const std::string secret =
            "omicron-" + std::to_string(t) + "-" + std::to_string(i);
        RegisterSecret(secret);
        // A secret is visible to the thread that registered it at once.
        if (ScrubSecrets(secret + "!") != "xxxxx!") ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  for (int t = 0; t < 4; ++t) {
    CHECK(ScrubSecrets("omicron-" + std::to_string(t) + "-199") == "xxxxx");
  }
}

}  // namespace
}  // namespace pgre
