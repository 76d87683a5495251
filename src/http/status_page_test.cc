#include "http/status_page.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "common/redact.h"
#include "common/thresholds.h"
#include "http/api.h"
#include "http/json_api.h"
#include "http/levels.h"

namespace pgre {
namespace {

using namespace std::chrono_literals;

bool Has(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

WallTime BaseTime() {
  return WallTime(std::chrono::sys_days(std::chrono::year(2025) / 12 / 13)
                      .time_since_epoch() +
                  10h);
}

ServerSample Sample(bool in_recovery, std::int64_t active, std::int64_t idle) {
  ServerSample s;
  s.collector_success = {{"server", true},
                         {"activity", true},
                         {"stat_replication", true},
                         {"wal_receiver", true},
                         {"replication_slots", true}};
  s.in_recovery = in_recovery;
  s.replay_paused = in_recovery ? std::optional<bool>(false) : std::nullopt;
  s.timeline = 1;
  s.max_connections = 100;
  s.superuser_reserved_connections = 3;
  s.connections_by_state = {{"active", active}, {"idle", idle}};
  return s;
}

ServerView Primary() {
  ServerView v;
  v.name = "primary";
  v.role = Role::kPrimary;
  v.endpoint = "db-primary:5432";
  v.polled = v.up = true;
  v.last_success = BaseTime();
  v.sample = Sample(false, 12, 30);
  v.sample->slots = {
      SlotRow{"slot1", "physical", true, 4096, "reserved", std::nullopt},
      SlotRow{"slot_old", "physical", false, 3u << 30, "extended",
              std::nullopt}};
  v.is_primary = v.claims_primary = true;
  v.routing.reason = "primary";
  v.routing.routed_reads = 0;
  return v;
}

// `reads` routed since start, `in_rotation_reads` of them in the last
// minute.
ServerView Replica(const std::string& name, double lag, std::uint64_t reads,
                   std::uint64_t in_rotation_reads) {
  ServerView v;
  v.name = name;
  v.endpoint = "db-" + name + ":5432";
  v.application_name = name;
  v.polled = v.up = true;
  v.last_success = BaseTime();
  v.sample = Sample(true, 4, 20);
  v.streaming = true;
  v.upstream = 0;
  v.lag_seconds = lag;
  v.lag_bytes = static_cast<std::uint64_t>(lag * 1000000);
  v.health = {true, HealthCode::kOk, "ok"};
  v.routing.in_rotation = true;
  v.routing.reason = "ok";
  v.routing.routed_reads = reads;
  v.routing.recent_reads = in_rotation_reads;
  v.routing.consecutive_healthy = 5;
  LagTrailPoints trail(60, lag);
  trail[10] = std::nullopt;
  v.lag_trail = std::make_shared<const LagTrailPoints>(trail);
  return v;
}

// replica1 fine, replica2 paused 7.25 s behind and out of rotation,
// replica3 down.
Snapshot Example(const std::string& cluster = "main") {
  Snapshot s;
  s.cluster = cluster;
  s.servers = {Primary(), Replica("replica1", 0.012, 30, 6),
               Replica("replica2", 7.25, 10, 0)};
  ServerView& paused = s.servers[2];
  paused.sample->replay_paused = true;
  paused.health = {false, HealthCode::kLagHigh, "lag 7.2s over 5s"};
  paused.routing.in_rotation = false;
  paused.routing.reason = "lag 7.2s over 5s";
  paused.routing.consecutive_healthy = 0;
  paused.routing.consecutive_unhealthy = 4;
  ServerView down;
  down.name = "replica3";
  down.endpoint = "db-replica3:5432";
  down.polled = true;
  down.last_error =
      "connection to server at \"db-replica3\" failed: password "
      "s3cr3t-page-pw rejected";
  down.poll_errors_total = 7;
  down.lag_unknown_reason = "down";
  down.health = {false, HealthCode::kDown, "down"};
  down.routing.reason = "down";
  down.lag_trail = std::make_shared<const LagTrailPoints>(
      LagTrailPoints{0.1, std::nullopt, std::nullopt});
  s.servers.push_back(down);
  s.topology.state = TopologyState::kSinglePrimary;
  s.topology.primary_observed = true;
  s.topology.claimants = {0};
  s.topology.timeline = 1;
  s.routing_active = true;
  s.state_file_status = "restored: 812 entries saved 2s ago";
  s.taken_at = BaseTime();
  return s;
}

StatusPageInput Input(std::vector<Snapshot> snaps) {
  StatusPageInput in;
  for (auto& s : snaps) {
    in.clusters.push_back(std::make_shared<const Snapshot>(std::move(s)));
  }
  in.agent.version = "1.2.3";
  in.agent.revision = "abc";
  in.agent.config_source = "file /etc/pg_replica_exporter/x.yml";
  in.agent.config_loaded_at = BaseTime() - 1h;
  in.now = BaseTime();
  return in;
}

// The <tr data-server="NAME" ...> ... </tr> of a server.
std::string Row(const std::string& page, const std::string& server) {
  const auto at = page.find("<tr data-server=\"" + server + "\"");
  if (at == std::string::npos) return "";
  return page.substr(at, page.find("</tr>", at) - at);
}

std::string Between(const std::string& text, const std::string& open,
                    const std::string& close) {
  const auto a = text.find(open);
  if (a == std::string::npos) return "";
  const auto b = text.find(close, a + open.size());
  return text.substr(a + open.size(), b - a - open.size());
}

std::string Sha256Base64(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha256(), nullptr);
  unsigned char out[128];
  const int len = EVP_EncodeBlock(out, digest, static_cast<int>(n));
  return std::string(reinterpret_cast<char*>(out), len);
}

TEST_CASE("the status page shows every server in words", "[status_page]") {
  RegisterSecret("s3cr3t-page-pw");
  const std::string page = RenderStatusPage(Input({Example()}));
  for (const char* server : {"primary", "replica1", "replica2", "replica3"}) {
    INFO(server);
    CHECK_FALSE(Row(page, server).empty());
  }
  const std::string ok = Row(page, "replica1");
  CHECK(Has(ok, "data-lag-level=\"ok\""));
  CHECK(Has(ok, ">in rotation<"));
  CHECK(Has(ok, "0.012 s"));
  CHECK(Has(ok, " streaming"));
  CHECK(Has(ok, "timeline 1"));
  // Its share of the reads of the last minute (all of them: replica2 has
  // left the rotation), and its count since start.
  CHECK(Has(ok,
            "<td data-label=\"reads, last 1m\">6 · 100.0 %<br><span "
            "class=\"muted\">30 since start</span>"));
  CHECK(Has(page, "<th>reads, last 1m <span class=\"muted\">(share)</span>"));
  CHECK(Has(ok, "24 / 97 (25 %)"));

  const std::string paused = Row(page, "replica2");
  CHECK(Has(paused, "data-lag-seconds=\"7.250\""));
  CHECK(Has(paused, "<span class=\"lv critical\">critical</span> 7.250 s"));
  CHECK(Has(paused, "6.9 MiB"));
  CHECK(Has(paused,
            "out of rotation</span> <span class=\"reason\">lag 7.2s "
            "over 5s</span>"));
  CHECK(Has(paused, "healthy checks 0 of 2 to return (rise)"));
  CHECK(Has(paused, "replay paused"));
  CHECK(Has(paused, ">0 · 0.0 %<br><span class=\"muted\">10 since start<"));
  CHECK(Has(paused, "<svg class=\"spark\""));

  const std::string down = Row(page, "replica3");
  CHECK(Has(down, "data-up=\"false\""));
  CHECK(Has(down, ">down<"));
  CHECK(Has(down, "out of rotation"));

  CHECK(Has(Row(page, "primary"), "primary (takes writes)"));
  // Slots with their retained WAL, the inactive one said so.
  CHECK(Has(page, "<tr data-slot=\"slot_old\">"));
  CHECK(
      Has(Between(page, "<tr data-slot=\"slot_old\">", "</tr>"), ">inactive<"));
  CHECK(Has(Between(page, "<tr data-slot=\"slot_old\">", "</tr>"), "3.0 GiB"));
  // The last error, scrubbed.
  CHECK(Has(page, "<li data-server=\"replica3\">"));
  CHECK(Has(page, "password xxxxx rejected"));
  CHECK_FALSE(Has(page, "s3cr3t-page-pw"));
  // The agent and the cluster's settings, the links.
  CHECK(Has(page, "pg_replica_exporter 1.2.3 (abc)"));
  CHECK(Has(page, "configuration: file /etc/pg_replica_exporter/x.yml"));
  CHECK(Has(page, "last reload: <span class=\"lv ok\">ok</span>"));
  CHECK(Has(page, "Cluster main: 1 of 3 replicas in rotation"));
  CHECK(Has(page, "failover not active"));
  CHECK(Has(page, "lag level: warning over 1s, critical over 5s"));
  CHECK(Has(page, "connections: warning over 80 %, critical over 90 %"));
  CHECK(Has(page, "href=\"/metrics\""));
  CHECK(Has(page, "href=\"v1/system/database/replicas/lag?cluster=main\""));
  CHECK(Has(page, "href=\"v1/system/database/clusters\""));
}

TEST_CASE("the heartbeat lag beside the WAL-position lag, its writes said",
          "[status_page][heartbeat]") {
  Snapshot off = Example();
  CHECK(Has(RenderStatusPage(Input({off})), " · heartbeat: off"));
  CHECK_FALSE(Has(Row(RenderStatusPage(Input({off})), "replica1"),
                  "class=\"heartbeat\""));

  Snapshot on = Example();
  on.heartbeat.enabled = true;
  on.heartbeat.interval = std::chrono::seconds(1);
  on.heartbeat.table = "pg_replica_exporter_heartbeat";
  on.heartbeat.writes_total = 10;
  on.heartbeat.last_write_ok = true;
  on.servers[1].heartbeat_lag_seconds = 0.4;
  on.servers[2].heartbeat_lag_seconds = 9.5;
  on.servers[3].heartbeat_unknown_reason = "down";
  std::string page = RenderStatusPage(Input({on}));
  CHECK(Has(Row(page, "replica1"),
            "heartbeat <span class=\"lv ok\">ok</span> 0.400 s"));
  CHECK(Has(Row(page, "replica2"),
            "heartbeat <span class=\"lv critical\">critical</span> 9.500 s"));
  CHECK(Has(Row(page, "replica3"), "heartbeat down"));
  CHECK(Has(page,
            "heartbeat: every 1s into pg_replica_exporter_heartbeat, last "
            "write ok"));
  on.heartbeat.last_write_ok = false;
  on.heartbeat.last_error = "permission denied for table <hb>";
  page = RenderStatusPage(Input({on}));
  CHECK(Has(page,
            "<span class=\"lv critical\">write failing</span> permission "
            "denied for table &lt;hb&gt;"));
}

TEST_CASE("the page and the JSON take their levels from one place",
          "[status_page]") {
  // Thresholds other than the defaults: whatever the snapshot says, the
  // page's level and the JSON's status agree for every lag.
  for (double lag : {0.0, 1.5, 2.0, 2.5, 7.0, 9.9, 10.5, 100.0}) {
    Snapshot s = Example();
    s.lag_status.warning = 2s;
    s.lag_status.critical = 10s;
    s.servers[1].lag_seconds = lag;
    HttpResponse r;
    REQUIRE(HandleJsonEndpoint("/v1/system/database/replicas/lag", s, &r));
    const auto json = nlohmann::json::parse(r.body);
    const std::string status = json["replicas"][0]["status"];
    const std::string page = RenderStatusPage(Input({s}));
    INFO("lag " << lag);
    CHECK(Has(Row(page, "replica1"), "data-lag-level=\"" + status + "\""));
    CHECK(status == LevelName(LagLevel(s, s.servers[1])));
    CHECK(Has(page, "lag level: warning over 2s, critical over 10s"));
  }
  CHECK(LagLevel(Example(), Example().servers[1]) == Level::kOk);
  CHECK(LagLevel(Example(), Example().servers[2]) == Level::kCritical);
  // Connection usage: over 80 % warning, over 90 % critical.
  CHECK(PoolLevel(0.80) == Level::kOk);
  CHECK(PoolLevel(0.81) == Level::kWarning);
  CHECK(PoolLevel(0.91) == Level::kCritical);
  CHECK(PoolLevel(std::nullopt) == Level::kUnknown);
  Snapshot busy = Example();
  busy.servers[1].sample->connections_by_state["active"] = 85;
  CHECK(Has(Row(RenderStatusPage(Input({busy})), "replica1"),
            "<span class=\"lv critical\">critical</span> 105 / 97"));
}

TEST_CASE("the status page loads nothing from anywhere", "[status_page]") {
  const std::string page = RenderStatusPage(Input({Example()}));
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  // No external asset: no URL with a scheme, no src, no stylesheet link,
  // no import.
  for (const char* banned : {"http://", "https://", "//", " src=", "<link",
                             "@import", "url(", "<img", "<iframe"}) {
    INFO(banned);
    // "//" also catches protocol-relative URLs (inline SVG in HTML needs
    // no xmlns URL).
    CHECK_FALSE(Has(page, banned));
  }
  // One inline style and one inline script, pinned by the CSP's hashes.
  const std::string style = Between(page, "<style>", "</style>");
  const std::string script = Between(page, "<script>", "</script>");
  REQUIRE_FALSE(style.empty());
  REQUIRE_FALSE(script.empty());
  const std::string& csp = StatusPageCsp();
  CHECK(Has(csp, "default-src 'none'"));
  CHECK(Has(csp, "script-src 'sha256-" + Sha256Base64(script) + "'"));
  CHECK(Has(csp, "style-src 'sha256-" + Sha256Base64(style) + "'"));
  CHECK(Has(csp, "connect-src 'self'"));
  // It polls the JSON at the page's interval, and reloads itself without
  // scripts.
  CHECK(Has(script,
            "location.origin + location.pathname.replace(/[^/]*$/, '') +\n"
            "'status.json' + location.search"));
  CHECK(Has(script, "setTimeout(tick, seconds * 1000)"));
  CHECK(Has(page, "<p id=\"refresh\" data-refresh-seconds=\"2\">"));
  CHECK(Has(page,
            "<noscript><meta http-equiv=\"refresh\" content=\"10\">"
            "</noscript>"));
  CHECK(Has(page, "<meta name=\"viewport\" content=\"width=device-width"));
  CHECK(Has(style, "@media (max-width: 700px) {"));
  // The level colours are the thresholds table's, as the dashboards' are.
  CHECK(style.rfind(
            ":root{--ok:" + std::string(thresholds::kColourOk) +
                ";--warning:" + std::string(thresholds::kColourWarning) +
                ";--critical:" + std::string(thresholds::kColourCritical) +
                "}\n",
            0) == 0);
  // Every slot of the skeleton (assets/status.html) filled.
  CHECK_FALSE(Has(page, "{{"));
  CHECK(Has(page,
            "static page of 2025-12-13T10:00:00.000Z (reloads every 10 "
            "s without scripts)"));
  CHECK(Has(page, "<main id=\"live\">" + RenderStatusLive(Input({Example()})) +
                      "</main>"));
}

TEST_CASE("names and errors are escaped", "[status_page]") {
  Snapshot s = Example("a<b>&\"c'");
  s.servers[1].name = "<script>alert(1)</script>";
  s.servers[3].last_error = "<img src=x onerror=alert(1)>";
  const std::string page = RenderStatusPage(Input({s}));
  CHECK_FALSE(Has(page, "<script>alert"));
  CHECK_FALSE(Has(page, "<img"));
  CHECK(Has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK(Has(page, "Cluster a&lt;b&gt;&amp;&quot;c&#39;:"));
  CHECK(Has(page, "?cluster=a%3Cb%3E%26%22c%27"));
  CHECK(Has(RenderUnknownClusterPage("<x>", {"a&b"}),
            "No cluster named &lt;x&gt;"));
}

TEST_CASE("failover, split brain and a reload that failed are said in words",
          "[status_page]") {
  Snapshot s = Example();
  for (ServerView& v : s.servers) {
    if (v.is_primary) continue;
    v.routing.in_rotation = false;
    v.routing.reason = "down";
  }
  s.failover_active = true;
  s.servers[0].routing.routed_reads = 9;
  StatusPageInput in = Input({s});
  in.agent.config_reload_ok = false;
  in.agent.config_reload_error = "x.yml:3: poll_interval: bad duration";
  in.agent.config_reload_failed_at = BaseTime();
  std::string page = RenderStatusPage(in);
  CHECK(Has(page, "FAILOVER: no replica in rotation, reads go to the primary"));
  CHECK(Has(page, "failover ACTIVE"));
  CHECK(Has(Row(page, "primary"), "takes the reads"));
  CHECK(Has(page, "Cluster main: 0 of 3 replicas in rotation"));
  CHECK(Has(page,
            "last reload: <span class=\"lv critical\">FAILED</span> at "
            "2025-12-13T10:00:00.000Z x.yml:3: poll_interval: bad duration "
            "(the running configuration is kept)"));

  s = Example();
  s.topology.state = TopologyState::kSplitBrain;
  s.topology.claimants = {0, 1};
  page = RenderStatusPage(Input({s}));
  CHECK(Has(page, "SPLIT BRAIN: primary, replica1 are all out of recovery"));

  s = Example();
  s.topology.state = TopologyState::kNoPrimary;
  s.topology.stale_reads = true;
  s.servers[0].up = false;
  page = RenderStatusPage(Input({s}));
  CHECK(Has(page, "NO PRIMARY reachable (last primary primary)"));
  CHECK(Has(page, "STALE READS"));
}

TEST_CASE("a replica promoted: the new primary first, the old one a replica",
          "[status_page]") {
  Snapshot s = Example();
  s.topology.primary = 1;
  s.servers[0].is_primary = false;
  s.servers[0].sample->in_recovery = true;
  s.servers[1].is_primary = true;
  s.servers[1].sample->in_recovery = false;
  s.servers[1].routing.in_rotation = false;
  s.servers[1].routing.reason = "primary";
  const std::string page = RenderStatusPage(Input({s}));
  CHECK(Has(page, "primary <b>replica1</b> (configured primary)"));
  CHECK(page.find("<tr data-server=\"replica1\"") <
        page.find("<tr data-server=\"primary\""));
  CHECK(Has(Row(page, "replica1"), "configured replica"));
  CHECK(Has(Row(page, "primary"), "configured primary"));
}

TEST_CASE("several clusters: an overview, then each in detail",
          "[status_page]") {
  StatusPageInput in = Input({Example("orders"), Example("billing")});
  std::string page = RenderStatusPage(in);
  CHECK(Has(page, "<table class=\"overview\">"));
  CHECK(Has(page, "<tr data-cluster=\"orders\">"));
  CHECK(Has(page, "<section class=\"cluster\" data-cluster=\"orders\""));
  CHECK(Has(page, "<section class=\"cluster\" data-cluster=\"billing\""));
  in.selected = "billing";
  page = RenderStatusPage(in);
  CHECK_FALSE(Has(page, "<section class=\"cluster\" data-cluster=\"orders\""));
  CHECK(Has(page, "<section class=\"cluster\" data-cluster=\"billing\""));
  CHECK(Has(page, "<tr data-cluster=\"orders\">"));
  CHECK(Has(page, "href=\"?cluster=orders\""));
}

// Clusters of `servers` servers each (a primary and its replicas), every
// field filled as a busy day would: trails, slots, errors.
std::vector<Snapshot> Clusters(int clusters, int servers) {
  std::vector<Snapshot> out;
  for (int c = 0; c < clusters; ++c) {
    Snapshot s = Example("cluster-" + std::to_string(c));
    s.servers.resize(1);
    for (int i = 1; i < servers; ++i) {
      ServerView v = Replica("replica-with-a-long-name-" + std::to_string(i),
                             12.345, 99, 9);
      v.last_error = "could not receive data from server: Connection reset";
      v.routing.in_rotation = false;
      v.routing.reason = "lag 12.3s over 5s";
      s.servers.push_back(v);
      SlotRow slot{"slot_" + std::to_string(i),
                   "physical",
                   true,
                   123456789,
                   "reserved",
                   std::nullopt};
      s.servers[0].sample->slots.push_back(slot);
    }
    out.push_back(std::move(s));
  }
  return out;
}

TEST_CASE("the status page stays within its size budget", "[status_page]") {
  // kDetailedServers servers, every one in detail.
  for (auto [clusters, servers] :
       {std::pair{1, kDetailedServers}, std::pair{10, kDetailedServers / 10}}) {
    const std::string page =
        RenderStatusPage(Input(Clusters(clusters, servers)));
    INFO(clusters << " clusters of " << servers << ": " << page.size()
                  << " bytes");
    CHECK(page.size() <= kStatusPageBudgetBytes);
    // Every server in detail.
    std::size_t rows = 0;
    for (auto at = page.find("<tr data-server="); at != std::string::npos;
         at = page.find("<tr data-server=", at + 1)) {
      ++rows;
    }
    CHECK(rows == static_cast<std::size_t>(clusters * servers));
  }
  // Past that, one cluster in detail and one overview row per cluster.
  const std::string page = RenderStatusPage(Input(Clusters(100, 10)));
  INFO(page.size() << " bytes");
  CHECK(page.size() <= kStatusPageBudgetBytes);
  CHECK(Has(page, "<section class=\"cluster\" data-cluster=\"cluster-0\""));
  CHECK_FALSE(Has(page, "data-cluster=\"cluster-1\" id="));
  CHECK(Has(page, "<tr data-cluster=\"cluster-99\">"));
  CHECK(Has(page, "pick one above"));
}

TEST_CASE("the sparkline draws the trail against the thresholds",
          "[status_page]") {
  // Nothing measured: the threshold lines only.
  std::string svg = LagSparkline({}, 60, 1, 5, "lag");
  CHECK(svg.rfind("<svg class=\"spark\" viewBox=\"0 0 59 24\"", 0) == 0);
  CHECK_FALSE(Has(svg, "class=\"l\""));
  CHECK(Has(svg, "role=\"img\"><title>lag</title>"));
  // Scale: the critical threshold (5) at the top, 0 at the bottom.
  CHECK(Has(svg, "<path class=\"c\" d=\"M0 1H59\"/>"));
  CHECK(Has(svg, "<path class=\"w\" d=\"M0 19H59\"/>"));
  // The last point at the right edge, one unit per slot; a point without a
  // value breaks the line.
  svg = LagSparkline({0.0, 5.0, std::nullopt, 2.5}, 5, 1, 5, "x");
  CHECK(Has(svg, "<path class=\"l\" d=\"M1 23L2 1M4 12\"/>"));
  // Over the critical threshold: the scale grows, the lines stay below.
  svg = LagSparkline({10.0, 0.0}, 2, 1, 5, "x");
  CHECK(Has(svg, "<path class=\"l\" d=\"M0 1L1 23\"/>"));
  CHECK(Has(svg, "<path class=\"c\" d=\"M0 12H1\"/>"));
  // More points than slots: they all fit.
  svg = LagSparkline({1.0, 1.0, 1.0}, 2, 1, 5, "x");
  CHECK(Has(svg, "d=\"M0 19L1 19L2 19\""));
}

TEST_CASE("the live part comes as JSON for the script", "[status_page]") {
  const StatusPageInput in = Input({Example()});
  const auto j = nlohmann::json::parse(RenderStatusJson(in));
  CHECK(j["generatedAt"] == "2025-12-13T10:00:00.000Z");
  CHECK(j["html"] == RenderStatusLive(in));
}

}  // namespace
}  // namespace pgre
