#include "engine/server_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "collectors/heartbeat.h"

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
      check_heartbeat_(config.routing.check_heartbeat &&
                       config.heartbeat.enabled),
      max_lag_(config.routing.max_lag),
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
      ticker_(loop, [this](Watch::Ready) { Tick(); }) {
  if (check_heartbeat_) {
    probe_query_.push_back(
        "SELECT pg_is_in_recovery() AS in_recovery, extract(epoch FROM "
        "written_at) AS written_at FROM " +
        QuoteHeartbeatTable(config.heartbeat.table) +
        " RIGHT JOIN (SELECT 1 AS id) one USING (id)");
  }
}

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
  Op op;
  op.kind = OpKind::kPoll;
  ops_.push_back(std::move(op));
  Next();
}

void ServerWorker::QueueProbe(ProbeDone done) {
  Op op;
  op.kind = OpKind::kProbe;
  op.probe_done = std::move(done);
  ops_.push_back(std::move(op));
  Next();
}

void ServerWorker::QueueStatements(std::vector<std::string> statements,
                                   StatementsDone done) {
  Op op;
  op.kind = OpKind::kStatements;
  op.statements = std::move(statements);
  op.statements_done = std::move(done);
  ops_.push_back(std::move(op));
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
  if (op.kind == OpKind::kPoll && op_start_ < next_attempt_) {
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
  const OpKind kind = ops_.front().kind;
  if (!s.ok()) {
    if (kind == OpKind::kStatements) {
      return FinishStatements(Status::Error("connect: " + s.message()), {});
    }
    if (kind == OpKind::kProbe) {
      return FinishProbe(false, "connect: " + s.message());
    }
    PollOutcome out;
    out.error = "connect: " + s.message();
    next_attempt_ = backoff_.Failed(clock_->Now());
    return FinishPoll(std::move(out));
  }
  plan_.ForVersion(session_->ServerVersion());
  RunOp();
}

void ServerWorker::RunOp() {
  Op& op = ops_.front();
  auto done = [this](Status s, std::vector<QueryResult> results) {
    OnBatch(std::move(s), std::move(results));
  };
  const MonoTime deadline = clock_->Now() + query_timeout_;
  switch (op.kind) {
    case OpKind::kPoll:
      return session_->RunBatch(plan_.queries(), deadline, std::move(done));
    case OpKind::kProbe:
      return session_->RunBatch(probe_query_, deadline, std::move(done));
    case OpKind::kStatements:
      return session_->RunUnprepared(op.statements, deadline, std::move(done));
  }
}

std::string ServerWorker::CheckHeartbeat(const QueryResult& result) const {
  if (!result.ok) return "heartbeat: " + result.error;
  if (result.rows.size() != 1 || result.rows[0].size() != 2 ||
      !result.rows[0][0]) {
    return "heartbeat: unexpected result";
  }
  if (*result.rows[0][0] != "t") return "";  // not in recovery
  if (!result.rows[0][1]) return "heartbeat: none visible yet";
  char* end = nullptr;
  const double written = std::strtod(result.rows[0][1]->c_str(), &end);
  const double age = ToUnixSeconds(clock_->WallNow()) - written;
  if (age > ToSeconds(max_lag_)) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1fs", age);
    return std::string("heartbeat: the newest visible is ") + text +
           " old, over routing.max_lag " + FormatDuration(max_lag_);
  }
  return "";
}

void ServerWorker::OnBatch(Status s, std::vector<QueryResult> results) {
  const OpKind kind = ops_.front().kind;
  if (kind == OpKind::kStatements) {
    if (!s.ok()) session_->Close();
    return FinishStatements(std::move(s), std::move(results));
  }
  if (kind == OpKind::kProbe) {
    if (!s.ok()) {
      session_->Close();
      return FinishProbe(false, "query: " + s.message());
    }
    if (results.size() != probe_query_.size() || !results[0].ok) {
      return FinishProbe(false,
                         "query: " + (results.empty() ? std::string("no result")
                                                      : results[0].error));
    }
    if (check_heartbeat_) {
      std::string problem = CheckHeartbeat(results[1]);
      if (!problem.empty()) return FinishProbe(false, std::move(problem));
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
  on_poll_(std::move(out));
  Next();
}

void ServerWorker::FinishStatements(Status s,
                                    std::vector<QueryResult> results) {
  StatementsDone done = std::move(ops_.front().statements_done);
  ops_.pop_front();
  running_ = false;
  if (done) done(std::move(s), std::move(results));
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
