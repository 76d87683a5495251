// Api: every HTTP route of the agent, as a pure function of the request
// line and the latest snapshot (no sockets: http_server.h carries it).
//
// Routes: GET/HEAD <telemetry path> (Prometheus text format, gzip when the
// client accepts it), GET / (landing page), GET /-/healthy (200 while the
// process serves), GET /-/ready (200 once every configured server has been
// polled at least once, 503 before), and the seed's JSON endpoints under
// /v1/system/database/ (json_api.h). Unknown paths answer 404, known paths
// with another method 405. No answer ever carries a secret or a stack
// trace, and no path maps to a file.
//
// Thread safety: Handle() may run on many threads at once.
#ifndef PGRE_HTTP_API_H_
#define PGRE_HTTP_API_H_

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/snapshot.h"

namespace pgre {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // When set, the body is these bytes instead (shared with a cache, sent
  // without a copy).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones

  // The body, whichever member holds it.
  std::string_view Body() const {
    return shared_body ? std::string_view(*shared_body)
                       : std::string_view(body);
  }
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

// Where the Api reads snapshots from; must be thread-safe. The agent swaps
// the store behind it on a configuration reload.
using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;

class Api {
 public:
  Api(SnapshotSource source, BuildInfo build,
      std::string telemetry_path = "/metrics");
  // Reads `cluster`. REQUIRES: cluster outlives the Api.
  Api(const ClusterState* cluster, BuildInfo build,
      std::string telemetry_path = "/metrics");

  HttpResponse Handle(const ApiRequest& request) const;
  // Handle({method, path}).
  HttpResponse Handle(std::string_view method, std::string_view path) const;

  // The agent's own metrics (build info, HTTP requests); callers may add
  // families to it.
  prometheus::Registry& self_registry() { return *self_registry_; }

  // Families computed at each scrape (e.g. the HTTP server's counters).
  // REQUIRES: set before serving; `extra` is thread-safe.
  using ExtraMetrics = std::function<std::vector<prometheus::MetricFamily>()>;
  void SetExtraMetrics(ExtraMetrics extra) { extra_ = std::move(extra); }

 private:
  HttpResponse Metrics(bool gzip) const;
  HttpResponse Ready() const;
  HttpResponse Landing() const;

  SnapshotSource source_;
  BuildInfo build_;
  std::string telemetry_path_;
  std::shared_ptr<prometheus::Registry> self_registry_;
  ExtraMetrics extra_;
};

}  // namespace pgre

#endif  // PGRE_HTTP_API_H_
