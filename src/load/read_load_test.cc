#include "load/read_load.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

using std::chrono::milliseconds;

const std::vector<LoadServer> kServers = {
    {"primary", "10.0.0.1", 5432, true},
    {"replica1", "10.0.0.2", 5432, false},
    {"replica2", "127.0.0.1", 5433, false},
};

ReadSample Read(MonoTime start, double at, const std::string& address, int port,
                double ms = 2) {
  ReadSample s;
  s.at = start + std::chrono::duration_cast<MonoTime::duration>(
                     std::chrono::duration<double>(at));
  s.ok = true;
  s.address = address;
  s.port = port;
  s.seconds = ms / 1000;
  return s;
}

ReadSample Failed(MonoTime start, double at, const std::string& error) {
  ReadSample s = Read(start, at, "", 0);
  s.ok = false;
  s.error = error;
  return s;
}

TEST_CASE("a read's server: by port, and by address when ports are shared",
          "[load]") {
  const MonoTime t0{};
  struct Case {
    const char* address;
    int port;
    const char* server;
  };
  for (const Case& c : {
           Case{"10.0.0.1", 5432, "primary"},
           Case{"10.0.0.2", 5432, "replica1"},
           Case{"10.0.0.3", 5432, "10.0.0.3:5432"},  // shared port, no match
           Case{"::1", 5433, "replica2"},            // the only one on its port
           Case{"127.0.0.1", 6000, "127.0.0.1:6000"},
       }) {
    INFO(c.address << ":" << c.port);
    CHECK(ServerOfRead(Read(t0, 0, c.address, c.port), kServers) == c.server);
  }
  CHECK(ServerOfRead(Failed(t0, 0, "refused"), kServers).empty());
}

TEST_CASE("the load report: shares, latencies, absences, errors", "[load]") {
  const MonoTime t0{};
  std::vector<ReadSample> reads;
  // 10 s at 100 reads/s, round-robin over the two replicas; replica2 takes
  // none from 3 s to 6 s (replica1 takes all then); one failed read.
  for (int k = 0; k < 1000; ++k) {
    const double t = k * 0.01;
    const bool r2_out = t >= 3 && t < 6;
    const bool to_r2 = !r2_out && k % 2 == 1;
    reads.push_back(to_r2
                        ? Read(t0, t, "127.0.0.1", 5433, 3)
                        : Read(t0, t, "10.0.0.2", 5432, 1 + (k % 100) / 10.0));
  }
  reads.push_back(Failed(t0, 9.99, "connection refused"));
  const LoadReport r =
      BuildLoadReport(reads, kServers, t0, std::chrono::seconds(10));
  CHECK(r.total == 1001);
  CHECK(r.failed == 1);
  CHECK(r.first_error == "connection refused");
  REQUIRE(r.rows.size() == 3);
  CHECK(r.rows[0].server == "primary");
  CHECK(r.rows[0].reads == 0);
  CHECK(r.rows[0].absences.empty());  // never read: no absence, no first read
  CHECK_FALSE(r.rows[0].first_read);
  CHECK(r.rows[1].reads == 650);
  CHECK(r.rows[2].reads == 350);
  CHECK(r.rows[1].share == Approx(0.65));
  CHECK(r.rows[2].share == Approx(0.35));
  // Gap: max(0.5 s, 10 turns of 2 servers at 100 reads/s = 0.2 s).
  CHECK(r.gap_seconds == Approx(0.5));
  CHECK(r.rows[1].absences.empty());
  REQUIRE(r.rows[2].absences.size() == 1);
  CHECK(r.rows[2].absences[0].left == Approx(2.99).margin(0.011));
  REQUIRE(r.rows[2].absences[0].rejoined);
  CHECK(*r.rows[2].absences[0].rejoined == Approx(6.01).margin(0.011));
  CHECK(r.rows[2].p50_ms == Approx(3));
  CHECK(r.rows[2].p99_ms == Approx(3));
  CHECK(r.rows[1].p50_ms >= 1);
  CHECK(r.rows[1].p99_ms >= r.rows[1].p95_ms);
  CHECK(r.rows[1].p95_ms >= r.rows[1].p50_ms);
  const std::string text = FormatLoadReport(r);
  INFO(text);
  CHECK(text.find("replica2: left at 3.0s, rejoined at 6.0s") !=
        std::string::npos);
  CHECK(text.find("first error: connection refused") != std::string::npos);
}

TEST_CASE("the load report: a server that left for good, one that came late",
          "[load]") {
  const MonoTime t0{};
  std::vector<ReadSample> reads;
  for (int i = 0; i < 400; ++i) {
    const double t = i * 0.01;  // 4 s, 100/s
    const char* addr = i % 2 ? "10.0.0.2" : "127.0.0.1";
    const int port = i % 2 ? 5432 : 5433;
    if (t < 2 && i % 2 == 0) {
      reads.push_back(Read(t0, t, addr, port));  // replica2 until 2 s only
    } else if (i % 2 == 1) {
      reads.push_back(Read(t0, t, addr, port));
    }
    if (t >= 3 && i % 2 == 0) reads.push_back(Read(t0, t, "10.0.0.9", 6543));
  }
  const LoadReport r =
      BuildLoadReport(reads, kServers, t0, std::chrono::seconds(4));
  REQUIRE(r.rows.size() == 4);  // the unknown one appended
  CHECK(r.rows[3].server == "10.0.0.9:6543");
  REQUIRE(r.rows[2].absences.size() == 1);
  CHECK_FALSE(r.rows[2].absences[0].rejoined);
  const std::string text = FormatLoadReport(r);
  INFO(text);
  CHECK(text.find("replica2: left at 2.0s, not back") != std::string::npos);
  CHECK(text.find("10.0.0.9:6543: first read at 3.0s") != std::string::npos);
}

}  // namespace
}  // namespace pgre
