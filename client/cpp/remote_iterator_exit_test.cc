// RemoteIterator's destructor does not hold the process when its daemon does
// not answer (it often runs at exit): a daemon that accepts connections but
// never speaks costs at most the destructor's short Close deadline, and an
// unreachable one costs nothing. The bounds below are hang guards, far above
// what the destructor takes and below the 10 s of an explicit Close().

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cpp/remote_iterator.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

namespace iterd::client {
namespace {

constexpr auto kHangGuard = std::chrono::seconds(5);

// A TCP socket on 127.0.0.1 that accepts (the kernel completes handshakes
// for the backlog) but never reads nor writes: a hung daemon.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
        listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::chrono::steady_clock::duration TimeToDestroy(const std::string& target) {
  iterd::v1::OpenIteratorResponse opened;
  opened.set_iterator_id("ih-0123456789abcdef0123456789abcdef0123456789abcdef");
  opened.set_display_id("it-1");
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto iterator =
      std::make_unique<RemoteIterator>(channel, opened, FetchTransport::kRaw);
  const auto start = std::chrono::steady_clock::now();
  iterator.reset();
  return std::chrono::steady_clock::now() - start;
}

TEST(RemoteIteratorExitTest, DestructorDoesNotWaitLongOnASilentDaemon) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  EXPECT_LT(TimeToDestroy(absl::StrCat("127.0.0.1:", listener.port())),
            kHangGuard);
}

TEST(RemoteIteratorExitTest, DestructorSkipsAnUnreachableDaemon) {
  int port = 0;
  {
    SilentListener closed;  // Bound, then closed: nothing listens there.
    port = closed.port();
  }
  EXPECT_LT(TimeToDestroy(absl::StrCat("127.0.0.1:", port)), kHangGuard);
}

}  // namespace
}  // namespace iterd::client
