#include "engine/server_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgre {

ServerWorker::ServerWorker(
    const ServerConfig& server, const Config& config, EventLoop* loop,
    AsyncSessionFactory* sessions,
    const std::vector<std::unique_ptr<Collector>>* collectors,
    const Clock* clock, PollDone on_poll)
    : server_(server),
      interval_(config.poll_interval),
      connect_timeout_(config.connect_timeout),
      query_timeout_(config.query_timeout),
      probe_query_({config.routing.probe_query}),
      loop_(loop),
      clock_(clock),
      on_poll_(std::move(on_poll)),
      session_(sessions->Create(server, config.query_timeout, loop)),
      plan_(server.name, collectors),
      // Retry at the next tick first, then back off to at most 30 s (or the
      // poll interval, when that is longer).
      backoff_(
          config.poll_interval,
          std::max<Duration>(config.poll_interval, std::chrono::seconds(30))),
      ticker_(loop, [this](Watch::Ready) { Tick(); }) {}

void ServerWorker::Start(MonoTime first) {
  next_tick_ = first;
  ticker_.Arm(-1, false, false, next_tick_);
}

void ServerWorker::Tick() {
  QueuePoll();
  next_tick_ += interval_;
  const MonoTime now = clock_->Now();
  if (next_tick_ < now) next_tick_ = now;
  ticker_.Arm(-1, false, false, next_tick_);
}

void ServerWorker::QueuePoll() {
  if (poll_queued_) return;
  poll_queued_ = true;
  ops_.push_back(Op{true, nullptr});
  Next();
}

void ServerWorker::QueueProbe(ProbeDone done) {
  ops_.push_back(Op{false, std::move(done)});
  Next();
}

void ServerWorker::Next() {
  if (running_ || ops_.empty()) return;
  const Op& op = ops_.front();
  op_start_ = clock_->Now();
  op_start_wall_ = clock_->WallNow();
  if (session_->IsConnected()) {
    running_ = true;
    return RunOp();
  }
  if (op.poll && op_start_ < next_attempt_) {
    // Backing off: no attempt, no outcome (the last one stands).
    ops_.pop_front();
    poll_queued_ = false;
    return Next();
  }
  running_ = true;
  session_->Connect(op_start_ + connect_timeout_,
                    [this](Status s) { OnConnected(std::move(s)); });
}

void ServerWorker::OnConnected(Status s) {
  const bool poll = ops_.front().poll;
  if (!s.ok()) {
    if (!poll) return FinishProbe(false, "connect: " + s.message());
    PollOutcome out;
    out.error = "connect: " + s.message();
    next_attempt_ = backoff_.Failed(clock_->Now());
    return FinishPoll(std::move(out));
  }
  plan_.ForVersion(session_->ServerVersion());
  RunOp();
}

void ServerWorker::RunOp() {
  const bool poll = ops_.front().poll;
  session_->RunBatch(poll ? plan_.queries() : probe_query_,
                     clock_->Now() + query_timeout_,
                     [this](Status s, std::vector<QueryResult> results) {
                       OnBatch(std::move(s), std::move(results));
                     });
}

void ServerWorker::OnBatch(Status s, std::vector<QueryResult> results) {
  const bool poll = ops_.front().poll;
  if (!poll) {
    if (!s.ok()) {
      session_->Close();
      return FinishProbe(false, "query: " + s.message());
    }
    if (results.size() != 1 || !results[0].ok) {
      return FinishProbe(false,
                         "query: " + (results.empty() ? std::string("no result")
                                                      : results[0].error));
    }
    return FinishProbe(true, "");
  }
  PollOutcome out;
  if (!s.ok()) {
    session_->Close();
    next_attempt_ = backoff_.Failed(clock_->Now());
    out.error = "query: " + s.message();
    return FinishPoll(std::move(out));
  }
  plan_.Fill(results, &out);
  if (out.ok) {
    backoff_.Succeeded();
  } else if (out.error.rfind("query:", 0) == 0) {
    session_->Close();
    next_attempt_ = backoff_.Failed(clock_->Now());
  }
  FinishPoll(std::move(out));
}

void ServerWorker::FinishPoll(PollOutcome out) {
  out.at = clock_->Now();
  out.wall_at = clock_->WallNow();
  out.duration = out.at - op_start_;
  if (out.ok != was_up_) {
    if (out.ok) {
      spdlog::info("server {} is up", server_.name);
    } else {
      spdlog::warn("server {} is down: {}", server_.name, out.error);
    }
    was_up_ = out.ok;
  }
  ops_.pop_front();
  poll_queued_ = false;
  running_ = false;
  on_poll_(out);
  Next();
}

void ServerWorker::FinishProbe(bool ok, std::string error) {
  ProbeResult r;
  r.ok = ok;
  r.error = std::move(error);
  r.duration = clock_->Now() - op_start_;
  ProbeDone done = std::move(ops_.front().probe_done);
  ops_.pop_front();
  running_ = false;
  if (done) done(std::move(r));
  Next();
}

}  // namespace pgre
