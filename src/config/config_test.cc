#include "config/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/redact.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Every config below carries this password; no error may show it.
constexpr char kPassword[] = "hunter2";

// Lines 1-2 of most test configs: a valid primary.
const std::string kMin =
    "primary:\n"
    "  dsn: \"postgresql://mon:hunter2-SECRET@db1/app\"\n";

std::optional<Config> Load(const std::string& text, std::string* error) {
  return LoadConfigText(text, "t.yml", error);
}

TEST_CASE("Minimal config gets every default", "[config]") {
  std::string error;
  auto config = Load(kMin, &error);
  REQUIRE(config.has_value());
  CHECK(error.empty());
  const Config defaults;
  CHECK(config->cluster == "default");
  CHECK(config->source == "file t.yml");
  CHECK(config->replicas_enabled);
  CHECK(config->replicas.empty());
  CHECK(config->poll_interval == defaults.poll_interval);
  CHECK(config->connect_timeout == defaults.connect_timeout);
  CHECK(config->query_timeout == defaults.query_timeout);
  CHECK_FALSE(config->app_pool_size.has_value());
  CHECK(config->routing.max_lag == defaults.routing.max_lag);
  CHECK(config->routing.max_lag_bytes == 0);
  CHECK(config->routing.fall == 3);
  CHECK(config->routing.rise == 2);
  CHECK(config->routing.fallback == Fallback::kPrimary);
  CHECK(config->routing.probe_query == "SELECT 1");
  CHECK(config->lag_status.warning == seconds(1));
  CHECK(config->lag_status.critical == seconds(5));

  const ServerConfig& p = config->primary;
  CHECK(p.name == "primary");
  CHECK(p.role == Role::kPrimary);
  CHECK(p.dsn == "postgresql://mon:hunter2-SECRET@db1/app");
  CHECK(p.redacted_dsn == "user=mon password=xxxxx dbname=app host=db1");
  CHECK(p.endpoint == "db1:5432");
  // Loading registered the password: any later text is scrubbed.
  CHECK(ScrubSecrets("x hunter2-SECRET y") == "x xxxxx y");
}

TEST_CASE("Full config sets every key", "[config]") {
  const std::string text = R"(
cluster: prod-eu
poll_interval: 250ms
connect_timeout: 2s
query_timeout: 3s
app_pool_size: 100
primary:
  name: db-main
  dsn: "host=db1 port=6432 user=mon password='s3 cr\\'et' dbname=app"
replicas:
  - name: r1
    dsn: "postgresql://mon@db2:5433/app?password=pwd%21&sslmode=require"
    application_name: walreceiver_r1
    weight: 3
  - name: r2
    dsn: postgresql://db3/app
routing:
  max_lag: 1m30s
  max_lag_bytes: 16MB
  fall: 5
  rise: 4
  health_check_interval: 15s
  fallback: none
  synthetic_check_interval: 20s
  synthetic_reads: 7
  probe_query: SELECT now()
lag_status:
  warning: 2s
  critical: 2s
)";
  std::string error;
  auto config = Load(text, &error);
  INFO(error);
  REQUIRE(config.has_value());
  CHECK(config->cluster == "prod-eu");
  CHECK(config->poll_interval == milliseconds(250));
  CHECK(config->connect_timeout == seconds(2));
  CHECK(config->query_timeout == seconds(3));
  CHECK(config->app_pool_size == 100);

  CHECK(config->primary.name == "db-main");
  CHECK(config->primary.role == Role::kPrimary);
  CHECK(config->primary.endpoint == "db1:6432");
  CHECK(config->primary.redacted_dsn ==
        "user=mon password=xxxxx dbname=app host=db1 port=6432");

  REQUIRE(config->replicas.size() == 2);
  const ServerConfig& r1 = config->replicas[0];
  CHECK(r1.name == "r1");
  CHECK(r1.role == Role::kReplica);
  CHECK(r1.application_name == "walreceiver_r1");
  CHECK(r1.weight == 3);
  CHECK(r1.endpoint == "db2:5433");
  CHECK(r1.redacted_dsn ==
        "user=mon password=xxxxx dbname=app host=db2 port=5433 "
        "sslmode=require");
  const ServerConfig& r2 = config->replicas[1];
  CHECK(r2.name == "r2");
  CHECK(r2.application_name == "r2");
  CHECK(r2.weight == 1);
  CHECK(r2.endpoint == "db3:5432");

  CHECK(config->routing.max_lag == seconds(90));
  CHECK(config->routing.max_lag_bytes == 16u << 20);
  CHECK(config->routing.fall == 5);
  CHECK(config->routing.rise == 4);
  CHECK(config->routing.health_check_interval == seconds(15));
  CHECK(config->routing.fallback == Fallback::kNone);
  CHECK(config->routing.synthetic_check_interval == seconds(20));
  CHECK(config->routing.synthetic_reads == 7);
  CHECK(config->routing.probe_query == "SELECT now()");
  CHECK(config->lag_status.warning == seconds(2));
  CHECK(config->lag_status.critical == seconds(2));

  // Both password forms were registered.
  CHECK(ScrubSecrets("s3 cr'et|pwd!|pwd%21") == "xxxxx|xxxxx|xxxxx");
}

TEST_CASE("The heartbeat keys", "[config]") {
  std::string error;
  auto off = Load(kMin, &error);
  REQUIRE(off);
  CHECK_FALSE(off->heartbeat.enabled);
  CHECK(off->heartbeat.interval == seconds(1));
  CHECK(off->heartbeat.table == "pg_replica_exporter_heartbeat");
  CHECK_FALSE(off->routing.check_heartbeat);
  auto on = Load(kMin +
                     "heartbeat:\n  enabled: true\n  interval: 250ms\n"
                     "  table: monitoring.hb_1\nrouting:\n"
                     "  check_heartbeat: true\n",
                 &error);
  REQUIRE(on);
  CHECK(on->heartbeat.enabled);
  CHECK(on->heartbeat.interval == milliseconds(250));
  CHECK(on->heartbeat.table == "monitoring.hb_1");
  CHECK(on->routing.check_heartbeat);
}

TEST_CASE("Endpoints come from the DSN", "[config]") {
  struct Case {
    std::string dsn;
    std::string endpoint;
  };
  const std::vector<Case> cases = {
      {"postgresql://db1/app", "db1:5432"},
      {"postgresql://u@db1:6432/app", "db1:6432"},
      {"postgres://db1", "db1:5432"},
      {"host=db1 port=6543", "db1:6543"},
      {"host=/tmp port=5433", "/tmp:5433"},
      {"dbname=app", "/var/run/postgresql:5432"},
      {"postgresql:///app", "/var/run/postgresql:5432"},
      {"postgresql://h1:5432,h2:5433/app", "h1:5432,h2:5433"},
      {"host=h1,h2 port=5433", "h1:5433,h2:5433"},
      {"postgresql://[::1]:5432/db", "[::1]:5432"},
      {"hostaddr=10.0.0.1", "10.0.0.1:5432"},
      {"host=db1 hostaddr=10.0.0.1", "db1:5432"},
  };
  for (const Case& c : cases) {
    INFO("dsn: " << c.dsn);
    std::string error;
    auto config = Load("primary: {dsn: '" + c.dsn + "'}\n", &error);
    INFO(error);
    REQUIRE(config.has_value());
    CHECK(config->primary.endpoint == c.endpoint);
  }
}

TEST_CASE("Bad configs fail with FILE:LINE: KEY: and no password", "[config]") {
  struct Case {
    std::string text;
    std::string prefix;     // the error must start with this
    std::string also = "";  // and contain this
  };
  const std::vector<Case> cases = {
      // YAML syntax.
      {"primary: [\n", "t.yml:2: YAML syntax error: "},
      {kMin + "a: b: c\n", "t.yml:3: YAML syntax error: "},
      // Structure.
      {"", "t.yml:1: primary: missing"},
      {"# nothing\n", "t.yml:1: primary: missing"},
      {"- 1\n", "t.yml:1: (top level): expected a mapping"},
      {"cluster: x\n", "t.yml:1: primary: missing"},
      {"? [a]\n: 1\n" + kMin, "t.yml:1: (top level): keys must be plain"},
      // Unknown and duplicate keys.
      {kMin + "pol_interval: 1s\n", "t.yml:3: pol_interval: unknown key"},
      {kMin + "routing:\n  maxlag: 5s\n",
       "t.yml:4: routing.maxlag: unknown key"},
      {kMin + "lag_status:\n  warning: 1s\n  crit: 2s\n",
       "t.yml:5: lag_status.crit: unknown key"},
      {kMin + "primary_dsn: x\n", "t.yml:3: primary_dsn: unknown key"},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n    wieght: 2\n",
       "t.yml:6: replicas[0].wieght: unknown key"},
      {"primary:\n  dsn: host=db1\n  weight: 2\n",
       "t.yml:3: primary.weight: unknown key (only replicas have it)"},
      {"primary:\n  dsn: host=db1\n  application_name: x\n"
       "replicas:\n  - name: r1\n    dsn: host=db2\n"
       "    application_name: x\n",
       "t.yml:7: replicas[0].application_name: duplicate application_name "
       "\"x\" (also that of server \"primary\"); each replica needs its own "
       "pg_stat_replication row"},
      {kMin + "poll_interval: 1s\npoll_interval: 2s\n",
       "t.yml:4: poll_interval: duplicate key"},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n    name: r2\n",
       "t.yml:6: replicas[0].name: duplicate key"},
      // The heartbeat.
      {kMin + "heartbeat:\n  enabled: yes\n",
       "t.yml:4: heartbeat.enabled: expected true or false, got \"yes\""},
      {kMin + "heartbeat:\n  enabled: true\n  table: \"hb; DROP TABLE x\"\n",
       "t.yml:5: heartbeat.table: expected name or schema.name"},
      {kMin + "heartbeat:\n  table: a.b.c\n",
       "t.yml:4: heartbeat.table: expected name or schema.name"},
      {kMin + "routing:\n  check_heartbeat: true\n",
       "t.yml:4: routing.check_heartbeat: requires heartbeat.enabled: true"},
      // Wrong types.
      {kMin + "poll_interval: [1s]\n",
       "t.yml:3: poll_interval: expected a duration like 5s, got a list"},
      {kMin + "routing: 5\n",
       "t.yml:3: routing: expected a mapping, got a "
       "scalar"},
      {kMin + "replicas: {a: 1}\n",
       "t.yml:3: replicas: expected a list of servers, got a mapping"},
      {kMin + "replicas:\n",
       "t.yml:3: replicas: expected a list of servers, "
       "got nothing"},
      {kMin + "replicas:\n  - host=db2\n",
       "t.yml:4: replicas[0]: expected a mapping with name and dsn"},
      {"primary: postgresql://db1\n", "t.yml:1: primary: expected a mapping"},
      {kMin + "cluster: {a: 1}\n", "t.yml:3: cluster: expected a string"},
      {kMin + "cluster:\n", "t.yml:3: cluster: expected a string, got nothing"},
      {kMin + "cluster: ''\n", "t.yml:3: cluster: must not be empty"},
      {kMin + "routing:\n  fall: three\n",
       "t.yml:4: routing.fall: expected an integer, got \"three\""},
      {kMin + "routing:\n  fallback: replica\n",
       "t.yml:4: routing.fallback: expected primary or none, got \"replica\""},
      {kMin + "routing:\n  max_lag_bytes: 1.5MB\n",
       "t.yml:4: routing.max_lag_bytes: expected a byte count"},
      {kMin + "routing:\n  max_lag_bytes: -1\n",
       "t.yml:4: routing.max_lag_bytes: expected a byte count"},
      {kMin + "routing:\n  probe_query: ''\n",
       "t.yml:4: routing.probe_query: must not be empty"},
      {kMin + "app_pool_size: lots\n",
       "t.yml:3: app_pool_size: expected an integer"},
      // Bad durations.
      {kMin + "poll_interval: 1x\n",
       "t.yml:3: poll_interval: invalid duration \"1x\""},
      {kMin + "poll_interval: -1s\n",
       "t.yml:3: poll_interval: negative duration \"-1s\""},
      {kMin + "poll_interval: ''\n", "t.yml:3: poll_interval: empty duration"},
      {kMin + "poll_interval:\n",
       "t.yml:3: poll_interval: expected a duration like 5s, got nothing"},
      {kMin + "poll_interval: 5\n",
       "t.yml:3: poll_interval: duration \"5\" has no unit"},
      {kMin + "connect_timeout: 0s\n",
       "t.yml:3: connect_timeout: duration must be greater than 0"},
      {kMin + "query_timeout: 0ms\n",
       "t.yml:3: query_timeout: duration must be greater than 0"},
      {kMin + "routing:\n  max_lag: 0s\n",
       "t.yml:4: routing.max_lag: duration must be greater than 0"},
      {kMin + "routing:\n  health_check_interval: 30000\n",
       "t.yml:4: routing.health_check_interval: duration \"30000\" has no "
       "unit"},
      {kMin + "lag_status:\n  warning: 1 s\n",
       "t.yml:4: lag_status.warning: invalid duration"},
      // Bounds.
      {kMin + "routing:\n  fall: 0\n", "t.yml:4: routing.fall: must be >= 1"},
      {kMin + "routing:\n  rise: -2\n", "t.yml:4: routing.rise: must be >= 1"},
      {kMin + "routing:\n  synthetic_reads: 0\n",
       "t.yml:4: routing.synthetic_reads: must be >= 1"},
      {kMin + "app_pool_size: 0\n", "t.yml:3: app_pool_size: must be >= 1"},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n    weight: 0\n",
       "t.yml:6: replicas[0].weight: must be >= 1"},
      {kMin + "lag_status:\n  warning: 10s\n  critical: 5s\n",
       "t.yml:5: lag_status.critical: must be >= lag_status.warning (5s < "
       "10s)"},
      {kMin + "lag_status:\n  warning: 10s\n",
       "t.yml:4: lag_status.critical: must be >= lag_status.warning"},
      // Servers.
      {"primary:\n  name: p\n", "t.yml:1: primary.dsn: missing"},
      {"primary:\n  dsn: ''\n", "t.yml:2: primary.dsn: must not be empty"},
      {kMin + "replicas:\n  - dsn: host=db2\n",
       "t.yml:4: replicas[0].name: missing"},
      {kMin + "replicas:\n  - name: r1\n  - name: r2\n    dsn: host=db3\n",
       "t.yml:4: replicas[0].dsn: missing"},
      {kMin + "replicas:\n  - name: ''\n    dsn: host=db2\n",
       "t.yml:4: replicas[0].name: must not be empty"},
      {kMin + "replicas:\n  - name: primary\n    dsn: host=db2\n",
       "t.yml:4: replicas[0].name: duplicate server name \"primary\" (also "
       "used by primary)"},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n"
              "  - name: r1\n    dsn: host=db3\n",
       "t.yml:6: replicas[1].name: duplicate server name \"r1\" (also used by "
       "replicas[0])"},
      {"primary:\n  name: db\n  dsn: host=db1\nreplicas:\n  - name: db\n"
       "    dsn: host=db2\n",
       "t.yml:5: replicas[0].name: duplicate server name \"db\""},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n"
              "  - name: r2\n    dsn: host=db3\n    application_name: r1\n",
       "t.yml:8: replicas[1].application_name: duplicate application_name "
       "\"r1\""},
      {kMin + "replicas:\n  - name: r1\n    dsn: host=db2\n"
              "    application_name: x\n"
              "  - name: x\n    dsn: host=db3\n",
       "t.yml:7: replicas[1].application_name: duplicate application_name "
       "\"x\""},
      // DSNs that libpq rejects; each carries the password.
      {"primary:\n  dsn: host=db1 password=hunter2-SECRET bogus=1\n",
       "t.yml:2: primary.dsn: invalid connection string: invalid connection "
       "option \"…\""},
      {"primary:\n  dsn: postgresql://mon:hunter2-SECRET@db1/app?foo=bar\n",
       "t.yml:2: primary.dsn: invalid connection string: invalid URI query "
       "parameter: \"…\""},
      {"primary:\n  dsn: host=db1 password=hunter2 SECRET\n",
       "t.yml:2: primary.dsn: invalid connection string: missing \"=\" after "
       "\"…\""},
      {"primary:\n  dsn: postgresql://mon:hunter2%zz@db1/app\n",
       "t.yml:2: primary.dsn: invalid connection string: invalid "
       "percent-encoded token: \"…\""},
      {"primary:\n  dsn: \"host=db1 password='hunter2-SECRET\"\n",
       "t.yml:2: primary.dsn: invalid connection string: unterminated quoted "
       "string"},
      {"primary:\n  dsn: postgresql://mon:hunter2/SECRET@db1/app\n",
       "t.yml:2: primary.dsn: invalid connection string: port is not a "
       "number"},
      {"primary:\n  dsn: \"postgresql://mon:hunter2 SECRET@db1/app\"\n"
       "cluster: [\n",
       "t.yml:4: YAML syntax error: "},
      {kMin + "replicas:\n  - name: r1\n    dsn: 'host=db2 port=99999'\n",
       "t.yml:5: replicas[0].dsn: invalid connection string: port is not a "
       "number"},
      {kMin + "replicas:\n  - name: r1\n    dsn: 'host=a,b port=1,2,3'\n",
       "t.yml:5: replicas[0].dsn: invalid connection string: 3 ports for 2 "
       "hosts"},
      {kMin + "replicas:\n  - name: r1\n    dsn: 'host=a,b hostaddr=1.2.3.4'\n",
       "t.yml:5: replicas[0].dsn: invalid connection string: 2 host names but "
       "1 hostaddr values"},
      // The password in the wrong place is still scrubbed (it was
      // registered from the dsn before anything was checked).
      {kMin + "poll_interval: hunter2-SECRET\n",
       "t.yml:3: poll_interval: invalid duration \"xxxxx\""},
  };
  for (const Case& c : cases) {
    INFO("config:\n" << c.text);
    std::string error;
    auto config = Load(c.text, &error);
    INFO("error: " << error);
    CHECK_FALSE(config.has_value());
    CHECK_THAT(error, Catch::StartsWith(c.prefix));
    if (!c.also.empty()) CHECK_THAT(error, Catch::Contains(c.also));
    CHECK(error.find(kPassword) == std::string::npos);
    CHECK(error.find('\n') == std::string::npos);
  }
}

TEST_CASE("LoadConfigFile reads a file and names it in errors", "[config]") {
  const std::string path = "config_test_tmp.yml";
  {
    std::ofstream out(path);
    out << kMin << "poll_interval: 2s\n";
  }
  std::string error;
  auto config = LoadConfigFile(path, &error);
  REQUIRE(config.has_value());
  CHECK(config->poll_interval == seconds(2));
  CHECK(config->source == "file " + path);
  {
    std::ofstream out(path);
    out << kMin << "poll_interval: 2\n";
  }
  CHECK_FALSE(LoadConfigFile(path, &error).has_value());
  CHECK_THAT(error, Catch::StartsWith(path + ":3: poll_interval: "));
  std::remove(path.c_str());

  CHECK_FALSE(LoadConfigFile("/nonexistent/x.yml", &error).has_value());
  CHECK(error == "/nonexistent/x.yml: cannot read: No such file or directory");
}

}  // namespace
}  // namespace pgre

namespace pgre {
namespace {

// A file under /tmp with `content`, removed when the object goes.
struct PasswordFile {
  explicit PasswordFile(const std::string& content) {
    char templ[] = "/tmp/pgre-pwfile-XXXXXX";
    const int fd = mkstemp(templ);
    REQUIRE(fd >= 0);
    path = templ;
    REQUIRE(write(fd, content.data(), content.size()) ==
            static_cast<ssize_t>(content.size()));
    close(fd);
  }
  ~PasswordFile() { std::remove(path.c_str()); }
  std::string path;
};

TEST_CASE("password_file: read at load, registered, never in the DSN",
          "[config]") {
  PasswordFile file("rho-file-secret\nsecond line ignored\n");
  std::string error;
  auto config = LoadConfigText(
      "primary:\n  dsn: host=db1 user=mon\n"
      "  password_file: " +
          file.path + "\n",
      "t.yml", &error);
  INFO(error);
  REQUIRE(config);
  CHECK(config->primary.password == "rho-file-secret");
  CHECK(config->primary.password_file == file.path);
  CHECK(config->primary.redacted_dsn == "user=mon host=db1");
  CHECK(ScrubSecrets("[rho-file-secret]") == "[xxxxx]");

  PasswordFile crlf("sigma-secret\r\n");
  config = LoadConfigText(
      "primary:\n  dsn: host=db1\n  password_file: " + crlf.path + "\n",
      "t.yml", &error);
  REQUIRE(config);
  CHECK(config->primary.password == "sigma-secret");
}

TEST_CASE("password_file: errors name file, line and key", "[config]") {
  PasswordFile empty("");
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"primary:\n  dsn: host=db1\n  password_file: /nonexistent/pw\n",
       "t.yml:3: primary.password_file: cannot read /nonexistent/pw: No such "
       "file or directory"},
      {"primary:\n  dsn: host=db1\n  password_file: " + empty.path + "\n",
       "t.yml:3: primary.password_file: " + empty.path + " is empty"},
      {"primary:\n  dsn: host=db1\n  password_file: /dev/zero\n",
       "t.yml:3: primary.password_file: /dev/zero: no line break in its "
       "first 4096 bytes"},
      {"primary:\n  dsn: host=db1 password=tau-pw\n  password_file: " +
           empty.path + "\n",
       "t.yml:2: primary.dsn: the connection string has a password and "
       "password_file is set: keep one"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string error;
    CHECK_FALSE(LoadConfigText(c.text, "t.yml", &error));
    CHECK(error == c.error);
    CHECK(error.find("tau-pw") == std::string::npos);
  }
}

}  // namespace
}  // namespace pgre

namespace pgre {
namespace {

TEST_CASE("multi-cluster: defaults, overrides, and config/multi-cluster.yml",
          "[config][clusters]") {
  std::string error;
  auto agent = LoadAgentConfigFile(
      std::string(PGRE_SOURCE_DIR) + "/config/multi-cluster.yml", &error);
  INFO(error);
  REQUIRE(agent);
  REQUIRE(agent->clusters.size() == 2);
  const Config& orders = agent->clusters[0];
  const Config& billing = agent->clusters[1];
  CHECK(orders.cluster == "orders");
  CHECK(orders.replicas.size() == 2);
  CHECK(orders.routing.max_lag == std::chrono::seconds(5));
  CHECK(orders.routing.health_check_interval == std::chrono::seconds(30));
  CHECK(billing.cluster == "billing");
  CHECK(billing.routing.max_lag == std::chrono::seconds(2));
  // A default not overridden stays; an override is the entry's alone.
  CHECK(billing.routing.health_check_interval == std::chrono::seconds(30));
  CHECK(billing.lag_status.critical == std::chrono::seconds(2));
  CHECK(orders.lag_status.critical == std::chrono::seconds(5));
  CHECK(billing.poll_interval == std::chrono::seconds(1));
  // Server names repeat across clusters: each cluster has its own.
  CHECK(billing.replicas[0].name == "replica1");

  // The single-cluster form is one cluster.
  agent = LoadAgentConfigText("cluster: solo\nprimary:\n  dsn: host=db1\n",
                              "t.yml", &error);
  REQUIRE(agent);
  REQUIRE(agent->clusters.size() == 1);
  CHECK(agent->clusters[0].cluster == "solo");
}

TEST_CASE("multi-cluster: mistakes name the entry, line and key",
          "[config][clusters]") {
  const std::string a =
      "  - name: a\n    primary:\n      dsn: host=a1\n";  // lines 2-4
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"clusters:\n" + a + "  - name: a\n    primary:\n      dsn: host=b1\n",
       "t.yml:5: clusters[1].name: duplicate cluster name \"a\" (also "
       "clusters[0])"},
      {"clusters:\n" + a + "  - primary:\n      dsn: host=b1\n",
       "t.yml:5: clusters[1].name: missing"},
      {"clusters:\n" + a + "  - name: b\n",
       "t.yml:5: clusters[1].primary: missing (the primary server is "
       "required without discovery.patroni.urls)"},
      {"clusters:\n" + a +
           "  - name: b\n    primary:\n      dsn: host=b1\n    replicas:\n"
           "      - name: r\n        dsn: host=b2\n      - name: r\n"
           "        dsn: host=b3\n",
       "t.yml:11: clusters[1].replicas[1].name: duplicate server name \"r\""},
      {"clusters:\n" + a +
           "  - name: b\n    primary:\n      dsn: host=b1\n    replicas:\n"
           "      - name: r\n        dsn: \"host=a1\"\n",
       "t.yml:10: clusters[1].replicas[0].dsn: the same connection as "
       "clusters[0].primary.dsn"},
      {"clusters:\n  - name: a\n    primary:\n      dsn: host=a1\n"
       "    replicas:\n      - name: r\n        dsn: \"port=5432 host=a1\"\n",
       "t.yml:7: clusters[0].replicas[0].dsn: the same connection as "
       "clusters[0].primary.dsn"},
      {"primary:\n  dsn: postgresql://u@db1/app\nreplicas:\n  - name: r\n"
       "    dsn: host=db1 user=u dbname=app port=5432\n",
       "t.yml:5: replicas[0].dsn: the same connection as primary.dsn"},
      {"clusters:\n" + a +
           "  - name: b\n    primary:\n      dsn: host=b1\n"
           "    routing:\n      fall: 0\n",
       "t.yml:9: clusters[1].routing.fall: "},
      {"clusters:\n" + a + "  - name: b\n    cluster: x\n",
       "t.yml:6: clusters[1].cluster: unknown key (a cluster's name is "
       "`name`)"},
      {"primary:\n  dsn: host=x\nclusters:\n" + a,
       "t.yml:1: primary: with clusters:, every cluster has its own"},
      {"cluster: x\nclusters:\n" + a,
       "t.yml:1: cluster: with clusters:, every cluster has its own "
       "(clusters[].name under each entry)"},
      {"clusters: []\n",
       "t.yml:1: clusters: expected a non-empty list of clusters"},
      {"clusters:\n  - 1\n", "t.yml:2: clusters[0]: expected a mapping"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string error;
    CHECK_FALSE(LoadAgentConfigText(c.text, "t.yml", &error));
    CHECK_THAT(error, Catch::StartsWith(c.error));
  }
}

TEST_CASE("pgbouncers: loaded, secrets registered, fronted server checked",
          "[config][pgbouncer]") {
  const std::string text =
      kMin +  // lines 1-2
      "replicas:\n"
      "  - name: r1\n"
      "    dsn: host=db2\n"
      "pgbouncers:\n"  // line 6
      "  - name: b1\n"
      "    dsn: \"postgresql://adm:bouncer-SECRET-1@db1:6432/"
      "pgbouncer\"\n"
      "    server: primary\n"
      "  - name: b2\n"
      "    dsn: host=db2 port=6432 dbname=pgbouncer\n";
  std::string error;
  auto config = Load(text, &error);
  INFO(error);
  REQUIRE(config.has_value());
  REQUIRE(config->pgbouncers.size() == 2);
  const PgBouncerConfig& b1 = config->pgbouncers[0];
  CHECK(b1.connection.name == "b1");
  CHECK(b1.server == "primary");
  CHECK(b1.connection.endpoint == "db1:6432");
  CHECK(b1.connection.redacted_dsn.find("bouncer-SECRET-1") ==
        std::string::npos);
  CHECK(ScrubSecrets("x bouncer-SECRET-1 y").find("bouncer-SECRET-1") ==
        std::string::npos);
  CHECK(config->pgbouncers[1].server.empty());
  CHECK(config->pgbouncers[1].connection.endpoint == "db2:6432");

  struct Case {
    std::string text;
    std::string error;
  };
  const std::string head = kMin +
                           "replicas:\n  - name: r1\n    dsn: host=db2\n"
                           "pgbouncers:\n";  // entries from line 7
  const std::vector<Case> cases = {
      {head + "  - name: b1\n    dsn: host=db1 port=6432\n    server: r2\n",
       "t.yml:9: pgbouncers[0].server: no server named \"r2\" in the cluster "
       "(primary, r1)"},
      {head + "  - name: r1\n    dsn: host=db1 port=6432\n",
       "t.yml:7: pgbouncers[0].name: duplicate name \"r1\" (also used by "
       "replicas[0])"},
      {head + "  - name: b\n    dsn: host=db1 port=6432\n"
              "  - name: b\n    dsn: host=db2 port=6432\n",
       "t.yml:9: pgbouncers[1].name: duplicate name \"b\" (also used by "
       "pgbouncers[0])"},
      {head + "  - name: b\n", "t.yml:7: pgbouncers[0].dsn: missing"},
      {head + "  - dsn: host=db1\n", "t.yml:7: pgbouncers[0].name: missing"},
      {head + "  - name: b\n    dsn: host=db1\n    sever: primary\n",
       "t.yml:9: pgbouncers[0].sever: unknown key"},
      {head +
           "  - name: b\n    dsn: \"postgresql://a:bouncer-SECRET-2@x:0/\"\n",
       "t.yml:8: pgbouncers[0].dsn: invalid connection string"},
      {kMin + "pgbouncers: x\n",
       "t.yml:3: pgbouncers: expected a list of pgbouncers"},
      {"clusters:\n  - name: a\n    primary:\n      dsn: host=a1\n"
       "    pgbouncers:\n      - name: b\n        dsn: host=a1 port=6432\n"
       "        server: replica9\n",
       "t.yml:8: clusters[0].pgbouncers[0].server: no server named "
       "\"replica9\""},
      {"clusters:\n  - name: a\n    primary:\n      dsn: host=a1\n"
       "    pgbouncers:\n      - name: b\n        dsn: \"host=a1 "
       "password=bouncer-SECRET-3 x\"\n",
       "t.yml:7: clusters[0].pgbouncers[0].dsn: invalid connection string"},
      {"pgbouncers: []\nclusters:\n  - name: a\n    primary:\n"
       "      dsn: host=a1\n",
       "t.yml:1: pgbouncers: with clusters:, every cluster has its own"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string e;
    CHECK_FALSE(LoadAgentConfigText(c.text, "t.yml", &e));
    CHECK_THAT(e, Catch::StartsWith(c.error));
    CHECK(e.find("bouncer-SECRET") == std::string::npos);
  }

  // The multi-cluster form: each cluster its own.
  auto agent = LoadAgentConfigText(
      "clusters:\n  - name: a\n    primary:\n      dsn: host=a1\n"
      "    pgbouncers:\n      - {name: b, dsn: host=a1 port=6432, server: "
      "primary}\n  - name: c\n    primary:\n      dsn: host=c1\n",
      "t.yml", &error);
  INFO(error);
  REQUIRE(agent.has_value());
  CHECK(agent->clusters[0].pgbouncers.size() == 1);
  CHECK(agent->clusters[1].pgbouncers.empty());
}

TEST_CASE("discovery.patroni: loaded, primary optional, secrets registered",
          "[config][discovery]") {
  PasswordFile db("upsilon-db-secret\n");
  PasswordFile rest("phi-rest-secret\n");
  std::string error;
  auto config = LoadConfigText(
      "cluster: ha\n"
      "discovery:\n"
      "  patroni:\n"
      "    urls: [\"http://10.0.0.1:8008\", \"https://[::1]:8008/\"]\n"
      "    interval: 5s\n"
      "    dsn_template: \"host={host} port={port} user=mon "
      "password=chi-tmpl-secret application_name={name}\"\n"
      "    basic_auth:\n"
      "      username: mon\n"
      "      password_file: " +
          rest.path + "\n",
      "t.yml", &error);
  INFO(error);
  REQUIRE(config);
  const PatroniDiscoveryConfig& d = config->discovery.patroni;
  CHECK(d.enabled());
  CHECK(d.urls == std::vector<std::string>{"http://10.0.0.1:8008",
                                           "https://[::1]:8008/"});
  CHECK(d.interval == seconds(5));
  CHECK(d.username == "mon");
  CHECK(d.rest_password == "phi-rest-secret");
  CHECK(config->primary.name.empty());  // the manager names the servers
  CHECK(config->replicas.empty());
  CHECK(ScrubSecrets("chi-tmpl-secret phi-rest-secret") == "xxxxx xxxxx");

  // Off by default; a configured primary stays.
  auto plain = Load(kMin, &error);
  REQUIRE(plain);
  CHECK_FALSE(plain->discovery.patroni.enabled());
  CHECK(plain->discovery.patroni.interval == seconds(10));
  (void)db;
}

TEST_CASE("discovery.patroni: mistakes name the line and key, never a secret",
          "[config][discovery]") {
  const std::string d = "discovery:\n  patroni:\n";
  const std::string urls = "    urls: [\"http://p1:8008\"]\n";
  const std::string tmpl = "    dsn_template: \"host={host} port={port}\"\n";
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {d + "    urls: http://p1:8008\n" + tmpl,
       "t.yml:3: discovery.patroni.urls: expected a list of strings, got a "
       "scalar"},
      {d + "    urls: [\"ftp://p1\"]\n" + tmpl,
       "t.yml:3: discovery.patroni.urls[0]: expected http://HOST:PORT or "
       "https://HOST:PORT, got \"ftp://p1\""},
      {d + "    urls:\n      - http://p1:8008\n      - http://:8008\n" + tmpl,
       "t.yml:5: discovery.patroni.urls[1]: no host in \"http://:8008\""},
      {d + "    urls: [\"http://p1:99999\"]\n" + tmpl,
       "t.yml:3: discovery.patroni.urls[0]: a port 1-65535 expected in "
       "\"http://p1:99999\""},
      {d + "    urls: [\"http://mon:psi-url-secret@p1:8008\"]\n" + tmpl,
       "t.yml:3: discovery.patroni.urls[0]: credentials in the URL; use "
       "discovery.patroni.basic_auth instead"},
      {d + urls,
       "t.yml:1: discovery.patroni.dsn_template: required with "
       "discovery.patroni.urls"},
      {d + urls + "    dsn_template: \"host={host}\"\n",
       "t.yml:4: discovery.patroni.dsn_template: lacks {port}"},
      {d + urls + "    dsn_template: \"host={host} port={port} nope=1\"\n",
       "t.yml:4: discovery.patroni.dsn_template: not a connection string"},
      {d + urls + tmpl + "    intervall: 5s\n",
       "t.yml:5: discovery.patroni.intervall: unknown key"},
      {d + urls + tmpl + "    basic_auth: {username: mon}\n",
       "t.yml:5: discovery.patroni.basic_auth.username: needs "
       "basic_auth.password_file too"},
      {d + urls + tmpl + "    tls_config: {cert_file: /etc/hostname}\n",
       "t.yml:5: discovery.patroni.tls_config.cert_file: needs "
       "tls_config.key_file too"},
      {d + urls + tmpl + "    tls_config: {ca_file: /nonexistent/ca.pem}\n",
       "t.yml:5: discovery.patroni.tls_config.ca_file: cannot read "
       "/nonexistent/ca.pem"},
      {d + urls + tmpl + "    password_file: /nonexistent/pw\n",
       "t.yml:5: discovery.patroni.password_file: cannot read /nonexistent/pw"},
      {d + tmpl,
       "t.yml:3: discovery.patroni.dsn_template: set without "
       "discovery.patroni.urls"},
      {"cluster: x\n",
       "t.yml:1: primary: missing (the primary server is "
       "required without discovery.patroni.urls)"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    std::string error;
    CHECK_FALSE(LoadConfigText(c.text, "t.yml", &error));
    CHECK_THAT(error, Catch::StartsWith(c.error));
    CHECK(error.find("psi-url-secret") == std::string::npos);
  }
}

}  // namespace
}  // namespace pgre
