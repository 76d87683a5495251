// Browser: Debian's chromium, headless, driven over W3C WebDriver by
// Debian's chromedriver (package chromium-driver), for the browser tier.
//
// Why a client of our own: the protocol is JSON over HTTP, and the few
// commands the tests need (new session, navigate, execute a script, find an
// element and read its text, resize, screenshot) are a request each with
// the support HTTP client and nlohmann::json. That keeps the tests in C++
// beside TestCluster and AgentProcess, with no Python or npm runtime
// between the test and the browser.
//
// Errors: every command that fails throws std::runtime_error with the
// WebDriver error and message (and chromedriver's log when a session cannot
// be created).
// Thread safety: not thread-safe; one Browser per thread.
#ifndef PGRE_TESTS_SUPPORT_BROWSER_H_
#define PGRE_TESTS_SUPPORT_BROWSER_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/subprocess.h"

namespace pgre::testing {

struct BrowserOptions {
  int width = 1280;
  int height = 900;
  bool javascript = true;  // false: the page's scripts do not run
};

class Browser {
 public:
  // Whether /usr/bin/chromium and /usr/bin/chromedriver are installed.
  static bool Available();

  // Starts chromedriver on a free loopback port and opens a session
  // (chromium headless, a fresh profile in a temp dir, no sandbox: tests
  // run as root). Throws on failure.
  explicit Browser(BrowserOptions options = {});
  // Ends the session (chromium exits), stops chromedriver, removes the
  // profile. Never throws.
  ~Browser();

  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Loads `url` and returns once its document has loaded.
  void Navigate(const std::string& url);
  // Runs `script` (a function body; `arguments` holds `args`) in the page
  // and returns what it returns. REQUIRES: options.javascript.
  nlohmann::json Execute(const std::string& script,
                         const nlohmann::json& args = nlohmann::json::array());
  // The rendered text of the first element matching `css`, "" when none
  // matches (works with scripts off; found again when the document was
  // replaced in between).
  std::string Text(const std::string& css);
  // Sets the window's size in CSS pixels.
  void Resize(int width, int height);
  // A PNG of the viewport, or of the first element matching `css`.
  std::string Screenshot();
  std::string ElementScreenshot(const std::string& css);

 private:
  nlohmann::json Command(const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr);
  std::string ElementId(const std::string& css);

  int port_ = 0;
  std::string profile_dir_;
  std::unique_ptr<Subprocess> driver_;
  std::string session_;
};

// Writes `bytes` to `path`, creating its directory. Throws on failure.
void WriteArtifact(const std::string& path, const std::string& bytes);

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_BROWSER_H_
