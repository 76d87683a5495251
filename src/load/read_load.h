// ReadLoad: real reads through a read endpoint (HAProxy's read pool, or any
// DSN), the way an application's read traffic lands: every read a new
// connection, `select inet_server_addr(), inet_server_port()` to learn
// which server it landed on. route-check's load mode and the load-balancer
// tests drive it; BuildLoadReport turns its samples into the per-server
// table (pure, table-tested).
//
// Each of `connections` threads loops connect -> query -> close until
// Stop(). A read is bounded by `timeout` (connect and query together, via
// libpq's non-blocking calls), so a hung server costs a failed read, never
// a stuck thread. Errors are one line, scrubbed of registered secrets.
//
// Thread safety: Samples() and Count() may be called from any thread while
// the load runs; Stop() and the destructor from the owning thread.
#ifndef PGRE_LOAD_READ_LOAD_H_
#define PGRE_LOAD_READ_LOAD_H_

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace pgre {

// One read.
struct ReadSample {
  MonoTime at{};       // when it started
  double seconds = 0;  // connect + query + close
  bool ok = false;
  std::string address;  // inet_server_addr() as text ("" for a socket)
  int port = 0;         // inet_server_port()
  std::string error;    // when !ok
};

struct ReadLoadOptions {
  std::string dsn;  // the read endpoint, libpq's conninfo or URI
  int connections = 4;
  Duration timeout = std::chrono::seconds(2);
  // Each reader's pause between two reads (0: back to back).
  Duration pause{0};
};

class ReadLoad {
 public:
  // Starts the threads. REQUIRES: clock outlives the load; connections >= 1.
  ReadLoad(ReadLoadOptions options, const Clock* clock);
  ~ReadLoad();  // Stop()
  ReadLoad(const ReadLoad&) = delete;
  ReadLoad& operator=(const ReadLoad&) = delete;

  // Ends every thread after its current read (at most `timeout`).
  void Stop();
  // The reads finished so far, in the order they finished, from `from` on.
  std::vector<ReadSample> Samples(std::size_t from = 0) const;
  std::size_t Count() const;

  // One read, on the calling thread (what every thread does in a loop).
  static ReadSample ReadOnce(const std::string& dsn, Duration timeout,
                             const Clock* clock);

 private:
  void Run();

  const ReadLoadOptions options_;
  const Clock* clock_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<ReadSample> samples_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// The nearest-rank percentile `p` (0..1) of `values`; 0 for none.
double Percentile(std::vector<double> values, double p);

// A server the report knows by name: where reads landing on it come from.
struct LoadServer {
  std::string name;
  std::string host;  // as configured; matched against inet_server_addr()
  int port = 0;
  bool is_primary = false;
};

// The server a read landed on: the configured server on that port (and
// that address, when several share the port), else "ADDRESS:PORT"; ""
// for a failed read.
std::string ServerOfRead(const ReadSample& read,
                         const std::vector<LoadServer>& servers);

// A stretch of the run in which a server got no read while others did.
struct Absence {
  double left = 0;                 // seconds since start: its last read
  std::optional<double> rejoined;  // its next read; none till the end
};

struct LoadRow {
  std::string server;
  bool is_primary = false;
  int reads = 0;  // that landed on it
  double share = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  std::vector<Absence> absences;
  std::optional<double> first_read;  // seconds since start
};

struct LoadReport {
  double seconds = 0;  // the run's length
  int total = 0;
  int failed = 0;
  std::string first_error;
  std::vector<LoadRow> rows;  // the configured servers, then the others
  // A read gap longer than this is an absence (see BuildLoadReport).
  double gap_seconds = 0;
};

// The report of the reads of a run that started at `start` and lasted
// `length`. A server's absence is a gap between two of its reads (or
// between its last read and the end) longer than
//   max(min_gap, 10 * servers_with_reads / (reads per second)),
// i.e. about ten turns of a round-robin over the servers that took reads.
LoadReport BuildLoadReport(const std::vector<ReadSample>& reads,
                           const std::vector<LoadServer>& servers,
                           MonoTime start, Duration length,
                           Duration min_gap = std::chrono::milliseconds(500));

// The report as a text table, one line per server and one per absence.
std::string FormatLoadReport(const LoadReport& report);

}  // namespace pgre

#endif  // PGRE_LOAD_READ_LOAD_H_
