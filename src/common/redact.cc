#include "common/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <vector>

namespace pgre {
namespace {

constexpr std::string_view kMask = "xxxxx";

// One password found in a DSN: its raw text is dsn[begin, end).
struct SecretSpan {
  size_t begin = 0;
  size_t end = 0;
  // Other forms worth scrubbing: the decoded value, and fragments libpq may
  // quote in an error message about a malformed DSN.
  std::vector<std::string> forms;
};

bool IsSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; nullopt when an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

void AddSpan(std::string_view dsn, size_t begin, size_t end, bool decode,
             std::vector<SecretSpan>* out) {
  if (end <= begin) return;
  SecretSpan span{begin, end, {}};
  if (decode) {
    if (auto decoded = PercentDecode(dsn.substr(begin, end - begin))) {
      span.forms.push_back(std::move(*decoded));
    }
  }
  out->push_back(std::move(span));
}

// URI form: postgresql://[user[:password]@]host.../db?password=...
// `start` is the index just past "://".
void FindUriSecrets(std::string_view dsn, size_t start,
                    std::vector<SecretSpan>* out) {
  // libpq's rule: userinfo ends at an '@' met before any '/'.
  size_t at = std::string_view::npos;
  const size_t stop = dsn.find_first_of("@/", start);
  if (stop != std::string_view::npos && dsn[stop] == '@') {
    at = stop;
  } else if (stop != std::string_view::npos) {
    // Malformed: a password holding a raw '/'. Take the last '@' after the
    // slash that is not inside a query parameter value (no '=' before it).
    const size_t eq = dsn.find('=', stop);
    const std::string_view head = dsn.substr(0, eq);
    const size_t last_at = head.rfind('@');
    if (last_at != std::string_view::npos && last_at > stop) at = last_at;
  }
  size_t query_from = start;
  if (at != std::string_view::npos) {
    const size_t colon = dsn.find(':', start);
    if (colon != std::string_view::npos && colon < at) {
      AddSpan(dsn, colon + 1, at, /*decode=*/true, out);
    }
    query_from = at + 1;
  }
  const size_t q = dsn.find('?', query_from);
  if (q == std::string_view::npos) return;
  size_t pos = q + 1;
  while (pos <= dsn.size()) {
    size_t amp = dsn.find('&', pos);
    if (amp == std::string_view::npos) amp = dsn.size();
    const std::string_view param = dsn.substr(pos, amp - pos);
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view raw_key = param.substr(0, eq);
      const std::string key =
          PercentDecode(raw_key).value_or(std::string(raw_key));
      if (EqualsNoCase(key, "password")) {
        AddSpan(dsn, pos + eq + 1, amp, /*decode=*/true, out);
      }
    }
    pos = amp + 1;
  }
}

// Key=value form, tokenized as libpq does: `key = value`, where value is
// either 'single quoted' or runs to the next whitespace; a backslash escapes
// the next character in both forms.
void FindKeyValueSecrets(std::string_view dsn, std::vector<SecretSpan>* out) {
  const size_t n = dsn.size();
  size_t i = 0;
  auto skip_space = [&](size_t p) {
    while (p < n && IsSpace(dsn[p])) ++p;
    return p;
  };
  // Reads a bare word (a key, or a stray token) ending at whitespace or '='.
  auto read_word = [&](size_t p) {
    while (p < n && !IsSpace(dsn[p]) && dsn[p] != '=') ++p;
    return p;
  };
  while (true) {
    i = skip_space(i);
    if (i >= n) break;
    const size_t key_begin = i;
    i = read_word(i);
    const std::string_view key = dsn.substr(key_begin, i - key_begin);
    i = skip_space(i);
    if (i >= n || dsn[i] != '=') continue;  // stray token (libpq rejects it)
    i = skip_space(i + 1);
    const size_t value_begin = i;
    std::string value;
    bool quoted = i < n && dsn[i] == '\'';
    if (quoted) {
      ++i;
      while (i < n && dsn[i] != '\'') {
        if (dsn[i] == '\\' && i + 1 < n) ++i;
        value += dsn[i++];
      }
      if (i < n) ++i;  // closing quote; if unterminated, runs to the end
    } else {
      while (i < n && !IsSpace(dsn[i])) {
        if (dsn[i] == '\\' && i + 1 < n) ++i;
        value += dsn[i++];
      }
    }
    if (!EqualsNoCase(key, "password") || i == value_begin) continue;
    SecretSpan span{value_begin, i, {value}};
    if (!quoted) {
      // "password=sec ret": libpq takes "sec" and rejects the stray "ret",
      // quoting it in its error message. Treat such stray words as part of
      // the password.
      while (true) {
        const size_t word_begin = skip_space(i);
        if (word_begin >= n) break;
        const size_t word_end = read_word(word_begin);
        if (skip_space(word_end) < n && dsn[skip_space(word_end)] == '=') {
          break;  // the next key
        }
        if (word_end == word_begin) break;
        span.forms.emplace_back(dsn.substr(word_begin, word_end - word_begin));
        i = word_end;
        span.end = i;
      }
    }
    out->push_back(std::move(span));
  }
}

std::vector<SecretSpan> FindSecrets(std::string_view dsn) {
  std::vector<SecretSpan> spans;
  size_t lead = 0;
  while (lead < dsn.size() && IsSpace(dsn[lead])) ++lead;
  const std::string_view rest = dsn.substr(lead);
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (StartsWithNoCase(rest, scheme)) {
      FindUriSecrets(dsn, lead + scheme.size(), &spans);
      return spans;
    }
  }
  FindKeyValueSecrets(dsn, &spans);
  return spans;
}

// The process-wide secret set, longest first so that a secret that is a
// substring of another never leaves the remainder of the longer one behind.
class SecretRegistry {
 public:
  void Add(std::string secret) {
    if (secret.empty()) return;
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

std::string RedactDsn(std::string_view dsn) {
  std::string out(dsn);
  std::vector<SecretSpan> spans = FindSecrets(dsn);
  // Replace back to front so earlier offsets stay valid.
  std::sort(spans.begin(), spans.end(),
            [](const SecretSpan& a, const SecretSpan& b) {
              return a.begin > b.begin;
            });
  for (const SecretSpan& span : spans) {
    out.replace(span.begin, span.end - span.begin, kMask);
  }
  return out;
}

void RegisterSecret(std::string secret) { Registry().Add(std::move(secret)); }

std::string ScrubSecrets(std::string_view text) {
  return Registry().Scrub(text);
}

void RegisterDsnSecrets(std::string_view dsn) {
  for (SecretSpan& span : FindSecrets(dsn)) {
    RegisterSecret(std::string(dsn.substr(span.begin, span.end - span.begin)));
    for (std::string& form : span.forms) RegisterSecret(std::move(form));
  }
}

}  // namespace pgre
