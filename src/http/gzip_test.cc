#include "http/gzip.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string_view>
#include <vector>

namespace pgre {
namespace {

std::string Text(std::size_t n, unsigned seed) {
  // Metric-like lines with some randomness, so deflate has work to do.
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) {
    s += "pg_replica_lag_seconds{cluster=\"c" + std::to_string(rng() % 250) +
         "\",server=\"replica" + std::to_string(rng() % 4) + "\"} " +
         std::to_string(rng() % 100000) + "\n";
  }
  s.resize(n);
  return s;
}

TEST_CASE("Gzip round trip", "[gzip]") {
  bool ok = false;
  CHECK(Gunzip(Gzip(""), &ok).empty());
  CHECK(ok);
  const std::string t = Text(300000, 1);
  CHECK(Gunzip(Gzip(t), &ok) == t);
  CHECK(ok);
}

TEST_CASE("a gzip stream in two parts is one valid member", "[gzip]") {
  const std::size_t sizes[] = {0, 1, 1000, 70000, 400000};
  for (std::size_t p : sizes) {
    for (std::size_t t : {std::size_t{0}, std::size_t{5}, std::size_t{90000}}) {
      INFO("prefix " << p << ", tail " << t);
      const std::string prefix = Text(p, 2), tail = Text(t, 3);
      const GzipHead head = GzipStart(prefix);
      REQUIRE_FALSE(head.bytes.empty());
      CHECK(head.size == p);
      const std::string body = head.bytes + GzipFinish(head, tail);
      bool ok = false;
      CHECK(Gunzip(body, &ok) == prefix + tail);
      CHECK(ok);  // inflate checks the CRC-32 and the length
      // The same head serves another tail.
      const std::string body2 = head.bytes + GzipFinish(head, "x\n");
      CHECK(Gunzip(body2, &ok) == prefix + "x\n");
      CHECK(ok);
    }
  }
}

TEST_CASE("a gzip start from pieces is the start of their concatenation",
          "[gzip]") {
  const std::string text = Text(300000, 4);
  std::mt19937 rng(5);
  for (int round = 0; round < 20; ++round) {
    // Cut at random places, empty pieces included.
    std::vector<std::string_view> pieces;
    std::size_t at = 0;
    while (at < text.size()) {
      const std::size_t n = std::min<std::size_t>(
          text.size() - at, rng() % (round % 2 ? 40 : 9000));
      pieces.push_back(std::string_view(text).substr(at, n));
      at += n;
    }
    const GzipHead head = GzipStart(pieces);
    CHECK(head.size == text.size());
    bool ok = false;
    CHECK(Gunzip(head.bytes + GzipFinish(head, "tail\n"), &ok) ==
          text + "tail\n");
    CHECK(ok);  // the CRC-32 and the length of every piece
  }
  const GzipHead none = GzipStart(std::vector<std::string_view>{});
  bool ok = false;
  CHECK(Gunzip(none.bytes + GzipFinish(none, "x"), &ok) == "x");
  CHECK(ok);
}

TEST_CASE("a wrong trailer is caught", "[gzip]") {
  const GzipHead head = GzipStart("abc\n");
  std::string body = head.bytes + GzipFinish(head, "def\n");
  body[body.size() - 8] ^= 1;  // the CRC-32's first byte
  bool ok = true;
  Gunzip(body, &ok);
  CHECK_FALSE(ok);
}

}  // namespace
}  // namespace pgre
