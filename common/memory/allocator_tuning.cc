#include "common/memory/allocator_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace iterd {
namespace {

// glibc caps the mmap threshold at 32 MB on 64-bit systems.
constexpr int kMmapThresholdBytes = 32 << 20;
constexpr int kTrimThresholdBytes = 1 << 30;

bool Apply() {
  const char* opt_out = std::getenv("ITERD_TUNE_MALLOC");
  if (opt_out != nullptr && std::strcmp(opt_out, "0") == 0) return false;
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
    return false;  // The user tuned glibc already.
  }
  return mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes) == 1 &&
         mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1;
}

}  // namespace

bool TuneAllocatorForStreaming() {
  static const bool applied = Apply();  // Thread-safe, once per process.
  return applied;
}

}  // namespace iterd
