// Connection strings by libpq's own rules: PQconninfoParse does the parsing
// (URI and key=value forms, quoting, percent-encoding, URI query
// parameters), and every option libpq marks as secret (dispchar "*":
// password, sslpassword, and whatever a newer libpq adds) is what gets
// redacted and registered with the scrubber (common/redact.h).
//
// Thread safety: every function here is thread-safe.
#ifndef PGRE_CONFIG_DSN_H_
#define PGRE_CONFIG_DSN_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgre {

struct ParsedDsn {
  // The options the string sets, in libpq's order: (keyword, value).
  std::vector<std::pair<std::string, std::string>> options;
  // The values of the secret options among them.
  std::vector<std::string> secrets;

  // The value of `keyword`, or "" when the string does not set it.
  std::string Get(const std::string& keyword) const;
};

// Parses `dsn`. On failure returns nullopt and sets *error to libpq's
// message, one line, with every quoted fragment that is not an option name
// (or a lone punctuation mark) replaced by "…": libpq quotes pieces of the
// string it could not parse, and those may be a password.
std::optional<ParsedDsn> ParseDsn(const std::string& dsn, std::string* error);

// The options as key=value, secret values written "xxxxx": safe to log.
std::string RedactedDsn(const ParsedDsn& dsn);

// Registers every secret value (and its percent-encoded forms, as a URI
// may carry it) with RegisterSecret.
void RegisterDsnSecrets(const ParsedDsn& dsn);

// Parses and registers; does nothing when `dsn` does not parse.
void RegisterDsnSecrets(const std::string& dsn);

// Whether libpq marks `keyword` as secret.
bool IsSecretOption(const std::string& keyword);

// libpq's message about a connection string, with the quoted fragments
// hidden as ParseDsn does. Exposed for tests.
std::string HideQuotedFragments(const std::string& message);

}  // namespace pgre

#endif  // PGRE_CONFIG_DSN_H_
