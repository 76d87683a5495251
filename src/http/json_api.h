// The seed's four JSON monitoring endpoints, rendered from a Snapshot with
// nlohmann::json. Pure: no I/O. Examples: docs/json-endpoints.md.
#ifndef PGRE_HTTP_JSON_API_H_
#define PGRE_HTTP_JSON_API_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/lb_check.h"
#include "cluster/snapshot.h"
#include "http/api.h"

namespace pgre {

// "2023-11-14T22:13:20.123Z" (UTC, milliseconds), like JavaScript's
// Date.toISOString(): every time in the JSON and on the status page.
std::string Iso8601(WallTime t);

// Returns true and fills *response when `path` is one of:
//   /v1/system/database/replicas/status
//   /v1/system/database/replicas/health   (200 when >= 1 replica in
//                                          rotation, else 503)
//   /v1/system/database/replicas/lag
//   /v1/system/database/connection-pool/stats
// Returns false for any other path.
bool HandleJsonEndpoint(std::string_view path, const Snapshot& snapshot,
                        HttpResponse* response);

// Whether HandleJsonEndpoint answers `path` (decided without a snapshot).
bool IsJsonEndpoint(std::string_view path);

// /v1/system/database/clusters: every cluster, in configured order, with
// its servers, observed primary, rotation, readiness and the links to its
// four endpoints (?cluster=NAME).
inline constexpr std::string_view kClustersPath =
    "/v1/system/database/clusters";
void ClustersResponse(const std::vector<std::shared_ptr<const Snapshot>>& all,
                      HttpResponse* response);

// 404 for a ?cluster= that names no cluster (the known names listed).
void UnknownClusterResponse(const std::vector<std::string>& names,
                            HttpResponse* response);

// The answer of a load-balancer check (GET /lb/CLUSTER/SERVER/CHECK,
// cluster/lb_check.h): 200 when it passes, else 503, with the fields
// cluster, server, check, role (configured), observedRole, up, inRotation,
// lagSeconds, lagIsLowerBound and reason. REQUIRES: 0 <= server <
// snapshot.servers.size().
void LbCheckResponse(const Snapshot& snapshot, int server, LbCheck check,
                     const LbAnswer& answer, HttpResponse* response);

// 404 for a /lb/ request that names no known `what` ("cluster", "server",
// "check", "path"): {"error": "no such WHAT", WHAT: NAME} (NAME when not
// empty), plus `hint` as "expected" when not empty. Lists no other names (the
// path may be served without authentication).
void LbNotFoundResponse(std::string_view what, std::string_view name,
                        std::string_view hint, HttpResponse* response);

}  // namespace pgre

#endif  // PGRE_HTTP_JSON_API_H_
