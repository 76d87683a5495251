#include "support/prometheus_stack.h"

#include <civetweb.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "support/ports.h"
#include "support/wait.h"

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;

std::string MakeTempDir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + templ + " failed");
  }
  return std::string(buf.data());
}

void RemoveDir(const std::string& dir) noexcept {
  if (dir.empty()) return;
  const char* keep = std::getenv("PGRE_KEEP_PROMETHEUS");
  if (keep != nullptr && std::string(keep) == "1") return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string UrlEncode(const std::string& s) {
  std::vector<char> buf(s.size() * 3 + 1);
  if (mg_url_encode(s.c_str(), buf.data(), buf.size()) < 0) {
    throw std::runtime_error("cannot URL-encode " + s);
  }
  return std::string(buf.data());
}

// Starts `make_argv(port)` on free ports until its /-/ready answers 200
// (at most three ports, in case another process took the one chosen).
// Returns the running process and stores its port in *port; throws with the
// log otherwise.
std::unique_ptr<Subprocess> StartServer(
    const std::string& what,
    const std::function<std::vector<std::string>(int)>& make_argv,
    const std::string& log_path, milliseconds ready_timeout, int* port) {
  std::string log;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int p = FreePort();
    const std::size_t log_start = ReadFileOrEmpty(log_path).size();
    SubprocessOptions sub;
    sub.log_path = log_path;
    auto process = std::make_unique<Subprocess>(make_argv(p), sub);
    const bool ready = WaitUntil(
        [&] {
          if (!process->Running()) return true;
          return HttpGet("127.0.0.1", p, "/-/ready", std::chrono::seconds(2))
                     .status == 200;
        },
        ready_timeout, milliseconds(100));
    if (ready && process->Running()) {
      *port = p;
      return process;
    }
    process->Stop(std::chrono::seconds(5));
    log = ReadFileOrEmpty(log_path).substr(log_start);
    if (log.find("address already in use") == std::string::npos) break;
  }
  throw std::runtime_error(what + " did not become ready; log:\n" +
                           TailLines(log, 40));
}

std::map<std::string, std::string> StringMap(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

// obj[key] as text (strings unquoted), "" when absent.
std::string JsonText(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object() || !obj.contains(key)) return "";
  const auto& v = obj.at(key);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string FormatLabels(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ", ";
    out += k + "=\"" + v + "\"";
  }
  return out + "}";
}

}  // namespace

// ---------------------------------------------------------------------------
// Rule files.
// ---------------------------------------------------------------------------

bool ParsePrometheusDuration(const std::string& text, milliseconds* out) {
  static const std::map<std::string, long long> kUnitMs = {
      {"ms", 1},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 3600 * 1000},
      {"d", 24LL * 3600 * 1000},
      {"w", 7LL * 24 * 3600 * 1000},
      {"y", 365LL * 24 * 3600 * 1000}};
  if (text.empty()) return false;
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t digits = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == digits || i - digits > 12) return false;
    const long long n = std::stoll(text.substr(digits, i - digits));
    const std::size_t unit = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    auto it = kUnitMs.find(text.substr(unit, i - unit));
    if (it == kUnitMs.end()) return false;
    total += n * it->second;
  }
  *out = milliseconds(total);
  return true;
}

std::string FormatPrometheusDuration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string ShortenRuleForDurations(const std::string& rules_yaml,
                                    const ForDurationScaling& scaling,
                                    int* rewritten) {
  // `for: 1m` as a key of its own line (possibly the first key of a list
  // item), with an optional trailing comment.
  static const std::regex kForLine(
      R"(^(\s*(?:-\s+)?for:\s*)(\S+?)(\s*(?:#.*)?)$)");
  std::string out;
  out.reserve(rules_yaml.size());
  int count = 0;
  std::size_t pos = 0;
  while (pos < rules_yaml.size()) {
    std::size_t end = rules_yaml.find('\n', pos);
    const bool has_newline = end != std::string::npos;
    if (!has_newline) end = rules_yaml.size();
    const std::string line = rules_yaml.substr(pos, end - pos);
    std::smatch m;
    if (std::regex_match(line, m, kForLine)) {
      std::string value = m[2].str();
      if (value.size() >= 2 &&
          (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      milliseconds d;
      if (!ParsePrometheusDuration(value, &d)) {
        throw std::runtime_error("rule file: `for:` value is not a duration: " +
                                 line);
      }
      milliseconds shortened = d / scaling.divisor;
      shortened = std::clamp(shortened, scaling.floor, scaling.ceiling);
      out += m[1].str() + FormatPrometheusDuration(shortened) + m[3].str();
      ++count;
    } else {
      out += line;
    }
    if (has_newline) out += '\n';
    pos = end + 1;
  }
  if (rewritten != nullptr) *rewritten = count;
  return out;
}

// ---------------------------------------------------------------------------
// WebhookSink.
// ---------------------------------------------------------------------------

WebhookSink::WebhookSink() : started_(std::chrono::steady_clock::now()) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  // Port 0: the kernel picks a free port; no race with other processes.
  const char* options[] = {"listening_ports",
                           "127.0.0.1:0",
                           "num_threads",
                           "4",
                           "request_timeout_ms",
                           "10000",
                           "tcp_nodelay",
                           "1",
                           nullptr};
  mg_callbacks callbacks{};
  ctx_ = mg_start(&callbacks, this, options);
  if (ctx_ == nullptr) {
    throw std::runtime_error("WebhookSink: cannot listen on 127.0.0.1");
  }
  mg_server_port ports[2];
  const int n = mg_get_server_ports(ctx_, 2, ports);
  if (n < 1 || ports[0].port <= 0) {
    mg_stop(ctx_);
    throw std::runtime_error("WebhookSink: cannot read the listening port");
  }
  port_ = ports[0].port;
  mg_set_request_handler(ctx_, "/", &WebhookSink::Handle, this);
}

WebhookSink::~WebhookSink() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

std::string WebhookSink::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/webhook";
}

int WebhookSink::Handle(mg_connection* conn, void* self) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr || std::string(info->request_method) != "POST") {
    mg_send_http_error(conn, 405, "%s", "POST only\n");
    return 405;
  }
  std::string body;
  char buf[8192];
  int n;
  while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
    body.append(buf, static_cast<std::size_t>(n));
  }
  try {
    static_cast<WebhookSink*>(self)->Record(body);
  } catch (...) {  // never let an exception into civetweb's C code
    mg_send_http_error(conn, 500, "%s", "cannot record\n");
    return 500;
  }
  mg_send_http_ok(conn, "text/plain", 3);
  mg_write(conn, "ok\n", 3);
  return 200;
}

void WebhookSink::Record(const std::string& body) {
  const auto now = std::chrono::steady_clock::now();
  nlohmann::json payload = nlohmann::json::parse(body, nullptr, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (payload.is_discarded() || !payload.is_object()) {
    invalid_bodies_.push_back(body);
    return;
  }
  const std::string receiver = JsonText(payload, "receiver");
  if (payload.contains("alerts") && payload["alerts"].is_array()) {
    for (const auto& a : payload["alerts"]) {
      if (!a.is_object()) continue;
      DeliveredAlert alert;
      alert.status = JsonText(a, "status");
      alert.receiver = receiver;
      alert.labels = StringMap(a.value("labels", nlohmann::json::object()));
      alert.annotations =
          StringMap(a.value("annotations", nlohmann::json::object()));
      alert.received = now;
      alerts_.push_back(std::move(alert));
    }
  }
  payloads_.push_back(std::move(payload));
}

std::vector<nlohmann::json> WebhookSink::Payloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return payloads_;
}

std::size_t WebhookSink::payload_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return payloads_.size();
}

std::vector<std::string> WebhookSink::InvalidBodies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return invalid_bodies_;
}

std::vector<DeliveredAlert> WebhookSink::Alerts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alerts_;
}

std::vector<DeliveredAlert> WebhookSink::Find(
    const std::map<std::string, std::string>& labels,
    const std::string& status) const {
  std::vector<DeliveredAlert> out;
  for (auto& a : Alerts()) {
    if (!status.empty() && a.status != status) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = a.labels.find(k);
      if (it == a.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) out.push_back(std::move(a));
  }
  return out;
}

std::vector<nlohmann::json> WebhookSink::Notifications(
    const std::map<std::string, std::string>& group_labels,
    const std::string& status) const {
  std::vector<nlohmann::json> out;
  for (auto& p : Payloads()) {
    if (!status.empty() && JsonText(p, "status") != status) continue;
    const auto groups =
        StringMap(p.value("groupLabels", nlohmann::json::object()));
    bool match = true;
    for (const auto& [k, v] : group_labels) {
      auto it = groups.find(k);
      if (it == groups.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) out.push_back(std::move(p));
  }
  return out;
}

std::string WebhookSink::Summary() const {
  const auto alerts = Alerts();
  std::ostringstream out;
  for (const auto& a : alerts) {
    const double t =
        std::chrono::duration<double>(a.received - started_).count();
    out << "  +" << static_cast<long long>(t) << "s " << a.status << " "
        << FormatLabels(a.labels) << "\n";
  }
  const auto invalid = InvalidBodies();
  for (const auto& body : invalid) out << "  invalid body: " << body << "\n";
  if (alerts.empty() && invalid.empty()) out << "  (nothing delivered)\n";
  return out.str();
}

// ---------------------------------------------------------------------------
// Alertmanager.
// ---------------------------------------------------------------------------

std::string AlertmanagerConfigYaml(const AlertmanagerOptions& options) {
  std::ostringstream y;
  y << "route:\n"
    << "  receiver: webhook\n"
    << "  group_by: [alertname, cluster, server]\n"
    << "  group_wait: " << options.group_wait << "\n"
    << "  group_interval: " << options.group_interval << "\n"
    << "  repeat_interval: " << options.repeat_interval << "\n"
    << "receivers:\n"
    << "  - name: webhook\n"
    << "    webhook_configs:\n"
    << "      - url: \"" << options.webhook_url << "\"\n"
    << "        send_resolved: true\n";
  return y.str();
}

AlertmanagerServer::AlertmanagerServer(AlertmanagerOptions options) {
  if (options.webhook_url.empty()) {
    throw std::invalid_argument("AlertmanagerServer: webhook_url is empty");
  }
  dir_ = MakeTempDir("pgre-alertmanager");
  try {
    const std::string config = dir_ + "/alertmanager.yml";
    WriteFile(config, AlertmanagerConfigYaml(options));
    std::filesystem::create_directory(dir_ + "/data");
    process_ = StartServer(
        "alertmanager",
        [&](int port) {
          std::vector<std::string> argv = {
              "prometheus-alertmanager", "--config.file=" + config,
              "--storage.path=" + dir_ + "/data",
              "--web.listen-address=127.0.0.1:" + std::to_string(port)};
          if (options.cluster_port == 0) {
            argv.push_back("--cluster.listen-address=");
            return argv;
          }
          const std::string self =
              "127.0.0.1:" + std::to_string(options.cluster_port);
          argv.push_back("--cluster.listen-address=" + self);
          argv.push_back("--cluster.advertise-address=" + self);
          argv.push_back("--cluster.peer-timeout=" + options.peer_timeout);
          for (int peer : options.cluster_peers) {
            argv.push_back("--cluster.peer=127.0.0.1:" + std::to_string(peer));
          }
          return argv;
        },
        dir_ + "/alertmanager.log", options.ready_timeout, &port_);
  } catch (...) {
    process_.reset();
    RemoveDir(dir_);
    throw;
  }
}

AlertmanagerServer::~AlertmanagerServer() {
  process_.reset();
  RemoveDir(dir_);
}

std::string AlertmanagerServer::Log() const {
  return ReadFileOrEmpty(dir_ + "/alertmanager.log");
}

HttpResponse AlertmanagerServer::Get(const std::string& path) const {
  return HttpGet("127.0.0.1", port_, path);
}

std::pair<std::string, int> AlertmanagerServer::ClusterStatus() const {
  const HttpResponse r = Get("/api/v2/status");
  if (r.status != 200) {
    throw std::runtime_error("alertmanager /api/v2/status: status " +
                             std::to_string(r.status) + " " + r.error);
  }
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.contains("cluster") ||
      !body["cluster"].is_object()) {
    throw std::runtime_error("alertmanager /api/v2/status: " + r.body);
  }
  const nlohmann::json& c = body["cluster"];
  const int peers = c.contains("peers") && c["peers"].is_array()
                        ? static_cast<int>(c["peers"].size())
                        : 0;
  return {c.value("status", std::string()), peers};
}

void AlertmanagerServer::Kill() {
  if (process_ && process_->Running()) {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(10));
  }
}

bool AlertmanagerServer::Running() const {
  return process_ && process_->Running();
}

// ---------------------------------------------------------------------------
// Prometheus.
// ---------------------------------------------------------------------------

std::string PrometheusConfigYaml(const PrometheusOptions& options) {
  std::ostringstream y;
  y << "global:\n"
    << "  scrape_interval: " << options.interval << "\n"
    << "  scrape_timeout: " << options.interval << "\n"
    << "  evaluation_interval: " << options.interval << "\n";
  if (!options.rules_yaml.empty()) {
    y << "rule_files:\n"
      << "  - rules.yml\n";
  }
  if (options.alertmanager_port != 0) {
    y << "alerting:\n"
      << "  alertmanagers:\n"
      << "    - static_configs:\n"
      << "        - targets: [\"127.0.0.1:" << options.alertmanager_port
      << "\"";
    for (int port : options.extra_alertmanager_ports) {
      y << ", \"127.0.0.1:" << port << "\"";
    }
    y << "]\n";
  }
  y << "scrape_configs:\n"
    << "  - job_name: " << options.job_name << "\n"
    << "    scheme: " << options.scheme << "\n";
  if (!options.ca_file.empty()) {
    y << "    tls_config:\n"
      << "      ca_file: " << options.ca_file << "\n";
  }
  if (!options.basic_auth_user.empty()) {
    y << "    basic_auth:\n"
      << "      username: " << options.basic_auth_user << "\n"
      << "      password: \"" << options.basic_auth_password << "\"\n";
  }
  y << "    static_configs:\n"
    << "      - targets: [\"" << options.scrape_target << "\"";
  for (const std::string& target : options.extra_scrape_targets) {
    y << ", \"" << target << "\"";
  }
  y << "]\n";
  return y.str();
}

PrometheusServer::PrometheusServer(PrometheusOptions options) {
  if (options.scrape_target.empty()) {
    throw std::invalid_argument("PrometheusServer: scrape_target is empty");
  }
  dir_ = MakeTempDir("pgre-prometheus");
  try {
    const std::string config = dir_ + "/prometheus.yml";
    WriteFile(config, PrometheusConfigYaml(options));
    if (!options.rules_yaml.empty()) {
      WriteFile(dir_ + "/rules.yml", options.rules_yaml);
    }
    std::string output;
    if (RunCommand({"promtool", "check", "config", config}, &output) != 0) {
      throw std::runtime_error("promtool check config failed:\n" + output);
    }
    std::filesystem::create_directory(dir_ + "/data");
    process_ = StartServer(
        "prometheus",
        [&](int port) {
          return std::vector<std::string>{
              "prometheus", "--config.file=" + config,
              "--storage.tsdb.path=" + dir_ + "/data",
              "--web.listen-address=127.0.0.1:" + std::to_string(port)};
        },
        dir_ + "/prometheus.log", options.ready_timeout, &port_);
  } catch (...) {
    process_.reset();
    RemoveDir(dir_);
    throw;
  }
}

PrometheusServer::~PrometheusServer() {
  process_.reset();
  RemoveDir(dir_);
}

std::string PrometheusServer::Log() const {
  return ReadFileOrEmpty(dir_ + "/prometheus.log");
}

HttpResponse PrometheusServer::Get(const std::string& path) const {
  return HttpGet("127.0.0.1", port_, path, std::chrono::seconds(10));
}

nlohmann::json PrometheusServer::Api(const std::string& path) const {
  const HttpResponse r = Get(path);
  if (r.status != 200) {
    throw std::runtime_error("GET " + path + ": status " +
                             std::to_string(r.status) + " " + r.error + " " +
                             r.body);
  }
  nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() ||
      body.value("status", "") != "success" || !body.contains("data")) {
    throw std::runtime_error("GET " + path + ": unexpected body " + r.body);
  }
  return body["data"];
}

nlohmann::json PrometheusServer::Api(
    const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& params) const {
  std::string query;
  for (const auto& [name, value] : params) {
    query +=
        (query.empty() ? "?" : "&") + UrlEncode(name) + "=" + UrlEncode(value);
  }
  return Api(path + query);
}

nlohmann::json PrometheusServer::Query(const std::string& promql) const {
  return Api("/api/v1/query?query=" + UrlEncode(promql)).at("result");
}

nlohmann::json PrometheusServer::Alerts() const {
  return Api("/api/v1/alerts").at("alerts");
}

nlohmann::json PrometheusServer::RuleGroups() const {
  return Api("/api/v1/rules").at("groups");
}

// ---------------------------------------------------------------------------
// The whole stack.
// ---------------------------------------------------------------------------

AlertingStack::AlertingStack(const std::string& scrape_target,
                             const std::string& rules_yaml) {
  sink_ = std::make_unique<WebhookSink>();
  AlertmanagerOptions am;
  am.webhook_url = sink_->url();
  alertmanager_ = std::make_unique<AlertmanagerServer>(am);
  PrometheusOptions prom;
  prom.scrape_target = scrape_target;
  prom.rules_yaml = rules_yaml;
  prom.alertmanager_port = alertmanager_->port();
  prometheus_ = std::make_unique<PrometheusServer>(prom);
}

std::string AlertingStack::Diagnostics() const {
  std::ostringstream out;
  out << "== webhook sink received:\n" << sink_->Summary();
  out << "== prometheus pending/firing alerts:\n";
  try {
    const auto alerts = prometheus_->Alerts();
    if (alerts.empty()) out << "  (none)\n";
    for (const auto& a : alerts) {
      out << "  " << a.value("state", "?") << " "
          << FormatLabels(StringMap(a.value("labels", nlohmann::json{})))
          << " value=" << JsonText(a, "value")
          << " activeAt=" << JsonText(a, "activeAt") << "\n";
    }
  } catch (const std::exception& e) {
    out << "  (unavailable: " << e.what() << ")\n";
  }
  out << "== prometheus rules not inactive or not healthy:\n";
  try {
    for (const auto& g : prometheus_->RuleGroups()) {
      for (const auto& r : g.value("rules", nlohmann::json::array())) {
        const std::string state = r.value("state", "");
        const std::string health = r.value("health", "");
        if ((state.empty() || state == "inactive") && health == "ok") continue;
        out << "  " << g.value("name", "?") << "/" << r.value("name", "?")
            << " state=" << state << " health=" << health
            << " lastError=" << JsonText(r, "lastError")
            << " lastEvaluation=" << JsonText(r, "lastEvaluation") << "\n";
      }
    }
  } catch (const std::exception& e) {
    out << "  (unavailable: " << e.what() << ")\n";
  }
  out << "== prometheus log tail:\n" << TailLines(prometheus_->Log(), 15);
  out << "== alertmanager log tail:\n" << TailLines(alertmanager_->Log(), 15);
  return out.str();
}

ClusteredAlertingStack::ClusteredAlertingStack(
    const std::vector<std::string>& scrape_targets,
    const std::string& rules_yaml, const std::string& peer_timeout) {
  if (scrape_targets.empty()) {
    throw std::invalid_argument("ClusteredAlertingStack: no scrape target");
  }
  sink_ = std::make_unique<WebhookSink>();
  const int gossip[2] = {FreePort(), FreePort()};
  for (int i = 0; i < 2; ++i) {
    AlertmanagerOptions am;
    am.webhook_url = sink_->url();
    am.cluster_port = gossip[i];
    am.cluster_peers = {gossip[1 - i]};
    am.peer_timeout = peer_timeout;
    alertmanagers_.push_back(std::make_unique<AlertmanagerServer>(am));
  }
  const bool formed = WaitUntil(
      [&] {
        return OrFalse([&] {
          for (const auto& am : alertmanagers_) {
            const auto [status, peers] = am->ClusterStatus();
            if (status != "ready" || peers != 2) return false;
          }
          return true;
        });
      },
      std::chrono::seconds(60), milliseconds(200));
  if (!formed) {
    std::string logs;
    for (const auto& am : alertmanagers_) logs += TailLines(am->Log(), 20);
    throw std::runtime_error(
        "the two Alertmanagers did not form a cluster; logs:\n" + logs);
  }
  PrometheusOptions prom;
  prom.scrape_target = scrape_targets.front();
  prom.extra_scrape_targets.assign(scrape_targets.begin() + 1,
                                   scrape_targets.end());
  prom.rules_yaml = rules_yaml;
  prom.alertmanager_port = alertmanagers_[0]->port();
  prom.extra_alertmanager_ports = {alertmanagers_[1]->port()};
  prometheus_ = std::make_unique<PrometheusServer>(prom);
}

std::string ClusteredAlertingStack::Diagnostics() const {
  std::ostringstream out;
  out << "== webhook sink received:\n" << sink_->Summary();
  out << "== notifications (payloads): " << sink_->payload_count() << "\n";
  for (const auto& p : sink_->Payloads()) {
    out << "  " << JsonText(p, "status") << " "
        << FormatLabels(
               StringMap(p.value("groupLabels", nlohmann::json::object())))
        << " alerts=" << p.value("alerts", nlohmann::json::array()).size()
        << "\n";
  }
  out << "== prometheus firing alerts:\n";
  try {
    for (const auto& a : prometheus_->Alerts()) {
      out << "  " << a.value("state", "?") << " "
          << FormatLabels(StringMap(a.value("labels", nlohmann::json{})))
          << "\n";
    }
  } catch (const std::exception& e) {
    out << "  (unavailable: " << e.what() << ")\n";
  }
  out << "== prometheus log tail:\n" << TailLines(prometheus_->Log(), 10);
  for (std::size_t i = 0; i < alertmanagers_.size(); ++i) {
    out << "== alertmanager " << i
        << (alertmanagers_[i]->Running() ? "" : " (stopped)") << " log tail:\n"
        << TailLines(alertmanagers_[i]->Log(), 15);
  }
  return out.str();
}

std::string ShippedRulesShortened() {
  const std::string path =
      std::string(PGRE_SOURCE_DIR) + "/rules/pg_replica_exporter.rules.yml";
  const std::string shipped = ReadFileOrEmpty(path);
  if (shipped.empty()) throw std::runtime_error("cannot read " + path);
  return ShortenRuleForDurations(shipped);
}

std::string TailLines(const std::string& text, int lines) {
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  int seen = 0;
  while (pos > 0) {
    const std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++seen == lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

}  // namespace pgre::testing
