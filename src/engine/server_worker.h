// ServerWorker: everything the agent does with one server, on one loop,
// over one connection: polls (every collector's query in one pipelined
// round trip, every poll_interval) and the synthetic reads the routing
// model sends to it, queued and run one at a time. A poll that is still
// queued or running when the next tick comes is not doubled; a slow or hung
// server delays only its own work (every operation has its deadline:
// connect_timeout, then query_timeout).
//
// With routing.check_heartbeat, a synthetic read on a server in recovery
// also reads the heartbeat row and fails when the newest heartbeat it sees
// is older than routing.max_lag (by the agent's wall clock).
//
// Reconnects back off (the poll interval, doubling to 30 s); synthetic
// reads try to connect regardless, as a client would.
//
// Thread safety: the loop's thread only.
#ifndef PGRE_ENGINE_SERVER_WORKER_H_
#define PGRE_ENGINE_SERVER_WORKER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/snapshot.h"
#include "collectors/collector.h"
#include "config/config.h"
#include "engine/async_session.h"
#include "engine/collector_plan.h"
#include "engine/event_loop.h"

namespace pgre {

// The outcome of one synthetic read.
struct ProbeResult {
  bool ok = false;
  std::chrono::nanoseconds duration{};
  std::string error;
};

class ServerWorker {
 public:
  using PollDone = std::function<void(PollOutcome)>;
  using ProbeDone = std::function<void(ProbeResult)>;
  using StatementsDone = std::function<void(Status, std::vector<QueryResult>)>;

  // REQUIRES: every pointer outlives the worker.
  ServerWorker(const ServerConfig& server, const Config& config,
               EventLoop* loop, AsyncSessionFactory* sessions,
               const std::vector<std::unique_ptr<Collector>>* collectors,
               const Clock* clock, PollDone on_poll);

  // Polls every poll_interval from `first` on (fixed rate; after an
  // overrun the next tick is at once).
  void Start(MonoTime first);
  // Queues one poll now (unless one is queued or running).
  void QueuePoll();
  // Queues one synthetic read.
  void QueueProbe(ProbeDone done);
  // Queues statements run unprepared in one round trip (connecting first,
  // regardless of the poll backoff); `done` gets the transport status and,
  // when OK, one result per statement. A transport error closes the
  // connection (the next operation reconnects).
  void QueueStatements(std::vector<std::string> statements,
                       StatementsDone done);

  const ServerConfig& server() const { return server_; }

 private:
  enum class OpKind { kPoll, kProbe, kStatements };
  struct Op {
    OpKind kind = OpKind::kPoll;
    ProbeDone probe_done;
    std::vector<std::string> statements;
    StatementsDone statements_done;
  };
  void Tick();
  void Next();
  void OnConnected(Status s);
  void RunOp();
  void OnBatch(Status s, std::vector<QueryResult> results);
  void FinishPoll(PollOutcome out);
  void FinishProbe(bool ok, std::string error);
  void FinishStatements(Status s, std::vector<QueryResult> results);
  // The heartbeat check of a probe's second result; "" when it passes.
  std::string CheckHeartbeat(const QueryResult& result) const;

  const ServerConfig server_;
  const Duration interval_, connect_timeout_, query_timeout_;
  std::vector<std::string> probe_query_;
  const bool check_heartbeat_;
  const Duration max_lag_;
  EventLoop* loop_;
  const Clock* clock_;
  PollDone on_poll_;
  std::unique_ptr<AsyncSession> session_;
  CollectorPlan plan_;
  Backoff backoff_;
  MonoTime next_attempt_{};
  Watch ticker_;
  MonoTime next_tick_{};
  std::deque<Op> ops_;
  bool running_ = false;
  bool poll_queued_ = false;
  bool was_up_ = true;
  MonoTime op_start_{};
  WallTime op_start_wall_{};
};

}  // namespace pgre

#endif  // PGRE_ENGINE_SERVER_WORKER_H_
