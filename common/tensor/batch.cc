#include "common/tensor/batch.h"

#include <cstring>
#include <utility>

namespace iterd {

int64_t TensorSpec::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t TensorSpec::row_bytes() const {
  if (shape.empty() || shape[0] == 0) return 0;
  return byte_size() / shape[0];
}

size_t Batch::PayloadBytes(const std::vector<TensorSpec>& data,
                           const std::vector<TensorSpec>& label) {
  size_t bytes = 0;
  for (const TensorSpec& spec : data) bytes += spec.byte_size();
  for (const TensorSpec& spec : label) bytes += spec.byte_size();
  return bytes;
}

Batch::Batch(std::vector<TensorSpec> data, std::vector<TensorSpec> label)
    : Batch(std::move(data), std::move(label), nullptr) {}

Batch::Batch(std::vector<TensorSpec> data, std::vector<TensorSpec> label,
             PayloadPool* pool)
    : data_specs_(std::move(data)), label_specs_(std::move(label)) {
  size_t offset = 0;
  for (const TensorSpec& spec : data_specs_) {
    data_offsets_.push_back(offset);
    offset += spec.byte_size();
  }
  for (const TensorSpec& spec : label_specs_) {
    label_offsets_.push_back(offset);
    offset += spec.byte_size();
  }
  payload_size_ = offset;
  if (pool != nullptr) {
    payload_ = pool->Acquire();
  } else {
    // new uint8_t[n] (no "()") leaves the bytes uninitialised: every row is
    // written by the pipeline (or zeroed) before the batch is shared.
    payload_.reset(new uint8_t[payload_size_ > 0 ? payload_size_ : 1],
                   std::default_delete<uint8_t[]>());
  }
  if (!data_specs_.empty() && !data_specs_[0].shape.empty()) {
    batch_size_ = data_specs_[0].shape[0];
  }
}

void Batch::ZeroRow(int64_t row) {
  for (size_t i = 0; i < num_data(); ++i) {
    absl::Span<uint8_t> bytes = data(i).row(row);
    std::memset(bytes.data(), 0, bytes.size());
  }
  for (size_t i = 0; i < num_label(); ++i) {
    absl::Span<uint8_t> bytes = label(i).row(row);
    std::memset(bytes.data(), 0, bytes.size());
  }
}

void Batch::CopyRowFrom(const Batch& other, int64_t from_row, int64_t to_row) {
  Batch& source =
      const_cast<Batch&>(other);  // Read only: views are not const-typed.
  for (size_t i = 0; i < num_data(); ++i) {
    absl::Span<uint8_t> to = data(i).row(to_row);
    std::memcpy(to.data(), source.data(i).row(from_row).data(), to.size());
  }
  for (size_t i = 0; i < num_label(); ++i) {
    absl::Span<uint8_t> to = label(i).row(to_row);
    std::memcpy(to.data(), source.label(i).row(from_row).data(), to.size());
  }
}

}  // namespace iterd
