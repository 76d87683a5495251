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

ReplicaObservation ObserveReplica(const ServerView& view,
                                  std::optional<bool> synthetic_ok) {
  ReplicaObservation o;
  o.up = view.up && view.sample.has_value();
  if (view.sample) {
    o.in_recovery = view.sample->in_recovery;
    o.streaming = view.sample->wal_receiver &&
                  view.sample->wal_receiver->status == "streaming";
  }
  o.lag_seconds = view.lag_seconds;
  o.lag_bytes = view.lag_bytes;
  o.synthetic_ok = synthetic_ok;
  return o;
}

RoutingLoop::RoutingLoop(const Config& config, SessionFactory* probe_sessions,
                         SnapshotStore* store, const Clock* clock)
    : config_(config),
      store_(store),
      clock_(clock),
      model_(config.routing, ReplicaSpecs(config.replicas)),
      synthetic_ok_(config.replicas.size()),
      synthetic_seconds_(config.replicas.size()) {
  primary_prober_ = std::make_unique<Prober>(
      probe_sessions->Create(config.primary), config, clock);
  for (const ServerConfig& r : config.replicas) {
    replica_probers_.push_back(
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

void RoutingLoop::HealthCheck() {
  auto snapshot = store_->Get();
  std::lock_guard<std::mutex> lock(model_mu_);
  std::vector<ReplicaObservation> observations;
  for (std::size_t i = 0; i < snapshot->replicas.size(); ++i) {
    observations.push_back(
        ObserveReplica(snapshot->replicas[i], synthetic_ok_[i]));
  }
  for (const RotationChange& c : model_.Check(observations)) {
    if (c.entered) {
      spdlog::info("replica {} entered the read rotation: {}", c.replica,
                   c.reason);
    } else {
      spdlog::warn("replica {} left the read rotation: {}", c.replica,
                   c.reason);
    }
  }
  if (model_.failover_active() != failover_logged_) {
    failover_logged_ = model_.failover_active();
    if (failover_logged_) {
      spdlog::warn("no replica in rotation: reads fail over to the primary");
    } else {
      spdlog::info("replicas back in rotation: read failover ended");
    }
  }
  PublishLocked();
}

std::vector<std::pair<RouteTarget, ProbeResult>> RoutingLoop::SyntheticRound(
    int reads) {
  const int n = static_cast<int>(replica_probers_.size());
  std::vector<RouteTarget> targets;
  std::vector<int> probes(n + 1, 0);  // by ServerSlot
  {
    std::lock_guard<std::mutex> lock(model_mu_);
    for (int i = 0; i < reads; ++i) {
      RouteTarget t = model_.RouteRead();
      targets.push_back(t);
      if (const int s = ServerSlot(t); s >= 0) ++probes[s];
    }
    for (int i = 0; i < n; ++i) {
      if (!model_.replica(i).in_rotation && probes[i + 1] == 0) {
        probes[i + 1] = 1;  // keeps its synthetic result current
      }
    }
  }
  // Each server's probes on their own thread.
  std::vector<std::future<std::vector<ProbeResult>>> futures(n + 1);
  for (int s = 0; s <= n; ++s) {
    if (probes[s] == 0) continue;
    Prober* prober =
        s == 0 ? primary_prober_.get() : replica_probers_[s - 1].get();
    const int count = probes[s];
    futures[s] = std::async(std::launch::async, [prober, count] {
      std::vector<ProbeResult> results;
      for (int i = 0; i < count; ++i) results.push_back(prober->Probe());
      return results;
    });
  }
  std::vector<std::vector<ProbeResult>> results(n + 1);
  for (int s = 0; s <= n; ++s) {
    if (futures[s].valid()) results[s] = futures[s].get();
  }
  {
    std::lock_guard<std::mutex> lock(model_mu_);
    for (int s = 0; s <= n; ++s) {
      if (results[s].empty()) continue;
      bool all_ok = true;
      for (const ProbeResult& r : results[s]) all_ok &= r.ok;
      const double seconds = ToSeconds(results[s].back().duration);
      if (s == 0) {
        primary_synthetic_ok_ = all_ok;
        primary_synthetic_seconds_ = seconds;
      } else {
        synthetic_ok_[s - 1] = all_ok;
        synthetic_seconds_[s - 1] = seconds;
      }
      if (!all_ok) {
        for (const ProbeResult& r : results[s]) {
          if (r.ok) continue;
          spdlog::debug(
              "synthetic read on {} failed: {}",
              s == 0 ? config_.primary.name : config_.replicas[s - 1].name,
              r.error);
          break;
        }
      }
    }
    PublishLocked();
  }
  // Per routed read, in order: the next unused result of its server.
  std::vector<std::size_t> next(n + 1, 0);
  std::vector<std::pair<RouteTarget, ProbeResult>> out;
  for (const RouteTarget& t : targets) {
    ProbeResult r;
    const int s = ServerSlot(t);
    if (s < 0) {
      r.error = "no target (fallback none)";
    } else {
      r = results[s][next[s]++];
    }
    out.emplace_back(t, r);
  }
  return out;
}

void RoutingLoop::Publish() {
  std::lock_guard<std::mutex> lock(model_mu_);
  PublishLocked();
}

RoutingModel RoutingLoop::model() const {
  std::lock_guard<std::mutex> lock(model_mu_);
  return model_;
}

void RoutingLoop::PublishLocked() {
  std::vector<RoutingView> views;
  for (int i = 0; i < model_.replica_count(); ++i) {
    const ReplicaState& st = model_.replica(i);
    RoutingView v;
    v.in_rotation = st.in_rotation;
    v.reason = st.reason;
    v.routed_reads = st.routed_reads;
    v.rotation_changes = st.rotation_changes;
    v.synthetic_ok = synthetic_ok_[i];
    v.synthetic_duration_seconds = synthetic_seconds_[i];
    views.push_back(v);
  }
  RoutingView primary;
  primary.routed_reads = model_.primary_reads();
  primary.synthetic_ok = primary_synthetic_ok_;
  primary.synthetic_duration_seconds = primary_synthetic_seconds_;
  store_->RecordRouting(views, primary, model_.failover_active());
}

void RoutingLoop::HealthThread() {
  // Wait (bounded) for every server's first poll, and for the replicas' lag
  // to be known, so that the first check, which decides at once, sees real
  // data.
  const auto deadline = std::chrono::steady_clock::now() +
                        config_.connect_timeout + config_.query_timeout +
                        config_.poll_interval;
  while (std::chrono::steady_clock::now() < deadline) {
    auto snap = store_->Get();
    bool all = snap->primary.polled;
    for (const auto& r : snap->replicas) {
      all &= r.polled;
      // A replica polled before the primary's first answer has no lag yet.
      if (r.up && snap->primary.up && !r.lag_seconds) all = false;
    }
    if (all) break;
    if (!SleepUntil(std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(50))) {
      return;
    }
  }
  SyntheticRound(0);  // probes every replica once (all out of rotation)
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
