#include "engine/route_check.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <thread>

#include "cluster/cluster_state.h"
#include "engine/engine.h"
#include "load/read_load.h"

namespace pgre {

RouteCheckReport BuildRouteCheckReport(
    const RoutingModel& model,
    const std::vector<std::pair<RouteTarget, ProbeResult>>& reads) {
  const int n = model.server_count();
  RouteCheckReport report;
  report.failover_active = model.failover_active();
  std::vector<std::vector<double>> latencies(n);
  report.rows.resize(n);
  for (int i = 0; i < n; ++i) {
    const ServerState& st = model.server(i);
    RouteCheckRow& row = report.rows[i];
    row.server = st.name;
    row.role = i == 0 ? "primary" : "replica";
    row.in_rotation = st.in_rotation;
    if (i == model.write_target()) {
      row.status = report.failover_active ? "failover target" : "-";
    } else {
      row.status = st.in_rotation ? "in rotation" : "out: " + st.reason;
    }
  }
  for (const auto& [target, result] : reads) {
    ++report.total_reads;
    if (!result.ok) ++report.failed_reads;
    const int s = target.server;
    if (s < 0 || s >= n) continue;
    RouteCheckRow& row = report.rows[s];
    ++row.reads;
    if (!result.ok) {
      ++row.errors;
      if (row.first_error.empty()) row.first_error = result.error;
    }
    latencies[s].push_back(
        std::chrono::duration<double, std::milli>(result.duration).count());
  }
  for (int s = 0; s < n; ++s) {
    RouteCheckRow& row = report.rows[s];
    row.share =
        report.total_reads ? double(row.reads) / report.total_reads : 0.0;
    row.p50_ms = Percentile(latencies[s], 0.50);
    row.p95_ms = Percentile(latencies[s], 0.95);
    if (row.in_rotation && row.reads == 0 && report.total_reads > 0) {
      report.starved.push_back(row.server);
    }
  }
  return report;
}

std::string FormatRouteCheckReport(const RouteCheckReport& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %-8s %6s %7s %6s %9s %9s  %s\n",
                "SERVER", "ROLE", "READS", "SHARE", "ERRORS", "P50_MS",
                "P95_MS", "STATUS");
  out += line;
  for (const RouteCheckRow& row : r.rows) {
    std::snprintf(
        line, sizeof line, "%-20s %-8s %6d %6.1f%% %6d %9.2f %9.2f  %s\n",
        row.server.c_str(), row.role.c_str(), row.reads, 100 * row.share,
        row.errors, row.p50_ms, row.p95_ms, row.status.c_str());
    out += line;
  }
  out += "reads: " + std::to_string(r.total_reads) +
         ", failed: " + std::to_string(r.failed_reads) +
         ", failover to primary: " + (r.failover_active ? "yes" : "no") + "\n";
  for (const RouteCheckRow& row : r.rows) {
    if (!row.first_error.empty()) {
      out += "first error on " + row.server + ": " + row.first_error + "\n";
    }
  }
  for (const std::string& s : r.starved) {
    out += "replica " + s + " is in rotation but got no read\n";
  }
  out += r.ok() ? "route-check: OK\n" : "route-check: FAILED\n";
  return out;
}

int RunRouteCheck(const Config& config, int reads, const Clock* clock,
                  std::ostream& out, AsyncSessionFactory* sessions) {
  auto cluster = std::make_shared<ClusterState>(config, clock);
  Engine engine({config}, {cluster}, 1, clock, nullptr, sessions);
  engine.Start(/*routing=*/false);
  // Every server polled, and the replicas' lag exact (under writes a
  // replica is a little behind the primary's first observed position, which
  // only bounds its lag from below: the next polls make it exact), as the
  // daemon's first check waits for; bounded like the daemon's wait.
  const MonoTime deadline = clock->Now() + config.connect_timeout +
                            config.query_timeout + 2 * config.poll_interval;
  while (!cluster->ReadyForFirstCheck() && clock->Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::promise<std::vector<std::pair<RouteTarget, ProbeResult>>> routed;
  engine.OnCluster(0, [&](ClusterDriver* driver) {
    // One probe of every server out of rotation, one check, then the reads.
    driver->SyntheticRound(0, [&, driver](auto) {
      cluster->HealthCheck();
      driver->SyntheticRound(
          reads, [&](auto results) { routed.set_value(std::move(results)); });
    });
  });
  const auto results = routed.get_future().get();
  engine.Stop();
  const RouteCheckReport report =
      BuildRouteCheckReport(cluster->model(), results);
  out << FormatRouteCheckReport(report);
  return report.ok() ? 0 : 1;
}

int RunLoadCheck(const Config& config, const LoadCheckOptions& options,
                 const Clock* clock, std::ostream& out,
                 AsyncSessionFactory* sessions) {
  auto cluster = std::make_shared<ClusterState>(config, clock);
  Engine engine({config}, {cluster}, 1, clock, nullptr, sessions);
  engine.Start(/*routing=*/true);
  // The agent's view is worth comparing once its first health check ran
  // (bounded as the daemon's wait, plus one check interval).
  const MonoTime ready_by = clock->Now() + config.connect_timeout +
                            config.query_timeout + 2 * config.poll_interval +
                            config.routing.health_check_interval;
  while (!cluster->Get()->routing_active && clock->Now() < ready_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::shared_ptr<const Snapshot> first = cluster->Get();
  const int n = static_cast<int>(first->servers.size());
  // In rotation at every sample of the run (the agent's view).
  std::vector<bool> always_in(n, first->routing_active);
  std::vector<bool> was_in(n);
  for (int i = 0; i < n; ++i) was_in[i] = first->servers[i].routing.in_rotation;
  std::string changes;

  ReadLoadOptions load_options;
  load_options.dsn = options.through;
  load_options.connections = options.connections;
  load_options.timeout = config.connect_timeout + config.query_timeout;
  const MonoTime start = clock->Now();
  {
    ReadLoad load(load_options, clock);
    while (clock->Now() - start < options.duration) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::shared_ptr<const Snapshot> snap = cluster->Get();
      for (int i = 0; i < n; ++i) {
        const RoutingView& r = snap->servers[i].routing;
        if (!r.in_rotation) always_in[i] = false;
        if (r.in_rotation != was_in[i]) {
          char line[256];
          std::snprintf(
              line, sizeof line, "agent: %s %s at %.1fs%s%s\n",
              snap->servers[i].name.c_str(),
              r.in_rotation ? "entered the rotation" : "left the rotation",
              ToSeconds(clock->Now() - start), r.in_rotation ? "" : ": ",
              r.in_rotation ? "" : r.reason.c_str());
          changes += line;
          was_in[i] = r.in_rotation;
        }
      }
    }
    load.Stop();
    engine.Stop();
    std::vector<LoadServer> servers;
    for (int i = 0; i < n; ++i) {
      const ServerConfig& s = ServerAt(config, i);
      servers.push_back({s.name, s.host, s.port, i == 0});
    }
    const LoadReport report = BuildLoadReport(
        load.Samples(), servers, start,
        std::chrono::duration_cast<Duration>(clock->Now() - start));
    out << FormatLoadReport(report) << changes;
    bool ok = report.failed == 0 && report.total > 0;
    if (report.total == 0) out << "no read finished\n";
    if (report.failed > 0) {
      out << report.failed << " reads failed\n";
    }
    for (int i = 0; i < n; ++i) {
      if (!always_in[i] || first->servers[i].is_primary) continue;
      if (report.rows[i].reads == 0) {
        out << "replica " << report.rows[i].server
            << " was in the agent's rotation throughout but got no read\n";
        ok = false;
      }
    }
    out << (ok ? "route-check: OK\n" : "route-check: FAILED\n");
    return ok ? 0 : 1;
  }
}

}  // namespace pgre
