// BackgroundWriter: keeps the current primary's WAL position moving, for
// tests that need a primary under writes (lag under paused replay, a cut
// WAL receiver, a promotion).
#ifndef PGRE_TESTS_SUPPORT_WRITER_H_
#define PGRE_TESTS_SUPPORT_WRITER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stop_token>
#include <thread>

#include "support/cluster.h"

namespace pgre::testing {

// Writes `rows` rows to the cluster's current primary every ~150 ms on its
// own thread until destroyed. A failed write (the primary is down or being
// promoted) is counted and retried at the next tick.
// Thread safety: writes() and failures() may be called from any thread.
class BackgroundWriter {
 public:
  explicit BackgroundWriter(TestCluster& cluster, int rows = 200)
      : thread_([this, &cluster, rows](std::stop_token stop) {
          std::mutex mu;
          std::condition_variable_any cv;
          while (!stop.stop_requested()) {
            try {
              cluster.Write(rows);
              ++writes_;
            } catch (const std::exception&) {
              ++failures_;
            }
            // Pacing of the load, not a wait for a condition.
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, stop, std::chrono::milliseconds(150),
                        [] { return false; });
          }
        }) {}

  int writes() const { return writes_.load(); }
  int failures() const { return failures_.load(); }

 private:
  std::atomic<int> writes_{0};
  std::atomic<int> failures_{0};
  std::jthread thread_;  // last member: stopped and joined first
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_WRITER_H_
