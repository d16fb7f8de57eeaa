#include "server/ops/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace iterd::ops {
namespace {

absl::string_view ReasonPhrase(int status_code) {
  switch (status_code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

HttpResponse ErrorResponse(int status_code, absl::string_view message) {
  HttpResponse response;
  response.status_code = status_code;
  response.body = absl::StrCat(message, "\n");
  return response;
}

// The value of header `name` (lower case) in `request_head`, without
// surrounding blanks; empty when absent.
absl::string_view HeaderValue(absl::string_view request_head,
                              absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(request_head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return absl::StripAsciiWhitespace(line.substr(colon + 1));
    }
  }
  return absl::string_view();
}

std::string SerializeResponse(const HttpResponse& response) {
  std::string text = absl::StrCat("HTTP/1.1 ", response.status_code, " ",
                                  ReasonPhrase(response.status_code),
                                  "\r\nContent-Type: ", response.content_type,
                                  "\r\nContent-Length: ", response.body.size(),
                                  "\r\nConnection: close\r\n");
  if (response.status_code == 405) text += "Allow: GET\r\n";
  if (response.status_code == 401) text += "WWW-Authenticate: Bearer\r\n";
  absl::StrAppend(&text, "\r\n", response.body);
  return text;
}

int MillisecondsUntil(absl::Time deadline) {
  const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
  return static_cast<int>(
      std::max<int64_t>(0, std::min<int64_t>(left, 1 << 30)));
}

// Waits until `fd` is ready for `events` or `deadline` passes (false then).
bool WaitReady(int fd, short events, absl::Time deadline) {
  while (true) {
    pollfd entry = {fd, events, 0};
    const int ready = poll(&entry, 1, MillisecondsUntil(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// Sends all of `data` by `deadline`; false if the client is gone or too slow.
bool SendAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    if (!WaitReady(fd, POLLOUT, deadline)) return false;
    const ssize_t sent =
        send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// Splits "HOST:PORT" / "[V6]:PORT" into host and port.
absl::Status SplitHostPort(absl::string_view listen, std::string* host,
                           int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", listen, "' is not HOST:PORT (port 0-65535)"));
  }
  absl::string_view host_part = listen.substr(0, colon);
  if (host_part.size() >= 2 && host_part.front() == '[' &&
      host_part.back() == ']') {
    host_part = host_part.substr(1, host_part.size() - 2);
  }
  *host = std::string(host_part);
  return absl::OkStatus();
}

// A bound, listening socket for host:port, or an error naming the address.
absl::StatusOr<int> Listen(absl::string_view listen, int* bound_port) {
  std::string host;
  int port = 0;
  absl::Status status = SplitHostPort(listen, &host, &port);
  if (!status.ok()) return status;
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string service = absl::StrCat(port);
  const int lookup = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                 service.c_str(), &hints, &addresses);
  if (lookup != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "': ", gai_strerror(lookup)));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* address = addresses; address != nullptr;
       address = address->ai_next) {
    fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC,
                address->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, address->ai_addr, address->ai_addrlen) == 0 &&
        ::listen(fd, 64) == 0) {
      break;
    }
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, ": ", last_error));
  }
  sockaddr_storage bound = {};
  socklen_t bound_size = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_size);
  *bound_port = ntohs(bound.ss_family == AF_INET6
                          ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    absl::string_view listen, std::map<std::string, HttpHandler> get_handlers,
    HttpServerOptions options) {
  int port = 0;
  absl::StatusOr<int> listen_fd = Listen(listen, &port);
  if (!listen_fd.ok()) return listen_fd.status();
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    close(*listen_fd);
    return absl::InternalError(
        absl::StrCat("metrics server: pipe: ", std::strerror(errno)));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(
      *listen_fd, wake[0], wake[1], port, std::move(get_handlers), options));
  server->accept_thread_ =
      std::thread([raw = server.get()] { raw->AcceptLoop(); });
  return server;
}

HttpServer::HttpServer(int listen_fd, int wake_read_fd, int wake_write_fd,
                       int port,
                       std::map<std::string, HttpHandler> get_handlers,
                       HttpServerOptions options)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      get_handlers_(std::move(get_handlers)),
      options_(options) {}

HttpServer::~HttpServer() {
  Stop();
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void HttpServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    // Wakes connections blocked in poll() on a silent or slow client; their
    // fds stay open (owned here) until joined, so this never hits a reused fd.
    for (auto& connection : connections_) {
      shutdown(connection->fd, SHUT_RDWR);
    }
  }
  const char byte = 0;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  ReapConnections(/*all=*/true);
}

void HttpServer::AcceptLoop() {
  while (true) {
    pollfd entries[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    if (poll(entries, 2, -1) < 0 && errno != EINTR) {
      ITERD_LOG(ERROR) << "metrics server: poll: " << std::strerror(errno);
      return;
    }
    if (entries[1].revents != 0) return;  // Stop().
    if (entries[0].revents == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // The client gave up already, or EMFILE: next one.
    ReapConnections(/*all=*/false);
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      close(fd);
      return;
    }
    if (static_cast<int>(connections_.size()) >= options_.max_connections) {
      // Answered from this thread without waiting: the socket buffer of a new
      // connection always has room for a short response.
      const std::string busy = SerializeResponse(
          ErrorResponse(503, "too many concurrent metrics requests"));
      send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    Connection* raw = connection.get();
    connection->thread = std::thread([this, raw] { Serve(raw); });
    connections_.push_back(std::move(connection));
  }
}

void HttpServer::ReapConnections(bool all) {
  std::list<std::unique_ptr<Connection>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (all || (*it)->done.load(std::memory_order_acquire)) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& connection : finished) {
    connection->thread.join();
    close(connection->fd);
  }
}

void HttpServer::Serve(Connection* connection) {
  const int fd = connection->fd;
  std::string head;
  HttpResponse response;
  const absl::Time read_deadline = absl::Now() + options_.io_timeout;
  while (true) {
    const size_t end = head.find("\r\n\r\n");
    if (end != std::string::npos && end <= options_.max_request_bytes) {
      response = Respond(absl::string_view(head).substr(0, end));
      break;
    }
    if (end != std::string::npos || head.size() > options_.max_request_bytes) {
      response = ErrorResponse(431, "request head too large");
      break;
    }
    if (!WaitReady(fd, POLLIN, read_deadline)) {
      response = ErrorResponse(408, "no complete request in time");
      break;
    }
    char buffer[2048];
    const ssize_t got = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) {  // Closed (or reset) before a full request: no answer.
      connection->done.store(true, std::memory_order_release);
      return;
    }
    head.append(buffer, static_cast<size_t>(got));
  }
  const absl::Time write_deadline = absl::Now() + options_.io_timeout;
  if (SendAll(fd, SerializeResponse(response), write_deadline)) {
    // Lingering close: read what the client still sends (a request body) until
    // it closes, so that closing does not reset the connection and destroy the
    // response before the client read it.
    shutdown(fd, SHUT_WR);
    const absl::Time linger_deadline = absl::Now() + absl::Milliseconds(200);
    char buffer[2048];
    while (WaitReady(fd, POLLIN, linger_deadline) &&
           recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) > 0) {
    }
  }
  connection->done.store(true, std::memory_order_release);
}

HttpResponse HttpServer::Respond(absl::string_view request_head) const {
  const absl::string_view request_line =
      request_head.substr(0, request_head.find("\r\n"));
  const std::vector<absl::string_view> parts =
      absl::StrSplit(request_line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.") ||
      parts[1].empty()) {
    return ErrorResponse(400, "malformed request line");
  }
  if (parts[0] != "GET") {
    return ErrorResponse(
        405, absl::StrCat("method ", parts[0], " not allowed: only GET"));
  }
  const absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  auto handler = get_handlers_.find(std::string(path));
  if (handler == get_handlers_.end()) {
    return ErrorResponse(404, absl::StrCat("no such path: ", path));
  }
  HttpRequest request;
  request.path = path;
  request.authorization = HeaderValue(request_head, "authorization");
  return handler->second(request);
}

}  // namespace iterd::ops
