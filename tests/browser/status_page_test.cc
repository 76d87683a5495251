// The status page in a real browser: a primary with three streaming
// replicas under writes, the pg_replica_exporter binary watching them
// behind basic auth, and Debian's chromium (headless, over chromedriver)
// looking at GET /. The assertions are on the DOM chromium rendered.
// Screenshots go to BUILD/artifacts/browser/ (healthy, one replica lagging,
// read failover, phone width).
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/agent.h"
#include "support/browser.h"
#include "support/cluster.h"
#include "support/http_client.h"
#include "support/wait.h"
#include "support/writer.h"
#include "web/basic_auth.h"

namespace pgre::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kUser = "operator";
constexpr const char* kPassword = "page-pw-Kq7";
// Bound on each wait for the page to show a change: lag must pass 5 s, then
// two failing checks (fall 2 at 500 ms) and the next refresh (2 s); the rest
// is slack for a loaded machine.
constexpr auto kShowTimeout = seconds(60);

std::string Artifact(const std::string& name) {
  return std::string(PGRE_BUILD_DIR) + "/artifacts/browser/" + name;
}

// Every server row as chromium renders it.
json Rows(Browser& browser) {
  return browser.Execute(R"(
    var out = {};
    document.querySelectorAll('tr[data-server]').forEach(function (r) {
      out[r.dataset.server] = {
        up: r.dataset.up,
        inRotation: r.dataset.inRotation || null,
        lagSeconds: r.dataset.lagSeconds ? parseFloat(r.dataset.lagSeconds)
                                         : null,
        sparkline: !!r.querySelector('svg.spark path.l'),
        text: r.innerText
      };
    });
    return out;)");
}

bool Contains(const json& row, const std::string& words) {
  return row.is_object() &&
         row.value("text", "").find(words) != std::string::npos;
}

// Waits until `done` holds for the rendered rows; the last rows seen.
json WaitRows(Browser& browser, const std::function<bool(const json&)>& done,
              bool* ok) {
  json rows;
  *ok = WaitUntil(
      [&] {
        rows = Rows(browser);
        return done(rows);
      },
      kShowTimeout, std::chrono::milliseconds(250));
  return rows;
}

TEST_CASE("the status page in chromium: healthy, lagging, down, failover",
          "[browser]") {
  if (!Browser::Available()) FAIL("chromium and chromium-driver are needed");
  TestCluster cluster;
  BackgroundWriter writer(cluster);

  char dir[] = "/tmp/pgre-browser-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  // Removed however the test ends.
  const std::unique_ptr<char, void (*)(char*)> remove_dir(
      dir, [](char* d) { std::filesystem::remove_all(d); });
  const std::string web = std::string(dir) + "/web.yml";
  {
    std::ofstream out(web);
    out << "basic_auth_users:\n  " << kUser << ": "
        << MakeBcryptHash(kPassword, 6) << "\n";
  }
  AgentOptions options;
  // The fixture waits on /metrics and /-/ready without credentials; the
  // page and its JSON stay behind basic auth.
  options.extra_args = {"--web.config.file=" + web,
                        "--web.unauthenticated-paths=/-/healthy,/-/ready,"
                        "/metrics"};
  AgentProcess agent(cluster, options);
  INFO(agent.Log());
  const std::string origin = "127.0.0.1:" + std::to_string(agent.port());
  REQUIRE(agent.Get("/").status == 401);
  REQUIRE(agent.Get("/status.json").status == 401);

  Browser browser;
  browser.Navigate("http://" + std::string(kUser) + ":" + kPassword + "@" +
                   origin + "/");

  // Healthy: every server listed, every replica in rotation, the script
  // polling.
  bool ok = false;
  json rows = WaitRows(
      browser,
      [](const json& r) {
        for (const char* s : {"replica1", "replica2", "replica3"}) {
          if (!r.contains(s) || r[s]["inRotation"] != "true") return false;
        }
        return r.contains("primary") && r["primary"]["up"] == "true";
      },
      &ok);
  INFO(rows.dump(2));
  REQUIRE(ok);
  CHECK(rows.size() == 4);
  CHECK(Contains(rows["replica1"], "streaming"));
  CHECK(Contains(rows["replica1"], "timeline 1"));
  CHECK(Contains(rows["primary"], "primary (takes writes)"));
  // The reads column names its window; the count since start beside it.
  CHECK(browser.Text("table.servers thead").find("reads, last 1m (share)") !=
        std::string::npos);
  CHECK(Contains(rows["replica1"], "since start"));
  REQUIRE(WaitUntil(
      [&] {
        return browser.Text("#refresh").find("live: updated") !=
               std::string::npos;
      },
      kShowTimeout));
  WriteArtifact(Artifact("healthy.png"), browser.Screenshot());
  // A mark on this document: still there later means the page changed
  // without a reload.
  browser.Execute("window.pgreSamePage = 'yes'; return null;");

  // Nothing came from anywhere but the agent: every resource the page
  // loaded (its polls, the browser's favicon.ico) is of the agent's origin.
  const json resources = browser.Execute(
      "return performance.getEntriesByType('resource').map("
      "function (e) { return e.name; });");
  INFO(resources.dump());
  int polls = 0;
  for (const auto& entry : resources) {
    const std::string url = entry.get<std::string>();
    CHECK(url.rfind("http://" + origin + "/", 0) == 0);
    polls += url.rfind("http://" + origin + "/status.json", 0) == 0 ? 1 : 0;
  }
  CHECK(polls > 0);

  // replica1's replay paused under writes: lag over 5 s, out of rotation
  // with its reason.
  cluster.PauseReplay(0);
  rows = WaitRows(
      browser,
      [](const json& r) {
        const json x = r.value("replica1", json::object());
        return x.value("lagSeconds", json()).is_number() &&
               x["lagSeconds"].get<double>() > 5.0 &&
               x.value("inRotation", json()) == "false" &&
               Contains(x, "out of rotation") && Contains(x, "over 5s");
      },
      &ok);
  INFO(rows.dump(2));
  REQUIRE(ok);
  CHECK(Contains(rows["replica1"], "critical"));
  CHECK(Contains(rows["replica1"], "replay paused"));
  CHECK(rows["replica1"]["sparkline"] == true);
  CHECK(rows["replica2"]["inRotation"] == "true");
  CHECK(browser.Execute("return window.pgreSamePage;") == "yes");
  WriteArtifact(Artifact("lagging.png"), browser.Screenshot());
  WriteArtifact(Artifact("lagging-cluster.png"),
                browser.ElementScreenshot("section.cluster"));

  // replica2 stopped: down.
  cluster.Stop(1);
  rows = WaitRows(
      browser,
      [](const json& r) {
        const json x = r.value("replica2", json::object());
        return x.value("up", "") == "false" && Contains(x, "down") &&
               x.value("inRotation", json()) == "false";
      },
      &ok);
  INFO(rows.dump(2));
  REQUIRE(ok);
  CHECK(browser.Execute("return window.pgreSamePage;") == "yes");

  // replica3 stopped too: no replica left, reads fail over to the primary.
  cluster.Stop(2);
  REQUIRE(WaitUntil(
      [&] {
        return browser.Text("section.cluster")
                   .find("FAILOVER: no replica in rotation") !=
               std::string::npos;
      },
      kShowTimeout));
  rows = Rows(browser);
  CHECK(Contains(rows["primary"], "takes the reads"));
  CHECK(
      browser.Text("section.cluster h2").find("0 of 3 replicas in rotation") !=
      std::string::npos);
  CHECK(browser.Execute("return window.pgreSamePage;") == "yes");
  WriteArtifact(Artifact("failover.png"), browser.Screenshot());

  // A phone: one card per server, nothing wider than the screen.
  browser.Resize(390, 844);
  const json width = browser.Execute(
      "return [document.documentElement.scrollWidth, window.innerWidth, "
      "getComputedStyle(document.querySelector('tr[data-server]')).display];");
  INFO(width.dump());
  CHECK(width[0].get<int>() <= width[1].get<int>());
  CHECK(width[2] == "block");
  WriteArtifact(Artifact("phone.png"), browser.Screenshot());

  // Scripts off: the same page, rendered by the agent, reloaded by its meta
  // refresh.
  Browser noscript(BrowserOptions{.javascript = false});
  noscript.Navigate("http://" + std::string(kUser) + ":" + kPassword + "@" +
                    origin + "/");
  CHECK(noscript.Text("tr[data-server=\"replica2\"]").find("down") !=
        std::string::npos);
  CHECK(noscript.Text("tr[data-server=\"replica1\"]").find("out of rotation") !=
        std::string::npos);
  const std::string first = noscript.Text("#refresh");
  CHECK(first.find("static page of") != std::string::npos);
  CHECK(WaitUntil([&] { return noscript.Text("#refresh") != first; },
                  seconds(30), std::chrono::milliseconds(500)));
}

}  // namespace
}  // namespace pgre::testing
