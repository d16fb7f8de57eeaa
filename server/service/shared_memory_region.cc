#include "server/service/shared_memory_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd::service {
namespace {

std::string RandomToken() {
  std::random_device random;
  std::string token(SharedMemoryRegion::kTokenBytes, '\0');
  for (char& byte : token) byte = static_cast<char>(random() & 0xff);
  return token;
}

absl::Status SystemError(absl::string_view call, int error) {
  return absl::InternalError(absl::StrCat("shared memory region: ", call,
                                          " failed: ", std::strerror(error)));
}

}  // namespace

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
  const size_t slot_bytes =
      (min_slot_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  const size_t total = kPageBytes + slot_bytes * slots;
  // CLOEXEC: a child the daemon starts must not keep the region alive.
  const int fd = memfd_create("iterd-batches", MFD_CLOEXEC);
  if (fd < 0) return SystemError("memfd_create", errno);
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    const int error = errno;
    close(fd);
    return SystemError("ftruncate", error);
  }
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    close(fd);
    return SystemError("mmap", error);
  }
  std::string token = RandomToken();
  uint8_t* bytes = static_cast<uint8_t*>(base);
  std::memcpy(bytes, kMagic, sizeof(kMagic));
  std::memcpy(bytes + sizeof(kMagic), token.data(), token.size());
  return std::unique_ptr<SharedMemoryRegion>(
      new SharedMemoryRegion(fd, bytes, slot_bytes, slots, std::move(token)));
}

SharedMemoryRegion::SharedMemoryRegion(int fd, uint8_t* base, size_t slot_bytes,
                                       uint32_t slots, std::string token)
    : fd_(fd),
      base_(base),
      slot_bytes_(slot_bytes),
      slots_(slots),
      token_(std::move(token)),
      path_(absl::StrCat("/proc/", getpid(), "/fd/", fd)) {}

SharedMemoryRegion::~SharedMemoryRegion() {
  munmap(base_, total_bytes());
  close(fd_);
}

absl::Span<uint8_t> SharedMemoryRegion::slot(uint32_t index) const {
  return {base_ + kPageBytes + index * slot_bytes_, slot_bytes_};
}

}  // namespace iterd::service
