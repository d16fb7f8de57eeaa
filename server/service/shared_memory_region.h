// File: server/service/shared_memory_region.h
//
// SharedMemoryRegion: an anonymous memfd through which the daemon hands batch
// payloads to a client on the same host (service.proto, SharedMemoryRegion).
// Layout: `slots` slots of `slot_bytes` (a multiple of 4096) from offset 0.
// The memfd has no name in any file system: it disappears with the object (or
// the daemon), so nothing is ever left behind. The pages of a slot are only
// allocated once written (tmpfs is sparse), so unused slots cost nothing.
//
// Who can reach it: Create() opens a second, read-only descriptor of the file
// (read_only_fd(), what SharedMemoryHandover passes to the client that proves
// it knows token()), then fchmod()s the file to 0, so that nobody without
// CAP_DAC_OVERRIDE can open it again through /proc/<pid>/fd/ (the daemon, the
// client, or anyone who finds those links). The size is sealed
// (F_SEAL_SHRINK | F_SEAL_GROW), so a mapping of the whole region can never
// fault with SIGBUS. The token lives only in the daemon's memory and the
// OpenIteratorResponse, never in the region.
//
// The slots are the iterator's payload buffers (shared_memory_pool.h): the
// pipeline writes a batch into a slot the PayloadPool gave it, and nobody else
// writes them (no one else has a writable descriptor). Immutable after
// Create(), so thread-safe. Owns both descriptors and the mapping; the
// destructor releases them (the pool and its buffers share ownership of the
// region, so that happens after the last batch in it).

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
  static constexpr size_t kTokenBytes = 16;
  static constexpr size_t kPageBytes = 4096;

  // A region of `slots` slots of at least `min_slot_bytes` (rounded up to
  // 4096). InvalidArgument for zero sizes or a size that overflows; Internal
  // (naming the system call) when the memfd cannot be made or locked down.
  static absl::StatusOr<std::unique_ptr<SharedMemoryRegion>> Create(
      size_t min_slot_bytes, uint32_t slots);

  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;
  ~SharedMemoryRegion();

  // Writable bytes of slot `index`. REQUIRES: index < slots().
  absl::Span<uint8_t> slot(uint32_t index) const;

  // An O_RDONLY descriptor of the region (owned by the region; dup it or pass
  // it with SCM_RIGHTS, do not close it). Mappings of it cannot be written.
  int read_only_fd() const { return read_only_fd_; }
  // 16 random bytes (getrandom) that a client must present to
  // SharedMemoryHandover to receive read_only_fd().
  const std::string& token() const { return token_; }
  size_t slot_bytes() const { return slot_bytes_; }
  uint32_t slots() const { return slots_; }
  size_t data_offset() const { return 0; }
  size_t total_bytes() const { return slot_bytes_ * slots_; }

 private:
  SharedMemoryRegion(int fd, int read_only_fd, uint8_t* base, size_t slot_bytes,
                     uint32_t slots, std::string token);

  const int fd_;
  const int read_only_fd_;
  uint8_t* const base_;
  const size_t slot_bytes_;
  const uint32_t slots_;
  const std::string token_;
};

// `bytes` bytes from getrandom(2) (the kernel's CSPRNG); Internal on failure.
absl::StatusOr<std::string> RandomSecret(size_t bytes);

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_SHARED_MEMORY_REGION_H_
