#include "common/clock.h"

namespace pgre {
namespace {

class RealClock : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
};

}  // namespace

const Clock* Clock::Real() {
  static const RealClock* clock = new RealClock();
  return clock;
}

}  // namespace pgre
