// Redaction of secrets from connection strings and free text.
#ifndef PGRE_COMMON_REDACT_H_
#define PGRE_COMMON_REDACT_H_

#include <string>
#include <string_view>

namespace pgre {

// Returns `dsn` with any password replaced by "xxxxx": the password of a
// URI's userinfo (postgresql://user:SECRET@host), a `password=` query
// parameter, and a `password=` key=value pair (quoted or not). Works on
// malformed input too: it never needs the DSN to parse.
std::string RedactDsn(std::string_view dsn);

// Process-wide set of known secrets (passwords found in configured DSNs).
// RegisterSecret adds one; ScrubSecrets replaces every occurrence of every
// registered secret in `text` with "xxxxx". Thread-safe.
void RegisterSecret(std::string secret);
std::string ScrubSecrets(std::string_view text);

// Extracts the password of a DSN (both forms) and registers it. No-op when
// the DSN has none.
void RegisterDsnSecrets(std::string_view dsn);

}  // namespace pgre

#endif  // PGRE_COMMON_REDACT_H_
