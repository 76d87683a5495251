// The checks of the discovery settings (config_keys.h, CheckDiscovery).
#include <fstream>

#include "common/redact.h"
#include "config/config_keys.h"
#include "config/dsn.h"

namespace pgre {
namespace {

constexpr std::string_view kPrefix = "discovery.patroni.";

// Whether `url` is http(s)://HOST[:PORT][/PATH] with no credentials; else
// *problem says why.
bool ValidUrl(const std::string& url, std::string* problem) {
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else {
    *problem =
        "expected http://HOST:PORT or https://HOST:PORT, got \"" + url + "\"";
    return false;
  }
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    // Never echo what may be a password.
    *problem =
        "credentials in the URL; use discovery.patroni.basic_auth instead";
    return false;
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {  // [IPv6]:PORT
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *problem = "an unclosed [ in \"" + url + "\"";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *problem = "expected :PORT after ] in \"" + url + "\"";
        return false;
      }
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    *problem = "no host in \"" + url + "\"";
    return false;
  }
  if (authority.find(':') != std::string_view::npos || !port.empty()) {
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        value = -1;
        break;
      }
      value = value * 10 + (c - '0');
    }
    if (port.empty() || value < 1 || value > 65535) {
      *problem = "a port 1-65535 expected in \"" + url + "\"";
      return false;
    }
  }
  return true;
}

bool Readable(const std::string& path) {
  return std::ifstream(path, std::ios::binary).good();
}

}  // namespace

bool CheckDiscovery(Config* config, std::string* key, std::string* problem) {
  PatroniDiscoveryConfig& d = config->discovery.patroni;
  auto fail = [&](std::string_view k, std::string why) {
    *key = std::string(kPrefix) + std::string(k);
    *problem = std::move(why);
    return false;
  };
  if (!d.enabled()) {
    for (auto [k, v] :
         {std::pair{"dsn_template", &d.dsn_template},
          std::pair{"password_file", &d.password_file},
          std::pair{"basic_auth.username", &d.username},
          std::pair{"basic_auth.password_file", &d.rest_password_file},
          std::pair{"tls_config.ca_file", &d.ca_file},
          std::pair{"tls_config.cert_file", &d.cert_file},
          std::pair{"tls_config.key_file", &d.key_file}}) {
      if (!v->empty()) {
        return fail(k, "set without discovery.patroni.urls");
      }
    }
    return true;
  }
  for (std::size_t i = 0; i < d.urls.size(); ++i) {
    std::string why;
    if (!ValidUrl(d.urls[i], &why)) {
      return fail("urls[" + std::to_string(i) + "]", why);
    }
  }
  if (d.dsn_template.empty()) {
    return fail("dsn_template",
                "required with discovery.patroni.urls (e.g. \"host={host} "
                "port={port} dbname=postgres user=monitor\")");
  }
  for (const char* field : {"{host}", "{port}"}) {
    if (d.dsn_template.find(field) == std::string::npos) {
      return fail("dsn_template", std::string("lacks ") + field);
    }
  }
  // As libpq will see it for a member (and its secrets known to the
  // scrubber before any message could hold them).
  RegisterDsnSecrets(d.dsn_template);
  std::string sample = d.dsn_template;
  for (auto [field, value] :
       {std::pair{"{host}", "example.org"}, std::pair{"{port}", "5432"},
        std::pair{"{name}", "member"}}) {
    for (std::size_t at; (at = sample.find(field)) != std::string::npos;) {
      sample.replace(at, std::string_view(field).size(), value);
    }
  }
  std::string error;
  if (!ParseDsn(sample, &error)) {
    return fail("dsn_template",
                "not a connection string once {host} and {port} are "
                "replaced: " +
                    ScrubSecrets(error));
  }
  if (!d.password_file.empty()) {
    auto password = ReadPasswordFile(d.password_file, problem);
    if (!password) return fail("password_file", *problem);
    RegisterSecret(*password);
  }
  if (d.username.empty() != d.rest_password_file.empty()) {
    return d.username.empty() ? fail("basic_auth.password_file",
                                     "needs basic_auth.username too")
                              : fail("basic_auth.username",
                                     "needs basic_auth.password_file too");
  }
  if (!d.rest_password_file.empty()) {
    auto password = ReadPasswordFile(d.rest_password_file, problem);
    if (!password) return fail("basic_auth.password_file", *problem);
    RegisterSecret(*password);
    d.rest_password = std::move(*password);
  }
  if (d.cert_file.empty() != d.key_file.empty()) {
    return d.cert_file.empty()
               ? fail("tls_config.key_file", "needs tls_config.cert_file too")
               : fail("tls_config.cert_file", "needs tls_config.key_file too");
  }
  for (auto [k, v] : {std::pair{"tls_config.ca_file", &d.ca_file},
                      std::pair{"tls_config.cert_file", &d.cert_file},
                      std::pair{"tls_config.key_file", &d.key_file}}) {
    if (!v->empty() && !Readable(*v)) {
      return fail(k, "cannot read " + *v);
    }
  }
  return true;
}

}  // namespace pgre
