// File: server/pipeline/ndarray_source.h
//
// NDArraySource: the SampleSource of mx.io.NDArrayIter. It serves the rows
// (first-axis slices) of in-memory arrays (.npy/.npz mappings or uploads) one
// sample at a time, in epoch order; the Batcher on top applies batch_size and
// the last-batch policy (pad / discard / roll_over).
//
// MXNet semantics kept (docs/mxnet-semantics.md section 7): inputs sorted
// by name with a plain byte-wise sort ("_10_data" < "_1_data"); N is the first
// axis of the first sorted data array; NumPy inputs become `output_dtype`
// (float32 by default); with shuffle, every epoch permutes the previous order
// in place, so permutations compound as NDArrayIter's do. Deliberate fix: every
// array must have N rows (MXNet does not check and reads garbage).
//
// Ownership: holds the Arrays (and so their mappings/buffers) for its life.
// Thread-compatibility: one thread at a time, as every SampleSource.

#ifndef ITERD_SERVER_PIPELINE_NDARRAY_SOURCE_H_
#define ITERD_SERVER_PIPELINE_NDARRAY_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tensor/batch.h"
#include "common/tensor/dtype.h"
#include "common/tensor/npy.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

struct NamedArray {
  std::string name;  // MXNet's input name ("data", "_0_data", a dict key).
  Array array;       // First axis = samples. Not 0-d.
};

struct NDArraySourceOptions {
  std::vector<NamedArray> data;   // At least one.
  std::vector<NamedArray> label;  // May be empty.
  // A fresh permutation at every StartEpoch, derived from (seed, epoch).
  bool shuffle = false;
  uint64_t seed = 0;
  // Element type of every output tensor.
  DType output_dtype = DType::kFloat32;
  // Serve the contiguous range [k*ceil(N/P), min((k+1)*ceil(N/P), N)) where
  // P = num_parts >= 1 and k = part_index in [0, P).
  int num_parts = 1;
  int part_index = 0;
};

class NDArraySource final : public SampleSource {
 public:
  // Validates and sorts the inputs. InvalidArgument naming the array or field
  // for: no data arrays, a 0-d array, an array whose first axis is not N,
  // duplicate names, num_parts < 1, part_index outside [0, num_parts).
  static absl::StatusOr<std::unique_ptr<NDArraySource>> Create(
      NDArraySourceOptions options);

  NDArraySource(const NDArraySource&) = delete;
  NDArraySource& operator=(const NDArraySource&) = delete;

  // Input names in output order (sorted).
  const std::vector<std::string>& data_names() const { return data_names_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Original positions of this part's samples in the current epoch's order
  // (NDArrayIter.idx).
  const std::vector<int64_t>& current_order() const { return order_; }

  // SampleSource.
  const std::vector<TensorSpec>& sample_data_specs() const override {
    return sample_data_specs_;
  }
  const std::vector<TensorSpec>& sample_label_specs() const override {
    return sample_label_specs_;
  }
  int64_t num_samples() const override {
    return static_cast<int64_t>(order_.size());
  }
  bool has_sample_ids() const override { return false; }
  // Copies sample order_[position] of every array into row `row`, converting
  // to output_dtype. *sample_id = its original position in the arrays.
  absl::Status ReadSample(Batch* batch, int64_t row, uint64_t* sample_id,
                          bool* end_of_pass) override;
  absl::Status Rewind() override;
  // Epoch e's order is the part's samples permuted by (seed, e) alone (MXNet's
  // NDArrayIter permutes its already permuted arrays, which compounds; any
  // one epoch is as random here, and can be restored without its past).
  absl::Status StartEpoch(int64_t epoch) override;
  SourcePosition Tell() const override;
  absl::Status Seek(const SourcePosition& position) override;

 private:
  // One input: its array and the byte sizes of one of its samples.
  struct Input {
    Array array;
    size_t elements_per_sample = 0;
    size_t input_row_bytes = 0;
  };

  NDArraySource() = default;
  absl::Status CopyRow(const Input& input, int64_t sample, TensorView view,
                       int64_t row, absl::string_view what, size_t index) const;

  std::vector<std::string> data_names_;
  std::vector<std::string> label_names_;
  std::vector<Input> data_inputs_;
  std::vector<Input> label_inputs_;
  std::vector<TensorSpec> sample_data_specs_;
  std::vector<TensorSpec> sample_label_specs_;
  DType output_dtype_ = DType::kFloat32;
  bool shuffle_ = false;
  uint64_t seed_ = 0;
  int64_t part_begin_ = 0;  // The part's first sample.
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t pass_ = 0;
  size_t position_ = 0;
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_NDARRAY_SOURCE_H_
