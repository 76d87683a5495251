// Clock: the agent's notion of time, injectable so tests need no sleeps.
//
// Lag arithmetic uses only the monotonic clock (Now()), so a wall-clock step
// on the agent's host or skew between hosts never enters a lag figure.
// WallNow() is for timestamps that are published (e.g. last poll success).
//
// Thread safety: implementations must be safe to call from many threads.
#ifndef PGRE_COMMON_CLOCK_H_
#define PGRE_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>

namespace pgre {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time; never goes backwards.
  virtual MonoTime Now() const = 0;
  // Wall-clock time, for published timestamps only.
  virtual WallTime WallNow() const = 0;

  // The process-wide real clock. Never null; never deleted.
  static const Clock* Real();
};

// A manually advanced clock for tests. Starts at an arbitrary fixed point.
class FakeClock : public Clock {
 public:
  FakeClock() = default;
  MonoTime Now() const override {
    return MonoTime(std::chrono::nanoseconds(mono_ns_.load()));
  }
  WallTime WallNow() const override {
    return WallTime(std::chrono::nanoseconds(wall_ns_.load()));
  }
  void Advance(std::chrono::nanoseconds d) {
    mono_ns_ += d.count();
    wall_ns_ += d.count();
  }
  // Steps the wall clock only (simulates an NTP step); Now() is unaffected.
  void StepWall(std::chrono::nanoseconds d) { wall_ns_ += d.count(); }

 private:
  std::atomic<long long> mono_ns_{1'000'000'000'000LL};
  std::atomic<long long> wall_ns_{1'700'000'000'000'000'000LL};
};

// Seconds as a double, for publishing.
inline double ToSeconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}
inline double ToUnixSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace pgre

#endif  // PGRE_COMMON_CLOCK_H_
