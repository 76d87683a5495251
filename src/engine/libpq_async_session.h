// LibpqAsyncSession: the real AsyncSession, libpq in nonblocking mode on an
// event loop: PQconnectStartParams/PQconnectPoll for the connection (the
// socket watched for what libpq asks, each step re-armed since libpq may
// switch sockets between hosts), pipeline mode for batches (flush while
// the socket takes data, then collect as results arrive; RunBatch's queries
// under one sync, with the ones a failure aborted run again each under its
// own, RunUnprepared's each under its own), every operation
// bounded by its deadline. Names are resolved off the loop first
// (engine/resolver.h) unless the DSN gives hostaddr.
//
// Secrets: the DSN's secret options and a password_file's password are
// registered with the scrubber when the session is built; every libpq
// message is scrubbed before it leaves.
//
// Thread safety: the loop's thread only (see AsyncSession).
#ifndef PGRE_ENGINE_LIBPQ_ASYNC_SESSION_H_
#define PGRE_ENGINE_LIBPQ_ASYNC_SESSION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/async_session.h"
#include "engine/event_loop.h"
#include "engine/resolver.h"
#include "pg/libpq_batch.h"

struct pg_conn;

namespace pgre {

class LibpqAsyncSession : public AsyncSession {
 public:
  // `resolver` may be null (libpq resolves, on the loop). Every connection
  // sets statement_timeout to `statement_timeout` (0 = none).
  // With `simple`, the simple-query mode (AsyncSessionFactory::CreateSimple):
  // no SET on connect, each query of a batch sent with PQsendQuery in turn.
  LibpqAsyncSession(const ServerConfig& server, EventLoop* loop,
                    Resolver* resolver, Duration statement_timeout,
                    bool simple = false);
  ~LibpqAsyncSession() override;  // Close()s

  void Connect(MonoTime deadline, ConnectDone done) override;
  void RunBatch(std::vector<std::string> queries, MonoTime deadline,
                BatchDone done) override;
  void RunUnprepared(std::vector<std::string> queries, MonoTime deadline,
                     BatchDone done) override;
  bool IsConnected() const override;
  bool Busy() const override { return state_ != State::kIdle; }
  int ServerVersion() const override;
  void Close() override;

 private:
  enum class State {
    kIdle,
    kResolving,
    kConnecting,
    kSetting,
    kFlushing,
    kReading
  };
  void StartLibpq(const std::string& hostaddr);
  void OnReady(Watch::Ready ready);
  void StepConnect();
  void WatchIdle();  // connected, no operation: read what the server sends
  void Run(std::vector<std::string> queries, MonoTime deadline, BatchDone done,
           bool prepare);
  void SendBatch(std::vector<std::string> queries, libpq_internal::Sync sync);
  void StepFlush();
  void StepRead();
  void SendSimple();  // batch_queries_[simple_results_.size()]
  void StepReadSimple();
  // Ends the operation in flight with an error (connection closed).
  void Fail(std::string message);
  void FailWithLibpq(const char* fallback);

  const std::string name_;          // the server's, for the log
  const std::string dsn_;           // SECRET
  const std::string password_;      // SECRET: from a password_file, or ""
  std::vector<std::string> hosts_;  // of the DSN, when names need resolving
  const Duration statement_timeout_;
  const bool simple_;
  // Simple-query mode: the results so far, and the current query's.
  std::vector<QueryResult> simple_results_;
  std::optional<QueryResult> simple_current_;
  EventLoop* loop_;
  Resolver* resolver_;
  Watch watch_;
  pg_conn* conn_ = nullptr;
  State state_ = State::kIdle;
  MonoTime deadline_{};
  std::string timeout_message_;
  ConnectDone connect_done_;
  BatchDone batch_done_;
  std::unique_ptr<libpq_internal::PipelineResults> results_;
  // The poll and probe queries prepared on conn_ (cleared with it), and
  // the batch in flight's queries.
  libpq_internal::PreparedStatements prepared_;
  std::vector<std::string> batch_queries_;
  bool batch_prepared_ = false;
  // After a failure under one sync: the first pass's results, and where
  // the re-run (aborted) queries' results go.
  std::vector<QueryResult> retried_;
  std::vector<std::size_t> retry_;
  // Bumped on every Close(), so that a stale resolver answer is ignored.
  std::shared_ptr<int> generation_ = std::make_shared<int>(0);
};

class LibpqAsyncSessionFactory : public AsyncSessionFactory {
 public:
  // `resolver` may be null (libpq resolves names itself, on the loop).
  explicit LibpqAsyncSessionFactory(Resolver* resolver) : resolver_(resolver) {}
  std::unique_ptr<AsyncSession> Create(const ServerConfig& server,
                                       Duration statement_timeout,
                                       EventLoop* loop) override;
  std::unique_ptr<AsyncSession> CreateSimple(const ServerConfig& server,
                                             EventLoop* loop) override;

 private:
  Resolver* resolver_;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_LIBPQ_ASYNC_SESSION_H_
