// File: server/ops/http_server.h
//
// HttpServer: a deliberately small HTTP/1.1 server for operational endpoints
// (GET /metrics), separate from the gRPC port so that scrapers need no gRPC.
// One request per connection ("Connection: close"), each served on its own
// thread; at most `max_connections` at a time (more get 503 at once), and every
// connection has a deadline for reading its request and writing its response,
// so a slow or silent client cannot hold a thread for long. Only GET is served:
// other methods get 405, unknown paths 404. A 401 response asks for a Bearer
// token (WWW-Authenticate).
//
// Thread-safe. Stop() (also run by the destructor) closes the listening
// socket, wakes and joins every connection thread; handlers must not block
// for long. Ownership: the server owns its sockets and threads; handlers are
// copied in and must stay valid (capture only what outlives the server).

#ifndef ITERD_SERVER_OPS_HTTP_SERVER_H_
#define ITERD_SERVER_OPS_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace iterd::ops {

struct HttpResponse {
  int status_code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// What a handler sees of a request. Views into the request, valid during the
// handler's call.
struct HttpRequest {
  absl::string_view path;
  // The Authorization header's value; empty when absent.
  absl::string_view authorization;
};

// Produces the response to a GET of one path.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Connections served at once; one more is answered 503 and closed.
  int max_connections = 8;
  // Per connection: time to receive the request head and, separately, to send
  // the response.
  absl::Duration io_timeout = absl::Seconds(5);
  // Largest request head (request line and headers) accepted; larger gets 431.
  size_t max_request_bytes = 8192;
};

class HttpServer final {
 public:
  // Binds `listen` ("HOST:PORT", "[V6]:PORT"; port 0 picks a free port) and
  // starts serving `get_handlers` (path -> handler; the query string is not
  // part of the path). InvalidArgument for a malformed address, Unavailable
  // naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      absl::string_view listen, std::map<std::string, HttpHandler> get_handlers,
      HttpServerOptions options = {});

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // The bound port (the chosen one when asked for port 0).
  int port() const { return port_; }

  // Stops accepting, cuts connections still open and joins all threads.
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  HttpServer(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
             std::map<std::string, HttpHandler> get_handlers,
             HttpServerOptions options);

  void AcceptLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void Serve(Connection* connection);
  HttpResponse Respond(absl::string_view request_head) const;
  // Joins and closes finished connections; all of them when `all`.
  void ReapConnections(bool all) ABSL_LOCKS_EXCLUDED(mu_);

  const int listen_fd_;
  // A pipe that wakes the accept loop's poll() at Stop().
  const int wake_read_fd_;
  const int wake_write_fd_;
  const int port_;
  const std::map<std::string, HttpHandler> get_handlers_;
  const HttpServerOptions options_;

  absl::Mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread accept_thread_;
};

}  // namespace iterd::ops

#endif  // ITERD_SERVER_OPS_HTTP_SERVER_H_
