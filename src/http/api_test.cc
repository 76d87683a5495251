#include "http/api.h"

#include <catch2/catch.hpp>
#include <map>

#include "http/gzip.h"
#include "http/http_server.h"

namespace pgre {
namespace {

// A scrape's body without the agent's timing of scrapes, which changes with
// every request (pg_replica_exporter_scrape_duration_seconds).
std::string WithoutScrapeTiming(const std::string& body) {
  std::string out;
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t end = body.find('\n', at);
    end = end == std::string::npos ? body.size() : end + 1;
    const std::string_view line(body.data() + at, end - at);
    if (!line.starts_with("pg_replica_exporter_scrape_duration_seconds")) {
      out.append(line);
    }
    at = end;
  }
  return out;
}

Config OneReplica() {
  Config c;
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  ServerConfig r;
  r.name = "replica1";
  c.replicas.push_back(r);
  return c;
}

TEST_CASE("routes, methods and content types", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1.2.3", "abc"}, "/metrics");

  struct Case {
    const char* method;
    const char* path;
    int status;
  };
  const Case cases[] = {
      {"GET", "/metrics", 200},
      {"HEAD", "/metrics", 200},
      {"GET", "/", 200},
      {"GET", "/-/healthy", 200},
      {"POST", "/metrics", 405},
      {"DELETE", "/", 405},
      {"GET", "/nope", 404},
      {"GET", "/metrics/", 404},
      {"POST", "/nope", 404},
      {"GET", "/v1/system/database/replicas/status", 200},
      {"PUT", "/v1/system/database/replicas/status", 405},
  };
  for (const Case& c : cases) {
    INFO(c.method << " " << c.path);
    CHECK(api.Handle(c.method, c.path).status == c.status);
  }
  const HttpResponse metrics = api.Handle("GET", "/metrics");
  CHECK(metrics.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(metrics.Body().find("pg_replica_exporter_build_info{revision=\"abc\","
                            "version=\"1.2.3\"} 1") != std::string::npos);
  CHECK(metrics.Body().find("pg_replica_up{") != std::string::npos);
}

TEST_CASE("a custom telemetry path moves the metrics", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"}, "/prom");
  CHECK(api.Handle("GET", "/prom").status == 200);
  CHECK(api.Handle("GET", "/metrics").status == 404);
}

TEST_CASE("listen addresses", "[api]") {
  struct Case {
    const char* in;
    bool ok;
    const char* host;
    int port;
  };
  const Case cases[] = {
      {":9856", true, "", 9856},
      {"127.0.0.1:9856", true, "127.0.0.1", 9856},
      {"[::1]:9856", true, "::1", 9856},
      {"[::]:9856", true, "::", 9856},
      {"localhost:80", true, "127.0.0.1", 80},
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"9856", false, "", 0},
      {":", false, "", 0},
      {":99999", false, "", 0},
      {":abc", false, "", 0},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    std::string error;
    auto a = ParseListenAddress(c.in, &error);
    CHECK(a.has_value() == c.ok);
    if (a) {
      CHECK(a->host == c.host);
      CHECK(a->port == c.port);
    } else {
      CHECK_FALSE(error.empty());
    }
  }
}

TEST_CASE("/-/ready waits for every server's first poll", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"});
  HttpResponse r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "not ready: 2 servers not polled yet\n");
  PollOutcome failed;  // a failed poll counts: the server was polled
  failed.error = "connect: refused";
  store.RecordPoll(0, failed);
  CHECK(api.Handle("GET", "/-/ready").status == 503);
  store.RecordPoll(1, failed);
  r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
  CHECK(api.Handle("POST", "/-/ready").status == 405);
  CHECK(api.Handle("GET", "/-/healthy").status == 200);
}

TEST_CASE("/-/ready waits for clusters whose members are not discovered yet",
          "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"});
  std::vector<std::string> waiting = {"alpha", "beta"};
  api.SetWaitingClusters([&] { return waiting; });
  HttpResponse r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body ==
        "not ready: 2 servers not polled yet; waiting for the members of "
        "alpha, beta from Patroni\n");
  PollOutcome failed;
  failed.error = "connect: refused";
  store.RecordPoll(0, failed);
  store.RecordPoll(1, failed);
  r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body ==
        "not ready: waiting for the members of alpha, beta from "
        "Patroni\n");
  waiting = {};
  r = api.Handle("GET", "/-/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
}

TEST_CASE("/metrics is gzipped when the client accepts it", "[api]") {
  FakeClock clock;
  ClusterState store(OneReplica(), &clock);
  Api api(&store, BuildInfo{"1", "r"});
  ApiRequest plain{"GET", "/metrics", "", false};
  ApiRequest gz{"GET", "/metrics", "", true};
  const HttpResponse a = api.Handle(plain);
  const HttpResponse b = api.Handle(gz);
  bool ok = false;
  CHECK(WithoutScrapeTiming(Gunzip(b.Body(), &ok)) ==
        WithoutScrapeTiming(a.Body()));
  CHECK(ok);
  auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  CHECK(header(b, "Content-Encoding") == "gzip");
  CHECK(header(a, "Content-Encoding").empty());
  CHECK(header(a, "Vary") == "Accept-Encoding");
  // Only /metrics is compressed.
  CHECK(header(api.Handle(ApiRequest{"GET", "/-/healthy", "", true}),
               "Content-Encoding")
            .empty());
}

Config Named(const std::string& name) {
  Config c = OneReplica();
  c.cluster = name;
  return c;
}

PollOutcome Up(const FakeClock& clock, bool primary) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.sample.collector_success["server"] = true;
  o.sample.in_recovery = !primary;
  if (primary) {
    o.sample.current_lsn = 5000;
  } else {
    o.sample.replay_lsn = 5000;
  }
  return o;
}

// Count of lines of `text` starting with `prefix`.
int Lines(const std::string& text, const std::string& prefix) {
  int n = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    if (text.compare(at, prefix.size(), prefix) == 0) ++n;
    const auto nl = text.find('\n', at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return n;
}

TEST_CASE("many clusters: one family header, every cluster's series", "[api]") {
  FakeClock clock;
  ClusterState a(Named("alpha"), &clock), b(Named("beta"), &clock);
  a.RecordPoll(0, Up(clock, true));
  b.RecordPoll(0, Up(clock, true));
  b.RecordPoll(1, Up(clock, false));
  Api api({&a, &b}, BuildInfo{"1", "r"});
  const std::string text = api.Handle("GET", "/metrics").Body();
  CHECK(Lines(text, "# TYPE pg_replica_up ") == 1);
  CHECK(Lines(text, "# HELP pg_replica_up ") == 1);
  CHECK(Lines(text, "pg_replica_up{cluster=\"alpha\"") == 2);
  CHECK(Lines(text, "pg_replica_up{cluster=\"beta\"") == 2);
  // A family only one cluster has (beta's replica was polled) is there,
  // once.
  CHECK(Lines(text, "# TYPE pg_replica_wal_replay_lsn_bytes ") == 1);
  CHECK(Lines(text, "pg_replica_wal_replay_lsn_bytes{cluster=\"beta\"") == 1);
  CHECK(Lines(text, "pg_replica_wal_replay_lsn_bytes{cluster=\"alpha\"") == 0);
  // Every family's series follow its header, in one block.
  std::map<std::string, int> blocks;
  std::string current;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      ++blocks[current];
    } else if (line[0] != '#') {
      const std::string name = line.substr(0, line.find_first_of("{ "));
      INFO(line);
      CHECK((name == current || name.rfind(current + "_", 0) == 0));
    }
  }
  for (const auto& [name, n] : blocks) {
    INFO(name);
    CHECK(n == 1);
  }
}

TEST_CASE("JSON endpoints take ?cluster=, the first cluster by default",
          "[api]") {
  FakeClock clock;
  ClusterState a(Named("alpha"), &clock), b(Named("beta/west 1"), &clock);
  Api api({&a, &b}, BuildInfo{"1", "r"});
  auto get = [&](std::string_view query) {
    return api.Handle(
        ApiRequest{"GET", "/v1/system/database/replicas/status", query});
  };
  CHECK(get("").Body().find("\"cluster\": \"alpha\"") != std::string::npos);
  CHECK(get("cluster=alpha").Body().find("\"cluster\": \"alpha\"") !=
        std::string::npos);
  const HttpResponse beta = get("cluster=beta%2Fwest+1");
  CHECK(beta.status == 200);
  CHECK(beta.Body().find("\"cluster\": \"beta/west 1\"") != std::string::npos);
  const HttpResponse unknown = get("cluster=gamma");
  CHECK(unknown.status == 404);
  CHECK(unknown.content_type == "application/json");
  CHECK(unknown.Body().find("\"alpha\"") != std::string::npos);

  const HttpResponse list =
      api.Handle(ApiRequest{"GET", "/v1/system/database/clusters", ""});
  CHECK(list.status == 200);
  const std::string body = list.Body();
  CHECK(body.find("\"name\": \"alpha\"") < body.find("\"name\": \"beta"));
  CHECK(body.find("/v1/system/database/replicas/lag?cluster=beta%2Fwest%201") !=
        std::string::npos);
  CHECK(body.find("\"ready\": false") != std::string::npos);
}

TEST_CASE("the status page at /, its live part at /status.json", "[api]") {
  FakeClock clock;
  ClusterState a(Named("alpha"), &clock), b(Named("beta/west 1"), &clock);
  Api api({&a, &b}, BuildInfo{"1.2.3", "abc"});
  auto get = [&](std::string_view path, std::string_view query = "") {
    return api.Handle(ApiRequest{"GET", path, query});
  };
  const HttpResponse page = get("/");
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  std::map<std::string, std::string> headers(page.headers.begin(),
                                             page.headers.end());
  CHECK(headers["Content-Security-Policy"] == StatusPageCsp());
  CHECK(headers["Cache-Control"] == "no-store");
  const std::string body = page.Body();
  CHECK(body.find("data-cluster=\"alpha\" id=") != std::string::npos);
  CHECK(body.find("data-cluster=\"beta/west 1\" id=") != std::string::npos);
  CHECK(body.find("pg_replica_exporter 1.2.3 (abc)") != std::string::npos);
  // One cluster.
  const std::string beta = get("/", "cluster=beta%2Fwest+1").Body();
  CHECK(beta.find("data-cluster=\"alpha\" id=") == std::string::npos);
  CHECK(beta.find("data-cluster=\"beta/west 1\" id=") != std::string::npos);
  // Unknown: 404, as HTML for the page and as JSON for the script.
  const HttpResponse unknown = get("/", "cluster=gamma");
  CHECK(unknown.status == 404);
  CHECK(unknown.Body().find("No cluster named gamma") != std::string::npos);
  CHECK(get("/status.json", "cluster=gamma").status == 404);
  CHECK(get("/status.json", "cluster=gamma").content_type ==
        "application/json");
  // The live part, with the agent's state as the app sets it.
  api.UpdateAgentState([](AgentState& s) {
    s.config_reload_ok = false;
    s.config_reload_error = "x.yml:1: bad";
  });
  const HttpResponse live = get("/status.json");
  CHECK(live.status == 200);
  CHECK(live.content_type == "application/json");
  const std::string json = live.Body();
  CHECK(json.find("\"html\":") != std::string::npos);
  CHECK(json.find("x.yml:1: bad") != std::string::npos);
  CHECK(json.find("data-cluster=\\\"alpha\\\" id=") != std::string::npos);
  CHECK(api.Handle("POST", "/status.json").status == 405);
  CHECK(api.Handle("HEAD", "/").status == 200);
}

TEST_CASE("JSON answers are rendered once per snapshot, a 404 reads none",
          "[api]") {
  FakeClock clock;
  ClusterState a(Named("alpha"), &clock);
  int reads = 0;
  const auto list = std::make_shared<ClusterList>(
      ClusterList{std::shared_ptr<const ClusterState>(
          std::shared_ptr<const ClusterState>(), &a)});
  Api api(
      [&]() -> std::shared_ptr<const ClusterList> {
        ++reads;
        return list;
      },
      BuildInfo{"1", "r"});
  CHECK(api.Handle("GET", "/nope").status == 404);
  CHECK(api.Handle("GET", "/v1/system/database/replicas/nope").status == 404);
  CHECK(reads == 0);
  const HttpResponse r1 = api.Handle("GET", "/v1/system/database/replicas/lag");
  const HttpResponse r2 = api.Handle("GET", "/v1/system/database/replicas/lag");
  REQUIRE(r1.shared_body);
  CHECK(r1.shared_body == r2.shared_body);  // the same bytes, not a copy
  a.RecordPoll(0, Up(clock, true));
  const HttpResponse r3 = api.Handle("GET", "/v1/system/database/replicas/lag");
  CHECK(r3.shared_body != r1.shared_body);
  CHECK(r3.Body() != r1.Body());
}

TEST_CASE("a gzipped scrape is the plain one, compressed, from the cache",
          "[api]") {
  FakeClock clock;
  ClusterState a(Named("alpha"), &clock), b(Named("beta"), &clock);
  Api api({&a, &b}, BuildInfo{"1", "r"});
  ApiRequest gz{"GET", "/metrics", "", true};
  ApiRequest plain{"GET", "/metrics", "", false};
  const HttpResponse g1 = api.Handle(gz);
  const HttpResponse g2 = api.Handle(gz);
  CHECK(g1.shared_body == g2.shared_body);  // compressed once
  bool ok = false;
  CHECK(WithoutScrapeTiming(Gunzip(g1.Body(), &ok)) ==
        WithoutScrapeTiming(api.Handle(plain).Body()));
  CHECK(ok);
  // After a change too (whichever rendering serves, both encodings come
  // from the same body).
  a.RecordPoll(0, Up(clock, true));
  const HttpResponse g3 = api.Handle(gz);
  CHECK(WithoutScrapeTiming(Gunzip(g3.Body(), &ok)) ==
        WithoutScrapeTiming(api.Handle(plain).Body()));
  CHECK(ok);
}

// --- /lb/ ------------------------------------------------------------------

TEST_CASE("/lb/ checks answer from the routing model", "[api][lb]") {
  FakeClock clock;
  ClusterState c(Named("main"), &clock);
  Api api(&c, BuildInfo{"1", "r"});
  c.RecordPoll(0, Up(clock, true));
  PollOutcome replica = Up(clock, false);
  replica.sample.collector_success["wal_receiver"] = true;
  replica.sample.wal_receiver = WalReceiverRow{};
  replica.sample.wal_receiver->status = "streaming";
  c.RecordPoll(1, replica);

  // Before the first health check every check fails, saying so.
  HttpResponse r = api.Handle("GET", "/lb/main/replica1/read-only");
  CHECK(r.status == 503);
  CHECK(r.content_type == "application/json");
  CHECK(r.Body().find("\"reason\": \"first health check not done yet\"") !=
        std::string::npos);

  c.HealthCheck();
  r = api.Handle("GET", "/lb/main/replica1/read-only");
  CHECK(r.status == 200);
  const std::string body = r.Body();
  for (const char* field :
       {"\"cluster\": \"main\"", "\"server\": \"replica1\"",
        "\"check\": \"read-only\"", "\"role\": \"replica\"",
        "\"observedRole\": \"replica\"", "\"up\": true", "\"inRotation\": true",
        "\"lagSeconds\": 0.0", "\"lagIsLowerBound\": false",
        "\"reason\": \"ok\""}) {
    INFO(body);
    CHECK(body.find(field) != std::string::npos);
  }

  struct Case {
    const char* method;
    const char* path;
    const char* query;
    int status;
  };
  const Case cases[] = {
      {"GET", "/lb/main/primary/read-only", "", 503},
      {"GET", "/lb/main/primary/primary", "", 200},
      {"GET", "/lb/main/primary/read-write", "", 200},
      {"GET", "/lb/main/replica1/primary", "", 503},
      {"GET", "/lb/main/replica1/replica", "", 200},
      {"GET", "/lb/main/primary/replica", "", 503},
      {"GET", "/lb/main/replica1/health", "", 200},
      {"HEAD", "/lb/main/replica1/read-only", "", 200},
      {"OPTIONS", "/lb/main/replica1/read-only", "", 200},
      {"OPTIONS", "/lb/main/primary/read-only", "", 503},
      {"GET", "/lb/ma%69n/replica%31/health", "", 200},
      {"GET", "/lb/main/replica1/replica", "lag=1s", 200},
      {"GET", "/lb/main/replica1/replica", "lag=0s", 200},
      {"GET", "/lb/main/replica1/replica", "lag=soon", 400},
      {"GET", "/lb/main/replica1/read-only", "lag=1s", 400},
      {"POST", "/lb/main/replica1/read-only", "", 405},
      {"GET", "/lb/nope/replica1/read-only", "", 404},
      {"GET", "/lb/main/nope/read-only", "", 404},
      {"GET", "/lb/main/replica1/nope", "", 404},
      {"GET", "/lb/main/replica1", "", 404},
      {"GET", "/lb/main/replica1/read-only/", "", 404},
      {"GET", "/lb/main//read-only", "", 404},
      {"GET", "/lb/main/replica1/read-only/x", "", 404},
      {"GET", "/lb/", "", 404},
      {"GET", "/lb/main/replica1/../../metrics", "", 404},
  };
  for (const Case& k : cases) {
    INFO(k.method << " " << k.path << "?" << k.query);
    CHECK(api.Handle(ApiRequest{k.method, k.path, k.query, false}).status ==
          k.status);
  }
  // A 404 names what is unknown, and lists nothing else.
  r = api.Handle("GET", "/lb/main/nope/read-only");
  CHECK(r.Body().find("\"error\": \"no such server\"") != std::string::npos);
  CHECK(r.Body().find("\"server\": \"nope\"") != std::string::npos);
  CHECK(r.Body().find("replica1") == std::string::npos);
  r = api.Handle("GET", "/lb/other/replica1/read-only");
  CHECK(r.Body().find("\"error\": \"no such cluster\"") != std::string::npos);
  CHECK(r.Body().find("main") == std::string::npos);
  r = api.Handle("POST", "/lb/main/replica1/read-only");
  CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{
                         {"Allow", "GET, HEAD, OPTIONS"}});

  // Counted by cluster, check and code; unknown clusters are not.
  const std::string metrics = api.Handle("GET", "/metrics").Body();
  INFO(metrics);
  CHECK(metrics.find("# TYPE pg_replica_lb_checks_total counter") !=
        std::string::npos);
  for (const char* line : {
           "pg_replica_lb_checks_total{check=\"read-only\",cluster=\"main\","
           "code=\"200\"} 3\n",
           "pg_replica_lb_checks_total{check=\"read-only\",cluster=\"main\","
           "code=\"503\"} 3\n",
           "pg_replica_lb_checks_total{check=\"primary\",cluster=\"main\","
           "code=\"200\"} 2\n",
           "pg_replica_lb_checks_total{check=\"replica\",cluster=\"main\","
           "code=\"400\"} 1\n",
           "pg_replica_lb_checks_total{check=\"read-only\",cluster=\"main\","
           "code=\"404\"} 2\n",
           "pg_replica_lb_checks_total{check=\"read-only\",cluster=\"main\","
           "code=\"400\"} 1\n",
       }) {
    CHECK(metrics.find(line) != std::string::npos);
  }
  CHECK(metrics.find("cluster=\"nope\"") == std::string::npos);
  CHECK(metrics.find("cluster=\"other\"") == std::string::npos);
}

}  // namespace
}  // namespace pgre
