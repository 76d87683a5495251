// Redaction of secrets from free text: a process-wide registry of known
// secrets (passwords found in configured connection strings, see
// config/dsn.h, and password files) scrubbed from every log line, error and
// answer.
#ifndef PGRE_COMMON_REDACT_H_
#define PGRE_COMMON_REDACT_H_

#include <string>
#include <string_view>

namespace pgre {

// Process-wide set of known secrets (passwords found in configured DSNs).
// RegisterSecret adds one; ScrubSecrets replaces every occurrence of every
// registered secret in `text` with "xxxxx". Secrets shorter than 4 bytes are
// not registered: scrubbing them would mangle every line they occur in, and
// no message of the agent carries a password in the first place (the
// scrubber is the second line of defence). Thread-safe.
void RegisterSecret(std::string secret);
std::string ScrubSecrets(std::string_view text);

}  // namespace pgre

#endif  // PGRE_COMMON_REDACT_H_
