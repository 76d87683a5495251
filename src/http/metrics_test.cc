#include "http/metrics.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>

#include "http/text_format.h"

namespace pgre {
namespace {

// Finds the value of the series `name` whose labels include `labels`.
std::optional<double> Find(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& f : families) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found |= l.name == k && l.value == v;
        match &= found;
      }
      if (!match) continue;
      return f.type == prometheus::MetricType::Counter ? m.counter.value
                                                       : m.gauge.value;
    }
  }
  return std::nullopt;
}

// The scrape's path (BuildTextFamilies, headers written by text_format.h)
// and prometheus-cpp's serializer of BuildMetricFamilies: the same bytes.
void CheckTextPath(const Snapshot& s) {
  const TextFamilies text = BuildTextFamilies(s);
  std::string ours;
  for (const TextFamilies::Family& f : text.families) {
    AppendFamilyHeader(f.name, f.help, f.type, &ours);
    ours += text.samples.substr(f.begin, f.size);
  }
  CHECK(ours == prometheus::TextSerializer().Serialize(BuildMetricFamilies(s)));
}

Snapshot Base() {
  Snapshot s;
  s.cluster = "main";
  s.servers.resize(1);
  ServerView& primary = s.servers[0];
  primary.name = "primary";
  primary.role = Role::kPrimary;
  primary.polled = primary.up = true;
  primary.is_primary = primary.claims_primary = true;
  primary.last_success = WallTime(std::chrono::seconds(1700000000));
  s.topology.state = TopologyState::kSinglePrimary;
  s.topology.claimants = {0};
  ServerSample p;
  p.current_lsn = 5000;
  p.max_connections = 100;
  p.superuser_reserved_connections = 3;
  p.connections_by_state = {{"active", 2}, {"idle", 5}};
  p.collector_success = {
      {"server", true}, {"stat_replication", true}, {"activity", true}};
  StandbyRow row;
  row.application_name = "replica1";
  row.state = "streaming";
  row.sync_state = "async";
  row.replay_lsn = 5000;
  p.standbys.push_back(row);
  primary.sample = p;

  ServerView r;
  r.name = "replica1";
  r.role = Role::kReplica;
  r.polled = r.up = true;
  ServerSample rs;
  rs.in_recovery = true;
  rs.replay_lsn = 5000;
  rs.wal_receiver = WalReceiverRow{};
  rs.wal_receiver->status = "streaming";
  rs.collector_success = {{"server", true}, {"wal_receiver", true}};
  r.sample = rs;
  r.streaming = true;
  r.lag_seconds = 0.25;
  r.lag_bytes = 0;
  s.servers.push_back(r);
  return s;
}

TEST_CASE("healthy cluster publishes the fixed series", "[metrics]") {
  CheckTextPath(Base());
  const auto f = BuildMetricFamilies(Base());
  CHECK(Find(f, "pg_replica_up",
             {{"server", "primary"}, {"role", "primary"}}) == 1);
  CHECK(Find(f, "pg_replica_up",
             {{"server", "replica1"}, {"role", "replica"}}) == 1);
  CHECK(Find(f, "pg_replica_up", {{"cluster", "main"}}) == 1);
  CHECK(Find(f, "pg_replica_in_recovery", {{"server", "replica1"}}) == 1);
  CHECK(Find(f, "pg_replica_in_recovery", {{"server", "primary"}}) == 0);
  CHECK(Find(f, "pg_replica_lag_seconds", {{"server", "replica1"}}) == 0.25);
  CHECK(Find(f, "pg_replica_lag_bytes", {{"server", "replica1"}}) == 0);
  CHECK(Find(f, "pg_replica_wal_receiver_streaming",
             {{"server", "replica1"}}) == 1);
  CHECK(Find(f, "pg_replica_connections",
             {{"server", "primary"}, {"state", "idle"}}) == 5);
  // States with no connection are published as 0, not dropped.
  CHECK(Find(f, "pg_replica_connections",
             {{"server", "primary"}, {"state", "idle in transaction"}}) == 0);
  CHECK(Find(f, "pg_replica_max_connections", {{"server", "primary"}}) == 100);
  CHECK(Find(f, "pg_replica_last_poll_success_timestamp_seconds",
             {{"server", "primary"}}) == 1700000000);
  CHECK(Find(f, "pg_replica_poll_errors_total", {{"server", "primary"}}) == 0);
  CHECK(Find(f, "pg_replica_is_primary", {{"server", "primary"}}) == 1);
  CHECK(Find(f, "pg_replica_is_primary", {{"server", "replica1"}}) == 0);
  CHECK(Find(f, "pg_replica_lag_lower_bound", {{"server", "replica1"}}) == 0);
  CHECK(Find(f, "pg_replica_primaries", {{"cluster", "main"}}) == 1);
  CHECK(Find(f, "pg_replica_primary_changes_total", {{"cluster", "main"}}) ==
        0);
  CHECK(Find(f, "pg_replica_timeline_changes_total", {{"cluster", "main"}}) ==
        0);
  CHECK(Find(f, "pg_replica_stale_reads_active", {{"cluster", "main"}}) == 0);
}

TEST_CASE("topology series: split brain, no primary, changes", "[metrics]") {
  Snapshot s = Base();
  s.topology.state = TopologyState::kSplitBrain;
  s.topology.claimants = {0, 1};
  s.topology.primary_changes = 2;
  s.topology.timeline_changes = 1;
  auto f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_primaries", {}) == 2);
  CHECK(Find(f, "pg_replica_primary_changes_total", {}) == 2);
  CHECK(Find(f, "pg_replica_timeline_changes_total", {}) == 1);
  s.topology.state = TopologyState::kNoPrimary;
  s.topology.claimants = {};
  s.topology.stale_reads = true;
  s.servers[1].lag_lower_bound = true;
  f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_primaries", {}) == 0);
  CHECK(Find(f, "pg_replica_stale_reads_active", {}) == 1);
  CHECK(Find(f, "pg_replica_lag_lower_bound", {{"server", "replica1"}}) == 1);
}

TEST_CASE("streaming is published as decided, absent when unknown",
          "[metrics]") {
  Snapshot s = Base();
  s.servers[1].streaming = false;
  CHECK(Find(BuildMetricFamilies(s), "pg_replica_wal_receiver_streaming",
             {{"server", "replica1"}}) == 0);
  s.servers[1].streaming.reset();
  CHECK_FALSE(Find(BuildMetricFamilies(s), "pg_replica_wal_receiver_streaming",
                   {{"server", "replica1"}}));
}

TEST_CASE("a down replica keeps up=0 and loses its lag series", "[metrics]") {
  Snapshot s = Base();
  ServerView& r = s.servers[1];
  r.up = false;
  r.sample.reset();
  r.lag_seconds.reset();
  r.lag_bytes.reset();
  r.poll_errors_total = 3;
  r.polls_total = 5;
  const auto f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_polls_total", {{"server", "replica1"}}) == 5);
  CHECK(Find(f, "pg_replica_up", {{"server", "replica1"}}) == 0);
  CHECK(Find(f, "pg_replica_poll_errors_total", {{"server", "replica1"}}) == 3);
  CHECK_FALSE(Find(f, "pg_replica_lag_seconds", {{"server", "replica1"}}));
  CHECK_FALSE(Find(f, "pg_replica_lag_bytes", {{"server", "replica1"}}));
  CHECK_FALSE(Find(f, "pg_replica_in_recovery", {{"server", "replica1"}}));
}

TEST_CASE("a standby that left pg_stat_replication does not linger",
          "[metrics]") {
  Snapshot s = Base();
  CHECK(Find(BuildMetricFamilies(s), "pg_replica_stat_replication_info",
             {{"standby", "replica1"}}));
  s.servers[0].sample->standbys.clear();
  CHECK_FALSE(Find(BuildMetricFamilies(s), "pg_replica_stat_replication_info",
                   {{"standby", "replica1"}}));
}

TEST_CASE("server-reported NULL lag is 0 only when caught up", "[metrics]") {
  Snapshot s = Base();
  auto& row = s.servers[0].sample->standbys[0];
  row.write_lsn = 5000;  // caught up: NULL write_lag means 0
  row.flush_lsn = 4000;  // behind: NULL flush_lag is unknown
  row.replay_lag = 1.5;  // reported value is kept
  const auto f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_stat_replication_lag_seconds",
             {{"standby", "replica1"}, {"kind", "write"}}) == 0);
  CHECK_FALSE(Find(f, "pg_replica_stat_replication_lag_seconds",
                   {{"standby", "replica1"}, {"kind", "flush"}}));
  CHECK(Find(f, "pg_replica_stat_replication_lag_seconds",
             {{"standby", "replica1"}, {"kind", "replay"}}) == 1.5);
}

TEST_CASE("routing series appear once the routing loop runs", "[metrics]") {
  Snapshot s = Base();
  CHECK_FALSE(Find(BuildMetricFamilies(s), "pg_replica_healthy", {}));
  s.routing_active = true;
  s.failover_active = true;
  s.servers[0].routing.routed_reads = 4;
  s.servers[1].routing.routed_reads = 9;
  CheckTextPath(s);
  const auto f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_healthy", {{"server", "replica1"}}) == 0);
  // The primary takes writes: it has no rotation state to publish.
  CHECK_FALSE(Find(f, "pg_replica_healthy", {{"server", "primary"}}));
  CHECK(Find(f, "pg_replica_rotation_changes_total", {{"server", "primary"}}) ==
        0);
  CHECK(Find(f, "pg_replica_read_failover_active", {{"cluster", "main"}}) == 1);
  CHECK(Find(f, "pg_replica_routed_reads_total", {{"server", "primary"}}) == 4);
  CHECK(Find(f, "pg_replica_routed_reads_total", {{"server", "replica1"}}) ==
        9);
}

TEST_CASE("the text format escapes hostile label values", "[metrics]") {
  Snapshot s = Base();
  s.servers[1].name = "evil\"\n\\name";
  const std::string text = TextFormat(BuildMetricFamilies(s));
  CHECK(text.find("server=\"evil\\\"\\n\\\\name\"") != std::string::npos);
  CheckTextPath(s);
}

TEST_CASE("pgbouncer series: pools, utilization, stats, down",
          "[metrics][pgbouncer]") {
  Snapshot s = Base();
  PgBouncerView b;
  b.name = "bouncer1";
  b.server = "primary";
  b.polled = b.up = true;
  b.polls_total = 3;
  b.poll_duration_seconds = 0.004;
  PgBouncerSample x;
  PgBouncerPool pool;
  pool.database = "app";
  pool.user = "u";
  pool.cl_active = 4;
  pool.cl_waiting = 3;
  pool.sv_active = 9;
  pool.sv_used = 1;
  pool.maxwait_seconds = 2.5;
  pool.pool_mode = "transaction";
  x.pools.push_back(pool);
  PgBouncerDatabase db;
  db.name = "app";
  db.pool_size = 10;
  db.current_connections = 10;
  x.databases.push_back(db);
  PgBouncerStats st;
  st.database = "app";
  st.total_xact_count = 42;
  st.total_wait_time = 1.25;
  st.avg_query_time = 0.002;
  x.stats.push_back(st);
  x.max_client_conn = 70;
  x.version = "PgBouncer 1.18.0";
  x.collector_success = {{"pools", true},
                         {"stats", true},
                         {"databases", true},
                         {"config", true},
                         {"version", false}};
  b.sample = x;
  s.pgbouncers.push_back(b);
  CheckTextPath(s);
  auto f = BuildMetricFamilies(s);
  using L = std::vector<std::pair<std::string, std::string>>;
  const L pl = {{"cluster", "main"},
                {"pgbouncer", "bouncer1"},
                {"server", "primary"},
                {"database", "app"},
                {"user", "u"}};
  CHECK(Find(f, "pg_replica_pgbouncer_up", {{"pgbouncer", "bouncer1"}}) == 1);
  CHECK(Find(f, "pg_replica_pgbouncer_pool_client_waiting_connections", pl) ==
        3);
  CHECK(Find(f, "pg_replica_pgbouncer_pool_maxwait_seconds", pl) == 2.5);
  // sv_active over pool_size; sv_used does not count.
  CHECK(Find(f, "pg_replica_pgbouncer_pool_utilization_ratio", pl) ==
        Approx(0.9));
  CHECK(Find(f, "pg_replica_pgbouncer_client_utilization_ratio",
             {{"pgbouncer", "bouncer1"}}) == Approx(0.1));
  CHECK(Find(f, "pg_replica_pgbouncer_transactions_total",
             {{"database", "app"}}) == 42);
  CHECK(Find(f, "pg_replica_pgbouncer_wait_time_seconds_total",
             {{"database", "app"}}) == 1.25);
  CHECK(Find(f, "pg_replica_pgbouncer_collector_success",
             {{"collector", "version"}}) == 0);
  CHECK(Find(f, "pg_replica_pgbouncer_pool_info",
             {{"pool_mode", "transaction"}}) == 1);
  const std::string text = TextFormat(f);
  CHECK_THAT(text,
             Catch::Contains(
                 "# TYPE pg_replica_pgbouncer_transactions_total counter"));
  CHECK_THAT(text,
             Catch::Contains("pg_replica_pgbouncer_up{cluster=\"main\","
                             "pgbouncer=\"bouncer1\",server=\"primary\"} 1"));
  // Every server series is the same with and without the pgbouncer.
  Snapshot without = s;
  without.pgbouncers.clear();
  const std::string plain = TextFormat(BuildMetricFamilies(without));
  CHECK(text.find(plain.substr(0, plain.find("# HELP"))) == 0);

  // Down: up 0, no pool series.
  s.pgbouncers[0].up = false;
  s.pgbouncers[0].sample.reset();
  CheckTextPath(s);
  f = BuildMetricFamilies(s);
  CHECK(Find(f, "pg_replica_pgbouncer_up", {{"pgbouncer", "bouncer1"}}) == 0);
  CHECK_FALSE(Find(f, "pg_replica_pgbouncer_pool_utilization_ratio", pl));
}

}  // namespace
}  // namespace pgre
