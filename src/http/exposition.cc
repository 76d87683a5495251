#include "http/exposition.h"

#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>

#include "http/metrics.h"
#include "http/text_format.h"

namespace pgre {
namespace {

std::int64_t Ticks(MonoTime t) { return t.time_since_epoch().count(); }

// The header of a family, interned: stable, shared by every cluster's
// rendering. The set is bounded by the families metrics.h builds.
const std::string* InternHeader(std::string_view header) {
  static std::mutex mu;
  static std::set<std::string, std::less<>> headers;
  std::lock_guard<std::mutex> lock(mu);
  auto it = headers.find(header);
  if (it == headers.end()) it = headers.emplace(header).first;
  return &*it;
}

// A family's header, interned; found by the address of its name (a static
// string, TextFamilies) without a lock once this thread has seen it.
const std::string* HeaderOf(const TextFamilies::Family& f) {
  thread_local std::unordered_map<const char*, const std::string*> seen;
  auto it = seen.find(f.name.data());
  if (it != seen.end()) return it->second;
  std::string header;
  AppendFamilyHeader(f.name, f.help, f.type, &header);
  const std::string* interned = InternHeader(header);
  seen.emplace(f.name.data(), interned);
  return interned;
}

std::shared_ptr<RenderedCluster> RenderPart(const Snapshot& snapshot) {
  auto part = std::make_shared<RenderedCluster>();
  TextFamilies text = BuildTextFamilies(snapshot);
  part->text = std::move(text.samples);
  part->families.resize(text.families.size());
  for (std::size_t i = 0; i < text.families.size(); ++i) {
    const TextFamilies::Family& f = text.families[i];
    RenderedCluster::Family& family = part->families[i];
    family.header = HeaderOf(f);
    // "# HELP NAME " or "# TYPE NAME ": the name follows the first 7 bytes.
    family.name = std::string_view(*family.header).substr(7, f.name.size());
    family.samples = std::string_view(part->text).substr(f.begin, f.size);
  }
  part->cluster = snapshot.cluster;
  part->change = snapshot.change;
  return part;
}

}  // namespace

ExpositionBody::ExpositionBody(
    std::vector<std::shared_ptr<const RenderedCluster>> parts,
    std::vector<std::string_view> pieces)
    : parts_(std::move(parts)), pieces_(std::move(pieces)) {}

const std::shared_ptr<const std::string>& ExpositionBody::text() const {
  std::call_once(text_once_, [this] {
    std::size_t size = 0;
    for (std::string_view p : pieces_) size += p.size();
    std::string text;
    text.reserve(size);
    for (std::string_view p : pieces_) text += p;
    text_ = std::make_shared<const std::string>(std::move(text));
  });
  return text_;
}

const GzipHead& ExpositionBody::gzip() const {
  std::call_once(gzip_once_, [this] { gzip_ = GzipStart(pieces_); });
  return gzip_;
}

std::shared_ptr<const RenderedCluster> RenderCluster(const Snapshot& snapshot) {
  return RenderPart(snapshot);
}

ExpositionCache::ExpositionCache(const Clock* clock, ExpositionOptions options)
    : clock_(clock), options_(options) {}

bool ExpositionCache::hot() const {
  const std::int64_t last = last_scrape_ns_.load();
  const std::int64_t gap = scrape_gap_ns_.load();
  if (gap == INT64_MAX) return false;  // fewer than two scrapes
  const std::int64_t window =
      std::chrono::duration_cast<MonoTime::duration>(options_.hot_window)
          .count();
  return gap < window && Ticks(clock_->Now()) - last < window;
}

void ExpositionCache::Prerender(const Snapshot& snapshot, Duration fresh_for) {
  if (!hot()) return;
  std::shared_ptr<RenderedCluster> part = RenderPart(snapshot);
  part->fresh_until = clock_->Now() + fresh_for;
  ++prerenders_;
  std::shared_ptr<const RenderedCluster> old;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const RenderedCluster>& slot = rendered_[part->cluster];
  old = std::move(slot);
  slot = std::move(part);
}

void ExpositionCache::Forget(std::string_view cluster) {
  if (hot()) return;
  const MonoTime now = clock_->Now();
  // Released outside the lock.
  std::shared_ptr<const RenderedCluster> part;
  std::shared_ptr<const ExpositionBody> body;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rendered_.find(cluster);
  if (it == rendered_.end() || now < it->second->fresh_until) return;
  part = std::move(it->second);
  rendered_.erase(it);
  body = std::move(body_);
}

std::shared_ptr<const ExpositionBody> ExpositionCache::Render(
    const std::vector<std::shared_ptr<const Snapshot>>& snapshots) {
  std::vector<std::string_view> names;
  names.reserve(snapshots.size());
  for (const auto& s : snapshots) names.push_back(s->cluster);
  return Render(names, [&](std::size_t i) { return snapshots[i]; });
}

std::shared_ptr<const ExpositionBody> ExpositionCache::Render(
    const std::vector<std::string_view>& clusters,
    const SnapshotOf& snapshot_of) {
  const MonoTime now = clock_->Now();
  const std::int64_t before = last_scrape_ns_.exchange(Ticks(now));
  scrape_gap_ns_.store(before == INT64_MIN ? INT64_MAX : Ticks(now) - before);
  const std::size_t n = clusters.size();
  std::vector<std::shared_ptr<const RenderedCluster>> use(n);
  std::vector<std::size_t> stale;  // a rendering, no longer fresh
  std::vector<std::size_t> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < n; ++i) {
      auto it = rendered_.find(clusters[i]);
      if (it == rendered_.end()) {
        missing.push_back(i);
      } else {
        use[i] = it->second;
        if (now >= it->second->fresh_until) stale.push_back(i);
      }
    }
  }
  // Outside the lock (the background may store meanwhile): a rendering no
  // longer fresh still serves an unchanged cluster; the others are
  // rendered here.
  std::vector<std::shared_ptr<const Snapshot>> current(n);
  for (std::size_t i : stale) {
    current[i] = snapshot_of(i);
    if (use[i]->change != current[i]->change) missing.push_back(i);
  }
  for (std::size_t i : missing) {
    if (!current[i]) current[i] = snapshot_of(i);
    std::shared_ptr<RenderedCluster> part = RenderPart(*current[i]);
    part->fresh_until = now + options_.scrape_fresh_for;
    use[i] = std::move(part);
    ++scrape_renders_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i : missing) rendered_[std::string(clusters[i])] = use[i];
  if (rendered_.size() > n) {
    // Clusters gone (a reload): keep only the current ones.
    std::map<std::string, std::shared_ptr<const RenderedCluster>, std::less<>>
        keep;
    for (std::size_t i = 0; i < n; ++i) keep[std::string(clusters[i])] = use[i];
    rendered_.swap(keep);
  }
  if (body_ && use == body_->parts()) return body_;
  // Only background renderings changed: at most one assembly per gap.
  if (body_ && missing.empty() && body_->parts().size() == n &&
      now - assembled_at_ < options_.assembly_gap) {
    return body_;
  }

  // Families in order of first appearance; each family's samples from
  // every cluster, in cluster order, under one header.
  struct Slot {
    const std::string* header = nullptr;
    std::vector<std::string_view> samples;
  };
  std::vector<Slot> slots;
  // Interned headers: one address per family.
  std::unordered_map<const std::string*, std::size_t> index;
  std::size_t pieces_count = 0;
  for (const auto& part : use) {
    for (const RenderedCluster::Family& f : part->families) {
      auto [it, added] = index.emplace(f.header, slots.size());
      if (added) {
        slots.push_back(Slot{f.header, {}});
        ++pieces_count;
      }
      slots[it->second].samples.push_back(f.samples);
      ++pieces_count;
    }
  }
  std::vector<std::string_view> pieces;
  pieces.reserve(pieces_count);
  for (const Slot& slot : slots) {
    pieces.push_back(*slot.header);
    for (std::string_view s : slot.samples) pieces.push_back(s);
  }
  body_ =
      std::make_shared<const ExpositionBody>(std::move(use), std::move(pieces));
  assembled_at_ = now;
  ++assemblies_;
  return body_;
}

}  // namespace pgre
