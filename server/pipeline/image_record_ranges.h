// File: server/pipeline/image_record_ranges.h
//
// Range checks for the numeric fields of ImageRecordConfig and
// ImageIterConfig (the ranges are documented in pipeline.proto), shared by
// image_record_factory.cc and image_iter_factory.cc. Every value comes from a
// client: a check never computes with it before it is known to be in range,
// so a message shows the value as sent (never a wrapped or overflowed one).
// Internal to server/pipeline. Thread-safe free functions.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_RECORD_RANGES_H_
#define ITERD_SERVER_PIPELINE_IMAGE_RECORD_RANGES_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace iterd::pipeline {

// Largest data_shape height or width, batch_size, label_width.
inline constexpr int64_t kMaxImageSide = 65536;
inline constexpr int64_t kMaxImageBatchSize = int64_t{1} << 20;
inline constexpr int64_t kMaxLabelWidth = 65536;
// Largest resize (shorter edge), min_img_size and pad.
inline constexpr int64_t kMaxResize = 16384;
inline constexpr int64_t kMaxPad = 1024;
// Largest num_parts.
inline constexpr int64_t kMaxParts = int64_t{1} << 20;

// InvalidArgument "FIELD: must be in [LO, HI], got VALUE".
absl::Status CheckIntRange(absl::string_view field, int64_t value, int64_t lo,
                           int64_t hi);

// InvalidArgument "FIELD: must be a finite number in [LO, HI], got VALUE"
// (NaN and infinities fail).
absl::Status CheckFloatRange(absl::string_view field, double value, double lo,
                             double hi);

// One field's check for the table forms below; `set` false (an unset
// optional field) skips it.
struct IntRange {
  const char* field;
  bool set;
  int64_t value, lo, hi;
};
struct FloatRange {
  const char* field;
  bool set;
  double value, lo, hi;
};

// The first failing check of the table, or OK.
absl::Status CheckIntRanges(absl::Span<const IntRange> ranges);
absl::Status CheckFloatRanges(absl::Span<const FloatRange> ranges);

// As CheckFloatRange, and not zero (a divisor).
absl::Status CheckDivisor(absl::string_view field, double value, double limit);

// ResourceExhausted naming data_shape and batch_size when a batch of
// batch_size images of channels x height x width values of `value_bytes`
// each, plus label_width floats per image, exceeds `max_batch_bytes` (0 = no
// limit). REQUIRES: each argument already range-checked (the product fits in
// 64 bits).
absl::Status CheckImageBatchBytes(int64_t batch_size, int64_t channels,
                                  int64_t height, int64_t width,
                                  int64_t value_bytes, int64_t label_width,
                                  uint64_t max_batch_bytes);

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_RECORD_RANGES_H_
