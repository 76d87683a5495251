// HttpServer: carries Api over HTTP with civetweb. Handlers only read the
// snapshot, so no answer ever waits on a database.
#ifndef PGRE_HTTP_HTTP_SERVER_H_
#define PGRE_HTTP_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "http/api.h"

struct mg_context;

namespace pgre {

// Converts an exporter-style listen address (":9856", "127.0.0.1:9856",
// "[::1]:9856", "localhost:9856") to civetweb's listening_ports syntax.
// Returns false and sets *error when it is not HOST:PORT with a valid port.
bool ToCivetwebPorts(const std::string& listen_address, std::string* ports,
                     std::string* error);

class HttpServer {
 public:
  // Starts serving `api` on `listen_address`. Returns nullptr and sets
  // *error when the address is invalid or cannot be bound.
  // REQUIRES: api outlives the server.
  static std::unique_ptr<HttpServer> Start(const std::string& listen_address,
                                           const Api* api, std::string* error);
  ~HttpServer();  // stops serving; waits for handlers in flight

  // The port actually bound (useful with port 0).
  int port() const;

 private:
  HttpServer() = default;
  mg_context* ctx_ = nullptr;
};

}  // namespace pgre

#endif  // PGRE_HTTP_HTTP_SERVER_H_
