#include "common/memory/large_buffer.h"

#include <sys/mman.h>

#include <new>

namespace iterd {
namespace {

constexpr size_t kHugePageBytes = 2 << 20;
constexpr std::align_val_t kSmallAlignment{64};

size_t RoundUpToHugePages(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

}  // namespace

uint8_t* AllocateLargeBuffer(size_t bytes) {
  if (bytes < kHugePageBytes) {
    return static_cast<uint8_t*>(
        ::operator new(bytes == 0 ? 1 : bytes, kSmallAlignment));
  }
  const size_t size = RoundUpToHugePages(bytes);
  // operator new with huge-page alignment: glibc serves it from its own mmap
  // for sizes this large, and the alignment lets the kernel back whole 2 MB
  // ranges with huge pages.
  void* buffer = ::operator new (size, std::align_val_t{kHugePageBytes});
  madvise(buffer, size,
          MADV_HUGEPAGE);  // Advice only: failure just means small pages.
  return static_cast<uint8_t*>(buffer);
}

void FreeLargeBuffer(uint8_t* buffer, size_t bytes) {
  if (bytes < kHugePageBytes) {
    ::operator delete(buffer, kSmallAlignment);
    return;
  }
  ::operator delete (buffer, std::align_val_t{kHugePageBytes});
}

}  // namespace iterd
