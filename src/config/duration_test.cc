#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_keys.h"

namespace pgre {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("ParseDuration", "[duration]") {
  struct Case {
    std::string text;
    std::optional<Duration> want;
  };
  const std::vector<Case> cases = {
      {"250ms", milliseconds(250)},
      {"1s", seconds(1)},
      {"1.5s", milliseconds(1500)},
      {".5s", milliseconds(500)},
      {"5.s", seconds(5)},
      {"10m", minutes(10)},
      {"1h", hours(1)},
      {"1h30m", minutes(90)},
      {"1m30s", seconds(90)},
      {"2h3m4s5ms", hours(2) + minutes(3) + seconds(4) + milliseconds(5)},
      {"0s", milliseconds(0)},
      {"0.001s", milliseconds(1)},
      {"1.25m", seconds(75)},
      {"876000h", hours(876000)},
      // Rejected.
      {"", std::nullopt},
      {"1", std::nullopt},
      {"0", std::nullopt},
      {"1.5", std::nullopt},
      {"1x", std::nullopt},
      {"s", std::nullopt},
      {".s", std::nullopt},
      {"-1s", std::nullopt},
      {"+1s", std::nullopt},
      {" 1s", std::nullopt},
      {"1s ", std::nullopt},
      {"1 s", std::nullopt},
      {"1S", std::nullopt},
      {"1sec", std::nullopt},
      {"1us", std::nullopt},
      {"1d", std::nullopt},
      {"1h30", std::nullopt},
      {"0.5ms", std::nullopt},  // below the millisecond resolution
      {"1.0001s", std::nullopt},
      {"1e3ms", std::nullopt},
      {"876001h", std::nullopt},  // beyond 100 years
      {"9999999999999h", std::nullopt},
  };
  for (const Case& c : cases) {
    INFO("text: '" << c.text << "'");
    CHECK(ParseDuration(c.text) == c.want);
  }
}

TEST_CASE("FormatDuration is shortest and round-trips", "[duration]") {
  struct Case {
    Duration d;
    std::string want;
  };
  const std::vector<Case> cases = {
      {milliseconds(0), "0s"},
      {milliseconds(1), "1ms"},
      {milliseconds(250), "250ms"},
      {seconds(1), "1s"},
      {milliseconds(1500), "1.5s"},
      {milliseconds(1050), "1.05s"},
      {seconds(90), "1m30s"},
      {minutes(10), "10m"},
      {hours(1), "1h"},
      {minutes(90), "1h30m"},
      {hours(1) + milliseconds(1), "1h0.001s"},
      {hours(49), "49h"},
      {milliseconds(-1500), "-1.5s"},
  };
  for (const Case& c : cases) {
    INFO("ms: " << c.d.count());
    CHECK(FormatDuration(c.d) == c.want);
    if (c.d.count() >= 0) CHECK(ParseDuration(c.want) == c.d);
  }
}

TEST_CASE("ParsePositiveDuration explains what is wrong", "[duration]") {
  struct Case {
    std::string text;
    std::string problem_contains;
  };
  const std::vector<Case> cases = {
      {"", "empty duration"},
      {"-1s", "negative duration \"-1s\""},
      {"5", "duration \"5\" has no unit"},
      {"1x", "invalid duration \"1x\""},
      {"0s", "must be greater than 0"},
      {"0ms", "must be greater than 0"},
  };
  for (const Case& c : cases) {
    INFO("text: '" << c.text << "'");
    std::string problem;
    CHECK_FALSE(ParsePositiveDuration(c.text, &problem).has_value());
    CHECK_THAT(problem, Catch::Contains(c.problem_contains));
  }
  std::string problem;
  CHECK(ParsePositiveDuration("2s", &problem) == seconds(2));
}

TEST_CASE("ParseIntValue", "[duration]") {
  struct Case {
    std::string text;
    int min;
    std::optional<int> want;
  };
  const std::vector<Case> cases = {
      {"1", 1, 1},
      {"100", 1, 100},
      {"0", 0, 0},
      {"0", 1, {}},
      {"-1", 1, {}},
      {"-1", -5, -1},
      {"", 1, {}},
      {"1.0", 1, {}},
      {"1e2", 1, {}},
      {" 1", 1, {}},
      {"+1", 1, {}},
      {"0x10", 1, {}},
      {"2147483647", 1, 2147483647},
      {"2147483648", 1, {}},
      {"99999999999999999999", 1, {}},
      {"three", 1, {}},
  };
  for (const Case& c : cases) {
    INFO("text: '" << c.text << "' min " << c.min);
    std::string problem;
    CHECK(ParseIntValue(c.text, c.min, &problem) == c.want);
    CHECK(problem.empty() == c.want.has_value());
  }
}

TEST_CASE("ParseBytes", "[duration]") {
  struct Case {
    std::string text;
    std::optional<std::uint64_t> want;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"1048576", 1048576},
      {"512B", 512},
      {"1kB", 1024},
      {"16MB", 16ULL << 20},
      {"2GB", 2ULL << 30},
      {"1TB", 1ULL << 40},
      {"18446744073709551615", 18446744073709551615ULL},
      {"", std::nullopt},
      {"MB", std::nullopt},
      {"-1", std::nullopt},
      {"1.5MB", std::nullopt},
      {"1mb", std::nullopt},
      {"1 MB", std::nullopt},
      {"1KB", std::nullopt},
      {"18446744073709551616", std::nullopt},
      {"16777216TB", std::nullopt},  // overflows 64 bits
  };
  for (const Case& c : cases) {
    INFO("text: '" << c.text << "'");
    std::string problem;
    CHECK(ParseBytes(c.text, &problem) == c.want);
    CHECK(problem.empty() == c.want.has_value());
  }
}

}  // namespace
}  // namespace pgre
