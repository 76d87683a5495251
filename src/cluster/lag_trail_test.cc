#include "cluster/lag_trail.h"

#include <catch2/catch.hpp>

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The start of a bucket of 5 s, so that offsets below say which bucket.
MonoTime T0() { return MonoTime(seconds(1000)); }

TEST_CASE("a lag trail keeps the highest lag of each bucket", "[lag_trail]") {
  LagTrail trail({seconds(5), 4});
  CHECK(trail.Points().empty());
  CHECK(trail.Record(T0(), 0.5));
  CHECK(trail.Record(T0() + seconds(1), 2.0));
  // Lower in the same bucket: nothing changes.
  CHECK_FALSE(trail.Record(T0() + seconds(2), 1.0));
  CHECK_FALSE(trail.Record(T0() + seconds(3), std::nullopt));
  CHECK(trail.Points() == LagTrailPoints{2.0});
  CHECK(trail.Record(T0() + seconds(5), std::nullopt));
  CHECK(trail.Points() == LagTrailPoints{2.0, std::nullopt});
  // A value later in a bucket that had none so far.
  CHECK(trail.Record(T0() + seconds(6), 3.0));
  CHECK(trail.Points() == LagTrailPoints{2.0, 3.0});
}

TEST_CASE("a lag trail marks buckets without a poll and stays bounded",
          "[lag_trail]") {
  LagTrail trail({seconds(5), 4});
  trail.Record(T0(), 1.0);
  trail.Record(T0() + seconds(10), 2.0);  // bucket 1 had no poll
  CHECK(trail.Points() == LagTrailPoints{1.0, std::nullopt, 2.0});
  trail.Record(T0() + seconds(15), 3.0);
  trail.Record(T0() + seconds(20), 4.0);
  CHECK(trail.Points() == LagTrailPoints{std::nullopt, 2.0, 3.0, 4.0});
  // A long silence: never more points than the limit.
  trail.Record(T0() + seconds(3600), 5.0);
  CHECK(trail.Points() ==
        LagTrailPoints{std::nullopt, std::nullopt, std::nullopt, 5.0});
  for (int i = 0; i < 1000; ++i) {
    trail.Record(T0() + seconds(3600) + milliseconds(500 * i), i * 0.01);
  }
  CHECK(trail.Points().size() == 4);
  CHECK(trail.Points().back() == Approx(9.99));
}

TEST_CASE("a lag trail takes an earlier time as the latest bucket",
          "[lag_trail]") {
  LagTrail trail({seconds(5), 3});
  trail.Record(T0() + seconds(7), 1.0);
  CHECK(trail.Record(T0(), 4.0));
  CHECK(trail.Points() == LagTrailPoints{4.0});
  CHECK(trail.limits().span() == seconds(15));
}

}  // namespace
}  // namespace pgre
