// Exposition: the clusters' part of /metrics kept ready, so that a scrape
// only assembles bytes and its cost does not grow with the request rate.
//
// A cluster's families are rendered (metrics.h, then text_format.h) into
// pieces, one per family. Two ways:
//  - in the background, off the HTTP thread: while scrapes come often (the
//    last two, and the last and now, within `hot_window`), the engine calls
//    Prerender after a cluster changed, at most once per poll interval per
//    cluster (engine/cluster_driver.h); a scrape uses that rendering while it
//    is fresh (`fresh_for`, two poll intervals), even if a poll landed since;
//  - at the scrape itself, for a cluster with no fresh rendering (the first
//    scrape, or scrapes rarer than hot_window: Prometheus every 15 s costs
//    one render per scrape, not one per poll); such a rendering serves the
//    scrapes of the next `scrape_fresh_for`, and is released (Forget) once
//    its cluster changed, so rare scrapes keep no copy between them.
// The body is assembled from the pieces grouped by family (one HELP/TYPE
// per family across every cluster, as the text format requires; families
// in order of first appearance), and reused while no piece changed, and at
// most once per `assembly_gap` while scrapes are hot. A body is its list of
// pieces: its gzip encoding is compressed from them, and its text put
// together, each once per body, on the first scrape that asks for it.
//
// Thread safety: every method may be called from any thread; bodies are
// immutable (their gzip head is computed once, under a once_flag).
#ifndef PGRE_HTTP_EXPOSITION_H_
#define PGRE_HTTP_EXPOSITION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/snapshot.h"
#include "common/clock.h"
#include "http/gzip.h"

namespace pgre {

struct RenderedCluster;

// A body: the text format of every cluster's series, kept as the pieces it
// is made of (views into the renderings it holds, and interned headers);
// its text and its gzip encoding are each made on the first call that asks
// for it, so that scrapers that all ask for gzip (Prometheus) never have
// the text put together (at 1 000 servers, a 3.6 MB copy per body and the
// memory it holds).
class ExpositionBody {
 public:
  // REQUIRES: `pieces` view into `parts`' text or static strings.
  ExpositionBody(std::vector<std::shared_ptr<const RenderedCluster>> parts,
                 std::vector<std::string_view> pieces);
  // The text format of every cluster's series (the pieces concatenated).
  const std::shared_ptr<const std::string>& text() const;
  // The text gzip-started (gzip.h), compressed from the pieces.
  const GzipHead& gzip() const;
  // The renderings it was assembled from, in cluster order.
  const std::vector<std::shared_ptr<const RenderedCluster>>& parts() const {
    return parts_;
  }

 private:
  // Set at construction, never changed after.
  std::vector<std::shared_ptr<const RenderedCluster>> parts_;
  std::vector<std::string_view> pieces_;
  mutable std::once_flag text_once_;
  mutable std::shared_ptr<const std::string> text_;
  mutable std::once_flag gzip_once_;
  mutable GzipHead gzip_;
};

// One cluster's snapshot rendered, family by family: every family's series
// lines in one string; the headers, the same for every cluster, once per
// process.
struct RenderedCluster {
  struct Family {
    const std::string* header = nullptr;  // "# HELP ...\n# TYPE ...\n"
    std::string_view name;                // in *header
    std::string_view samples;             // the series lines, in `text`
  };
  std::string cluster;
  std::uint64_t change = 0;  // the snapshot's (Snapshot::change)
  std::string text;
  std::vector<Family> families;
  MonoTime fresh_until{};  // a scrape may use it instead of rendering

  RenderedCluster() = default;
  RenderedCluster(const RenderedCluster&) = delete;  // views into `text`
  RenderedCluster& operator=(const RenderedCluster&) = delete;
};

// Renders `snapshot`. Pure.
std::shared_ptr<const RenderedCluster> RenderCluster(const Snapshot& snapshot);

struct ExpositionOptions {
  Duration hot_window = std::chrono::seconds(10);
  // Under a second, so that a scraper every second gets a new body each
  // time; near one, so that two scrapers every second (an HA pair of
  // Prometheus servers) share one body, and one gzip encoding of it.
  Duration assembly_gap = std::chrono::milliseconds(900);
  // How long a rendering made at a scrape serves the next ones (until the
  // background has caught up).
  Duration scrape_fresh_for = std::chrono::seconds(1);
};

class ExpositionCache {
 public:
  // REQUIRES: clock outlives the cache.
  explicit ExpositionCache(const Clock* clock, ExpositionOptions options = {});

  // The body for the clusters named `clusters` (in order, unique).
  // `snapshot_of(i)` gives cluster i's current snapshot (not null); it is
  // asked only for a cluster without a fresh rendering, so a scrape that
  // finds every cluster rendered in the background copies no snapshot.
  // Records a scrape.
  using SnapshotOf =
      std::function<std::shared_ptr<const Snapshot>(std::size_t)>;
  std::shared_ptr<const ExpositionBody> Render(
      const std::vector<std::string_view>& clusters,
      const SnapshotOf& snapshot_of);
  // The same, for snapshots at hand (one per cluster, in order).
  std::shared_ptr<const ExpositionBody> Render(
      const std::vector<std::shared_ptr<const Snapshot>>& snapshots);

  // Whether scrapes come often: the last two came within hot_window of
  // each other, and the last within hot_window of now. A lone scrape (a
  // curl, a first scrape) starts no background work.
  bool hot() const;
  // Background: renders `snapshot` for its cluster now, usable by scrapes
  // for `fresh_for`. Does nothing unless hot(). May be called under a
  // ClusterState's lock (ClusterState::Visit: the state is rendered without
  // a copy of it): the cache never calls into a state while it holds its
  // own lock.
  void Prerender(const Snapshot& snapshot, Duration fresh_for);

  // Scrapes are rare (not hot()) and `cluster` changed: its rendering,
  // once no longer fresh, cannot serve the next scrape. Releases it and
  // the body assembled from it, so that between
  // rare scrapes (Prometheus every 15 s) the agent keeps no copy of its
  // metrics (at 1 000 servers, 3.6 MB of renderings and a 3.6 MB body).
  // Does nothing while hot() or while the rendering is fresh.
  void Forget(std::string_view cluster);

  // Counters for tests and the benchmark: clusters rendered at a scrape,
  // in the background, and bodies assembled.
  std::uint64_t scrape_renders() const { return scrape_renders_.load(); }
  std::uint64_t prerenders() const { return prerenders_.load(); }
  std::uint64_t assemblies() const { return assemblies_.load(); }

 private:
  const Clock* clock_;
  const ExpositionOptions options_;
  std::atomic<std::int64_t> last_scrape_ns_{INT64_MIN};  // MonoTime ticks
  // Between the last two scrapes (INT64_MAX before the second).
  std::atomic<std::int64_t> scrape_gap_ns_{INT64_MAX};
  mutable std::mutex mu_;
  // By cluster name: its latest rendering.
  std::map<std::string, std::shared_ptr<const RenderedCluster>, std::less<>>
      rendered_;  // guarded by mu_
  // The last body (it holds the renderings it was made of), and when.
  std::shared_ptr<const ExpositionBody> body_;  // guarded
  MonoTime assembled_at_{};                     // guarded
  std::atomic<std::uint64_t> scrape_renders_{0}, prerenders_{0}, assemblies_{0};
};

}  // namespace pgre

#endif  // PGRE_HTTP_EXPOSITION_H_
