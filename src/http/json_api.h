// The seed's four JSON monitoring endpoints, rendered from a Snapshot with
// nlohmann::json. Pure: no I/O. See README "JSON endpoints" for examples.
#ifndef PGRE_HTTP_JSON_API_H_
#define PGRE_HTTP_JSON_API_H_

#include <string_view>

#include "cluster/snapshot.h"
#include "http/api.h"

namespace pgre {

// Returns true and fills *response when `path` is one of:
//   /v1/system/database/replicas/status
//   /v1/system/database/replicas/health   (200 when >= 1 replica in
//                                          rotation, else 503)
//   /v1/system/database/replicas/lag
//   /v1/system/database/connection-pool/stats
// Returns false for any other path.
bool HandleJsonEndpoint(std::string_view path, const Snapshot& snapshot,
                        HttpResponse* response);

}  // namespace pgre

#endif  // PGRE_HTTP_JSON_API_H_
