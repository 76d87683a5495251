// Safe to expose: TLS and basic auth from --web.config.file with real
// clients (curl, openssl s_client, Prometheus scraping over https with
// basic_auth and a CA file), certificate rotation by SIGHUP, a refused web
// config, client certificates, and a Prometheus scrape that stays fast while
// hundreds of other connections sit idle, trickle, or hammer the agent.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "http/status_page.h"
#include "http/test_client.h"
#include "support/agent.h"
#include "support/cluster.h"
#include "support/prometheus_stack.h"
#include "support/subprocess.h"
#include "support/wait.h"
#include "web/basic_auth.h"
#include "web/test_pki.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPassword = "scrape-Pa55";
constexpr seconds kTimeout(30);

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The web config for the PKI's server certificate and one user.
std::string WebConfig(const TestPki& pki, const std::string& extra_tls = "") {
  return "tls_server_config:\n"
         "  cert_file: " +
         pki.dir() + "/server.crt\n  key_file: " + pki.dir() + "/server.key\n" +
         extra_tls +
         "basic_auth_users:\n"
         "  prometheus: " +
         MakeBcryptHash(kPassword, 6) + "\n";
}

// The subject of the certificate the agent presents.
std::string PresentedSubject(int port, const std::string& ca) {
  std::string out;
  const std::string cmd =
      "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
      " -CAfile " + ca +
      " </dev/null 2>/dev/null | openssl x509 -noout "
      "-subject";
  RunCommand({"sh", "-c", cmd}, &out);
  return out;
}

TEST_CASE("TLS and basic auth: curl and Prometheus over https, rotation",
          "[security][tls]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  TestPki pki;
  pki.Issue("server", "first");
  const std::string web = pki.dir() + "/web.yml";
  WriteFile(web, WebConfig(pki));
  AgentOptions options;
  options.extra_args = {"--web.config.file=" + web};
  options.ca_file = pki.ca_file();
  options.user = "prometheus";
  options.password = kPassword;
  AgentProcess agent(cluster, options);

  // curl: the right user, none, a wrong one, another user.
  const CurlResponse ok = agent.Curl("/metrics");
  INFO(ok.error);
  CHECK(ok.status == 200);
  CHECK(ok.body.find("pg_replica_up{") != std::string::npos);
  const CurlResponse none = agent.Curl("/metrics", {"-u", ""});
  CHECK(none.status == 401);
  CHECK(none.headers.find(
            "WWW-Authenticate: Basic realm=\"pg_replica_exporter\"") !=
        std::string::npos);
  CHECK(none.body.find("pg_replica") == std::string::npos);
  CHECK(agent.Curl("/metrics", {"-u", "prometheus:wrong"}).status == 401);
  CHECK(agent
            .Curl("/v1/system/database/replicas/status",
                  {"-u", "root:" + std::string(kPassword)})
            .status == 401);
  // What a load balancer or systemd polls needs no password.
  CHECK(agent.Curl("/-/healthy", {"-u", ""}).status == 200);
  CHECK(agent.Curl("/-/ready", {"-u", ""}).status == 200);
  // The listener speaks only TLS.
  HttpResponse plain = agent.Get("/metrics", seconds(3));
  CHECK(plain.status == 0);
  CHECK(plain.body.find("pg_replica") == std::string::npos);
  CHECK(PresentedSubject(agent.port(), pki.ca_file()).find("CN = first") !=
        std::string::npos);

  // Prometheus itself, over https with basic_auth and the CA file.
  {
    PrometheusOptions prom_options;
    prom_options.scrape_target = "localhost:" + std::to_string(agent.port());
    prom_options.scheme = "https";
    prom_options.ca_file = pki.ca_file();
    prom_options.basic_auth_user = "prometheus";
    prom_options.basic_auth_password = kPassword;
    PrometheusServer prometheus(prom_options);
    CHECK(WaitUntil(
        [&] {
          try {
            return prometheus.Query("up == 1").size() == 1 &&
                   !prometheus.Query("pg_replica_up").empty();
          } catch (const std::exception&) {
            return false;
          }
        },
        kTimeout));
  }

  // Rotation: new files, SIGHUP, the new certificate on new connections.
  pki.Issue("server", "rotated");
  REQUIRE(agent.process().Signal(SIGHUP));
  CHECK(WaitUntil(
      [&] {
        return PresentedSubject(agent.port(), pki.ca_file())
                   .find("CN = rotated") != std::string::npos;
      },
      kTimeout));
  CHECK(agent.Curl("/metrics").status == 200);

  // A broken file on SIGHUP: refused, the running settings stay.
  WriteFile(web, "basic_auth_users:\n  prometheus: not-a-hash\n");
  REQUIRE(agent.process().Signal(SIGHUP));
  CHECK(WaitUntil(
      [&] {
        const CurlResponse r = agent.Curl("/metrics");
        return r.status == 200 &&
               r.body.find(
                   "pg_replica_exporter_web_config_last_reload_successful 0") !=
                   std::string::npos;
      },
      kTimeout));
  CHECK(agent.Log().find(web + ":2: basic_auth_users.prometheus: not a bcrypt "
                               "hash") != std::string::npos);
  CHECK(agent.Curl("/metrics", {"-u", ""}).status == 401);
  CHECK(PresentedSubject(agent.port(), pki.ca_file()).find("CN = rotated") !=
        std::string::npos);
  CHECK(agent.Log().find(kPassword) == std::string::npos);
}

TEST_CASE("client certificates: RequireAndVerifyClientCert",
          "[security][tls]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  TestPki pki;
  pki.Issue("server");
  const std::string client = pki.Issue("client", "scraper");
  const std::string web = pki.dir() + "/web.yml";
  WriteFile(web,
            "tls_server_config:\n  cert_file: server.crt\n"
            "  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n"
            "  client_ca_file: ca.crt\n");
  AgentOptions options;
  options.extra_args = {"--web.config.file=" + web};
  options.ca_file = pki.ca_file();
  options.client_cert = client;
  AgentProcess agent(cluster, options);
  CHECK(agent.Curl("/metrics").status == 200);
  // Without a client certificate the handshake fails: no HTTP at all.
  std::string out;
  const int rc = RunCommand(
      {"curl", "-sS", "--max-time", "10", "--cacert", pki.ca_file(),
       "https://127.0.0.1:" + std::to_string(agent.port()) + "/-/healthy"},
      &out);
  CHECK(rc != 0);
  CHECK(out.find("OK") == std::string::npos);
  // A certificate from another CA is refused too.
  TestPki other;
  const std::string stranger = other.Issue("client");
  out.clear();
  CHECK(
      RunCommand(
          {"curl", "-sS", "--max-time", "10", "--cacert", pki.ca_file(),
           "--cert", stranger + ".crt", "--key", stranger + ".key",
           "https://127.0.0.1:" + std::to_string(agent.port()) + "/-/healthy"},
          &out) != 0);
}

TEST_CASE("a bad web config stops the start with exit code 2", "[security]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  TestPki pki;
  pki.Issue("server");
  pki.Issue("other");
  const std::string config = pki.dir() + "/agent.yml";
  WriteFile(config, AgentConfigYaml(cluster, AgentOptions{}));
  struct Case {
    std::string web;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
       "web.yml:3: tls_server_config.key_file: " + pki.dir() +
           "/other.key: does not match the certificate"},
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: none.key\n",
       "web.yml:3: tls_server_config.key_file: " + pki.dir() +
           "/none.key: No such file or directory"},
      {"basic_auth_users:\n  prometheus: hunter2\n",
       "web.yml:2: basic_auth_users.prometheus: not a bcrypt hash"},
      {"tls_server_config:\n  cert: inline\n",
       "web.yml:2: tls_server_config.cert: not supported"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.web);
    WriteFile(pki.dir() + "/web.yml", c.web);
    for (const char* check : {"--config.check", "--log.level=info"}) {
      std::string out;
      CommandOptions opts;
      opts.timeout = seconds(20);
      const int rc = RunCommand({PGRE_BINARY, "--config.file=" + config,
                                 "--web.config.file=" + pki.dir() + "/web.yml",
                                 check, "--web.listen-address=127.0.0.1:0"},
                                &out, opts);
      CHECK(rc == 2);
      CHECK(out.find(c.error) != std::string::npos);
      CHECK(out.find("hunter2") == std::string::npos);
    }
  }
}

TEST_CASE(
    "a Prometheus scrape stays fast under idle, trickling and busy "
    "clients",
    "[security][limits][tsan]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  AgentOptions options;
  AgentProcess agent(cluster, options);
  PrometheusOptions prom_options;
  prom_options.scrape_target = "127.0.0.1:" + std::to_string(agent.port());
  PrometheusServer prometheus(prom_options);
  REQUIRE(WaitUntil(
      [&] {
        try {
          return prometheus.Query("up == 1").size() == 1;
        } catch (const std::exception&) {
          return false;
        }
      },
      kTimeout));

  std::vector<std::unique_ptr<RawClient>> idle, trickling;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<RawClient>(agent.port()));
    trickling.push_back(std::make_unique<RawClient>(agent.port()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> scrapes{0};
  std::thread trickle([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    std::size_t at = 0;
    while (!stop) {
      for (auto& c : trickling) c->Send(std::string(1, request[at]));
      at = (at + 1) % request.size();
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  std::vector<std::thread> loaders;
  for (int i = 0; i < 32; ++i) {
    loaders.emplace_back([&] {
      while (!stop) {
        if (agent.Get("/metrics", seconds(5)).status == 200) ++scrapes;
      }
    });
  }
  // 15 scrapes by Prometheus under that load (one a second).
  const auto start = std::chrono::steady_clock::now();
  const bool waited = WaitUntil(
      [&] {
        return std::chrono::steady_clock::now() - start > seconds(15) &&
               scrapes > 100;
      },
      seconds(60), milliseconds(500));
  const auto worst =
      prometheus.Query("max_over_time(scrape_duration_seconds[15s])");
  const auto up = prometheus.Query("min_over_time(up[15s])");
  stop = true;
  trickle.join();
  for (auto& t : loaders) t.join();
  REQUIRE(waited);
  REQUIRE(worst.size() == 1);
  const double seconds_worst =
      std::stod(worst[0]["value"][1].get<std::string>());
  INFO("worst scrape " << seconds_worst << " s, " << scrapes
                       << " loop scrapes");
  WARN("worst Prometheus scrape under load: " << seconds_worst << " s, "
                                              << scrapes << " loop scrapes");
  CHECK(seconds_worst < 0.5);
  REQUIRE(up.size() == 1);
  CHECK(up[0]["value"][1] == "1");
}

}  // namespace
}  // namespace pgre::testing

namespace pgre::testing {
namespace {

// The ways a URI writes `value`: every byte but [A-Za-z0-9-._~] as %XX.
std::string PercentEncode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

TEST_CASE("no form of any secret in anything the agent writes or serves",
          "[security][secrets]") {
  TestCluster cluster(ClusterOptions{.replicas = 4, .password = "x-monitor"});
  const std::string uri_pw = "Alpha/pw@ss x";        // URI userinfo
  const std::string uri_sslpw = "Sslpw+key";         // URI query sslpassword
  const std::string kv_pw = "Beta pw'q";             // key=value, quoted
  const std::string kv_sslpw = "Beta-ssl-pw";        // key=value sslpassword
  const std::string file_pw = "Gamma-file-pw";       // password_file
  const std::string passfile_pw = "Delta-passfile";  // passfile= in the DSN
  const std::string env_pw = "Eta-PGPASSFILE";       // PGPASSFILE
  const std::string wrong_pw = "Epsilon-wrong-pw";   // fails to authenticate
  const std::string refused_pw = "Zeta-refused-pw";  // in a refused reload
  cluster.CreateRole("mon_a", uri_pw);
  cluster.CreateRole("mon_b", kv_pw);
  cluster.CreateRole("mon_c", file_pw);
  cluster.CreateRole("mon_d", passfile_pw);
  cluster.CreateRole("mon_e", env_pw);
  TestPki pki;  // only for its temp dir
  const std::string dir = pki.dir();
  WriteFile(dir + "/c.pw", file_pw + "\n");
  WriteFile(dir + "/pgpass", "127.0.0.1:*:*:mon_d:" + passfile_pw + "\n");
  WriteFile(dir + "/pgpass-env", "127.0.0.1:*:*:mon_e:" + env_pw + "\n");
  chmod((dir + "/pgpass").c_str(), 0600);
  chmod((dir + "/pgpass-env").c_str(), 0600);

  auto p = [&](int server) { return std::to_string(cluster.Port(server)); };
  AgentOptions options;
  options.dsn_override = {
      {TestCluster::kPrimary,
       "postgresql://mon_a:" + PercentEncode(uri_pw) + "@127.0.0.1:" + p(-1) +
           "/postgres?sslpassword=" + PercentEncode(uri_sslpw)},
      {0, "host=127.0.0.1 port=" + p(0) +
              " user=mon_b password='Beta pw\\'q' sslpassword=" + kv_sslpw +
              " dbname=postgres"},
      {1, "host=127.0.0.1 port=" + p(1) + " user=mon_c dbname=postgres"},
      {2, "host=127.0.0.1 port=" + p(2) +
              " user=mon_d dbname=postgres "
              "passfile=" +
              dir + "/pgpass"},
      {3, "host=127.0.0.1 port=" + p(3) + " user=mon_e dbname=postgres"},
  };
  options.server_keys[1] = {"password_file: " + dir + "/c.pw"};
  options.extra_args = {"--log.level=debug"};
  options.env = {{"PGPASSFILE", dir + "/pgpass-env"}};
  const std::string yaml = AgentConfigYaml(cluster, options);
  AgentProcess agent(cluster, options);
  const auto all_up = agent.ScrapeUntil(
      [](const auto& s) {
        for (const char* name :
             {"primary", "replica1", "replica2", "replica3", "replica4"}) {
          if (Find(s, "pg_replica_up", {{"server", name}}) != 1.0) {
            return false;
          }
        }
        return true;
      },
      kTimeout);
  INFO(agent.Log());
  REQUIRE(all_up);  // every form of password works

  // A reload with a wrong password (connects fail, repeatedly), then a
  // refused reload whose file carries yet another secret.
  AgentOptions wrong_options = options;
  wrong_options.dsn_override[0] = "host=127.0.0.1 port=" + p(0) +
                                  " user=mon_b password=" + wrong_pw +
                                  " dbname=postgres";
  const std::string wrong = AgentConfigYaml(cluster, wrong_options);
  WriteFile(agent.config_path(), wrong);
  REQUIRE(agent.process().Signal(SIGHUP));
  REQUIRE(agent.ScrapeUntil(
      [](const auto& s) {
        return Find(s, "pg_replica_poll_errors_total", {{"server", "replica1"}})
                   .value_or(0) >= 2;
      },
      kTimeout));
  WriteFile(agent.config_path(), wrong +
                                     "bogus_key: 1\n"
                                     "# postgresql://u:" +
                                     refused_pw + "@[::1/db\n");
  REQUIRE(agent.process().Signal(SIGHUP));
  REQUIRE(WaitUntil(
      [&] {
        return agent.Metric(
                   "pg_replica_exporter_config_last_reload_successful") == 0.0;
      },
      kTimeout));

  // Everything it serves and writes.
  std::map<std::string, std::string> seen;
  for (const char* path :
       {"/", "/status.json", "/metrics", "/-/healthy", "/-/ready", "/nope",
        "/v1/system/database/replicas/status",
        "/v1/system/database/replicas/health",
        "/v1/system/database/replicas/lag",
        "/v1/system/database/connection-pool/stats"}) {
    seen[path] = agent.Get(path).body;
  }
  for (const std::string& file : {agent.config_path(), std::string()}) {
    std::string out;
    std::vector<std::string> argv = {PGRE_BINARY, "--config.check"};
    if (!file.empty()) argv.push_back("--config.file=" + file);
    CommandOptions opts;
    opts.env = {{"PGPASSFILE", dir + "/pgpass-env"}};
    RunCommand(argv, &out, opts);
    seen["--config.check " + file] = out;
  }
  WriteFile(dir + "/agent.yml", yaml);
  std::string check_ok;
  CommandOptions check_opts;
  check_opts.env = {{"PGPASSFILE", dir + "/pgpass-env"}};
  RunCommand(
      {PGRE_BINARY, "--config.check", "--config.file=" + dir + "/agent.yml"},
      &check_ok, check_opts);
  seen["--config.check (valid)"] = check_ok;
  CHECK(check_ok.find("configuration OK") != std::string::npos);
  CHECK(check_ok.find("password=xxxxx") != std::string::npos);
  seen["log"] = agent.Log();
  CHECK(seen["log"].find("password authentication failed") !=
        std::string::npos);
  CHECK(seen["log"].find("reload failed") != std::string::npos);
  // The status page shows the refused reload's message and the failed
  // connection's error (both scanned below).
  CHECK(seen["/"].find("last reload: <span class=\"lv critical\">FAILED") !=
        std::string::npos);
  CHECK(seen["/"].find("password authentication failed") != std::string::npos);

  const std::vector<std::string> secrets = {
      uri_pw,      PercentEncode(uri_pw),
      uri_sslpw,   PercentEncode(uri_sslpw),
      kv_pw,       "Beta pw\\'q",
      kv_sslpw,    file_pw,
      passfile_pw, env_pw,
      wrong_pw,    refused_pw,
      "x-monitor"};
  // As the status page would escape them, too.
  std::vector<std::string> forms = secrets;
  for (const std::string& secret : secrets) {
    if (HtmlEscape(secret) != secret) forms.push_back(HtmlEscape(secret));
  }
  for (const auto& [where, text] : seen) {
    for (const std::string& secret : forms) {
      INFO(where << " must not show " << secret);
      CHECK(text.find(secret) == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace pgre::testing
