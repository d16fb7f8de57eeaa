#include "server/service/shared_memory_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::service {
namespace {

absl::Status SystemError(absl::string_view call, int error) {
  return absl::InternalError(absl::StrCat("shared memory region: ", call,
                                          " failed: ", std::strerror(error)));
}

// Makes the memfd `fd` a region of `total` bytes: sized, sealed, its
// read-only descriptor opened (returned) and the file made unopenable.
absl::StatusOr<int> LockDown(int fd, size_t total) {
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    return SystemError("ftruncate", errno);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return SystemError("fcntl(F_ADD_SEALS)", errno);
  }
  // A new open file description, opened for reading only: what clients get.
  // Before the fchmod below, which stops this process from opening it too.
  const int read_only =
      open(absl::StrCat("/proc/self/fd/", fd).c_str(), O_RDONLY | O_CLOEXEC);
  if (read_only < 0) return SystemError("open(/proc/self/fd/N)", errno);
  if (fchmod(fd, 0) != 0) {
    const int error = errno;
    close(read_only);
    return SystemError("fchmod", error);
  }
  return read_only;
}

}  // namespace

absl::StatusOr<std::string> RandomSecret(size_t bytes) {
  std::string secret(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t got = getrandom(secret.data() + filled, bytes - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return SystemError("getrandom", errno);
    filled += static_cast<size_t>(got);
  }
  return secret;
}

absl::StatusOr<std::unique_ptr<SharedMemoryRegion>> SharedMemoryRegion::Create(
    size_t min_slot_bytes, uint32_t slots) {
  if (min_slot_bytes == 0 || slots == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region: slot_bytes (", min_slot_bytes,
                     ") and slots (", slots, ") must be > 0"));
  }
  constexpr size_t kMax = std::numeric_limits<size_t>::max() / 2;
  if (min_slot_bytes > kMax / slots) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared memory region: ", slots, " slots of ",
                     min_slot_bytes, " bytes overflow"));
  }
  absl::StatusOr<std::string> token = RandomSecret(kTokenBytes);
  if (!token.ok()) return token.status();
  const size_t slot_bytes =
      (min_slot_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  const size_t total = slot_bytes * slots;
  // CLOEXEC: a child the daemon starts must not keep the region alive.
  const int fd = memfd_create("iterd-batches", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return SystemError("memfd_create", errno);
  absl::StatusOr<int> read_only_fd = LockDown(fd, total);
  if (!read_only_fd.ok()) {
    close(fd);
    return read_only_fd.status();
  }
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    close(*read_only_fd);
    close(fd);
    return SystemError("mmap", error);
  }
  return std::unique_ptr<SharedMemoryRegion>(
      new SharedMemoryRegion(fd, *read_only_fd, static_cast<uint8_t*>(base),
                             slot_bytes, slots, *std::move(token)));
}

SharedMemoryRegion::SharedMemoryRegion(int fd, int read_only_fd, uint8_t* base,
                                       size_t slot_bytes, uint32_t slots,
                                       std::string token)
    : fd_(fd),
      read_only_fd_(read_only_fd),
      base_(base),
      slot_bytes_(slot_bytes),
      slots_(slots),
      token_(std::move(token)) {}

SharedMemoryRegion::~SharedMemoryRegion() {
  munmap(base_, total_bytes());
  close(read_only_fd_);
  close(fd_);
}

absl::Span<uint8_t> SharedMemoryRegion::slot(uint32_t index) const {
  return {base_ + index * slot_bytes_, slot_bytes_};
}

}  // namespace iterd::service
