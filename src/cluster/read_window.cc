#include "cluster/read_window.h"

#include <algorithm>

namespace pgre {

ReadWindow::ReadWindow(int servers, ReadWindowLimits limits)
    : limits_(limits), servers_(std::max(servers, 0)) {
  limits_.buckets = std::max(limits_.buckets, 1);
  limits_.span = std::max(limits_.span, Duration(limits_.buckets));
  width_ = limits_.span / limits_.buckets;
}

long long ReadWindow::BucketOf(MonoTime t) const {
  return t.time_since_epoch() / width_;
}

void ReadWindow::Record(MonoTime at, int server, std::uint64_t reads) {
  if (server < 0 || server >= servers_) return;
  const long long index = BucketOf(at);
  if (buckets_.empty() || buckets_.back().index < index) {
    buckets_.push_back(Bucket{index, std::vector<std::uint64_t>(servers_, 0)});
    while (buckets_.front().index <= index - limits_.buckets) {
      buckets_.pop_front();
    }
  }
  buckets_.back().reads[server] += reads;
}

std::vector<std::uint64_t> ReadWindow::Counts(MonoTime now) const {
  std::vector<std::uint64_t> counts(servers_, 0);
  const long long first = BucketOf(now) - limits_.buckets + 1;
  for (const Bucket& b : buckets_) {
    if (b.index < first) continue;
    for (int i = 0; i < servers_; ++i) counts[i] += b.reads[i];
  }
  return counts;
}

ReadWindow ReadWindow::Remapped(const std::vector<int>& old_of_new) const {
  ReadWindow out(static_cast<int>(old_of_new.size()), limits_);
  for (const Bucket& b : buckets_) {
    Bucket nb{b.index, std::vector<std::uint64_t>(old_of_new.size(), 0)};
    for (std::size_t j = 0; j < old_of_new.size(); ++j) {
      const int k = old_of_new[j];
      if (k >= 0 && k < servers_) nb.reads[j] = b.reads[k];
    }
    out.buckets_.push_back(std::move(nb));
  }
  return out;
}

}  // namespace pgre
