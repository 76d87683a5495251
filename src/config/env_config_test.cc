#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/redact.h"
#include "config/config.h"

namespace pgre {
namespace {

using Env = std::map<std::string, std::string>;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const char kUrl[] = "postgresql://app:envpass-1@primary:5432/hospitality";

TEST_CASE("Environment mode: the seed's variables", "[env]") {
  const Env env = {
      {"DATABASE_URL", kUrl},
      {"USE_READ_REPLICAS", "true"},
      {"READ_REPLICA_1_CONNECTION_STRING",
       "postgresql://app:envpass-2@replica1:5432/hospitality"},
      {"READ_REPLICA_2_CONNECTION_STRING",
       "postgresql://app:envpass-3@replica2:5432/hospitality"},
      {"READ_REPLICA_3_CONNECTION_STRING", "host=replica3 user=app"},
      {"READ_REPLICA_2_APPLICATION_NAME", "walrcv2"},
      {"REPLICA_HEALTH_CHECK_INTERVAL", "30000"},
      {"DB_MAX_CONNECTIONS", "100"},
      {"DB_MIN_CONNECTIONS", "10"},
      {"DB_MAX_IDLE_TIME", "10m"},
      {"DB_MAX_LIFETIME", "1h"},
      {"DB_CONNECTION_TIMEOUT", "30s"},
      {"DB_QUERY_TIMEOUT", "10m"},
      {"PATH", "/usr/bin"},
  };
  std::string error;
  auto config = LoadConfigFromEnv(env, &error);
  INFO(error);
  REQUIRE(config.has_value());
  CHECK(config->source == "environment");
  CHECK(config->cluster == "default");
  CHECK(config->replicas_enabled);
  CHECK(config->primary.name == "primary");
  CHECK(config->primary.role == Role::kPrimary);
  CHECK(config->primary.dsn == kUrl);
  CHECK(config->primary.redacted_dsn ==
        "user=app password=xxxxx dbname=hospitality host=primary port=5432");
  CHECK(config->primary.endpoint == "primary:5432");
  REQUIRE(config->replicas.size() == 3);
  const std::vector<std::string> names = {"replica1", "replica2", "replica3"};
  const std::vector<std::string> app_names = {"replica1", "walrcv2",
                                              "replica3"};
  for (size_t i = 0; i < 3; ++i) {
    CHECK(config->replicas[i].name == names[i]);
    CHECK(config->replicas[i].role == Role::kReplica);
    CHECK(config->replicas[i].application_name == app_names[i]);
    CHECK(config->replicas[i].weight == 1);
    CHECK(config->replicas[i].endpoint == names[i] + ":5432");
  }
  CHECK(config->routing.health_check_interval == seconds(30));
  CHECK(config->connect_timeout == seconds(30));
  CHECK(config->query_timeout == minutes(10));
  CHECK(config->app_pool_size == 100);
  // Untouched keys keep their defaults.
  CHECK(config->poll_interval == seconds(1));
  CHECK(config->routing.max_lag == seconds(5));
  CHECK(ScrubSecrets("envpass-1 envpass-2 envpass-3") == "xxxxx xxxxx xxxxx");
}

TEST_CASE("Environment mode: minimal, and more than 9 replicas", "[env]") {
  std::string error;
  auto config = LoadConfigFromEnv({{"DATABASE_URL", kUrl}}, &error);
  REQUIRE(config.has_value());
  CHECK_FALSE(config->replicas_enabled);
  CHECK(config->replicas.empty());
  CHECK(config->connect_timeout == seconds(5));
  CHECK_FALSE(config->app_pool_size.has_value());

  Env env = {{"DATABASE_URL", kUrl},
             {"USE_READ_REPLICAS", "YES"},
             {"PGRE_CLUSTER", "hospitality"}};
  for (int n = 1; n <= 12; ++n) {
    env["READ_REPLICA_" + std::to_string(n) + "_CONNECTION_STRING"] =
        "host=r" + std::to_string(n);
  }
  config = LoadConfigFromEnv(env, &error);
  INFO(error);
  REQUIRE(config.has_value());
  CHECK(config->cluster == "hospitality");
  REQUIRE(config->replicas.size() == 12);
  for (int n = 1; n <= 12; ++n) {
    CHECK(config->replicas[n - 1].name == "replica" + std::to_string(n));
    CHECK(config->replicas[n - 1].endpoint ==
          "r" + std::to_string(n) + ":5432");
  }
}

TEST_CASE("Environment mode: USE_READ_REPLICAS values", "[env]") {
  struct Case {
    std::optional<std::string> value;  // nullopt: unset
    bool enabled;
  };
  const std::vector<Case> cases = {
      {"true", true}, {"TRUE", true}, {"True", true},   {"1", true},
      {"yes", true},  {"Yes", true},  {"false", false}, {"FALSE", false},
      {"0", false},   {"no", false},  {"No", false},    {std::nullopt, false},
  };
  for (const Case& c : cases) {
    INFO("USE_READ_REPLICAS=" << c.value.value_or("(unset)"));
    Env env = {{"DATABASE_URL", kUrl},
               {"READ_REPLICA_1_CONNECTION_STRING", "host=r1"},
               // Invalid, but ignored when replicas are disabled.
               {"READ_REPLICA_3_CONNECTION_STRING", "bogus"}};
    if (c.value) env["USE_READ_REPLICAS"] = *c.value;
    if (c.enabled) env.erase("READ_REPLICA_3_CONNECTION_STRING");
    std::string error;
    auto config = LoadConfigFromEnv(env, &error);
    INFO(error);
    REQUIRE(config.has_value());
    CHECK(config->replicas_enabled == c.enabled);
    CHECK(config->replicas.size() == (c.enabled ? 1u : 0u));
  }
}

TEST_CASE("Environment mode: bad variables", "[env]") {
  struct Case {
    Env env;           // DATABASE_URL is added unless the case sets it
    std::string want;  // the error must start with this
  };
  const std::vector<Case> cases = {
      {{{"DATABASE_URL", ""}}, "environment: DATABASE_URL: is empty"},
      {{{"DATABASE_URL", "postgresql://app:envpass-9@db1/x?foo=1"}},
       "environment: DATABASE_URL: invalid connection string: invalid URI "
       "query parameter: \"…\""},
      {{{"DATABASE_URL", "host=db1 password=envpass-9 oops"}},
       // "oops" may be the rest of the password: libpq quotes it, and every
       // quoted fragment that is not an option name is hidden.
       "environment: DATABASE_URL: invalid connection string: missing \"=\" "
       "after \"…\""},
      {{{"USE_READ_REPLICAS", "on"}},
       "environment: USE_READ_REPLICAS: expected true, 1, yes, false, 0 or "
       "no, got \"on\""},
      {{{"USE_READ_REPLICAS", ""}},
       "environment: USE_READ_REPLICAS: expected true"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING", "host=r1"},
        {"READ_REPLICA_3_CONNECTION_STRING", "host=r3"}},
       "environment: READ_REPLICA_2_CONNECTION_STRING: not set, but "
       "READ_REPLICA_3_CONNECTION_STRING is (replicas are numbered 1, 2, 3, "
       "... without gaps)"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_2_CONNECTION_STRING", "host=r2"}},
       "environment: READ_REPLICA_1_CONNECTION_STRING: not set, but "
       "READ_REPLICA_2_CONNECTION_STRING is"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_0_CONNECTION_STRING", "host=r0"}},
       "environment: READ_REPLICA_0_CONNECTION_STRING: expected "
       "READ_REPLICA_<N>_CONNECTION_STRING with N = 1, 2, 3"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_01_CONNECTION_STRING", "host=r1"}},
       "environment: READ_REPLICA_01_CONNECTION_STRING: expected"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_X_CONNECTION_STRING", "host=r1"}},
       "environment: READ_REPLICA_X_CONNECTION_STRING: expected"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING", ""}},
       "environment: READ_REPLICA_1_CONNECTION_STRING: is empty"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING",
         "postgresql://app:envpass-9@r1/x?bad=1"}},
       "environment: READ_REPLICA_1_CONNECTION_STRING: invalid connection "
       "string: invalid URI query parameter: \"…\""},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING", "host=r1"},
        {"READ_REPLICA_2_APPLICATION_NAME", "x"}},
       "environment: READ_REPLICA_2_APPLICATION_NAME: set, but "
       "READ_REPLICA_2_CONNECTION_STRING is not"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING", "host=r1"},
        {"READ_REPLICA_1_APPLICATION_NAME", ""}},
       "environment: READ_REPLICA_1_APPLICATION_NAME: is empty"},
      {{{"USE_READ_REPLICAS", "true"},
        {"READ_REPLICA_1_CONNECTION_STRING", "host=r1"},
        {"READ_REPLICA_2_CONNECTION_STRING", "host=r2"},
        {"READ_REPLICA_2_APPLICATION_NAME", "replica1"}},
       "environment: READ_REPLICA_2_APPLICATION_NAME: duplicate "
       "application_name \"replica1\""},
      {{{"REPLICA_HEALTH_CHECK_INTERVAL", "30s"}},
       "environment: REPLICA_HEALTH_CHECK_INTERVAL: expected an integer, got "
       "\"30s\" (milliseconds)"},
      {{{"REPLICA_HEALTH_CHECK_INTERVAL", "0"}},
       "environment: REPLICA_HEALTH_CHECK_INTERVAL: must be >= 1"},
      {{{"DB_CONNECTION_TIMEOUT", "30"}},
       "environment: DB_CONNECTION_TIMEOUT: duration \"30\" has no unit"},
      {{{"DB_CONNECTION_TIMEOUT", "0s"}},
       "environment: DB_CONNECTION_TIMEOUT: duration must be greater than 0"},
      {{{"DB_QUERY_TIMEOUT", "soon"}},
       "environment: DB_QUERY_TIMEOUT: invalid duration \"soon\""},
      {{{"DB_MAX_CONNECTIONS", "many"}},
       "environment: DB_MAX_CONNECTIONS: expected an integer"},
      {{{"DB_MAX_CONNECTIONS", "0"}},
       "environment: DB_MAX_CONNECTIONS: must be >= 1"},
      {{{"PGRE_CLUSTER", ""}}, "environment: PGRE_CLUSTER: is empty"},
  };
  for (const Case& c : cases) {
    Env env = c.env;
    env.emplace("DATABASE_URL", kUrl);  // no-op when the case sets it
    std::string error;
    auto config = LoadConfigFromEnv(env, &error);
    INFO("want: " << c.want << "\nerror: " << error);
    CHECK_FALSE(config.has_value());
    CHECK_THAT(error, Catch::StartsWith(c.want));
    CHECK(error.find("envpass") == std::string::npos);
  }
  std::string error;
  CHECK_FALSE(LoadConfigFromEnv({{"USE_READ_REPLICAS", "true"}}, &error));
  CHECK_THAT(error, Catch::StartsWith("environment: DATABASE_URL: not set"));
}

TEST_CASE("Seed variables are recognised by name only", "[env]") {
  CHECK_FALSE(HasSeedEnvironment({}));
  CHECK_FALSE(HasSeedEnvironment(
      {{"PATH", "/bin"}, {"PGRE_CLUSTER", "x"}, {"PGHOST", "db1"}}));
  for (const char* name :
       {"DATABASE_URL", "USE_READ_REPLICAS", "READ_REPLICA_1_CONNECTION_STRING",
        "READ_REPLICA_7_APPLICATION_NAME", "REPLICA_HEALTH_CHECK_INTERVAL",
        "DB_MAX_CONNECTIONS", "DB_MIN_CONNECTIONS", "DB_MAX_IDLE_TIME",
        "DB_MAX_LIFETIME", "DB_CONNECTION_TIMEOUT", "DB_QUERY_TIMEOUT"}) {
    INFO(name);
    CHECK(HasSeedEnvironment({{name, "x"}}));
  }
  CHECK(SeedEnvironmentVariables({{"PATH", "/bin"},
                                  {"USE_READ_REPLICAS", "true"},
                                  {"DATABASE_URL", "secret"},
                                  {"PGRE_CLUSTER", "x"}}) ==
        std::vector<std::string>{"DATABASE_URL", "USE_READ_REPLICAS"});
}

TEST_CASE("Environment mode: PGBOUNCER_<N>_*", "[env][pgbouncer]") {
  Env env = {
      {"DATABASE_URL", kUrl},
      {"USE_READ_REPLICAS", "true"},
      {"READ_REPLICA_1_CONNECTION_STRING", "host=replica1 user=app"},
      {"PGBOUNCER_1_CONNECTION_STRING",
       "postgresql://adm:envbouncer-1@primary:6432/pgbouncer"},
      {"PGBOUNCER_1_SERVER", "primary"},
      {"PGBOUNCER_2_CONNECTION_STRING", "host=replica1 port=6432"},
      {"PGBOUNCER_2_SERVER", "replica1"},
      {"PGBOUNCER_3_CONNECTION_STRING", "host=other port=6432"},
  };
  std::string error;
  auto config = LoadConfigFromEnv(env, &error);
  INFO(error);
  REQUIRE(config.has_value());
  REQUIRE(config->pgbouncers.size() == 3);
  CHECK(config->pgbouncers[0].connection.name == "pgbouncer1");
  CHECK(config->pgbouncers[0].server == "primary");
  CHECK(config->pgbouncers[0].connection.endpoint == "primary:6432");
  CHECK(config->pgbouncers[1].server == "replica1");
  CHECK(config->pgbouncers[2].server.empty());
  CHECK(ScrubSecrets("envbouncer-1").find("envbouncer-1") == std::string::npos);

  struct Case {
    Env add;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{{"PGBOUNCER_2_SERVER", "replica7"}},
       "environment: PGBOUNCER_2_SERVER: no server named \"replica7\""},
      {{{"PGBOUNCER_5_CONNECTION_STRING", "host=x"}},
       "environment: PGBOUNCER_4_CONNECTION_STRING: not set, but "
       "PGBOUNCER_5_CONNECTION_STRING is"},
      {{{"PGBOUNCER_9_SERVER", "primary"}},
       "environment: PGBOUNCER_9_SERVER: set, but "
       "PGBOUNCER_9_CONNECTION_STRING is not"},
      {{{"PGBOUNCER_01_CONNECTION_STRING", "host=x"}},
       "environment: PGBOUNCER_01_CONNECTION_STRING: expected "
       "PGBOUNCER_<N>_CONNECTION_STRING"},
      {{{"PGBOUNCER_3_CONNECTION_STRING", ""}},
       "environment: PGBOUNCER_3_CONNECTION_STRING: is empty"},
  };
  for (const Case& c : cases) {
    Env e = env;
    for (const auto& [k, v] : c.add) e[k] = v;
    CAPTURE(c.want);
    std::string err;
    CHECK_FALSE(LoadConfigFromEnv(e, &err));
    CHECK_THAT(err, Catch::StartsWith(c.want));
  }
}

}  // namespace
}  // namespace pgre
