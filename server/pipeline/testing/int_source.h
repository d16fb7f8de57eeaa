// File: server/pipeline/testing/int_source.h
//
// IntSource: an in-memory SampleSource over the samples 0..n-1 (one float32
// data value and one float32 label value = 10 * sample), for testing batching
// policies against MXNet's worked examples. StartEpoch(e) with shuffle reverses
// the order on odd epochs, which is enough to tell epochs apart.

#ifndef ITERD_SERVER_PIPELINE_TESTING_INT_SOURCE_H_
#define ITERD_SERVER_PIPELINE_TESTING_INT_SOURCE_H_

#include <cstdint>
#include <vector>

#include "server/pipeline/sample_source.h"

namespace iterd::pipeline::testing {

class IntSource final : public SampleSource {
 public:
  explicit IntSource(int64_t n, bool with_ids = false)
      : n_(n), with_ids_(with_ids) {
    data_specs_.push_back({DType::kFloat32, {}});
    label_specs_.push_back({DType::kFloat32, {}});
  }

  const std::vector<TensorSpec>& sample_data_specs() const override {
    return data_specs_;
  }
  const std::vector<TensorSpec>& sample_label_specs() const override {
    return label_specs_;
  }
  int64_t num_samples() const override { return n_; }
  bool has_sample_ids() const override { return with_ids_; }

  absl::Status ReadSample(Batch* batch, int64_t row, uint64_t* sample_id,
                          bool* end_of_pass) override {
    *end_of_pass = position_ >= n_;
    if (*end_of_pass) return absl::OkStatus();
    const int64_t sample = position_++;
    batch->data(0).data_as<float>()[row] = static_cast<float>(sample);
    batch->label(0).data_as<float>()[row] = static_cast<float>(10 * sample);
    *sample_id = static_cast<uint64_t>(sample);
    return absl::OkStatus();
  }
  absl::Status Rewind() override {
    position_ = 0;
    ++pass_;
    ++rewinds_;
    return absl::OkStatus();
  }
  absl::Status StartEpoch(int64_t epoch) override {
    position_ = 0;
    pass_ = 0;
    epoch_ = epoch;
    epochs_started_.push_back(epoch);
    return absl::OkStatus();
  }
  SourcePosition Tell() const override {
    return SourcePosition{epoch_, pass_, position_, {}};
  }
  absl::Status Seek(const SourcePosition& position) override {
    absl::Status valid = CheckSourcePosition(position, n_, 0);
    if (!valid.ok()) return valid;
    epoch_ = position.epoch;
    pass_ = position.pass;
    position_ = position.position;
    ++seeks_;
    return absl::OkStatus();
  }

  int rewinds() const { return rewinds_; }
  int seeks() const { return seeks_; }
  const std::vector<int64_t>& epochs_started() const { return epochs_started_; }

 private:
  const int64_t n_;
  const bool with_ids_;
  std::vector<TensorSpec> data_specs_;
  std::vector<TensorSpec> label_specs_;
  int64_t epoch_ = 0;
  int64_t pass_ = 0;
  int64_t position_ = 0;
  int rewinds_ = 0;
  int seeks_ = 0;
  std::vector<int64_t> epochs_started_;
};

}  // namespace iterd::pipeline::testing

#endif  // ITERD_SERVER_PIPELINE_TESTING_INT_SOURCE_H_
