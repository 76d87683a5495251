#include "cluster/read_window.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The start of a bucket (5 s by default), so that offsets say which bucket.
MonoTime T0() { return MonoTime(seconds(1000)); }

using Counts = std::vector<std::uint64_t>;

TEST_CASE("a read window counts the reads of the last minute per server",
          "[read_window]") {
  struct Read {
    seconds at;
    int server;
  };
  struct Case {
    std::string what;
    std::vector<Read> reads;
    seconds now;
    Counts want;
  };
  // Three servers; one minute in 12 buckets of 5 s.
  const std::vector<Case> cases = {
      {"nothing yet", {}, seconds(0), {0, 0, 0}},
      {"reads of this bucket",
       {{seconds(0), 1}, {seconds(4), 1}},
       seconds(4),
       {0, 2, 0}},
      {"round-robin within the minute",
       {{seconds(0), 1}, {seconds(10), 2}, {seconds(20), 1}, {seconds(50), 2}},
       seconds(55),
       {0, 2, 2}},
      {"a read 59 s ago still counts (its bucket is the oldest kept)",
       {{seconds(1), 1}},
       seconds(59),
       {0, 1, 0}},
      {"a read in the first bucket has left 60 s later",
       {{seconds(0), 1}},
       seconds(60),
       {0, 0, 0}},
      {"left the rotation an hour ago: none now, the others take them",
       {{seconds(0), 1}, {seconds(0), 2}, {seconds(3600), 2}},
       seconds(3601),
       {0, 0, 1}},
      {"failover: the reads go to the primary",
       {{seconds(0), 1}, {seconds(30), 0}, {seconds(35), 0}},
       seconds(40),
       {2, 1, 0}},
      {"a time before the latest bucket counts into it",
       {{seconds(30), 1}, {seconds(2), 2}},
       seconds(30),
       {0, 1, 1}},
      {"out-of-range servers are ignored",
       {{seconds(0), -1}, {seconds(0), 3}, {seconds(0), 0}},
       seconds(0),
       {1, 0, 0}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    ReadWindow window(3);
    for (const Read& r : c.reads) window.Record(T0() + r.at, r.server);
    CHECK(window.Counts(T0() + c.now) == c.want);
  }
}

TEST_CASE("a read window stays bounded and takes counts", "[read_window]") {
  ReadWindow window(2, {seconds(10), 2});
  CHECK(window.span() == seconds(10));
  for (int i = 0; i < 10000; ++i) {
    window.Record(T0() + milliseconds(100 * i), i % 2, 3);
  }
  // The last 10 s of 1000 s: buckets [990, 995) and [995, 1000).
  CHECK(window.Counts(T0() + milliseconds(999'900)) == Counts{150, 150});
  // Clamped limits: one bucket at least, a span of at least 1 ms a bucket.
  ReadWindow tiny(1, {milliseconds(0), 0});
  tiny.Record(T0(), 0);
  CHECK(tiny.Counts(T0()) == Counts{1});
  CHECK(tiny.Counts(T0() + seconds(1)) == Counts{0});
}

}  // namespace
}  // namespace pgre
