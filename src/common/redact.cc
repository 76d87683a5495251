#include "common/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <vector>

namespace pgre {
namespace {

constexpr std::string_view kMask = "xxxxx";
constexpr std::size_t kMinSecretLength = 4;

// The process-wide secret set, longest first so that a secret that is a
// substring of another never leaves the remainder of the longer one behind.
class SecretRegistry {
 public:
  void Add(std::string secret) {
    // A secret shorter than this would mangle every line it occurs in ("y"
    // is in "key"); no message the agent writes carries one anyway.
    if (secret.size() < kMinSecretLength) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) {
      return;
    }
    secrets_.push_back(std::move(secret));
    std::stable_sort(secrets_.begin(), secrets_.end(),
                     [](const std::string& a, const std::string& b) {
                       return a.size() > b.size();
                     });
  }

  std::string Scrub(std::string_view text) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
      const std::string_view rest = text.substr(i);
      bool matched = false;
      for (const std::string& secret : secrets_) {
        if (rest.substr(0, secret.size()) == secret) {
          out += kMask;
          i += secret.size();
          matched = true;
          break;
        }
      }
      if (!matched) out += text[i++];
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;  // guarded by mu_
};

SecretRegistry& Registry() {
  static SecretRegistry* registry = new SecretRegistry();
  return *registry;
}

}  // namespace

void RegisterSecret(std::string secret) { Registry().Add(std::move(secret)); }

std::string ScrubSecrets(std::string_view text) {
  return Registry().Scrub(text);
}

}  // namespace pgre
