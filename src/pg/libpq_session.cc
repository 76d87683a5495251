#include "pg/libpq_session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/redact.h"
#include "config/config.h"
#include "config/dsn.h"

namespace pgre {
namespace libpq_internal {

int PollTimeoutMs(MonoTime now, MonoTime deadline) {
  if (deadline <= now) return 0;
  const auto left = deadline - now;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  if (ms > INT_MAX) return INT_MAX;
  return static_cast<int>(ms);
}

std::string CleanMessage(const char* message, std::string_view fallback) {
  std::string out;
  if (message != nullptr) {
    std::string_view rest(message);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view()
                                          : rest.substr(nl + 1);
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) continue;
      const size_t e = line.find_last_not_of(" \t\r");
      if (!out.empty()) out += ' ';
      out.append(line.substr(b, e - b + 1));
    }
  }
  if (out.empty()) out.assign(fallback);
  return ScrubSecrets(out);
}

QueryResult ConvertResult(const pg_result* result) {
  QueryResult out;
  if (result == nullptr) {
    out.error = "no result";
    return out;
  }
  // libpq's accessors take a non-const pointer but do not modify the result.
  PGresult* r = const_cast<PGresult*>(result);
  const ExecStatusType status = PQresultStatus(r);
  switch (status) {
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY: {
      out.ok = true;
      const int ncols = PQnfields(r);
      const int nrows = PQntuples(r);
      out.columns.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        const char* name = PQfname(r, c);
        out.columns.emplace_back(name != nullptr ? name : "");
      }
      out.rows.reserve(nrows);
      for (int i = 0; i < nrows; ++i) {
        std::vector<std::optional<std::string>> row;
        row.reserve(ncols);
        for (int c = 0; c < ncols; ++c) {
          if (PQgetisnull(r, i, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(
                std::string(PQgetvalue(r, i, c),
                            static_cast<size_t>(PQgetlength(r, i, c))));
          }
        }
        out.rows.push_back(std::move(row));
      }
      return out;
    }
    case PGRES_PIPELINE_ABORTED:
      out.error = "not run: an earlier statement in the pipeline failed";
      return out;
    default:
      break;
  }
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string fallback = "query failed: ";
  fallback += PQresStatus(status);
  if (primary != nullptr && *primary != '\0') {
    out.error = CleanMessage(primary, fallback);
  } else {
    out.error = CleanMessage(PQresultErrorMessage(r), fallback);
  }
  if (sqlstate != nullptr && *sqlstate != '\0') {
    out.error += " (SQLSTATE ";
    out.error += sqlstate;
    out.error += ")";
  }
  return out;
}

}  // namespace libpq_internal

namespace {

using libpq_internal::CleanMessage;
using libpq_internal::PollTimeoutMs;

MonoTime Now() { return Clock::Real()->Now(); }

std::string TimeoutMessage(std::string_view what, MonoTime start,
                           MonoTime deadline) {
  std::string out(what);
  out += std::to_string(PollTimeoutMs(start, deadline));
  out += "ms";
  return out;
}

}  // namespace

LibpqSession::LibpqSession(const ServerConfig& server,
                           Duration statement_timeout)
    : dsn_(server.dsn),
      password_(server.password),
      statement_timeout_(statement_timeout) {
  // Make sure no libpq message can echo a secret, however the DSN is
  // written (libpq's own parse is authoritative).
  RegisterDsnSecrets(dsn_);
  RegisterSecret(password_);
}

LibpqSession::~LibpqSession() { Close(); }

bool LibpqSession::IsConnected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

int LibpqSession::ServerVersion() const {
  return IsConnected() ? PQserverVersion(conn_) : 0;
}

void LibpqSession::Close() {
  if (conn_ == nullptr) return;
  // The connection is in nonblocking mode once established, so PQfinish's
  // Terminate message never waits; before that, PQfinish sends nothing.
  PQfinish(conn_);
  conn_ = nullptr;
}

Status LibpqSession::Fail(std::string_view fallback) {
  std::string message = CleanMessage(
      conn_ != nullptr ? PQerrorMessage(conn_) : nullptr, fallback);
  Close();
  return Status::Error(std::move(message));
}

LibpqSession::Wait LibpqSession::WaitSocket(bool write, MonoTime deadline) {
  const int fd = PQsocket(conn_);
  if (fd < 0) return Wait::kError;
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = static_cast<short>(POLLIN | (write ? POLLOUT : 0));
  while (true) {
    const int timeout = PollTimeoutMs(Now(), deadline);
    if (timeout == 0) {
      // One last non-waiting look, so a ready socket is not a timeout.
      const int n = poll(&pfd, 1, 0);
      if (n > 0) break;
      if (n < 0 && errno == EINTR) continue;
      return n < 0 ? Wait::kError : Wait::kTimeout;
    }
    const int n = poll(&pfd, 1, timeout);
    if (n > 0) break;
    if (n < 0 && errno != EINTR) return Wait::kError;
  }
  if (pfd.revents & POLLNVAL) return Wait::kError;
  // POLLERR / POLLHUP: ready; libpq reports the actual error.
  return Wait::kReady;
}

LibpqSession::Wait LibpqSession::Flush(MonoTime deadline) {
  while (true) {
    const int r = PQflush(conn_);
    if (r == 0) return Wait::kReady;
    if (r < 0) return Wait::kError;
    const Wait w = WaitSocket(/*write=*/true, deadline);
    if (w != Wait::kReady) return w;
    // The server may be blocked sending us results: read them to unblock.
    if (!PQconsumeInput(conn_)) return Wait::kError;
  }
}

Status LibpqSession::Connect(MonoTime deadline) {
  if (IsConnected()) return Status::Ok();
  Close();
  const MonoTime start = Now();
  const std::string timeout_message =
      TimeoutMessage("connection timeout after ", start, deadline);
  if (start >= deadline) return Status::Error(timeout_message);

  // Keywords after dbname override what the expanded DSN says: the
  // password from a password_file goes last (the config forbids both).
  const char* keywords[] = {"dbname", "fallback_application_name",
                            password_.empty() ? nullptr : "password", nullptr};
  const char* values[] = {dsn_.c_str(), "pg_replica_exporter",
                          password_.c_str(), nullptr};
  conn_ = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) return Status::Error("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    // Before any network I/O: the connection string did not parse, and
    // libpq's message quotes the pieces it choked on.
    std::string message = HideQuotedFragments(
        CleanMessage(PQerrorMessage(conn_), "connection failed"));
    Close();
    return Status::Error(std::move(message));
  }

  // Per the libpq docs, start as if PQconnectPoll had returned WRITING.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return Fail("connection failed");
    const int fd = PQsocket(conn_);
    if (fd < 0) return Fail("connection failed: no socket");
    pollfd pfd{};
    pfd.fd = fd;
    pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    int n;
    do {
      n = poll(&pfd, 1, PollTimeoutMs(Now(), deadline));
      // Retry on EINTR, and on a poll(2) timeout that came early (the wait is
      // capped at INT_MAX ms).
    } while ((n < 0 && errno == EINTR) || (n == 0 && Now() < deadline));
    if (n < 0) return Fail("connection failed: poll");
    if (n == 0) {
      Close();
      return Status::Error(timeout_message);
    }
    st = PQconnectPoll(conn_);
  }
  if (PQstatus(conn_) != CONNECTION_OK) return Fail("connection failed");
  if (PQsetnonblocking(conn_, 1) != 0) return Fail("cannot set nonblocking");

  const long long timeout_ms =
      std::max<long long>(0, statement_timeout_.count());
  std::vector<QueryResult> results;
  Status s =
      RunBatchLocked({"SET statement_timeout = " + std::to_string(timeout_ms)},
                     deadline, &results, timeout_message);
  if (!s.ok()) return s;  // closed already
  if (results.size() != 1 || !results[0].ok) {
    Close();
    return Status::Error(
        "SET statement_timeout failed: " +
        (results.empty() ? std::string("no result") : results[0].error));
  }
  return Status::Ok();
}

Status LibpqSession::RunBatch(const std::vector<std::string>& queries,
                              MonoTime deadline,
                              std::vector<QueryResult>* results) {
  results->clear();
  if (!IsConnected()) return Status::Error("not connected");
  const MonoTime start = Now();
  return RunBatchLocked(queries, deadline, results,
                        TimeoutMessage("timeout after ", start, deadline));
}

Status LibpqSession::RunBatchLocked(const std::vector<std::string>& queries,
                                    MonoTime deadline,
                                    std::vector<QueryResult>* results,
                                    const std::string& timeout_message) {
  results->clear();
  if (queries.empty()) return Status::Ok();
  if (Now() >= deadline) {
    Close();
    return Status::Error(timeout_message);
  }
  const auto timed_out = [&]() {
    Close();
    return Status::Error(timeout_message);
  };

  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF &&
      !PQenterPipelineMode(conn_)) {
    return Fail("cannot enter pipeline mode");
  }
  for (const std::string& q : queries) {
    if (!PQsendQueryParams(conn_, q.c_str(), 0, nullptr, nullptr, nullptr,
                           nullptr, 0)) {
      return Fail("cannot send query");
    }
    if (!PQpipelineSync(conn_)) return Fail("cannot send sync");
  }
  switch (Flush(deadline)) {
    case Wait::kReady:
      break;
    case Wait::kTimeout:
      return timed_out();
    case Wait::kError:
      return Fail("cannot send queries");
  }

  const size_t n = queries.size();
  std::vector<QueryResult> out(n);
  std::vector<bool> filled(n, false);
  size_t syncs = 0;
  // Each query's results end with one null; a few more than that means
  // libpq and this loop disagree about the protocol: give up, never spin.
  size_t nulls = 0;
  while (syncs < n) {
    if (PQisBusy(conn_)) {
      const Wait w = WaitSocket(/*write=*/false, deadline);
      if (w == Wait::kTimeout) return timed_out();
      if (w == Wait::kError) return Fail("connection lost");
      if (!PQconsumeInput(conn_)) return Fail("connection lost");
      continue;
    }
    PGresult* r = PQgetResult(conn_);
    if (PQstatus(conn_) == CONNECTION_BAD) {
      PQclear(r);
      return Fail("connection lost");
    }
    if (r == nullptr) {
      if (++nulls > 2 * n + 2) return Fail("unexpected end of results");
      continue;
    }
    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
      ++syncs;
    } else if (!filled[syncs]) {
      out[syncs] = libpq_internal::ConvertResult(r);
      filled[syncs] = true;
    }
    PQclear(r);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!filled[i]) out[i].error = "no result";
  }
  *results = std::move(out);
  if (!PQexitPipelineMode(conn_)) {
    // Every result is in; the connection is in an unknown state. Drop it so
    // the next Connect() starts clean, but keep this batch's results.
    Close();
  }
  return Status::Ok();
}

std::unique_ptr<PgSession> LibpqSessionFactory::Create(
    const ServerConfig& server) {
  return std::make_unique<LibpqSession>(server, statement_timeout_);
}

}  // namespace pgre
