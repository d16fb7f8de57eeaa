// File: common/image/augment/sample_writer.h
//
// SampleWriter: ImageRecordIter's batch writer (reference §10.2 step 11).
// Takes an augmented 8-bit image in OpenCV order (gray, BGR, BGRA) and writes
// one batch row: horizontal mirror (fixed or a coin draw), BGR(A) -> RGB(A),
// HWC -> CHW (or HWC for uint8 NHWC), and the dtype's normalisation:
//   float32: (p - mean[c]) * contrast / std[c] + illumination / std[c]
//   uint8:   p (raw)
//   int8:    saturate_int8(p - round(mean[c]))
// with mean[c] from the mean image (CHW, at the unflipped position) if one is
// given, else mean_r/g/b/a by output channel (gray uses mean_r and std_r).
// This is the daemon's hot loop: it writes straight into the row with no
// temporary image, one pass over the source per row.
//
// Thread-safety: immutable after Create; Write is const and may run on many
// threads at once. Does not own mean_image: it must outlive the writer.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_SAMPLE_WRITER_H_
#define ITERD_COMMON_IMAGE_AUGMENT_SAMPLE_WRITER_H_

#include <cstdint>
#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/random/engine.h"
#include "common/tensor/dtype.h"

namespace iterd::image {

struct SampleWriterParams {
  DType dtype = DType::kFloat32;  // kFloat32, kUInt8 or kInt8.
  bool nhwc = false;              // Only with kUInt8.
  int channels = 3;               // 1, 3 or 4 (data_shape[0]).
  float mean[4] = {0, 0, 0, 0};  // RGBA order (mean_r, mean_g, mean_b, mean_a).
  float std[4] = {1, 1, 1, 1};
  float scale = 1;
  bool mirror = false, rand_mirror = false;
  float max_random_contrast = 0, max_random_illumination = 0;
  // C*H*W floats (RGB(A) channel order, CHW) or nullptr; not owned.
  const float* mean_image = nullptr;
};

class SampleWriter final {
 public:
  // InvalidArgument naming the field: dtype not float32/uint8/int8, channels
  // not 1/3/4, nhwc without uint8, a zero std (float32), negative
  // max_random_contrast / max_random_illumination.
  static absl::StatusOr<SampleWriter> Create(const SampleWriterParams& params);

  // Draws (in this order): the mirror coin if rand_mirror; for non-uint8
  // output contrast = (1 + U(-mrc, mrc)) * scale and
  // illumination = U(-mri, mri) * scale. Then writes the row.
  // REQUIRES: image is H x W, 8-bit with `channels` channels; `row` holds
  // exactly C*H*W elements of dtype; a mean image has C*H*W floats.
  // InvalidArgument (never a crash) when the image or row do not match.
  absl::Status Write(const cv::Mat& image, random::Engine* rng,
                     absl::Span<uint8_t> row) const;

  const SampleWriterParams& params() const { return params_; }

 private:
  explicit SampleWriter(const SampleWriterParams& params) : params_(params) {}

  SampleWriterParams params_;
};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_SAMPLE_WRITER_H_
