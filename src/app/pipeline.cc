#include "app/pipeline.h"

#include <spdlog/spdlog.h>

#include <condition_variable>

#include "discovery/patroni.h"
#include "state/state_file.h"

namespace pgre {
namespace {

// How often a changed lag state is written to the state file.
constexpr auto kStateSaveInterval = std::chrono::seconds(10);

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "added a, b; removed c" between two server lists.
std::string Difference(const Config& before, const Config& after) {
  std::vector<std::string> added, removed;
  auto has = [](const Config& c, const std::string& name) {
    for (const ServerConfig& s : AllServers(c)) {
      if (s.name == name) return true;
    }
    return false;
  };
  for (const ServerConfig& s : AllServers(after)) {
    if (!s.name.empty() && !has(before, s.name)) added.push_back(s.name);
  }
  for (const ServerConfig& s : AllServers(before)) {
    if (!s.name.empty() && !has(after, s.name)) removed.push_back(s.name);
  }
  std::string out;
  if (!added.empty()) out += "added " + Joined(added);
  if (!removed.empty()) {
    out +=
        (out.empty() ? "" : "; ") + std::string("removed ") + Joined(removed);
  }
  return out.empty() ? "servers changed" : out;
}

}  // namespace

RestoreInput Pipeline::Restore(const std::string& cluster) const {
  if (state_directory_.empty()) return RestoreInput{};
  return ReadStateFile(state_directory_, cluster, boot_id_);
}

Pipeline::Pipeline(const AgentConfig& config, Handovers handover,
                   std::string state_directory,
                   ClusterDriver::ChangeHook on_change)
    : state_directory_(std::move(state_directory)), boot_id_(BootId()) {
  std::vector<Config> configs;
  std::vector<std::shared_ptr<ClusterState>> states;
  for (const Config& c : config.clusters) {
    Slot slot;
    slot.configured = c;
    slot.current = c;
    slot.discovery = c.discovery.patroni.enabled();
    RestoreInput restore;
    std::optional<std::vector<PatroniMember>> members;
    if (auto it = handover.find(c.cluster); it != handover.end()) {
      restore = std::move(it->second.restore);
      members = std::move(it->second.members);
      slot.answered = it->second.discovery_answered;
    } else {
      restore = Restore(c.cluster);
    }
    if (slot.discovery && members) {
      // The last list the previous pipeline had: no wait for a round.
      std::vector<std::string> skipped;
      if (auto merged = MergeMembers(c, *members, "", &skipped)) {
        slot.current = std::move(*merged);
        slot.last_members = members;
        slot.members = members->size();
      }
    }
    if (!slot.current.primary.name.empty()) {
      slot.state = std::make_shared<ClusterState>(slot.current, Clock::Real(),
                                                  std::move(restore));
    } else {
      spdlog::info(
          "cluster {}: no primary configured: waiting for its members from "
          "Patroni ({})",
          c.cluster, Joined(c.discovery.patroni.urls));
    }
    configs.push_back(slot.current);
    states.push_back(slot.state);
    slots_.push_back(std::move(slot));
  }
  PublishLocked();  // nothing else runs yet
  engine_ = std::make_unique<Engine>(
      configs, states, DefaultLoopCount(), Clock::Real(), std::move(on_change),
      nullptr,
      [this](int i, DiscoveryOutcome out) { OnDiscovery(i, std::move(out)); });
}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  engine_->Start();
  if (!state_directory_.empty()) {
    keeper_ = std::jthread([this](std::stop_token stop) { Keep(stop); });
  }
}

void Pipeline::Stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_->Stop();
  if (keeper_.joinable()) {
    keeper_.request_stop();
    keeper_.join();
    SaveIfChanged();
  }
}

void Pipeline::PublishLocked() {
  auto list = std::make_shared<ClusterList>();
  for (const Slot& s : slots_) {
    if (s.state) list->push_back(s.state);
  }
  list_ = std::move(list);
}

std::shared_ptr<const ClusterList> Pipeline::clusters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_;
}

std::vector<std::string> Pipeline::WaitingForMembers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const Slot& s : slots_) {
    if (s.discovery && !s.state && !s.answered) {
      names.push_back(s.configured.cluster);
    }
  }
  return names;
}

std::vector<std::shared_ptr<const Snapshot>> Pipeline::Snapshots() const {
  std::vector<std::shared_ptr<const Snapshot>> out;
  for (const auto& c : *clusters()) out.push_back(c->Get());
  return out;
}

void Pipeline::OnDiscovery(int i, DiscoveryOutcome outcome) {
  std::shared_ptr<ClusterState> replaced;
  Config config;
  std::string change;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& slot = slots_.at(i);
    const std::string& name = slot.configured.cluster;
    slot.answered = true;
    slot.ok = outcome.ok;
    if (slot.state) {
      slot.state->RecordManager(outcome.ok, outcome.error, outcome.url,
                                outcome.members, outcome.at);
    }
    if (!outcome.ok) {
      if (outcome.error != slot.logged_error) {
        spdlog::warn(
            "cluster {}: discovering the members from Patroni failed, "
            "keeping the last list: {}",
            name, outcome.error);
        slot.logged_error = outcome.error;
      }
      return;
    }
    if (!slot.logged_error.empty()) {
      spdlog::info("cluster {}: members discovered from {} again", name,
                   outcome.url);
      slot.logged_error.clear();
    }
    slot.ever_ok = true;
    slot.last_success = outcome.at;
    slot.members = outcome.members.size();
    slot.last_members = outcome.members;
    const Config before = slot.current;
    replaced = Rebuild(slot, outcome.members);
    if (!replaced) return;
    replaced->RecordManager(true, "", outcome.url, outcome.members, outcome.at);
    config = slot.current;
    change = Difference(before, slot.current);
    PublishLocked();
  }
  spdlog::info("cluster {}: members from Patroni: {}; now polling {}",
               config.cluster, change, [&] {
                 std::vector<std::string> names;
                 for (const ServerConfig& s : AllServers(config)) {
                   names.push_back(s.name);
                 }
                 return Joined(names);
               }());
  engine_->ReplaceCluster(i, config, std::move(replaced));
}

std::shared_ptr<ClusterState> Pipeline::Rebuild(
    Slot& slot, const std::vector<PatroniMember>& members) {
  std::vector<std::string> skipped;
  std::optional<Config> merged = MergeMembers(
      slot.configured, members, slot.current.primary.name, &skipped);
  const std::string skipped_text = Joined(skipped);
  if (skipped_text != slot.logged_skipped) {
    if (!skipped.empty()) {
      spdlog::warn("cluster {}: members not polled: {}",
                   slot.configured.cluster, skipped_text);
    }
    slot.logged_skipped = skipped_text;
  }
  if (!merged) return nullptr;
  if (slot.state && SameServers(slot.current, *merged)) return nullptr;
  std::shared_ptr<ClusterState> next =
      slot.state
          ? std::make_shared<ClusterState>(*merged, Clock::Real(), *slot.state)
          : std::make_shared<ClusterState>(*merged, Clock::Real(),
                                           Restore(slot.configured.cluster));
  slot.current = std::move(*merged);
  slot.state = next;
  return next;
}

std::vector<prometheus::MetricFamily> Pipeline::DiscoveryFamilies() const {
  using prometheus::ClientMetric;
  using prometheus::MetricFamily;
  using prometheus::MetricType;
  MetricFamily success{
      "pg_replica_discovery_success",
      "Whether the last discovery of the members from Patroni's REST API "
      "succeeded (the last list stays in use when it did not).",
      MetricType::Gauge,
      {}};
  MetricFamily members{"pg_replica_discovery_members",
                       "Members in the last successful discovery.",
                       MetricType::Gauge,
                       {}};
  MetricFamily last{"pg_replica_discovery_last_success_timestamp_seconds",
                    "Unix time of the last successful discovery.",
                    MetricType::Gauge,
                    {}};
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& s : slots_) {
    if (!s.discovery) continue;
    ClientMetric m;
    m.label = {{"cluster", s.configured.cluster}};
    m.gauge.value = s.ok ? 1 : 0;
    success.metric.push_back(m);
    if (!s.ever_ok && !s.last_members) continue;
    m.gauge.value = static_cast<double>(s.members);
    members.metric.push_back(m);
    if (s.last_success) {
      m.gauge.value = ToUnixSeconds(*s.last_success);
      last.metric.push_back(m);
    }
  }
  std::vector<MetricFamily> out;
  for (MetricFamily* f : {&success, &members, &last}) {
    if (!f->metric.empty()) out.push_back(std::move(*f));
  }
  return out;
}

Pipeline::Handovers Pipeline::TakeHandover() const {
  Handovers out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& s : slots_) {
    Handover h;
    h.restore.boot_id = boot_id_;
    if (s.state) h.restore.state = s.state->Save(boot_id_);
    h.restore.status = h.restore.state ? "" : "missing";
    h.members = s.last_members;
    h.discovery_answered = s.answered;
    out[s.configured.cluster] = std::move(h);
  }
  return out;
}

void Pipeline::Keep(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, stop, kStateSaveInterval, [] { return false; });
    lock.unlock();
    SaveIfChanged();
  }
}

void Pipeline::SaveIfChanged() {
  std::vector<std::pair<std::size_t, std::shared_ptr<ClusterState>>> states;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].state) states.push_back({i, slots_[i].state});
    }
  }
  for (const auto& [i, state] : states) {
    const std::uint64_t generation = state->save_generation();
    bool failing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation == slots_[i].saved) continue;
      failing = slots_[i].failing;
    }
    std::optional<LagState> saved = state->Save(boot_id_);
    if (!saved) continue;
    Status s = WriteStateFile(state_directory_, *saved);
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok()) {
      if (!failing) spdlog::warn("state file: {}", s.message());
      slots_[i].failing = true;
      continue;
    }
    if (failing) {
      spdlog::info("state file of cluster {}: written again", state->name());
    }
    slots_[i].failing = false;
    slots_[i].saved = generation;
  }
}

}  // namespace pgre
