// pgre_lb_bench: how fast a load balancer driven by the agent drains a
// lagging replica (scripts/bench.sh, part D). Against a running cluster, a
// running agent and HAProxy's read pool in front (config/haproxy.cfg made
// local), ROUNDS times:
//   1. reads through the read pool until the replica takes its share;
//   2. its replay paused (pg_wal_replay_pause()) under writes to the
//      primary every 100 ms; the moment its lag crosses MAX_LAG is the
//      commit time of the last transaction it replayed
//      (pg_last_xact_replay_timestamp()) plus MAX_LAG, on this host's clock
//      (the servers are local: one clock);
//   3. the drain: from that moment to the last read that landed on it;
//   4. replay resumed; the next round starts once it takes reads again.
// Prints every round's drain and the median and worst.
//
//   pgre_lb_bench --read-dsn=DSN --primary-dsn=DSN --replica-dsn=DSN
//                 --replica-port=PORT [--max-lag=5] [--rounds=10]
// The primary and replica DSNs need a superuser (pause, resume, writes).
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "load/read_load.h"

namespace pgre {
namespace {

std::string Arg(int argc, char** argv, const char* name,
                const char* fallback = nullptr) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  if (fallback == nullptr) {
    throw std::runtime_error(std::string("missing --") + name);
  }
  return fallback;
}

// One statement; its single value ("" for none). Throws on failure.
std::string Sql(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error(e);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK ||
                  PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string out =
      ok && PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  const std::string e = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(sql + ": " + e);
  return out;
}

double WallSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Waits (up to `seconds`) until the newest reads put `port` among the
// servers taking reads: one of the last 50 landed there.
bool TakesReads(const ReadLoad& load, int port, double seconds) {
  const double until = WallSeconds() + seconds;
  while (WallSeconds() < until) {
    const std::size_t n = load.Count();
    const auto recent = load.Samples(n > 50 ? n - 50 : 0);
    for (const ReadSample& r : recent) {
      if (r.ok && r.port == port) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int Main(int argc, char** argv) {
  const std::string read_dsn = Arg(argc, argv, "read-dsn");
  const std::string primary_dsn = Arg(argc, argv, "primary-dsn");
  const std::string replica_dsn = Arg(argc, argv, "replica-dsn");
  const int port = std::atoi(Arg(argc, argv, "replica-port").c_str());
  const double max_lag = std::atof(Arg(argc, argv, "max-lag", "5").c_str());
  const int rounds = std::atoi(Arg(argc, argv, "rounds", "10").c_str());

  Sql(primary_dsn,
      "CREATE TABLE IF NOT EXISTS pgre_lb_bench (id bigserial PRIMARY KEY, "
      "at timestamptz DEFAULT now())");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) {
      try {
        Sql(primary_dsn, "INSERT INTO pgre_lb_bench DEFAULT VALUES");
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  ReadLoadOptions o;
  o.dsn = read_dsn;
  o.connections = 2;
  o.pause = std::chrono::milliseconds(10);
  ReadLoad load(o, Clock::Real());
  // Wall time of a read: the mono clock's offset taken once.
  const MonoTime mono0 = Clock::Real()->Now();
  const double wall0 = WallSeconds();
  auto wall_of = [&](MonoTime t) { return wall0 + ToSeconds(t - mono0); };

  std::vector<double> drains;
  int status = 0;
  for (int round = 1; round <= rounds; ++round) {
    if (!TakesReads(load, port, 120)) {
      std::fprintf(stderr, "round %d: the replica takes no reads\n", round);
      status = 1;
      break;
    }
    const std::size_t from = load.Count();
    Sql(replica_dsn, "SELECT pg_wal_replay_pause()");
    // Its last replayed commit, once replay has stopped.
    std::string last;
    for (int i = 0; i < 100; ++i) {
      if (Sql(replica_dsn, "SELECT pg_get_wal_replay_pause_state()") ==
          "paused") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    last = Sql(replica_dsn,
               "SELECT extract(epoch FROM pg_last_xact_replay_timestamp())");
    const double crossing = std::atof(last.c_str()) + max_lag;
    // Drained: no read on it for 3 s, well past the crossing.
    double last_read = 0;
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (const ReadSample& r : load.Samples(from)) {
        if (r.ok && r.port == port)
          last_read = std::max(last_read, wall_of(r.at));
      }
      const double now = WallSeconds();
      if (now > crossing && now - std::max(last_read, crossing) > 3) break;
      if (now > crossing + 120) break;
    }
    const double drain = last_read - crossing;
    drains.push_back(drain);
    std::printf("round %d: last read %.2f s after the lag crossed %.0f s\n",
                round, drain, max_lag);
    std::fflush(stdout);
    Sql(replica_dsn, "SELECT pg_wal_replay_resume()");
  }
  stop = true;
  writer.join();
  load.Stop();
  if (!drains.empty()) {
    std::sort(drains.begin(), drains.end());
    const std::size_t n = drains.size();
    const double median =
        n % 2 ? drains[n / 2] : (drains[n / 2 - 1] + drains[n / 2]) / 2;
    std::printf(
        "drain: median %.2f s, worst %.2f s, best %.2f s (%zu rounds)\n",
        median, drains.back(), drains.front(), n);
  }
  return status;
}

}  // namespace
}  // namespace pgre

int main(int argc, char** argv) {
  try {
    return pgre::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pgre_lb_bench: %s\n", e.what());
    return 2;
  }
}
