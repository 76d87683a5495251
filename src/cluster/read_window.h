// ReadWindow: how many reads the routing model sent to each server in the
// last `span` of the agent's monotonic clock, for the status page's share
// of reads. A share since start says 33 % for a replica that left the
// rotation an hour ago; the share of the last minute says 0 %.
//
// Counted in `buckets` buckets of span / buckets each: a count covers the
// bucket of `now` and the buckets before it within the span, so it reaches
// back between span - span / buckets and span (a minute in 5 s steps by
// default). Pure: the caller passes the times (ClusterState, from its
// injected Clock). Memory is bounded by `buckets` x servers.
//
// Thread safety: not thread-safe (ClusterState serializes its calls).
#ifndef PGRE_CLUSTER_READ_WINDOW_H_
#define PGRE_CLUSTER_READ_WINDOW_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "common/clock.h"

namespace pgre {

struct ReadWindowLimits {
  Duration span = std::chrono::minutes(1);
  int buckets = 12;
};

class ReadWindow {
 public:
  // `servers` counters. Limits are clamped: span >= buckets ms, buckets >= 1.
  explicit ReadWindow(int servers, ReadWindowLimits limits = {});

  // Counts `reads` reads routed to `server` at `at`. A time before the
  // latest bucket counts into the latest bucket. An out-of-range server is
  // ignored.
  void Record(MonoTime at, int server, std::uint64_t reads = 1);

  // The reads per server within the window that ends at `now`.
  std::vector<std::uint64_t> Counts(MonoTime now) const;

  Duration span() const { return limits_.span; }

  // The same window over another list of servers: server j of the new list
  // is server old_of_new[j] of this one (-1: a new server, no reads).
  ReadWindow Remapped(const std::vector<int>& old_of_new) const;

 private:
  long long BucketOf(MonoTime t) const;

  ReadWindowLimits limits_;
  Duration width_;
  int servers_;
  struct Bucket {
    long long index = 0;
    std::vector<std::uint64_t> reads;
  };
  std::deque<Bucket> buckets_;  // oldest first, increasing index
};

}  // namespace pgre

#endif  // PGRE_CLUSTER_READ_WINDOW_H_
