// The TestCluster fixture itself: replicas stream, and each failure knob
// (paused replay, stopped server, cut WAL receiver) has the effect tests rely
// on.
#include "support/cluster.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <chrono>
#include <string>

#include "common/lsn.h"
#include "support/subprocess.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::seconds;

Lsn ParseOrThrow(const std::string& text) {
  auto lsn = ParseLsn(text);
  if (!lsn) throw std::runtime_error("bad LSN: " + text);
  return *lsn;
}

Lsn ReplayLsn(TestCluster& c, int i) {
  return ParseOrThrow(c.Psql(i, "SELECT pg_last_wal_replay_lsn()"));
}

Lsn PrimaryLsn(TestCluster& c) {
  return ParseOrThrow(
      c.Psql(TestCluster::kPrimary, "SELECT pg_current_wal_lsn()"));
}

TEST_CASE(
    "cluster fixture: TestCluster starts a primary with streaming replicas",
    "[versions]") {
  TestCluster c;
  REQUIRE(c.replica_count() == 3);
  // The version the servers run is the fixture's, and the one the versions
  // tier asked for (so that tier cannot pass on the default version).
  const std::string version =
      c.Psql(TestCluster::kPrimary, "SHOW server_version_num");
  CHECK(version.substr(0, version.size() - 4) ==
        std::to_string(c.major_version()));
  if (const char* want = std::getenv("PGRE_PG_EXPECT_MAJOR")) {
    CHECK(std::to_string(c.major_version()) == want);
  }
  CHECK(c.WaitStreaming(seconds(1)));
  CHECK(c.Psql(TestCluster::kPrimary, "SELECT pg_is_in_recovery()") == "f");
  CHECK(c.Psql(TestCluster::kPrimary,
               "SELECT string_agg(application_name, ',' ORDER BY "
               "application_name) FROM pg_stat_replication") ==
        "replica1,replica2,replica3");
  for (int i = 0; i < c.replica_count(); ++i) {
    CHECK(c.Psql(i, "SELECT pg_is_in_recovery()") == "t");
    CHECK(c.ReplicaDsn(i).find("port=" + std::to_string(c.Port(i))) !=
          std::string::npos);
  }
  CHECK_THROWS_AS(c.Psql(0, "SELEC nonsense"), std::runtime_error);
  CHECK_THROWS_AS(c.Port(3), std::out_of_range);

  // Writes replicate.
  c.Write(10);
  const Lsn target = PrimaryLsn(c);
  CHECK(WaitUntil([&] { return ReplayLsn(c, 2) >= target; }, seconds(30)));
  CHECK(c.Psql(2, "SELECT count(*) >= 10 FROM pgre_test_writes") == "t");
}

TEST_CASE(
    "cluster fixture: TestCluster knobs: pause replay, stop/start, cut "
    "receiver",
    "[versions]") {
  TestCluster c({.replicas = 2, .password = "s3cret 'pw'"});
  CHECK(c.PrimaryDsn().find("user=monitor") != std::string::npos);
  std::string out;
  CHECK(RunCommand({"psql", "-XAtq", "-d", c.ReplicaDsn(0), "-c",
                    "SELECT pg_has_role('pg_monitor', 'member')"},
                   &out) == 0);
  CHECK(out == "t\n");
  CHECK(RunCommand({"psql", "-XAtq", "-d",
                    c.SuperuserDsn(0) + " user=monitor password=wrong", "-c",
                    "SELECT 1"},
                   &out) != 0);

  // One cluster for all knobs (each restores the state it changed).
  {
    INFO("paused replay stops the replay LSN while the primary advances");
    c.PauseReplay(0);
    const Lsn paused_at = ReplayLsn(c, 0);
    const Lsn before = PrimaryLsn(c);
    c.Write(1000);
    const Lsn after = PrimaryLsn(c);
    CHECK(after > before);
    // Replica 2 catches up; replica 1 stays put.
    REQUIRE(WaitUntil([&] { return ReplayLsn(c, 1) >= after; }, seconds(30)));
    CHECK(ReplayLsn(c, 0) == paused_at);
    c.ResumeReplay(0);
    CHECK(WaitUntil([&] { return ReplayLsn(c, 0) >= after; }, seconds(30)));
  }

  {
    INFO("a stopped replica refuses connections and comes back");
    c.Stop(1);
    CHECK_THROWS(c.Psql(1, "SELECT 1"));
    CHECK_FALSE(c.WaitStreaming(std::chrono::milliseconds(0)));
    c.Start(1);
    CHECK(c.Psql(1, "SELECT 1") == "1");
    CHECK(c.WaitStreaming(seconds(30)));
  }

  {
    INFO("a cut WAL receiver stops streaming until restored");
    c.CutWalReceiver(0);
    CHECK(c.Psql(TestCluster::kPrimary,
                 "SELECT count(*) FROM pg_stat_replication WHERE "
                 "application_name = 'replica1'") == "0");
    c.Write(100);
    const Lsn after = PrimaryLsn(c);
    REQUIRE(WaitUntil([&] { return ReplayLsn(c, 1) >= after; }, seconds(30)));
    CHECK(ReplayLsn(c, 0) < after);
    c.RestoreWalReceiver(0);
    CHECK(WaitUntil([&] { return ReplayLsn(c, 0) >= after; }, seconds(30)));
  }

  {
    INFO("a SIGSTOPped server hangs and recovers on SIGCONT");
    c.SigStop(0);
    CHECK(
        RunCommand({"psql", "-XAtq", "-d",
                    c.SuperuserDsn(0) + " connect_timeout=2", "-c", "SELECT 1"},
                   &out) != 0);
    c.SigCont(0);
    CHECK(c.Psql(0, "SELECT 1") == "1");
  }
}

}  // namespace
}  // namespace pgre::testing
