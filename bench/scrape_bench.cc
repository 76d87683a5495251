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
#include "http/api.h"

namespace pgre {
namespace {

Config FourServers(int i) {
  Config c;
  c.cluster = "cluster" + std::to_string(i);
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  for (int r = 1; r <= 3; ++r) {
    ServerConfig s;
    s.name = "replica" + std::to_string(r);
    s.application_name = s.name;
    s.role = Role::kReplica;
    c.replicas.push_back(s);
  }
  return c;
}

PollOutcome Poll(const FakeClock& clock, int server, Lsn lsn) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.duration = std::chrono::milliseconds(2);
  ServerSample& s = o.sample;
  for (const char* c : {"server", "stat_replication", "replication_slots",
                        "wal_receiver", "activity", "system_identifier"}) {
    s.collector_success[c] = true;
  }
  s.server_version = 150018;
  s.timeline = 1;
  s.max_connections = 100;
  s.superuser_reserved_connections = 3;
  s.system_identifier = 7300000000000000001ULL;
  for (const char* state : kConnectionStates) s.connections_by_state[state] = 0;
  s.connections_by_state["active"] = 3;
  s.connections_by_state["idle"] = 12;
  if (server == 0) {
    s.current_lsn = lsn;
    for (int r = 1; r <= 3; ++r) {
      StandbyRow row;
      row.application_name = "replica" + std::to_string(r);
      row.client_addr = "10.0.0." + std::to_string(r);
      row.state = "streaming";
      row.sync_state = "async";
      row.sent_lsn = row.write_lsn = row.flush_lsn = row.replay_lsn = lsn;
      row.write_lag = row.flush_lag = row.replay_lag = 0.001;
      s.standbys.push_back(row);
      SlotRow slot;
      slot.slot_name = "slot" + std::to_string(r);
      slot.slot_type = "physical";
      slot.active = true;
      slot.retained_bytes = 4096;
      slot.wal_status = "reserved";
      s.slots.push_back(slot);
    }
  } else {
    s.in_recovery = true;
    s.receive_lsn = s.replay_lsn = lsn;
    s.replay_paused = false;
    s.last_xact_replay_timestamp = ToUnixSeconds(clock.WallNow());
    WalReceiverRow w;
    w.status = "streaming";
    w.written_lsn = w.flushed_lsn = w.latest_end_lsn = lsn;
    w.received_tli = 1;
    w.last_msg_send_time = w.last_msg_receipt_time =
        ToUnixSeconds(clock.WallNow());
    w.sender_host = "10.0.0.100";
    w.sender_port = 5432;
    w.slot_name = "slot" + std::to_string(server);
    s.wal_receiver = w;
  }
  return o;
}

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
    for (int s = 0; s < 4; ++s) c.RecordPoll(s, Poll(clock, s, lsn));
  };
  for (int i = 0; i < clusters; ++i) {
    states.push_back(std::make_unique<ClusterState>(FourServers(i), &clock));
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
