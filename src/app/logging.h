// Logging setup: spdlog with one stderr sink that writes logfmt or JSON
// lines and scrubs every registered secret (common/redact.h) from each
// message, so a password can never reach the log.
#ifndef PGRE_APP_LOGGING_H_
#define PGRE_APP_LOGGING_H_

#include <string>

namespace pgre {

// Installs the default logger. Returns false and sets *error on an unknown
// level ("debug", "info", "warn", "error") or format ("logfmt", "json").
bool SetupLogging(const std::string& level, const std::string& format,
                  std::string* error);

// One formatted line (no newline), exposed for tests.
std::string FormatLogLine(const std::string& format, const std::string& ts,
                          const std::string& level, const std::string& msg);

}  // namespace pgre

#endif  // PGRE_APP_LOGGING_H_
