// The web configuration file (--web.config.file): TLS and basic auth for
// the HTTP listener, in the Prometheus exporter-toolkit format, so that
// operators can reuse the files they have:
//
//   tls_server_config:
//     cert_file: server.crt          # PEM; relative paths are relative to
//     key_file: server.key           #   the web config file's directory
//     client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//     client_ca_file: ca.crt
//     min_version: TLS12             # TLS10..TLS13, default TLS12
//     max_version: TLS13
//     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...]  # <= 1.2
//     prefer_server_cipher_suites: true
//     curve_preferences: [X25519, CurveP256]
//   http_server_config:
//     http2: false                   # accepted; HTTP/1.1 is what is served
//     headers: {Strict-Transport-Security: max-age=31536000}
//   basic_auth_users:
//     prometheus: $2y$10$...         # bcrypt
//
// Loading reads and checks everything (the certificate and key parse and
// match, the CA file parses, every hash is bcrypt) and builds the TLS
// context, or fails with one line "FILE:LINE: KEY: what is wrong". Keys of
// the toolkit this server cannot honour (cert/key inline, client_allowed_sans)
// are errors, never silently ignored.
//
// Thread safety: a loaded WebSecurity is immutable and shared by the HTTP
// threads; Authenticate() is thread-safe.
#ifndef PGRE_WEB_WEB_CONFIG_H_
#define PGRE_WEB_WEB_CONFIG_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "web/basic_auth.h"

struct ssl_ctx_st;

namespace pgre {

// What a web config file says, as loaded.
struct WebSecurity {
  // The TLS server context; null when the file has no tls_server_config.
  std::shared_ptr<ssl_ctx_st> tls;
  // Users and their bcrypt hashes; empty: no authentication.
  std::shared_ptr<BasicAuth> auth;
  // Extra response headers (http_server_config.headers).
  std::vector<std::pair<std::string, std::string>> headers;
  // "file /etc/x.yml" or "none".
  std::string source = "none";
};

// Loads and validates the file. On failure returns nullopt and sets *error.
std::optional<WebSecurity> LoadWebConfigFile(const std::string& path,
                                             std::string* error);

// Same, from YAML text; `name` stands for the file in messages and `dir`
// is where relative file names are looked up.
std::optional<WebSecurity> LoadWebConfigText(const std::string& text,
                                             const std::string& name,
                                             const std::string& dir,
                                             std::string* error);

}  // namespace pgre

#endif  // PGRE_WEB_WEB_CONFIG_H_
