// WaitUntil: how tests wait for something to happen. Never use fixed sleeps
// in a test; poll the observable condition with a deadline instead.
#ifndef PGRE_TESTS_SUPPORT_WAIT_H_
#define PGRE_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <exception>
#include <functional>
#include <thread>

namespace pgre::testing {

// Calls `cond` every `step` (real, monotonic time) until it returns true or
// `timeout` has elapsed. `cond` is always called at least once, and once more
// at the deadline.
// Returns true as soon as `cond` returns true; false if the deadline passed
// first. Exceptions thrown by `cond` propagate.
// Thread safety: reentrant; `cond` runs on the calling thread.
inline bool WaitUntil(
    const std::function<bool()>& cond, std::chrono::milliseconds timeout,
    std::chrono::milliseconds step = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (cond()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(step, deadline - now));
  }
}

// `cond()`, or false when it throws: for conditions a WaitUntil retries (a
// Prometheus API call that timed out on a loaded machine is not fatal).
template <typename F>
bool OrFalse(F cond) {
  try {
    return cond();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_WAIT_H_
