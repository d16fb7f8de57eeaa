// File: common/tensor/batch.h
//
// Batch: the tensors of one training batch laid out back to back in a single
// payload buffer (data tensors in order, then label tensors), plus MXNet's pad
// and index. One contiguous payload is what the wire streams in chunks, so a
// batch travels from the pipeline to the socket without being reassembled.
//
// A Batch is filled by one thread (the pipeline), then shared read-only
// (std::shared_ptr<const Batch>) with the stream that sends it. Not thread-safe
// while being filled.

#ifndef ITERD_COMMON_TENSOR_BATCH_H_
#define ITERD_COMMON_TENSOR_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "common/tensor/dtype.h"
#include "common/tensor/payload_pool.h"
#include "common/tensor/stream_position.h"

namespace iterd {

// Type and full shape (batch axis first) of one tensor of a batch.
struct TensorSpec {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;

  int64_t num_elements() const;
  size_t byte_size() const { return num_elements() * DTypeSize(dtype); }
  // Bytes of one sample (one index along the first axis).
  size_t row_bytes() const;
};

// Where one tensor lives inside a batch payload.
class TensorView final {
 public:
  TensorView(const TensorSpec* spec, uint8_t* data)
      : spec_(spec), data_(data) {}

  const TensorSpec& spec() const { return *spec_; }
  absl::Span<uint8_t> bytes() const { return {data_, spec_->byte_size()}; }
  // Bytes of sample `row`. REQUIRES: 0 <= row < shape[0].
  absl::Span<uint8_t> row(int64_t row) const {
    const size_t n = spec_->row_bytes();
    return {data_ + row * n, n};
  }
  template <typename T>
  T* data_as() const {
    return reinterpret_cast<T*>(data_);
  }

 private:
  const TensorSpec* spec_;
  uint8_t* data_;
};

class Batch final {
 public:
  // Allocates an uninitialised payload for the given tensors.
  Batch(std::vector<TensorSpec> data, std::vector<TensorSpec> label);
  // Takes the payload from `pool`. REQUIRES: pool->buffer_bytes() ==
  // PayloadBytes(data, label).
  Batch(std::vector<TensorSpec> data, std::vector<TensorSpec> label,
        PayloadPool* pool);

  // Bytes of the payload of a batch with these tensors.
  static size_t PayloadBytes(const std::vector<TensorSpec>& data,
                             const std::vector<TensorSpec>& label);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  size_t num_data() const { return data_specs_.size(); }
  size_t num_label() const { return label_specs_.size(); }
  TensorView data(size_t i) {
    return {&data_specs_[i], payload_.get() + data_offsets_[i]};
  }
  TensorView label(size_t i) {
    return {&label_specs_[i], payload_.get() + label_offsets_[i]};
  }
  const std::vector<TensorSpec>& data_specs() const { return data_specs_; }
  const std::vector<TensorSpec>& label_specs() const { return label_specs_; }

  // Number of samples (the first axis of every tensor).
  int64_t batch_size() const { return batch_size_; }

  // The whole payload: data tensors then label tensors, each contiguous and
  // row-major.
  absl::Span<const uint8_t> payload() const {
    return {payload_.get(), payload_size_};
  }
  absl::Span<uint8_t> mutable_payload() {
    return {payload_.get(), payload_size_};
  }

  // Sets every byte of sample `row` (in every tensor) to zero.
  void ZeroRow(int64_t row);
  // Copies sample `from_row` of `other` (same specs) into sample `to_row` of
  // this batch.
  void CopyRowFrom(const Batch& other, int64_t from_row, int64_t to_row);

  // MXNet's DataBatch fields.
  int64_t pad = 0;
  std::vector<uint64_t> index;  // Empty when the iterator has no sample ids.
  int64_t epoch = 0;
  int64_t sequence = 0;
  // The stream's position right after this batch (what a client saves to
  // resume after it).
  StreamPosition after;

 private:
  std::vector<TensorSpec> data_specs_;
  std::vector<TensorSpec> label_specs_;
  std::vector<size_t> data_offsets_;
  std::vector<size_t> label_offsets_;
  int64_t batch_size_ = 0;
  size_t payload_size_ = 0;
  // Shared so that a pooled buffer returns to its pool only when the last
  // reader lets go.
  std::shared_ptr<uint8_t> payload_;
};

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_BATCH_H_
