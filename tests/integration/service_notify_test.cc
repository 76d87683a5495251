// The agent under a service manager (the sd_notify protocol, Type=notify):
// the test plays systemd's part with a datagram socket in $NOTIFY_SOCKET
// and checks what the agent tells it and when: READY=1 only once the
// listener answers, a status line, watchdog keep-alives while the poll
// loops run, RELOADING=1 / READY=1 around a good and a refused reload,
// STOPPING=1 on SIGTERM. scripts/package-test.sh checks the same under a
// real systemd.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/agent.h"
#include "support/cluster.h"
#include "support/ports.h"
#include "support/subprocess.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A notification socket as systemd has it: AF_UNIX, SOCK_DGRAM.
class NotifySocket {
 public:
  NotifySocket() {
    char dir[] = "/tmp/pgre-notify-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    path_ = dir_ + "/notify";
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    if (fd_ < 0 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("cannot bind " + path_);
    }
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }

  // The next message, or nullopt after `timeout`.
  std::optional<std::string> Next(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      return std::nullopt;
    }
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    std::string m(buf, static_cast<std::size_t>(n));
    log_ += m + "\n--\n";
    return m;
  }
  // Reads messages until one contains `what` (returned), nullopt after
  // `timeout`; `seen` (optional) gets every message read.
  std::optional<std::string> Await(const std::string& what,
                                   milliseconds timeout,
                                   std::vector<std::string>* seen = nullptr) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      auto m = Next(std::max(left, milliseconds(1)));
      if (!m) return std::nullopt;
      if (seen) seen->push_back(*m);
      if (m->find(what) != std::string::npos) return m;
    }
    return std::nullopt;
  }
  const std::string& log() const { return log_; }

 private:
  std::string dir_, path_, log_;
  int fd_ = -1;
};

// Whether something accepts TCP connections on 127.0.0.1:port now.
bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string StatusOf(const std::string& message) {
  const auto at = message.find("STATUS=");
  if (at == std::string::npos) return "";
  const auto end = message.find('\n', at);
  return message.substr(at + 7, end == std::string::npos ? end : end - at - 7);
}

TEST_CASE("Type=notify: ready once listening, status, watchdog, reload, stop",
          "[service]") {
  TestCluster cluster(ClusterOptions{.replicas = 1});
  NotifySocket notify;
  char config_path[] = "/tmp/pgre-notify-config-XXXXXX";
  const int config_fd = mkstemp(config_path);
  REQUIRE(config_fd >= 0);
  close(config_fd);
  AgentOptions options;
  options.cluster_name = "before";
  WriteFile(config_path, AgentConfigYaml(cluster, options));
  const int port = FreePort();
  Subprocess agent({PGRE_BINARY, std::string("--config.file=") + config_path,
                    "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                   SubprocessOptions{.env = {{"NOTIFY_SOCKET", notify.path()},
                                             {"WATCHDOG_USEC", "400000"}}});
  // What the agent logged and sent so far, for a failing check.
  const auto diag = [&] {
    return "agent log:\n" + agent.ReadLog() + "\nnotifications:\n" +
           notify.log();
  };
#define PGRE_CHECK(x) \
  do {                \
    INFO(diag());     \
    CHECK(x);         \
  } while (0)
#define PGRE_REQUIRE(x) \
  do {                  \
    INFO(diag());       \
    REQUIRE(x);         \
  } while (0)

  // READY=1 comes once the listener is bound: the port answers at once.
  std::vector<std::string> before_ready;
  const auto ready =
      notify.Await("READY=1", milliseconds(15000), &before_ready);
  PGRE_REQUIRE(ready);
  PGRE_CHECK(Accepts(port));
  PGRE_CHECK(StatusOf(*ready).find("servers up") != std::string::npos);

  // The status line follows the servers, and the poll loops feed the
  // watchdog (0.4 s: at least 4 keep-alives in 2 s).
  std::vector<std::string> seen;
  PGRE_CHECK(notify.Await("STATUS=2/2 servers up, 1 in rotation",
                          milliseconds(20000), &seen));
  int keepalives = 0;
  const auto until = Clock::now() + seconds(2);
  while (Clock::now() < until) {
    auto m = notify.Next(milliseconds(200));
    if (m && m->find("WATCHDOG=1") != std::string::npos) ++keepalives;
  }
  PGRE_CHECK(keepalives >= 4);

  // A valid reload: RELOADING=1 (with MONOTONIC_USEC), then READY=1.
  options.cluster_name = "after";
  WriteFile(config_path, AgentConfigYaml(cluster, options));
  PGRE_REQUIRE(agent.Signal(SIGHUP));
  const auto reloading = notify.Await("RELOADING=1", milliseconds(5000));
  PGRE_REQUIRE(reloading);
  PGRE_CHECK(reloading->find("MONOTONIC_USEC=") != std::string::npos);
  auto done = notify.Await("READY=1", milliseconds(10000));
  PGRE_REQUIRE(done);
  PGRE_CHECK(StatusOf(*done).find("refused") == std::string::npos);

  // A refused reload: READY=1 again (the old configuration runs on), and
  // the status says so.
  WriteFile(config_path, AgentConfigYaml(cluster, options) + "bogus_key: 1\n");
  PGRE_REQUIRE(agent.Signal(SIGHUP));
  PGRE_REQUIRE(notify.Await("RELOADING=1", milliseconds(5000)));
  done = notify.Await("READY=1", milliseconds(10000));
  PGRE_REQUIRE(done);
  PGRE_CHECK(StatusOf(*done).find("config reload refused") !=
             std::string::npos);
  PGRE_CHECK(agent.Running());

  // SIGTERM: STOPPING=1, then a clean exit.
  PGRE_REQUIRE(agent.Signal(SIGTERM));
  PGRE_CHECK(notify.Await("STOPPING=1", milliseconds(5000)));
  PGRE_CHECK(agent.Wait(seconds(20)) == 0);
  unlink(config_path);
#undef PGRE_CHECK
#undef PGRE_REQUIRE
}

}  // namespace
}  // namespace pgre::testing
