// Resolver: host names resolved off the event loops. libpq resolves names
// synchronously inside PQconnectStart/PQconnectPoll, so a slow DNS answer
// would stall a whole loop; instead, a session asks the resolver first and
// hands libpq the addresses as `hostaddr` (libpq still uses `host` for TLS
// verification and the password file).
//
// A fixed pool of kThreads threads does the lookups; answers are cached for
// `ttl` (failures for a few seconds) and concurrent requests for the same
// name share one lookup. A slow name therefore delays only the sessions
// that need it (as long as fewer than kThreads names are slow at once).
//
// Thread safety: Resolve is thread-safe; callbacks run on the given loop.
#ifndef PGRE_ENGINE_RESOLVER_H_
#define PGRE_ENGINE_RESOLVER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgre {

class EventLoop;

// Whether libpq would have to resolve `host` (not an IP literal, not a
// socket directory).
bool NeedsResolving(const std::string& host);

class Resolver {
 public:
  static constexpr int kThreads = 4;
  // One name to one address (text), or nullopt with *error.
  using Lookup = std::function<std::optional<std::string>(
      const std::string& host, std::string* error)>;

  explicit Resolver(Duration ttl = std::chrono::seconds(30),
                    Lookup lookup = nullptr);  // nullptr: getaddrinfo
  ~Resolver();  // joins the threads; pending callbacks are dropped

  // Resolves every host that NeedsResolving (others pass through; a
  // socket directory becomes "" as hostaddr wants) and posts `done` to
  // `loop` with the comma-separated hostaddr list, or an error naming the
  // host that did not resolve.
  void Resolve(const std::vector<std::string>& hosts, EventLoop* loop,
               std::function<void(Status, std::string)> done);

 private:
  struct Entry {
    std::optional<std::string> address;
    std::string error;
    MonoTime expires{};
    bool pending = false;
    std::vector<std::function<void()>> waiters;  // re-check when done
  };
  void Run();

  const Duration ttl_;
  Lookup lookup_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> cache_;  // guarded by mu_
  std::deque<std::string> queue_;       // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_RESOLVER_H_
