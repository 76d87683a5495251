// PatroniPoller: the members of a Patroni cluster, fetched from its REST API
// (GET URL/cluster) every discovery.patroni.interval, on an event loop.
//
// Each round tries the configured URLs in order until one answers 200 with
// a member list (discovery/patroni.h parses it); the outcome of the round
// (the members, or the last URL's error) goes to `on_result` on the loop.
// Host names are resolved off the loop (engine/resolver.h); https verifies
// the server's certificate against tls_config.ca_file (else the system's
// CAs) and the URL's host, and presents tls_config's client certificate
// when set; basic auth when set. Every request is bounded by `timeout`
// (connect, TLS, answer), so a hung or black-holed REST API costs a failed
// round, never the loop. Bodies over 4 MiB are refused.
//
// Thread safety: the loop's thread only (construct and destroy anywhere
// while the loop is not running).
#ifndef PGRE_ENGINE_PATRONI_POLLER_H_
#define PGRE_ENGINE_PATRONI_POLLER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "discovery/patroni.h"
#include "engine/event_loop.h"
#include "engine/resolver.h"

struct ssl_ctx_st;
struct evhttp_connection;
struct evhttp_request;

namespace pgre {

struct DiscoveryOutcome {
  bool ok = false;
  std::string url;    // the URL that answered (ok) or was tried last
  std::string error;  // when !ok: "URL: what went wrong"; no secrets
  std::vector<PatroniMember> members;  // when ok
  WallTime at{};
};

// A URL of discovery.patroni.urls, split. nullopt when it is not
// http(s)://HOST[:PORT][/PATH] (config validation makes that impossible).
struct RestUrl {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  int port = 0;
  std::string path;  // the base path, without a trailing '/'
};
std::optional<RestUrl> ParseRestUrl(const std::string& url);

class PatroniPoller {
 public:
  using Done = std::function<void(DiscoveryOutcome)>;

  // REQUIRES: every pointer outlives the poller. `config.enabled()`.
  PatroniPoller(const PatroniDiscoveryConfig& config, Duration timeout,
                EventLoop* loop, Resolver* resolver, const Clock* clock,
                Done on_result);
  ~PatroniPoller();
  PatroniPoller(const PatroniPoller&) = delete;
  PatroniPoller& operator=(const PatroniPoller&) = delete;

  // A round at `first`, then every interval.
  void Start(MonoTime first);
  // One round now, unless one is running.
  void DiscoverNow();

 private:
  void Tick();
  void Try(std::size_t index);
  void Request(std::size_t index, const RestUrl& url,
               const std::string& address);
  static void OnResponse(evhttp_request* req, void* self);
  void Finish(DiscoveryOutcome outcome);
  void Fail(std::size_t index, const std::string& why);
  void DropConnection();

  const PatroniDiscoveryConfig config_;
  const Duration timeout_;
  EventLoop* loop_;
  Resolver* resolver_;
  const Clock* clock_;
  Done on_result_;
  std::shared_ptr<ssl_ctx_st> ssl_;  // null: no TLS URL, or unusable
  std::string ssl_error_;            // why ssl_ is null for a TLS URL
  Watch ticker_;
  MonoTime next_{};
  bool running_ = false;
  std::size_t current_ = 0;  // the URL being tried
  evhttp_connection* connection_ = nullptr;
  // Guards callbacks that arrive after the poller was destroyed.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pgre

#endif  // PGRE_ENGINE_PATRONI_POLLER_H_
