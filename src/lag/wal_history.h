// WalHistory: the lag arithmetic. Pure: no I/O, no clock of its own; every
// time is the agent's monotonic clock, passed in by the caller.
//
// The agent records when it first observed each new WAL position of the
// primary. A replica that has replayed up to R is behind by
//
//   lag_seconds(R, at) = at - (earliest observation whose LSN > R)
//
// and 0 when no observation is past R (it has replayed all the primary had,
// as far as the agent has seen). Hence:
//  - an idle primary never inflates the figure (no new LSN, nothing past R);
//  - it keeps growing while replay is paused or the WAL receiver is cut and
//    the primary keeps writing (R stays, the observation time stays);
//  - no host's clock enters it (only the agent's monotonic clock);
//  - its resolution is the primary's poll interval.
// After the agent starts, the history begins with the first observation, so
// a replica already behind at start-up reads at most the time since then.
//
// Thread safety: not thread-safe; callers serialize.
#ifndef PGRE_LAG_WAL_HISTORY_H_
#define PGRE_LAG_WAL_HISTORY_H_

#include <cstddef>
#include <deque>
#include <optional>

#include "common/clock.h"
#include "common/lsn.h"

namespace pgre {

class WalHistory {
 public:
  // Keeps at most `max_entries` observations (a day of 1 s polls of a busy
  // primary by default, ~2 MiB); past that, every other entry of the older
  // half is dropped. The oldest entry is always kept, so a replica stalled
  // since then still reads its full lag; one stalled at a thinned position
  // reads up to one gap between kept entries too low.
  // REQUIRES: max_entries >= 4.
  explicit WalHistory(std::size_t max_entries = 86400);

  // Records the primary's WAL position as observed at `at`. Positions that
  // do not advance (idle primary, or an older position after a restore) are
  // ignored except to move a regression forward: if `lsn` is below the last
  // recorded position the history is reset (the primary was replaced), and
  // `lsn` becomes its first entry.
  // REQUIRES: `at` not earlier than the previous call's.
  void Observe(MonoTime at, Lsn lsn);

  // Lag of a replica that had replayed `replay` when observed at `at`.
  // Returns 0 when no observation at or before `at` is past `replay`;
  // nullopt when nothing was ever observed. Never negative.
  std::optional<Duration> LagAt(Lsn replay, MonoTime at) const;

  // Drops entries no replica can need: those at or below `min_replay`
  // (the smallest replay LSN any replica last reported), keeping the
  // latest such entry.
  void Prune(Lsn min_replay);

  // The latest observed position, if any.
  std::optional<Lsn> latest() const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    MonoTime at;
    Lsn lsn;
  };
  void Thin();

  std::size_t max_entries_;
  std::deque<Entry> entries_;  // strictly increasing lsn and at
};

// Bytes by which a replica is behind: primary - replay, clamped at 0.
inline std::uint64_t LagBytes(Lsn primary, Lsn replay) {
  return primary > replay ? primary - replay : 0;
}

}  // namespace pgre

#endif  // PGRE_LAG_WAL_HISTORY_H_
