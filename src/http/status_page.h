// The status page: GET / shows the clusters as an operator needs them at
// night, rendered as HTML from the same snapshots as every other answer.
// Pure: no I/O; Api (api.h) serves it.
//
// Per cluster: the topology (every server, observed role, up/down,
// streaming, timeline), each replica's lag in seconds and bytes with its
// level against the cluster's lag_status thresholds (http/levels.h, the same
// decision as the JSON `status` fields) and a sparkline of its last minutes
// (Snapshot's lag trails), the read rotation (in/out and why, the fall/rise
// counters, routed reads and their share), failover and stale-read state,
// connection usage against the pool thresholds, replication slots and their
// retained WAL, the servers' last errors (scrubbed again here), the links to
// the cluster's JSON endpoints. Above them: the agent's version, its
// configuration's reload state, links to the metrics and the clusters list.
//
// Self-contained: no external asset (no script, style, font or image from
// anywhere, not even this agent: it must work on an isolated network); one
// inline style and one inline script, both pinned by the
// Content-Security-Policy of StatusPageCsp() (their SHA-256, computed once).
// The look lives in src/http/assets/: status.css, status.js and the
// skeleton status.html, edited as such and embedded into the binary at
// build time (cmake/embed_text.cmake, comments and indentation dropped;
// nothing is read at run time). The script polls kStatusJsonPath every
// kStatusRefreshSeconds (the page's data-refresh-seconds) and replaces the
// live part of the page with the `html` it answers (the same renderer: the
// page with scripts off and on is the same markup); with scripts off a meta
// refresh inside <noscript> reloads the page every
// kStatusNoScriptRefreshSeconds.
// Status is in words as well as colour; narrow screens get one card per
// server instead of a table row.
//
// Size: at most kStatusPageBudgetBytes for clusters of kDetailedServers
// servers in all (tested at that size with full trails, errors and slots).
// With more servers than that, one cluster is shown in detail (?cluster=,
// default the first) and the others as one overview row each.
//
// Thread safety: every function is thread-safe (no shared state but the
// CSP, computed once).
#ifndef PGRE_HTTP_STATUS_PAGE_H_
#define PGRE_HTTP_STATUS_PAGE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/lag_trail.h"
#include "cluster/snapshot.h"
#include "common/clock.h"

namespace pgre {

inline constexpr std::string_view kStatusJsonPath = "/status.json";
inline constexpr int kStatusRefreshSeconds = 2;
inline constexpr int kStatusNoScriptRefreshSeconds = 10;
inline constexpr std::size_t kStatusPageBudgetBytes = 100 * 1024;
inline constexpr int kDetailedServers = 40;

// The agent's own state, shown above the clusters.
struct AgentState {
  std::string version;
  std::string revision;
  std::string config_source;  // "file /etc/x.yml", "environment", "" unknown
  std::optional<WallTime> config_loaded_at;  // the last successful load
  bool config_reload_ok = true;              // the last reload succeeded
  std::string config_reload_error;           // of the last failed one
  std::optional<WallTime> config_reload_failed_at;
  bool web_config_reload_ok = true;
  std::string web_config_reload_error;
};

struct StatusPageInput {
  // Every cluster, in configured order (none null).
  std::vector<std::shared_ptr<const Snapshot>> clusters;
  // The cluster of ?cluster= ("" when none); REQUIRES: one of clusters.
  std::string selected;
  AgentState agent;
  std::string telemetry_path = "/metrics";
  WallTime now{};
};

// The whole document (text/html; charset=utf-8).
std::string RenderStatusPage(const StatusPageInput& input);
// The live part of the page: what the script puts into <main id="live">.
std::string RenderStatusLive(const StatusPageInput& input);
// The answer of kStatusJsonPath: {"generatedAt": ISO 8601, "html":
// RenderStatusLive(input)}.
std::string RenderStatusJson(const StatusPageInput& input);
// The page for a ?cluster= that names no cluster (served with 404): the
// known clusters, linked.
std::string RenderUnknownClusterPage(const std::string& name,
                                     const std::vector<std::string>& names);

// The Content-Security-Policy header value of the page: nothing from
// anywhere but the page's own inline style and script (by hash) and
// fetches of this agent.
const std::string& StatusPageCsp();

// An inline SVG sparkline (120 x 24 px by the page's style) of `points`
// (oldest first), drawn so that the last point is at the right edge and
// `slots` points fill the width; a point without a value breaks the line.
// Dashed lines mark `warning` and `critical` (seconds). The scale is the
// larger of the highest point and `critical`. `label` is its title (and
// accessible name). No points with a value: the threshold lines only.
std::string LagSparkline(const LagTrailPoints& points, std::size_t slots,
                         double warning, double critical,
                         std::string_view label);

// `text` with &, <, >, " and ' escaped for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace pgre

#endif  // PGRE_HTTP_STATUS_PAGE_H_
