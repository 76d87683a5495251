#include "common/redact.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace pgre {
namespace {

TEST_CASE("RedactDsn hides passwords and keeps everything else", "[redact]") {
  struct Case {
    std::string dsn;
    std::string want;
  };
  const std::vector<Case> cases = {
      // URI userinfo.
      {"postgresql://monitor:secret@db1:5432/app?sslmode=require",
       "postgresql://monitor:xxxxx@db1:5432/app?sslmode=require"},
      {"postgres://u:p%40ss@db1/app", "postgres://u:xxxxx@db1/app"},
      {"POSTGRESQL://u:pw@db1/app", "POSTGRESQL://u:xxxxx@db1/app"},
      {"  postgresql://u:pw@db1/app", "  postgresql://u:xxxxx@db1/app"},
      // Multi-host URI.
      {"postgresql://u:pw@h1:5432,h2:5433/app",
       "postgresql://u:xxxxx@h1:5432,h2:5433/app"},
      // A password holding '?', ':' and '#'.
      {"postgresql://u:a?b:c#d@db1/app", "postgresql://u:xxxxx@db1/app"},
      // No password.
      {"postgresql://u@db1/app", "postgresql://u@db1/app"},
      {"postgresql://db1/app?sslmode=disable",
       "postgresql://db1/app?sslmode=disable"},
      {"postgresql://u:@db1/app", "postgresql://u:@db1/app"},
      // password= query parameter, also with an encoded key.
      {"postgresql://u@db1/app?password=s3cret&sslmode=require",
       "postgresql://u@db1/app?password=xxxxx&sslmode=require"},
      {"postgresql://db1/app?sslmode=require&password=s3cret",
       "postgresql://db1/app?sslmode=require&password=xxxxx"},
      {"postgresql://db1/app?pass%77ord=s3cret",
       "postgresql://db1/app?pass%77ord=xxxxx"},
      {"postgresql://u:one@db1/app?password=two",
       "postgresql://u:xxxxx@db1/app?password=xxxxx"},
      // An '@' inside a query value is not userinfo.
      {"postgresql://db1:5432/app?application_name=a@b",
       "postgresql://db1:5432/app?application_name=a@b"},
      // Key=value form.
      {"host=db1 password=secret dbname=app",
       "host=db1 password=xxxxx dbname=app"},
      {"password=secret", "password=xxxxx"},
      {"host=db1 password = secret user=u", "host=db1 password = xxxxx user=u"},
      {"host=db1 password='sec ret' user=u", "host=db1 password=xxxxx user=u"},
      {"host=db1 password='it\\'s' user=u", "host=db1 password=xxxxx user=u"},
      {"host=db1 password=a\\ b user=u", "host=db1 password=xxxxx user=u"},
      {"host=db1 PASSWORD=secret", "host=db1 PASSWORD=xxxxx"},
      {"host=db1 password= user=u", "host=db1 password= xxxxx"},
      {"host=db1 dbname=app", "host=db1 dbname=app"},
      // Malformed input.
      {"host=db1 password='unterminated sec", "host=db1 password=xxxxx"},
      {"host=db1 password=sec ret dbname=app",
       "host=db1 password=xxxxx dbname=app"},
      {"password", "password"},
      {"password=", "password="},
      {"", ""},
      {"postgresql://u:p/ss@db1/app", "postgresql://u:xxxxx@db1/app"},
      {"postgresql://u:p?s/s@db1", "postgresql://u:xxxxx@db1"},
      {"postgresql://u:pw@", "postgresql://u:xxxxx@"},
      {"postgresql://", "postgresql://"},
      {"postgresql://db1/app?password", "postgresql://db1/app?password"},
      {"postgresql://db1/app?password=", "postgresql://db1/app?password="},
      {"postgresql://u:p%zz@db1", "postgresql://u:xxxxx@db1"},
  };
  for (const Case& c : cases) {
    INFO("dsn: " << c.dsn);
    CHECK(RedactDsn(c.dsn) == c.want);
  }
}

TEST_CASE("ScrubSecrets replaces every registered secret", "[redact]") {
  RegisterSecret("alpha-secret-1");
  RegisterSecret("beta-secret-2");
  RegisterSecret("");  // ignored: must not turn everything into xxxxx
  CHECK(ScrubSecrets("a alpha-secret-1 b beta-secret-2 c alpha-secret-1") ==
        "a xxxxx b xxxxx c xxxxx");
  CHECK(ScrubSecrets("nothing to hide") == "nothing to hide");
  CHECK(ScrubSecrets("") == "");
}

TEST_CASE("ScrubSecrets prefers the longest secret", "[redact]") {
  RegisterSecret("gamma-long-secret");
  RegisterSecret("gamma-long");
  CHECK(ScrubSecrets("x gamma-long-secret y gamma-long z") ==
        "x xxxxx y xxxxx z");
}

TEST_CASE("RegisterDsnSecrets registers raw and decoded forms", "[redact]") {
  struct Case {
    std::string dsn;
    std::vector<std::string> secrets;  // each must be scrubbed afterwards
  };
  const std::vector<Case> cases = {
      {"postgresql://u:delta%2Fpw%40x@db1/app",
       {"delta%2Fpw%40x", "delta/pw@x"}},
      {"postgresql://db1/app?password=eps%20ilon", {"eps%20ilon", "eps ilon"}},
      {"host=db1 password='zeta it\\'s'", {"zeta it's", "'zeta it\\'s'"}},
      {"host=db1 password=eta\\ pw", {"eta pw", "eta\\ pw"}},
      {"host=db1 password=theta iota", {"theta", "iota", "theta iota"}},
      {"postgresql://u:kappa%zz@db1", {"kappa%zz"}},
  };
  for (const Case& c : cases) {
    INFO("dsn: " << c.dsn);
    RegisterDsnSecrets(c.dsn);
    for (const std::string& secret : c.secrets) {
      INFO("secret: " << secret);
      CHECK(ScrubSecrets("[" + secret + "]") == "[xxxxx]");
    }
  }
}

TEST_CASE("RegisterDsnSecrets without a password registers nothing",
          "[redact]") {
  RegisterDsnSecrets("postgresql://lambda-user@lambda-host/lambda-db");
  RegisterDsnSecrets("host=mu-host user=mu-user");
  RegisterDsnSecrets("postgresql://u:@nu-host/db");
  CHECK(ScrubSecrets("lambda-user lambda-host lambda-db mu-host mu-user "
                     "nu-host") ==
        "lambda-user lambda-host lambda-db mu-host mu-user nu-host");
}

TEST_CASE("Registry is safe to use from many threads", "[redact]") {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 200; ++i) {
        const std::string secret =
            "omicron-" + std::to_string(t) + "-" + std::to_string(i);
        RegisterSecret(secret);
        // A secret is visible to the thread that registered it at once.
        if (ScrubSecrets(secret + "!") != "xxxxx!") ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  for (int t = 0; t < 4; ++t) {
    CHECK(ScrubSecrets("omicron-" + std::to_string(t) + "-199") == "xxxxx");
  }
}

}  // namespace
}  // namespace pgre
