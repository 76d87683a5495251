// Api: every HTTP route of the agent, as a pure function of the request
// line and the latest snapshot (no sockets: http_server.h carries it).
//
// Routes: GET/HEAD <telemetry path> (Prometheus text format for every
// cluster, gzip when the client accepts it; the clusters' part kept ready
// by http/exposition.h), GET / (the status page, http/status_page.h; for
// one cluster with ?cluster=NAME, 404 for an unknown name) and GET
// /status.json (its live part, which the page's script polls), GET
// /-/healthy (200 while
// the process serves), GET /-/ready (200 once every configured server of
// every cluster has been polled at least once, 503 before), the seed's
// JSON endpoints under /v1/system/database/ (json_api.h) for the cluster
// named by ?cluster=NAME (the first cluster without it; 404 for an unknown
// name), and /v1/system/database/clusters. JSON answers are rendered once
// per snapshot change and path, and a path that is not a route never looks
// at a snapshot. GET, HEAD and OPTIONS /lb/CLUSTER/SERVER/CHECK[?lag=D]:
// the load-balancer checks (cluster/lb_check.h; 200 pass, 503 fail, 404
// naming the unknown cluster, server or check, 400 for a bad ?lag=), each
// answer counted in pg_replica_lb_checks_total{cluster,check,code} (known
// clusters only, so the path cannot grow the labels). Unknown paths answer
// 404, known paths with another method 405. No answer ever carries a secret or
// a stack trace, and no path maps to a file.
//
// Thread safety: Handle() may run on many threads at once.
#ifndef PGRE_HTTP_API_H_
#define PGRE_HTTP_API_H_

#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/snapshot.h"
#include "http/exposition.h"
#include "http/status_page.h"

namespace pgre {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  // The body is *shared_body (when set: bytes shared with a cache, sent
  // without a copy) followed by `body`.
  std::shared_ptr<const std::string> shared_body;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones

  std::size_t BodySize() const {
    return (shared_body ? shared_body->size() : 0) + body.size();
  }
  // The whole body (a copy; for tests and small answers).
  std::string Body() const { return shared_body ? *shared_body + body : body; }
};

// Whether an Accept-Encoding header value admits gzip (a "gzip" or "*"
// coding whose q is not 0). nullptr (no header): false.
bool AcceptsGzip(const char* header);

// What the transport passes on of a request.
struct ApiRequest {
  std::string_view method;
  std::string_view path;   // decoded by nobody: as sent, without the query
  std::string_view query;  // after '?', "" when none
  bool accepts_gzip = false;
};

struct BuildInfo {
  std::string version;
  std::string revision;
};

// The clusters the Api serves, in configured order (names unique).
using ClusterList = std::vector<std::shared_ptr<const ClusterState>>;
// Where the Api reads the clusters from; must be thread-safe. The agent
// swaps the list behind it on a configuration reload.
using ClusterSource = std::function<std::shared_ptr<const ClusterList>()>;

class Api {
 public:
  // `clock` times the exposition cache (http/exposition.h).
  // REQUIRES: clock outlives the Api.
  Api(ClusterSource source, BuildInfo build,
      std::string telemetry_path = "/metrics",
      const Clock* clock = Clock::Real());
  // Serves `clusters` (none null). REQUIRES: they outlive the Api.
  Api(std::vector<const ClusterState*> clusters, BuildInfo build,
      std::string telemetry_path = "/metrics",
      const Clock* clock = Clock::Real());
  // Serves one cluster. REQUIRES: cluster outlives the Api.
  Api(const ClusterState* cluster, BuildInfo build,
      std::string telemetry_path = "/metrics");

  HttpResponse Handle(const ApiRequest& request) const;
  // Handle({method, path}).
  HttpResponse Handle(std::string_view method, std::string_view path) const;

  // The agent's own metrics (build info, HTTP requests); callers may add
  // families to it.
  prometheus::Registry& self_registry() { return *self_registry_; }

  // Background rendering of a cluster's metrics (http/exposition.h), for
  // the engine to call after the cluster changed; `fresh_for`: how long
  // scrapes may use it. Thread-safe; a no-op unless scrapes come often.
  void Prerender(const Snapshot& snapshot, Duration fresh_for) {
    exposition_.Prerender(snapshot, fresh_for);
  }
  // The engine's call after a cluster changed while scrapes are rare:
  // releases what the last scrape kept of it (ExpositionCache::Forget).
  void Forget(std::string_view cluster) { exposition_.Forget(cluster); }
  const ExpositionCache& exposition() const { return exposition_; }

  // The agent's state the status page shows (version, configuration
  // reloads): `change` edits it under a lock. The version and revision
  // start as `build`'s. Thread-safe.
  void UpdateAgentState(const std::function<void(AgentState&)>& change);

  // Families computed at each scrape (e.g. the HTTP server's counters).
  // REQUIRES: set before serving; `extra` is thread-safe.
  using ExtraMetrics = std::function<std::vector<prometheus::MetricFamily>()>;
  void SetExtraMetrics(ExtraMetrics extra) { extra_ = std::move(extra); }

  // The clusters that have no servers yet because their first discovery
  // round (Patroni) has not answered: /-/ready waits for them as for a
  // server's first poll. REQUIRES: set before serving; `waiting` is
  // thread-safe.
  using WaitingClusters = std::function<std::vector<std::string>()>;
  void SetWaitingClusters(WaitingClusters waiting) {
    waiting_ = std::move(waiting);
  }

 private:
  HttpResponse Metrics(bool gzip) const;
  HttpResponse Ready() const;
  // The status page (json: its live part, kStatusJsonPath).
  HttpResponse StatusPage(std::string_view query, bool json) const;
  HttpResponse Json(std::string_view path, std::string_view query) const;
  // GET /lb/... (the path after "/lb/").
  HttpResponse Lb(std::string_view rest, std::string_view query) const;
  // pg_replica_lb_checks_total, for the clusters in `clusters`.
  prometheus::MetricFamily LbChecksFamily(const ClusterList& clusters) const;

  ClusterSource source_;
  WaitingClusters waiting_;
  BuildInfo build_;
  std::string telemetry_path_;
  std::shared_ptr<prometheus::Registry> self_registry_;
  ExtraMetrics extra_;
  mutable std::mutex agent_mu_;
  AgentState agent_;  // guarded by agent_mu_
  const Clock* clock_;
  prometheus::Histogram* scrape_seconds_ = nullptr;  // in self_registry_
  mutable ExpositionCache exposition_;
  // The last answer per (cluster, path), with the snapshot it came from.
  struct CachedJson {
    std::shared_ptr<const Snapshot> snapshot;
    HttpResponse response;
  };
  mutable std::mutex json_mu_;
  mutable std::map<std::pair<std::string, std::string>, CachedJson>
      json_cache_;  // guarded by json_mu_
  // /lb/ answers by (cluster, check name, status code).
  mutable std::mutex lb_mu_;
  mutable std::map<std::tuple<std::string, std::string_view, int>,
                   std::uint64_t>
      lb_checks_;  // guarded by lb_mu_
};

}  // namespace pgre

#endif  // PGRE_HTTP_API_H_
