// TestHaproxy: Debian's real `haproxy` (2.6 on Debian 12) running the
// shipped config/haproxy.cfg in front of a TestCluster, every server checked
// through a running agent's /lb/ checks.
//
// The shipped file is used as it is, but for what must differ on a test
// machine: scripts/haproxy-config.py (which the demo uses too) points its
// listen addresses at free 127.0.0.1 ports, its servers at the cluster's
// ports (a replica the shipped file does not list gets a copy of the last
// replica's line), its checks at the test agent and the test cluster's
// name. Every timing, check and option stays the shipped one, so the tests
// prove the file operators get.
//
// Runs in the foreground (-db) in a temp dir, log in haproxy.log there; the
// constructor waits (deadline 20 s) until the stats page answers. Servers'
// states come from the stats page's CSV (States()).
//
// Errors throw std::runtime_error with haproxy's log.
// Thread safety: const members may be called from any thread.
#ifndef PGRE_TESTS_SUPPORT_HAPROXY_H_
#define PGRE_TESTS_SUPPORT_HAPROXY_H_

#include <map>
#include <memory>
#include <string>

#include "support/cluster.h"
#include "support/subprocess.h"

namespace pgre::testing {

struct HaproxyPorts {
  int writes = 0;
  int reads = 0;
  int stats = 0;
  int agent = 0;
};

class TestHaproxy {
 public:
  TestHaproxy(const TestCluster& cluster, const std::string& cluster_name,
              int agent_port);
  ~TestHaproxy();
  TestHaproxy(const TestHaproxy&) = delete;
  TestHaproxy& operator=(const TestHaproxy&) = delete;

  int read_port() const { return ports_.reads; }
  int write_port() const { return ports_.writes; }
  // DSNs through the read and the write pool (superuser, trust).
  std::string ReadDsn() const;
  std::string WriteDsn() const;

  // Each server's status in `pool` ("reads" or "writes") as HAProxy's
  // stats say it: "UP", "DOWN", "no check", "UP 1/2" (going down), ...
  // Throws when the stats page does not answer.
  std::map<std::string, std::string> States(const std::string& pool) const;
  // Servers of `pool` whose status starts with "UP", comma-separated in
  // config order ("" for none); "?" when the stats page does not answer.
  std::string UpServers(const std::string& pool) const;

  std::string config() const { return config_; }
  std::string Log() const;

 private:
  HaproxyPorts ports_;
  std::string dir_;
  std::string config_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_HAPROXY_H_
