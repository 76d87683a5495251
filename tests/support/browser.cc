#include "support/browser.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "support/http_client.h"
#include "support/ports.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kChromedriver = "/usr/bin/chromedriver";
// The W3C key of an element reference.
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";
// Page loads and screenshots of a loaded machine.
constexpr auto kCommandTimeout = std::chrono::seconds(60);

std::string DecodeBase64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("Browser: bad base64 from chromedriver");
  std::size_t length = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) {
    --length;
  }
  out.resize(length);
  return out;
}

}  // namespace

bool Browser::Available() {
  return access(kChromium, X_OK) == 0 && access(kChromedriver, X_OK) == 0;
}

Browser::Browser(BrowserOptions options) {
  char templ[] = "/tmp/pgre-chromium-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::runtime_error("Browser: mkdtemp failed");
  }
  profile_dir_ = templ;
  port_ = FreePort();
  driver_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kChromedriver, "--port=" + std::to_string(port_),
                               "--allowed-ips=127.0.0.1"});
  const bool up = WaitUntil(
      [&] {
        const HttpResponse r =
            HttpGet("127.0.0.1", port_, "/status", std::chrono::seconds(2));
        return r.status == 200;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!up) {
    const std::string log = driver_->ReadLog();
    driver_.reset();
    std::filesystem::remove_all(profile_dir_);
    throw std::runtime_error("Browser: chromedriver did not start:\n" + log);
  }
  nlohmann::json chrome = {
      {"binary", kChromium},
      {"args",
       {"--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--disable-sync",
        "--hide-scrollbars", "--user-data-dir=" + profile_dir_,
        "--window-size=" + std::to_string(options.width) + "," +
            std::to_string(options.height)}}};
  if (!options.javascript) {
    chrome["prefs"] = {
        {"profile.managed_default_content_settings.javascript", 2}};
  }
  const nlohmann::json caps = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"}, {"goog:chromeOptions", chrome}}}}}};
  try {
    const nlohmann::json value = Command("POST", "/session", caps);
    session_ = value.at("sessionId").get<std::string>();
  } catch (const std::exception& e) {
    const std::string log = driver_->ReadLog();
    driver_.reset();
    std::filesystem::remove_all(profile_dir_);
    throw std::runtime_error(std::string(e.what()) + "\nchromedriver log:\n" +
                             log);
  }
}

Browser::~Browser() {
  try {
    if (!session_.empty()) Command("DELETE", "/session/" + session_);
  } catch (const std::exception&) {
    // The driver's group is killed below anyway.
  }
  driver_.reset();  // SIGTERM, then SIGKILL to its process group
  std::error_code ignored;
  std::filesystem::remove_all(profile_dir_, ignored);
}

nlohmann::json Browser::Command(const std::string& method,
                                const std::string& path,
                                const nlohmann::json& body) {
  const HttpResponse r =
      HttpRequest(method, "127.0.0.1", port_, path, kCommandTimeout,
                  body.is_null() ? std::string() : body.dump(),
                  "application/json; charset=utf-8");
  if (r.status == 0) {
    throw std::runtime_error("Browser: " + method + " " + path + ": " +
                             r.error);
  }
  nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, false);
  if (answer.is_discarded() || !answer.contains("value")) {
    throw std::runtime_error("Browser: " + method + " " + path + ": HTTP " +
                             std::to_string(r.status) + ": " + r.body);
  }
  nlohmann::json& value = answer["value"];
  if (r.status != 200) {
    std::string what = value.is_object() ? value.value("error", "") + ": " +
                                               value.value("message", "")
                                         : value.dump();
    throw std::runtime_error("Browser: " + method + " " + path + ": " + what);
  }
  return value;
}

void Browser::Navigate(const std::string& url) {
  Command("POST", "/session/" + session_ + "/url", {{"url", url}});
}

nlohmann::json Browser::Execute(const std::string& script,
                                const nlohmann::json& args) {
  return Command("POST", "/session/" + session_ + "/execute/sync",
                 {{"script", script}, {"args", args}});
}

std::string Browser::ElementId(const std::string& css) {
  const HttpResponse r = HttpRequest(
      "POST", "127.0.0.1", port_, "/session/" + session_ + "/elements",
      kCommandTimeout,
      nlohmann::json{{"using", "css selector"}, {"value", css}}.dump(),
      "application/json; charset=utf-8");
  const auto answer = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || answer.is_discarded() || !answer["value"].is_array()) {
    throw std::runtime_error("Browser: find " + css + ": " + r.body);
  }
  if (answer["value"].empty()) return "";
  return answer["value"][0].at(kElementKey).get<std::string>();
}

std::string Browser::Text(const std::string& css) {
  // The document may be replaced between finding the element and reading
  // it (a reload): then it is found again in the new one.
  for (int attempt = 1;; ++attempt) {
    const std::string id = ElementId(css);
    if (id.empty()) return "";
    try {
      return Command("GET", "/session/" + session_ + "/element/" + id + "/text")
          .get<std::string>();
    } catch (const std::runtime_error& e) {
      if (attempt >= 5 ||
          std::string(e.what()).find("stale element") == std::string::npos) {
        throw;
      }
    }
  }
}

void Browser::Resize(int width, int height) {
  Command("POST", "/session/" + session_ + "/window/rect",
          {{"width", width}, {"height", height}});
}

std::string Browser::Screenshot() {
  return DecodeBase64(Command("GET", "/session/" + session_ + "/screenshot")
                          .get<std::string>());
}

std::string Browser::ElementScreenshot(const std::string& css) {
  const std::string id = ElementId(css);
  if (id.empty()) throw std::runtime_error("Browser: no element " + css);
  return DecodeBase64(
      Command("GET", "/session/" + session_ + "/element/" + id + "/screenshot")
          .get<std::string>());
}

void WriteArtifact(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace pgre::testing
