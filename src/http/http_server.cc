#include "http/http_server.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <mutex>

namespace pgre {
namespace {

int Handle(mg_connection* conn, void* data) {
  const Api* api = static_cast<const Api*>(data);
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string method = info->request_method ? info->request_method : "";
  const std::string path = info->local_uri ? info->local_uri : "";
  HttpResponse r = api->Handle(method, path);
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length",
                         std::to_string(r.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [k, v] : r.headers) {
    mg_response_header_add(conn, k.c_str(), v.c_str(), -1);
  }
  mg_response_header_send(conn);
  if (method != "HEAD" && !r.body.empty()) {
    mg_write(conn, r.body.data(), r.body.size());
  }
  return r.status;
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::debug("http: {}", message);
  return 1;
}

}  // namespace

bool ToCivetwebPorts(const std::string& address, std::string* ports,
                     std::string* error) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "listen address \"" + address + "\" is not HOST:PORT";
    return false;
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  int value = -1;
  auto [ptr, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      value < 0 || value > 65535) {
    *error = "listen address \"" + address + "\" has no valid port";
    return false;
  }
  if (host.empty()) {
    *ports = port;  // all IPv4 interfaces
  } else if (host == "[::]") {
    *ports = "+" + port;  // IPv4 and IPv6
  } else if (host == "localhost") {
    *ports = "127.0.0.1:" + port;
  } else {
    *ports = host + ":" + port;
  }
  return true;
}

std::unique_ptr<HttpServer> HttpServer::Start(const std::string& address,
                                              const Api* api,
                                              std::string* error) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  std::string ports;
  if (!ToCivetwebPorts(address, &ports, error)) return nullptr;
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "8",
                           "request_timeout_ms", "10000", "enable_keep_alive",
                           "yes",
                           // Headers and body go out in separate writes:
                           // without this, Nagle + delayed ACK add ~40 ms.
                           "tcp_nodelay", "1", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogMessage;
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->ctx_ = mg_start(&callbacks, nullptr, options);
  if (server->ctx_ == nullptr) {
    *error = "cannot listen on " + address +
             " (address in use, or not an address of this host)";
    return nullptr;
  }
  mg_set_request_handler(server->ctx_, "/", Handle, const_cast<Api*>(api));
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_) mg_stop(ctx_);
}

int HttpServer::port() const {
  mg_server_port ports[4];
  const int n = mg_get_server_ports(ctx_, 4, ports);
  return n > 0 ? ports[0].port : 0;
}

}  // namespace pgre
