#include "engine/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <memory>

#include "engine/event_loop.h"

namespace pgre {
namespace {

std::optional<std::string> GetAddrInfo(const std::string& host,
                                       std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    *error = gai_strerror(rc);
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN] = {0};
  const void* addr =
      res->ai_family == AF_INET6
          ? static_cast<const void*>(
                &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr)
          : static_cast<const void*>(
                &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr);
  inet_ntop(res->ai_family, addr, buf, sizeof buf);
  freeaddrinfo(res);
  return std::string(buf);
}

}  // namespace

bool NeedsResolving(const std::string& host) {
  if (host.empty() || host[0] == '/' || host[0] == '@') return false;
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) != 1 &&
         inet_pton(AF_INET6, host.c_str(), buf) != 1;
}

Resolver::Resolver(Duration ttl, Lookup lookup)
    : ttl_(ttl), lookup_(lookup ? std::move(lookup) : Lookup(GetAddrInfo)) {
  for (int i = 0; i < kThreads; ++i)
    threads_.emplace_back(&Resolver::Run, this);
}

Resolver::~Resolver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Resolver::Run() {
  while (true) {
    std::string host;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      host = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string error;
    std::optional<std::string> address = lookup_(host, &error);
    std::vector<std::function<void()>> waiters;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Entry& e = cache_[host];
      e.address = address;
      e.error = error;
      // A failure is retried soon; an answer is kept for the ttl.
      e.expires = Clock::Real()->Now() +
                  (address ? ttl_ : Duration(std::chrono::seconds(5)));
      e.pending = false;
      waiters.swap(e.waiters);
    }
    for (auto& w : waiters) w();
  }
}

void Resolver::Resolve(const std::vector<std::string>& hosts, EventLoop* loop,
                       std::function<void(Status, std::string)> done) {
  // Gathers the answers; when all are in, posts the result once.
  struct Job {
    std::vector<std::string> hosts;
    EventLoop* loop;
    std::function<void(Status, std::string)> done;
  };
  auto job = std::make_shared<Job>(Job{hosts, loop, std::move(done)});
  auto attempt = std::make_shared<std::function<void()>>();
  *attempt = [this, job,
              attempt_weak = std::weak_ptr<std::function<void()>>(attempt)]() {
    std::string list;
    std::string failed, why;
    bool waiting = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const MonoTime now = Clock::Real()->Now();
      for (std::size_t i = 0; i < job->hosts.size(); ++i) {
        const std::string& host = job->hosts[i];
        if (i > 0) list += ",";
        if (!NeedsResolving(host)) {
          if (!host.empty() && host[0] != '/' && host[0] != '@') list += host;
          continue;
        }
        Entry& e = cache_[host];
        if (!e.pending && (e.expires <= now)) {
          e.pending = true;
          queue_.push_back(host);
          cv_.notify_one();
        }
        if (e.pending) {
          if (auto again = attempt_weak.lock()) {
            e.waiters.push_back([again] { (*again)(); });
          }
          waiting = true;
          break;
        }
        if (!e.address) {
          failed = host;
          why = e.error;
          break;
        }
        list += *e.address;
      }
    }
    if (waiting) return;
    Status status = failed.empty() ? Status::Ok()
                                   : Status::Error("could not resolve host \"" +
                                                   failed + "\": " + why);
    job->loop->Post([job, status, list] { job->done(status, list); });
  };
  // The waiters hold the attempt alive until it runs once more.
  (*attempt)();
}

}  // namespace pgre
