// LagState: what the agent keeps of a cluster across a restart or a reload,
// so that lag stays continuous: the primary's WAL history, which server was
// the primary on which timeline, and each server's last replay position.
// Encoded as a small JSON document (the state file, written atomically by
// state/state_file.h). Decoding and the checks before trusting it are pure.
//
// Identity: a state is only restored into the cluster it was saved from:
// the same cluster name, and the same PostgreSQL system identifier (which a
// primary and all its physical replicas share), checked at the first poll
// that reports one. Times are saved as the saving process's monotonic clock
// plus the kernel boot id; after a reboot they are carried over on the wall
// clock instead.
#ifndef PGRE_CLUSTER_LAG_STATE_H_
#define PGRE_CLUSTER_LAG_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "lag/wal_history.h"

namespace pgre {

struct LagState {
  static constexpr int kFormat = 1;
  std::string cluster;
  std::uint64_t system_identifier = 0;
  std::string primary;  // the adopted primary's name ("" if none observed)
  std::optional<std::int64_t> timeline;
  std::vector<WalEntry> entries;  // oldest first, on the saver's clock
  // Per server name: the last replay position seen while in recovery.
  std::map<std::string, Lsn> last_replay;
  // The saver's clocks at the time of saving.
  std::string boot_id;
  MonoTime saved_mono{};
  WallTime saved_wall{};
};

// JSON text. Never fails.
std::string EncodeLagState(const LagState& state);

// Parses EncodeLagState's output. Returns nullopt and sets *error (one line,
// e.g. "not JSON at byte 12", "format 7 is not 1", "entries[3]: ...") on
// anything else.
std::optional<LagState> DecodeLagState(std::string_view text,
                                       std::string* error);

// Whether a decoded state may be used by cluster `cluster` now; the
// system identifier is checked later (ClusterState). Returns "" when it
// may, else why not: "saved for cluster \"x\"", "saved 3d ago, older than
// the history's max_age 24h", "saved in the future".
std::string CheckLagState(const LagState& state, std::string_view cluster,
                          WallTime now_wall, Duration max_age);

// Moves the saved entries onto this process's monotonic clock: unchanged
// when the boot id is the same (the monotonic clock is the kernel's), else
// shifted by the wall-clock time elapsed since saving.
std::vector<WalEntry> EntriesOnThisClock(const LagState& state,
                                         std::string_view boot_id,
                                         MonoTime now_mono, WallTime now_wall);

}  // namespace pgre

#endif  // PGRE_CLUSTER_LAG_STATE_H_
