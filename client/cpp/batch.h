// File: client/cpp/batch.h
//
// The client's view of one received batch: MXNet's DataBatch (data, label,
// pad, index) plus the daemon's epoch and sequence counters. All tensors live
// back to back in one payload buffer (data tensors, then label tensors), as
// they arrived on the wire, so a batch costs one allocation (usually a recycled
// one, see payload_pool.h).
//
// Ownership: a Batch shares its payload; copies of a Batch and its Tensors'
// pointers stay valid while any copy lives. Not synchronised: treat a Batch as
// a value, read it from any thread once received.

#ifndef ITERD_CLIENT_CPP_BATCH_H_
#define ITERD_CLIENT_CPP_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/cpp/payload_pool.h"
#include "iterd/v1/service.pb.h"

namespace iterd::client {

// One tensor of a batch: its type and shape, and where its bytes sit in the
// batch payload (little-endian, row-major).
struct Tensor {
  iterd::v1::DataType dtype = iterd::v1::DATA_TYPE_UNSPECIFIED;
  std::vector<int64_t> shape;
  size_t offset = 0;     // In the batch payload.
  size_t byte_size = 0;  // product(shape) * element size.
  const uint8_t* data = nullptr;

  absl::Span<const uint8_t> bytes() const { return {data, byte_size}; }
  // The bytes as elements of T. REQUIRES: T matches dtype.
  template <typename T>
  absl::Span<const T> values() const {
    return {reinterpret_cast<const T*>(data), byte_size / sizeof(T)};
  }
};

struct Batch {
  std::vector<Tensor> data;
  std::vector<Tensor> label;
  int64_t pad = 0;
  std::vector<uint64_t> index;  // Empty when the iterator has no sample ids.
  int64_t epoch = 0;
  int64_t sequence = 0;
  // Owns the bytes every Tensor::data points into.
  std::shared_ptr<const PayloadBuffer> payload;
};

// Bytes per element; 0 for DATA_TYPE_UNSPECIFIED and unknown values.
size_t DataTypeSize(iterd::v1::DataType dtype);

// Checks that each tensor's byte_size matches its shape and dtype and that the
// sizes add up to payload_bytes. DataLoss naming the tensor otherwise.
absl::Status ValidateBatchHeader(const iterd::v1::BatchHeader& header);

// Lays the header's tensors over `payload`. REQUIRES: ValidateBatchHeader(
// header) is OK and payload->size() == header.payload_bytes().
Batch MakeBatch(const iterd::v1::BatchHeader& header,
                std::shared_ptr<const PayloadBuffer> payload);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_BATCH_H_
