// FakeSession: a scripted PgSession for unit tests (no database, no sleeps).
// Header-only; not linked into the agent.
#ifndef PGRE_PG_FAKE_SESSION_H_
#define PGRE_PG_FAKE_SESSION_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "pg/session.h"

namespace pgre {

// Shared, mutable script of a fake server: tests flip its fields between
// polls. Thread-safe.
struct FakeServer {
  std::mutex mu;
  bool reachable = true;        // Connect fails when false
  bool break_on_query = false;  // RunBatch fails (connection lost)
  int server_version = 150000;  // what ServerVersion() reports
  // Answers by exact query text; a query with no answer gets an error
  // result "no answer scripted".
  std::map<std::string, QueryResult> answers;
  int connects = 0;
  int batches = 0;

  void Answer(const std::string& query, QueryResult result) {
    std::lock_guard<std::mutex> lock(mu);
    answers[query] = std::move(result);
  }
};

class FakeSession : public PgSession {
 public:
  explicit FakeSession(std::shared_ptr<FakeServer> server)
      : server_(std::move(server)) {}

  Status Connect(MonoTime) override {
    std::lock_guard<std::mutex> lock(server_->mu);
    ++server_->connects;
    if (!server_->reachable) {
      connected_ = false;
      return Status::Error("connection refused");
    }
    connected_ = true;
    return Status::Ok();
  }
  bool IsConnected() const override { return connected_; }
  int ServerVersion() const override {
    std::lock_guard<std::mutex> lock(server_->mu);
    return connected_ ? server_->server_version : 0;
  }
  Status RunBatch(const std::vector<std::string>& queries, MonoTime,
                  std::vector<QueryResult>* results) override {
    std::lock_guard<std::mutex> lock(server_->mu);
    ++server_->batches;
    if (!server_->reachable || server_->break_on_query) {
      connected_ = false;
      return Status::Error("server closed the connection unexpectedly");
    }
    results->clear();
    for (const std::string& q : queries) {
      auto it = server_->answers.find(q);
      if (it == server_->answers.end()) {
        QueryResult r;
        r.error = "no answer scripted";
        results->push_back(r);
      } else {
        results->push_back(it->second);
      }
    }
    return Status::Ok();
  }
  void Close() override { connected_ = false; }

 private:
  std::shared_ptr<FakeServer> server_;
  bool connected_ = false;
};

// Makes FakeSessions for servers by name. Unknown names get an unreachable
// server.
class FakeSessionFactory : public SessionFactory {
 public:
  std::shared_ptr<FakeServer> Server(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& s = servers_[name];
    if (!s) s = std::make_shared<FakeServer>();
    return s;
  }
  std::unique_ptr<PgSession> Create(const ServerConfig& server) override {
    return std::make_unique<FakeSession>(Server(server.name));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeServer>> servers_;
};

}  // namespace pgre

#endif  // PGRE_PG_FAKE_SESSION_H_
