#include "support/http_client.h"

#include <civetweb.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace pgre::testing {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

void InitCivetwebOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

}  // namespace

std::optional<std::string> HttpResponse::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

HttpResponse HttpRequest(const std::string& method, const std::string& host,
                         int port, const std::string& path,
                         std::chrono::milliseconds timeout,
                         const std::string& body,
                         const std::string& content_type) {
  InitCivetwebOnce();
  HttpResponse response;
  char ebuf[256] = {0};
  mg_connection* conn =
      mg_connect_client(host.c_str(), port, /*use_ssl=*/0, ebuf, sizeof(ebuf));
  if (conn == nullptr) {
    response.error = std::string("connect: ") + ebuf;
    return response;
  }
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host +
                        ":" + std::to_string(port) +
                        "\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n";
  if (!body.empty()) request += "Content-Type: " + content_type + "\r\n";
  request += "\r\n";
  request += body;
  if (mg_write(conn, request.data(), request.size()) !=
      static_cast<int>(request.size())) {
    response.error = "write failed";
    mg_close_connection(conn);
    return response;
  }
  ebuf[0] = '\0';
  if (mg_get_response(conn, ebuf, sizeof(ebuf),
                      static_cast<int>(timeout.count())) < 0) {
    response.error = std::string("response: ") + ebuf;
    mg_close_connection(conn);
    return response;
  }
  const mg_response_info* info = mg_get_response_info(conn);
  if (info == nullptr) {
    response.error = "no response info";
    mg_close_connection(conn);
    return response;
  }
  for (int i = 0; i < info->num_headers; ++i) {
    const auto& h = info->http_headers[i];
    if (h.name == nullptr) continue;
    response.headers[Lower(h.name)] = h.value != nullptr ? h.value : "";
  }
  response.status = info->status_code;
  char buf[8192];
  int n;
  while ((n = mg_read(conn, buf, sizeof(buf))) > 0) {
    response.body.append(buf, static_cast<size_t>(n));
  }
  mg_close_connection(conn);
  return response;
}

HttpResponse HttpGet(const std::string& host, int port, const std::string& path,
                     std::chrono::milliseconds timeout) {
  return HttpRequest("GET", host, port, path, timeout);
}

}  // namespace pgre::testing
