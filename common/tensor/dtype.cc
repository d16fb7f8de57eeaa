#include "common/tensor/dtype.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace iterd {
namespace {

struct DTypeInfo {
  DType dtype;
  size_t size;
  absl::string_view name;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kFloat32, 4, "float32"}, {DType::kFloat64, 8, "float64"},
    {DType::kFloat16, 2, "float16"}, {DType::kUInt8, 1, "uint8"},
    {DType::kInt8, 1, "int8"},       {DType::kInt32, 4, "int32"},
    {DType::kInt64, 8, "int64"},
};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  return kDTypes[0];  // Unreachable: the table covers the enum.
}

}  // namespace

size_t DTypeSize(DType dtype) { return Info(dtype).size; }

absl::string_view DTypeName(DType dtype) { return Info(dtype).name; }

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype '", name,
      "' (expected float32, float64, float16, uint8, int8, int32 or int64)"));
}

}  // namespace iterd
