// File: common/memory/allocator_tuning.h
//
// TuneAllocatorForStreaming(): makes glibc keep freed multi-megabyte blocks
// instead of handing them back to the kernel.
//
// Why: a process that moves GB/s through gRPC allocates and frees a few-MB read
// buffer per message. With glibc's defaults those blocks are mmap'd or trimmed
// back to the kernel on free, so every message page-faults and zeroes fresh
// memory: measured here, ~20% of a client's CPU and 30-40% of its throughput.
// With an mmap threshold of 32 MB and a trim threshold of 1 GB they are reused
// from the heap. The cost is that up to the trim threshold of freed memory
// stays mapped.
//
// Skipped when the user already chose (MALLOC_MMAP_THRESHOLD_ /
// MALLOC_TRIM_THRESHOLD_ set) or opted out (ITERD_TUNE_MALLOC=0). Thread-safe;
// does its work once per process.

#ifndef ITERD_COMMON_MEMORY_ALLOCATOR_TUNING_H_
#define ITERD_COMMON_MEMORY_ALLOCATOR_TUNING_H_

namespace iterd {

// Returns true when the settings were applied (now or by an earlier call).
bool TuneAllocatorForStreaming();

}  // namespace iterd

#endif  // ITERD_COMMON_MEMORY_ALLOCATOR_TUNING_H_
