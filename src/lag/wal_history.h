// WalHistory: the lag arithmetic. Pure: no I/O, no clock of its own; every
// time is the agent's monotonic clock, passed in by the caller.
//
// The agent records when it first observed each new WAL position of the
// primary. A replica that has replayed up to R is behind by
//
//   lag(R, at) = at - (earliest observation whose LSN > R)
//
// and 0 when no observation is past R (it has replayed all the primary had,
// as far as the agent has seen). Hence:
//  - an idle primary never inflates the figure (no new LSN, nothing past R,
//    and nothing new is stored while the LSN does not move);
//  - it keeps growing while replay is paused or the WAL receiver is cut and
//    the primary keeps writing (R stays, the observation time stays);
//  - no host's clock enters it (only the agent's monotonic clock);
//  - its resolution is the primary's poll interval.
//
// Lower bounds. When R is older than the oldest entry, the primary passed R
// at some unknown time before that entry was observed: the figure is then
// the age of the oldest entry and `lower_bound` is set (the true lag is at
// least that). This is what a replica reads that was already behind when
// the history began (agent start without a state file) or that fell behind
// further than the history reaches (see the bounds below).
//
// Bounds. The history never holds more than `max_entries` entries: past
// that, entries are thinned so that the resolution stays proportional to
// age (the gap an entry leaves is at most its age / k, k as large as the
// bound allows: about 1/500 with the defaults and 1 s polls over a day), so
// recent positions keep the poll interval's resolution and the reach is
// kept. Entries older than `max_age` are dropped when a newer one is
// stored. Memory is at most 16 bytes x max_entries (64 KiB by default)
// whatever the write rate.
//
// Thread safety: not thread-safe; callers serialize.
#ifndef PGRE_LAG_WAL_HISTORY_H_
#define PGRE_LAG_WAL_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/lsn.h"

namespace pgre {

struct WalHistoryLimits {
  std::size_t max_entries = 4096;             // >= 4
  Duration max_age = std::chrono::hours(24);  // > 0
};

// One observation: the primary was first seen at `lsn` at `at`.
struct WalEntry {
  MonoTime at;
  Lsn lsn;
  bool operator==(const WalEntry&) const = default;
};

// The lag of one replay position.
struct HistoryLag {
  Duration lag{0};
  // The replay position is older than the whole history: the true lag is
  // at least `lag`.
  bool lower_bound = false;
};

class WalHistory {
 public:
  explicit WalHistory(WalHistoryLimits limits = {});

  // Records the primary's WAL position as observed at `at`. A position that
  // does not advance is ignored (idle primary). A position below the last
  // recorded one means a different WAL history (a restored or replaced
  // primary): the history restarts with `lsn` as its first entry.
  // REQUIRES: `at` not earlier than the previous call's.
  void Observe(MonoTime at, Lsn lsn);

  // Lag of a replica that had replayed `replay` when observed at `at`.
  // Returns nullopt when nothing was ever observed. The lag is 0 when no
  // observation at or before `at` is past `replay`; never negative.
  std::optional<HistoryLag> LagAt(Lsn replay, MonoTime at) const;

  // Drops entries no replica can need: those at or below `min_replay` (the
  // smallest replay position of every replica that may still report one),
  // keeping the latest such entry.
  void Prune(Lsn min_replay);

  // For a new primary whose WAL forked from the old one's at or after
  // `keep_upto`: drops every entry past it (positions the new primary's WAL
  // has not passed, or passed at another time).
  void Rebase(Lsn keep_upto);

  // The latest observed position and when it was first seen, if any.
  std::optional<Lsn> latest() const;
  std::optional<MonoTime> latest_at() const;
  std::size_t size() const { return entries_.size(); }
  const WalHistoryLimits& limits() const { return limits_; }

  // Every entry, oldest first (for the state file).
  std::vector<WalEntry> Entries() const;
  // Replaces the content with `entries` (oldest first). Entries that do
  // not strictly increase in both time and position are dropped, and the
  // bounds are applied as Observe would. For restoring a saved history.
  void Restore(const std::vector<WalEntry>& entries);

 private:
  void Thin();
  void Expire(MonoTime now);

  WalHistoryLimits limits_;
  std::deque<WalEntry> entries_;  // strictly increasing lsn and at
};

// Bytes by which a replica is behind: primary - replay, clamped at 0.
inline std::uint64_t LagBytes(Lsn primary, Lsn replay) {
  return primary > replay ? primary - replay : 0;
}

}  // namespace pgre

#endif  // PGRE_LAG_WAL_HISTORY_H_
