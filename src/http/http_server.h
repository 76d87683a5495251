// HttpServer: carries Api over HTTP/1.1 (and TLS) with libevent's evhttp on
// one event-loop thread. Handlers only read the snapshot, so no answer ever
// waits on a database; idle, slow and hostile clients cost a little memory
// each, never a thread.
//
// Limits (HttpLimits; the main ones are flags):
//  - at most `max_connections` open connections: one more is accepted and
//    closed at once, before anything is read from it;
//  - a client has `request_timeout` to send a whole request, counted from
//    the connection (TLS handshake included) or, on a kept-alive
//    connection, from the first byte of the next request: a client that
//    trickles its request byte by byte is cut off then;
//  - a connection silent for `idle_timeout` (between requests, or stalled
//    mid-request) is closed;
//  - request line and headers are at most `max_header_bytes` (evhttp
//    checks it while the line is still arriving), a body at most 4 KiB
//    (413 past them); a GET or HEAD with a body gets 400;
//  - memory per connection is bounded by those: an input buffer of at most
//    max_header_bytes plus one read, and the response, which shares the
//    body's bytes with the snapshot's rendering instead of copying them.
//
// Security (WebSecurity, web/web_config.h): with TLS the listener speaks
// only TLS; with basic auth every path but `unauthenticated_paths` needs a
// valid user (401 with WWW-Authenticate otherwise). SetSecurity swaps both
// at once (SIGHUP): connections opened from then on use the new
// certificate, every request from then on the new users.
//
// Compression: /metrics (the telemetry path) honours Accept-Encoding: gzip.
//
// Thread safety: Start/destructor from one thread; SetSecurity, port and
// stats are thread-safe.
#ifndef PGRE_HTTP_HTTP_SERVER_H_
#define PGRE_HTTP_HTTP_SERVER_H_

#include <prometheus/metric_family.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "http/api.h"
#include "web/web_config.h"

struct event_base;
struct evhttp;
struct evconnlistener;
struct event;
struct bufferevent;
struct evhttp_request;

namespace pgre {

struct HttpLimits {
  int max_connections = 512;
  Duration request_timeout = std::chrono::seconds(5);
  Duration idle_timeout = std::chrono::minutes(2);
  std::size_t max_header_bytes = 8192;
};

// A listen address split: "" host means every IPv4 address, "::" every
// IPv6 and IPv4 address.
struct ListenAddress {
  std::string host;
  int port = 0;
};

// Parses an exporter-style listen address (":9856", "127.0.0.1:9856",
// "[::1]:9856", "[::]:9856", "localhost:9856"). Returns nullopt and sets
// *error when it is not HOST:PORT with a port in 0..65535.
std::optional<ListenAddress> ParseListenAddress(const std::string& address,
                                                std::string* error);

// The paths served without basic auth (--web.unauthenticated-paths): exact
// paths ("/-/ready"), and prefixes written with a trailing "/*" ("/lb/*":
// every path under /lb/). Matching is on the path as sent, before any
// decoding; the Api routes on the same string, so no spelling of a path
// reaches a route the patterns do not name.
class PathPatterns {
 public:
  // Returns nullopt and sets *error (naming the entry) when an entry does
  // not start with '/', has a '*' other than as a final "/*", or is "/*"
  // (every path: serve without basic auth instead).
  static std::optional<PathPatterns> Parse(
      const std::vector<std::string>& entries, std::string* error);
  bool Matches(std::string_view path) const;

 private:
  std::set<std::string, std::less<>> exact_;
  std::vector<std::string> prefixes_;  // with their final '/'
};

class HttpServer {
 public:
  // Starts serving `api` on `address`. Returns nullptr and sets *error when
  // the address is invalid or cannot be bound, or a path is not a valid
  // PathPatterns entry.
  // REQUIRES: api outlives the server; security non-null.
  static std::unique_ptr<HttpServer> Start(
      const std::string& address, const Api* api, const HttpLimits& limits,
      std::shared_ptr<const WebSecurity> security,
      std::vector<std::string> unauthenticated_paths, std::string* error);
  ~HttpServer();  // stops the loop; open connections are closed

  void SetSecurity(std::shared_ptr<const WebSecurity> security);

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  struct Stats {
    std::uint64_t connections_open = 0;
    std::uint64_t connections_rejected = 0;  // over max_connections
    std::uint64_t request_timeouts = 0;      // request_timeout passed
    std::uint64_t unauthorized = 0;          // 401 answers
  };
  Stats stats() const;
  // The stats as pg_replica_exporter_http_* families.
  std::vector<prometheus::MetricFamily> StatsFamilies() const;

  // Internal, for the libevent callbacks: per-connection state, the
  // limits, and forgetting a connection being freed (loop thread only).
  struct Connection;
  const HttpLimits& limits() const { return limits_; }
  void Forget(Connection* c);
  void CountTimeout() { ++timeouts_; }

 private:
  HttpServer() = default;
  std::shared_ptr<const WebSecurity> security() const;
  static void OnRequest(evhttp_request* req, void* self);
  static bufferevent* OnConnection(event_base* base, void* self);
  static void Adopt(int fd, short what, void* connection);

  const Api* api_ = nullptr;
  HttpLimits limits_;
  PathPatterns unauthenticated_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  evconnlistener* listener_ = nullptr;
  int port_ = 0;
  std::thread thread_;

  mutable std::mutex mu_;
  std::shared_ptr<const WebSecurity> security_;  // guarded by mu_

  // Loop thread only: by the bufferevent evhttp talks to.
  std::unordered_map<const bufferevent*, Connection*> connections_;
  // Written by the loop thread, read by stats().
  std::atomic<std::uint64_t> open_{0}, rejected_{0}, timeouts_{0},
      unauthorized_{0};
};

}  // namespace pgre

#endif  // PGRE_HTTP_HTTP_SERVER_H_
