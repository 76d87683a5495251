#include "config/dsn.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdio>
#include <set>

#include "common/redact.h"

namespace pgre {
namespace {

// libpq's option names and which are secret, from PQconndefaults().
struct Options {
  std::set<std::string> names;
  std::set<std::string> secret;
};

const Options& KnownOptions() {
  static const Options* options = [] {
    auto* out = new Options();
    PQconninfoOption* all = PQconndefaults();
    for (PQconninfoOption* o = all; o != nullptr && o->keyword != nullptr;
         ++o) {
      out->names.insert(o->keyword);
      if (o->dispchar != nullptr && o->dispchar[0] == '*') {
        out->secret.insert(o->keyword);
      }
    }
    PQconninfoFree(all);
    // Never fewer than today's: a libpq without PQconndefaults data must
    // not make the password printable.
    out->secret.insert("password");
    out->secret.insert("sslpassword");
    return out;
  }();
  return *options;
}

std::string Quote(const std::string& v) {
  bool plain = !v.empty();
  for (char c : v) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '\\') {
      plain = false;
    }
  }
  if (plain) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// The ways a URI may spell `value`: every byte that is not unreserved
// percent-encoded, in upper and in lower case hex.
std::vector<std::string> PercentForms(const std::string& value) {
  std::string upper, lower;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      upper += static_cast<char>(c);
      lower += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      upper += buf;
      std::snprintf(buf, sizeof buf, "%%%02x", c);
      lower += buf;
    }
  }
  return {upper, lower};
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string ParsedDsn::Get(const std::string& keyword) const {
  for (const auto& [k, v] : options) {
    if (k == keyword) return v;
  }
  return "";
}

std::string HideQuotedFragments(const std::string& message) {
  const Options& known = KnownOptions();
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    const std::size_t open = message.find('"', i);
    if (open == std::string::npos) {
      out += message.substr(i);
      break;
    }
    const std::size_t close = message.find('"', open + 1);
    if (close == std::string::npos) {
      out += message.substr(i, open - i) + "\"…\"";
      break;
    }
    const std::string inner = message.substr(open + 1, close - open - 1);
    const bool keep = known.names.count(inner) > 0 ||
                      (inner.size() == 1 &&
                       std::ispunct(static_cast<unsigned char>(inner[0])));
    out += message.substr(i, open - i) + "\"" + (keep ? inner : "…") + "\"";
    i = close + 1;
  }
  return out;
}

std::optional<ParsedDsn> ParseDsn(const std::string& dsn, std::string* error) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &err);
  if (options == nullptr) {
    *error =
        err != nullptr ? HideQuotedFragments(OneLine(err)) : "out of memory";
    if (err != nullptr) PQfreemem(err);
    return std::nullopt;
  }
  ParsedDsn out;
  const Options& known = KnownOptions();
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    out.options.emplace_back(o->keyword, o->val);
    const bool secret = known.secret.count(o->keyword) > 0 ||
                        (o->dispchar != nullptr && o->dispchar[0] == '*');
    if (secret && o->val[0] != '\0') out.secrets.emplace_back(o->val);
  }
  PQconninfoFree(options);
  return out;
}

bool IsSecretOption(const std::string& keyword) {
  return KnownOptions().secret.count(keyword) > 0;
}

std::string RedactedDsn(const ParsedDsn& dsn) {
  std::string out;
  for (const auto& [k, v] : dsn.options) {
    if (!out.empty()) out += ' ';
    out += k + "=" + (IsSecretOption(k) ? std::string("xxxxx") : Quote(v));
  }
  return out;
}

void RegisterDsnSecrets(const ParsedDsn& dsn) {
  for (const std::string& secret : dsn.secrets) {
    RegisterSecret(secret);
    for (std::string& form : PercentForms(secret)) RegisterSecret(form);
  }
}

void RegisterDsnSecrets(const std::string& dsn) {
  std::string error;
  if (auto parsed = ParseDsn(dsn, &error)) RegisterDsnSecrets(*parsed);
}

}  // namespace pgre
