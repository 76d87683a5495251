#include "cluster/cluster_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <limits>

#include "cluster/health.h"

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

void ClearLag(ServerView& v) {
  v.lag_seconds.reset();
  v.lag_bytes.reset();
  v.lag_lower_bound = false;
  v.outage_lag_seconds.reset();
  v.outage_lag_bytes.reset();
}

std::string Names(const std::vector<ServerView>& servers,
                  const std::vector<int>& indexes) {
  std::string out;
  for (int i : indexes) {
    if (!out.empty()) out += ", ";
    out += servers[i].name;
  }
  return out;
}

}  // namespace

ClusterState::ClusterState(const Config& config, const Clock* clock,
                           RestoreInput restore)
    : config_(config),
      clock_(clock),
      server_count_(1 + static_cast<int>(config.replicas.size())),
      history_(WalHistoryLimits{config.lag_history.max_entries,
                                config.lag_history.max_age}),
      topology_(server_count_, 0),
      model_(config.routing, ServerSpecs(AllServers(config)), 0),
      last_replay_(server_count_),
      trails_(server_count_, LagTrail(LagTrailLimits{})),
      recent_reads_(server_count_,
                    ReadWindowLimits{ReadsWindow(config.routing), 12}) {
  building_.cluster = config.cluster;
  building_.lag_trail_limits = trails_.front().limits();
  building_.reads_window = recent_reads_.span();
  building_.replicas_enabled = config.replicas_enabled;
  building_.app_pool_size = config.app_pool_size;
  building_.lag_status = config.lag_status;
  building_.routing_config = config.routing;
  building_.heartbeat.enabled = config.heartbeat.enabled;
  building_.heartbeat.interval = config.heartbeat.interval;
  building_.heartbeat.table = config.heartbeat.table;
  building_.manager.enabled = config.discovery.patroni.enabled();
  for (const ServerConfig& s : AllServers(config)) {
    building_.servers.push_back(MakeView(s));
  }
  for (const PgBouncerConfig& p : config.pgbouncers) {
    PgBouncerView v;
    v.name = p.connection.name;
    v.server = p.server;
    v.endpoint = p.connection.endpoint;
    for (std::size_t i = 0; i < building_.servers.size(); ++i) {
      if (!p.server.empty() && building_.servers[i].name == p.server) {
        v.server_index = static_cast<int>(i);
      }
    }
    building_.pgbouncers.push_back(std::move(v));
  }
  if (restore.state) {
    const std::string why =
        CheckLagState(*restore.state, config.cluster, clock_->WallNow(),
                      config.lag_history.max_age);
    if (!why.empty()) {
      restore.status = "ignored: " + why;
      restore.state.reset();
    } else {
      restore.status = "pending: waiting for the system identifier";
    }
  }
  building_.state_file_status = restore.status;
  if (!restore.state) {
    if (restore.status != "disabled" && restore.status != "missing") {
      spdlog::warn("cluster {}: lag history not restored: {}", config.cluster,
                   restore.status);
    } else if (restore.status == "missing") {
      spdlog::info("cluster {}: no saved lag history; it starts empty",
                   config.cluster);
    }
  } else {
    pending_restore_ = std::move(restore);
  }
  PublishRoutingLocked();
  PublishLocked();
}

std::vector<int> ClusterState::OldOfNew(const Config& config,
                                        const Snapshot& previous) {
  std::vector<int> out;
  for (const ServerConfig& s : AllServers(config)) {
    int k = -1;
    for (std::size_t i = 0; i < previous.servers.size(); ++i) {
      if (previous.servers[i].name == s.name) k = static_cast<int>(i);
    }
    out.push_back(k);
  }
  return out;
}

ClusterState::ClusterState(const Config& config, const Clock* clock,
                           const ClusterState& previous)
    : ClusterState(config, clock, previous,
                   std::unique_lock<std::mutex>(previous.mu_)) {}

ClusterState::ClusterState(const Config& config, const Clock* clock,
                           const ClusterState& previous,
                           std::unique_lock<std::mutex> lock)
    : config_(config),
      clock_(clock),
      server_count_(1 + static_cast<int>(config.replicas.size())),
      history_(previous.history_),
      topology_(TopologyTracker::Remapped(
          previous.topology_, OldOfNew(config, previous.building_))),
      model_(RoutingModel::Remapped(previous.model_,
                                    ServerSpecs(AllServers(config)),
                                    OldOfNew(config, previous.building_), -1)),
      last_replay_(server_count_),
      trails_(server_count_, LagTrail(LagTrailLimits{})),
      recent_reads_(previous.recent_reads_.Remapped(
          OldOfNew(config, previous.building_))),
      system_identifier_(previous.system_identifier_),
      primary_last_seen_(previous.primary_last_seen_),
      pending_restore_(previous.pending_restore_),
      failover_logged_(previous.failover_logged_),
      last_topology_log_(previous.last_topology_log_),
      generation_(previous.generation_ + 1) {
  const std::vector<int> old_of_new = OldOfNew(config, previous.building_);
  const Snapshot& old = previous.building_;
  building_ = old;  // cluster-wide views: heartbeat, manager, routing_active
  building_.servers.clear();
  std::vector<int> new_of_old(old.servers.size(), -1);
  const std::vector<ServerConfig> servers = AllServers(config);
  for (int j = 0; j < server_count_; ++j) {
    const int k = old_of_new[j];
    if (k < 0) {
      building_.servers.push_back(MakeView(servers[j]));
      continue;
    }
    new_of_old[k] = j;
    ServerView v = old.servers[k];
    const ServerView fresh = MakeView(servers[j]);  // what config decides
    v.role = fresh.role;
    v.endpoint = fresh.endpoint;
    v.application_name = fresh.application_name;
    building_.servers.push_back(std::move(v));
    last_replay_[j] = previous.last_replay_[k];
    trails_[j] = previous.trails_[k];
  }
  auto map = [&](int k) {
    return k >= 0 && k < static_cast<int>(new_of_old.size()) ? new_of_old[k]
                                                             : -1;
  };
  building_.heartbeat.last_target = map(old.heartbeat.last_target);
  for (PgBouncerView& p : building_.pgbouncers) {
    p.server_index = -1;
    for (int j = 0; j < server_count_; ++j) {
      if (!p.server.empty() && building_.servers[j].name == p.server) {
        p.server_index = j;
      }
    }
  }
  building_.routing_config = config.routing;
  building_.lag_status = config.lag_status;
  model_.Reconfigure(config.routing);
  lock.unlock();
  UpdateTopologyLocked(clock_->Now());
  PublishRoutingLocked();
  PublishLocked();
}

void ClusterState::RecordManager(bool ok, const std::string& error,
                                 const std::string& url,
                                 std::vector<PatroniMember> members,
                                 WallTime at) {
  std::lock_guard<std::mutex> lock(mu_);
  ManagerView& m = building_.manager;
  m.enabled = true;
  m.ok = ok;
  m.url = url;
  if (ok) {
    m.last_error.clear();
    m.last_success = at;
    m.leader = PatroniLeader(members);
    m.members = std::move(members);
  } else {
    m.last_error = error;
  }
  PublishLocked();
}

void ClusterState::RecordPgBouncer(int pgbouncer,
                                   const PgBouncerOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pgbouncer < 0 ||
      pgbouncer >= static_cast<int>(building_.pgbouncers.size())) {
    return;
  }
  PgBouncerView& v = building_.pgbouncers[pgbouncer];
  v.polled = true;
  ++v.polls_total;
  v.up = outcome.ok;
  v.poll_duration_seconds = ToSeconds(outcome.duration);
  v.last_error = outcome.error;
  if (!outcome.ok) {
    ++v.poll_errors_total;
    v.sample.reset();
  } else {
    v.last_success = outcome.wall_at;
    v.sample = outcome.sample;
  }
  PublishLocked();
}

void ClusterState::RecordPoll(int server, PollOutcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  RecordPollLocked(server, outcome);
}

void ClusterState::RecordPollLocked(int server, PollOutcome& outcome) {
  if (server < 0 || server >= server_count_) return;
  ServerView& v = ViewLocked(server);
  v.polled = true;
  ++v.polls_total;
  v.up = outcome.ok;
  v.poll_duration_seconds = ToSeconds(outcome.duration);
  if (!outcome.ok) {
    ++v.poll_errors_total;
    v.last_error = outcome.error;
    v.sample.reset();
    ClearLag(v);
    v.lag_unknown_reason = "down";
  } else {
    v.last_error.clear();
    v.last_success = outcome.wall_at;
    // Moved, not copied (maps, rows and strings): outcome.sample is not
    // read again below.
    v.sample = std::move(outcome.sample);
    const ServerSample& sample = *v.sample;
    if (sample.system_identifier) {
      MaybeRestoreLocked(*sample.system_identifier);
    } else if (pending_restore_) {
      building_.state_file_status =
          "ignored: the servers do not report their system identifier "
          "(grant pg_monitor)";
      spdlog::warn("cluster {}: lag history not restored: {}", config_.cluster,
                   building_.state_file_status);
      pending_restore_.reset();
    }
    if (sample.in_recovery && sample.replay_lsn &&
        last_replay_[server] != sample.replay_lsn) {
      last_replay_[server] = sample.replay_lsn;
      ++generation_;
    }
  }

  UpdateTopologyLocked(outcome.at);
  const int primary = topology_.primary();
  if (outcome.ok && server == primary && topology_.Claims(primary) &&
      v.sample && v.sample->current_lsn) {
    const auto before = history_.latest();
    history_.Observe(outcome.at, *v.sample->current_lsn);
    if (history_.latest() != before) ++generation_;
    primary_last_seen_ = outcome.at;
    building_.topology.primary_last_seen = outcome.wall_at;
  }
  building_.topology.primary_last_lsn = history_.latest();

  for (int i = 0; i < server_count_; ++i) {
    ServerView& s = ViewLocked(i);
    s.standby_connected.reset();
    const ServerView& p = building_.servers[primary];
    if (i != primary && p.up && p.sample &&
        p.sample->CollectorOk("stat_replication")) {
      s.standby_connected =
          std::any_of(p.sample->standbys.begin(), p.sample->standbys.end(),
                      [&](const StandbyRow& row) {
                        return row.application_name == s.application_name;
                      });
    }
    s.streaming = DecideStreaming(building_.servers, i, primary);
  }
  ComputeLagLocked(server, outcome.at);
  if (config_.heartbeat.enabled) {
    ComputeHeartbeatLagLocked(server, outcome.wall_at);
  }
  if (trails_[server].Record(outcome.at, v.lag_seconds)) {
    v.lag_trail =
        std::make_shared<const LagTrailPoints>(trails_[server].Points());
  }
  PruneLocked();
  for (int i = 0; i < server_count_; ++i) {
    ViewLocked(i).health = AssessServer(building_, i);
  }
  PublishRoutingLocked();
  PublishLocked();
}

void ClusterState::MaybeRestoreLocked(std::uint64_t system_identifier) {
  if (!system_identifier_) system_identifier_ = system_identifier;
  if (!pending_restore_) return;
  RestoreInput restore = std::move(*pending_restore_);
  pending_restore_.reset();
  const LagState& saved = *restore.state;
  if (saved.system_identifier != system_identifier) {
    building_.state_file_status = "ignored: saved for system identifier " +
                                  std::to_string(saved.system_identifier) +
                                  ", the cluster reports " +
                                  std::to_string(system_identifier);
    spdlog::warn("cluster {}: lag history not restored: {}", config_.cluster,
                 building_.state_file_status);
    return;
  }
  history_.Restore(EntriesOnThisClock(saved, restore.boot_id, clock_->Now(),
                                      clock_->WallNow()));
  int adopted = -1;
  for (int i = 0; i < server_count_; ++i) {
    const std::string& name = building_.servers[i].name;
    if (name == saved.primary) adopted = i;
    auto it = saved.last_replay.find(name);
    if (it != saved.last_replay.end() && !last_replay_[i]) {
      last_replay_[i] = it->second;
    }
  }
  topology_.Restore(adopted, saved.timeline);
  const auto age = std::chrono::duration_cast<Duration>(clock_->WallNow() -
                                                        saved.saved_wall);
  building_.state_file_status =
      "restored: " + std::to_string(history_.size()) + " entries saved " +
      FormatDuration(std::max(age, Duration(1))) + " ago";
  spdlog::info("cluster {}: lag history {}", config_.cluster,
               building_.state_file_status);
  ++generation_;
}

void ClusterState::UpdateTopologyLocked(MonoTime) {
  std::vector<RoleObservation> roles(server_count_);
  for (int i = 0; i < server_count_; ++i) {
    const ServerView& v = building_.servers[i];
    const ServerConfig& config = ServerAt(config_, i);
    RoleObservation& r = roles[i];
    r.up = v.up && v.sample.has_value();
    r.application_name = v.application_name;
    r.host = config.host;
    r.port = config.port;
    if (!r.up) continue;
    r.in_recovery = v.sample->in_recovery;
    r.timeline = v.sample->timeline;
    for (const StandbyRow& row : v.sample->standbys) {
      r.standbys.push_back(row.application_name);
    }
    if (v.sample->wal_receiver) {
      r.sender_host = v.sample->wal_receiver->sender_host;
      r.sender_port = v.sample->wal_receiver->sender_port.value_or(0);
    }
  }
  const int before = topology_.primary();
  for (const TopologyEvent& e : topology_.Update(roles)) {
    if (e.kind == TopologyEvent::kPrimaryChanged) {
      spdlog::warn("cluster {}: the primary changed from {} to {}",
                   config_.cluster, building_.servers[e.from].name,
                   building_.servers[e.to].name);
    } else {
      spdlog::warn("cluster {}: the primary's timeline changed from {} to {}",
                   config_.cluster, e.from_timeline.value_or(0),
                   e.to_timeline.value_or(0));
    }
  }
  const int primary = topology_.primary();
  if (primary != before) {
    // The new primary's WAL forked from the old one's at about the last
    // position it replayed as a standby; what the history holds past that
    // was another timeline's.
    std::optional<Lsn> cut = last_replay_[primary];
    const ServerView& p = building_.servers[primary];
    if (!cut && p.sample && p.sample->current_lsn) cut = p.sample->current_lsn;
    if (cut) history_.Rebase(*cut);
    last_replay_[primary].reset();
    ++generation_;
  }
  if (auto change = model_.SetWriteTarget(primary)) {
    spdlog::warn("server {} left the read rotation: it is the primary now",
                 change->server);
  }

  TopologyView& t = building_.topology;
  t.state = topology_.state();
  t.primary = primary;
  t.primary_observed = topology_.primary_observed();
  t.claimants = topology_.claimants();
  t.timeline = topology_.timeline();
  t.primary_changes = topology_.primary_changes();
  t.timeline_changes = topology_.timeline_changes();
  for (int i = 0; i < server_count_; ++i) {
    ServerView& v = ViewLocked(i);
    v.is_primary = i == primary;
    v.claims_primary = topology_.Claims(i);
    v.upstream = topology_.Upstream(i);
  }

  std::string log;
  switch (t.state) {
    case TopologyState::kSinglePrimary:
      log = "primary " + building_.servers[primary].name;
      break;
    case TopologyState::kNoPrimary:
      log = "no primary";
      break;
    case TopologyState::kSplitBrain:
      log = "split brain";
      break;
  }
  if (!t.claimants.empty()) log += ": " + Names(building_.servers, t.claimants);
  // Only once every server has been polled: before that, "no primary" is
  // just not knowing yet.
  const bool all_polled =
      std::all_of(building_.servers.begin(), building_.servers.end(),
                  [](const ServerView& v) { return v.polled; });
  if (all_polled && log != last_topology_log_) {
    if (t.state == TopologyState::kSinglePrimary) {
      spdlog::info("cluster {}: {} is the primary", config_.cluster,
                   building_.servers[primary].name);
    } else if (t.state == TopologyState::kNoPrimary) {
      spdlog::warn(
          "cluster {}: no primary reachable (last primary {}); replicas that "
          "replayed what they received keep serving reads, stale",
          config_.cluster, building_.servers[primary].name);
    } else {
      spdlog::error(
          "cluster {}: split brain: {} are all out of recovery; the primary "
          "stays {}",
          config_.cluster, Names(building_.servers, t.claimants),
          building_.servers[primary].name);
    }
    last_topology_log_ = log;
  }
}

void ClusterState::ComputeHeartbeatLagLocked(int server, WallTime at) {
  ServerView& v = ViewLocked(server);
  v.heartbeat_lag_seconds.reset();
  v.heartbeat_seq.reset();
  if (!v.up || !v.sample) {
    v.heartbeat_unknown_reason = "down";
  } else if (!v.sample->in_recovery) {
    v.heartbeat_unknown_reason = "not in recovery";
  } else if (!v.sample->CollectorOk("heartbeat")) {
    v.heartbeat_unknown_reason = "the heartbeat table cannot be read";
  } else if (!v.sample->heartbeat_written_at) {
    v.heartbeat_unknown_reason = "no heartbeat visible yet";
  } else {
    v.heartbeat_unknown_reason.clear();
    v.heartbeat_seq = v.sample->heartbeat_seq;
    // Never negative: a heartbeat newer than the poll's answer is seen as
    // current (the agent's clock stepped back).
    v.heartbeat_lag_seconds =
        std::max(0.0, ToUnixSeconds(at) - *v.sample->heartbeat_written_at);
  }
}

void ClusterState::RecordHeartbeatWrite(int server, bool ok,
                                        const std::string& error,
                                        std::optional<std::int64_t> seq,
                                        WallTime written_at) {
  std::lock_guard<std::mutex> lock(mu_);
  HeartbeatView& h = building_.heartbeat;
  ++h.writes_total;
  h.last_target = server;
  h.last_write_ok = ok;
  if (ok) {
    h.last_seq = seq;
    h.last_written_at = written_at;
  } else {
    ++h.write_errors_total;
    h.last_error = error;
  }
  PublishLocked();
}

void ClusterState::ComputeLagLocked(int server, MonoTime at) {
  ServerView& v = ViewLocked(server);
  ClearLag(v);
  v.lag_unknown_reason.clear();
  if (!v.up || !v.sample) {
    v.lag_unknown_reason = "down";
    return;
  }
  if (!v.sample->in_recovery) {
    v.lag_unknown_reason = "not in recovery";
    return;
  }
  if (!v.sample->replay_lsn) {
    v.lag_unknown_reason = "no replay position";
    return;
  }
  const Lsn replay = *v.sample->replay_lsn;
  const int primary = topology_.primary();
  const TopologyState state = topology_.state();
  const bool outage = state == TopologyState::kNoPrimary;
  const bool measurable =
      state == TopologyState::kSinglePrimary || outage ||
      (topology_.Claims(primary) && topology_.Upstream(server) == primary);
  if (!measurable) {
    v.lag_unknown_reason =
        "split brain: " + std::to_string(topology_.claimants().size()) +
        " servers claim primary and this one follows none of them "
        "verifiably";
    return;
  }
  const auto lag = history_.LagAt(replay, at);
  if (!lag) {
    v.lag_unknown_reason = "no primary position observed yet";
    return;
  }
  v.lag_seconds = ToSeconds(lag->lag);
  v.lag_lower_bound = lag->lower_bound || outage;
  if (auto latest = history_.latest()) {
    v.lag_bytes = LagBytes(*latest, replay);
  }
  if (outage) {
    const MonoTime seen =
        primary_last_seen_.value_or(history_.latest_at().value_or(at));
    if (auto then = history_.LagAt(replay, std::min(seen, at))) {
      v.outage_lag_seconds = ToSeconds(then->lag);
    }
    v.outage_lag_bytes = v.lag_bytes;
  }
}

void ClusterState::PruneLocked() {
  std::optional<Lsn> min_replay;
  for (int i = 0; i < server_count_; ++i) {
    if (topology_.Claims(i)) continue;  // a primary replays nothing
    if (!last_replay_[i]) {
      // Not polled in recovery yet (or never up): it may come back far
      // behind, so keep everything (the history's bounds still apply).
      if (i != topology_.primary()) return;
      continue;
    }
    min_replay =
        min_replay ? std::min(*min_replay, *last_replay_[i]) : *last_replay_[i];
  }
  if (min_replay) {
    history_.Prune(*min_replay);
  } else if (auto latest = history_.latest()) {
    history_.Prune(*latest);  // no replica at all
  }
}

bool ClusterState::ReadyForFirstCheck() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ServerView& v : building_.servers) {
    if (!v.polled) return false;
  }
  if (topology_.state() != TopologyState::kSinglePrimary) return true;
  for (const ServerView& v : building_.servers) {
    if (v.up && v.sample && v.sample->in_recovery &&
        (!v.lag_seconds || v.lag_lower_bound)) {
      return false;
    }
  }
  return true;
}

void ClusterState::HealthCheck() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HealthVerdict> verdicts;
  for (int i = 0; i < server_count_; ++i) {
    ServerView& v = ViewLocked(i);
    v.health = AssessServer(building_, i);
    verdicts.push_back(v.health);
  }
  for (const RotationChange& c : model_.Check(verdicts)) {
    if (c.entered) {
      spdlog::info("server {} entered the read rotation: {}", c.server,
                   c.reason);
    } else {
      spdlog::warn("server {} left the read rotation: {}", c.server, c.reason);
    }
  }
  if (model_.failover_active() != failover_logged_) {
    failover_logged_ = model_.failover_active();
    if (failover_logged_) {
      spdlog::warn(
          "cluster {}: no replica in rotation: reads fail over to "
          "the primary",
          config_.cluster);
    } else {
      spdlog::info(
          "cluster {}: replicas back in rotation: read failover "
          "ended",
          config_.cluster);
    }
  }
  building_.routing_active = true;
  PublishRoutingLocked();
  PublishLocked();
}

SyntheticPlan ClusterState::PlanSynthetic(int reads) {
  std::lock_guard<std::mutex> lock(mu_);
  SyntheticPlan plan;
  plan.probes.assign(server_count_, 0);
  const MonoTime now = clock_->Now();
  for (int i = 0; i < reads; ++i) {
    const RouteTarget t = model_.RouteRead();
    plan.reads.push_back(t);
    if (t.server >= 0) {
      ++plan.probes[t.server];
      recent_reads_.Record(now, t.server);
    }
  }
  for (int i = 0; i < server_count_; ++i) {
    if (i != model_.write_target() && !model_.server(i).in_rotation &&
        plan.probes[i] == 0) {
      plan.probes[i] = 1;  // keeps its synthetic result current
    }
  }
  PublishRoutingLocked();
  PublishLocked();
  return plan;
}

void ClusterState::RecordSynthetic(int server, bool all_ok, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (server < 0 || server >= server_count_) return;
  ServerView& v = ViewLocked(server);
  v.routing.synthetic_ok = all_ok;
  v.routing.synthetic_duration_seconds = seconds;
  v.health = AssessServer(building_, server);
  PublishLocked();
}

Duration ClusterState::ReadsWindow(const RoutingConfig& routing) {
  return std::max<Duration>(std::chrono::minutes(1),
                            6 * routing.synthetic_check_interval);
}

void ClusterState::PublishRoutingLocked() {
  const std::vector<std::uint64_t> recent = recent_reads_.Counts(clock_->Now());
  for (int i = 0; i < server_count_; ++i) {
    const ServerState& st = model_.server(i);
    RoutingView& r = ViewLocked(i).routing;
    r.in_rotation = st.in_rotation;
    r.reason = st.reason;
    r.routed_reads = st.routed_reads;
    r.recent_reads = recent[i];
    r.rotation_changes = st.rotation_changes;
    r.consecutive_healthy = st.consecutive_healthy;
    r.consecutive_unhealthy = st.consecutive_unhealthy;
  }
  building_.failover_active = model_.failover_active();
  building_.topology.stale_reads =
      topology_.state() == TopologyState::kNoPrimary &&
      model_.in_rotation_count() > 0;
}

namespace {
// The process's count of state changes (Snapshot::change).
std::atomic<std::uint64_t> changes{0};
}  // namespace

void ClusterState::PublishLocked() {
  dirty_ = true;
  building_.change = ++changes;
}

void ClusterState::Visit(const std::function<void(const Snapshot&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  fn(building_);
}

std::shared_ptr<const Snapshot> ClusterState::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (dirty_ || !published_) {
    // Copied once per change, not per reader.
    auto copy = std::make_shared<Snapshot>(building_);
    copy->taken_at = clock_->WallNow();
    published_ = std::move(copy);
    dirty_ = false;
  }
  return published_;
}

std::optional<LagState> ClusterState::Save(const std::string& boot_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!system_identifier_) return std::nullopt;
  LagState s;
  s.cluster = config_.cluster;
  s.system_identifier = *system_identifier_;
  if (topology_.primary_observed()) {
    s.primary = building_.servers[topology_.primary()].name;
  }
  s.timeline = topology_.timeline();
  s.entries = history_.Entries();
  for (int i = 0; i < server_count_; ++i) {
    if (last_replay_[i]) {
      s.last_replay[building_.servers[i].name] = *last_replay_[i];
    }
  }
  s.boot_id = boot_id;
  s.saved_mono = clock_->Now();
  s.saved_wall = clock_->WallNow();
  return s;
}

std::uint64_t ClusterState::save_generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

RoutingModel ClusterState::model() const {
  std::lock_guard<std::mutex> lock(mu_);
  return model_;
}

}  // namespace pgre
