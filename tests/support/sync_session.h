// SyncSession: a LibpqAsyncSession on its own event loop, driven with
// blocking calls, for integration tests that exercise the real session
// step by step. Every call runs on the loop thread and waits for its
// callback (each operation is bounded by its deadline).
#ifndef PGRE_TESTS_SUPPORT_SYNC_SESSION_H_
#define PGRE_TESTS_SUPPORT_SYNC_SESSION_H_

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/event_loop.h"
#include "engine/libpq_async_session.h"
#include "engine/resolver.h"

namespace pgre::testing {

class SyncSession {
 public:
  SyncSession(const ServerConfig& server, Duration statement_timeout) {
    loop_.Start();
    Run([&] {
      session_ = std::make_unique<LibpqAsyncSession>(server, &loop_, &resolver_,
                                                     statement_timeout);
    });
  }
  ~SyncSession() {
    Run([&] { session_.reset(); });
    loop_.Stop();
  }

  Status Connect(MonoTime deadline) {
    return Wait<Status>([&](auto done) {
      session_->Connect(deadline, [done](Status s) { done(s); });
    });
  }
  Status RunBatch(const std::vector<std::string>& queries, MonoTime deadline,
                  std::vector<QueryResult>* results) {
    auto [s, r] =
        Wait<std::pair<Status, std::vector<QueryResult>>>([&](auto done) {
          session_->RunBatch(queries, deadline,
                             [done](Status s, std::vector<QueryResult> r) {
                               done(std::make_pair(s, std::move(r)));
                             });
        });
    *results = std::move(r);
    return s;
  }
  bool IsConnected() {
    bool out = false;
    Run([&] { out = session_->IsConnected(); });
    return out;
  }
  void Close() {
    Run([&] { session_->Close(); });
  }

 private:
  // Runs fn on the loop thread and waits for it.
  void Run(const std::function<void()>& fn) {
    std::promise<void> p;
    loop_.Post([&] {
      fn();
      p.set_value();
    });
    p.get_future().get();
  }
  // Starts an operation on the loop; waits (at most 5 minutes) for the
  // value its callback passes to `done`.
  template <typename T>
  T Wait(const std::function<void(std::function<void(T)>)>& start) {
    auto p = std::make_shared<std::promise<T>>();
    auto f = p->get_future();
    Run([&] { start([p](T v) { p->set_value(std::move(v)); }); });
    if (f.wait_for(std::chrono::minutes(5)) != std::future_status::ready) {
      throw std::runtime_error("SyncSession: no callback within 5 minutes");
    }
    return f.get();
  }

  Resolver resolver_;
  EventLoop loop_;
  std::unique_ptr<LibpqAsyncSession> session_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_SYNC_SESSION_H_
