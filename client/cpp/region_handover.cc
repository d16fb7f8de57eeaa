#include "client/cpp/region_handover.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::client {
namespace {

// Room for a few descriptors: a misbehaving peer that sends more gets them
// closed instead of leaked (MSG_CTRUNC would drop them silently otherwise).
constexpr int kMaxDescriptors = 4;

absl::Status SocketError(absl::string_view call, int error) {
  const std::string message = absl::StrCat("shared memory hand-over: ", call,
                                           " failed: ", std::strerror(error));
  if (error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS) {
    return absl::DeadlineExceededError(message);
  }
  return absl::UnavailableError(message);
}

// Closes its socket on every return path.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// The one descriptor of `message`'s SCM_RIGHTS, or -1; closes any others.
int TakeOneDescriptor(msghdr* message) {
  int taken = -1;
  int count = 0;
  for (cmsghdr* header = CMSG_FIRSTHDR(message); header != nullptr;
       header = CMSG_NXTHDR(message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    const size_t fds = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < fds; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (++count == 1) {
        taken = fd;
      } else {
        close(fd);
      }
    }
  }
  if (count != 1 && taken >= 0) {
    close(taken);
    taken = -1;
  }
  return taken;
}

}  // namespace

absl::StatusOr<int> ReceiveRegionDescriptor(absl::string_view socket_name,
                                            absl::string_view token,
                                            absl::Duration timeout) {
  sockaddr_un address = {};
  if (socket_name.size() < 2 || socket_name[0] != '@' ||
      socket_name.size() > sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory hand-over: '", socket_name,
                     "' is not an abstract socket name (\"@name\")"));
  }
  address.sun_family = AF_UNIX;
  // sun_path[0] stays NUL: the abstract namespace; the '@' is not sent.
  std::memcpy(address.sun_path + 1, socket_name.data() + 1,
              socket_name.size() - 1);
  const socklen_t address_size = static_cast<socklen_t>(
      offsetof(sockaddr_un, sun_path) + socket_name.size());
  Connection connection(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connection.fd() < 0) return SocketError("socket", errno);
  // Bounds connect (a full listen backlog), send and receive alike.
  const timeval limit = absl::ToTimeval(timeout);
  setsockopt(connection.fd(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  setsockopt(connection.fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  if (connect(connection.fd(), reinterpret_cast<const sockaddr*>(&address),
              address_size) != 0) {
    return SocketError("connect", errno);
  }
  if (send(connection.fd(), token.data(), token.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(token.size())) {
    return SocketError("send", errno);
  }
  char byte = 0;
  iovec data = {&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxDescriptors * sizeof(int))];
  msghdr message = {};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(connection.fd(), &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return SocketError("recvmsg", errno);
  const int fd = received == 1 ? TakeOneDescriptor(&message) : -1;
  if (fd < 0 || (message.msg_flags & MSG_CTRUNC) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        "shared memory hand-over: the daemon sent no region (wrong or used "
        "token, or not the daemon that opened the iterator)");
  }
  return fd;
}

}  // namespace iterd::client
