#include "shard/shard.h"

namespace pgre {

std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::int32_t JumpHash(std::uint64_t key, std::int32_t buckets) {
  // The paper's loop: follow the key's pseudo-random sequence of jumps
  // (a 64-bit linear congruential generator seeded by the key) while the
  // next jump still lands below `buckets`; the last bucket reached wins.
  std::int64_t bucket = -1;
  std::int64_t next = 0;
  while (next < buckets) {
    bucket = next;
    key = key * 2862933555777941757ULL + 1;
    const double draw = static_cast<double>((key >> 33) + 1);
    next = static_cast<std::int64_t>(static_cast<double>(bucket + 1) *
                                     (static_cast<double>(1LL << 31) / draw));
  }
  return static_cast<std::int32_t>(bucket);
}

std::optional<ShardSpec> MakeShardSpec(std::int64_t shard, std::int64_t total,
                                       std::string* error) {
  if (total < 1 || total > kMaxTotalShards) {
    *error = "--total-shards=" + std::to_string(total) +
             ": must be between 1 (no sharding) and " +
             std::to_string(kMaxTotalShards);
    return std::nullopt;
  }
  if (shard < 0) {
    *error = "--shard=" + std::to_string(shard) +
             ": must not be negative (shards are numbered from 0)";
    return std::nullopt;
  }
  if (shard >= total) {
    *error = "--shard=" + std::to_string(shard) +
             " is not below --total-shards=" + std::to_string(total) +
             ": shards are numbered 0 to " + std::to_string(total - 1);
    return std::nullopt;
  }
  return ShardSpec{static_cast<std::int32_t>(shard),
                   static_cast<std::int32_t>(total)};
}

std::int32_t ShardOf(std::string_view cluster, std::int32_t total) {
  return JumpHash(Fnv1a64(cluster), total);
}

std::vector<std::vector<std::string>> AssignShards(
    const std::vector<std::string>& clusters, std::int32_t total) {
  std::vector<std::vector<std::string>> out(static_cast<std::size_t>(total));
  for (const std::string& name : clusters) {
    out[static_cast<std::size_t>(ShardOf(name, total))].push_back(name);
  }
  return out;
}

}  // namespace pgre
