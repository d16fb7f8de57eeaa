#include "server/ops/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A TCP connection to 127.0.0.1:port (-1 on failure).
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadToEnd(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t got;
  while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0)
    text.append(buffer, got);
  return text;
}

// Sends `request` on a new connection and returns everything the server sent.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "connect failed";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = ReadToEnd(fd);
  close(fd);
  return response;
}

std::unique_ptr<HttpServer> StartTestServer(HttpServerOptions options = {},
                                            std::atomic<int>* calls = nullptr) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1:0",
                        {{"/metrics",
                          [calls](const HttpRequest&) {
                            if (calls != nullptr) ++*calls;
                            HttpResponse response;
                            response.content_type = "text/plain; version=0.0.4";
                            response.body = "up 1\n";
                            return response;
                          }}},
                        options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(HttpServerTest, GetOfARegisteredPathReturnsTheHandlersBody) {
  std::unique_ptr<HttpServer> server = StartTestServer();
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  const std::string response =
      Exchange(server->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(response, HasSubstr("Content-Length: 5\r\n"));
  EXPECT_THAT(response, HasSubstr("\r\n\r\nup 1\n"));
}

TEST(HttpServerTest, QueryStringIsNotPartOfThePath) {
  std::unique_ptr<HttpServer> server = StartTestServer();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(Exchange(server->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK"));
}

TEST(HttpServerTest, UnknownPathIs404) {
  std::unique_ptr<HttpServer> server = StartTestServer();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(Exchange(server->port(), "GET /other HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 404 Not Found"));
}

TEST(HttpServerTest, NonGetMethodIs405WithAllowHeader) {
  std::unique_ptr<HttpServer> server = StartTestServer();
  ASSERT_NE(server, nullptr);
  const std::string response = Exchange(
      server->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 405 Method Not Allowed"));
  EXPECT_THAT(response, HasSubstr("Allow: GET\r\n"));
}

TEST(HttpServerTest, MalformedRequestLineIs400) {
  std::unique_ptr<HttpServer> server = StartTestServer();
  ASSERT_NE(server, nullptr);
  EXPECT_THAT(Exchange(server->port(), "hello\r\n\r\n"),
              StartsWith("HTTP/1.1 400 Bad Request"));
}

TEST(HttpServerTest, OversizedRequestHeadIs431) {
  HttpServerOptions options;
  options.max_request_bytes = 100;
  std::unique_ptr<HttpServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  const std::string request =
      "GET /metrics HTTP/1.1\r\nX: " + std::string(1000, 'a') + "\r\n\r\n";
  EXPECT_THAT(Exchange(server->port(), request), StartsWith("HTTP/1.1 431"));
}

TEST(HttpServerTest, SilentClientTimesOutWith408AndDoesNotBlockOthers) {
  HttpServerOptions options;
  options.io_timeout = absl::Milliseconds(300);
  std::unique_ptr<HttpServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  const int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  EXPECT_THAT(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK"));
  const absl::Time start = absl::Now();
  EXPECT_THAT(ReadToEnd(silent), StartsWith("HTTP/1.1 408"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  close(silent);
}

TEST(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 1;
  options.io_timeout = absl::Seconds(5);
  std::unique_ptr<HttpServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  const int holder = Connect(server->port());  // Occupies the only slot.
  ASSERT_GE(holder, 0);
  absl::SleepFor(absl::Milliseconds(100));  // Let the server accept it.
  EXPECT_THAT(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 503"));
  close(holder);
}

TEST(HttpServerTest, StopReturnsPromptlyWithASilentClientConnected) {
  HttpServerOptions options;
  options.io_timeout = absl::Seconds(30);
  std::unique_ptr<HttpServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  const int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  const int port = server->port();
  server.reset();
  EXPECT_EQ(Connect(port), -1) << "still accepting after Stop()";
  close(silent);
}

TEST(HttpServerTest, ServesManySequentialRequests) {
  std::atomic<int> calls{0};
  std::unique_ptr<HttpServer> server = StartTestServer({}, &calls);
  ASSERT_NE(server, nullptr);
  for (int i = 0; i < 50; ++i) {
    ASSERT_THAT(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
                StartsWith("HTTP/1.1 200 OK"));
  }
  EXPECT_EQ(calls.load(), 50);
}

TEST(HttpServerTest, HandlersSeeTheAuthorizationHeaderAnd401AsksForBearer) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      "127.0.0.1:0", {{"/private", [](const HttpRequest& request) {
                         HttpResponse response;
                         if (request.authorization != "Bearer secret") {
                           response.status_code = 401;
                           response.body = "no\n";
                         } else {
                           response.body = "yes\n";
                         }
                         return response;
                       }}});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  const std::string refused = Exchange(port, "GET /private HTTP/1.1\r\n\r\n");
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 401 Unauthorized\r\n"));
  EXPECT_THAT(refused, HasSubstr("WWW-Authenticate: Bearer\r\n"));
  EXPECT_THAT(Exchange(port,
                       "GET /private HTTP/1.1\r\nHost: x\r\n"
                       "authorization:   Bearer secret \r\n\r\n"),
              HasSubstr("\r\n\r\nyes\n"));
}

TEST(HttpServerTest, MalformedAddressIsInvalidArgument) {
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start("127.0.0.1", {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("127.0.0.1"));
}

TEST(HttpServerTest, PortInUseIsUnavailableNamingTheAddress) {
  std::unique_ptr<HttpServer> first = StartTestServer();
  ASSERT_NE(first, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(first->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(address, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(address));
}

}  // namespace
}  // namespace iterd::ops
