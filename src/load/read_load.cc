#include "load/read_load.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "pg/libpq_batch.h"

namespace pgre {
namespace {

// Waits until the socket of `conn` is ready for `events` or `deadline`.
// False at the deadline or on a poll error.
bool WaitSocket(pg_conn* conn, short events, MonoTime deadline,
                const Clock* clock) {
  const int fd = PQsocket(conn);
  if (fd < 0) return false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock->Now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

using libpq_internal::CleanMessage;

// libpq's message, one line, scrubbed.
std::string Error(pg_conn* conn, std::string_view fallback) {
  return CleanMessage(conn != nullptr ? PQerrorMessage(conn) : nullptr,
                      fallback);
}

}  // namespace

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(p * v.size() + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

ReadSample ReadLoad::ReadOnce(const std::string& dsn, Duration timeout,
                              const Clock* clock) {
  ReadSample s;
  s.at = clock->Now();
  const MonoTime deadline = s.at + timeout;
  pg_conn* conn = PQconnectStart(dsn.c_str());
  auto finish = [&](std::string error) {
    s.ok = error.empty();
    s.error = std::move(error);
    if (conn != nullptr) PQfinish(conn);
    s.seconds = ToSeconds(clock->Now() - s.at);
    return s;
  };
  if (conn == nullptr) return finish("out of memory");
  if (PQstatus(conn) == CONNECTION_BAD) return finish(Error(conn, "connect"));
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING;
       st != PGRES_POLLING_OK;) {
    if (st == PGRES_POLLING_FAILED) return finish(Error(conn, "connect"));
    if (!WaitSocket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                    deadline, clock)) {
      return finish("timeout connecting");
    }
    st = PQconnectPoll(conn);
  }
  if (!PQsendQuery(conn,
                   "select coalesce(host(inet_server_addr()), ''), "
                   "coalesce(inet_server_port(), 0)")) {
    return finish(Error(conn, "query"));
  }
  std::string error;
  bool answered = false;
  while (true) {
    if (PQisBusy(conn)) {
      if (!WaitSocket(conn, POLLIN, deadline, clock)) {
        return finish("timeout reading");
      }
      if (!PQconsumeInput(conn)) return finish(Error(conn, "query"));
      continue;
    }
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) break;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        PQnfields(r) == 2) {
      s.address = PQgetvalue(r, 0, 0);
      s.port = std::atoi(PQgetvalue(r, 0, 1));
      answered = true;
    } else if (error.empty()) {
      error = CleanMessage(PQresultErrorMessage(r), "query");
    }
    PQclear(r);
  }
  if (error.empty() && !answered) error = "no answer";
  return finish(error);
}

ReadLoad::ReadLoad(ReadLoadOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

ReadLoad::~ReadLoad() { Stop(); }

void ReadLoad::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void ReadLoad::Run() {
  while (!stop_) {
    ReadSample s = ReadOnce(options_.dsn, options_.timeout, clock_);
    const bool failed = !s.ok;
    {
      std::lock_guard<std::mutex> lock(mu_);
      samples_.push_back(std::move(s));
    }
    // A refused connection fails in microseconds: do not spin on it.
    Duration pause = options_.pause;
    if (failed) pause = std::max(pause, Duration(10));
    if (pause.count() > 0 && !stop_) std::this_thread::sleep_for(pause);
  }
}

std::vector<ReadSample> ReadLoad::Samples(std::size_t from) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (from >= samples_.size()) return {};
  return std::vector<ReadSample>(samples_.begin() + from, samples_.end());
}

std::size_t ReadLoad::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_.size();
}

std::string ServerOfRead(const ReadSample& read,
                         const std::vector<LoadServer>& servers) {
  if (!read.ok) return "";
  const LoadServer* only = nullptr;
  int on_port = 0;
  for (const LoadServer& s : servers) {
    if (s.port != read.port) continue;
    if (s.host == read.address) return s.name;
    ++on_port;
    only = &s;
  }
  if (on_port == 1) return only->name;
  return read.address + ":" + std::to_string(read.port);
}

LoadReport BuildLoadReport(const std::vector<ReadSample>& reads,
                           const std::vector<LoadServer>& servers,
                           MonoTime start, Duration length, Duration min_gap) {
  LoadReport report;
  report.seconds = ToSeconds(length);
  std::map<std::string, std::size_t> index;
  for (const LoadServer& s : servers) {
    index.emplace(s.name, report.rows.size());
    LoadRow row;
    row.server = s.name;
    row.is_primary = s.is_primary;
    report.rows.push_back(std::move(row));
  }
  std::vector<std::vector<double>> times(report.rows.size());
  std::vector<std::vector<double>> latencies(report.rows.size());
  for (const ReadSample& r : reads) {
    ++report.total;
    if (!r.ok) {
      ++report.failed;
      if (report.first_error.empty()) report.first_error = r.error;
      continue;
    }
    const std::string name = ServerOfRead(r, servers);
    auto [it, fresh] = index.emplace(name, report.rows.size());
    if (fresh) {
      LoadRow row;
      row.server = name;
      report.rows.push_back(std::move(row));
      times.emplace_back();
      latencies.emplace_back();
    }
    LoadRow& row = report.rows[it->second];
    ++row.reads;
    times[it->second].push_back(ToSeconds(r.at - start));
    latencies[it->second].push_back(r.seconds * 1000);
  }
  const int ok = report.total - report.failed;
  const int with_reads = static_cast<int>(
      std::count_if(report.rows.begin(), report.rows.end(),
                    [](const LoadRow& r) { return r.reads > 0; }));
  const double rate = report.seconds > 0 ? ok / report.seconds : 0;
  report.gap_seconds = ToSeconds(min_gap);
  if (rate > 0) {
    report.gap_seconds = std::max(report.gap_seconds, 10.0 * with_reads / rate);
  }
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    LoadRow& row = report.rows[i];
    row.share = ok > 0 ? double(row.reads) / ok : 0;
    row.p50_ms = Percentile(latencies[i], 0.50);
    row.p95_ms = Percentile(latencies[i], 0.95);
    row.p99_ms = Percentile(latencies[i], 0.99);
    std::vector<double>& t = times[i];
    std::sort(t.begin(), t.end());
    if (t.empty()) continue;
    row.first_read = t.front();
    for (std::size_t k = 1; k < t.size(); ++k) {
      if (t[k] - t[k - 1] > report.gap_seconds) {
        row.absences.push_back({t[k - 1], t[k]});
      }
    }
    if (report.seconds - t.back() > report.gap_seconds) {
      row.absences.push_back({t.back(), std::nullopt});
    }
  }
  return report;
}

std::string FormatLoadReport(const LoadReport& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %-8s %7s %7s %9s %9s %9s\n", "SERVER",
                "ROLE", "READS", "SHARE", "P50_MS", "P95_MS", "P99_MS");
  out += line;
  for (const LoadRow& row : r.rows) {
    std::snprintf(
        line, sizeof line, "%-20s %-8s %7d %6.1f%% %9.2f %9.2f %9.2f\n",
        row.server.c_str(), row.is_primary ? "primary" : "replica", row.reads,
        100 * row.share, row.p50_ms, row.p95_ms, row.p99_ms);
    out += line;
  }
  for (const LoadRow& row : r.rows) {
    if (row.first_read && *row.first_read > r.gap_seconds) {
      std::snprintf(line, sizeof line, "%s: first read at %.1fs\n",
                    row.server.c_str(), *row.first_read);
      out += line;
    }
    for (const Absence& a : row.absences) {
      if (a.rejoined) {
        std::snprintf(line, sizeof line,
                      "%s: left at %.1fs, rejoined at %.1fs\n",
                      row.server.c_str(), a.left, *a.rejoined);
      } else {
        std::snprintf(line, sizeof line, "%s: left at %.1fs, not back\n",
                      row.server.c_str(), a.left);
      }
      out += line;
    }
  }
  std::snprintf(line, sizeof line,
                "reads: %d in %.1fs (%.0f/s), failed: %d (absence: no read "
                "for over %.2fs)\n",
                r.total, r.seconds, r.seconds > 0 ? r.total / r.seconds : 0.0,
                r.failed, r.gap_seconds);
  out += line;
  if (!r.first_error.empty()) out += "first error: " + r.first_error + "\n";
  return out;
}

}  // namespace pgre
