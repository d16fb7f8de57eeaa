#include "server/pipeline/image_record_ranges.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {

absl::Status CheckIntRange(absl::string_view field, int64_t value, int64_t lo,
                           int64_t hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be in [", lo, ", ", hi, "], got ", value));
}

absl::Status CheckFloatRange(absl::string_view field, double value, double lo,
                             double hi) {
  if (std::isfinite(value) && value >= lo && value <= hi) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": must be a finite number in [", lo, ", ", hi, "], got ", value));
}

namespace {

// The first failing `check` of the set fields of `ranges`.
template <typename Range, typename Check>
absl::Status CheckSetFields(absl::Span<const Range> ranges, Check check) {
  for (const Range& range : ranges) {
    if (!range.set) continue;
    ITERD_RETURN_IF_ERROR(check(range.field, range.value, range.lo, range.hi));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckIntRanges(absl::Span<const IntRange> ranges) {
  return CheckSetFields(ranges, CheckIntRange);
}

absl::Status CheckFloatRanges(absl::Span<const FloatRange> ranges) {
  return CheckSetFields(ranges, CheckFloatRange);
}

absl::Status CheckDivisor(absl::string_view field, double value, double limit) {
  if (value == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be zero (it divides)"));
  }
  return CheckFloatRange(field, value, -limit, limit);
}

absl::Status CheckImageBatchBytes(int64_t batch_size, int64_t channels,
                                  int64_t height, int64_t width,
                                  int64_t value_bytes, int64_t label_width,
                                  uint64_t max_batch_bytes) {
  // At most 2^20 * (4 * 2^16 * 2^16 * 4 + 2^16 * 4) < 2^57: no overflow.
  const uint64_t per_image =
      static_cast<uint64_t>(channels * height * width * value_bytes) +
      static_cast<uint64_t>(label_width) * sizeof(float);
  const uint64_t bytes = static_cast<uint64_t>(batch_size) * per_image;
  if (max_batch_bytes == 0 || bytes <= max_batch_bytes) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("data_shape (", channels, ", ", height, ", ", width,
                   ") and batch_size ", batch_size, " make batches of ", bytes,
                   " bytes, more than the daemon's limit of ", max_batch_bytes,
                   " bytes (limits.max_batch_bytes)"));
}

}  // namespace iterd::pipeline
