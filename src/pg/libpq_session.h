// LibpqSession: the real PgSession, one libpq connection driven entirely in
// nonblocking mode so that no call ever waits past its deadline, even when
// the server has accepted the TCP connection but never answers (a stopped
// or wedged process).
//
// Caveat: libpq resolves host names synchronously inside
// PQconnectStartParams/PQconnectPoll, so a slow DNS resolver can make
// Connect() overrun its deadline. Configure `hostaddr` (or an IP address as
// the host) where that matters.
//
// Secrets: the DSN's secret options and a password_file's password are
// registered with common/redact.h when the session is built, and every
// libpq message is passed through ScrubSecrets before it leaves this file.
//
// Thread safety: a session is used by one thread at a time (see PgSession).
// The factory is thread-safe.
#ifndef PGRE_PG_LIBPQ_SESSION_H_
#define PGRE_PG_LIBPQ_SESSION_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pg/session.h"

struct pg_conn;
struct pg_result;

namespace pgre {

struct ServerConfig;

class LibpqSession : public PgSession {
 public:
  // `server.dsn` is the libpq connection string (URI or key=value). Every
  // connection sets statement_timeout to `statement_timeout` (0 = none) and
  // fallback_application_name to "pg_replica_exporter".
  LibpqSession(const ServerConfig& server, Duration statement_timeout);
  ~LibpqSession() override;  // Close()s.

  LibpqSession(const LibpqSession&) = delete;
  LibpqSession& operator=(const LibpqSession&) = delete;

  // Connects (PQconnectStartParams + PQconnectPoll + poll(2)) and runs
  // SET statement_timeout, all before `deadline`. Returns OK at once when
  // already connected. On failure the connection is closed and the error is
  // libpq's message (trimmed, one line, scrubbed of secrets) or
  // "connection timeout after Nms".
  Status Connect(MonoTime deadline) override;

  bool IsConnected() const override;
  int ServerVersion() const override;

  // See PgSession::RunBatch. Uses pipeline mode with one PQpipelineSync per
  // query. A failed statement yields a QueryResult with ok=false and error
  // "<primary message> (SQLSTATE <code>)". Returns "timeout after Nms" (N =
  // the time that was left at the call) when the deadline passes, or
  // libpq's message when the connection breaks; both close the session.
  // Returns "not connected" when !IsConnected(). An empty batch is OK.
  Status RunBatch(const std::vector<std::string>& queries, MonoTime deadline,
                  std::vector<QueryResult>* results) override;

  void Close() override;

 private:
  enum class Wait { kReady, kTimeout, kError };
  // Waits until the connection's socket is readable (and, if `write`,
  // writable) or the deadline passes.
  Wait WaitSocket(bool write, MonoTime deadline);
  // Flushes libpq's output buffer. Returns kReady when empty.
  Wait Flush(MonoTime deadline);
  // RunBatch without the connected check; a timeout returns
  // `timeout_message`.
  Status RunBatchLocked(const std::vector<std::string>& queries,
                        MonoTime deadline, std::vector<QueryResult>* results,
                        const std::string& timeout_message);
  // Closes and returns an error carrying libpq's current message, or
  // `fallback` when libpq has none.
  Status Fail(std::string_view fallback);

  std::string dsn_;       // SECRET
  std::string password_;  // SECRET: from a password_file, or ""
  Duration statement_timeout_;
  pg_conn* conn_ = nullptr;
};

// Builds LibpqSessions that all use the same statement timeout.
class LibpqSessionFactory : public SessionFactory {
 public:
  explicit LibpqSessionFactory(Duration statement_timeout)
      : statement_timeout_(statement_timeout) {}
  // Never returns null. The session starts disconnected.
  std::unique_ptr<PgSession> Create(const ServerConfig& server) override;

 private:
  const Duration statement_timeout_;
};

// Pure helpers, exposed for tests.
namespace libpq_internal {

// Milliseconds from `now` until `deadline`, rounded up (so poll(2) does not
// wake early and spin), clamped to [0, INT_MAX]; 0 once the deadline is
// reached. Never negative, so poll(2) never waits forever.
int PollTimeoutMs(MonoTime now, MonoTime deadline);

// libpq's (possibly multi-line, newline-terminated) message as one line:
// lines trimmed and joined with " ", then ScrubSecrets()ed. Returns
// `fallback` when the message is empty or null.
std::string CleanMessage(const char* message, std::string_view fallback);

// Converts one result. PGRES_TUPLES_OK / PGRES_COMMAND_OK / PGRES_EMPTY_QUERY
// / PGRES_SINGLE_TUPLE become ok results with columns and text rows (SQL NULL
// = nullopt); every other status becomes ok=false with error
// "<primary message> (SQLSTATE <code>)", or libpq's message when the result
// has no fields. Null `result` gives ok=false "no result".
QueryResult ConvertResult(const pg_result* result);

}  // namespace libpq_internal

}  // namespace pgre

#endif  // PGRE_PG_LIBPQ_SESSION_H_
