#include "http/exposition.h"

#include <catch2/catch.hpp>

#include "cluster/cluster_state.h"

namespace pgre {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Config Cluster(const std::string& name) {
  Config c;
  c.cluster = name;
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  ServerConfig r;
  r.name = "replica1";
  c.replicas.push_back(r);
  return c;
}

PollOutcome Up(const FakeClock& clock, Lsn lsn = 100) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.sample.collector_success["server"] = true;
  o.sample.current_lsn = lsn;
  return o;
}

struct Fixture {
  FakeClock clock;
  ClusterState a{Cluster("a"), &clock}, b{Cluster("b"), &clock},
      c{Cluster("c"), &clock};
  ExpositionCache cache{&clock,
                        ExpositionOptions{.assembly_gap = milliseconds(100)}};
  std::shared_ptr<const ExpositionBody> Scrape() {
    return cache.Render({a.Get(), b.Get(), c.Get()});
  }
};

TEST_CASE("a cluster is rendered once per snapshot change", "[exposition]") {
  Fixture f;
  const auto first = f.Scrape();
  CHECK(f.cache.scrape_renders() == 3);
  CHECK(f.cache.assemblies() == 1);
  // Unchanged: the very same body, nothing rendered or assembled.
  for (int i = 0; i < 100; ++i) CHECK(f.Scrape() == first);
  CHECK(f.cache.scrape_renders() == 3);
  CHECK(f.cache.assemblies() == 1);
  // One cluster changed: within scrape_fresh_for its rendering still
  // serves; after it, only that cluster is rendered again.
  f.b.RecordPoll(0, Up(f.clock));
  CHECK(f.Scrape() == first);
  f.clock.Advance(milliseconds(1001));
  const auto second = f.Scrape();
  CHECK(second != first);
  CHECK(f.cache.scrape_renders() == 4);
  CHECK(f.cache.assemblies() == 2);
  CHECK(second->text()->find("pg_replica_wal_lsn_bytes{cluster=\"b\"") !=
        std::string::npos);
  CHECK(first->text()->find("pg_replica_wal_lsn_bytes") == std::string::npos);
  // The gzip head is computed once per body.
  CHECK(&second->gzip() == &second->gzip());
  bool ok = false;
  CHECK(Gunzip(second->gzip().bytes + GzipFinish(second->gzip(), ""), &ok) ==
        *second->text());
  CHECK(ok);
}

TEST_CASE("hot scrapes use background renderings, fresh ones only",
          "[exposition]") {
  Fixture f;
  // Nobody scraped yet: no background work at all.
  f.cache.Prerender(*f.a.Get(), seconds(2));
  CHECK(f.cache.prerenders() == 0);
  CHECK_FALSE(f.cache.hot());
  // A lone scrape (a curl) starts no background work; a second within the
  // hot window does.
  f.Scrape();
  CHECK_FALSE(f.cache.hot());
  f.clock.Advance(seconds(1));
  f.Scrape();
  CHECK(f.cache.hot());

  // A poll lands, the background renders it: the next scrape renders
  // nothing itself.
  f.a.RecordPoll(0, Up(f.clock, 200));
  f.cache.Prerender(*f.a.Get(), seconds(2));
  CHECK(f.cache.prerenders() == 1);
  f.clock.Advance(milliseconds(150));  // past the assembly gap
  auto body = f.Scrape();
  CHECK(f.cache.scrape_renders() == 3);  // the first scrape's three
  CHECK(body->text()->find("pg_replica_wal_lsn_bytes{cluster=\"a\",server="
                           "\"primary\"} 200") != std::string::npos);
  // Another poll, not rendered yet: the background rendering is still
  // fresh, so the scrape uses it (one poll behind) rather than render.
  f.a.RecordPoll(0, Up(f.clock, 300));
  body = f.Scrape();
  CHECK(f.cache.scrape_renders() == 3);
  CHECK(body->text()->find("} 200") != std::string::npos);
  // Once it is stale, the scrape renders the cluster itself.
  f.clock.Advance(seconds(3));
  body = f.Scrape();
  CHECK(f.cache.scrape_renders() == 4);
  CHECK(body->text()->find("pg_replica_wal_lsn_bytes{cluster=\"a\",server="
                           "\"primary\"} 300") != std::string::npos);
  // Scrapes rarer than the hot window stop the background work.
  f.clock.Advance(seconds(11));
  CHECK_FALSE(f.cache.hot());
  f.cache.Prerender(*f.a.Get(), seconds(2));
  CHECK(f.cache.prerenders() == 1);
}

TEST_CASE("background renderings are assembled at most once per gap",
          "[exposition]") {
  Fixture f;
  f.Scrape();
  const auto assembled = f.cache.assemblies();
  for (int i = 0; i < 10; ++i) {
    f.a.RecordPoll(0, Up(f.clock, 1000 + i));
    f.cache.Prerender(*f.a.Get(), seconds(2));
    f.clock.Advance(milliseconds(10));
    f.Scrape();
  }
  CHECK(f.cache.assemblies() == assembled + 1);  // 100 ms: one more
  CHECK(f.cache.scrape_renders() == 3);
}

TEST_CASE("a scrape takes a snapshot only of a cluster not freshly rendered",
          "[exposition]") {
  // Taking a snapshot copies it after a change, on the HTTP thread: while
  // the background keeps every rendering fresh, a scrape takes none.
  Fixture f;
  std::vector<std::string_view> names = {"a", "b", "c"};
  std::vector<std::string> asked;
  auto scrape = [&] {
    return f.cache.Render(names, [&](std::size_t i) {
      asked.push_back(std::string(names[i]));
      return std::vector{&f.a, &f.b, &f.c}[i]->Get();
    });
  };
  scrape();
  CHECK(asked.size() == 3);  // nothing rendered yet
  asked.clear();
  f.clock.Advance(milliseconds(500));
  scrape();  // fresh: nothing asked
  CHECK(asked.empty());
  CHECK(f.cache.hot());
  f.clock.Advance(milliseconds(600));  // the renderings are stale now
  f.b.RecordPoll(0, Up(f.clock, 500));
  f.cache.Prerender(*f.b.Get(), seconds(2));
  scrape();
  // a and c: stale, asked, unchanged (not rendered); b: fresh, not asked.
  CHECK(asked == std::vector<std::string>{"a", "c"});
  CHECK(f.cache.scrape_renders() == 3);
  CHECK(f.cache.prerenders() == 1);
}

TEST_CASE("between rare scrapes, a changed cluster's rendering is released",
          "[exposition]") {
  Fixture f;
  std::weak_ptr<const ExpositionBody> body = f.Scrape();
  std::weak_ptr<const Snapshot> snapshot = f.a.Get();
  REQUIRE_FALSE(body.expired());  // a scrape right after would reuse it
  f.a.RecordPoll(0, Up(f.clock, 200));
  f.a.Get();  // the cluster's own copy moves on
  // Still fresh: it may serve a scrape, it stays.
  f.cache.Forget("a");
  CHECK_FALSE(body.expired());
  f.clock.Advance(milliseconds(1001));
  f.cache.Forget("nope");
  CHECK_FALSE(body.expired());
  f.cache.Forget("a");
  CHECK(body.expired());
  CHECK(snapshot.expired());  // the rendering held the old snapshot
  // The next scrape renders that cluster only.
  const auto next = f.Scrape();
  CHECK(f.cache.scrape_renders() == 4);
  CHECK(next->text()->find("wal_lsn_bytes{cluster=\"a\",server=\"primary\"} "
                           "200") != std::string::npos);
  // While scrapes are hot, nothing is released.
  f.clock.Advance(seconds(2));
  std::weak_ptr<const ExpositionBody> hot = f.Scrape();
  REQUIRE(f.cache.hot());
  f.b.RecordPoll(0, Up(f.clock, 300));
  f.clock.Advance(seconds(2));
  f.cache.Forget("b");
  CHECK_FALSE(hot.expired());
}

TEST_CASE("a different cluster list re-renders", "[exposition]") {
  FakeClock clock;
  ClusterState a(Cluster("a"), &clock), b(Cluster("b"), &clock);
  ExpositionCache cache(&clock);
  const auto both = cache.Render({a.Get(), b.Get()});
  const auto one = cache.Render({b.Get()});
  CHECK(one->text()->find("cluster=\"a\"") == std::string::npos);
  CHECK(one->text()->find("cluster=\"b\"") != std::string::npos);
  CHECK(both->text()->find("cluster=\"a\"") != std::string::npos);
  CHECK(cache.Render({})->text()->empty());
}

TEST_CASE("a cluster's state rebuilt by a reload is rendered anew",
          "[exposition]") {
  FakeClock clock;
  ClusterState a(Cluster("a"), &clock);
  a.RecordPoll(0, Up(clock, 100));
  ExpositionCache cache(&clock);
  const auto before = cache.Render({a.Get()});
  // The same cluster, its state carried into a new one, which has changed
  // since: once the old rendering is no longer fresh, it is not reused.
  ClusterState reloaded(Cluster("a"), &clock, a);
  reloaded.RecordPoll(0, Up(clock, 4242));
  clock.Advance(milliseconds(1001));
  const auto after = cache.Render({reloaded.Get()});
  CHECK(cache.scrape_renders() == 2);
  CHECK(after->text()->find("pg_replica_wal_lsn_bytes{cluster=\"a\"") !=
        std::string::npos);
  CHECK(
      before->text()->find(
          "pg_replica_wal_lsn_bytes{cluster=\"a\",server=\"primary\"} 100\n") !=
      std::string::npos);
  CHECK(after->text()->find("pg_replica_wal_lsn_bytes{cluster=\"a\",server="
                            "\"primary\"} 4242\n") != std::string::npos);
  // A cluster removed and added again by reloads: a new state, nothing
  // carried, as many changes as the old one had.
  ClusterState fresh(Cluster("a"), &clock);
  fresh.RecordPoll(0, Up(clock, 77));
  ClusterState again(Cluster("a"), &clock);
  again.RecordPoll(0, Up(clock, 88));
  clock.Advance(milliseconds(1001));
  cache.Render({fresh.Get()});
  clock.Advance(milliseconds(1001));
  const auto last = cache.Render({again.Get()});
  CHECK(last->text()->find("pg_replica_wal_lsn_bytes{cluster=\"a\",server="
                           "\"primary\"} 88\n") != std::string::npos);
}

}  // namespace
}  // namespace pgre
