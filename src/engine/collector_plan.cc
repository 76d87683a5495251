#include "engine/collector_plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgre {

MonoTime Backoff::Failed(MonoTime now) {
  current_ =
      current_ == Duration::zero() ? initial_ : std::min(current_ * 2, max_);
  return now + current_;
}

CollectorPlan::CollectorPlan(
    std::string server_name,
    const std::vector<std::unique_ptr<Collector>>* collectors)
    : server_name_(std::move(server_name)), collectors_(collectors) {
  ForVersion(0);
}

void CollectorPlan::ForVersion(int version) {
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
  if (version != version_ && version > 0) {
    const std::string text =
        std::to_string(version / 10000) + "." + std::to_string(version % 10000);
    if (version < kMinServerVersion) {
      spdlog::warn(
          "server {} runs PostgreSQL {}, older than the supported 13 to 18: "
          "collectors skipped: {}",
          server_name_, text, skipped.empty() ? "none" : skipped);
    } else if (version > kMaxTestedServerVersion) {
      spdlog::info("server {} runs PostgreSQL {}, newer than tested (13 to 18)",
                   server_name_, text);
    }
  }
  version_ = version;
}

void CollectorPlan::Fill(const std::vector<QueryResult>& results,
                         PollOutcome* out) {
  if (results.size() != queries_.size()) {
    out->ok = false;
    out->error = "query: wrong number of results";
    return;
  }
  out->ok = true;
  out->sample.server_version = std::max(0, version_);
  for (const auto& c : *collectors_) {
    out->sample.collector_success[std::string(c->Name())] = false;
  }
  for (std::size_t k = 0; k < active_.size(); ++k) {
    const Collector& c = *(*collectors_)[active_[k]];
    const QueryResult& result = results[k];
    std::string error =
        result.ok ? "" : (result.error.empty() ? "query failed" : result.error);
    if (result.ok) {
      Status parsed = c.Parse(result, &out->sample);
      if (!parsed.ok()) error = parsed.message();
    }
    const std::string name(c.Name());
    // Logged once per change of error, not once per poll.
    auto it = errors_.find(name);
    if (!error.empty() && (it == errors_.end() || it->second != error)) {
      spdlog::warn("collector {} on {}: {}", name, server_name_, error);
      errors_[name] = error;
    } else if (error.empty() && it != errors_.end()) {
      spdlog::info("collector {} on {} works again", name, server_name_);
      errors_.erase(it);
    }
    out->sample.collector_success[name] = error.empty();
  }
  // Without the "server" collector nothing about the server is known.
  if (!out->sample.collector_success["server"]) {
    out->ok = false;
    out->error = "collector server failed";
  }
}

}  // namespace pgre
