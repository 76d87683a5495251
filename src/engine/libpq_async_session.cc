#include "engine/libpq_async_session.h"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/redact.h"
#include "config/config.h"
#include "config/dsn.h"
#include "pg/libpq_batch.h"

namespace pgre {
namespace {

using libpq_internal::CleanMessage;

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string TimeoutMessage(std::string_view what, MonoTime deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(
      deadline - Clock::Real()->Now());
  return std::string(what) +
         std::to_string(std::max<long long>(0, left.count())) + "ms";
}

// libpq's notices (a server's WARNING, an idle connection's FATAL as the
// server ends it) go to the log, scrubbed, never to stderr raw.
void LogNotice(void* arg, const char* message) {
  const auto* name = static_cast<const std::string*>(arg);
  spdlog::debug("server {}: {}", *name, CleanMessage(message, "notice"));
}

}  // namespace

LibpqAsyncSession::LibpqAsyncSession(const ServerConfig& server,
                                     EventLoop* loop, Resolver* resolver,
                                     Duration statement_timeout, bool simple)
    : name_(server.name),
      dsn_(server.dsn),
      password_(server.password),
      statement_timeout_(statement_timeout),
      simple_(simple),
      loop_(loop),
      resolver_(resolver),
      watch_(loop, [this](Watch::Ready r) { OnReady(r); }) {
  RegisterDsnSecrets(dsn_);
  RegisterSecret(password_);
  std::string error;
  if (auto parsed = ParseDsn(dsn_, &error)) {
    if (parsed->Get("hostaddr").empty()) {
      auto hosts = SplitCommas(parsed->Get("host"));
      if (std::any_of(hosts.begin(), hosts.end(), NeedsResolving)) {
        hosts_ = std::move(hosts);
      }
    }
  }
}

LibpqAsyncSession::~LibpqAsyncSession() { Close(); }

bool LibpqAsyncSession::IsConnected() const {
  return conn_ != nullptr && state_ != State::kConnecting &&
         state_ != State::kSetting && PQstatus(conn_) == CONNECTION_OK;
}

int LibpqAsyncSession::ServerVersion() const {
  return IsConnected() ? PQserverVersion(conn_) : 0;
}

void LibpqAsyncSession::Close() {
  watch_.Cancel();
  ++*generation_;
  if (conn_ != nullptr) {
    PQfinish(conn_);  // nonblocking once connected: never waits
    conn_ = nullptr;
  }
  state_ = State::kIdle;
  connect_done_ = nullptr;
  batch_done_ = nullptr;
  results_.reset();
  prepared_.Clear();
  batch_queries_.clear();
  retry_.clear();
  retried_.clear();
  simple_results_.clear();
  simple_current_.reset();
}

void LibpqAsyncSession::Fail(std::string message) {
  const State was = state_;
  ConnectDone cd = std::move(connect_done_);
  BatchDone bd = std::move(batch_done_);
  Close();
  if (was == State::kFlushing || was == State::kReading) {
    if (bd) bd(Status::Error(std::move(message)), {});
  } else if (cd) {
    cd(Status::Error(std::move(message)));
  }
}

void LibpqAsyncSession::FailWithLibpq(const char* fallback) {
  Fail(CleanMessage(conn_ != nullptr ? PQerrorMessage(conn_) : nullptr,
                    fallback));
}

void LibpqAsyncSession::Connect(MonoTime deadline, ConnectDone done) {
  if (IsConnected()) {
    // Through the loop, and dropped if the session closes meanwhile.
    loop_->Post([g = generation_, mine = *generation_, done = std::move(done)] {
      if (*g == mine) done(Status::Ok());
    });
    return;
  }
  Close();
  deadline_ = deadline;
  timeout_message_ = TimeoutMessage("connection timeout after ", deadline);
  if (deadline <= Clock::Real()->Now()) {
    // No time left: fail without touching the network.
    loop_->Post([g = generation_, mine = *generation_, done = std::move(done),
                 message = timeout_message_] {
      if (*g == mine) done(Status::Error(message));
    });
    return;
  }
  connect_done_ = std::move(done);
  if (hosts_.empty() || resolver_ == nullptr) {
    state_ = State::kConnecting;
    // Through the loop, never inside this call.
    loop_->Post([this, g = generation_, mine = *generation_] {
      if (*g == mine) StartLibpq("");
    });
    return;
  }
  state_ = State::kResolving;
  // A deadline for the lookup too; the answer is ignored once closed.
  watch_.Arm(-1, false, false, deadline_);
  resolver_->Resolve(hosts_, loop_,
                     [this, g = generation_, mine = *generation_](
                         Status s, std::string hostaddr) {
                       if (*g != mine || state_ != State::kResolving) return;
                       if (!s.ok()) return Fail(s.message());
                       watch_.Cancel();
                       StartLibpq(hostaddr);
                     });
}

void LibpqAsyncSession::StartLibpq(const std::string& hostaddr) {
  state_ = State::kConnecting;
  // Keywords after dbname override what the expanded DSN says.
  std::vector<const char*> keywords = {"dbname", "fallback_application_name"};
  std::vector<const char*> values = {dsn_.c_str(), "pg_replica_exporter"};
  if (!hostaddr.empty()) {
    keywords.push_back("hostaddr");
    values.push_back(hostaddr.c_str());
  }
  if (!password_.empty()) {
    keywords.push_back("password");
    values.push_back(password_.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keywords.data(), values.data(), 1);
  if (conn_ == nullptr) return Fail("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    // Before any network I/O: the connection string did not parse, and
    // libpq's message quotes the pieces it choked on.
    return Fail(HideQuotedFragments(
        CleanMessage(PQerrorMessage(conn_), "connection failed")));
  }
  PQsetNoticeProcessor(conn_, &LogNotice, const_cast<std::string*>(&name_));
  // Per the libpq docs, start as if PQconnectPoll had returned WRITING.
  const int fd = PQsocket(conn_);
  if (fd < 0) return FailWithLibpq("connection failed: no socket");
  watch_.Arm(fd, false, true, deadline_);
}

void LibpqAsyncSession::OnReady(Watch::Ready ready) {
  if (ready.timed_out) return Fail(timeout_message_);
  switch (state_) {
    case State::kConnecting:
      return StepConnect();
    case State::kSetting:
    case State::kFlushing:
      if (ready.readable && !PQconsumeInput(conn_)) {
        return FailWithLibpq("connection lost");
      }
      return StepFlush();
    case State::kReading:
      if (!PQconsumeInput(conn_)) return FailWithLibpq("connection lost");
      return StepRead();
    case State::kIdle:
      if (!ready.readable || conn_ == nullptr) return;
      // Between operations: a notice, or the server ending the connection
      // (its FATAL, then EOF): closed now, reopened by the next operation.
      if (!PQconsumeInput(conn_) || PQstatus(conn_) == CONNECTION_BAD) {
        return Close();
      }
      return WatchIdle();
    case State::kResolving:
      return;
  }
}

void LibpqAsyncSession::WatchIdle() {
  // Read while idle too: the socket stays registered from one operation
  // to the next (no system call per poll), and a connection the server
  // closed is noticed before the next operation needs it.
  watch_.Arm(PQsocket(conn_), true, false, std::nullopt);
}

void LibpqAsyncSession::StepConnect() {
  // libpq may close the socket and open another (next host, SSL or GSS
  // fallback), possibly of the same number: registered afresh each step.
  watch_.Cancel();
  switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_FAILED:
      return FailWithLibpq("connection failed");
    case PGRES_POLLING_READING:
      return watch_.Arm(PQsocket(conn_), true, false, deadline_);
    case PGRES_POLLING_WRITING:
      return watch_.Arm(PQsocket(conn_), false, true, deadline_);
    case PGRES_POLLING_OK:
    default:
      break;
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    return FailWithLibpq("cannot set nonblocking");
  }
  if (simple_) {
    // A console that knows no SET (PgBouncer's): connected as is.
    state_ = State::kIdle;
    WatchIdle();
    ConnectDone done = std::move(connect_done_);
    return done(Status::Ok());
  }
  // SET statement_timeout, as a one-query batch of its own.
  state_ = State::kSetting;
  const long long ms = std::max<long long>(0, statement_timeout_.count());
  const std::vector<std::string> set = {"SET statement_timeout = " +
                                        std::to_string(ms)};
  if (!libpq_internal::SendPipeline(conn_, set)) {
    return FailWithLibpq("cannot send queries");
  }
  results_ = std::make_unique<libpq_internal::PipelineResults>(1);
  StepFlush();
}

void LibpqAsyncSession::RunBatch(std::vector<std::string> queries,
                                 MonoTime deadline, BatchDone done) {
  Run(std::move(queries), deadline, std::move(done), true);
}

void LibpqAsyncSession::RunUnprepared(std::vector<std::string> queries,
                                      MonoTime deadline, BatchDone done) {
  Run(std::move(queries), deadline, std::move(done), false);
}

void LibpqAsyncSession::Run(std::vector<std::string> queries, MonoTime deadline,
                            BatchDone done, bool prepare) {
  if (!IsConnected() || Busy()) {
    loop_->Post([g = generation_, mine = *generation_, done = std::move(done)] {
      if (*g == mine) done(Status::Error("not connected"), {});
    });
    return;
  }
  deadline_ = deadline;
  timeout_message_ = TimeoutMessage("timeout after ", deadline);
  batch_done_ = std::move(done);
  if (queries.empty()) {
    BatchDone d = std::move(batch_done_);
    loop_->Post([g = generation_, mine = *generation_, d] {
      if (*g == mine) d(Status::Ok(), {});
    });
    return;
  }
  if (simple_) {
    batch_queries_ = std::move(queries);
    simple_results_.clear();
    return SendSimple();
  }
  batch_prepared_ = prepare;
  retry_.clear();
  retried_.clear();
  // Prepared (poll and probe) queries are reads: under one sync, in one
  // transaction, one send; unprepared ones (the heartbeat's write and its
  // settings) each in their own.
  SendBatch(std::move(queries), prepare ? libpq_internal::Sync::kOnce
                                        : libpq_internal::Sync::kEach);
}

void LibpqAsyncSession::SendBatch(std::vector<std::string> queries,
                                  libpq_internal::Sync sync) {
  state_ = State::kFlushing;
  std::vector<bool> preparing;
  if (!libpq_internal::SendPipeline(
          conn_, queries, batch_prepared_ ? &prepared_ : nullptr,
          batch_prepared_ ? &preparing : nullptr, sync)) {
    return FailWithLibpq("cannot send queries");
  }
  results_ = std::make_unique<libpq_internal::PipelineResults>(
      queries.size(), std::move(preparing), sync);
  batch_queries_ = std::move(queries);
  StepFlush();
}

void LibpqAsyncSession::StepFlush() {
  const int r = PQflush(conn_);
  if (r < 0) return FailWithLibpq("cannot send queries");
  if (r == 1) {
    // More to send; read too, the server may be blocked sending to us.
    return watch_.Arm(PQsocket(conn_), true, true, deadline_);
  }
  if (state_ == State::kFlushing) state_ = State::kReading;
  StepRead();
}

void LibpqAsyncSession::SendSimple() {
  state_ = State::kFlushing;
  simple_current_.reset();
  const std::string& query = batch_queries_[simple_results_.size()];
  if (!PQsendQuery(conn_, query.c_str())) {
    return FailWithLibpq("cannot send queries");
  }
  StepFlush();
}

void LibpqAsyncSession::StepReadSimple() {
  while (true) {
    if (PQisBusy(conn_)) {
      return watch_.Arm(PQsocket(conn_), true, false, deadline_);
    }
    PGresult* r = PQgetResult(conn_);
    if (r != nullptr) {
      // The first result of the query is its answer; later ones (none for
      // one statement) are dropped.
      if (!simple_current_) {
        simple_current_ = libpq_internal::ConvertResult(r);
      }
      PQclear(r);
      continue;
    }
    if (PQstatus(conn_) == CONNECTION_BAD) {
      return FailWithLibpq("connection lost");
    }
    if (!simple_current_) {
      QueryResult none;
      none.error = "no result";
      simple_current_ = std::move(none);
    }
    simple_results_.push_back(std::move(*simple_current_));
    simple_current_.reset();
    if (simple_results_.size() < batch_queries_.size()) return SendSimple();
    break;
  }
  WatchIdle();
  std::vector<QueryResult> results = std::move(simple_results_);
  simple_results_.clear();
  batch_queries_.clear();
  state_ = State::kIdle;
  BatchDone done = std::move(batch_done_);
  done(Status::Ok(), std::move(results));
}

void LibpqAsyncSession::StepRead() {
  if (simple_) return StepReadSimple();
  switch (results_->Drain(conn_)) {
    case libpq_internal::PipelineResults::kNeedInput:
      return watch_.Arm(PQsocket(conn_), true, false, deadline_);
    case libpq_internal::PipelineResults::kLost:
      return FailWithLibpq("connection lost");
    case libpq_internal::PipelineResults::kConfused:
      return FailWithLibpq("unexpected end of results");
    case libpq_internal::PipelineResults::kDone:
      break;
  }
  WatchIdle();
  std::vector<QueryResult> results = results_->Take();
  std::vector<std::string> aborted;
  std::vector<std::size_t> aborted_at;
  for (std::size_t i = 0; i < batch_queries_.size(); ++i) {
    // Not prepared after all, or no longer there (a pooler between us and
    // the server, a DEALLOCATE): prepared again at the next run.
    if (results_->prepare_failed(i) ||
        (i < results.size() &&
         results[i].error.find("(SQLSTATE 26000)") != std::string::npos)) {
      prepared_.Forget(batch_queries_[i]);
    }
    if (results_->aborted(i)) {
      aborted.push_back(std::move(batch_queries_[i]));
      aborted_at.push_back(i);
    }
  }
  batch_queries_.clear();
  const bool drop = results_->exit_failed();
  results_.reset();
  if (state_ == State::kReading && !drop && retry_.empty() &&
      !aborted.empty()) {
    // A statement failed under the one sync and the ones after it did not
    // run: those run again, each under its own sync, so that every query
    // gets its own answer (a second round trip, only after a failure).
    retried_ = std::move(results);
    retry_ = std::move(aborted_at);
    return SendBatch(std::move(aborted), libpq_internal::Sync::kEach);
  }
  if (!retry_.empty()) {
    for (std::size_t k = 0; k < retry_.size() && k < results.size(); ++k) {
      retried_[retry_[k]] = std::move(results[k]);
    }
    results = std::move(retried_);
    retried_.clear();
    retry_.clear();
  }
  if (state_ == State::kSetting) {
    if (drop || results.size() != 1 || !results[0].ok) {
      return Fail(
          "SET statement_timeout failed: " +
          (results.empty() ? std::string("no result") : results[0].error));
    }
    state_ = State::kIdle;
    ConnectDone done = std::move(connect_done_);
    return done(Status::Ok());
  }
  state_ = State::kIdle;
  BatchDone done = std::move(batch_done_);
  if (drop) {
    // Every result is in; the connection is in an unknown state: drop it,
    // keep the results.
    Close();
  }
  done(Status::Ok(), std::move(results));
}

std::unique_ptr<AsyncSession> LibpqAsyncSessionFactory::Create(
    const ServerConfig& server, Duration statement_timeout, EventLoop* loop) {
  return std::make_unique<LibpqAsyncSession>(server, loop, resolver_,
                                             statement_timeout);
}

std::unique_ptr<AsyncSession> LibpqAsyncSessionFactory::CreateSimple(
    const ServerConfig& server, EventLoop* loop) {
  return std::make_unique<LibpqAsyncSession>(server, loop, resolver_,
                                             Duration{}, /*simple=*/true);
}

}  // namespace pgre
