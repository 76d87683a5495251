// HttpServer on a real loopback socket against slow, hostile and ordinary
// clients (raw sockets, so that the bytes on the wire are exactly the
// test's).
#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "http/gzip.h"
#include "http/test_client.h"
#include "web/basic_auth.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using testing::Body;
using testing::RawClient;
using testing::Status;

Config OneReplica() {
  Config c;
  c.cluster = "test";
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  ServerConfig r;
  r.name = "replica1";
  c.replicas.push_back(r);
  return c;
}

struct Fixture {
  explicit Fixture(HttpLimits limits = {},
                   std::shared_ptr<const WebSecurity> security =
                       std::make_shared<const WebSecurity>(),
                   std::vector<std::string> unauthenticated = {"/-/healthy"})
      : cluster(OneReplica(), &clock), api(&cluster, BuildInfo{"1", "r"}) {
    std::string error;
    server = HttpServer::Start("127.0.0.1:0", &api, limits, std::move(security),
                               std::move(unauthenticated), &error);
    INFO(error);
    REQUIRE(server);
  }
  // One request on a fresh connection; the whole response.
  std::string Get(const std::string& request,
                  milliseconds timeout = seconds(5)) {
    RawClient c(server->port());
    REQUIRE(c.connected());
    REQUIRE(c.Send(request));
    return c.ReadResponse(timeout);
  }
  FakeClock clock;
  ClusterState cluster;
  Api api;
  std::unique_ptr<HttpServer> server;
};

const std::string kScrape =
    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

// How long one scrape on a fresh connection takes.
double ScrapeSeconds(Fixture& f, int* status) {
  const auto t0 = Clock::now();
  *status = Status(f.Get(kScrape));
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TEST_CASE("serves the API: GET, HEAD, HTTP/1.0, pipelining", "[http]") {
  Fixture f;
  const std::string r = f.Get(kScrape);
  CHECK(Status(r) == 200);
  CHECK(r.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(Body(r).find("pg_replica_up{") != std::string::npos);
  CHECK(r.find("Cache-Control: no-store") != std::string::npos);

  RawClient head(f.server->port());
  head.Send("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string h = head.ReadAll(seconds(5));
  CHECK(Status(h) == 200);
  CHECK(Body(h).empty());
  // The GET's length, but for the agent's timing of scrapes, whose digits
  // change with every request.
  const auto length_at = h.find("Content-Length: ");
  REQUIRE(length_at != std::string::npos);
  const long length = std::atol(h.c_str() + length_at + 16);
  CHECK(std::labs(length - static_cast<long>(Body(r).size())) <= 64);

  CHECK(Status(f.Get("GET /-/healthy HTTP/1.0\r\n\r\n")) == 200);

  RawClient pipe(f.server->port());
  pipe.Send(
      "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string all = pipe.ReadAll(seconds(5));
  const auto first = all.find("HTTP/1.1 200");
  const auto second = all.find("HTTP/1.1 404", first);
  const auto third = all.find("HTTP/1.1 503", second);
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(third != std::string::npos);
}

TEST_CASE("hostile requests get a clean 4xx or a closed connection", "[http]") {
  Fixture f;
  struct Case {
    const char* name;
    std::string request;
  };
  const std::vector<Case> cases = {
      {"garbage",
       std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
           std::string(300, '\xff') + "\r\n\r\n"},
      {"no HTTP version", "GET /metrics\r\n\r\n"},
      {"100 KB request line",
       "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n"},
      {"200 KB header", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " +
                            std::string(200 * 1024, 'b') + "\r\n\r\n"},
      {"many headers",
       [] {
         std::string r = "GET /metrics HTTP/1.1\r\n";
         for (int i = 0; i < 5000; ++i)
           r += "X-" + std::to_string(i) + ": y\r\n";
         return r + "\r\n";
       }()},
      {"body on GET",
       "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
      {"chunked body on GET",
       "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n0\r\n\r\n"},
      {"POST with a body",
       "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
      {"POST with a big body",
       "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
           std::string(100000, 'z')},
      {"bad Content-Length",
       "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
      {"traversal", "GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"encoded traversal",
       "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"encoded slash", "GET /v1%2fsystem HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"absolute form with traversal",
       "GET http://x/../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"NUL in path",
       std::string("GET /metrics\0/x HTTP/1.1\r\nHost: x\r\n\r\n", 36)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    RawClient client(f.server->port());
    REQUIRE(client.connected());
    client.Send(c.request);
    bool closed = false;
    const std::string r = client.ReadAll(seconds(5), &closed);
    const int status = Status(r);
    INFO(r.substr(0, 200));
    CHECK((closed || (status >= 400 && status < 500)));
    if (status != 0) {
      CHECK(status >= 400);
      CHECK(status < 500);
    }
    CHECK(r.find("root:") == std::string::npos);  // never a file from disk
  }
  // A method evhttp does not know is "501 Not Implemented", the answer
  // HTTP prescribes, and the connection closes.
  RawClient brew(f.server->port());
  brew.Send("BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  bool closed = false;
  CHECK(Status(brew.ReadAll(seconds(5), &closed)) == 501);
  CHECK(closed);
  // The server still serves.
  CHECK(Status(f.Get(kScrape)) == 200);
}

TEST_CASE("200 idle and trickling connections do not slow a scrape", "[http]") {
  Fixture f;
  std::vector<std::unique_ptr<RawClient>> idle, trickling;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<RawClient>(f.server->port()));
    trickling.push_back(std::make_unique<RawClient>(f.server->port()));
    REQUIRE(idle.back()->connected());
    REQUIRE(trickling.back()->connected());
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    std::size_t at = 0;
    while (!stop) {
      for (auto& c : trickling) c->Send(std::string(1, request[at]));
      at = (at + 1) % request.size();
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  // And 32 clients scraping in a loop.
  std::vector<std::thread> loaders;
  std::atomic<int> loaded{0};
  for (int i = 0; i < 32; ++i) {
    loaders.emplace_back([&] {
      while (!stop) {
        RawClient c(f.server->port());
        c.Send(kScrape);
        if (Status(c.ReadResponse(seconds(5))) == 200) ++loaded;
      }
    });
  }
  double worst = 0;
  for (int i = 0; i < 10; ++i) {
    int status = 0;
    worst = std::max(worst, ScrapeSeconds(f, &status));
    CHECK(status == 200);
  }
  stop = true;
  trickle.join();
  for (auto& t : loaders) t.join();
  CHECK(worst < 0.5);
  CHECK(loaded > 0);
  CHECK(f.server->stats().connections_open >= 200);
}

TEST_CASE("a client trickling its request is cut off at the request timeout",
          "[http]") {
  HttpLimits limits;
  limits.request_timeout = milliseconds(600);
  Fixture f(limits);
  RawClient c(f.server->port());
  const auto t0 = Clock::now();
  bool closed = false;
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (std::size_t i = 0; i < request.size() && !closed; ++i) {
    c.Send(std::string(1, request[i]));
    c.ReadAll(milliseconds(100), &closed);
  }
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  CHECK(closed);
  CHECK(took >= 0.5);
  CHECK(took < 3.0);
  CHECK(f.server->stats().request_timeouts == 1);

  // A kept-alive connection may wait longer than the request timeout
  // between requests (that is the idle timeout's business).
  RawClient keep(f.server->port());
  keep.Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Status(keep.ReadResponse(seconds(5))) == 200);
  keep.ReadAll(milliseconds(1000), &closed);
  CHECK_FALSE(closed);
  keep.Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Status(keep.ReadResponse(seconds(5))) == 200);
}

TEST_CASE("past max_connections a connection is closed at once", "[http]") {
  HttpLimits limits;
  limits.max_connections = 5;
  Fixture f(limits);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<RawClient>(f.server->port()));
    held.back()->Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(Status(held.back()->ReadResponse(seconds(5))) == 200);
  }
  RawClient extra(f.server->port());
  extra.Send(kScrape);
  bool closed = false;
  CHECK(extra.ReadAll(seconds(5), &closed).empty());
  CHECK(closed);
  CHECK(f.server->stats().connections_rejected == 1);
  held.clear();  // their slots free up
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = Status(f.Get(kScrape)) == 200;
    if (!served) std::this_thread::sleep_for(milliseconds(20));
  }
  CHECK(served);
}

TEST_CASE("gzip on /metrics when asked", "[http]") {
  Fixture f;
  const std::string plain = f.Get(kScrape);
  const std::string gz = f.Get(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, "
      "deflate\r\nConnection: close\r\n\r\n");
  CHECK(gz.find("Content-Encoding: gzip") != std::string::npos);
  bool ok = false;
  const std::string unzipped = Gunzip(Body(gz), &ok);
  CHECK(ok);
  // The two renderings differ only where time moved on: compare the shape.
  CHECK(unzipped.find("pg_replica_up{") != std::string::npos);
  CHECK(Body(plain).size() > 0);
  const std::string refused = f.Get(
      "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n"
      "Connection: close\r\n\r\n");
  CHECK(refused.find("Content-Encoding") == std::string::npos);
}

std::string Basic(const std::string& user, const std::string& password) {
  // base64 of "user:password" for the few fixed values used here.
  static const char* kTable =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = user + ":" + password;
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kTable[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kTable[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return "Authorization: Basic " + out + "\r\n";
}

TEST_CASE("basic auth: 401 without a valid user, the exempt paths open",
          "[http]") {
  auto security = std::make_shared<WebSecurity>();
  const std::string made = MakeBcryptHash("secret", 4);  // cost 4: quick
  REQUIRE(IsBcryptHash(made));
  security->auth = std::make_shared<BasicAuth>(
      std::map<std::string, std::string>{{"prometheus", made}});
  Fixture f(HttpLimits{}, security);
  const std::string no_auth = f.Get(kScrape);
  CHECK(Status(no_auth) == 401);
  CHECK(no_auth.find("WWW-Authenticate: Basic realm=\"pg_replica_exporter\"") !=
        std::string::npos);
  CHECK(Body(no_auth).find("pg_replica") == std::string::npos);
  CHECK(Status(f.Get("GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                     Basic("prometheus", "wrong") +
                     "Connection: close\r\n\r\n")) == 401);
  CHECK(Status(f.Get("GET /metrics HTTP/1.1\r\nHost: x\r\n" +
                     Basic("nobody", "secret") +
                     "Connection: close\r\n\r\n")) == 401);
  const std::string ok =
      f.Get("GET /metrics HTTP/1.1\r\nHost: x\r\n" +
            Basic("prometheus", "secret") + "Connection: close\r\n\r\n");
  CHECK(Status(ok) == 200);
  CHECK(Body(ok).find("pg_replica_up{") != std::string::npos);
  // Exempt: /-/healthy (the fixture's list). Everything else is closed.
  CHECK(Status(f.Get("GET /-/healthy HTTP/1.0\r\n\r\n")) == 200);
  CHECK(Status(f.Get("GET /-/ready HTTP/1.0\r\n\r\n")) == 401);
  CHECK(Status(f.Get("GET /nope HTTP/1.0\r\n\r\n")) == 401);
  CHECK(f.server->stats().unauthorized >= 5);

  // Swapping the security takes effect at the next request.
  f.server->SetSecurity(std::make_shared<const WebSecurity>());
  CHECK(Status(f.Get(kScrape)) == 200);
}

TEST_CASE("basic auth: a /* entry exempts a prefix, and only it", "[http]") {
  auto security = std::make_shared<WebSecurity>();
  security->auth =
      std::make_shared<BasicAuth>(std::map<std::string, std::string>{
          {"prometheus", MakeBcryptHash("secret", 4)}});
  Fixture f(HttpLimits{}, security, {"/-/healthy", "/lb/*"});
  // Answered (503: no health check has run), not refused.
  const std::string lb = f.Get(
      "GET /lb/test/replica1/read-only HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n");
  CHECK(Status(lb) == 503);
  CHECK(Body(lb).find("\"reason\": \"first health check not done yet\"") !=
        std::string::npos);
  CHECK(Status(f.Get("GET /lb/nope/x/health HTTP/1.0\r\n\r\n")) == 404);
  // Not under the prefix: closed.
  for (const char* path : {"/lb", "/lbx/test/replica1/health", "/metrics",
                           "/v1/system/database/replicas/status", "/"}) {
    INFO(path);
    CHECK(Status(f.Get("GET " + std::string(path) + " HTTP/1.0\r\n\r\n")) ==
          401);
  }
}

TEST_CASE("unauthenticated path patterns", "[http]") {
  std::string error;
  auto p = PathPatterns::Parse({"/-/healthy", "/lb/*", "/a/b/*"}, &error);
  REQUIRE(p);
  CHECK(p->Matches("/-/healthy"));
  CHECK_FALSE(p->Matches("/-/healthy/"));
  CHECK_FALSE(p->Matches("/-/ready"));
  CHECK(p->Matches("/lb/"));
  CHECK(p->Matches("/lb/main/replica1/read-only"));
  CHECK_FALSE(p->Matches("/lb"));
  CHECK_FALSE(p->Matches("/lbx"));
  CHECK(p->Matches("/a/b/c"));
  CHECK_FALSE(p->Matches("/a/c"));
  struct Bad {
    const char* entry;
    const char* error;
  };
  for (const Bad& b : {
           Bad{"lb/*", "\"lb/*\" does not start with '/'"},
           Bad{"/lb*", "\"/lb*\": '*' only as the end of a prefix, like /lb/*"},
           Bad{"/lb/*/x",
               "\"/lb/*/x\": '*' only as the end of a prefix, "
               "like /lb/*"},
           Bad{"/*",
               "\"/*\" would serve every path without basic auth (to do "
               "that, configure no basic_auth_users)"},
       }) {
    INFO(b.entry);
    CHECK_FALSE(PathPatterns::Parse({b.entry}, &error));
    CHECK(error == b.error);
  }
}

TEST_CASE("clients hanging up mid-answer cost an EPIPE, not the process",
          "[http]") {
  // A cluster of 20000 replicas: megabytes of metrics, more than the socket
  // buffers hold, so the server is still writing when the client resets.
  Config big = OneReplica();
  for (int i = 2; i <= 20000; ++i) {
    ServerConfig r;
    r.name = "replica" + std::to_string(i);
    big.replicas.push_back(r);
  }
  FakeClock clock;
  ClusterState cluster(big, &clock);
  Api api(&cluster, BuildInfo{"1", "r"});
  std::string error;
  auto server =
      HttpServer::Start("127.0.0.1:0", &api, HttpLimits{},
                        std::make_shared<const WebSecurity>(), {}, &error);
  REQUIRE(server);
  for (int i = 0; i < 20; ++i) {
    // Hung up with a reset, or with a plain close over unread data (a
    // reset too), after a pipelined second request or not.
    RawClient c(server->port(), /*rcvbuf=*/4096);
    REQUIRE(c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(c.ReadAtLeast(1000, seconds(10)).size() >= 1000);
    if (i % 2 == 1) c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    if (i % 4 < 2) c.Reset();
  }
  // Still serving (a SIGPIPE would have ended this test's process).
  RawClient after(server->port());
  REQUIRE(after.Send("GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(Status(after.ReadResponse(seconds(5))) == 200);
}

}  // namespace
}  // namespace pgre
