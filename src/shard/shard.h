// Shards: which agent of N owns which cluster, the kube-state-metrics way.
//
// An agent started with --shard=K --total-shards=N (K zero-indexed, N = 1:
// no sharding) loads and validates the whole configuration, then polls,
// probes, routes, heartbeats, keeps state for and publishes only the
// clusters it owns: those whose name hashes to K. The hash is
//
//   shard(cluster) = JumpHash(Fnv1a64(cluster name bytes), N)
//
// FNV-1a, 64 bits, of the name's bytes as configured (UTF-8, no
// normalisation), then Lamping and Veach's jump consistent hash ("A Fast,
// Minimal Memory, Consistent Hash Algorithm", 2014) into N buckets: what
// kube-state-metrics does with an object's UID. Every agent computes the same
// owner for a name without talking to the others, N agents cover every
// cluster exactly once, and going from N to N+1 shards moves about 1/(N+1)
// of the clusters (each to the new shard N), none between old shards.
// docs/scaling.md documents it for operators; the values are fixed by the
// known-answer tests in shard_test.cc.
//
// Thread safety: pure functions.
#ifndef PGRE_SHARD_SHARD_H_
#define PGRE_SHARD_SHARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgre {

// FNV-1a, 64 bits: offset basis 14695981039346656037, prime
// 1099511628211; each byte XORed in, then multiplied.
std::uint64_t Fnv1a64(std::string_view bytes);

// Jump consistent hash of `key` into [0, buckets).
// REQUIRES: buckets >= 1.
std::int32_t JumpHash(std::uint64_t key, std::int32_t buckets);

// The largest --total-shards accepted.
inline constexpr std::int64_t kMaxTotalShards = 1 << 16;

// One agent's place: shard `shard` of `total`.
struct ShardSpec {
  std::int32_t shard = 0;
  std::int32_t total = 1;

  bool sharded() const { return total > 1; }
  bool operator==(const ShardSpec&) const = default;
};

// The spec of --shard / --total-shards, or nullopt with *error set to one
// line naming the flag ("--shard=3 is not below --total-shards=3: shards
// are numbered 0 to 2"). Valid: 1 <= total <= kMaxTotalShards and
// 0 <= shard < total.
std::optional<ShardSpec> MakeShardSpec(std::int64_t shard, std::int64_t total,
                                       std::string* error);

// The shard that owns the cluster named `cluster` among `total`.
// REQUIRES: total >= 1.
std::int32_t ShardOf(std::string_view cluster, std::int32_t total);

// Whether `spec`'s agent owns `cluster`.
inline bool Owns(const ShardSpec& spec, std::string_view cluster) {
  return ShardOf(cluster, spec.total) == spec.shard;
}

// The names of `clusters` each shard of `total` owns: result[k] lists shard
// k's, in the order of `clusters`. REQUIRES: total >= 1.
std::vector<std::vector<std::string>> AssignShards(
    const std::vector<std::string>& clusters, std::int32_t total);

}  // namespace pgre

#endif  // PGRE_SHARD_SHARD_H_
