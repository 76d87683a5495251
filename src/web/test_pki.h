// TestPki: a throwaway certificate authority for tests (OpenSSL's API, no
// files from elsewhere): a CA, and server or client certificates it signs,
// written as PEM files into a temp directory. Header-only; never linked
// into the agent.
#ifndef PGRE_WEB_TEST_PKI_H_
#define PGRE_WEB_TEST_PKI_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace pgre::testing {

class TestPki {
 public:
  // Creates the temp dir and the CA (ca.crt, ca.key).
  TestPki() {
    char templ[] = "/tmp/pgre-pki-XXXXXX";
    if (mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = templ;
    ca_key_ = NewKey();
    ca_ = Sign("pg_replica_exporter test CA", ca_key_, nullptr, nullptr, true,
               "");
    Write(dir_ + "/ca.crt", ca_);
    WriteKey(dir_ + "/ca.key", ca_key_);
  }
  ~TestPki() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.crt"; }

  // Writes NAME.crt and NAME.key: a certificate for `cn`, signed by the CA,
  // valid for localhost and 127.0.0.1. Returns the path prefix
  // (dir/NAME).
  std::string Issue(const std::string& name,
                    const std::string& cn = "localhost") {
    EVP_PKEY* key = NewKey();
    X509* cert =
        Sign(cn, key, ca_, ca_key_, false, "DNS:localhost,IP:127.0.0.1,IP:::1");
    const std::string base = dir_ + "/" + name;
    Write(base + ".crt", cert);
    WriteKey(base + ".key", key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return base;
  }

 private:
  static EVP_PKEY* NewKey() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    if (key == nullptr) throw std::runtime_error("EVP_EC_gen");
    return key;
  }

  static X509* Sign(const std::string& cn, EVP_PKEY* key, X509* issuer,
                    EVP_PKEY* issuer_key, bool ca, const std::string& sans) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
      X509_EXTENSION* e =
          X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      if (e == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid");
      X509_add_ext(x, e, -1);
      X509_EXTENSION_free(e);
    };
    add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) {
      add(NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add(NID_ext_key_usage, "serverAuth,clientAuth");
      if (!sans.empty()) add(NID_subject_alt_name, sans);
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
      throw std::runtime_error("X509_sign");
    }
    return x;
  }

  static void Write(const std::string& path, X509* cert) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    PEM_write_X509(f, cert);
    std::fclose(f);
  }
  static void WriteKey(const std::string& path, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  std::string dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
};

}  // namespace pgre::testing

#endif  // PGRE_WEB_TEST_PKI_H_
