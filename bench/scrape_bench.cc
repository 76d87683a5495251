// pgre_scrape_bench: the cost of a scrape, in process, for callgrind
// (scripts/bench.sh). Builds CLUSTERS clusters of four servers (a primary
// with three streaming replicas, each with the series a real poll gives:
// standbys, slots, WAL receiver, connections), then answers SCRAPES GET
// /metrics requests through the Api, as the HTTP server would:
//   --mode=cached       nothing changes between scrapes (a fast scraper)
//   --mode=changed-one  one cluster's poll lands before each scrape
//   --mode=changed-all  every server's poll lands before each scrape (a
//                       slow scraper: Prometheus every 15 s)
//   --gzip              the client accepts gzip
// Prints the series count and body size. Count instructions inside
// Api::Handle with:
//   valgrind --tool=callgrind --toggle-collect='pgre::Api::Handle*' ...
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/example_cluster.h"
#include "http/api.h"

namespace pgre {
namespace {

int Main(int argc, char** argv) {
  int clusters = 250, scrapes = 100;
  std::string mode = "cached";
  bool gzip = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--clusters=", 0) == 0)
      clusters = std::atoi(a.c_str() + 11);
    else if (a.rfind("--scrapes=", 0) == 0)
      scrapes = std::atoi(a.c_str() + 10);
    else if (a.rfind("--mode=", 0) == 0)
      mode = a.substr(7);
    else if (a == "--gzip")
      gzip = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::off);
  FakeClock clock;
  std::vector<std::unique_ptr<ClusterState>> states;
  std::vector<const ClusterState*> raw;
  Lsn lsn = 0x3000000;
  auto poll_cluster = [&](ClusterState& c) {
    lsn += 8192;
    for (int s = 0; s < 4; ++s) c.RecordPoll(s, example::Poll(clock, s, lsn));
  };
  for (int i = 0; i < clusters; ++i) {
    states.push_back(
        std::make_unique<ClusterState>(example::FourServers(i), &clock));
    poll_cluster(*states.back());
    clock.Advance(std::chrono::milliseconds(1));
    poll_cluster(*states.back());  // the lag is now exact
    states.back()->HealthCheck();
    raw.push_back(states.back().get());
  }
  // On the fake clock: a changed cluster is rendered at the scrape (its
  // last rendering is older than scrape_fresh_for), however slowly the
  // bench runs (under callgrind, the real clock would decide).
  Api api(raw, BuildInfo{"bench", "bench"}, "/metrics", &clock);
  ApiRequest request{"GET", "/metrics", "", gzip};
  HttpResponse r = api.Handle(request);  // the first render, not counted
  std::size_t bytes = r.BodySize();
  for (int k = 0; k < scrapes; ++k) {
    clock.Advance(mode == "cached" ? std::chrono::milliseconds(10)
                                   : ExpositionOptions{}.scrape_fresh_for +
                                         std::chrono::milliseconds(1));
    if (mode == "changed-one") {
      poll_cluster(*states[k % clusters]);
    } else if (mode == "changed-all") {
      for (auto& c : states) poll_cluster(*c);
    } else if (mode != "cached") {
      std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
      return 2;
    }
    r = api.Handle(request);
    bytes = r.BodySize();
  }
  const std::string plain =
      api.Handle(ApiRequest{"GET", "/metrics", "", false}).Body();
  std::size_t series = 0;
  for (std::size_t at = 0; at < plain.size();) {
    if (plain[at] != '#') ++series;
    const auto nl = plain.find('\n', at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  std::printf("clusters %d servers %d series %zu body_bytes %zu scrapes %d\n",
              clusters, 4 * clusters, series, bytes, scrapes);
  return 0;
}

}  // namespace
}  // namespace pgre

int main(int argc, char** argv) { return pgre::Main(argc, argv); }
