// HttpRequest / HttpGet: a small blocking HTTP/1.1 client for tests, built on
// civetweb's client API (mg_connect_client, mg_get_response, mg_read).
// Plain HTTP only; one request per connection ("Connection: close").
//
// Thread safety: thread-safe (civetweb is initialised once per process).
#ifndef PGRE_TESTS_SUPPORT_HTTP_CLIENT_H_
#define PGRE_TESTS_SUPPORT_HTTP_CLIENT_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace pgre::testing {

struct HttpResponse {
  // The HTTP status code; 0 when the connection failed, the response headers
  // did not arrive before the timeout, or the response was malformed.
  int status = 0;
  // Response headers; names lower-cased (HTTP header names are
  // case-insensitive). A repeated header keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;
  // Why status is 0 (civetweb's message); empty otherwise.
  std::string error;

  // The header `name` (any case), or nullopt.
  std::optional<std::string> Header(const std::string& name) const;
};

// Sends `method path` to host:port with `body` (Content-Length set; the
// Content-Type header is `content_type` when body is non-empty) and reads
// the whole response.
// `timeout` bounds connecting and waiting for the response headers; the body
// is then read until Content-Length bytes arrived or the server closed the
// connection (the server under test always does one of the two).
// Never throws; failures are reported as status 0 with `error` set.
HttpResponse HttpRequest(
    const std::string& method, const std::string& host, int port,
    const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(5),
    const std::string& body = "",
    const std::string& content_type = "application/json");

// HttpRequest("GET", ...).
HttpResponse HttpGet(
    const std::string& host, int port, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_HTTP_CLIENT_H_
