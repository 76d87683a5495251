// route-check: the seed's verification steps ("load test with replica
// distribution", "simulate replica failure and verify failover") as one
// command. Polls every server once, runs one health check, routes N real
// probe reads through the routing model against the live servers, and
// prints where they went.
#ifndef PGRE_ENGINE_ROUTE_CHECK_H_
#define PGRE_ENGINE_ROUTE_CHECK_H_

#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/async_session.h"
#include "engine/server_worker.h"
#include "routing/routing_model.h"

namespace pgre {

// One server's line of the report.
struct RouteCheckRow {
  std::string server;
  std::string role;          // "primary" or "replica"
  bool in_rotation = false;  // replicas
  std::string status;        // "in rotation", "out: <reason>", "fallback", ...
  int reads = 0;
  int errors = 0;
  double share = 0;  // reads / total reads
  double p50_ms = 0, p95_ms = 0;
  std::string first_error;
};

struct RouteCheckReport {
  std::vector<RouteCheckRow> rows;  // by server index: primary, replicas
  int total_reads = 0;
  int failed_reads = 0;
  bool failover_active = false;
  // Replicas in rotation that got no read.
  std::vector<std::string> starved;
  bool ok() const { return failed_reads == 0 && starved.empty(); }
};

// Builds the report from routed reads and the model after them. Pure.
RouteCheckReport BuildRouteCheckReport(
    const RoutingModel& model,
    const std::vector<std::pair<RouteTarget, ProbeResult>>& reads);

// The report as a text table.
std::string FormatRouteCheckReport(const RouteCheckReport& report);

// Runs the whole check against the live servers of `config` (on an Engine
// of one loop; `sessions` null: libpq) and writes the table to `out`.
// Returns 0 when every read succeeded and every replica in rotation got at
// least one read, 1 otherwise.
int RunRouteCheck(const Config& config, int reads, const Clock* clock,
                  std::ostream& out, AsyncSessionFactory* sessions = nullptr);

// route-check --load: the seed's "load test with replica distribution" and
// "simulate replica failure and verify failover" against what really routes
// reads (HAProxy's read pool built from config/haproxy.cfg, or any read
// endpoint): `connections` threads of real reads through `through` for
// `duration` (load/read_load.h), while the agent's own pipeline (polls,
// health checks, routing model) runs on `config` in-process. Prints per
// server reads, share, p50/p95/p99 latency and the moments it left and
// rejoined (from where the reads landed), and the agent's rotation changes
// during the run.
struct LoadCheckOptions {
  std::string through;  // the read endpoint's DSN (SECRET: may hold one)
  Duration duration = std::chrono::seconds(30);
  int connections = 4;
};

// Returns 0 when no read failed and every replica the agent had in
// rotation for the whole run got reads; 1 otherwise (and says why).
int RunLoadCheck(const Config& config, const LoadCheckOptions& options,
                 const Clock* clock, std::ostream& out,
                 AsyncSessionFactory* sessions = nullptr);

}  // namespace pgre

#endif  // PGRE_ENGINE_ROUTE_CHECK_H_
