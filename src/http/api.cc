#include "http/api.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <cstdlib>

#include "http/gzip.h"
#include "http/json_api.h"
#include "http/metrics.h"
#include "http/text_format.h"

namespace pgre {

namespace {

// A list of clusters the caller keeps alive.
std::shared_ptr<const ClusterList> Borrowed(
    const std::vector<const ClusterState*>& clusters) {
  auto list = std::make_shared<ClusterList>();
  for (const ClusterState* c : clusters) {
    list->push_back(std::shared_ptr<const ClusterState>(
        std::shared_ptr<const ClusterState>(), c));  // aliasing, not owning
  }
  return list;
}

// The value of `key` in a query string (decoded), or nullopt.
std::optional<std::string> QueryValue(std::string_view query, const char* key) {
  if (query.empty()) return std::nullopt;
  const std::string q(query);
  evkeyvalq params;
  params.tqh_first = nullptr;
  params.tqh_last = &params.tqh_first;
  std::optional<std::string> out;
  if (evhttp_parse_query_str(q.c_str(), &params) == 0) {
    if (const char* v = evhttp_find_header(&params, key)) out = v;
  }
  evhttp_clear_headers(&params);
  return out;
}

// A path segment, percent-decoded ("a%2Fb" -> "a/b"); nullopt when it is
// empty or does not decode.
std::optional<std::string> DecodeSegment(std::string_view segment) {
  if (segment.empty()) return std::nullopt;
  const std::string raw(segment);
  std::size_t size = 0;
  char* decoded = evhttp_uridecode(raw.c_str(), 0, &size);
  if (decoded == nullptr) return std::nullopt;
  std::string out(decoded, size);
  std::free(decoded);
  if (out.empty()) return std::nullopt;
  return out;
}

constexpr std::string_view kLbPrefix = "/lb/";
constexpr std::string_view kLbForm = "/lb/CLUSTER/SERVER/CHECK";

}  // namespace

Api::Api(std::vector<const ClusterState*> clusters, BuildInfo build,
         std::string telemetry_path, const Clock* clock)
    : Api([list = Borrowed(clusters)] { return list; }, std::move(build),
          std::move(telemetry_path), clock) {}

Api::Api(const ClusterState* cluster, BuildInfo build,
         std::string telemetry_path)
    : Api(std::vector<const ClusterState*>{cluster}, std::move(build),
          std::move(telemetry_path)) {}

Api::Api(ClusterSource source, BuildInfo build, std::string telemetry_path,
         const Clock* clock)
    : source_(std::move(source)),
      build_(std::move(build)),
      telemetry_path_(std::move(telemetry_path)),
      self_registry_(std::make_shared<prometheus::Registry>()),
      clock_(clock),
      exposition_(clock) {
  scrape_seconds_ =
      &prometheus::BuildHistogram()
           .Name("pg_replica_exporter_scrape_duration_seconds")
           .Help(
               "Time the agent took to answer a request of the telemetry "
               "path, from the request to its body (the body's sending "
               "not included).")
           .Register(*self_registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 1});
  agent_.version = build_.version;
  agent_.revision = build_.revision;
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
  if (path == "/" || path == kStatusJsonPath) {
    return known(get ? StatusPage(request.query, path == kStatusJsonPath)
                     : HttpResponse{});
  }
  if (path == "/-/healthy") {
    HttpResponse ok;
    ok.body = "OK\n";
    return known(ok);
  }
  if (path == "/-/ready") return known(get ? Ready() : HttpResponse{});
  if (path.starts_with(kLbPrefix)) {
    // HAProxy's httpchk sends OPTIONS unless told otherwise.
    if (get || method == "OPTIONS") {
      return Lb(path.substr(kLbPrefix.size()), request.query);
    }
    HttpResponse r;
    r.status = 405;
    r.body = "method not allowed\n";
    r.headers.push_back({"Allow", "GET, HEAD, OPTIONS"});
    return r;
  }
  if (path == kClustersPath || IsJsonEndpoint(path)) {
    return known(get ? Json(path, request.query) : HttpResponse{});
  }
  HttpResponse r;
  r.status = 404;
  r.body = "not found\n";
  return r;
}

HttpResponse Api::Metrics(bool gzip) const {
  const MonoTime started = clock_->Now();
  const auto clusters = source_();
  std::vector<std::string_view> names;
  names.reserve(clusters->size());
  for (const auto& c : *clusters) names.push_back(c->name());
  // A cluster's snapshot is taken (and copied, if it changed) only when
  // its rendering is not fresh: while scrapes come often, never.
  const std::shared_ptr<const ExpositionBody> part = exposition_.Render(
      names, [&](std::size_t i) { return (*clusters)[i]->Get(); });
  // The agent's own families change with every request: rendered each
  // time, after the clusters' part (no family is in both).
  std::vector<prometheus::MetricFamily> self = self_registry_->Collect();
  {
    // How the clusters' part was made (http/exposition.h).
    prometheus::MetricFamily renders{
        "pg_replica_exporter_exposition_renders_total",
        "Clusters' metrics rendered, at a scrape or in the background.",
        prometheus::MetricType::Counter,
        {}};
    for (auto [where, n] :
         {std::pair{"scrape", exposition_.scrape_renders()},
          std::pair{"background", exposition_.prerenders()}}) {
      prometheus::ClientMetric m;
      m.label = {{"where", where}};
      m.counter.value = static_cast<double>(n);
      renders.metric.push_back(m);
    }
    prometheus::MetricFamily assemblies{
        "pg_replica_exporter_exposition_assemblies_total",
        "Bodies of the telemetry path assembled from rendered clusters.",
        prometheus::MetricType::Counter,
        {}};
    prometheus::ClientMetric m;
    m.counter.value = static_cast<double>(exposition_.assemblies());
    assemblies.metric.push_back(m);
    self.push_back(std::move(renders));
    self.push_back(std::move(assemblies));
    self.push_back(LbChecksFamily(*source_()));
  }
  if (extra_) {
    for (auto& f : extra_()) self.push_back(std::move(f));
  }
  std::string tail = TextFormat(self);
  // The time of this scrape's own work is in the next scrape.
  scrape_seconds_->Observe(ToSeconds(clock_->Now() - started));
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.headers.push_back({"Vary", "Accept-Encoding"});
  if (gzip) {
    const GzipHead& head = part->gzip();
    r.shared_body = std::shared_ptr<const std::string>(part, &head.bytes);
    r.body = GzipFinish(head, tail);
    r.headers.push_back({"Content-Encoding", "gzip"});
  } else {
    r.shared_body = part->text();
    r.body = tail;
  }
  return r;
}

HttpResponse Api::Json(std::string_view path, std::string_view query) const {
  const auto clusters = source_();
  HttpResponse r;
  if (path == kClustersPath) {
    std::vector<std::shared_ptr<const Snapshot>> all;
    for (const auto& c : *clusters) all.push_back(c->Get());
    ClustersResponse(all, &r);
    return r;
  }
  const ClusterState* cluster = nullptr;
  if (auto name = QueryValue(query, "cluster")) {
    for (const auto& c : *clusters) {
      if (c->name() == *name) cluster = c.get();
    }
  } else if (!clusters->empty()) {
    cluster = clusters->front().get();
  }
  if (cluster == nullptr) {
    std::vector<std::string> names;
    for (const auto& c : *clusters) names.push_back(c->name());
    UnknownClusterResponse(names, &r);
    return r;
  }
  std::shared_ptr<const Snapshot> snap = cluster->Get();
  std::pair<std::string, std::string> key(cluster->name(), std::string(path));
  {
    std::lock_guard<std::mutex> lock(json_mu_);
    auto it = json_cache_.find(key);
    if (it != json_cache_.end() && it->second.snapshot == snap) {
      return it->second.response;
    }
  }
  HandleJsonEndpoint(path, *snap, &r);
  // Shared from now on: later answers for this snapshot copy no bytes.
  r.shared_body = std::make_shared<const std::string>(std::move(r.body));
  r.body.clear();
  std::lock_guard<std::mutex> lock(json_mu_);
  // Bounded: names of clusters gone after a reload do not pile up.
  if (json_cache_.size() > 8 * (clusters->size() + 1)) json_cache_.clear();
  json_cache_[std::move(key)] = CachedJson{snap, r};
  return r;
}

HttpResponse Api::Lb(std::string_view rest, std::string_view query) const {
  HttpResponse r;
  r.headers.push_back({"Cache-Control", "no-store"});
  // CLUSTER/SERVER/CHECK, each segment percent-decoded and not empty.
  std::vector<std::string> parts;
  for (std::size_t from = 0; from <= rest.size() && parts.size() <= 3;) {
    const std::size_t slash = std::min(rest.find('/', from), rest.size());
    auto segment = DecodeSegment(rest.substr(from, slash - from));
    if (!segment) break;
    parts.push_back(std::move(*segment));
    from = slash + 1;
    if (slash == rest.size()) break;
  }
  if (parts.size() != 3 || std::count(rest.begin(), rest.end(), '/') != 2) {
    LbNotFoundResponse("path", "", kLbForm, &r);
    return r;
  }
  const auto clusters = source_();
  const ClusterState* cluster = nullptr;
  for (const auto& c : *clusters) {
    if (c->name() == parts[0]) cluster = c.get();
  }
  if (cluster == nullptr) {
    LbNotFoundResponse("cluster", parts[0], "", &r);
    return r;
  }
  const std::optional<LbCheck> check = ParseLbCheck(parts[2]);
  if (!check) {
    LbNotFoundResponse("check", parts[2], LbCheckNames(), &r);
    return r;
  }
  auto count = [&](int code) {
    std::lock_guard<std::mutex> lock(lb_mu_);
    ++lb_checks_[{cluster->name(), LbCheckName(*check), code}];
  };
  const std::shared_ptr<const Snapshot> snap = cluster->Get();
  int server = -1;
  for (std::size_t i = 0; i < snap->servers.size(); ++i) {
    if (snap->servers[i].name == parts[1]) server = static_cast<int>(i);
  }
  if (server < 0) {
    LbNotFoundResponse("server", parts[1], "", &r);
    count(r.status);
    return r;
  }
  LbQuery q;
  q.check = *check;
  if (auto lag = QueryValue(query, "lag")) {
    std::optional<Duration> d = ParseDuration(*lag);
    if (*check != LbCheck::kReplica || !d || *d < Duration::zero()) {
      r.status = 400;
      r.body = *check != LbCheck::kReplica
                   ? "lag= applies to the replica check only\n"
                   : "lag=: expected a duration like 500ms or 2s\n";
      count(r.status);
      return r;
    }
    q.max_lag = *d;
  }
  LbCheckResponse(*snap, server, *check, DecideLbCheck(*snap, server, q), &r);
  count(r.status);
  return r;
}

prometheus::MetricFamily Api::LbChecksFamily(
    const ClusterList& clusters) const {
  prometheus::MetricFamily family{
      "pg_replica_lb_checks_total",
      "Load-balancer checks answered (GET /lb/CLUSTER/SERVER/CHECK), by "
      "check and HTTP status code.",
      prometheus::MetricType::Counter,
      {}};
  std::lock_guard<std::mutex> lock(lb_mu_);
  for (auto it = lb_checks_.begin(); it != lb_checks_.end();) {
    // Named, not a structured binding: clang 14 refuses a lambda capturing one.
    const std::string& cluster = std::get<0>(it->first);
    const auto& check = std::get<1>(it->first);
    const int code = std::get<2>(it->first);
    const bool configured =
        std::any_of(clusters.begin(), clusters.end(),
                    [&](const auto& c) { return c->name() == cluster; });
    if (!configured) {  // gone with a reload
      it = lb_checks_.erase(it);
      continue;
    }
    prometheus::ClientMetric m;
    m.label = {{"check", std::string(check)},
               {"cluster", cluster},
               {"code", std::to_string(code)}};
    m.counter.value = static_cast<double>(it->second);
    family.metric.push_back(std::move(m));
    ++it;
  }
  return family;
}

HttpResponse Api::Ready() const {
  const auto clusters = source_();
  int waiting = 0;
  for (const auto& c : *clusters) {
    const auto snap = c->Get();
    for (const ServerView& v : snap->servers) waiting += v.polled ? 0 : 1;
  }
  const std::vector<std::string> clusters_waiting =
      waiting_ ? waiting_() : std::vector<std::string>{};
  HttpResponse r;
  if (waiting == 0 && clusters_waiting.empty()) {
    r.body = "ready\n";
    return r;
  }
  r.status = 503;
  r.body = "not ready:";
  if (waiting > 0) {
    r.body += " " + std::to_string(waiting) + " servers not polled yet";
  }
  if (!clusters_waiting.empty()) {
    r.body += waiting > 0 ? ";" : "";
    r.body += " waiting for the members of";
    for (std::size_t i = 0; i < clusters_waiting.size(); ++i) {
      r.body += (i == 0 ? " " : ", ") + clusters_waiting[i];
    }
    r.body += " from Patroni";
  }
  r.body += "\n";
  return r;
}

void Api::UpdateAgentState(const std::function<void(AgentState&)>& change) {
  std::lock_guard<std::mutex> lock(agent_mu_);
  change(agent_);
}

HttpResponse Api::StatusPage(std::string_view query, bool json) const {
  const auto clusters = source_();
  StatusPageInput in;
  for (const auto& c : *clusters) in.clusters.push_back(c->Get());
  {
    std::lock_guard<std::mutex> lock(agent_mu_);
    in.agent = agent_;
  }
  in.telemetry_path = telemetry_path_;
  in.now = Clock::Real()->WallNow();
  HttpResponse r;
  r.headers.push_back({"Cache-Control", "no-store"});
  if (auto name = QueryValue(query, "cluster")) {
    const bool known =
        std::any_of(in.clusters.begin(), in.clusters.end(),
                    [&](const auto& snap) { return snap->cluster == *name; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& snap : in.clusters) names.push_back(snap->cluster);
      if (json) {
        UnknownClusterResponse(names, &r);
      } else {
        r.status = 404;
        r.content_type = "text/html; charset=utf-8";
        r.body = RenderUnknownClusterPage(*name, names);
      }
      return r;
    }
    in.selected = *name;
  }
  if (in.clusters.empty()) {
    r.status = 503;
    r.body = "no cluster configured yet\n";
    return r;
  }
  if (json) {
    r.content_type = "application/json";
    r.body = RenderStatusJson(in);
  } else {
    r.content_type = "text/html; charset=utf-8";
    r.headers.push_back({"Content-Security-Policy", StatusPageCsp()});
    r.headers.push_back({"X-Content-Type-Options", "nosniff"});
    r.body = RenderStatusPage(in);
  }
  return r;
}

}  // namespace pgre
