#include "shard/shard.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace pgre {
namespace {

TEST_CASE("Fnv1a64 gives the published FNV-1a 64-bit test vectors", "[shard]") {
  struct Case {
    std::string_view input;
    std::uint64_t want;
  };
  // From the FNV reference test suite (Noll's test_fnv.c, FNV-1a 64).
  const Case cases[] = {
      {"", 0xcbf29ce484222325ULL},
      {"a", 0xaf63dc4c8601ec8cULL},
      {"foobar", 0x85944171f73967e8ULL},
  };
  for (const Case& c : cases) {
    INFO("input \"" << c.input << "\"");
    CHECK(Fnv1a64(c.input) == c.want);
  }
  // Bytes, not characters: a NUL inside the name counts.
  CHECK(Fnv1a64(std::string_view("a\0b", 3)) != Fnv1a64("ab"));
}

TEST_CASE("JumpHash gives the reference implementation's buckets", "[shard]") {
  struct Case {
    std::uint64_t key;
    std::vector<std::int32_t> by_buckets;  // [i]: the bucket among i + 1
  };
  // Generated from the paper's C++ code (as published with Go's
  // dgryski/go-jump tests): buckets 1, 2, 3, ...
  const Case cases[] = {
      {0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {1, {0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17}},
      {0xdeadbeef,
       {0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16}},
      {0x0ddc0ffeebadf00d,
       {0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15}},
  };
  for (const Case& c : cases) {
    for (std::size_t i = 0; i < c.by_buckets.size(); ++i) {
      const auto buckets = static_cast<std::int32_t>(i + 1);
      INFO("key " << c.key << ", " << buckets << " buckets");
      CHECK(JumpHash(c.key, buckets) == c.by_buckets[i]);
    }
  }
  CHECK(JumpHash(256, 1024) == 520);
}

TEST_CASE("ShardOf is the jump hash of the name's FNV-1a, pinned by name",
          "[shard]") {
  // What docs/scaling.md shows; a change here moves operators' clusters.
  struct Case {
    std::string_view cluster;
    std::int32_t total;
    std::int32_t want;
  };
  const Case cases[] = {
      {"main", 1, 0},  {"anything", 1, 0}, {"main", 3, 0},
      {"users", 3, 1}, {"billing", 3, 2},  {"main", 4, 3},
      {"users", 4, 3}, {"billing", 4, 2},  {"payments", 4, 0},
  };
  for (const Case& c : cases) {
    INFO(c.cluster << " among " << c.total);
    CHECK(ShardOf(c.cluster, c.total) == c.want);
    CHECK(ShardOf(c.cluster, c.total) == JumpHash(Fnv1a64(c.cluster), c.total));
  }
}

std::vector<std::string> Names(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("cluster-" + std::to_string(i));
  return out;
}

TEST_CASE("AssignShards covers every cluster exactly once", "[shard]") {
  const auto names = Names(1000);
  for (std::int32_t total : {1, 2, 3, 4, 7, 16}) {
    INFO(total << " shards");
    const auto shards = AssignShards(names, total);
    REQUIRE(shards.size() == static_cast<std::size_t>(total));
    std::multiset<std::string> seen;
    for (std::int32_t k = 0; k < total; ++k) {
      const ShardSpec spec{k, total};
      for (const std::string& name : shards[k]) {
        CHECK(Owns(spec, name));
        seen.insert(name);
      }
      // Balanced within a loose bound (1000 names, expected 1000/total).
      CHECK(shards[k].size() > 1000u / total * 7 / 10);
      CHECK(shards[k].size() < 1000u / total * 13 / 10);
    }
    CHECK(seen == std::multiset<std::string>(names.begin(), names.end()));
  }
}

TEST_CASE("adding a shard moves clusters only onto the new shard", "[shard]") {
  const auto names = Names(3000);
  for (std::int32_t total : {1, 2, 3, 4, 9}) {
    INFO(total << " -> " << total + 1 << " shards");
    int moved = 0;
    for (const std::string& name : names) {
      const std::int32_t before = ShardOf(name, total);
      const std::int32_t after = ShardOf(name, total + 1);
      if (before != after) {
        ++moved;
        CHECK(after == total);
      }
    }
    // About 1/(total + 1) of them.
    const double share = static_cast<double>(moved) / names.size();
    CHECK(share > 0.7 / (total + 1));
    CHECK(share < 1.3 / (total + 1));
  }
}

TEST_CASE("MakeShardSpec accepts 0 <= shard < total and says what is wrong",
          "[shard]") {
  struct Case {
    std::int64_t shard;
    std::int64_t total;
    std::string error;  // "" = valid
  };
  const Case cases[] = {
      {0, 1, ""},
      {2, 3, ""},
      {0, kMaxTotalShards, ""},
      {3, 3,
       "--shard=3 is not below --total-shards=3: shards are numbered 0 to 2"},
      {5, 1,
       "--shard=5 is not below --total-shards=1: shards are numbered 0 to 0"},
      {-1, 3, "--shard=-1: must not be negative (shards are numbered from 0)"},
      {0, 0, "--total-shards=0: must be between 1 (no sharding) and 65536"},
      {0, -2, "--total-shards=-2: must be between 1 (no sharding) and 65536"},
      {0, kMaxTotalShards + 1,
       "--total-shards=65537: must be between 1 (no sharding) and 65536"},
  };
  for (const Case& c : cases) {
    INFO("--shard=" << c.shard << " --total-shards=" << c.total);
    std::string error;
    const auto spec = MakeShardSpec(c.shard, c.total, &error);
    CHECK(error == c.error);
    CHECK(spec.has_value() == c.error.empty());
    if (spec) {
      CHECK(spec->shard == c.shard);
      CHECK(spec->total == c.total);
      CHECK(spec->sharded() == (c.total > 1));
    }
  }
}

}  // namespace
}  // namespace pgre
