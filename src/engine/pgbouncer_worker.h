// PgBouncerWorker: one pgbouncer's admin console, polled on the cluster's
// loop every poll_interval over one simple-query session
// (AsyncSessionFactory::CreateSimple: the console knows neither pipeline
// mode nor prepared statements nor SET): every collector's SHOW in turn
// (collectors/pgbouncer.h), each bounded by connect_timeout / query_timeout.
// A poll still running when the next tick comes is not doubled; reconnects
// back off as a server's (the poll interval, doubling to 30 s). A down or
// hung pgbouncer delays only itself.
//
// Thread safety: the loop's thread only.
#ifndef PGRE_ENGINE_PGBOUNCER_WORKER_H_
#define PGRE_ENGINE_PGBOUNCER_WORKER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/snapshot.h"
#include "config/config.h"
#include "engine/async_session.h"
#include "engine/collector_plan.h"
#include "engine/event_loop.h"

namespace pgre {

class PgBouncerWorker {
 public:
  using PollDone = std::function<void(const PgBouncerOutcome&)>;

  // REQUIRES: every pointer outlives the worker.
  PgBouncerWorker(const PgBouncerConfig& pgbouncer, const Config& config,
                  EventLoop* loop, AsyncSessionFactory* sessions,
                  const Clock* clock, PollDone on_poll);

  // Polls every poll_interval from `first` on (fixed rate).
  void Start(MonoTime first);
  // One poll now, unless one is running (or the worker is backing off).
  void Poll();

  const PgBouncerConfig& pgbouncer() const { return pgbouncer_; }

 private:
  void Tick();
  void OnConnected(Status s);
  void OnBatch(Status s, std::vector<QueryResult> results);
  void Finish(PgBouncerOutcome out);

  const PgBouncerConfig pgbouncer_;
  const Duration interval_, connect_timeout_, query_timeout_;
  std::vector<std::string> queries_;
  EventLoop* loop_;
  const Clock* clock_;
  PollDone on_poll_;
  std::unique_ptr<AsyncSession> session_;
  Backoff backoff_;
  MonoTime next_attempt_{};
  Watch ticker_;
  MonoTime next_tick_{};
  bool running_ = false;
  bool was_up_ = true;
  MonoTime op_start_{};
};

}  // namespace pgre

#endif  // PGRE_ENGINE_PGBOUNCER_WORKER_H_
