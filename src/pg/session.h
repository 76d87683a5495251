// PgSession: one PostgreSQL connection, behind an interface so that pollers
// and probes can be tested with fakes (tests/support/fake_session.h).
//
// Thread safety: a session is used by one thread at a time.
#ifndef PGRE_PG_SESSION_H_
#define PGRE_PG_SESSION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgre {

struct ServerConfig;

// The outcome of one statement. Values are in text form; NULL is nullopt.
struct QueryResult {
  bool ok = false;
  std::string error;  // set when !ok; never contains a password
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class PgSession {
 public:
  virtual ~PgSession() = default;

  // Opens the connection unless it is open. Never blocks past `deadline`.
  // Returns OK, or an error whose message carries no password.
  virtual Status Connect(MonoTime deadline) = 0;

  virtual bool IsConnected() const = 0;

  // The server's server_version_num (e.g. 150018) while connected, else 0.
  virtual int ServerVersion() const = 0;

  // Sends every query in one round trip (libpq pipeline mode), each in its
  // own implicit transaction so that one failing statement does not affect
  // the others. On OK, *results holds exactly one QueryResult per query, in
  // order (some may be !ok). On a transport error or when `deadline` passes,
  // returns an error and closes the connection.
  // REQUIRES: IsConnected().
  virtual Status RunBatch(const std::vector<std::string>& queries,
                          MonoTime deadline,
                          std::vector<QueryResult>* results) = 0;

  // Closes the connection (no-op when closed). Never blocks.
  virtual void Close() = 0;
};

// Makes sessions; the real one builds libpq sessions (pg/libpq_session.h).
class SessionFactory {
 public:
  virtual ~SessionFactory() = default;
  virtual std::unique_ptr<PgSession> Create(const ServerConfig& server) = 0;
};

}  // namespace pgre

#endif  // PGRE_PG_SESSION_H_
