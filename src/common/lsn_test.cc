#include "common/lsn.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pgre {
namespace {

TEST_CASE("ParseLsn accepts both text forms and rejects the rest", "[lsn]") {
  struct Case {
    std::string text;
    std::optional<Lsn> want;
  };
  const std::vector<Case> cases = {
      {"0/0", 0},
      {"0/1", 1},
      {"16/B374D848", (Lsn{0x16} << 32) | 0xB374D848},
      {"16/b374d848", (Lsn{0x16} << 32) | 0xB374D848},
      {"FFFFFFFF/FFFFFFFF", ~Lsn{0}},
      {"97500059720", Lsn{97500059720}},
      {"0", 0},
      {"18446744073709551615", ~Lsn{0}},
      {"", std::nullopt},
      {"/", std::nullopt},
      {"16/", std::nullopt},
      {"/B374D848", std::nullopt},
      {"16/B374D848/1", std::nullopt},
      {"1G/0", std::nullopt},
      {"100000000/0", std::nullopt},  // high half exceeds 32 bits
      {"-1", std::nullopt},
      {"12.5", std::nullopt},
      {" 1", std::nullopt},
      {"1 ", std::nullopt},
      {"18446744073709551616", std::nullopt},  // overflows 64 bits
  };
  for (const Case& c : cases) {
    INFO("text: '" << c.text << "'");
    CHECK(ParseLsn(c.text) == c.want);
  }
}

TEST_CASE("ParseLsn: both forms of the same position agree", "[lsn]") {
  // SELECT '16/B374D848'::pg_lsn - '0/0' = 97500059720.
  CHECK(ParseLsn("16/B374D848") == ParseLsn("97500059720"));
}

}  // namespace
}  // namespace pgre
