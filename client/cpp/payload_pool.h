// File: client/cpp/payload_pool.h
//
// PayloadPool: recycles the large buffers that received batches are assembled
// in. A fresh malloc of >= 64 MB fills at ~2 GB/s (page faults and zeroing,
// docs/benchmarks.md, "Design facts") while a warm buffer fills at memcpy
// speed, so a buffer released by the caller goes back to the pool instead of
// the OS.
//
// Thread-safe: buffers may be released on any thread. Ownership: Acquire
// returns a shared_ptr whose deleter hands the buffer back; the pool is itself
// held by shared_ptr and may be destroyed before its buffers (they are then
// simply freed).

#ifndef ITERD_CLIENT_CPP_PAYLOAD_POOL_H_
#define ITERD_CLIENT_CPP_PAYLOAD_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace iterd::client {

// An uninitialised, 64-byte aligned block of bytes.
class PayloadBuffer final {
 public:
  explicit PayloadBuffer(size_t capacity);
  PayloadBuffer(const PayloadBuffer&) = delete;
  PayloadBuffer& operator=(const PayloadBuffer&) = delete;
  ~PayloadBuffer();

  size_t capacity() const { return capacity_; }
  // Bytes in use (<= capacity), set by PayloadPool::Acquire.
  size_t size() const { return size_; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  absl::Span<uint8_t> span() { return {data_, size_}; }

 private:
  friend class PayloadPool;
  size_t capacity_;
  size_t size_ = 0;
  uint8_t* data_;
};

class PayloadPool final : public std::enable_shared_from_this<PayloadPool> {
 public:
  // Keeps at most `max_free` idle buffers.
  static std::shared_ptr<PayloadPool> Create(size_t max_free = 4);

  PayloadPool(const PayloadPool&) = delete;
  PayloadPool& operator=(const PayloadPool&) = delete;

  // A buffer of `size` bytes (contents unspecified), reused when an idle one
  // is large enough and not more than twice too large.
  std::shared_ptr<PayloadBuffer> Acquire(size_t size);

  size_t num_free() const;

 private:
  explicit PayloadPool(size_t max_free) : max_free_(max_free) {}
  void Release(std::unique_ptr<PayloadBuffer> buffer);

  const size_t max_free_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<PayloadBuffer>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_PAYLOAD_POOL_H_
