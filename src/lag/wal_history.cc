#include "lag/wal_history.h"

#include <algorithm>

namespace pgre {

WalHistory::WalHistory(std::size_t max_entries)
    : max_entries_(std::max<std::size_t>(max_entries, 4)) {}

void WalHistory::Observe(MonoTime at, Lsn lsn) {
  if (!entries_.empty()) {
    const Lsn last = entries_.back().lsn;
    if (lsn == last) return;           // idle: nothing new
    if (lsn < last) entries_.clear();  // a different primary; start over
  }
  entries_.push_back(Entry{at, lsn});
  if (entries_.size() > max_entries_) Thin();
}

std::optional<Duration> WalHistory::LagAt(Lsn replay, MonoTime at) const {
  if (entries_.empty()) return std::nullopt;
  // First entry with lsn > replay (entries are sorted by lsn).
  auto it =
      std::upper_bound(entries_.begin(), entries_.end(), replay,
                       [](Lsn value, const Entry& e) { return value < e.lsn; });
  if (it == entries_.end() || it->at > at) return Duration::zero();
  return std::chrono::duration_cast<Duration>(at - it->at);
}

void WalHistory::Prune(Lsn min_replay) {
  // Keep the last entry at or below min_replay only while it is the newest:
  // it carries the current position when the primary is idle.
  while (entries_.size() > 1 && entries_[1].lsn <= min_replay) {
    entries_.pop_front();
  }
}

std::optional<Lsn> WalHistory::latest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().lsn;
}

void WalHistory::Thin() {
  // Drop every other entry of the older half, keeping the very first entry
  // (the oldest point past any stalled replica) and the newer half intact.
  const std::size_t half = entries_.size() / 2;
  std::deque<Entry> kept;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (i < half && i % 2 == 1) continue;
    kept.push_back(entries_[i]);
  }
  entries_.swap(kept);
}

}  // namespace pgre
