#include "engine/cluster_driver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "collectors/heartbeat.h"

namespace pgre {

ClusterDriver::ClusterDriver(
    const Config& config, std::shared_ptr<ClusterState> cluster,
    EventLoop* loop, AsyncSessionFactory* sessions,
    const std::vector<std::unique_ptr<Collector>>* collectors,
    const Clock* clock, ChangeHook on_change)
    : config_(config),
      cluster_(std::move(cluster)),
      loop_(loop),
      clock_(clock),
      health_timer_(loop, [this](Watch::Ready) { HealthTick(); }),
      synthetic_timer_(loop, [this](Watch::Ready) { SyntheticTick(); }),
      heartbeat_timer_(loop, [this](Watch::Ready) { HeartbeatTick(); }),
      on_change_(std::move(on_change)),
      change_timer_(loop, [this](Watch::Ready) {
        // On the grid: the next call's slot is a whole interval later.
        last_change_call_ = change_at_;
        on_change_(*cluster_, config_.poll_interval);
      }) {
  if (config.heartbeat.enabled) {
    own_collectors_ = DefaultCollectors();
    own_collectors_.push_back(NewHeartbeatCollector(config.heartbeat.table));
    collectors = &own_collectors_;
  }
  std::vector<ServerConfig> servers = {config.primary};
  servers.insert(servers.end(), config.replicas.begin(), config.replicas.end());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    workers_.push_back(std::make_unique<ServerWorker>(
        servers[i], config, loop, sessions, collectors, clock,
        [this, i](PollOutcome out) {
          cluster_->RecordPoll(static_cast<int>(i), std::move(out));
          Changed();
        }));
  }
  for (std::size_t i = 0; i < config.pgbouncers.size(); ++i) {
    pgbouncers_.push_back(std::make_unique<PgBouncerWorker>(
        config.pgbouncers[i], config, loop, sessions, clock,
        [this, i](const PgBouncerOutcome& out) {
          cluster_->RecordPgBouncer(static_cast<int>(i), out);
          Changed();
        }));
  }
}

Duration PollSlot(Duration offset, Duration poll_interval) {
  const Duration slot = poll_interval / kPollSlots;
  if (slot.count() <= 0 || offset.count() <= 0) return offset;
  return (offset + slot - Duration(1)) / slot * slot;
}

MonoTime ChangeCallAt(MonoTime now, MonoTime last_call, MonoTime origin,
                      Duration poll_interval) {
  const MonoTime at =
      std::max(now + poll_interval / 4, last_call + poll_interval);
  if (at <= origin) return at;
  return origin +
         PollSlot(std::chrono::ceil<Duration>(at - origin), poll_interval);
}

void ClusterDriver::Start(MonoTime first, bool routing) {
  origin_ = first;
  const MonoTime now = first;
  const Duration interval = config_.poll_interval;
  // The primary first (so that replicas' lag has a reference at once: a
  // later slot), the others spread over a fraction of the interval.
  const auto step = interval / (4 * workers_.size());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->Start(now + PollSlot(step * i, interval));
  }
  // The pgbouncers after the servers, in the same quarter interval.
  for (std::size_t i = 0; i < pgbouncers_.size(); ++i) {
    pgbouncers_[i]->Start(now +
                          PollSlot(step * workers_.size() / 2 +
                                       step * i / (pgbouncers_.size() + 1),
                                   interval));
  }
  if (config_.heartbeat.enabled) {
    next_heartbeat_ = now + config_.poll_interval / 2;
    heartbeat_timer_.Arm(-1, false, false, next_heartbeat_);
  }
  if (!routing) return;
  first_check_deadline_ = now + config_.connect_timeout +
                          config_.query_timeout + config_.poll_interval;
  AwaitFirstCheck();
}

void ClusterDriver::Changed() {
  if (!on_change_ || change_timer_.armed()) return;
  change_at_ = ChangeCallAt(clock_->Now(), last_change_call_, origin_,
                            config_.poll_interval);
  change_timer_.Arm(-1, false, false, change_at_);
}

void ClusterDriver::HeartbeatTick() {
  next_heartbeat_ += config_.heartbeat.interval;
  if (next_heartbeat_ < clock_->Now()) next_heartbeat_ = clock_->Now();
  heartbeat_timer_.Arm(-1, false, false, next_heartbeat_);
  HeartbeatNow();
}

void ClusterDriver::HeartbeatNow() {
  // A slow primary: one write at a time.
  if (!config_.heartbeat.enabled || heartbeat_running_) return;
  const auto snap = cluster_->Get();
  const int p = snap->topology.primary;
  if (snap->topology.state != TopologyState::kSinglePrimary ||
      !snap->topology.primary_observed || p < 0 ||
      p >= static_cast<int>(workers_.size()) || !snap->servers[p].up) {
    return;  // nowhere to write: the replicas' heartbeat lag grows
  }
  WriteHeartbeat(p, false);
}

void ClusterDriver::WriteHeartbeat(int server, bool create) {
  const std::string& table = config_.heartbeat.table;
  const WallTime wall = clock_->WallNow();
  std::vector<std::string> statements = {"SET synchronous_commit TO local"};
  if (create) statements.push_back(HeartbeatCreateSql(table));
  statements.push_back(HeartbeatWriteSql(table, wall));
  heartbeat_running_ = true;
  workers_[server]->QueueStatements(
      std::move(statements), [this, server, create, wall, table](
                                 Status s, std::vector<QueryResult> r) {
        heartbeat_running_ = false;
        std::string error;
        std::optional<std::int64_t> seq;
        const std::size_t want = create ? 3 : 2;
        if (!s.ok()) {
          error = s.message();
        } else if (r.size() != want) {
          error = "wrong number of results";
        } else if (!r.back().ok) {
          if (!create && IsUndefinedTable(r.back().error)) {
            return WriteHeartbeat(server, true);
          }
          error = create && !r[1].ok
                      ? "the table " + table +
                            " is missing and cannot be created: " + r[1].error
                      : r.back().error;
        } else if (r.back().rows.size() == 1 && !r.back().rows[0].empty() &&
                   r.back().rows[0][0]) {
          seq = std::strtoll(r.back().rows[0][0]->c_str(), nullptr, 10);
        }
        if (error != heartbeat_error_) {
          if (error.empty()) {
            spdlog::info("cluster {}: heartbeat written again on {}",
                         config_.cluster, workers_[server]->server().name);
          } else {
            spdlog::warn("cluster {}: heartbeat write on {} failed: {}",
                         config_.cluster, workers_[server]->server().name,
                         error);
          }
          heartbeat_error_ = error;
        }
        cluster_->RecordHeartbeatWrite(server, error.empty(), error, seq, wall);
        Changed();
      });
}

void ClusterDriver::AwaitFirstCheck() {
  if (!cluster_->ReadyForFirstCheck() &&
      clock_->Now() < first_check_deadline_) {
    health_timer_.Arm(-1, false, false,
                      clock_->Now() + std::chrono::milliseconds(50));
    return;
  }
  // Probe every server out of rotation once, then the first check, which
  // decides at once.
  SyntheticRound(0, [this](auto) {
    cluster_->HealthCheck();
    Changed();
    next_health_ = clock_->Now() + config_.routing.health_check_interval;
    health_timer_.Arm(-1, false, false, next_health_);
    next_synthetic_ = clock_->Now() + config_.routing.synthetic_check_interval;
    synthetic_timer_.Arm(-1, false, false, next_synthetic_);
  });
}

void ClusterDriver::HealthTick() {
  if (next_health_ == MonoTime{}) return AwaitFirstCheck();
  cluster_->HealthCheck();
  Changed();
  next_health_ += config_.routing.health_check_interval;
  if (next_health_ < clock_->Now()) next_health_ = clock_->Now();
  health_timer_.Arm(-1, false, false, next_health_);
}

void ClusterDriver::SyntheticTick() {
  next_synthetic_ += config_.routing.synthetic_check_interval;
  if (next_synthetic_ < clock_->Now()) next_synthetic_ = clock_->Now();
  synthetic_timer_.Arm(-1, false, false, next_synthetic_);
  // One round at a time: a round still waiting on a slow server skips
  // this tick.
  if (round_running_) return;
  SyntheticRound(config_.routing.synthetic_reads, nullptr);
}

void ClusterDriver::SyntheticRound(int reads, RoundDone done) {
  const SyntheticPlan plan = cluster_->PlanSynthetic(reads);
  const int n = static_cast<int>(workers_.size());
  struct Round {
    std::vector<std::vector<ProbeResult>> results;
    int pending = 0;
    std::vector<RouteTarget> reads;
    RoundDone done;
  };
  auto round = std::make_shared<Round>();
  round->results.resize(n);
  round->reads = plan.reads;
  round->done = std::move(done);
  for (int s = 0; s < n; ++s) round->pending += plan.probes[s];
  round_running_ = true;
  auto finish = [this, round] {
    const int count = static_cast<int>(round->results.size());
    for (int s = 0; s < count; ++s) {
      const auto& results = round->results[s];
      if (results.empty()) continue;
      bool all_ok = true;
      for (const ProbeResult& r : results) all_ok &= r.ok;
      cluster_->RecordSynthetic(s, all_ok, ToSeconds(results.back().duration));
      for (const ProbeResult& r : results) {
        if (r.ok) continue;
        spdlog::debug("synthetic read on {} failed: {}",
                      workers_[s]->server().name, r.error);
        break;
      }
    }
    round_running_ = false;
    Changed();
    if (!round->done) return;
    // Per routed read, in order: the next unused result of its server.
    std::vector<std::size_t> next(count, 0);
    std::vector<std::pair<RouteTarget, ProbeResult>> out;
    for (const RouteTarget& t : round->reads) {
      ProbeResult r;
      if (t.server < 0 || t.server >= count) {
        r.error = "no target (fallback none)";
      } else {
        r = round->results[t.server][next[t.server]++];
      }
      out.emplace_back(t, r);
    }
    round->done(std::move(out));
  };
  if (round->pending == 0) {
    loop_->Post(finish);
    return;
  }
  for (int s = 0; s < n; ++s) {
    for (int k = 0; k < plan.probes[s]; ++k) {
      workers_[s]->QueueProbe([round, s, finish](ProbeResult r) {
        round->results[s].push_back(std::move(r));
        if (--round->pending == 0) finish();
      });
    }
  }
}

}  // namespace pgre
