// ServiceNotifier: what the agent tells its service manager (systemd's
// sd_notify(3) protocol, through Debian's libsystemd) when it runs as a
// Type=notify service: READY=1 once the configuration is loaded and the
// listener bound, RELOADING=1 / READY=1 around a reload, STOPPING=1 on
// stop, a one-line STATUS= (ServiceStatus below), and WATCHDOG=1
// keep-alives when the unit sets WatchdogSec=.
//
// Without $NOTIFY_SOCKET (not started by a service manager, or not as
// Type=notify) every call is a cheap no-op. Errors sending a notification
// are ignored: the agent's work never depends on them.
//
// Thread safety: const methods may be called from any thread.
#ifndef PGRE_APP_SERVICE_NOTIFIER_H_
#define PGRE_APP_SERVICE_NOTIFIER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cluster/snapshot.h"

namespace pgre {

class ServiceNotifier {
 public:
  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once (and leaves
  // them set).
  ServiceNotifier();

  // Whether a service manager listens ($NOTIFY_SOCKET is set).
  bool active() const { return active_; }
  // The watchdog interval the service manager expects keep-alives within
  // (WatchdogSec=), zero when it expects none (or they are meant for
  // another process, $WATCHDOG_PID).
  std::chrono::microseconds watchdog_interval() const {
    return watchdog_interval_;
  }

  // READY=1 with STATUS=`status`.
  void Ready(const std::string& status) const;
  // RELOADING=1 with MONOTONIC_USEC= (what systemd 253's Type=notify-reload
  // asks for, harmless before).
  void Reloading() const;
  // STOPPING=1.
  void Stopping() const;
  // STATUS=`status` (one line; shown by `systemctl status`).
  void Status(const std::string& status) const;
  // WATCHDOG=1. Call only when the agent is known to be alive (its poll
  // loops answer).
  void Watchdog() const;

 private:
  void Send(const std::string& state) const;

  bool active_ = false;
  std::chrono::microseconds watchdog_interval_{0};
};

// The STATUS= line for the clusters' latest snapshots, e.g.
// "4/4 servers up, 3 in rotation"; with several clusters prefixed by
// "2 clusters: "; servers not polled yet, a routing model not yet checked
// and (once checked) a failover to the primary are named. One line, no secrets
// (counts only). Pure.
std::string ServiceStatus(
    const std::vector<std::shared_ptr<const Snapshot>>& clusters);

}  // namespace pgre

#endif  // PGRE_APP_SERVICE_NOTIFIER_H_
