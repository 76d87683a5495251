// LibpqAsyncSession without a database: what fails before the network (the
// real protocol runs against PostgreSQL in tests/integration).
#include "engine/libpq_async_session.h"

#include <catch2/catch.hpp>
#include <optional>

#include "config/config.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

ServerConfig Server(std::string dsn) {
  ServerConfig s;
  s.name = "unit";
  s.dsn = std::move(dsn);
  return s;
}

// Connects on a loop that is never started, running it until the callback.
Status ConnectNow(LibpqAsyncSession& session, EventLoop& loop,
                  MonoTime deadline) {
  std::optional<Status> result;
  session.Connect(deadline, [&](Status s) { result = s; });
  CHECK_FALSE(result.has_value());  // never inside the call
  const MonoTime give_up = Clock::Real()->Now() + seconds(30);
  while (!result && Clock::Real()->Now() < give_up) loop.RunPending();
  REQUIRE(result.has_value());
  return *result;
}

TEST_CASE("LibpqAsyncSession: unusable DSN fails at once without the password",
          "[libpq]") {
  struct Case {
    const char* dsn;
    const char* password;
  };
  // None of these reach the network.
  const Case cases[] = {
      {"host=127.0.0.1 port=notaport user=u password=kv-unit-pw-1",
       "kv-unit-pw-1"},
      {"postgresql://u:uri-unit-pw-2@127.0.0.1:notaport/db", "uri-unit-pw-2"},
      {"postgresql://u:uri-unit-pw-3@127.0.0.1/db?bogus_option=1",
       "uri-unit-pw-3"},
      {"host=127.0.0.1 password=kv-unit-pw-4 sslmode=bogus", "kv-unit-pw-4"},
      // libpq echoes the bad token, which here is the password itself.
      {"postgresql://u:uri-unit-pw-5%zz@127.0.0.1/db", "uri-unit-pw-5"},
  };
  for (const Case& c : cases) {
    EventLoop loop;
    LibpqAsyncSession session(Server(c.dsn), &loop, nullptr, seconds(5));
    const Status s =
        ConnectNow(session, loop, Clock::Real()->Now() + seconds(30));
    REQUIRE_FALSE(s.ok());
    CHECK_FALSE(s.message().empty());
    CHECK(s.message().find(c.password) == std::string::npos);
    CHECK(s.message().find('\n') == std::string::npos);
    CHECK_FALSE(session.IsConnected());
    CHECK_FALSE(session.Busy());
  }
}

TEST_CASE("LibpqAsyncSession: a passed deadline fails without connecting",
          "[libpq]") {
  EventLoop loop;
  LibpqAsyncSession session(Server("host=127.0.0.1 port=1"), &loop, nullptr,
                            seconds(5));
  const Status s =
      ConnectNow(session, loop, Clock::Real()->Now() - milliseconds(1));
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == "connection timeout after 0ms");
  CHECK_FALSE(session.IsConnected());
}

TEST_CASE("LibpqAsyncSession: RunBatch needs a connection", "[libpq]") {
  EventLoop loop;
  LibpqAsyncSession session(Server("host=127.0.0.1 port=1"), &loop, nullptr,
                            seconds(5));
  std::optional<Status> result;
  std::vector<QueryResult> results(2);
  session.RunBatch({"SELECT 1"}, Clock::Real()->Now() + seconds(5),
                   [&](Status s, std::vector<QueryResult> r) {
                     result = s;
                     results = std::move(r);
                   });
  loop.RunPending();
  REQUIRE(result.has_value());
  CHECK(result->message() == "not connected");
  CHECK(results.empty());
  session.Close();  // no-op when closed
  session.Close();
  CHECK_FALSE(session.IsConnected());
}

TEST_CASE("LibpqAsyncSession: Close drops the callback in flight", "[libpq]") {
  EventLoop loop;
  LibpqAsyncSession session(Server("host=127.0.0.1 port=1"), &loop, nullptr,
                            seconds(5));
  bool called = false;
  session.Connect(Clock::Real()->Now() + seconds(5),
                  [&](Status) { called = true; });
  session.Close();
  loop.RunPending();
  CHECK_FALSE(called);
}

TEST_CASE("LibpqAsyncSessionFactory makes disconnected sessions", "[libpq]") {
  EventLoop loop;
  LibpqAsyncSessionFactory factory(nullptr);
  std::unique_ptr<AsyncSession> s =
      factory.Create(Server("host=127.0.0.1"), seconds(5), &loop);
  REQUIRE(s != nullptr);
  CHECK_FALSE(s->IsConnected());
  CHECK(s->ServerVersion() == 0);
}

}  // namespace
}  // namespace pgre
