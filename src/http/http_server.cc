#include "http/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace pgre {

// One connection, from its accept to evhttp's close callback.
struct HttpServer::Connection {
  HttpServer* server = nullptr;
  bufferevent* bev = nullptr;          // the socket (or TLS) bufferevent
  evhttp_connection* evcon = nullptr;  // once adopted (see Adopt)
  evbuffer_cb_entry* watch = nullptr;  // on bev's input buffer
  event* adopt = nullptr;              // runs right after the accept
  event* deadline = nullptr;  // request_timeout of the request in progress
  bool in_request = true;     // from accept: the first request is awaited
};

namespace {

using Connection = HttpServer::Connection;

void ArmDeadline(Connection* c, Duration timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  event_add(c->deadline, &tv);
}

bool SetNoDelay(evutil_socket_t fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "?";
}

void ReleaseBody(const void*, size_t, void* arg) {
  delete static_cast<std::shared_ptr<const std::string>*>(arg);
}

}  // namespace

std::optional<ListenAddress> ParseListenAddress(const std::string& address,
                                                std::string* error) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "listen address \"" + address + "\" is not HOST:PORT";
    return std::nullopt;
  }
  ListenAddress out;
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  int value = -1;
  auto [ptr, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      value < 0 || value > 65535) {
    *error = "listen address \"" + address + "\" has no valid port";
    return std::nullopt;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  out.host = host;
  out.port = value;
  return out;
}

std::optional<PathPatterns> PathPatterns::Parse(
    const std::vector<std::string>& entries, std::string* error) {
  PathPatterns out;
  for (const std::string& entry : entries) {
    const std::size_t star = entry.find('*');
    if (entry.empty() || entry[0] != '/') {
      *error = "\"" + entry + "\" does not start with '/'";
      return std::nullopt;
    }
    if (star != std::string::npos &&
        (star != entry.size() - 1 || entry[star - 1] != '/')) {
      *error = "\"" + entry + "\": '*' only as the end of a prefix, like /lb/*";
      return std::nullopt;
    }
    if (entry == "/*") {
      *error =
          "\"/*\" would serve every path without basic auth (to do that, "
          "configure no basic_auth_users)";
      return std::nullopt;
    }
    if (star == std::string::npos) {
      out.exact_.insert(entry);
    } else {
      out.prefixes_.push_back(entry.substr(0, star));
    }
  }
  return out;
}

bool PathPatterns::Matches(std::string_view path) const {
  if (exact_.count(path)) return true;
  for (const std::string& prefix : prefixes_) {
    if (path.starts_with(prefix)) return true;
  }
  return false;
}

std::unique_ptr<HttpServer> HttpServer::Start(
    const std::string& address, const Api* api, const HttpLimits& limits,
    std::shared_ptr<const WebSecurity> security,
    std::vector<std::string> unauthenticated_paths, std::string* error) {
  static std::once_flag init;
  std::call_once(init, [] { evthread_use_pthreads(); });
  auto listen = ParseListenAddress(address, error);
  if (!listen) return nullptr;

  std::unique_ptr<HttpServer> s(new HttpServer());
  s->api_ = api;
  s->limits_ = limits;
  s->security_ = std::move(security);
  auto unauthenticated = PathPatterns::Parse(unauthenticated_paths, error);
  if (!unauthenticated) return nullptr;
  s->unauthenticated_ = std::move(*unauthenticated);
  s->base_ = event_base_new();
  if (s->base_ == nullptr) {
    *error = "cannot create the event loop";
    return nullptr;
  }
  s->http_ = evhttp_new(s->base_);
  evhttp_set_max_headers_size(s->http_,
                              static_cast<ev_ssize_t>(limits.max_header_bytes));
  // No route takes a body; a small one is read so that a POST gets its 405.
  evhttp_set_max_body_size(s->http_, 4096);
  evhttp_set_allowed_methods(
      s->http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                    EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
  timeval idle{};
  idle.tv_sec = static_cast<time_t>(limits.idle_timeout.count() / 1000);
  idle.tv_usec =
      static_cast<suseconds_t>(limits.idle_timeout.count() % 1000 * 1000);
  evhttp_set_timeout_tv(s->http_, &idle);
  evhttp_set_default_content_type(s->http_, "text/plain; charset=utf-8");
  evhttp_set_bevcb(s->http_, &HttpServer::OnConnection, s.get());
  evhttp_set_gencb(s->http_, &HttpServer::OnRequest, s.get());

  sockaddr_storage sa{};
  socklen_t sa_len = 0;
  unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                   LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_THREADSAFE;
  if (listen->host.empty() || listen->host == "0.0.0.0") {
    auto* in = reinterpret_cast<sockaddr_in*>(&sa);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(listen->port));
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    sa_len = sizeof(sockaddr_in);
  } else if (listen->host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(listen->port));
    if (inet_pton(AF_INET6, listen->host.c_str(), &in6->sin6_addr) != 1) {
      *error = "listen address \"" + address + "\": not an IPv6 address";
      return nullptr;
    }
    sa_len = sizeof(sockaddr_in6);
    // "[::]" takes IPv4 too; a specific IPv6 address only itself.
    if (listen->host != "::") flags |= LEV_OPT_BIND_IPV6ONLY;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&sa);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(listen->port));
    if (inet_pton(AF_INET, listen->host.c_str(), &in->sin_addr) != 1) {
      *error = "listen address \"" + address +
               "\": not an IP address (or localhost)";
      return nullptr;
    }
    sa_len = sizeof(sockaddr_in);
  }
  s->listener_ = evconnlistener_new_bind(s->base_, nullptr, nullptr, flags,
                                         1024, reinterpret_cast<sockaddr*>(&sa),
                                         static_cast<int>(sa_len));
  if (s->listener_ == nullptr) {
    *error = "cannot listen on " + address + ": " + std::strerror(errno);
    return nullptr;
  }
  if (evhttp_bind_listener(s->http_, s->listener_) == nullptr) {
    *error = "cannot listen on " + address;
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(evconnlistener_get_fd(s->listener_),
              reinterpret_cast<sockaddr*>(&bound), &bound_len);
  s->port_ = bound.ss_family == AF_INET6
                 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                 : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->thread_ = std::thread([base = s->base_] {
    // A client that hangs up while its answer is being written must cost an
    // EPIPE, not the process: SIGPIPE is blocked on this thread (a write's
    // SIGPIPE goes to the writing thread; blocked, it stays pending).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
  });
  return s;
}

HttpServer::~HttpServer() {
  if (base_ != nullptr && thread_.joinable()) {
    event_base_loopbreak(base_);
    thread_.join();
  }
  // evhttp_free frees the bound listener and every connection (and so
  // every Connection, through the filters' free callbacks).
  if (http_ != nullptr) evhttp_free(http_);
  if (base_ != nullptr) event_base_free(base_);
}

void HttpServer::SetSecurity(std::shared_ptr<const WebSecurity> security) {
  std::lock_guard<std::mutex> lock(mu_);
  security_ = std::move(security);
}

std::shared_ptr<const WebSecurity> HttpServer::security() const {
  std::lock_guard<std::mutex> lock(mu_);
  return security_;
}

std::vector<prometheus::MetricFamily> HttpServer::StatsFamilies() const {
  const Stats s = stats();
  auto family = [](const char* name, const char* help,
                   prometheus::MetricType type, double value) {
    prometheus::MetricFamily f{name, help, type, {}};
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(m);
    return f;
  };
  using prometheus::MetricType;
  return {
      family("pg_replica_exporter_http_connections", "Open HTTP connections.",
             MetricType::Gauge, double(s.connections_open)),
      family("pg_replica_exporter_http_connections_rejected_total",
             "Connections closed at once: --web.max-connections reached.",
             MetricType::Counter, double(s.connections_rejected)),
      family("pg_replica_exporter_http_request_timeouts_total",
             "Connections closed because the client took longer than "
             "--web.request-timeout to send its request.",
             MetricType::Counter, double(s.request_timeouts)),
      family("pg_replica_exporter_http_unauthorized_total",
             "Requests answered 401 (basic auth missing or wrong).",
             MetricType::Counter, double(s.unauthorized)),
  };
}

void HttpServer::Forget(Connection* c) {
  if (connections_.erase(c->bev) > 0) --open_;
}

HttpServer::Stats HttpServer::stats() const {
  Stats s;
  s.connections_open = open_.load();
  s.connections_rejected = rejected_.load();
  s.request_timeouts = timeouts_.load();
  s.unauthorized = unauthorized_.load();
  return s;
}

namespace {

// request_timeout passed: the client is too slow sending its request.
void OnDeadline(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (!c->in_request || c->evcon == nullptr) return;
  c->server->CountTimeout();
  spdlog::debug(
      "http: a client took longer than the request timeout; closing its "
      "connection");
  evhttp_connection_free(c->evcon);  // calls OnClose, which frees c
}

// Bytes arrived: the first ones of a request on a kept-alive connection
// start its request_timeout.
void OnInput(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (info->n_added == 0 || c->in_request) return;
  c->in_request = true;
  ArmDeadline(c, c->server->limits().request_timeout);
}

// evhttp is closing the connection (any reason): forget it.
void OnClose(evhttp_connection*, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  c->server->Forget(c);
  evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
  event_free(c->deadline);
  event_free(c->adopt);
  delete c;
}

}  // namespace

void HttpServer::Adopt(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  HttpServer* self = c->server;
  // evhttp made its connection for `bev` when OnConnection returned, and
  // passes it as the bufferevent's callback argument.
  void* evcon = nullptr;
  bufferevent_getcb(c->bev, nullptr, nullptr, nullptr, &evcon);
  if (evcon == nullptr) {  // cannot happen with evhttp 2.1; never leak
    bufferevent_free(c->bev);
    event_free(c->deadline);
    event_free(c->adopt);
    delete c;
    return;
  }
  c->evcon = static_cast<evhttp_connection*>(evcon);
  evhttp_connection_set_closecb(c->evcon, OnClose, c);
  self->connections_[c->bev] = c;
  ++self->open_;
  if (static_cast<int>(self->open_.load()) > self->limits_.max_connections) {
    ++self->rejected_;
    evhttp_connection_free(c->evcon);  // OnClose frees c
  }
}

bufferevent* HttpServer::OnConnection(event_base* base, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  const std::shared_ptr<const WebSecurity> security = self->security();
  auto* c = new Connection();
  c->server = self;
  if (security && security->tls) {
    SSL* ssl = SSL_new(security->tls.get());
    c->bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
  } else {
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  // Large bodies (a thousand servers' metrics are megabytes) in few
  // writes, not libevent's default 16 KiB per loop iteration.
  bufferevent_set_max_single_write(c->bev, 1 << 20);
  c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), OnInput, c);
  c->deadline = evtimer_new(base, OnDeadline, c);
  ArmDeadline(c, self->limits_.request_timeout);
  // Activated now, so it runs as soon as this accept callback returns and
  // before any I/O of the new connection.
  c->adopt = event_new(base, -1, 0, &HttpServer::Adopt, c);
  event_active(c->adopt, EV_TIMEOUT, 0);
  return c->bev;
}

void HttpServer::OnRequest(evhttp_request* req, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  evhttp_connection* evcon = evhttp_request_get_connection(req);
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon);
  // The whole request is in: its request_timeout no longer applies.
  auto it = self->connections_.find(bev);
  if (it != self->connections_.end()) {
    Connection* conn = it->second;
    conn->in_request = false;
    event_del(conn->deadline);
    SetNoDelay(bufferevent_getfd(bev));
  }

  const char* method = MethodName(evhttp_request_get_command(req));
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const std::string path =
      raw_path == nullptr || raw_path[0] == '\0' ? "/" : raw_path;
  evkeyvalq* in_headers = evhttp_request_get_input_headers(req);
  evkeyvalq* out_headers = evhttp_request_get_output_headers(req);

  const std::shared_ptr<const WebSecurity> security = self->security();
  for (const auto& [name, value] : security->headers) {
    evhttp_add_header(out_headers, name.c_str(), value.c_str());
  }
  evhttp_add_header(out_headers, "Cache-Control", "no-store");

  auto reply = [&](int status, const std::string& body) {
    evhttp_add_header(out_headers, "Content-Type", "text/plain; charset=utf-8");
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, body.data(), body.size());
    evhttp_send_reply(req, status, ReasonPhrase(status), buf);
    evbuffer_free(buf);
  };

  // A GET or HEAD carries no body (evhttp refused one over the body limit
  // with 413 already).
  const char* length = evhttp_find_header(in_headers, "Content-Length");
  const evhttp_cmd_type cmd = evhttp_request_get_command(req);
  if ((cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) &&
      (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0 ||
       (length != nullptr && std::strcmp(length, "0") != 0) ||
       evhttp_find_header(in_headers, "Transfer-Encoding") != nullptr)) {
    reply(400, "a request to this server has no body\n");
    return;
  }
  if (security->auth && !security->auth->empty() &&
      !self->unauthenticated_.Matches(path) &&
      !security->auth->Authenticate(
          evhttp_find_header(in_headers, "Authorization"))) {
    ++self->unauthorized_;
    evhttp_add_header(out_headers, "WWW-Authenticate",
                      "Basic realm=\"pg_replica_exporter\", charset=\"UTF-8\"");
    reply(401, "unauthorized\n");
    return;
  }

  ApiRequest request;
  request.method = method;
  request.path = path;
  const char* query = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
  request.query = query != nullptr ? query : "";
  request.accepts_gzip =
      AcceptsGzip(evhttp_find_header(in_headers, "Accept-Encoding"));
  const HttpResponse r = self->api_->Handle(request);
  evhttp_add_header(out_headers, "Content-Type", r.content_type.c_str());
  for (const auto& [k, v] : r.headers) {
    evhttp_add_header(out_headers, k.c_str(), v.c_str());
  }
  evbuffer* buf = evbuffer_new();
  if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
    // The GET's headers, no body (evhttp would send one).
    evhttp_add_header(out_headers, "Content-Length",
                      std::to_string(r.BodySize()).c_str());
  } else {
    if (r.shared_body) {
      // The cache's bytes themselves, not a copy.
      auto* keep = new std::shared_ptr<const std::string>(r.shared_body);
      evbuffer_add_reference(buf, r.shared_body->data(), r.shared_body->size(),
                             ReleaseBody, keep);
    }
    evbuffer_add(buf, r.body.data(), r.body.size());
  }
  evhttp_send_reply(req, r.status, ReasonPhrase(r.status), buf);
  evbuffer_free(buf);
}

}  // namespace pgre
