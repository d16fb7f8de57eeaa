// File: common/tensor/dtype.h
//
// Element types of iterd tensors, their sizes and names. Values are
// little-endian in memory and on the wire (every supported platform is
// little-endian).

#ifndef ITERD_COMMON_TENSOR_DTYPE_H_
#define ITERD_COMMON_TENSOR_DTYPE_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd {

enum class DType {
  kFloat32,
  kFloat64,
  kFloat16,
  kUInt8,
  kInt8,
  kInt32,
  kInt64,
};

// Bytes per element.
size_t DTypeSize(DType dtype);

// NumPy's name: "float32", "uint8", ...
absl::string_view DTypeName(DType dtype);

// Parses a NumPy name ("float32", "int64", ...). InvalidArgument for anything
// else.
absl::StatusOr<DType> ParseDType(absl::string_view name);

}  // namespace iterd

#endif  // ITERD_COMMON_TENSOR_DTYPE_H_
