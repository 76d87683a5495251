// Api: every HTTP route of the agent, as a pure function of the request
// line and the latest snapshot (no sockets: http_server.h carries it).
//
// Routes: GET/HEAD <telemetry path> (Prometheus text format), GET / (landing
// page), GET /-/healthy, and the seed's JSON endpoints under
// /v1/system/database/ (json_api.h). Unknown paths answer 404, known paths
// with another method 405. No answer ever carries a secret or a stack trace.
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
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
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

  HttpResponse Handle(std::string_view method, std::string_view path) const;

  // The agent's own metrics (build info, HTTP requests); callers may add
  // families to it.
  prometheus::Registry& self_registry() { return *self_registry_; }

 private:
  HttpResponse Metrics() const;
  HttpResponse Landing() const;

  SnapshotSource source_;
  BuildInfo build_;
  std::string telemetry_path_;
  std::shared_ptr<prometheus::Registry> self_registry_;
};

}  // namespace pgre

#endif  // PGRE_HTTP_API_H_
