#include "pg/libpq_batch.h"

#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/redact.h"

namespace pgre {
namespace {

using libpq_internal::CleanMessage;
using libpq_internal::ConvertResult;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

TEST_CASE("CleanMessage makes one trimmed line", "[libpq]") {
  CHECK(CleanMessage(nullptr, "fallback") == "fallback");
  CHECK(CleanMessage("", "fallback") == "fallback");
  CHECK(CleanMessage(" \n\t\n", "fallback") == "fallback");
  CHECK(CleanMessage("FATAL:  database \"x\" does not exist\n", "f") ==
        "FATAL:  database \"x\" does not exist");
  CHECK(CleanMessage("connection to server at \"127.0.0.1\", port 1 failed: "
                     "Connection refused\n\tIs the server running on that "
                     "host and accepting TCP/IP connections?\n",
                     "f") ==
        "connection to server at \"127.0.0.1\", port 1 failed: Connection "
        "refused Is the server running on that host and accepting TCP/IP "
        "connections?");
}

TEST_CASE("CleanMessage scrubs registered secrets", "[libpq]") {
  RegisterSecret("clean-message-secret-7f3a");
  const std::string out = CleanMessage(
      "password authentication failed: clean-message-secret-7f3a\n", "f");
  CHECK(out.find("clean-message-secret-7f3a") == std::string::npos);
  CHECK_THAT(out, Catch::StartsWith("password authentication failed: "));
}

TEST_CASE("ConvertResult: rows, columns and NULLs", "[libpq]") {
  ResultPtr r(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
  REQUIRE(r);
  char name_a[] = "a";
  char name_b[] = "b";
  PGresAttDesc attrs[2] = {};
  attrs[0].name = name_a;
  attrs[0].format = 0;
  attrs[1].name = name_b;
  attrs[1].format = 0;
  REQUIRE(PQsetResultAttrs(r.get(), 2, attrs));
  char one[] = "1";
  char empty[] = "";
  char two[] = "two";
  REQUIRE(PQsetvalue(r.get(), 0, 0, one, 1));
  REQUIRE(PQsetvalue(r.get(), 0, 1, nullptr, -1));  // NULL
  REQUIRE(PQsetvalue(r.get(), 1, 0, empty, 0));
  REQUIRE(PQsetvalue(r.get(), 1, 1, two, 3));

  const QueryResult q = ConvertResult(r.get());
  CHECK(q.ok);
  CHECK(q.error.empty());
  CHECK(q.columns == std::vector<std::string>{"a", "b"});
  REQUIRE(q.rows.size() == 2);
  REQUIRE(q.rows[0].size() == 2);
  CHECK(q.rows[0][0] == "1");
  CHECK_FALSE(q.rows[0][1].has_value());
  REQUIRE(q.rows[1].size() == 2);
  CHECK(q.rows[1][0] == "");  // empty string is not NULL
  CHECK(q.rows[1][1] == "two");
}

TEST_CASE("ConvertResult: statuses", "[libpq]") {
  CHECK(ConvertResult(nullptr).error == "no result");
  CHECK_FALSE(ConvertResult(nullptr).ok);

  ResultPtr command(PQmakeEmptyPGresult(nullptr, PGRES_COMMAND_OK));
  const QueryResult c = ConvertResult(command.get());
  CHECK(c.ok);
  CHECK(c.columns.empty());
  CHECK(c.rows.empty());

  ResultPtr fatal(PQmakeEmptyPGresult(nullptr, PGRES_FATAL_ERROR));
  const QueryResult f = ConvertResult(fatal.get());
  CHECK_FALSE(f.ok);
  CHECK_THAT(f.error, Catch::Contains("PGRES_FATAL_ERROR"));

  ResultPtr aborted(PQmakeEmptyPGresult(nullptr, PGRES_PIPELINE_ABORTED));
  const QueryResult a = ConvertResult(aborted.get());
  CHECK_FALSE(a.ok);
  CHECK_THAT(a.error, Catch::Contains("not run"));

  ResultPtr copy(PQmakeEmptyPGresult(nullptr, PGRES_COPY_OUT));
  CHECK_FALSE(ConvertResult(copy.get()).ok);
}

TEST_CASE("PreparedStatements: one name per text, bounded, forgettable",
          "[libpq]") {
  libpq_internal::PreparedStatements p;
  bool prepare = false;
  const std::string a = p.Name("SELECT 1", &prepare);
  CHECK(prepare);
  CHECK(a == "pgre_0");
  CHECK(p.Name("SELECT 1", &prepare) == a);
  CHECK_FALSE(prepare);
  const std::string b = p.Name("SELECT 2", &prepare);
  CHECK(prepare);
  CHECK(b != a);
  // A forgotten one is prepared again, under a name never used before on
  // the connection.
  p.Forget("SELECT 2");
  const std::string b2 = p.Name("SELECT 2", &prepare);
  CHECK(prepare);
  CHECK(b2 != b);
  // Past the bound, texts run unprepared ("").
  for (std::size_t i = p.size();
       i < libpq_internal::PreparedStatements::kMaxStatements; ++i) {
    p.Name("SELECT " + std::to_string(100 + i), &prepare);
  }
  CHECK(p.Name("SELECT 'one too many'", &prepare).empty());
  CHECK_FALSE(prepare);
  CHECK(p.Name("SELECT 1", &prepare) == a);  // the known ones keep theirs
  p.Clear();
  CHECK(p.size() == 0);
  p.Name("SELECT 1", &prepare);
  CHECK(prepare);
}

TEST_CASE(
    "PreparedStatements: texts asked in a changing order keep their names",
    "[libpq]") {
  libpq_internal::PreparedStatements p;
  bool prepare = false;
  std::map<std::string, std::string> names;
  const std::vector<std::vector<std::string>> rounds = {
      {"A", "B", "C"}, {"A", "B", "C"}, {"A", "C", "B"}, {"B", "B", "A"},
      {"C"},           {"A", "B", "C"}, {"D", "A", "B"}, {"A", "B", "C"}};
  for (std::size_t r = 0; r < rounds.size(); ++r) {
    if (r == 5) {  // B forgotten: prepared again under a new name
      p.Forget("B");
      const std::string old = names.at("B");
      names.erase("B");
      CHECK(p.Name("B", &prepare) != old);
      CHECK(prepare);
      names["B"] = p.Name("B", &prepare);
    }
    for (const std::string& sql : rounds[r]) {
      INFO("round " << r << ", " << sql);
      const std::string name = p.Name(sql, &prepare);
      auto [it, added] = names.emplace(sql, name);
      CHECK(prepare == added);
      CHECK(it->second == name);
    }
  }
  std::set<std::string> distinct;
  for (const auto& [sql, name] : names) distinct.insert(name);
  CHECK(distinct.size() == names.size());
}

}  // namespace
}  // namespace pgre
