// libpq helpers of the event-loop session (engine/libpq_async_session.h),
// pure or nonblocking, tested on their own: the pipeline-mode protocol of a
// batch (send the queries, each with its own sync or all under one, then
// collect one result per query as libpq makes them available), result
// conversion, and libpq's messages made one scrubbed line.
//
// Thread safety: as the connection it works on.
#ifndef PGRE_PG_LIBPQ_BATCH_H_
#define PGRE_PG_LIBPQ_BATCH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pg/query_result.h"

struct pg_conn;
struct pg_result;

namespace pgre::libpq_internal {

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

// The statements prepared on one connection, by their text, so that a
// server parses and plans each poll query once per connection, not once per
// poll. Bounded: past kMaxStatements distinct texts, queries go unprepared.
// Clear() it whenever its connection closes.
class PreparedStatements {
 public:
  static constexpr std::size_t kMaxStatements = 64;

  // The statement name for `sql` on this connection ("" = run it unnamed,
  // unprepared); *prepare is set when it must be prepared first, in which
  // case it counts as prepared from now on: Forget() it if that fails.
  std::string Name(const std::string& sql, bool* prepare);
  void Forget(const std::string& sql);
  void Clear();
  std::size_t size() const { return names_.size(); }

 private:
  struct Entry {
    std::string name;
    // The text asked for after this one last time. A poll asks for the
    // same texts in the same order: this guess, one comparison, spares
    // hashing each query's text (hundreds of bytes) every poll.
    std::pair<const std::string, Entry>* next = nullptr;
  };
  using Node = std::pair<const std::string, Entry>;
  std::unordered_map<std::string, Entry> names_;  // nodes never move
  Node* last_ = nullptr;                          // the last text asked for
  std::uint64_t next_ = 0;
};

// How a batch's queries are synced.
enum class Sync {
  // Each query followed by its own sync: one failing statement does not
  // abort the others, each runs in its own implicit transaction. libpq 15
  // flushes at every sync (one send per query), and the server flushes at
  // every sync too.
  kEach,
  // One sync after the last query: one send, one implicit transaction (one
  // snapshot for every query), one flush of the answers. A failing
  // statement aborts the ones after it (PipelineResults::aborted()).
  kOnce,
};

// Enters pipeline mode (if not in it) and queues every query, synced as
// `sync` says. With `prepared`, each query runs as a prepared statement
// (prepared in the same pipeline the first time: (*preparing)[i] says which
// were); without it, as an unnamed one. Returns false when libpq refuses
// (the connection is then unusable).
bool SendPipeline(pg_conn* conn, const std::vector<std::string>& queries,
                  PreparedStatements* prepared = nullptr,
                  std::vector<bool>* preparing = nullptr,
                  Sync sync = Sync::kEach);

class PipelineResults {
 public:
  enum Step { kNeedInput, kDone, kLost, kConfused };
  // `preparing`: SendPipeline's, or empty when nothing was prepared;
  // `sync`: as the queries were sent.
  explicit PipelineResults(std::size_t queries,
                           std::vector<bool> preparing = {},
                           Sync sync = Sync::kEach);

  // Takes every result libpq has ready without blocking. kDone once every
  // sync arrived (pipeline mode is then left), kNeedInput when
  // libpq needs more input (PQconsumeInput after the socket is readable),
  // kLost when the connection broke, kConfused when libpq and this reader
  // disagree about the protocol.
  Step Drain(pg_conn* conn);

  // The results, in query order ("no result" for a query that had none).
  // REQUIRES: Drain() returned kDone.
  std::vector<QueryResult> Take();
  // Whether leaving pipeline mode failed after kDone (the connection is in
  // an unknown state: drop it, keep the results).
  bool exit_failed() const { return exit_failed_; }
  // Whether query i's preparation failed (its result is that error; the
  // statement does not exist on the connection).
  bool prepare_failed(std::size_t i) const {
    return i < prepare_failed_.size() && prepare_failed_[i];
  }
  // Whether query i did not run because an earlier one under the same sync
  // failed (its result is then a "not run" error). Never with Sync::kEach.
  bool aborted(std::size_t i) const {
    return i < aborted_.size() && aborted_[i];
  }

 private:
  std::vector<QueryResult> out_;
  std::vector<bool> filled_;
  std::vector<bool> preparing_;  // a Prepare's result comes first
  std::vector<bool> prepare_failed_;
  std::vector<bool> aborted_;
  const Sync sync_;
  std::size_t syncs_ = 0;
  std::size_t current_ = 0;  // the query whose results come now
  bool in_command_ = false;  // a result of the current command came
  bool in_prepare_ = false;  // ... and that command is a Prepare
  std::size_t nulls_ = 0;
  bool exit_failed_ = false;
};

}  // namespace pgre::libpq_internal

#endif  // PGRE_PG_LIBPQ_BATCH_H_
