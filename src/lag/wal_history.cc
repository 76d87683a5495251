#include "lag/wal_history.h"

#include <algorithm>

namespace pgre {

WalHistory::WalHistory(WalHistoryLimits limits) : limits_(limits) {
  limits_.max_entries = std::max<std::size_t>(limits_.max_entries, 4);
  if (limits_.max_age <= Duration::zero()) limits_.max_age = Duration(1);
}

void WalHistory::Observe(MonoTime at, Lsn lsn) {
  if (!entries_.empty()) {
    const WalEntry& last = entries_.back();
    if (lsn == last.lsn) return;  // idle: nothing new
    if (lsn < last.lsn) {
      entries_.clear();  // another WAL history
    } else if (at <= last.at) {
      entries_.back().lsn = lsn;  // the same instant: one entry
      return;
    }
  }
  entries_.push_back(WalEntry{at, lsn});
  Expire(at);
  if (entries_.size() > limits_.max_entries) Thin();
}

std::optional<HistoryLag> WalHistory::LagAt(Lsn replay, MonoTime at) const {
  if (entries_.empty()) return std::nullopt;
  // First entry with lsn > replay (entries are sorted by lsn).
  auto it = std::upper_bound(
      entries_.begin(), entries_.end(), replay,
      [](Lsn value, const WalEntry& e) { return value < e.lsn; });
  if (it == entries_.end() || it->at > at) return HistoryLag{};
  HistoryLag out;
  out.lag = std::chrono::duration_cast<Duration>(at - it->at);
  out.lower_bound = it == entries_.begin();
  return out;
}

void WalHistory::Prune(Lsn min_replay) {
  // Keep the last entry at or below min_replay: it says when the primary
  // was first seen past positions just below it, and carries the current
  // position while the primary is idle.
  while (entries_.size() > 1 && entries_[1].lsn <= min_replay) {
    entries_.pop_front();
  }
}

void WalHistory::Rebase(Lsn keep_upto) {
  while (!entries_.empty() && entries_.back().lsn > keep_upto) {
    entries_.pop_back();
  }
}

std::optional<Lsn> WalHistory::latest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().lsn;
}

std::optional<MonoTime> WalHistory::latest_at() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().at;
}

std::vector<WalEntry> WalHistory::Entries() const {
  return {entries_.begin(), entries_.end()};
}

void WalHistory::Restore(const std::vector<WalEntry>& entries) {
  entries_.clear();
  for (const WalEntry& e : entries) {
    if (!entries_.empty() &&
        (e.lsn <= entries_.back().lsn || e.at <= entries_.back().at)) {
      continue;
    }
    entries_.push_back(e);
  }
  if (!entries_.empty()) Expire(entries_.back().at);
  while (entries_.size() > limits_.max_entries) Thin();
}

void WalHistory::Expire(MonoTime now) {
  // The newest entry always stays: it is the primary's current position.
  while (entries_.size() > 1 && now - entries_.front().at > limits_.max_age) {
    entries_.pop_front();
  }
}

void WalHistory::Thin() {
  // Keep the resolution proportional to age: an entry may go when the gap
  // it leaves (from the entry kept before it to the one after it) is at
  // most its age / k. Start with a fine k and coarsen until a quarter of
  // the bound is free, so that thinning is amortized over many Observes.
  // The oldest entry (the reach) and the newest (the position) always stay.
  const MonoTime now = entries_.back().at;
  const std::size_t target = limits_.max_entries - limits_.max_entries / 4;
  for (std::size_t k = limits_.max_entries; entries_.size() > target && k >= 1;
       k /= 2) {
    std::deque<WalEntry> kept;
    kept.push_back(entries_.front());
    for (std::size_t i = 1; i + 1 < entries_.size(); ++i) {
      const auto gap = entries_[i + 1].at - kept.back().at;
      const auto age = now - entries_[i].at;
      if (gap * static_cast<long long>(k) <= age) continue;
      kept.push_back(entries_[i]);
    }
    kept.push_back(entries_.back());
    entries_.swap(kept);
    if (k == 1) break;
  }
  // Past k = 1 nothing is left to drop without losing the age bound's
  // meaning; keep the newest entries.
  while (entries_.size() > target) entries_.erase(entries_.begin() + 1);
}

}  // namespace pgre
