// BasicAuth: HTTP basic authentication against bcrypt hashes, as the
// exporter-toolkit's basic_auth_users.
//
// Verification uses glibc's libxcrypt (crypt_r) and compares in constant
// time (CRYPTO_memcmp). An unknown user is checked against a dummy hash of
// the same cost, so that the answer takes as long as for a known one.
// bcrypt is slow on purpose (tens of milliseconds at cost 10): a successful
// (user, password) is remembered (as a SHA-256 of both, never the password)
// so that a scraper that authenticates every scrape pays it once, and
// verifications of unremembered credentials are limited to
// kMaxVerificationsPerSecond (more are refused as if wrong), so that a flood
// of bad passwords cannot eat the HTTP thread.
//
// Thread safety: all methods are thread-safe.
#ifndef PGRE_WEB_BASIC_AUTH_H_
#define PGRE_WEB_BASIC_AUTH_H_

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace pgre {

// Whether `hash` is a bcrypt hash crypt_r understands ($2a$, $2b$, $2y$).
bool IsBcryptHash(std::string_view hash);

// A new bcrypt ($2b$) hash of `password` with a random salt, at `cost`
// (4..31; 10 is the usual). "" when the system cannot make one.
std::string MakeBcryptHash(const std::string& password, int cost = 10);

// The user and password of an "Authorization: Basic ..." header value;
// nullopt when it is not one (wrong scheme, bad base64, no colon).
struct Credentials {
  std::string user;
  std::string password;
};
std::optional<Credentials> ParseBasicAuthorization(std::string_view header);

class BasicAuth {
 public:
  static constexpr int kMaxVerificationsPerSecond = 5;
  static constexpr std::size_t kMaxRemembered = 64;

  // REQUIRES: every hash IsBcryptHash().
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool empty() const { return users_.empty(); }

  // Whether the Authorization header value (nullptr when absent) holds a
  // valid user and password.
  bool Authenticate(const char* authorization_header);

 private:
  bool Verify(const std::string& password, const std::string& hash) const;

  const std::map<std::string, std::string> users_;
  std::string dummy_hash_;  // for unknown users

  std::mutex mu_;
  std::set<std::array<unsigned char, 32>> remembered_;  // guarded by mu_
  std::chrono::steady_clock::time_point window_start_;  // guarded by mu_
  int verifications_in_window_ = 0;                     // guarded by mu_
};

}  // namespace pgre

#endif  // PGRE_WEB_BASIC_AUTH_H_
