#include "app/service_notifier.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

namespace pgre {
namespace {

ServerView Server(bool polled, bool up, bool in_rotation) {
  ServerView v;
  v.polled = polled;
  v.up = up;
  v.routing.in_rotation = in_rotation;
  return v;
}

std::shared_ptr<const Snapshot> Cluster(std::vector<ServerView> servers,
                                        bool routing_active = true,
                                        bool failover = false) {
  auto s = std::make_shared<Snapshot>();
  s->servers = std::move(servers);
  s->routing_active = routing_active;
  s->failover_active = failover;
  return s;
}

TEST_CASE("status line: servers up and in rotation", "[service]") {
  CHECK(ServiceStatus(
            {Cluster({Server(true, true, false), Server(true, true, true),
                      Server(true, true, true), Server(true, true, true)})}) ==
        "4/4 servers up, 3 in rotation");
  CHECK(ServiceStatus({Cluster(
            {Server(true, true, false), Server(true, false, false),
             Server(true, true, true)})}) == "2/3 servers up, 1 in rotation");
}

TEST_CASE("status line: start-up, failover and several clusters", "[service]") {
  CHECK(ServiceStatus(
            {Cluster({Server(false, false, false), Server(true, true, false)},
                     /*routing_active=*/false)}) ==
        "1/2 servers up, 1 not polled yet, routing not checked yet");
  CHECK(ServiceStatus(
            {Cluster({Server(true, true, false), Server(true, false, false)},
                     true, /*failover=*/true)}) ==
        "1/2 servers up, 0 in rotation, reads failing over to the primary");
  CHECK(ServiceStatus(
            {Cluster({Server(true, true, false), Server(true, true, true)}),
             Cluster({Server(true, true, false), Server(true, false, false)},
                     true, true)}) ==
        "2 clusters: 3/4 servers up, 1 in rotation, 1 failing over to the "
        "primary");
  CHECK(ServiceStatus({}) == "0/0 servers up, routing not checked yet");
  // Before the first check every read goes to the primary: not a failover.
  CHECK(ServiceStatus({Cluster({Server(false, false, false)},
                               /*routing_active=*/false, /*failover=*/true)}) ==
        "0/1 servers up, 1 not polled yet, routing not checked yet");
}

TEST_CASE("without NOTIFY_SOCKET the notifier is inactive", "[service]") {
  const char* saved = getenv("NOTIFY_SOCKET");
  std::string keep = saved ? saved : "";
  unsetenv("NOTIFY_SOCKET");
  setenv("WATCHDOG_USEC", "1000000", 1);
  ServiceNotifier n;
  CHECK_FALSE(n.active());
  CHECK(n.watchdog_interval().count() == 0);
  n.Ready("x");  // no-ops
  n.Watchdog();
  unsetenv("WATCHDOG_USEC");
  if (saved) setenv("NOTIFY_SOCKET", keep.c_str(), 1);
}

TEST_CASE("the watchdog interval comes from WATCHDOG_USEC", "[service]") {
  setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
  setenv("WATCHDOG_USEC", "2500000", 1);
  {
    ServiceNotifier n;
    CHECK(n.active());
    CHECK(n.watchdog_interval() == std::chrono::microseconds(2500000));
    n.Status("unreachable socket: ignored");
  }
  // Keep-alives meant for another process are not ours to send.
  setenv("WATCHDOG_PID", "1", 1);
  {
    ServiceNotifier n;
    CHECK(n.watchdog_interval().count() == 0);
  }
  unsetenv("WATCHDOG_PID");
  unsetenv("WATCHDOG_USEC");
  unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace pgre
