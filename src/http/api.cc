#include "http/api.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include "http/json_api.h"
#include "http/metrics.h"

namespace pgre {

Api::Api(const ClusterState* cluster, BuildInfo build,
         std::string telemetry_path)
    : Api([cluster] { return cluster->Get(); }, std::move(build),
          std::move(telemetry_path)) {}

Api::Api(SnapshotSource source, BuildInfo build, std::string telemetry_path)
    : source_(std::move(source)),
      build_(std::move(build)),
      telemetry_path_(std::move(telemetry_path)),
      self_registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("pg_replica_exporter_build_info")
      .Help("Version and revision of pg_replica_exporter; always 1.")
      .Register(*self_registry_)
      .Add({{"version", build_.version}, {"revision", build_.revision}})
      .Set(1);
}

HttpResponse Api::Handle(std::string_view method, std::string_view path) const {
  const bool get = method == "GET" || method == "HEAD";
  auto known = [&](HttpResponse ok) {
    if (get) return ok;
    HttpResponse r;
    r.status = 405;
    r.body = "method not allowed\n";
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  };
  if (path == telemetry_path_) return known(get ? Metrics() : HttpResponse{});
  if (path == "/") return known(get ? Landing() : HttpResponse{});
  if (path == "/-/healthy") {
    HttpResponse ok;
    ok.body = "OK\n";
    return known(ok);
  }
  HttpResponse json;
  if (HandleJsonEndpoint(path, *source_(), &json)) return known(json);
  HttpResponse r;
  r.status = 404;
  r.body = "not found\n";
  return r;
}

HttpResponse Api::Metrics() const {
  std::vector<prometheus::MetricFamily> families =
      BuildMetricFamilies(*source_());
  for (auto& f : self_registry_->Collect()) families.push_back(std::move(f));
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus::TextSerializer().Serialize(families);
  return r;
}

HttpResponse Api::Landing() const {
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body =
      "<html><head><title>pg_replica_exporter</title></head><body>"
      "<h1>pg_replica_exporter</h1><p>version " +
      build_.version + " (" + build_.revision +
      ")</p><ul>"
      "<li><a href=\"" +
      telemetry_path_ +
      "\">Metrics</a></li>"
      "<li><a href=\"/v1/system/database/replicas/status\">Replica "
      "status</a></li>"
      "<li><a href=\"/v1/system/database/replicas/health\">Replica "
      "health</a></li>"
      "<li><a href=\"/v1/system/database/replicas/lag\">Replication "
      "lag</a></li>"
      "<li><a href=\"/v1/system/database/connection-pool/stats\">Connection "
      "pool stats</a></li>"
      "</ul></body></html>\n";
  return r;
}

}  // namespace pgre
