#include "app/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <cstdlib>

namespace pgre {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // > 0: a watchdog is asked for, of this process (WATCHDOG_PID unset or
  // ours).
  if (active_ && sd_watchdog_enabled(0, &usec) > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec);
  }
}

void ServiceNotifier::Send(const std::string& state) const {
  if (!active_) return;
  sd_notify(0, state.c_str());
}

void ServiceNotifier::Ready(const std::string& status) const {
  Send("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::Reloading() const {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000 +
                             static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::Stopping() const { Send("STOPPING=1"); }

void ServiceNotifier::Status(const std::string& status) const {
  Send("STATUS=" + status);
}

void ServiceNotifier::Watchdog() const { Send("WATCHDOG=1"); }

std::string ServiceStatus(
    const std::vector<std::shared_ptr<const Snapshot>>& clusters) {
  int servers = 0, polled = 0, up = 0, in_rotation = 0, failing_over = 0;
  bool routing_checked = false;
  for (const auto& snap : clusters) {
    if (!snap) continue;
    for (const ServerView& v : snap->servers) {
      ++servers;
      polled += v.polled ? 1 : 0;
      up += v.up ? 1 : 0;
      in_rotation += v.routing.in_rotation ? 1 : 0;
    }
    routing_checked = routing_checked || snap->routing_active;
    // Until its first check the model sends every read to the primary:
    // that is start-up, not a failover.
    failing_over += snap->routing_active && snap->failover_active ? 1 : 0;
  }
  std::string out;
  if (clusters.size() > 1) {
    out = std::to_string(clusters.size()) + " clusters: ";
  }
  out += std::to_string(up) + "/" + std::to_string(servers) + " servers up";
  if (polled < servers) {
    out += ", " + std::to_string(servers - polled) + " not polled yet";
  }
  if (!routing_checked) {
    out += ", routing not checked yet";
  } else {
    out += ", " + std::to_string(in_rotation) + " in rotation";
  }
  if (failing_over > 0) {
    out += clusters.size() > 1 ? ", " + std::to_string(failing_over) +
                                     " failing over to the primary"
                               : ", reads failing over to the primary";
  }
  return out;
}

}  // namespace pgre
