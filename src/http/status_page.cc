#include "http/status_page.h"

#include <event2/http.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "common/redact.h"
#include "common/thresholds.h"
#include "config/config.h"
#include "http/json_api.h"
#include "http/levels.h"
#include "http/status_assets.h"

namespace pgre {
namespace {

// The page's style: the level colours of thresholds.toml (as the
// dashboards' are), then assets/status.css.
const std::string& StyleText() {
  static const std::string style =
      ":root{--ok:" + std::string(thresholds::kColourOk) +
      ";--warning:" + std::string(thresholds::kColourWarning) +
      ";--critical:" + std::string(thresholds::kColourCritical) + "}\n" +
      std::string(assets::kStatusCss);
  return style;
}

// assets/status.js: it reads its interval from the page
// (data-refresh-seconds), so it is the same text for every page.
std::string_view ScriptText() { return assets::kStatusJs; }

// `skeleton` with every {{name}} replaced by its value in `slots`; a name
// without a value is left as it stands (a unit test holds the skeleton to
// the names RenderStatusPage fills).
std::string FillSkeleton(
    std::string_view skeleton,
    std::initializer_list<std::pair<std::string_view, std::string_view>>
        slots) {
  std::string out;
  std::size_t size = skeleton.size();
  for (const auto& [name, value] : slots) size += value.size();
  out.reserve(size);
  std::size_t at = 0;
  while (true) {
    const std::size_t open = skeleton.find("{{", at);
    const std::size_t close =
        open == std::string_view::npos ? open : skeleton.find("}}", open);
    if (close == std::string_view::npos) break;
    const std::string_view name = skeleton.substr(open + 2, close - open - 2);
    const auto slot =
        std::find_if(slots.begin(), slots.end(),
                     [&](const auto& s) { return s.first == name; });
    out.append(skeleton.substr(at, open - at));
    if (slot != slots.end()) {
      out.append(slot->second);
    } else {
      out.append(skeleton.substr(open, close + 2 - open));
    }
    at = close + 2;
  }
  out.append(skeleton.substr(at));
  return out;
}

// 'sha256-BASE64' of `text`, as CSP takes it.
std::string CspHash(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(length));
  return "'sha256-" +
         std::string(reinterpret_cast<const char*>(encoded), std::max(n, 0)) +
         "'";
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  return Fixed(v, 1) + " " + units[u];
}

std::string Percent(double fraction) { return Fixed(fraction * 100, 0) + " %"; }

std::string Badge(std::string_view level_class, std::string_view words) {
  return "<span class=\"lv " + std::string(level_class) + "\">" +
         HtmlEscape(words) + "</span>";
}
std::string Badge(Level level) {
  return Badge(LevelName(level), LevelName(level));
}

std::string UriEncode(const std::string& text) {
  char* encoded = evhttp_uriencode(text.data(), text.size(), 0);
  std::string out = encoded ? encoded : "";
  std::free(encoded);
  return out;
}

std::string Td(std::string_view label, const std::string& html) {
  return "<td data-label=\"" + std::string(label) + "\">" + html + "</td>";
}

const char* TopologyWords(TopologyState state) {
  switch (state) {
    case TopologyState::kSinglePrimary:
      return "one primary";
    case TopologyState::kNoPrimary:
      return "no primary reachable";
    case TopologyState::kSplitBrain:
      return "split brain";
  }
  return "unknown";
}

// The reads routed in the last snap.reads_window, every server's.
std::uint64_t RecentReads(const Snapshot& snap) {
  std::uint64_t total = 0;
  for (const ServerView& v : snap.servers) total += v.routing.recent_reads;
  return total;
}

// The reads column's heading (and card label): it names its window.
std::string ReadsHeading(const Snapshot& snap) {
  return "reads, last " + FormatDuration(snap.reads_window);
}

int InRotation(const Snapshot& snap) {
  int n = 0;
  for (const ServerView& v : snap.servers) {
    n += !v.is_primary && v.routing.in_rotation ? 1 : 0;
  }
  return n;
}

// The worst lag level of the cluster's replicas that are up.
Level WorstLag(const Snapshot& snap) {
  Level worst = Level::kOk;
  for (const ServerView& v : snap.servers) {
    if (v.is_primary || !v.up) continue;
    const Level l = LagLevel(snap, v);
    if (l == Level::kCritical ||
        (l == Level::kWarning && worst != Level::kCritical)) {
      worst = l;
    }
  }
  return worst;
}

std::string RoleCell(const ServerView& v) {
  std::string observed = "unknown";
  if (v.sample) observed = v.sample->in_recovery ? "replica" : "primary";
  std::string out = HtmlEscape(observed);
  if (v.is_primary) out += " (takes writes)";
  if (RoleName(v.role) != observed) {
    out += "<br><span class=\"muted\">configured " +
           HtmlEscape(RoleName(v.role)) + "</span>";
  }
  return out;
}

std::string StateCell(const Snapshot& snap, const ServerView& v) {
  if (!v.polled) return Badge("unknown", "not polled yet");
  if (!v.up) return Badge("critical", "down");
  std::string out = Badge("ok", "up");
  if (v.streaming) {
    out +=
        *v.streaming ? " streaming" : " " + Badge("critical", "not streaming");
  }
  if (v.sample && v.sample->replay_paused.value_or(false)) {
    out += " " + Badge("warning", "replay paused");
  }
  if (v.sample && v.sample->timeline) {
    out += " · timeline " + std::to_string(*v.sample->timeline);
  }
  if (v.upstream >= 0 && v.upstream != snap.topology.primary &&
      v.upstream < static_cast<int>(snap.servers.size())) {
    out += " · follows " + HtmlEscape(snap.servers[v.upstream].name);
  }
  return out;
}

// The heartbeat writer's state, for the cluster's settings line.
std::string HeartbeatLine(const Snapshot& snap) {
  const HeartbeatView& h = snap.heartbeat;
  if (!h.enabled) return " · heartbeat: off";
  std::string out = " · heartbeat: every " + FormatDuration(h.interval) +
                    " into " + HtmlEscape(h.table) + ", ";
  if (h.writes_total == 0) return out + "not written yet";
  if (h.last_write_ok) return out + "last write ok";
  return out + Badge("critical", "write failing") + " " +
         HtmlEscape(h.last_error);
}

std::string LagCell(const Snapshot& snap, const ServerView& v) {
  if (v.is_primary) return "<span class=\"muted\">lag reference</span>";
  std::string out = Badge(LagLevel(snap, v));
  if (v.lag_seconds) {
    out += " " + std::string(v.lag_lower_bound ? "at least " : "") +
           Fixed(*v.lag_seconds, 3) + " s";
    if (v.lag_bytes) out += " · " + Bytes(*v.lag_bytes);
  } else if (!v.lag_unknown_reason.empty()) {
    out += " " + HtmlEscape(v.lag_unknown_reason);
  }
  if (snap.heartbeat.enabled) {
    // Write-to-read visibility beside the WAL-position lag, coloured
    // against the same thresholds.
    out += "<br><span class=\"heartbeat\">heartbeat ";
    if (v.heartbeat_lag_seconds) {
      out += Badge(HeartbeatLagLevel(snap, v)) + " " +
             Fixed(*v.heartbeat_lag_seconds, 3) + " s";
    } else {
      out += HtmlEscape(v.heartbeat_unknown_reason.empty()
                            ? std::string("unknown")
                            : v.heartbeat_unknown_reason);
    }
    out += "</span>";
  }
  const LagTrailLimits& limits = snap.lag_trail_limits;
  const std::string span = FormatDuration(limits.span());
  if (v.lag_trail) {
    double highest = -1;
    for (const auto& p : *v.lag_trail) {
      if (p) highest = std::max(highest, *p);
    }
    const std::string label =
        "lag over the last " + span +
        (highest >= 0 ? ", highest " + Fixed(highest, 1) + " s"
                      : ": not measured");
    out += LagSparkline(*v.lag_trail, limits.points,
                        ToSeconds(snap.lag_status.warning),
                        ToSeconds(snap.lag_status.critical), label);
  }
  return out;
}

std::string RotationCell(const Snapshot& snap, const ServerView& v) {
  const RoutingConfig& rc = snap.routing_config;
  if (v.is_primary) {
    return snap.failover_active ? Badge("critical", "takes the reads") +
                                      " failover: no replica in rotation"
                                : "<span class=\"muted\">writes</span>";
  }
  std::string out;
  if (v.routing.in_rotation) {
    out = Badge("ok", "in rotation");
    out += "<br><span class=\"muted\">failed checks " +
           std::to_string(v.routing.consecutive_unhealthy) + " of " +
           std::to_string(rc.fall) + " to leave (fall)</span>";
  } else {
    out = Badge(v.routing.reason == "not checked yet" ? "unknown" : "warning",
                "out of rotation") +
          " <span class=\"reason\">" + HtmlEscape(v.routing.reason) + "</span>";
    out += "<br><span class=\"muted\">healthy checks " +
           std::to_string(v.routing.consecutive_healthy) + " of " +
           std::to_string(rc.rise) + " to return (rise)</span>";
  }
  if (!v.health.healthy && v.health.reason != v.routing.reason) {
    out += "<br>now: " + HtmlEscape(v.health.reason);
  }
  return out;
}

// The server's reads of the window and their share of the cluster's, then
// its count since start (the counter of /metrics).
std::string ReadsCell(const Snapshot& snap, const ServerView& v) {
  const std::uint64_t total = RecentReads(snap);
  std::string out = std::to_string(v.routing.recent_reads);
  if (total > 0) {
    out +=
        " · " +
        Fixed(100.0 * static_cast<double>(v.routing.recent_reads) / total, 1) +
        " %";
  }
  out += "<br><span class=\"muted\">" + std::to_string(v.routing.routed_reads) +
         " since start</span>";
  if (v.routing.synthetic_ok) {
    out += *v.routing.synthetic_ok ? "<br><span class=\"muted\">probe ok</span>"
                                   : "<br>" + Badge("critical", "probe failed");
  }
  return out;
}

std::string ConnectionsCell(const ServerView& v) {
  const PoolUsage u = PoolUsageOf(v);
  if (!u.total) return Badge(Level::kUnknown);
  std::string out =
      Badge(PoolLevel(u.utilization)) + " " + std::to_string(*u.total);
  if (u.usable) out += " / " + std::to_string(*u.usable);
  if (u.utilization) out += " (" + Percent(*u.utilization) + ")";
  out += "<br><span class=\"muted\">" + std::to_string(*u.active) +
         " active, " + std::to_string(*u.idle) + " idle, " +
         std::to_string(*u.idle_in_transaction) + " idle in tx</span>";
  return out;
}

std::string ServerRow(const Snapshot& snap, const ServerView& v) {
  std::string row = "<tr data-server=\"" + HtmlEscape(v.name) +
                    "\" data-up=\"" + (v.up ? "true" : "false") + "\"";
  if (!v.is_primary) {
    row += " data-lag-level=\"" + std::string(LevelName(LagLevel(snap, v))) +
           "\" data-in-rotation=\"" +
           (v.routing.in_rotation ? "true" : "false") + "\"";
    if (v.lag_seconds) {
      row += " data-lag-seconds=\"" + Fixed(*v.lag_seconds, 3) + "\"";
    }
  }
  row += ">";
  row +=
      Td("server", "<b>" + HtmlEscape(v.name) + "</b><br><span " +
                       "class=\"muted\">" + HtmlEscape(v.endpoint) + "</span>");
  row += Td("role", RoleCell(v));
  row += Td("state", StateCell(snap, v));
  row += Td("lag", LagCell(snap, v));
  row += Td("rotation", RotationCell(snap, v));
  row += Td(ReadsHeading(snap), ReadsCell(snap, v));
  row += Td("connections", ConnectionsCell(v));
  row += "</tr>";
  return row;
}

std::string Banners(const Snapshot& snap) {
  std::string out;
  auto banner = [&](std::string_view level, const std::string& words) {
    out += "<p class=\"banner " + std::string(level) + "\">" + words + "</p>";
  };
  const TopologyView& t = snap.topology;
  if (t.state == TopologyState::kSplitBrain) {
    std::string names;
    for (int c : t.claimants) {
      names += (names.empty() ? "" : ", ") + HtmlEscape(snap.servers[c].name);
    }
    banner("critical", "SPLIT BRAIN: " + names + " are all out of recovery");
  } else if (t.state == TopologyState::kNoPrimary &&
             std::all_of(snap.servers.begin(), snap.servers.end(),
                         [](const ServerView& v) { return v.polled; })) {
    banner("critical", "NO PRIMARY reachable (last primary " +
                           HtmlEscape(snap.servers.at(t.primary).name) + ")");
  }
  if (snap.failover_active) {
    banner("critical",
           "FAILOVER: no replica in rotation, reads go to the primary");
  }
  if (t.stale_reads) {
    banner("warning",
           "STALE READS: replicas serve reads whose data stops at the "
           "primary's last position");
  }
  return out;
}

std::string SlotsSection(const Snapshot& snap) {
  std::string rows;
  for (const ServerView& v : snap.servers) {
    if (!v.sample || !v.sample->CollectorOk("replication_slots")) continue;
    for (const SlotRow& s : v.sample->slots) {
      std::string status;
      if (s.wal_status == "lost") {
        status = Badge("critical", "WAL lost");
      } else if (!s.active) {
        status = Badge("warning", "inactive");
      } else {
        status = Badge("ok", "active");
      }
      if (!s.wal_status.empty() && s.wal_status != "lost") {
        status += " wal " + HtmlEscape(s.wal_status);
      }
      rows += "<tr data-slot=\"" + HtmlEscape(s.slot_name) + "\">" +
              Td("server", HtmlEscape(v.name)) +
              Td("slot", HtmlEscape(s.slot_name) + " <span class=\"muted\">" +
                             HtmlEscape(s.slot_type) + "</span>") +
              Td("state", status) +
              Td("retained WAL",
                 s.retained_bytes ? Bytes(*s.retained_bytes) : "unknown") +
              "</tr>";
    }
  }
  if (rows.empty()) return "<h3>Replication slots</h3><p>none</p>";
  return "<h3>Replication slots</h3><table><thead><tr><th>server</th>"
         "<th>slot</th><th>state</th><th>retained WAL</th></tr></thead>"
         "<tbody>" +
         rows + "</tbody></table>";
}

std::string ErrorsSection(const Snapshot& snap) {
  std::string items;
  for (const ServerView& v : snap.servers) {
    std::string what;
    if (!v.last_error.empty()) what = ScrubSecrets(v.last_error);
    if (v.sample) {
      for (const auto& [collector, ok] : v.sample->collector_success) {
        if (!ok) what += (what.empty() ? "" : "; ") + collector + " failed";
      }
    }
    if (what.empty()) continue;
    items += "<li data-server=\"" + HtmlEscape(v.name) + "\"><b>" +
             HtmlEscape(v.name) + "</b>: " + HtmlEscape(what) +
             " <span class=\"muted\">(" + std::to_string(v.poll_errors_total) +
             " failed polls; " +
             (v.last_success ? "last success " + Iso8601(*v.last_success)
                             : std::string("never polled successfully")) +
             ")</span></li>";
  }
  return "<h3>Last errors</h3>" + (items.empty() ? std::string("<p>none</p>")
                                                 : "<ul>" + items + "</ul>");
}

std::string ClusterSection(const Snapshot& snap) {
  const std::string name = HtmlEscape(snap.cluster);
  const std::string query = "?cluster=" + HtmlEscape(UriEncode(snap.cluster));
  const TopologyView& t = snap.topology;
  const int replicas = static_cast<int>(snap.servers.size()) - 1;
  std::string out = "<section class=\"cluster\" data-cluster=\"" + name +
                    "\" id=\"cluster-" + name + "\"><h2>Cluster " + name +
                    ": " + std::to_string(InRotation(snap)) + " of " +
                    std::to_string(replicas) + " replicas in rotation</h2>";
  out += Banners(snap);
  out += "<p>topology: " + std::string(TopologyWords(t.state)) +
         " · primary <b>" + HtmlEscape(snap.servers.at(t.primary).name) +
         "</b>";
  if (t.primary != 0) {
    out += " (configured " + HtmlEscape(snap.servers.at(0).name) + ")";
  }
  if (t.timeline) out += " · timeline " + std::to_string(*t.timeline);
  out += " · primary changes " + std::to_string(t.primary_changes) +
         " · timeline changes " + std::to_string(t.timeline_changes);
  out += " · failover " +
         std::string(snap.failover_active ? "ACTIVE" : "not active") +
         (snap.routing_active ? "" : " · routing: first check pending") +
         "</p>";
  const RoutingConfig& rc = snap.routing_config;
  out += "<p class=\"muted\">lag level: warning over " +
         FormatDuration(snap.lag_status.warning) + ", critical over " +
         FormatDuration(snap.lag_status.critical) +
         " · connections: warning over " + Percent(kPoolWarningUtilization) +
         ", critical over " + Percent(kPoolCriticalUtilization) +
         " of usable · rotation: max lag " + FormatDuration(rc.max_lag) +
         ", fall " + std::to_string(rc.fall) + ", rise " +
         std::to_string(rc.rise) + ", checks every " +
         FormatDuration(rc.health_check_interval) +
         " · lag history: " + HtmlEscape(snap.state_file_status) +
         HeartbeatLine(snap) + "</p>";
  out +=
      "<table class=\"servers\"><thead><tr><th>server</th><th>role</th>"
      "<th>state</th><th>lag</th><th>rotation</th><th>" +
      ReadsHeading(snap) +
      " <span class=\"muted\">(share)</span></th><th>connections</th></tr>"
      "</thead><tbody>";
  const ServerView& primary = snap.servers.at(t.primary);
  out += ServerRow(snap, primary);
  for (const ServerView& v : snap.servers) {
    if (&v != &primary) out += ServerRow(snap, v);
  }
  out += "</tbody></table>";
  out += SlotsSection(snap);
  out += ErrorsSection(snap);
  out += "<p class=\"muted\">data of " + Iso8601(snap.taken_at) +
         " · JSON: <a href=\"v1/system/database/replicas/status" + query +
         "\">status</a> <a href=\"v1/system/database/replicas/health" + query +
         "\">health</a> <a href=\"v1/system/database/replicas/lag" + query +
         "\">lag</a> <a href=\"v1/system/database/connection-pool/stats" +
         query + "\">pool</a></p></section>";
  return out;
}

std::string OverviewSection(const StatusPageInput& in,
                            const std::vector<const Snapshot*>& detailed) {
  std::string out =
      "<h2>Clusters</h2><table class=\"overview\"><thead><tr><th>cluster</th>"
      "<th>primary</th><th>topology</th><th>replicas in rotation</th>"
      "<th>failover</th><th>worst lag</th></tr></thead><tbody>";
  for (const auto& snap : in.clusters) {
    const bool shown = std::find(detailed.begin(), detailed.end(),
                                 snap.get()) != detailed.end();
    const std::string name = HtmlEscape(snap->cluster);
    const std::string link =
        shown ? "#cluster-" + name
              : "?cluster=" + HtmlEscape(UriEncode(snap->cluster));
    out += "<tr data-cluster=\"" + name + "\">" +
           Td("cluster", "<a href=\"" + link + "\">" + name + "</a>") +
           Td("primary",
              HtmlEscape(snap->servers.at(snap->topology.primary).name)) +
           Td("topology", TopologyWords(snap->topology.state)) +
           Td("replicas in rotation",
              std::to_string(InRotation(*snap)) + " of " +
                  std::to_string(snap->servers.size() - 1)) +
           Td("failover", snap->failover_active ? Badge("critical", "ACTIVE")
                                                : std::string("not active")) +
           Td("worst lag", Badge(WorstLag(*snap))) + "</tr>";
  }
  return out + "</tbody></table>";
}

std::string AgentSection(const StatusPageInput& in) {
  const AgentState& a = in.agent;
  std::string out = "<p>pg_replica_exporter " + HtmlEscape(a.version) + " (" +
                    HtmlEscape(a.revision) + ")";
  if (!a.config_source.empty()) {
    out += " · configuration: " + HtmlEscape(a.config_source);
  }
  if (a.config_loaded_at) {
    out += ", loaded " + Iso8601(*a.config_loaded_at);
  }
  out += " · last reload: " +
         (a.config_reload_ok
              ? Badge("ok", "ok")
              : Badge("critical", "FAILED") + " " +
                    (a.config_reload_failed_at
                         ? "at " + Iso8601(*a.config_reload_failed_at) + " "
                         : std::string()) +
                    HtmlEscape(ScrubSecrets(a.config_reload_error)) +
                    " (the running configuration is kept)");
  out += " · web config: " +
         (a.web_config_reload_ok
              ? Badge("ok", "ok")
              : Badge("critical", "reload FAILED") + " " +
                    HtmlEscape(ScrubSecrets(a.web_config_reload_error)));
  return out + "</p>";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string LagSparkline(const LagTrailPoints& points, std::size_t slots,
                         double warning, double critical,
                         std::string_view label) {
  // One viewBox unit per point across (the CSS stretches it to 120 px),
  // 24 down; whole units: a pixel of resolution is all 24 px can show.
  slots = std::max({slots, points.size(), std::size_t{2}});
  double top = critical;
  for (const auto& p : points) {
    if (p) top = std::max(top, *p);
  }
  if (top <= 0) top = 1;
  auto y = [&](double v) {
    return std::to_string(std::lround(23 - std::clamp(v, 0.0, top) / top * 22));
  };
  const std::string width = std::to_string(slots - 1);
  std::string out = "<svg class=\"spark\" viewBox=\"0 0 " + width +
                    " 24\" preserveAspectRatio=\"none\" role=\"img\"><title>" +
                    HtmlEscape(label) + "</title>";
  for (auto [value, line] :
       {std::pair{warning, "w"}, std::pair{critical, "c"}}) {
    if (value <= 0 || value > top) continue;
    out += "<path class=\"" + std::string(line) + "\" d=\"M0 " + y(value) +
           "H" + width + "\"/>";
  }
  std::string path;
  bool drawing = false;
  const std::size_t first = slots - points.size();
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!points[i]) {
      drawing = false;
      continue;
    }
    path +=
        (drawing ? "L" : "M") + std::to_string(first + i) + " " + y(*points[i]);
    drawing = true;
  }
  if (!path.empty()) out += "<path class=\"l\" d=\"" + path + "\"/>";
  return out + "</svg>";
}

const std::string& StatusPageCsp() {
  static const std::string csp =
      "default-src 'none'; script-src " + CspHash(ScriptText()) +
      "; style-src " + CspHash(StyleText()) +
      "; connect-src 'self'; img-src 'self'; base-uri 'none'; "
      "form-action 'none'; frame-ancestors 'none'";
  return csp;
}

std::string RenderStatusLive(const StatusPageInput& in) {
  std::vector<const Snapshot*> detailed;
  std::size_t servers = 0;
  for (const auto& snap : in.clusters) servers += snap->servers.size();
  for (const auto& snap : in.clusters) {
    if (!in.selected.empty()
            ? snap->cluster == in.selected
            : servers <= static_cast<std::size_t>(kDetailedServers) ||
                  snap == in.clusters.front()) {
      detailed.push_back(snap.get());
    }
  }
  std::string out = AgentSection(in);
  if (in.clusters.size() > 1) {
    out += OverviewSection(in, detailed);
    if (detailed.size() < in.clusters.size()) {
      out +=
          "<p class=\"muted\">Too many servers to show every cluster in "
          "detail: pick one above.</p>";
    }
  }
  for (const Snapshot* snap : detailed) out += ClusterSection(*snap);
  return out;
}

std::string RenderStatusJson(const StatusPageInput& in) {
  nlohmann::ordered_json j;
  j["generatedAt"] = Iso8601(in.now);
  j["html"] = RenderStatusLive(in);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RenderStatusPage(const StatusPageInput& in) {
  std::string links = "<a href=\"" + HtmlEscape(in.telemetry_path) +
                      "\">metrics</a><a href=\"v1/system/database/"
                      "clusters\">clusters (JSON)</a>";
  if (!in.selected.empty()) links += "<a href=\"./\">every cluster</a>";
  static const std::string refresh = std::to_string(kStatusRefreshSeconds);
  static const std::string noscript_refresh =
      std::to_string(kStatusNoScriptRefreshSeconds);
  return FillSkeleton(assets::kStatusHtml,
                      {{"style", StyleText()},
                       {"script", ScriptText()},
                       {"refresh_seconds", refresh},
                       {"noscript_refresh_seconds", noscript_refresh},
                       {"links", links},
                       {"generated_at", Iso8601(in.now)},
                       {"live", RenderStatusLive(in)}});
}

std::string RenderUnknownClusterPage(const std::string& name,
                                     const std::vector<std::string>& names) {
  std::string items;
  for (const std::string& n : names) {
    items += "<li><a href=\"?cluster=" + HtmlEscape(UriEncode(n)) + "\">" +
             HtmlEscape(n) + "</a></li>";
  }
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<title>no such cluster</title></head><body><h1>No cluster "
         "named " +
         HtmlEscape(name) + "</h1><p>Clusters:</p><ul>" + items +
         "</ul></body></html>\n";
}

}  // namespace pgre
