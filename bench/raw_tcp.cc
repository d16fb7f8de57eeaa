#include "bench/raw_tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/memory/large_buffer.h"

namespace iterd::bench {
namespace {

// A filled buffer from AllocateLargeBuffer, freed on destruction.
class LargeBytes final {
 public:
  LargeBytes(size_t size, uint8_t fill)
      : size_(size), data_(AllocateLargeBuffer(size)) {
    std::memset(data_, fill, size_);
  }
  LargeBytes(const LargeBytes&) = delete;
  LargeBytes& operator=(const LargeBytes&) = delete;
  ~LargeBytes() { FreeLargeBuffer(data_, size_); }

  size_t size() const { return size_; }
  uint8_t* data() { return data_; }

 private:
  size_t size_;
  uint8_t* data_;
};

// Closes a file descriptor when it goes out of scope.
class ScopedFd final {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(absl::string_view call) {
  return absl::InternalError(absl::StrCat(call, ": ", std::strerror(errno)));
}

bool WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t written = write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return true;
}

bool ReadAll(int fd, uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t got = read(fd, data, size);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    data += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

absl::StatusOr<TcpResult> MeasureLoopbackTcp(size_t message_bytes, int messages,
                                             int warmup_messages) {
  ScopedFd listener(socket(AF_INET, SOCK_STREAM, 0));
  if (listener.get() < 0) return Errno("socket");
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address),
           sizeof(address)) != 0) {
    return Errno("bind 127.0.0.1:0");
  }
  if (listen(listener.get(), 1) != 0) return Errno("listen");
  socklen_t length = sizeof(address);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address),
                  &length) != 0) {
    return Errno("getsockname");
  }
  ScopedFd receiver(socket(AF_INET, SOCK_STREAM, 0));
  if (receiver.get() < 0) return Errno("socket");
  if (connect(receiver.get(), reinterpret_cast<sockaddr*>(&address),
              sizeof(address)) != 0) {
    return Errno("connect");
  }
  ScopedFd sender(accept(listener.get(), nullptr, nullptr));
  if (sender.get() < 0) return Errno("accept");

  const int total = warmup_messages + messages;
  // Both ends use the same buffers as the daemon's and the client's payloads
  // (huge-page backed, common/memory/large_buffer.h), so the ceiling is
  // measured with the same memory advantages. The sender's message is written
  // once (touched, so its pages exist) and sent repeatedly, as a server sends
  // batches it already holds.
  LargeBytes outgoing(message_bytes, 0x5a);
  std::thread sending([&outgoing, &sender, total] {
    for (int i = 0; i < total; ++i) {
      const uint64_t size = outgoing.size();
      if (!WriteAll(sender.get(), reinterpret_cast<const uint8_t*>(&size),
                    sizeof(size)) ||
          !WriteAll(sender.get(), outgoing.data(), outgoing.size())) {
        break;
      }
    }
    shutdown(sender.get(), SHUT_WR);
  });

  LargeBytes incoming(message_bytes, 0);  // Reused, pre-faulted.
  absl::Status status = absl::OkStatus();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < total && status.ok(); ++i) {
    if (i == warmup_messages) start = std::chrono::steady_clock::now();
    uint64_t size = 0;
    if (!ReadAll(receiver.get(), reinterpret_cast<uint8_t*>(&size),
                 sizeof(size)) ||
        size != incoming.size() ||
        !ReadAll(receiver.get(), incoming.data(), size)) {
      status = absl::InternalError(
          absl::StrCat("loopback message ", i, " arrived short"));
    }
  }
  const auto end = std::chrono::steady_clock::now();
  // Unblocks the sender if the reader stopped early.
  shutdown(receiver.get(), SHUT_RDWR);
  sending.join();
  if (!status.ok()) return status;

  TcpResult result;
  result.bytes = message_bytes * static_cast<size_t>(messages);
  result.seconds = std::chrono::duration<double>(end - start).count();
  result.gigabytes_per_second =
      result.seconds > 0 ? result.bytes / result.seconds / 1e9 : 0;
  return result;
}

}  // namespace iterd::bench
