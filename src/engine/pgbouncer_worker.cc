#include "engine/pgbouncer_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgre {

PgBouncerWorker::PgBouncerWorker(const PgBouncerConfig& pgbouncer,
                                 const Config& config, EventLoop* loop,
                                 AsyncSessionFactory* sessions,
                                 const Clock* clock, PollDone on_poll)
    : pgbouncer_(pgbouncer),
      interval_(config.poll_interval),
      connect_timeout_(config.connect_timeout),
      query_timeout_(config.query_timeout),
      loop_(loop),
      clock_(clock),
      on_poll_(std::move(on_poll)),
      session_(sessions->CreateSimple(pgbouncer.connection, loop)),
      backoff_(
          config.poll_interval,
          std::max<Duration>(config.poll_interval, std::chrono::seconds(30))),
      ticker_(loop, [this](Watch::Ready) { Tick(); }) {
  for (const PgBouncerCollector& c : PgBouncerCollectors()) {
    queries_.emplace_back(c.query);
  }
}

void PgBouncerWorker::Start(MonoTime first) {
  next_tick_ = first;
  ticker_.Arm(-1, false, false, next_tick_);
}

void PgBouncerWorker::Tick() {
  Poll();
  next_tick_ += interval_;
  const MonoTime now = clock_->Now();
  if (next_tick_ < now) next_tick_ = now;
  ticker_.Arm(-1, false, false, next_tick_);
}

void PgBouncerWorker::Poll() {
  if (running_) return;
  op_start_ = clock_->Now();
  if (session_->IsConnected()) {
    running_ = true;
    session_->RunBatch(queries_, op_start_ + query_timeout_,
                       [this](Status s, std::vector<QueryResult> r) {
                         OnBatch(std::move(s), std::move(r));
                       });
    return;
  }
  if (op_start_ < next_attempt_) return;  // backing off: the last stands
  running_ = true;
  session_->Connect(op_start_ + connect_timeout_,
                    [this](Status s) { OnConnected(std::move(s)); });
}

void PgBouncerWorker::OnConnected(Status s) {
  if (!s.ok()) {
    PgBouncerOutcome out;
    out.error = "connect: " + s.message();
    next_attempt_ = backoff_.Failed(clock_->Now());
    return Finish(std::move(out));
  }
  session_->RunBatch(queries_, clock_->Now() + query_timeout_,
                     [this](Status st, std::vector<QueryResult> r) {
                       OnBatch(std::move(st), std::move(r));
                     });
}

void PgBouncerWorker::OnBatch(Status s, std::vector<QueryResult> results) {
  PgBouncerOutcome out;
  if (!s.ok()) {
    session_->Close();
    next_attempt_ = backoff_.Failed(clock_->Now());
    out.error = "query: " + s.message();
    return Finish(std::move(out));
  }
  backoff_.Succeeded();
  out.ok = true;
  FillPgBouncerSample(results, &out.sample, &out.error);
  Finish(std::move(out));
}

void PgBouncerWorker::Finish(PgBouncerOutcome out) {
  out.at = clock_->Now();
  out.wall_at = clock_->WallNow();
  out.duration = out.at - op_start_;
  if (out.ok != was_up_) {
    if (out.ok) {
      spdlog::info("pgbouncer {} is up", pgbouncer_.connection.name);
    } else {
      spdlog::warn("pgbouncer {} is down: {}", pgbouncer_.connection.name,
                   out.error);
    }
    was_up_ = out.ok;
  }
  running_ = false;
  on_poll_(out);
}

}  // namespace pgre
