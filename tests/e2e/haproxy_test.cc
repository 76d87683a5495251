// The agent as the read router's brain: Debian's real HAProxy running the
// shipped config/haproxy.cfg (support/haproxy.h) in front of a real primary
// and three streaming replicas, every server checked through the agent's
// /lb/ checks, and real client connections through HAProxy's ports (a new
// connection per read; inet_server_port() tells where it landed,
// load/read_load.h).
//
// Bounds. The agent polls every 500 ms and checks health every 500 ms with
// fall 2 / rise 2 (AgentOptions' quick routing), routing.max_lag 3s. The
// shipped file checks every second: the read pool with fall 2 / rise 1,
// the write pool with fall 3 / rise 1 (ShippedTimings() checks the file
// still says so). So a replica whose lag crosses max_lag at T gets no new
// read after
//   T + poll (0.5 s) + fall x health interval (1 s)
//     + HAProxy's fall x inter (2 s)                       = T + 3.5 s,
// and, the machine being shared, the tests allow kSlack more.
#include "support/haproxy.h"

#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "load/read_load.h"
#include "support/agent.h"
#include "support/cluster.h"
#include "support/subprocess.h"
#include "support/wait.h"
#include "support/writer.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr double kMaxLag = 3.0;  // routing.max_lag of these tests
constexpr double kPoll = 0.5, kHealth = 0.5;
constexpr int kFall = 2;
constexpr double kReadsDown = 2 * 1.0;   // the read pool's fall x inter
constexpr double kWritesDown = 3 * 1.0;  // the write pool's fall x inter
constexpr double kSlack = 2.5;           // a loaded 2-core machine

const std::vector<std::string> kReplicas = {"replica1", "replica2", "replica3"};

double Since(MonoTime t) { return ToSeconds(Clock::Real()->Now() - t); }

// The agent, HAProxy in front of the cluster, and the names of where reads
// land.
struct Rig {
  explicit Rig(TestCluster& c) : cluster(c), agent(c, Options()) {
    haproxy = std::make_unique<TestHaproxy>(cluster, "main", agent.port());
    servers.push_back(
        {"primary", "127.0.0.1", cluster.Port(TestCluster::kPrimary), true});
    for (int i = 0; i < cluster.replica_count(); ++i) {
      servers.push_back(
          {cluster.ReplicaName(i), "127.0.0.1", cluster.Port(i), false});
    }
    // HAProxy has checked every server once the pools are as the agent says.
    REQUIRE(WaitUntil(
        [&] {
          return haproxy->UpServers("reads") == "replica1,replica2,replica3" &&
                 haproxy->UpServers("writes") == "primary";
        },
        seconds(30), milliseconds(100)));
  }

  static AgentOptions Options() {
    AgentOptions o;
    o.cluster_name = "main";
    o.routing["max_lag"] = "3s";
    return o;
  }

  // Starts reads through the read pool: two readers, 10 ms apart (about
  // 150 reads a second here), so that the machine is not saturated.
  void StartReads() {
    ReadLoadOptions o;
    o.dsn = haproxy->ReadDsn();
    o.connections = 2;
    o.pause = milliseconds(10);
    load = std::make_unique<ReadLoad>(o, Clock::Real());
  }

  // Where the reads from sample `from` on landed: server name -> reads
  // ("" for failed reads).
  std::map<std::string, int> Landed(std::size_t from) const {
    std::map<std::string, int> out;
    for (const ReadSample& r : load->Samples(from)) {
      ++out[ServerOfRead(r, servers)];
    }
    return out;
  }

  // Waits until the next `n` reads after now all land on servers of
  // `allowed` (and none fails); true when that happened within `timeout`.
  bool OnlyOn(const std::vector<std::string>& allowed, int n,
              seconds timeout) const {
    return WaitUntil(
        [&] {
          const std::vector<ReadSample> all = load->Samples();
          if (all.size() < static_cast<std::size_t>(n)) return false;
          for (std::size_t k = all.size() - n; k < all.size(); ++k) {
            const std::string s = ServerOfRead(all[k], servers);
            if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
              return false;
            }
          }
          return true;
        },
        timeout, milliseconds(100));
  }

  // The last read that landed on `server` (seconds since `start`), or
  // nullopt.
  std::optional<double> LastRead(const std::string& server,
                                 MonoTime start) const {
    std::optional<double> last;
    for (const ReadSample& r : load->Samples()) {
      if (ServerOfRead(r, servers) == server) {
        last = std::max(last.value_or(-1e9), ToSeconds(r.at - start));
      }
    }
    return last;
  }

  TestCluster& cluster;
  AgentProcess agent;
  std::unique_ptr<TestHaproxy> haproxy;
  std::vector<LoadServer> servers;
  std::unique_ptr<ReadLoad> load;
};

// One write through the write pool: the port of the server that took it,
// or the error.
struct WriteResult {
  int port = 0;
  std::string error;
};
WriteResult WriteThrough(const std::string& dsn) {
  WriteResult w;
  PGconn* conn = PQconnectdb((dsn + " connect_timeout=2").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    w.error = PQerrorMessage(conn);
    PQfinish(conn);
    return w;
  }
  PGresult* r = PQexec(conn,
                       "INSERT INTO pgre_test_writes (payload) VALUES ('lb') "
                       "RETURNING inet_server_port()");
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
    w.port = std::atoi(PQgetvalue(r, 0, 0));
  } else {
    w.error = PQerrorMessage(conn);
  }
  PQclear(r);
  PQfinish(conn);
  return w;
}

std::string Describe(const std::map<std::string, int>& landed) {
  std::string out;
  for (const auto& [s, n] : landed) {
    out += (s.empty() ? "(failed)" : s) + "=" + std::to_string(n) + " ";
  }
  return out;
}

TEST_CASE(
    "haproxy: the shipped file is valid, names the example config's servers "
    "and has the timings the bounds assume",
    "[haproxy]") {
  const std::string shipped =
      ReadFileOrEmpty(std::string(PGRE_SOURCE_DIR) + "/config/haproxy.cfg");
  CHECK(shipped.find("uri-lf /lb/default/%[srv_name]/read-only") !=
        std::string::npos);
  CHECK(shipped.find("uri-lf /lb/default/%[srv_name]/primary") !=
        std::string::npos);
  CHECK(shipped.find("check addr 127.0.0.1 port 9856 inter 1s fall 2 rise 1 "
                     "on-marked-down shutdown-sessions") != std::string::npos);
  CHECK(shipped.find("check addr 127.0.0.1 port 9856 inter 1s fall 3 rise 1 "
                     "on-marked-down shutdown-sessions") != std::string::npos);
  // Its servers and cluster are config/pg_replica_exporter.yml's.
  std::string error;
  const std::optional<Config> example = LoadConfigFile(
      std::string(PGRE_SOURCE_DIR) + "/config/pg_replica_exporter.yml", &error);
  REQUIRE(example);
  CHECK(shipped.find("/lb/" + example->cluster + "/") != std::string::npos);
  for (const char* pool : {"writes", "reads"}) {
    const std::size_t at = shipped.find(std::string("listen ") + pool);
    REQUIRE(at != std::string::npos);
    const std::size_t end = shipped.find("\nlisten ", at + 1);
    const std::string section = shipped.substr(at, end - at);
    for (const ServerConfig& s : AllServers(*example)) {
      INFO(pool << ": " << s.name);
      CHECK(section.find("  server " + s.name + " " + s.host + ":" +
                         std::to_string(s.port)) != std::string::npos);
    }
  }
  std::string out;
  CHECK(RunCommand({"haproxy", "-c", "-f",
                    std::string(PGRE_SOURCE_DIR) + "/config/haproxy.cfg"},
                   &out) == 0);
  INFO(out);
}

TEST_CASE("haproxy: reads spread over the replicas, writes on the primary",
          "[haproxy]") {
  TestCluster cluster;
  Rig rig(cluster);
  rig.StartReads();
  REQUIRE(WaitUntil([&] { return rig.load->Count() >= 600; }, seconds(60)));
  rig.load->Stop();
  const std::map<std::string, int> landed = rig.Landed(0);
  INFO(Describe(landed));
  CHECK(landed.count("") == 0);         // no read failed
  CHECK(landed.count("primary") == 0);  // none on the primary
  int total = 0;
  for (const auto& [s, n] : landed) total += n;
  for (const std::string& r : kReplicas) {
    INFO(r);
    // Round-robin: a third each (HAProxy's rotation is per connection).
    CHECK(landed.count(r) == 1);
    CHECK(std::abs(double(landed.at(r)) / total - 1.0 / 3) < 0.05);
  }
  for (int i = 0; i < 5; ++i) {
    const WriteResult w = WriteThrough(rig.haproxy->WriteDsn());
    INFO(w.error);
    CHECK(w.port == cluster.Port(TestCluster::kPrimary));
  }
}

TEST_CASE(
    "haproxy: a replica whose lag passes max_lag gets no new reads, and "
    "returns after catching up",
    "[haproxy]") {
  TestCluster cluster;
  BackgroundWriter writer(cluster);
  Rig rig(cluster);
  rig.StartReads();
  REQUIRE(rig.OnlyOn(kReplicas, 200, seconds(30)));
  const MonoTime start = Clock::Real()->Now();
  cluster.PauseReplay(1);  // replica2
  const double paused = Since(start);
  // Its lag passes max_lag at most max_lag after it stopped replaying,
  // and not before max_lag after the pause was asked for (writes every
  // 150 ms keep the WAL moving).
  const double crossed_max = paused + kMaxLag;
  const double crossed_min = kMaxLag - 0.2;
  const double bound = kPoll + kFall * kHealth + kReadsDown;
  REQUIRE(WaitUntil(
      [&] {
        auto last = rig.LastRead("replica2", start);
        return last && Since(start) > *last + 2.0;  // no read for 2 s
      },
      seconds(static_cast<int>(kMaxLag + bound + kSlack + 10))));
  const double last = *rig.LastRead("replica2", start);
  std::printf(
      "figure haproxy.paused_replica_last_read_after_crossing %.2f s "
      "(crossing in [%.2f, %.2f] s, bound %.1f s)\n",
      last - crossed_max, crossed_min, crossed_max, bound);
  CHECK(last >= crossed_min);  // not before its lag passed max_lag
  CHECK(last <= crossed_max + bound + kSlack);
  // The others kept taking reads, none failed.
  CHECK(rig.OnlyOn({"replica1", "replica3"}, 100, seconds(10)));
  CHECK(WaitUntil(
      [&] { return rig.haproxy->UpServers("reads") == "replica1,replica3"; },
      seconds(10)));
  CHECK(rig.haproxy->UpServers("reads") == "replica1,replica3");

  // Replay resumed: it catches up, passes rise checks, and HAProxy's next
  // check takes it back.
  const MonoTime resumed = Clock::Real()->Now();
  cluster.ResumeReplay(1);
  REQUIRE(WaitUntil(
      [&] {
        for (const ReadSample& r : rig.load->Samples()) {
          if (r.at > resumed && ServerOfRead(r, rig.servers) == "replica2") {
            return true;
          }
        }
        return false;
      },
      seconds(30)));
  std::printf("figure haproxy.resumed_replica_back_after %.2f s\n",
              Since(resumed));
  CHECK(WaitUntil(
      [&] {
        return rig.haproxy->UpServers("reads") == "replica1,replica2,replica3";
      },
      seconds(10)));
  CHECK(rig.haproxy->UpServers("reads") == "replica1,replica2,replica3");
}

TEST_CASE(
    "haproxy: every replica stopped, reads land on the primary, back, "
    "they leave it",
    "[haproxy]") {
  TestCluster cluster;
  Rig rig(cluster);
  rig.StartReads();
  REQUIRE(rig.OnlyOn(kReplicas, 100, seconds(30)));
  const MonoTime stopped = Clock::Real()->Now();
  for (int i = 0; i < 3; ++i) cluster.Stop(i);
  // The agent: down after fall checks, reads fail over to the primary, whose
  // read-only check then passes; HAProxy: the primary up after one check.
  REQUIRE(rig.OnlyOn({"primary"}, 100, seconds(30)));
  std::printf("figure haproxy.reads_on_primary_after_replicas_stopped %.2f s\n",
              Since(stopped));
  // Reads to a stopped replica are redispatched at once; HAProxy marks it
  // down only after `fall` failed checks: its view may trail the reads.
  CHECK(WaitUntil([&] { return rig.haproxy->UpServers("reads") == "primary"; },
                  seconds(10)));
  CHECK(rig.haproxy->UpServers("reads") == "primary");
  CHECK(WaitUntil([&] { return rig.haproxy->UpServers("writes") == "primary"; },
                  seconds(10)));
  CHECK(rig.haproxy->UpServers("writes") == "primary");

  const MonoTime started = Clock::Real()->Now();
  for (int i = 0; i < 3; ++i) cluster.Start(i);
  REQUIRE(cluster.WaitStreaming(seconds(60)));
  REQUIRE(rig.OnlyOn(kReplicas, 100, seconds(60)));
  std::printf("figure haproxy.reads_left_primary_after_replicas_back %.2f s\n",
              Since(started));
  CHECK(WaitUntil(
      [&] {
        return rig.haproxy->UpServers("reads") == "replica1,replica2,replica3";
      },
      seconds(10)));
  CHECK(rig.haproxy->UpServers("reads") == "replica1,replica2,replica3");
}

TEST_CASE("haproxy: after a promotion, writes land on the new primary",
          "[haproxy]") {
  TestCluster cluster;
  Rig rig(cluster);
  cluster.Stop(TestCluster::kPrimary);
  const MonoTime promoted_at = Clock::Real()->Now();
  cluster.Promote(0);  // replica1
  const double promote_took = Since(promoted_at);
  const MonoTime promoted = Clock::Real()->Now();
  // The agent names it at its next poll; HAProxy's next check (rise 1)
  // takes it into the write pool.
  const double bound = kPoll + 1.0;
  WriteResult w;
  REQUIRE(WaitUntil(
      [&] {
        w = WriteThrough(rig.haproxy->WriteDsn());
        return w.port == cluster.Port(0);
      },
      seconds(30), milliseconds(100)));
  const double took = Since(promoted);
  std::printf(
      "figure haproxy.writes_on_new_primary_after %.2f s (promote "
      "took %.2f s, bound %.1f s)\n",
      took, promote_took, bound);
  CHECK(took <= bound + kSlack);
  // The stopped one leaves the pool after the pool's fall checks; until
  // then a write HAProxy sends to it is refused and redispatched.
  CHECK(WaitUntil(
      [&] { return rig.haproxy->UpServers("writes") == "replica1"; },
      seconds(static_cast<int>(kWritesDown + kSlack + 1)), milliseconds(100)));
}

TEST_CASE("haproxy: during a split brain the write pool has no server",
          "[haproxy]") {
  TestCluster cluster;
  Rig rig(cluster);
  REQUIRE(WriteThrough(rig.haproxy->WriteDsn()).port ==
          cluster.Port(TestCluster::kPrimary));
  const MonoTime promoted = Clock::Real()->Now();
  cluster.Promote(0);  // while the primary runs: two primaries
  const double bound = kPoll + kWritesDown;
  REQUIRE(WaitUntil([&] { return rig.haproxy->UpServers("writes").empty(); },
                    seconds(30), milliseconds(100)));
  const double took = Since(promoted);
  std::printf(
      "figure haproxy.write_pool_empty_after_split_brain %.2f s "
      "(bound %.1f s)\n",
      took, bound);
  CHECK(took <= bound + kSlack);
  const WriteResult w = WriteThrough(rig.haproxy->WriteDsn());
  CHECK(w.port == 0);  // refused: no server to write to
  // And the agent says why, for every server.
  for (const char* server : {"primary", "replica1", "replica2"}) {
    const JsonAnswer a =
        rig.agent.GetJson(std::string("/lb/main/") + server + "/primary");
    CHECK(a.status == 503);
    CHECK(a.body["reason"] == "split brain: 2 servers claim primary");
  }
}

TEST_CASE(
    "haproxy: with the agent stopped, reads go to the backup primary and "
    "writes stop",
    "[haproxy]") {
  TestCluster cluster;
  Rig rig(cluster);
  rig.StartReads();
  REQUIRE(rig.OnlyOn(kReplicas, 100, seconds(30)));
  rig.agent.process().Stop();
  // Every check fails: each pool's servers go down; the read pool's backup
  // (the configured primary, unchecked) takes the reads.
  REQUIRE(rig.OnlyOn({"primary"}, 100, seconds(30)));
  CHECK(rig.haproxy->UpServers("reads").empty());
  CHECK(rig.haproxy->States("reads").at("primary-direct") == "no check");
  REQUIRE(WaitUntil([&] { return rig.haproxy->UpServers("writes").empty(); },
                    seconds(30), milliseconds(100)));
  CHECK(WriteThrough(rig.haproxy->WriteDsn()).port == 0);
}

// route-check --through: the load mode against HAProxy's read pool.
struct RouteCheckRun {
  int status = -1;
  std::string output;
};
RouteCheckRun LoadCheck(const AgentProcess& agent, const std::string& dsn,
                        const std::string& duration) {
  RouteCheckRun run;
  run.status = RunCommand(
      {PGRE_BINARY, "--config.file=" + agent.config_path(), "route-check",
       "--through=" + dsn, "--duration=" + duration, "--connections=2"},
      &run.output);
  return run;
}

// The READS column of a server's line of the load report, or -1.
int ReadsOf(const std::string& report, const std::string& server) {
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, role;
    int reads = -1;
    if (words >> name >> role >> reads && name == server) return reads;
  }
  return -1;
}

TEST_CASE("route-check --through: the distribution HAProxy really makes",
          "[haproxy][route-check]") {
  TestCluster cluster;
  BackgroundWriter writer(cluster);
  Rig rig(cluster);

  SECTION("steady: every replica a third, exit 0") {
    const RouteCheckRun run =
        LoadCheck(rig.agent, rig.haproxy->ReadDsn(), "4s");
    INFO(run.output);
    CHECK(run.status == 0);
    CHECK(run.output.find("route-check: OK") != std::string::npos);
    CHECK(ReadsOf(run.output, "primary") == 0);
    for (const std::string& r : kReplicas) CHECK(ReadsOf(run.output, r) > 50);
    CHECK(run.output.find("failed: 0") != std::string::npos);
  }
  SECTION("a replica paused during the run: when it left, and back") {
    std::thread pause([&] {
      // Pacing of the scenario inside route-check's window, not a wait for
      // a condition.
      std::this_thread::sleep_for(seconds(1));
      cluster.PauseReplay(1);
      std::this_thread::sleep_for(seconds(7));
      cluster.ResumeReplay(1);
    });
    const RouteCheckRun run =
        LoadCheck(rig.agent, rig.haproxy->ReadDsn(), "13s");
    pause.join();
    INFO(run.output);
    // It left the agent's rotation: not starved. HAProxy's
    // on-marked-down shutdown-sessions ends a read in flight on it, at most
    // one per reader (and route-check then says so, exit 1).
    const std::size_t at = run.output.find("failed: ");
    REQUIRE(at != std::string::npos);
    const int failed = std::atoi(run.output.c_str() + at + 8);
    CHECK(failed <= 2);
    CHECK(run.status == (failed == 0 ? 0 : 1));
    CHECK(run.output.find("replica2: left at ") != std::string::npos);
    CHECK(run.output.find(", rejoined at ") != std::string::npos);
    CHECK(run.output.find("agent: replica2 left the rotation at ") !=
          std::string::npos);
    CHECK(run.output.find("agent: replica2 entered the rotation at ") !=
          std::string::npos);
  }
  SECTION("an endpoint that bypasses the replicas: exit 1, naming them") {
    const RouteCheckRun run =
        LoadCheck(rig.agent, cluster.SuperuserDsn(TestCluster::kPrimary), "2s");
    INFO(run.output);
    CHECK(run.status == 1);
    for (const std::string& r : kReplicas) {
      CHECK(run.output.find("replica " + r +
                            " was in the agent's rotation throughout but got "
                            "no read") != std::string::npos);
    }
  }
  SECTION("reads that fail: exit 1") {
    const RouteCheckRun run = LoadCheck(
        rig.agent, "host=127.0.0.1 port=1 dbname=postgres user=postgres", "1s");
    INFO(run.output);
    CHECK(run.status == 1);
    CHECK(run.output.find("first error: ") != std::string::npos);
  }
}

}  // namespace
}  // namespace pgre::testing
