// File: common/tensor/npy_format.h
//
// The byte layout of NumPy's .npy format, in one place (like LevelDB's
// log_format.h), for the parser in npy.cc.
// Layout (integers little-endian):
//
//   offset  size  field
//   0       6     magic "\x93NUMPY"
//   6       1     major version: 1, 2 or 3
//   7       1     minor version: 0
//   8       2|4   header length H: uint16 in 1.0, uint32 in 2.0 and 3.0
//   10|12   H     header: a Python dict literal, ASCII (1.0, 2.0) or UTF-8
//                 (3.0), {'descr': '<f4', 'fortran_order': False,
//                 'shape': (3, 4), } padded with spaces and ended by '\n'
//   10+H|12+H     the elements (C order unless fortran_order)
//
// Version 2.0 exists only for headers over 65535 bytes, and 3.0 only for
// UTF-8 field names; both parse like 1.0 past the wider length field.
//
// Thread-safety: constants only. Ownership: none.

#ifndef ITERD_COMMON_TENSOR_NPY_FORMAT_H_
#define ITERD_COMMON_TENSOR_NPY_FORMAT_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/tensor/dtype.h"

namespace iterd::npy_format {

inline constexpr char kMagic[] = "\x93NUMPY";
inline constexpr size_t kMagicSize = 6;

inline constexpr size_t kMajorVersionOffset = 6;
inline constexpr size_t kMinorVersionOffset = 7;
inline constexpr size_t kHeaderLengthOffset = 8;
// Every supported version (1.0, 2.0, 3.0) has minor version 0.
inline constexpr int kMinorVersion = 0;

// Version 1.0: a uint16 header length, so the header starts at byte 10.
inline constexpr int kVersion1 = 1;
inline constexpr size_t kHeaderStartVersion1 = 10;
// Versions 2.0 and 3.0: a uint32 header length; the header starts at byte 12.
inline constexpr int kVersion2 = 2;
inline constexpr int kVersion3 = 3;
inline constexpr size_t kHeaderStartVersion2 = 12;

// The first character of a descr: the byte order. '=' (native) is little
// endian on every platform iterd runs on; '|' marks single-byte types.
inline constexpr char kLittleEndian = '<';
inline constexpr char kNotApplicable = '|';
inline constexpr char kNative = '=';
inline constexpr char kBigEndian = '>';
// A simple descr is the byte order followed by a two-character type code.
inline constexpr size_t kDescrSize = 3;

// Type codes (the descr without its byte order) iterd reads. 'b1' (bool) is
// one byte of 0 or 1, so it reads as uint8.
struct DescrCode {
  absl::string_view code;
  DType dtype;
};
inline constexpr DescrCode kDescrCodes[] = {
    {"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"f2", DType::kFloat16},
    {"u1", DType::kUInt8},   {"i1", DType::kInt8},    {"i4", DType::kInt32},
    {"i8", DType::kInt64},   {"b1", DType::kUInt8},
};

}  // namespace iterd::npy_format

#endif  // ITERD_COMMON_TENSOR_NPY_FORMAT_H_
