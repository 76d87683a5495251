#include "web/web_config.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/text.h"

namespace pgre {
namespace {

int LineOf(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 1;
}

// OpenSSL's queued errors as one line ("" when none), and the queue cleared.
std::string OpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

struct Versions {
  const char* name;
  int value;
};
constexpr Versions kVersions[] = {{"TLS10", TLS1_VERSION},
                                  {"TLS11", TLS1_1_VERSION},
                                  {"TLS12", TLS1_2_VERSION},
                                  {"TLS13", TLS1_3_VERSION}};

// Go's curve names (what exporter-toolkit files use) -> OpenSSL groups.
struct Curve {
  const char* go;
  const char* openssl;
};
constexpr Curve kCurves[] = {{"CurveP256", "P-256"},
                             {"CurveP384", "P-384"},
                             {"CurveP521", "P-521"},
                             {"X25519", "X25519"}};

// client_auth_type values (Go's tls.ClientAuthType names).
enum class ClientAuth {
  kNone,
  kRequest,
  kRequireAny,
  kVerifyIfGiven,
  kRequireAndVerify
};
struct ClientAuthName {
  const char* name;
  ClientAuth value;
};
constexpr ClientAuthName kClientAuth[] = {
    {"NoClientCert", ClientAuth::kNone},
    {"RequestClientCert", ClientAuth::kRequest},
    {"RequireAnyClientCert", ClientAuth::kRequireAny},
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify}};

// Accepts any client certificate (RequestClientCert, RequireAnyClientCert).
int AcceptAny(int, X509_STORE_CTX*) { return 1; }

class Loader {
 public:
  Loader(std::string name, std::string dir)
      : name_(std::move(name)), dir_(std::move(dir)) {}

  std::optional<WebSecurity> Load(const std::string& text, std::string* error) {
    std::optional<WebSecurity> out;
    try {
      out = LoadImpl(text);
    } catch (const YAML::Exception& e) {
      error_ = name_ + ":" + std::to_string(e.mark.line + 1) +
               ": YAML error: " + EscapeControl(e.msg);
      out.reset();
    }
    if (!out) *error = error_;
    return out;
  }

 private:
  bool Fail(const YAML::Node& at, const std::string& key,
            const std::string& what) {
    error_ = EscapeControl(name_ + ":" + std::to_string(LineOf(at)) + ": " +
                           key + ": " + what);
    return false;
  }

  std::string Path(const std::string& file) const {
    if (file.empty() || file[0] == '/' || dir_.empty()) return file;
    return dir_ + "/" + file;
  }

  // Visits the keys of a mapping; unknown ones are errors.
  bool Keys(const YAML::Node& map, const std::string& prefix,
            const std::set<std::string>& known,
            const std::set<std::string>& unsupported,
            const std::function<bool(const std::string&, const YAML::Node&,
                                     const YAML::Node&)>& each) {
    if (!map.IsMap()) {
      return Fail(map, prefix.empty() ? "(top level)" : prefix,
                  "expected a mapping");
    }
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (unsupported.count(key)) {
        return Fail(kv.first, path, "not supported by pg_replica_exporter");
      }
      if (!known.count(key)) return Fail(kv.first, path, "unknown key");
      if (!each(path, kv.first, kv.second)) return false;
    }
    return true;
  }

  bool String(const std::string& path, const YAML::Node& key,
              const YAML::Node& value, std::string* out) {
    if (!value.IsScalar() || value.Scalar().empty()) {
      return Fail(key, path, "expected a non-empty string");
    }
    *out = value.Scalar();
    return true;
  }

  bool StringList(const std::string& path, const YAML::Node& key,
                  const YAML::Node& value, std::vector<std::string>* out) {
    if (!value.IsSequence()) return Fail(key, path, "expected a list");
    for (const auto& item : value) {
      if (!item.IsScalar()) return Fail(item, path, "expected strings");
      out->push_back(item.Scalar());
    }
    return true;
  }

  bool Version(const std::string& path, const YAML::Node& key,
               const YAML::Node& value, int* out) {
    std::string text;
    if (!String(path, key, value, &text)) return false;
    for (const Versions& v : kVersions) {
      if (text == v.name) {
        *out = v.value;
        return true;
      }
    }
    return Fail(key, path,
                "expected TLS10, TLS11, TLS12 or TLS13, got \"" + text + "\"");
  }

  std::optional<WebSecurity> LoadImpl(const std::string& text) {
    YAML::Node root = YAML::Load(text);
    WebSecurity out;
    out.source = "file " + name_;
    if (root.IsNull()) return out;  // an empty file: no TLS, no auth
    YAML::Node tls_node, tls_key;
    bool has_tls = false;
    std::map<std::string, std::string> users;
    bool ok = Keys(
        root, "",
        {"tls_server_config", "http_server_config", "basic_auth_users"}, {},
        [&](const std::string& path, const YAML::Node& key,
            const YAML::Node& value) {
          if (path == "tls_server_config") {
            has_tls = true;
            tls_node = value;
            tls_key = key;
            return value.IsMap() || Fail(key, path, "expected a mapping");
          }
          if (path == "http_server_config") return HttpServer(value, &out);
          return Users(key, value, &users);
        });
    if (!ok) return std::nullopt;
    // A default YAML::Node converts to true: only a tls_server_config key
    // the file has sets up TLS.
    if (has_tls && !Tls(tls_key, tls_node, &out)) return std::nullopt;
    if (!users.empty()) out.auth = std::make_shared<BasicAuth>(users);
    return out;
  }

  bool HttpServer(const YAML::Node& map, WebSecurity* out) {
    return Keys(
        map, "http_server_config", {"http2", "headers"}, {},
        [&](const std::string& path, const YAML::Node& key,
            const YAML::Node& value) {
          if (path.ends_with("http2")) {
            // Accepted for compatibility: only HTTP/1.1 is served.
            if (!value.IsScalar() ||
                (value.Scalar() != "true" && value.Scalar() != "false")) {
              return Fail(key, path, "expected true or false");
            }
            return true;
          }
          if (!value.IsMap()) return Fail(key, path, "expected a mapping");
          for (const auto& kv : value) {
            const std::string name = kv.first.Scalar();
            const std::string at = path + "." + name;
            for (char c : name) {
              if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
                return Fail(kv.first, at, "not a header name");
              }
            }
            if (!kv.second.IsScalar()) {
              return Fail(kv.first, at, "expected a string");
            }
            for (char c : kv.second.Scalar()) {
              if (c == '\r' || c == '\n') {
                return Fail(kv.first, at, "a header value has no line breaks");
              }
            }
            out->headers.emplace_back(name, kv.second.Scalar());
          }
          return true;
        });
  }

  bool Users(const YAML::Node& key, const YAML::Node& value,
             std::map<std::string, std::string>* users) {
    if (value.IsNull()) return true;
    if (!value.IsMap()) {
      return Fail(key, "basic_auth_users", "expected a mapping of users");
    }
    for (const auto& kv : value) {
      const std::string user = kv.first.Scalar();
      const std::string at = "basic_auth_users." + user;
      if (user.empty() || user.find(':') != std::string::npos) {
        return Fail(kv.first, at, "a user name is non-empty and has no ':'");
      }
      if (!kv.second.IsScalar() || !IsBcryptHash(kv.second.Scalar())) {
        // The value is not echoed: it may be a password written in clear.
        return Fail(kv.first, at,
                    "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters; "
                    "e.g. htpasswd -nBC 10 \"\" | tr -d ':\\n')");
      }
      if (!users->emplace(user, kv.second.Scalar()).second) {
        return Fail(kv.first, at, "duplicate user");
      }
    }
    return true;
  }

  bool Tls(const YAML::Node& at, const YAML::Node& map, WebSecurity* out) {
    std::string cert, key, ca, auth_type = "NoClientCert";
    std::map<std::string, YAML::Node> where;
    int min_version = TLS1_2_VERSION, max_version = 0;
    std::vector<std::string> ciphers, curves;
    bool prefer_server = true;
    bool ok = Keys(
        map, "tls_server_config",
        {"cert_file", "key_file", "client_auth_type", "client_ca_file",
         "min_version", "max_version", "cipher_suites",
         "prefer_server_cipher_suites", "curve_preferences"},
        {"cert", "key", "client_ca", "client_allowed_sans"},
        [&](const std::string& path, const YAML::Node& k, const YAML::Node& v) {
          const std::string name = path.substr(path.find('.') + 1);
          where[name] = k;
          if (name == "cert_file") return String(path, k, v, &cert);
          if (name == "key_file") return String(path, k, v, &key);
          if (name == "client_ca_file") return String(path, k, v, &ca);
          if (name == "client_auth_type") return String(path, k, v, &auth_type);
          if (name == "min_version") return Version(path, k, v, &min_version);
          if (name == "max_version") return Version(path, k, v, &max_version);
          if (name == "cipher_suites") return StringList(path, k, v, &ciphers);
          if (name == "curve_preferences") {
            return StringList(path, k, v, &curves);
          }
          if (!v.IsScalar() ||
              (v.Scalar() != "true" && v.Scalar() != "false")) {
            return Fail(k, path, "expected true or false");
          }
          prefer_server = v.Scalar() == "true";
          return true;
        });
    if (!ok) return false;
    const std::string p = "tls_server_config.";
    if (cert.empty()) return Fail(at, p + "cert_file", "missing");
    if (key.empty()) return Fail(at, p + "key_file", "missing");
    std::optional<ClientAuth> client_auth;
    for (const ClientAuthName& c : kClientAuth) {
      if (auth_type == c.name) client_auth = c.value;
    }
    if (!client_auth) {
      return Fail(where["client_auth_type"], p + "client_auth_type",
                  "expected NoClientCert, RequestClientCert, "
                  "RequireAnyClientCert, VerifyClientCertIfGiven or "
                  "RequireAndVerifyClientCert, got \"" +
                      auth_type + "\"");
    }
    const bool verifies = *client_auth == ClientAuth::kVerifyIfGiven ||
                          *client_auth == ClientAuth::kRequireAndVerify;
    if (verifies && ca.empty()) {
      return Fail(where["client_auth_type"], p + "client_ca_file",
                  "required by client_auth_type " + auth_type);
    }
    if (max_version != 0 && max_version < min_version) {
      return Fail(where["max_version"], p + "max_version",
                  "must not be below min_version");
    }

    ERR_clear_error();
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()),
                                 SSL_CTX_free);
    if (!ctx) return Fail(at, "tls_server_config", OpensslErrors());
    SSL_CTX_set_min_proto_version(ctx.get(), min_version);
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_options(ctx.get(),
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                            SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    if (prefer_server) {
      SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    auto file_error = [&](const std::string& name, const std::string& file,
                          const std::string& what) {
      return Fail(where[name], p + name, file + ": " + what);
    };
    auto readable = [&](const std::string& name, const std::string& file) {
      std::ifstream in(file);
      if (in) return true;
      return file_error(name, file, std::strerror(errno));
    };
    const std::string cert_path = Path(cert), key_path = Path(key);
    if (!readable("cert_file", cert_path)) return false;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1) {
      return file_error("cert_file", cert_path,
                        "not a PEM certificate: " + OpensslErrors());
    }
    if (!readable("key_file", key_path)) return false;
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_path.c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      const unsigned long e = ERR_peek_last_error();
      const std::string why = OpensslErrors();
      if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
        return file_error("key_file", key_path,
                          "does not match the certificate " + cert_path);
      }
      return file_error("key_file", key_path, "not a PEM private key: " + why);
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      OpensslErrors();
      return file_error("key_file", key_path,
                        "does not match the certificate " + cert_path);
    }
    if (!ca.empty()) {
      const std::string ca_path = Path(ca);
      if (!readable("client_ca_file", ca_path)) return false;
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_path.c_str());
      if (names == nullptr || SSL_CTX_load_verify_locations(
                                  ctx.get(), ca_path.c_str(), nullptr) != 1) {
        if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
        return file_error("client_ca_file", ca_path,
                          "no PEM certificate in it: " + OpensslErrors());
      }
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
    switch (*client_auth) {
      case ClientAuth::kNone:
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
        break;
      case ClientAuth::kRequest:
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, AcceptAny);
        break;
      case ClientAuth::kRequireAny:
        SSL_CTX_set_verify(ctx.get(),
                           SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           AcceptAny);
        break;
      case ClientAuth::kVerifyIfGiven:
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        break;
      case ClientAuth::kRequireAndVerify:
        SSL_CTX_set_verify(ctx.get(),
                           SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           nullptr);
        break;
    }
    if (!ciphers.empty()) {
      // The toolkit names suites by their IANA names; OpenSSL knows both.
      std::string list;
      STACK_OF(SSL_CIPHER)* all = SSL_CTX_get_ciphers(ctx.get());
      for (const std::string& want : ciphers) {
        std::string found;
        for (int i = 0; i < sk_SSL_CIPHER_num(all); ++i) {
          const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
          if (want == SSL_CIPHER_standard_name(c))
            found = SSL_CIPHER_get_name(c);
        }
        if (found.empty()) {
          return Fail(where["cipher_suites"], p + "cipher_suites",
                      "unknown or unavailable cipher suite \"" + want + "\"");
        }
        if (!list.empty()) list += ":";
        list += found;
      }
      if (SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
        return Fail(where["cipher_suites"], p + "cipher_suites",
                    OpensslErrors());
      }
    }
    if (!curves.empty()) {
      std::string list;
      for (const std::string& want : curves) {
        const char* group = nullptr;
        for (const Curve& c : kCurves) {
          if (want == c.go) group = c.openssl;
        }
        if (group == nullptr) {
          return Fail(where["curve_preferences"], p + "curve_preferences",
                      "unknown curve \"" + want + "\"");
        }
        if (!list.empty()) list += ":";
        list += group;
      }
      if (SSL_CTX_set1_groups_list(ctx.get(), list.c_str()) != 1) {
        return Fail(where["curve_preferences"], p + "curve_preferences",
                    OpensslErrors());
      }
    }
    out->tls = std::move(ctx);
    return true;
  }

  const std::string name_;
  const std::string dir_;
  std::string error_;
};

}  // namespace

std::optional<WebSecurity> LoadWebConfigText(const std::string& text,
                                             const std::string& name,
                                             const std::string& dir,
                                             std::string* error) {
  return Loader(name, dir).Load(text, error);
}

std::optional<WebSecurity> LoadWebConfigFile(const std::string& path,
                                             std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash);
  return LoadWebConfigText(text.str(), path, dir.empty() ? "/" : dir, error);
}

}  // namespace pgre
