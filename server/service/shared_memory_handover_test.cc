#include "server/service/shared_memory_handover.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cpp/region_handover.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/shared_memory_region.h"

namespace iterd::service {
namespace {

using ::iterd::client::ReceiveRegionDescriptor;

constexpr absl::Duration kTimeout = absl::Seconds(5);

std::shared_ptr<SharedMemoryRegion> MakeRegion() {
  auto region = SharedMemoryRegion::Create(4096, 2);
  EXPECT_TRUE(region.ok()) << region.status();
  return region.ok() ? std::shared_ptr<SharedMemoryRegion>(*std::move(region))
                     : nullptr;
}

std::unique_ptr<SharedMemoryHandover> StartHandover(
    HandoverOptions options = {}) {
  auto handover = SharedMemoryHandover::Start(options);
  EXPECT_TRUE(handover.ok()) << handover.status();
  return handover.ok() ? *std::move(handover) : nullptr;
}

// The server counts a hand-over after sendmsg returns, which may be after the
// client already holds the descriptor: wait for the count rather than race it.
int64_t HandedOverWithin(const SharedMemoryHandover& handover, int64_t expected,
                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (handover.handed_over() < expected && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return handover.handed_over();
}

// A raw connection to the hand-over socket, as a hostile peer makes it.
int ConnectRaw(const std::string& socket_name) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, socket_name.data() + 1,
              socket_name.size() - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  const int connected =
      connect(fd, reinterpret_cast<const sockaddr*>(&address),
              static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                     socket_name.size()));
  EXPECT_EQ(connected, 0) << std::strerror(errno);
  return fd;
}

// Blocks until the daemon closes `fd`; true if it sent nothing before.
bool ClosedWithNothing(int fd) {
  char byte = 0;
  const timeval limit = absl::ToTimeval(kTimeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  const ssize_t got = recv(fd, &byte, 1, 0);
  close(fd);
  return got == 0;
}

TEST(SharedMemoryHandoverTest, SocketIsAbstractAndNamedAfterTheDaemon) {
  auto handover = StartHandover();
  ASSERT_NE(handover, nullptr);
  EXPECT_THAT(handover->socket_name(),
              ::testing::StartsWith(absl::StrCat("@iterd-", getpid(), "-")));
  auto other = StartHandover();
  ASSERT_NE(other, nullptr);
  EXPECT_NE(handover->socket_name(), other->socket_name());
}

TEST(SharedMemoryHandoverTest, TokenHolderGetsAReadOnlyDescriptorOnce) {
  auto handover = StartHandover();
  std::shared_ptr<SharedMemoryRegion> region = MakeRegion();
  ASSERT_TRUE(handover != nullptr && region != nullptr);
  std::memset(region->slot(1).data(), 0x5c, region->slot_bytes());
  handover->Offer(region);

  absl::StatusOr<int> fd = ReceiveRegionDescriptor(handover->socket_name(),
                                                   region->token(), kTimeout);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fcntl(*fd, F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_NE(fcntl(*fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(mmap(nullptr, region->total_bytes(), PROT_READ | PROT_WRITE,
                 MAP_SHARED, *fd, 0),
            MAP_FAILED);
  void* base =
      mmap(nullptr, region->total_bytes(), PROT_READ, MAP_SHARED, *fd, 0);
  ASSERT_NE(base, MAP_FAILED);
  const uint8_t* bytes = static_cast<const uint8_t*>(base);
  EXPECT_EQ(bytes[region->slot_bytes()], 0x5c);
  region->slot(1)[9] = 0x11;  // The daemon's later writes show through.
  EXPECT_EQ(bytes[region->slot_bytes() + 9], 0x11);
  munmap(base, region->total_bytes());
  close(*fd);
  EXPECT_EQ(HandedOverWithin(*handover, 1, kTimeout), 1);

  // The token is used up.
  absl::StatusOr<int> again = ReceiveRegionDescriptor(
      handover->socket_name(), region->token(), kTimeout);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SharedMemoryHandoverTest, WrongTokenGetsNothing) {
  auto handover = StartHandover();
  std::shared_ptr<SharedMemoryRegion> region = MakeRegion();
  ASSERT_TRUE(handover != nullptr && region != nullptr);
  handover->Offer(region);
  std::string wrong = region->token();
  wrong[15] ^= 1;
  absl::StatusOr<int> fd =
      ReceiveRegionDescriptor(handover->socket_name(), wrong, kTimeout);
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(handover->refused(), 1);
  // The right token still works afterwards.
  fd = ReceiveRegionDescriptor(handover->socket_name(), region->token(),
                               kTimeout);
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
}

TEST(SharedMemoryHandoverTest, FreedRegionIsNotHandedOver) {
  auto handover = StartHandover();
  std::shared_ptr<SharedMemoryRegion> region = MakeRegion();
  ASSERT_TRUE(handover != nullptr && region != nullptr);
  handover->Offer(region);
  const std::string token = region->token();
  region.reset();
  absl::StatusOr<int> fd =
      ReceiveRegionDescriptor(handover->socket_name(), token, kTimeout);
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SharedMemoryHandoverTest, FloodOfBytesIsReadOnlyUpToATokenThenClosed) {
  auto handover = StartHandover();
  ASSERT_NE(handover, nullptr);
  const int fd = ConnectRaw(handover->socket_name());
  const std::string garbage(1 << 16, 'x');
  // The daemon reads 16 bytes, refuses them and closes: the rest may fail.
  [[maybe_unused]] const ssize_t sent =
      send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  char byte = 0;
  const timeval limit = absl::ToTimeval(kTimeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  EXPECT_LE(recv(fd, &byte, 1, 0), 0);  // EOF or ECONNRESET, never data.
  close(fd);
}

TEST(SharedMemoryHandoverTest, SilentAndShortPeersAreCutOffAtTheDeadline) {
  HandoverOptions options;
  options.peer_deadline = absl::Milliseconds(200);
  auto handover = StartHandover(options);
  ASSERT_NE(handover, nullptr);
  const int silent = ConnectRaw(handover->socket_name());
  const int short_token = ConnectRaw(handover->socket_name());
  ASSERT_EQ(send(short_token, "12345", 5, MSG_NOSIGNAL), 5);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(ClosedWithNothing(silent));
  EXPECT_TRUE(ClosedWithNothing(short_token));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(SharedMemoryHandoverTest, SilentPeersBeyondTheBoundOnlyDelayAHandover) {
  HandoverOptions options;
  options.peer_deadline = absl::Milliseconds(200);
  options.max_waiting_peers = 3;
  auto handover = StartHandover(options);
  std::shared_ptr<SharedMemoryRegion> region = MakeRegion();
  ASSERT_TRUE(handover != nullptr && region != nullptr);
  handover->Offer(region);
  std::vector<int> silent;
  for (int i = 0; i < 10; ++i) {
    silent.push_back(ConnectRaw(handover->socket_name()));
  }
  absl::StatusOr<int> fd = ReceiveRegionDescriptor(handover->socket_name(),
                                                   region->token(), kTimeout);
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  for (int fd : silent) EXPECT_TRUE(ClosedWithNothing(fd));
}

TEST(SharedMemoryHandoverTest, MalformedNamesAreInvalidArgument) {
  for (const char* name : {"", "@", "iterd-no-at-sign", "/tmp/socket"}) {
    EXPECT_EQ(ReceiveRegionDescriptor(name, std::string(16, 'x'), kTimeout)
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_FALSE(ReceiveRegionDescriptor("@iterd-nobody-listens",
                                       std::string(16, 'x'), kTimeout)
                   .ok());
}

}  // namespace
}  // namespace iterd::service
