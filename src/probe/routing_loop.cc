#include "probe/routing_loop.h"

#include <spdlog/spdlog.h>

#include <future>

namespace pgre {

Prober::Prober(std::unique_ptr<PgSession> session, const Config& config,
               const Clock* clock)
    : session_(std::move(session)),
      query_({config.routing.probe_query}),
      connect_timeout_(config.connect_timeout),
      query_timeout_(config.query_timeout),
      clock_(clock) {}

ProbeResult Prober::Probe() {
  const MonoTime start = clock_->Now();
  ProbeResult r;
  auto finish = [&](bool ok, std::string error) {
    r.ok = ok;
    r.error = std::move(error);
    r.duration = clock_->Now() - start;
    return r;
  };
  if (!session_->IsConnected()) {
    Status s = session_->Connect(start + connect_timeout_);
    if (!s.ok()) return finish(false, "connect: " + s.message());
  }
  std::vector<QueryResult> results;
  Status s =
      session_->RunBatch(query_, clock_->Now() + query_timeout_, &results);
  if (!s.ok()) {
    session_->Close();
    return finish(false, "query: " + s.message());
  }
  if (results.size() != 1 || !results[0].ok) {
    return finish(false, "query: " + (results.empty() ? std::string("no result")
                                                      : results[0].error));
  }
  return finish(true, "");
}

RoutingLoop::RoutingLoop(const Config& config, SessionFactory* probe_sessions,
                         ClusterState* cluster, const Clock* clock)
    : config_(config), cluster_(cluster) {
  probers_.push_back(std::make_unique<Prober>(
      probe_sessions->Create(config.primary), config, clock));
  for (const ServerConfig& r : config.replicas) {
    probers_.push_back(
        std::make_unique<Prober>(probe_sessions->Create(r), config, clock));
  }
}

RoutingLoop::~RoutingLoop() { Stop(); }

void RoutingLoop::Start() {
  threads_.emplace_back(&RoutingLoop::HealthThread, this);
  threads_.emplace_back(&RoutingLoop::SyntheticThread, this);
}

void RoutingLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool RoutingLoop::SleepUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  return !stop_cv_.wait_until(lock, deadline, [this] { return stopping_; });
}

std::vector<std::pair<RouteTarget, ProbeResult>> RoutingLoop::SyntheticRound(
    int reads) {
  const int n = static_cast<int>(probers_.size());
  const SyntheticPlan plan = cluster_->PlanSynthetic(reads);
  // Each server's probes on their own thread.
  std::vector<std::future<std::vector<ProbeResult>>> futures(n);
  for (int s = 0; s < n; ++s) {
    const int count = plan.probes[s];
    if (count == 0) continue;
    Prober* prober = probers_[s].get();
    futures[s] = std::async(std::launch::async, [prober, count] {
      std::vector<ProbeResult> results;
      for (int i = 0; i < count; ++i) results.push_back(prober->Probe());
      return results;
    });
  }
  std::vector<std::vector<ProbeResult>> results(n);
  for (int s = 0; s < n; ++s) {
    if (futures[s].valid()) results[s] = futures[s].get();
  }
  for (int s = 0; s < n; ++s) {
    if (results[s].empty()) continue;
    bool all_ok = true;
    for (const ProbeResult& r : results[s]) all_ok &= r.ok;
    cluster_->RecordSynthetic(s, all_ok, ToSeconds(results[s].back().duration));
    for (const ProbeResult& r : results[s]) {
      if (r.ok) continue;
      spdlog::debug(
          "synthetic read on {} failed: {}",
          s == 0 ? config_.primary.name : config_.replicas[s - 1].name,
          r.error);
      break;
    }
  }
  // Per routed read, in order: the next unused result of its server.
  std::vector<std::size_t> next(n, 0);
  std::vector<std::pair<RouteTarget, ProbeResult>> out;
  for (const RouteTarget& t : plan.reads) {
    ProbeResult r;
    if (t.server < 0 || t.server >= n) {
      r.error = "no target (fallback none)";
    } else {
      r = results[t.server][next[t.server]++];
    }
    out.emplace_back(t, r);
  }
  return out;
}

void RoutingLoop::HealthThread() {
  // Wait (bounded) for every server's first poll, and for the replicas' lag
  // to be known, so that the first check, which decides at once, sees real
  // data.
  const auto deadline = std::chrono::steady_clock::now() +
                        config_.connect_timeout + config_.query_timeout +
                        config_.poll_interval;
  while (std::chrono::steady_clock::now() < deadline &&
         !cluster_->ReadyForFirstCheck()) {
    if (!SleepUntil(std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(50))) {
      return;
    }
  }
  SyntheticRound(0);  // probes every server out of rotation once
  HealthCheck();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    first_check_done_ = true;
  }
  stop_cv_.notify_all();
  auto next = std::chrono::steady_clock::now();
  while (true) {
    next += config_.routing.health_check_interval;
    if (!SleepUntil(next)) return;
    HealthCheck();
  }
}

void RoutingLoop::SyntheticThread() {
  {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait(lock, [this] { return stopping_ || first_check_done_; });
    if (stopping_) return;
  }
  auto next = std::chrono::steady_clock::now();
  while (true) {
    next += config_.routing.synthetic_check_interval;
    if (!SleepUntil(next)) return;
    SyntheticRound(config_.routing.synthetic_reads);
  }
}

}  // namespace pgre
