// File: common/recordio/recordio_format.h
//
// The MXNet/dmlc RecordIO byte format, in one place (iterd's LevelDB
// log_format.h). Reader and writer both include it; the prose is in
// docs/mxnet-compatibility.md and the reference's §1.
//
// A .rec file is a run of parts, each starting 4-byte aligned:
//
//   offset 0   uint32 LE  magic  0xCED7230A (bytes 0a 23 d7 ce)
//   offset 4   uint32 LE  lrec   (cflag << 29) | length
//   offset 8   length bytes of payload
//   then       (4 - length % 4) % 4 zero bytes of padding
//
// cflag: 0 = a whole record; 1 = first part of a split record, 2 = middle, 3 =
// last. A writer splits a record wherever its payload holds the magic at a
// 4-aligned offset, dropping those 4 bytes; the reader puts them back between
// parts. The magic's top three bits are 110 (6 > 3), so no valid lrec word
// equals the magic.

#ifndef ITERD_COMMON_RECORDIO_RECORDIO_FORMAT_H_
#define ITERD_COMMON_RECORDIO_RECORDIO_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace iterd::recordio {

inline constexpr uint32_t kMagic = 0xCED7230A;
inline constexpr size_t kPartHeaderBytes = 8;
inline constexpr size_t kAlignment = 4;
// Records (and parts) must be strictly smaller than 2^29 bytes: the length has
// 29 bits.
inline constexpr uint32_t kMaxRecordBytes = (1u << 29) - 1;
inline constexpr uint32_t kLengthMask = (1u << 29) - 1;

enum class CFlag : uint32_t {
  kFull = 0,
  kStart = 1,
  kMiddle = 2,
  kEnd = 3,
};

inline constexpr uint32_t EncodeLrec(CFlag cflag, uint32_t length) {
  return (static_cast<uint32_t>(cflag) << 29) | length;
}
inline constexpr uint32_t DecodeCFlag(uint32_t lrec) { return lrec >> 29; }
inline constexpr uint32_t DecodeLength(uint32_t lrec) {
  return lrec & kLengthMask;
}
// Payload bytes plus padding to the next 4-byte boundary.
inline constexpr uint64_t PaddedLength(uint64_t length) {
  return (length + 3) & ~uint64_t{3};
}

static_assert(DecodeCFlag(kMagic) > 3, "the magic must never parse as an lrec");

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_RECORDIO_FORMAT_H_
