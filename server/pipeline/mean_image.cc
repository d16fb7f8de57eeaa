#include "server/pipeline/mean_image.h"

#include <cmath>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/io/coding.h"
#include "common/io/mapped_file.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

// NDArray-list format (reference §4), little-endian.
constexpr uint64_t kListMagic = 0x112;
constexpr uint32_t kArrayMagicV2 = 0xF993FAC9;
constexpr int32_t kDenseStorage = 0;
constexpr int32_t kCpuDevice = 1;
constexpr int32_t kFloat32Flag = 0;
constexpr char kMeanKey[] = "mean_img";

// A bounds-checked little-endian cursor over the file's bytes.
class Cursor {
 public:
  Cursor(absl::string_view bytes, absl::string_view name)
      : bytes_(bytes), name_(name) {}

  absl::Status Need(size_t count, absl::string_view what) {
    if (bytes_.size() - offset_ >= count) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": file ends at byte ", bytes_.size(),
                     " inside the ", what, " (offset ", offset_, ")"));
  }
  absl::StatusOr<uint32_t> U32(absl::string_view what) {
    if (absl::Status need = Need(4, what); !need.ok()) return need;
    const uint32_t value = io::DecodeFixed32(Bytes());
    offset_ += 4;
    return value;
  }
  absl::StatusOr<uint64_t> U64(absl::string_view what) {
    if (absl::Status need = Need(8, what); !need.ok()) return need;
    const uint64_t value = io::DecodeFixed64(Bytes());
    offset_ += 8;
    return value;
  }
  const uint8_t* Bytes() const {
    return reinterpret_cast<const uint8_t*>(bytes_.data()) + offset_;
  }
  void Skip(size_t count) { offset_ += count; }
  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(
        name_, ": not a mean image (MXNet NDArray list): ", problem));
  }

 private:
  absl::string_view bytes_;
  absl::string_view name_;
  size_t offset_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<float>> ParseMeanImage(absl::string_view bytes,
                                                  absl::string_view name,
                                                  int channels, int height,
                                                  int width) {
  Cursor cursor(bytes, name);
  ITERD_ASSIGN_OR_RETURN(const auto list_magic, cursor.U64("list header"));
  if (list_magic != kListMagic) {
    return cursor.Error(absl::StrCat("list magic is 0x", absl::Hex(list_magic),
                                     ", expected 0x112"));
  }
  ITERD_ASSIGN_OR_RETURN(const auto reserved, cursor.U64("list header"));
  (void)reserved;
  ITERD_ASSIGN_OR_RETURN(const auto count, cursor.U64("array count"));
  if (count != 1) {
    return cursor.Error(
        absl::StrCat("holds ", count, " arrays, a mean image is exactly one"));
  }
  ITERD_ASSIGN_OR_RETURN(const auto array_magic, cursor.U32("array header"));
  if (array_magic != kArrayMagicV2) {
    return cursor.Error(absl::StrCat("array magic is 0x",
                                     absl::Hex(array_magic),
                                     ", expected 0xF993FAC9 (V2)"));
  }
  ITERD_ASSIGN_OR_RETURN(const auto storage, cursor.U32("array header"));
  if (static_cast<int32_t>(storage) != kDenseStorage) {
    return cursor.Error("the array is not dense");
  }
  ITERD_ASSIGN_OR_RETURN(const auto ndim, cursor.U32("shape"));
  const int64_t expected[3] = {channels, height, width};
  bool shape_ok = ndim == 3;
  std::string shape_text;
  for (uint32_t i = 0; i < ndim && i < 8; ++i) {
    ITERD_ASSIGN_OR_RETURN(const auto dim, cursor.U64("shape"));
    absl::StrAppend(&shape_text, i == 0 ? "" : ", ", static_cast<int64_t>(dim));
    if (i < 3 && static_cast<int64_t>(dim) != expected[i]) shape_ok = false;
  }
  if (!shape_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": mean image has shape (", shape_text, "), data_shape needs (",
        channels, ", ", height, ", ", width, ")"));
  }
  ITERD_ASSIGN_OR_RETURN(const auto device_type, cursor.U32("context"));
  ITERD_ASSIGN_OR_RETURN(const auto device_id, cursor.U32("context"));
  (void)device_type;
  (void)device_id;
  ITERD_ASSIGN_OR_RETURN(const auto type_flag, cursor.U32("dtype"));
  if (static_cast<int32_t>(type_flag) != kFloat32Flag) {
    return cursor.Error(absl::StrCat("dtype flag ", type_flag,
                                     "; only float32 (0) is supported"));
  }
  const size_t elements = static_cast<size_t>(channels) * height * width;
  if (absl::Status need = cursor.Need(elements * 4, "array data"); !need.ok()) {
    return need;
  }
  std::vector<float> values(elements);
  for (size_t i = 0; i < elements; ++i) {
    values[i] = io::DecodeFloat32(cursor.Bytes());
    cursor.Skip(4);
    // NaN or infinity would silently poison every batch normalised by it.
    if (!std::isfinite(values[i])) {
      return cursor.Error(absl::StrCat("value ", i, " of the mean is ",
                                       values[i], ", not a finite number"));
    }
  }
  return values;
}

absl::StatusOr<std::vector<float>> LoadMeanImage(const std::string& path,
                                                 int channels, int height,
                                                 int width) {
  absl::StatusOr<std::shared_ptr<const io::MappedFile>> file =
      io::MappedFile::Open(path);
  if (!file.ok()) return file.status();
  return ParseMeanImage((*file)->contents(), path, channels, height, width);
}

std::string EncodeMeanImage(absl::Span<const float> values, int channels,
                            int height, int width) {
  std::string out;
  auto put32 = [&out](uint32_t value) {
    uint8_t bytes[4];
    io::EncodeFixed32(bytes, value);
    out.append(reinterpret_cast<const char*>(bytes), 4);
  };
  auto put64 = [&out](uint64_t value) {
    uint8_t bytes[8];
    io::EncodeFixed64(bytes, value);
    out.append(reinterpret_cast<const char*>(bytes), 8);
  };
  put64(kListMagic);
  put64(0);
  put64(1);
  put32(kArrayMagicV2);
  put32(kDenseStorage);
  put32(3);
  put64(channels);
  put64(height);
  put64(width);
  put32(kCpuDevice);
  put32(0);
  put32(kFloat32Flag);
  for (float value : values) {
    uint8_t bytes[4];
    io::EncodeFloat32(bytes, value);
    out.append(reinterpret_cast<const char*>(bytes), 4);
  }
  put64(1);
  put64(sizeof(kMeanKey) - 1);
  out.append(kMeanKey);
  return out;
}

}  // namespace iterd::pipeline
