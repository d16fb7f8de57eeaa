// File: server/service/shared_memory_region.h
//
// SharedMemoryRegion: an anonymous memfd through which the daemon hands batch
// payloads to a client on the same host (service.proto, SharedMemoryRegion).
// Layout: a 4096-byte first page holding kMagic and a 16-byte random token,
// then `slots` slots of `slot_bytes` (a multiple of 4096). The client opens
// path() ("/proc/<pid>/fd/<fd>") and checks the token before it trusts the
// mapping. The memfd has no name in any file system: it disappears with the
// object (or the daemon), so nothing is ever left behind. The pages of a slot
// are only allocated once written (tmpfs is sparse), so unused slots cost
// nothing.
//
// The slots are the iterator's payload buffers (shared_memory_pool.h): the
// pipeline writes a batch into a slot the PayloadPool gave it, and nobody else
// writes them. Immutable after Create(), so thread-safe. Owns the fd and the
// mapping; the destructor releases both (the pool and its buffers share
// ownership of the region, so that happens after the last batch in it).

#ifndef ITERD_SERVER_SERVICE_SHARED_MEMORY_REGION_H_
#define ITERD_SERVER_SERVICE_SHARED_MEMORY_REGION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace iterd::service {

class SharedMemoryRegion final {
 public:
  static constexpr char kMagic[8] = {'I', 'T', 'E', 'R', 'D', 'S', 'H', 'M'};
  static constexpr size_t kTokenBytes = 16;
  static constexpr size_t kPageBytes = 4096;

  // A region of `slots` slots of at least `min_slot_bytes` (rounded up to
  // 4096). InvalidArgument for zero sizes or a size that overflows; Internal
  // (naming the system call) when the memfd cannot be made.
  static absl::StatusOr<std::unique_ptr<SharedMemoryRegion>> Create(
      size_t min_slot_bytes, uint32_t slots);

  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;
  ~SharedMemoryRegion();

  // Writable bytes of slot `index`. REQUIRES: index < slots().
  absl::Span<uint8_t> slot(uint32_t index) const;

  // "/proc/<pid>/fd/<fd>": how another process on this host opens it.
  const std::string& path() const { return path_; }
  // The 16 random bytes stored after kMagic in the first page.
  const std::string& token() const { return token_; }
  size_t slot_bytes() const { return slot_bytes_; }
  uint32_t slots() const { return slots_; }
  size_t data_offset() const { return kPageBytes; }
  size_t total_bytes() const { return kPageBytes + slot_bytes_ * slots_; }

 private:
  SharedMemoryRegion(int fd, uint8_t* base, size_t slot_bytes, uint32_t slots,
                     std::string token);

  const int fd_;
  uint8_t* const base_;
  const size_t slot_bytes_;
  const uint32_t slots_;
  const std::string token_;
  const std::string path_;
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_SHARED_MEMORY_REGION_H_
