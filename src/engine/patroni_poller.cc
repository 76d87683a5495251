#include "engine/patroni_poller.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdlib>

#include "common/redact.h"

namespace pgre {
namespace {

constexpr std::size_t kMaxBody = 4 << 20;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()),
                      static_cast<int>(in.size()));
  out.resize(n > 0 ? n : 0);
  return out;
}

// The client TLS context of the discovery settings; null and *error when
// the files do not load.
std::shared_ptr<ssl_ctx_st> MakeContext(const PatroniDiscoveryConfig& c,
                                        std::string* error) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    *error = "TLS: " + OpenSslError();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const bool loaded = c.ca_file.empty()
                          ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                          : SSL_CTX_load_verify_locations(
                                ctx.get(), c.ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    *error = "tls_config.ca_file " + c.ca_file + ": " + OpenSslError();
    return nullptr;
  }
  if (!c.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert_file.c_str()) !=
            1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), c.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      *error = "tls_config.cert_file/key_file: " + OpenSslError();
      return nullptr;
    }
  }
  return ctx;
}

}  // namespace

std::optional<RestUrl> ParseRestUrl(const std::string& url) {
  RestUrl out;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.path =
      slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    out.host = std::string(authority.substr(0, colon));
    port = authority.substr(colon + 1);
  } else {
    out.host = std::string(authority);
  }
  if (out.host.empty()) return std::nullopt;
  if (port.empty()) {
    out.port = out.tls ? 443 : 80;
  } else {
    const int p = std::atoi(std::string(port).c_str());
    if (p < 1 || p > 65535 ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    out.port = p;
  }
  return out;
}

PatroniPoller::PatroniPoller(const PatroniDiscoveryConfig& config,
                             Duration timeout, EventLoop* loop,
                             Resolver* resolver, const Clock* clock,
                             Done on_result)
    : config_(config),
      timeout_(timeout),
      loop_(loop),
      resolver_(resolver),
      clock_(clock),
      on_result_(std::move(on_result)),
      ticker_(loop, [this](Watch::Ready) { Tick(); }) {
  const bool any_tls = std::any_of(
      config_.urls.begin(), config_.urls.end(),
      [](const std::string& u) { return u.starts_with("https://"); });
  if (any_tls) ssl_ = MakeContext(config_, &ssl_error_);
}

PatroniPoller::~PatroniPoller() {
  *alive_ = false;
  DropConnection();
}

void PatroniPoller::DropConnection() {
  if (connection_ != nullptr) {
    evhttp_connection_free(connection_);
    connection_ = nullptr;
  }
}

void PatroniPoller::Start(MonoTime first) {
  next_ = first;
  ticker_.Arm(-1, false, false, next_);
}

void PatroniPoller::Tick() {
  next_ += config_.interval;
  if (next_ < clock_->Now()) next_ = clock_->Now() + config_.interval;
  ticker_.Arm(-1, false, false, next_);
  DiscoverNow();
}

void PatroniPoller::DiscoverNow() {
  if (running_ || config_.urls.empty()) return;
  running_ = true;
  Try(0);
}

void PatroniPoller::Try(std::size_t index) {
  current_ = index;
  const std::string& text = config_.urls[index];
  std::optional<RestUrl> url = ParseRestUrl(text);
  if (!url) return Fail(index, "not an http(s) URL");
  if (url->tls && !ssl_) return Fail(index, ssl_error_);
  std::weak_ptr<bool> alive = alive_;
  resolver_->Resolve(
      {url->host}, loop_,
      [this, alive, index, url = *url](Status s, std::string address) {
        if (alive.expired() || !*alive.lock()) return;
        if (!s.ok()) return Fail(index, s.message());
        // One host given: one address back.
        Request(index, url, address.substr(0, address.find(',')));
      });
}

void PatroniPoller::Request(std::size_t index, const RestUrl& url,
                            const std::string& address) {
  DropConnection();  // the previous round's, closed by now
  event_base* base = loop_->base();
  bufferevent* bev = nullptr;
  if (url.tls) {
    SSL* ssl = SSL_new(ssl_.get());
    if (ssl == nullptr) return Fail(index, "TLS: " + OpenSslError());
    if (!IsIpLiteral(url.host)) {
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
      X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), url.host.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
    }
    bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev != nullptr) bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  } else {
    bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  if (bev == nullptr) return Fail(index, "cannot create a socket");
  connection_ = evhttp_connection_base_bufferevent_new(
      base, nullptr, bev, address.c_str(), static_cast<ev_uint16_t>(url.port));
  if (connection_ == nullptr) return Fail(index, "cannot create a connection");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout_.count() % 1000 * 1000);
  evhttp_connection_set_timeout_tv(connection_, &tv);
  evhttp_connection_set_retries(connection_, 0);
  evhttp_connection_set_max_body_size(connection_, kMaxBody);
  evhttp_request* req = evhttp_request_new(&PatroniPoller::OnResponse, this);
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  const bool default_port = url.port == (url.tls ? 443 : 80);
  const std::string host =
      (url.host.find(':') != std::string::npos ? "[" + url.host + "]"
                                               : url.host) +
      (default_port ? "" : ":" + std::to_string(url.port));
  evhttp_add_header(headers, "Host", host.c_str());
  evhttp_add_header(headers, "Accept", "application/json");
  evhttp_add_header(headers, "Connection", "close");
  evhttp_add_header(headers, "User-Agent", "pg_replica_exporter");
  if (!config_.username.empty()) {
    const std::string auth =
        "Basic " + Base64(config_.username + ":" + config_.rest_password);
    evhttp_add_header(headers, "Authorization", auth.c_str());
  }
  const std::string path = url.path + "/cluster";
  if (evhttp_make_request(connection_, req, EVHTTP_REQ_GET, path.c_str()) !=
      0) {
    return Fail(index, "cannot send the request");
  }
}

void PatroniPoller::OnResponse(evhttp_request* req, void* arg) {
  auto* self = static_cast<PatroniPoller*>(arg);
  const std::size_t index = self->current_;
  const int code = req != nullptr ? evhttp_request_get_response_code(req) : 0;
  if (code == 0) {
    std::string why = "no answer (connection refused, timed out after " +
                      std::to_string(self->timeout_.count()) +
                      " ms, or TLS failed)";
    // What TLS said, when it failed: the certificate check first.
    bufferevent* bev =
        self->connection_ != nullptr
            ? evhttp_connection_get_bufferevent(self->connection_)
            : nullptr;
    if (SSL* ssl =
            bev != nullptr ? bufferevent_openssl_get_ssl(bev) : nullptr) {
      const long verify = SSL_get_verify_result(ssl);
      unsigned long last = 0;
      while (const unsigned long e = bufferevent_get_openssl_error(bev)) {
        last = e;
      }
      if (verify != X509_V_OK) {
        why = std::string("TLS: certificate verify failed: ") +
              X509_verify_cert_error_string(verify);
      } else if (last != 0) {
        char buf[256];
        ERR_error_string_n(last, buf, sizeof buf);
        why = std::string("TLS: ") + buf;
      }
    }
    return self->Fail(index, why);
  }
  if (code != 200) {
    return self->Fail(index, "HTTP " + std::to_string(code));
  }
  evbuffer* in = evhttp_request_get_input_buffer(req);
  const std::size_t n = evbuffer_get_length(in);
  std::string body(n, '\0');
  evbuffer_copyout(in, body.data(), n);
  std::string error;
  auto members = ParsePatroniCluster(body, &error);
  if (!members) return self->Fail(index, "not a member list: " + error);
  DiscoveryOutcome out;
  out.ok = true;
  out.url = self->config_.urls[index];
  out.members = std::move(*members);
  out.at = self->clock_->WallNow();
  self->Finish(std::move(out));
}

void PatroniPoller::Fail(std::size_t index, const std::string& why) {
  const std::string message = ScrubSecrets(config_.urls[index] + ": " + why);
  if (index + 1 < config_.urls.size()) {
    // The next URL: any member's API serves the whole cluster. Posted, not
    // called: this may run inside libevent's callback of this connection.
    std::weak_ptr<bool> alive = alive_;
    loop_->Post([this, alive, index] {
      if (alive.expired() || !*alive.lock()) return;
      Try(index + 1);
    });
    return;
  }
  DiscoveryOutcome out;
  out.url = config_.urls[index];
  out.error = message;
  out.at = clock_->WallNow();
  Finish(std::move(out));
}

void PatroniPoller::Finish(DiscoveryOutcome outcome) {
  running_ = false;
  on_result_(std::move(outcome));
}

}  // namespace pgre
