#include "poll/snapshot.h"

#include <algorithm>

namespace pgre {
namespace {

ServerView MakeView(const ServerConfig& server) {
  ServerView view;
  view.name = server.name;
  view.role = server.role;
  view.endpoint = server.endpoint;
  view.application_name = server.application_name;
  return view;
}

}  // namespace

SnapshotStore::SnapshotStore(const Config& config, const Clock* clock)
    : clock_(clock) {
  snapshot_.cluster = config.cluster;
  snapshot_.replicas_enabled = config.replicas_enabled;
  snapshot_.app_pool_size = config.app_pool_size;
  snapshot_.lag_status = config.lag_status;
  snapshot_.primary = MakeView(config.primary);
  for (const ServerConfig& r : config.replicas) {
    snapshot_.replicas.push_back(MakeView(r));
  }
  last_replay_.resize(config.replicas.size());
}

ServerView& SnapshotStore::View(int server) {
  return server == kPrimary ? snapshot_.primary : snapshot_.replicas.at(server);
}

void SnapshotStore::RecordPoll(int server, const PollOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ServerView& view = View(server);
  view.polled = true;
  view.up = outcome.ok;
  view.poll_duration_seconds = ToSeconds(outcome.duration);
  if (!outcome.ok) {
    ++view.poll_errors_total;
    view.last_error = outcome.error;
    view.sample.reset();
    view.lag_seconds.reset();
    view.lag_bytes.reset();
    return;
  }
  view.last_error.clear();
  view.last_success = outcome.wall_at;
  view.sample = outcome.sample;

  if (server == kPrimary) {
    // The configured primary is the source of truth for WAL positions while
    // it is out of recovery.
    if (!outcome.sample.in_recovery && outcome.sample.current_lsn) {
      history_.Observe(outcome.at, *outcome.sample.current_lsn);
    }
    return;
  }

  const std::optional<Lsn> replay =
      outcome.sample.in_recovery ? outcome.sample.replay_lsn : std::nullopt;
  last_replay_[server] = replay;
  view.lag_seconds.reset();
  view.lag_bytes.reset();
  if (!replay) return;  // promoted, or never replayed: no lag figure
  if (auto lag = history_.LagAt(*replay, outcome.at)) {
    view.lag_seconds = ToSeconds(*lag);
  }
  if (auto primary = history_.latest()) {
    view.lag_bytes = LagBytes(*primary, *replay);
  }
  // Drop history no replica can need any more.
  std::optional<Lsn> min_replay;
  for (const auto& r : last_replay_) {
    if (!r) continue;
    min_replay = min_replay ? std::min(*min_replay, *r) : *r;
  }
  if (min_replay) history_.Prune(*min_replay);
}

void SnapshotStore::RecordRouting(const std::vector<RoutingView>& replicas,
                                  const RoutingView& primary,
                                  bool failover_active) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < replicas.size() && i < snapshot_.replicas.size();
       ++i) {
    snapshot_.replicas[i].routing = replicas[i];
  }
  snapshot_.routing_active = true;
  snapshot_.failover_active = failover_active;
  snapshot_.primary.routing = primary;
}

std::shared_ptr<const Snapshot> SnapshotStore::Get() const {
  auto copy = std::make_shared<Snapshot>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    *copy = snapshot_;
  }
  copy->taken_at = clock_->WallNow();
  const auto& primary = copy->primary.sample;
  for (ServerView& replica : copy->replicas) {
    replica.standby_connected.reset();
    if (!primary || !primary->collector_success.count("stat_replication") ||
        !primary->collector_success.at("stat_replication")) {
      continue;
    }
    replica.standby_connected =
        std::any_of(primary->standbys.begin(), primary->standbys.end(),
                    [&](const StandbyRow& row) {
                      return row.application_name == replica.application_name;
                    });
  }
  return copy;
}

}  // namespace pgre
