#include "config/dsn.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/redact.h"

namespace pgre {
namespace {

TEST_CASE("RedactedDsn: libpq's options, secrets masked", "[dsn]") {
  struct Case {
    std::string dsn;
    std::string want;
    std::vector<std::string> secrets;  // libpq's decoded values
  };
  const std::vector<Case> cases = {
      {"postgresql://monitor:secret@db1:5432/app?sslmode=require",
       "user=monitor password=xxxxx dbname=app host=db1 port=5432 "
       "sslmode=require",
       {"secret"}},
      {"postgres://u:p%40ss@db1/app",
       "user=u password=xxxxx dbname=app host=db1",
       {"p@ss"}},
      {"postgresql://u:pw@h1:5432,h2:5433/app",
       "user=u password=xxxxx dbname=app host=h1,h2 port=5432,5433",
       {"pw"}},
      {"postgresql://db1/app?password=s3cret&sslpassword=k3y&sslmode=require",
       "password=xxxxx dbname=app host=db1 sslmode=require sslpassword=xxxxx",
       {"s3cret", "k3y"}},
      {"postgresql://db1/app?pass%77ord=enc",
       "password=xxxxx dbname=app "
       "host=db1",
       {"enc"}},
      {"host=db1 password='sec ret' user=u sslpassword=kp",
       "user=u password=xxxxx host=db1 sslpassword=xxxxx",
       {"sec ret", "kp"}},
      {"host=db1 password='it\\'s' application_name='my app'",
       "password=xxxxx host=db1 application_name='my app'",
       {"it's"}},
      {"host=db1 dbname=app", "dbname=app host=db1", {}},
      {"postgresql://u@db1/app", "user=u dbname=app host=db1", {}},
      {"", "", {}},
  };
  for (const Case& c : cases) {
    INFO(c.dsn);
    std::string error;
    auto parsed = ParseDsn(c.dsn, &error);
    INFO(error);
    REQUIRE(parsed);
    CHECK(RedactedDsn(*parsed) == c.want);
    CHECK(parsed->secrets == c.secrets);
  }
}

TEST_CASE("ParseDsn: libpq's errors never quote what may be a secret",
          "[dsn]") {
  struct Case {
    std::string dsn;
    std::string error;
    std::string secret;  // never in the error
  };
  const std::vector<Case> cases = {
      {"host=db1 password=theta iota",
       "missing \"=\" after \"…\" in connection "
       "info string",
       "iota"},
      {"host=db1 password='zeta-pw",
       "unterminated quoted string in "
       "connection info string",
       "zeta-pw"},
      {"postgresql://u:kappa%zz@db1", "invalid percent-encoded token: \"…\"",
       "kappa"},
      {"postgresql://u@db1/app?lambda-pw",
       "missing key/value separator \"=\" "
       "in URI query parameter: \"…\"",
       "lambda"},
      {"host=db1 mu-secret=1", "invalid connection option \"…\"", "mu-secret"},
      {"postgresql://db1/app?password=nu&x=1",
       "invalid URI query parameter: "
       "\"…\"",
       "nu"},
  };
  for (const Case& c : cases) {
    INFO(c.dsn);
    std::string error;
    CHECK_FALSE(ParseDsn(c.dsn, &error));
    CHECK(error == c.error);
    CHECK(error.find(c.secret) == std::string::npos);
  }
}

TEST_CASE("HideQuotedFragments keeps option names and lone punctuation",
          "[dsn]") {
  CHECK(HideQuotedFragments("invalid value for parameter \"sslmode\": "
                            "\"bogus\"") ==
        "invalid value for parameter \"sslmode\": \"…\"");
  CHECK(HideQuotedFragments("missing \"=\" after \"x\"") ==
        "missing \"=\" after \"…\"");
  CHECK(HideQuotedFragments("an \"unterminated") == "an \"…\"");
  CHECK(HideQuotedFragments("nothing quoted") == "nothing quoted");
}

TEST_CASE("RegisterDsnSecrets scrubs decoded and percent-encoded forms",
          "[dsn]") {
  RegisterDsnSecrets(
      "postgresql://u:xi%2Fpw%40x@db1/app?sslpassword=omi%20cron");
  for (const char* form :
       {"xi/pw@x", "xi%2Fpw%40x", "xi%2fpw%40x", "omi cron", "omi%20cron"}) {
    INFO(form);
    CHECK(ScrubSecrets(std::string("[") + form + "]") == "[xxxxx]");
  }
  // Nothing is registered from a string that has no secret.
  RegisterDsnSecrets("host=pi-host user=pi-user dbname=pi-db");
  CHECK(ScrubSecrets("pi-host pi-user pi-db") == "pi-host pi-user pi-db");
  CHECK(IsSecretOption("password"));
  CHECK(IsSecretOption("sslpassword"));
  CHECK_FALSE(IsSecretOption("user"));
  CHECK_FALSE(IsSecretOption("passfile"));
}

}  // namespace
}  // namespace pgre
