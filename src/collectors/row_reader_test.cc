#include "collectors/row_reader.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>

#include "collectors/test_results.h"

namespace pgre {
namespace collectors_internal {
namespace {

using testing::ErrorResult;
using testing::OkResult;

using Row = std::vector<std::optional<std::string>>;
constexpr std::string_view kTwo[] = {"a", "b"};

TEST_CASE("CheckShape accepts the expected columns", "[row_reader]") {
  QueryResult r = OkResult({"a", "b"}, {Row{"1", {}}});
  CHECK(CheckShape(r, kTwo).ok());
  r.rows.clear();
  CHECK(CheckShape(r, kTwo).ok());
}

TEST_CASE("CheckShape rejects a wrong shape", "[row_reader]") {
  struct Case {
    const char* name;
    QueryResult result;
    const char* message_part;
  };
  const Case cases[] = {
      {"not ok", ErrorResult("boom (SQLSTATE 42P01)"), "boom"},
      {"too few columns", OkResult({"a"}), "want (a, b), got (a)"},
      {"too many columns", OkResult({"a", "b", "c"}), "got (a, b, c)"},
      {"renamed column", OkResult({"a", "x"}), "got (a, x)"},
      {"swapped columns", OkResult({"b", "a"}), "got (b, a)"},
      {"short row", OkResult({"a", "b"}, {Row{"1"}}),
       "row 0 has 1 values for 2 columns"},
      {"long row", OkResult({"a", "b"}, {Row{"1", "2"}, Row{"1", "2", "3"}}),
       "row 1 has 3 values"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Status s = CheckShape(c.result, kTwo);
    CHECK_FALSE(s.ok());
    CHECK_THAT(s.message(), Catch::Contains(c.message_part));
  }
}

TEST_CASE("Number parsers are strict", "[row_reader]") {
  CHECK(ParseInt64("0") == 0);
  CHECK(ParseInt64("-42") == -42);
  CHECK(ParseInt64("9223372036854775807") ==
        std::numeric_limits<std::int64_t>::max());
  for (const char* bad :
       {"", " 1", "1 ", "+1", "1.0", "0x10", "abc", "9223372036854775808"}) {
    INFO(bad);
    CHECK_FALSE(ParseInt64(bad).has_value());
  }
  CHECK(ParseUint64("18446744073709551615") ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK_FALSE(ParseUint64("-1").has_value());
  CHECK_FALSE(ParseUint64("18446744073709551616").has_value());

  CHECK(ParseFiniteDouble("1700000000.123456") == Approx(1700000000.123456));
  CHECK(ParseFiniteDouble("-0.5") == -0.5);
  CHECK(ParseFiniteDouble("3") == 3.0);
  for (const char* bad : {"", "NaN", "nan", "Infinity", "inf", "-Infinity",
                          "1e999", "1.5s", " 1", "1,5"}) {
    INFO(bad);
    CHECK_FALSE(ParseFiniteDouble(bad).has_value());
  }
}

TEST_CASE("RowReader reads typed values and NULLs", "[row_reader]") {
  QueryResult r =
      OkResult({"text", "bool", "lsn", "int", "double", "null"},
               {Row{"hello", "t", "16/B374D848", "-7", "2.5", std::nullopt}});
  RowReader row(r, 0);
  CHECK(row.Text(0) == "hello");
  CHECK(row.Bool(1));
  CHECK(row.OptLsn(2) == 0x16B374D848ULL);
  CHECK(row.OptInt64(3) == -7);
  CHECK(row.OptInt(3) == -7);
  CHECK(row.OptDouble(4) == 2.5);
  CHECK(row.Text(5).empty());
  CHECK_FALSE(row.OptBool(5).has_value());
  CHECK_FALSE(row.OptLsn(5).has_value());
  CHECK_FALSE(row.OptInt64(5).has_value());
  CHECK_FALSE(row.OptUint64(5).has_value());
  CHECK_FALSE(row.OptInt(5).has_value());
  CHECK_FALSE(row.OptDouble(5).has_value());
  CHECK(row.status().ok());
}

TEST_CASE("RowReader records the first error only", "[row_reader]") {
  QueryResult r = OkResult({"x", "y"}, {Row{"yes", "zz/zz"}});
  RowReader row(r, 0);
  CHECK_FALSE(row.OptBool(0).has_value());
  CHECK_FALSE(row.OptLsn(1).has_value());
  REQUIRE_FALSE(row.status().ok());
  CHECK(row.status().message() ==
        "row 0, column \"x\": not a boolean: \"yes\"");
}

TEST_CASE("RowReader errors on bad values", "[row_reader]") {
  struct Case {
    std::optional<std::string> value;
    int kind;  // 0 Bool, 1 Lsn, 2 Int64, 3 Uint64, 4 Int, 5 Double
    const char* what;
  };
  const Case cases[] = {
      {std::nullopt, 0, "unexpected NULL"},
      {"true", 0, "not a boolean"},
      {"0/0/0", 1, "not an LSN"},
      {"-5", 1, "not an LSN"},
      {"1.5", 2, "not a 64-bit integer"},
      {"-1", 3, "not an unsigned 64-bit integer"},
      {"3000000000", 4, "not a 32-bit integer"},
      {"Infinity", 5, "not a finite number"},
  };
  for (const Case& c : cases) {
    QueryResult r = OkResult({"col"}, {Row{c.value}});
    RowReader row(r, 0);
    switch (c.kind) {
      case 0:
        row.Bool(0);
        break;
      case 1:
        row.OptLsn(0);
        break;
      case 2:
        row.OptInt64(0);
        break;
      case 3:
        row.OptUint64(0);
        break;
      case 4:
        row.OptInt(0);
        break;
      case 5:
        row.OptDouble(0);
        break;
    }
    INFO(c.what);
    REQUIRE_FALSE(row.status().ok());
    CHECK_THAT(row.status().message(), Catch::Contains(c.what));
    CHECK_THAT(row.status().message(),
               Catch::StartsWith("row 0, column \"col\""));
  }
}

TEST_CASE("RowReader cuts long values in errors", "[row_reader]") {
  const std::string long_value(1000, 'z');
  QueryResult r = OkResult({"c"}, {Row{long_value}});
  RowReader row(r, 0);
  row.OptInt64(0);
  REQUIRE_FALSE(row.status().ok());
  CHECK(row.status().message().size() < 120);
  CHECK_THAT(row.status().message(), Catch::EndsWith("...\""));
}

}  // namespace
}  // namespace collectors_internal
}  // namespace pgre
