#include "poll/poller.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgre {

MonoTime Backoff::Failed(MonoTime now) {
  current_ =
      current_ == Duration::zero() ? initial_ : std::min(current_ * 2, max_);
  return now + current_;
}

Poller::Poller(const ServerConfig& server, const Config& config,
               SessionFactory* factory,
               const std::vector<std::unique_ptr<Collector>>* collectors,
               const Clock* clock)
    : server_(server),
      connect_timeout_(config.connect_timeout),
      query_timeout_(config.query_timeout),
      collectors_(collectors),
      clock_(clock),
      session_(factory->Create(server)),
      // Retry at the next tick first, then back off to at most 30 s (or the
      // poll interval, when that is longer).
      backoff_(
          config.poll_interval,
          std::max<Duration>(config.poll_interval, std::chrono::seconds(30))) {}

void Poller::OnConnected() {
  const int version = session_->ServerVersion();
  active_.clear();
  queries_.clear();
  std::string skipped;
  for (std::size_t i = 0; i < collectors_->size(); ++i) {
    const Collector& c = *(*collectors_)[i];
    if (version > 0 && version < c.MinServerVersion()) {
      skipped += (skipped.empty() ? "" : ", ") + std::string(c.Name());
      continue;
    }
    active_.push_back(i);
    queries_.emplace_back(c.Query());
  }
  if (version != server_version_) {
    const std::string text =
        std::to_string(version / 10000) + "." + std::to_string(version % 10000);
    if (version > 0 && version < kMinServerVersion) {
      spdlog::warn(
          "server {} runs PostgreSQL {}, older than the supported 13 to 18: "
          "collectors skipped: {}",
          server_.name, text, skipped.empty() ? "none" : skipped);
    } else if (version > kMaxTestedServerVersion) {
      spdlog::info("server {} runs PostgreSQL {}, newer than tested (13 to 18)",
                   server_.name, text);
    }
    server_version_ = version;
  }
}

std::optional<PollOutcome> Poller::PollOnce() {
  const MonoTime start = clock_->Now();
  PollOutcome out;
  // Stamps when the answer (or the failure) arrived.
  auto stamp = [&] {
    out.at = clock_->Now();
    out.wall_at = clock_->WallNow();
    out.duration = out.at - start;
  };
  if (!session_->IsConnected()) {
    if (start < next_attempt_) return std::nullopt;
    Status s = session_->Connect(start + connect_timeout_);
    if (!s.ok()) {
      stamp();
      next_attempt_ = backoff_.Failed(out.at);
      out.error = "connect: " + s.message();
      return out;
    }
    OnConnected();
  }
  std::vector<QueryResult> results;
  Status s =
      session_->RunBatch(queries_, clock_->Now() + query_timeout_, &results);
  stamp();
  if (!s.ok() || results.size() != queries_.size()) {
    session_->Close();
    next_attempt_ = backoff_.Failed(out.at);
    out.error =
        s.ok() ? "query: wrong number of results" : "query: " + s.message();
    return out;
  }
  backoff_.Succeeded();
  out.ok = true;
  out.sample.server_version = server_version_;
  for (const auto& c : *collectors_) {
    out.sample.collector_success[std::string(c->Name())] = false;
  }
  for (std::size_t k = 0; k < active_.size(); ++k) {
    const Collector& c = *(*collectors_)[active_[k]];
    const QueryResult& result = results[k];
    bool ok = result.ok;
    if (ok) {
      Status parsed = c.Parse(result, &out.sample);
      if (!parsed.ok()) {
        ok = false;
        spdlog::warn("collector {} on {}: {}", c.Name(), server_.name,
                     parsed.message());
      }
    } else {
      spdlog::warn("collector {} on {}: {}", c.Name(), server_.name,
                   result.error);
    }
    out.sample.collector_success[std::string(c.Name())] = ok;
  }
  // Without the "server" collector nothing about the server is known.
  if (!out.sample.collector_success["server"]) {
    out.ok = false;
    out.error = "collector server failed";
  }
  return out;
}

PollerGroup::PollerGroup(const Config& config, SessionFactory* factory,
                         ClusterState* cluster, const Clock* clock)
    : interval_(config.poll_interval),
      cluster_(cluster),
      collectors_(DefaultCollectors()) {
  pollers_.push_back(std::make_unique<Poller>(config.primary, config, factory,
                                              &collectors_, clock));
  for (const ServerConfig& r : config.replicas) {
    pollers_.push_back(
        std::make_unique<Poller>(r, config, factory, &collectors_, clock));
  }
}

PollerGroup::~PollerGroup() { Stop(); }

void PollerGroup::Start() {
  for (std::size_t i = 0; i < pollers_.size(); ++i) {
    threads_.emplace_back(&PollerGroup::Run, this, int(i), pollers_[i].get());
  }
}

void PollerGroup::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void PollerGroup::Run(int index, Poller* poller) {
  auto next = std::chrono::steady_clock::now();
  bool was_up = true;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    if (auto outcome = poller->PollOnce()) {
      if (outcome->ok != was_up) {
        if (outcome->ok) {
          spdlog::info("server {} is up", poller->server().name);
        } else {
          spdlog::warn("server {} is down: {}", poller->server().name,
                       outcome->error);
        }
        was_up = outcome->ok;
      }
      cluster_->RecordPoll(index, *outcome);
    }
    // Fixed-rate ticks; after an overrun, start again from now.
    next += interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
  }
}

}  // namespace pgre
