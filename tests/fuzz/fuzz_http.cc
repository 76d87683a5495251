// Fuzz target: what the HTTP layer does with a request's parts: routing
// (method, path, query; the /lb/ checks among the routes), the Authorization and Accept-Encoding headers, and
// listen addresses. Input: five lines, method, path, query, Authorization,
// Accept-Encoding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "cluster/cluster_state.h"
#include "http/api.h"
#include "http/http_server.h"
#include "web/basic_auth.h"

namespace {

pgre::Config MakeConfig() {
  pgre::Config c;
  c.cluster = "fuzz";
  c.primary.name = "primary";
  c.primary.role = pgre::Role::kPrimary;
  pgre::ServerConfig r;
  r.name = "replica1";
  c.replicas.push_back(r);
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pgre::FakeClock clock;
  static pgre::ClusterState cluster(MakeConfig(), &clock);
  static pgre::Api api(&cluster, pgre::BuildInfo{"fuzz", "fuzz"});
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string method, path, query, authorization, accept;
  std::getline(in, method);
  std::getline(in, path);
  std::getline(in, query);
  std::getline(in, authorization);
  std::getline(in, accept);
  pgre::ApiRequest request;
  request.method = method;
  request.path = path;
  request.query = query;
  request.accepts_gzip = pgre::AcceptsGzip(accept.c_str());
  const pgre::HttpResponse r = api.Handle(request);
  if (r.status != 200 && r.status != 400 && r.status != 404 &&
      r.status != 405 && r.status != 503) {
    __builtin_trap();
  }
  (void)pgre::ParseBasicAuthorization(authorization);
  std::string error;
  (void)pgre::ParseListenAddress(path, &error);
  return 0;
}
