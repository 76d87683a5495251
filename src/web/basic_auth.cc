#include "web/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <vector>

namespace pgre {
namespace {

// crypt_r's state is large (~32 KiB): on the heap, one per call.
std::string Crypt(const std::string& phrase, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return "";
  return out;
}

std::array<unsigned char, 32> Fingerprint(const std::string& user,
                                          const std::string& password) {
  std::array<unsigned char, 32> digest{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
  const std::uint64_t n = user.size();
  EVP_DigestUpdate(ctx, &n, sizeof n);
  EVP_DigestUpdate(ctx, user.data(), user.size());
  EVP_DigestUpdate(ctx, password.data(), password.size());
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &len);
  EVP_MD_CTX_free(ctx);
  return digest;
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' ||
      (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$') {
    return false;
  }
  // Cost: two digits, 04 to 31 (bcrypt's range).
  if (hash[6] != '$' || !std::isdigit(static_cast<unsigned char>(hash[4])) ||
      !std::isdigit(static_cast<unsigned char>(hash[5]))) {
    return false;
  }
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  // crypt_r accepts the salt as a setting: it yields a hash of the same
  // form. Checked at the cheapest cost, so that loading a config never
  // runs 2^cost rounds (a cost-31 hash would take days).
  std::string setting(hash);
  setting[4] = '0';
  setting[5] = '4';
  const std::string out = Crypt("x", setting);
  return out.size() == 60 && out.compare(0, 7, setting, 0, 7) == 0;
}

std::string MakeBcryptHash(const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0,
                       salt, sizeof salt) == nullptr) {
    return "";
  }
  return Crypt(password, salt);
}

std::optional<Credentials> ParseBasicAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  std::string_view b64 = header.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() > 4096) {
    return std::nullopt;
  }
  std::vector<unsigned char> out(b64.size() / 4 * 3 + 1);
  const int n = EVP_DecodeBlock(
      out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
      static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes: drop them.
  int len = n;
  if (b64.back() == '=') --len;
  if (b64.size() >= 2 && b64[b64.size() - 2] == '=') --len;
  std::string text(reinterpret_cast<const char*>(out.data()),
                   static_cast<std::size_t>(len));
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{text.substr(0, colon), text.substr(colon + 1)};
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users)
    : users_(std::move(users)) {
  // A dummy with the cost of the first user's hash ("$2y$10$" + salt +
  // a digest no password yields): verifying an unknown user costs what a
  // known one does. Made without running the rounds, so that loading a
  // config stays cheap whatever the cost.
  if (!users_.empty()) {
    const std::string& some = users_.begin()->second;
    dummy_hash_ =
        some.substr(0, 7) + "abcdefghijklmnopqrstuu" + std::string(31, '.');
  }
}

bool BasicAuth::Verify(const std::string& password,
                       const std::string& hash) const {
  const std::string out = Crypt(password, hash);
  return out.size() == hash.size() && !hash.empty() &&
         CRYPTO_memcmp(out.data(), hash.data(), hash.size()) == 0;
}

bool BasicAuth::Authenticate(const char* header) {
  if (users_.empty()) return true;
  if (header == nullptr) return false;
  auto creds = ParseBasicAuthorization(header);
  if (!creds) return false;
  const auto print = Fingerprint(creds->user, creds->password);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (remembered_.count(print)) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      verifications_in_window_ = 0;
    }
    if (++verifications_in_window_ > kMaxVerificationsPerSecond) return false;
  }
  auto it = users_.find(creds->user);
  const bool known = it != users_.end();
  const bool ok = Verify(creds->password, known ? it->second : dummy_hash_);
  if (!ok || !known) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  remembered_.insert(print);
  return true;
}

}  // namespace pgre
