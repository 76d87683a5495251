#include "http/api.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include "http/gzip.h"
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

// Whether Accept-Encoding admits gzip (a "gzip" or "*" coding whose q is
// not 0).
bool AcceptsGzip(const char* header) {
  if (header == nullptr) return false;
  std::string_view rest(header);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    const auto semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    const auto q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = params.substr(q + 2);
    // "0", "0.0", "0.000": not acceptable.
    bool zero = !value.empty() && value[0] == '0';
    for (char ch : value.substr(value.empty() ? 0 : 1)) {
      if (ch == ' ') break;
      if (ch != '.' && ch != '0') zero = false;
    }
    if (!zero) return true;
  }
  return false;
}

HttpResponse Api::Handle(std::string_view method, std::string_view path) const {
  ApiRequest request;
  request.method = method;
  request.path = path;
  return Handle(request);
}

HttpResponse Api::Handle(const ApiRequest& request) const {
  const std::string_view method = request.method;
  const std::string_view path = request.path;
  const bool get = method == "GET" || method == "HEAD";
  auto known = [&](HttpResponse ok) {
    if (get) return ok;
    HttpResponse r;
    r.status = 405;
    r.body = "method not allowed\n";
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  };
  if (path == telemetry_path_) {
    return known(get ? Metrics(request.accepts_gzip) : HttpResponse{});
  }
  if (path == "/") return known(get ? Landing() : HttpResponse{});
  if (path == "/-/healthy") {
    HttpResponse ok;
    ok.body = "OK\n";
    return known(ok);
  }
  if (path == "/-/ready") return known(get ? Ready() : HttpResponse{});
  HttpResponse json;
  if (HandleJsonEndpoint(path, *source_(), &json)) return known(json);
  HttpResponse r;
  r.status = 404;
  r.body = "not found\n";
  return r;
}

HttpResponse Api::Metrics(bool gzip) const {
  std::vector<prometheus::MetricFamily> families =
      BuildMetricFamilies(*source_());
  for (auto& f : self_registry_->Collect()) families.push_back(std::move(f));
  if (extra_) {
    for (auto& f : extra_()) families.push_back(std::move(f));
  }
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus::TextSerializer().Serialize(families);
  r.headers.push_back({"Vary", "Accept-Encoding"});
  if (gzip) {
    r.body = Gzip(r.body);
    r.headers.push_back({"Content-Encoding", "gzip"});
  }
  return r;
}

HttpResponse Api::Ready() const {
  const auto snap = source_();
  int waiting = 0;
  for (const ServerView& v : snap->servers) waiting += v.polled ? 0 : 1;
  HttpResponse r;
  if (waiting == 0) {
    r.body = "ready\n";
  } else {
    r.status = 503;
    r.body =
        "not ready: " + std::to_string(waiting) + " servers not polled yet\n";
  }
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
