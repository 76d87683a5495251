// The state file: a cluster's LagState (cluster/lag_state.h) on disk, so
// that lag stays continuous across a restart of the agent. One file per
// cluster, `<dir>/<cluster>.lag-state.json` (the cluster name with every
// byte outside [A-Za-z0-9_.-] written as %XX), replaced atomically: written
// to a temporary file in the same directory, fsync'ed, renamed over the old
// one, and the directory fsync'ed. A reader therefore sees the old file or
// the new one, never a mix.
//
// Thread safety: the functions are thread-safe; concurrent writers of the
// same cluster's file are not (the agent has one per cluster).
#ifndef PGRE_STATE_STATE_FILE_H_
#define PGRE_STATE_STATE_FILE_H_

#include <string>

#include "cluster/cluster_state.h"
#include "cluster/lag_state.h"
#include "common/status.h"

namespace pgre {

std::string StateFilePath(const std::string& dir, const std::string& cluster);

// Reads and decodes the cluster's file. Never fails: a problem is the
// returned status ("missing", "unreadable: <errno text>", "corrupt: <what>"),
// with no state. `boot_id` is passed through to the result.
RestoreInput ReadStateFile(const std::string& dir, const std::string& cluster,
                           const std::string& boot_id);

// Writes `state` as the cluster's file. Returns an error naming the file
// and the failing step; the old file is then left as it was.
Status WriteStateFile(const std::string& dir, const LagState& state);

// Checks that `dir` is a directory this process can create files in.
// Returns an error saying why not.
Status CheckStateDirectory(const std::string& dir);

// This boot's id (/proc/sys/kernel/random/boot_id), "" when unreadable.
std::string BootId();

}  // namespace pgre

#endif  // PGRE_STATE_STATE_FILE_H_
