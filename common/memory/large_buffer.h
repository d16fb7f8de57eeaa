// File: common/memory/large_buffer.h
//
// AllocateLargeBuffer / FreeLargeBuffer: memory for batch payloads (MBs to
// hundreds of MBs), which are written once per batch and then copied by the
// kernel into a socket (or out of one). Buffers of 2 MB and more are 2
// MB-aligned and advised as transparent huge pages: a 38.5 MB payload then
// spans 20 TLB entries instead of ~9,400, which shortens every pass over it
// (the gather that fills it, the kernel's send or receive copy). Smaller ones
// come from the heap.
//
// The bytes are uninitialised. Thread-safe.

#ifndef ITERD_COMMON_MEMORY_LARGE_BUFFER_H_
#define ITERD_COMMON_MEMORY_LARGE_BUFFER_H_

#include <cstddef>
#include <cstdint>

namespace iterd {

// Never returns nullptr (throws std::bad_alloc like operator new when memory is
// exhausted).
uint8_t* AllocateLargeBuffer(size_t bytes);

// REQUIRES: `buffer` came from AllocateLargeBuffer(bytes) with the same
// `bytes`.
void FreeLargeBuffer(uint8_t* buffer, size_t bytes);

}  // namespace iterd

#endif  // ITERD_COMMON_MEMORY_LARGE_BUFFER_H_
