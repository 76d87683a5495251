// AsyncSession: one PostgreSQL connection driven by an event loop, behind
// an interface so that pollers and probers can be tested with fakes. Every
// call and callback happens on the loop's thread; no call blocks.
//
// Contract: at most one operation (Connect or RunBatch) is in flight; its
// callback runs exactly once, later (never inside the call), unless the
// session is closed or destroyed first, which drops it.
#ifndef PGRE_ENGINE_ASYNC_SESSION_H_
#define PGRE_ENGINE_ASYNC_SESSION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pg/query_result.h"

namespace pgre {

struct ServerConfig;
class EventLoop;

class AsyncSession {
 public:
  using ConnectDone = std::function<void(Status)>;
  using BatchDone = std::function<void(Status, std::vector<QueryResult>)>;

  virtual ~AsyncSession() = default;

  // Opens the connection (OK at once, through the callback, when it is
  // open). Fails with "connection timeout after Nms" at `deadline`, or with
  // libpq's message (one line, no secret); the connection is then closed.
  virtual void Connect(MonoTime deadline, ConnectDone done) = 0;

  // Sends every query in one round trip (pipeline mode, the queries read
  // only: in one implicit transaction, so one snapshot): on OK, one
  // QueryResult per query, in order (some may be !ok). A failing query
  // does not cost the others their answers: the ones after it run again,
  // each on its own (a second round trip, only then). A transport error
  // or the deadline closes the connection and fails the batch.
  // REQUIRES: IsConnected().
  virtual void RunBatch(std::vector<std::string> queries, MonoTime deadline,
                        BatchDone done) = 0;

  // As RunBatch, but every query runs as an unnamed statement, never
  // prepared, each in its own implicit transaction: for statements whose
  // text changes each time (the heartbeat's write carries the agent's
  // clock) and writes.
  virtual void RunUnprepared(std::vector<std::string> queries,
                             MonoTime deadline, BatchDone done) = 0;

  virtual bool IsConnected() const = 0;
  virtual bool Busy() const = 0;  // an operation is in flight
  // server_version_num while connected, else 0.
  virtual int ServerVersion() const = 0;
  // Closes the connection; an operation in flight is dropped (its callback
  // never runs).
  virtual void Close() = 0;
};

class AsyncSessionFactory {
 public:
  virtual ~AsyncSessionFactory() = default;
  // A disconnected session for `server` on `loop`, whose connections set
  // statement_timeout to `statement_timeout` (0: none). Never null.
  // Thread-safe.
  virtual std::unique_ptr<AsyncSession> Create(const ServerConfig& server,
                                               Duration statement_timeout,
                                               EventLoop* loop) = 0;
  // A session in simple-query mode, for consoles that speak only the
  // simple-query protocol (PgBouncer's admin console): no statement is
  // sent on connect (no SET statement_timeout), and RunBatch sends each
  // query with PQsendQuery after the previous one's results, never in
  // pipeline mode nor prepared; deadlines as Create's. Thread-safe.
  virtual std::unique_ptr<AsyncSession> CreateSimple(const ServerConfig& server,
                                                     EventLoop* loop) = 0;
};

}  // namespace pgre

#endif  // PGRE_ENGINE_ASYNC_SESSION_H_
