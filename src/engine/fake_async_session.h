// FakeAsyncSession: a scripted AsyncSession for unit tests (no database, no
// sleeps). Operations complete through the loop (EventLoop::Post), as the
// contract asks, so a test drives a loop it never starts with RunPending().
// Header-only; not linked into the agent.
#ifndef PGRE_ENGINE_FAKE_ASYNC_SESSION_H_
#define PGRE_ENGINE_FAKE_ASYNC_SESSION_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "engine/async_session.h"
#include "engine/event_loop.h"

namespace pgre {

// The script of one fake server; tests flip its fields between operations.
// Loop thread only (the test's).
struct FakeAsyncServer {
  bool reachable = true;        // Connect fails ("connection refused")
  bool break_on_query = false;  // RunBatch fails (connection lost)
  bool hang = false;            // operations never complete
  int server_version = 150000;  // what ServerVersion() reports
  // Answers by exact query text; a query with no answer gets an error
  // result "no answer scripted".
  std::map<std::string, QueryResult> answers;
  int connects = 0;
  int batches = 0;
  int unprepared_batches = 0;                       // of which RunUnprepared
  std::vector<std::vector<std::string>> batch_log;  // every batch's queries
  Duration statement_timeout{};                     // of the last session
  bool simple = false;  // the last session was made by CreateSimple

  void Answer(const std::string& query, QueryResult result) {
    answers[query] = std::move(result);
  }
  // Answers every query that starts with `prefix` (after exact answers).
  void AnswerPrefix(const std::string& prefix, QueryResult result) {
    prefix_answers.emplace_back(prefix, std::move(result));
  }
  std::vector<std::pair<std::string, QueryResult>> prefix_answers;
};

class FakeAsyncSession : public AsyncSession {
 public:
  FakeAsyncSession(std::shared_ptr<FakeAsyncServer> server, EventLoop* loop)
      : server_(std::move(server)), loop_(loop) {}
  ~FakeAsyncSession() override { Close(); }

  void Connect(MonoTime, ConnectDone done) override {
    ++server_->connects;
    busy_ = true;
    if (server_->hang) return Hang();
    const bool ok = server_->reachable;
    Later([this, ok, done = std::move(done)] {
      busy_ = false;
      connected_ = ok;
      done(ok ? Status::Ok() : Status::Error("connection refused"));
    });
  }
  void RunBatch(std::vector<std::string> queries, MonoTime,
                BatchDone done) override {
    ++server_->batches;
    server_->batch_log.push_back(queries);
    busy_ = true;
    if (server_->hang) return Hang();
    if (!server_->reachable || server_->break_on_query) {
      return Later([this, done = std::move(done)] {
        busy_ = false;
        connected_ = false;
        done(Status::Error("server closed the connection unexpectedly"), {});
      });
    }
    std::vector<QueryResult> results;
    for (const std::string& q : queries) {
      auto it = server_->answers.find(q);
      const QueryResult* prefixed = nullptr;
      for (const auto& [prefix, r] : server_->prefix_answers) {
        if (q.rfind(prefix, 0) == 0) prefixed = &r;
      }
      if (it != server_->answers.end()) {
        results.push_back(it->second);
      } else if (prefixed != nullptr) {
        results.push_back(*prefixed);
      } else {
        QueryResult r;
        r.error = "no answer scripted";
        results.push_back(r);
      }
    }
    Later([this, done = std::move(done), results = std::move(results)] {
      busy_ = false;
      done(Status::Ok(), results);
    });
  }
  void RunUnprepared(std::vector<std::string> queries, MonoTime deadline,
                     BatchDone done) override {
    ++server_->unprepared_batches;
    RunBatch(std::move(queries), deadline, std::move(done));
  }
  bool IsConnected() const override { return connected_; }
  bool Busy() const override { return busy_; }
  int ServerVersion() const override {
    return connected_ ? server_->server_version : 0;
  }
  void Close() override {
    ++*generation_;
    connected_ = false;
    busy_ = false;
  }

 private:
  void Hang() {}  // the callback is never called
  // Runs `fn` through the loop unless the session is closed first.
  void Later(std::function<void()> fn) {
    loop_->Post([g = generation_, mine = *generation_, fn = std::move(fn)] {
      if (*g == mine) fn();
    });
  }

  std::shared_ptr<FakeAsyncServer> server_;
  EventLoop* loop_;
  bool connected_ = false;
  bool busy_ = false;
  std::shared_ptr<int> generation_ = std::make_shared<int>(0);
};

// Makes FakeAsyncSessions for servers by name (each name one script).
class FakeAsyncSessionFactory : public AsyncSessionFactory {
 public:
  std::shared_ptr<FakeAsyncServer> Server(const std::string& name) {
    auto& s = servers_[name];
    if (!s) s = std::make_shared<FakeAsyncServer>();
    return s;
  }
  std::unique_ptr<AsyncSession> Create(const ServerConfig& server,
                                       Duration statement_timeout,
                                       EventLoop* loop) override {
    auto script = Server(server.name);
    script->statement_timeout = statement_timeout;
    script->simple = false;
    return std::make_unique<FakeAsyncSession>(script, loop);
  }
  std::unique_ptr<AsyncSession> CreateSimple(const ServerConfig& server,
                                             EventLoop* loop) override {
    auto script = Server(server.name);
    script->statement_timeout = Duration{};
    script->simple = true;
    return std::make_unique<FakeAsyncSession>(script, loop);
  }

 private:
  std::map<std::string, std::shared_ptr<FakeAsyncServer>> servers_;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_FAKE_ASYNC_SESSION_H_
