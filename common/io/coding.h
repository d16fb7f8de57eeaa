// File: common/io/coding.h
//
// Little-endian fixed-width integers in byte buffers, decoded byte by byte so
// that they work on any alignment and never cast a struct over bytes (LevelDB's
// util/coding.h). Every iterd byte format (RecordIO, IRHeader, .npy, zip) is
// little-endian.

#ifndef ITERD_COMMON_IO_CODING_H_
#define ITERD_COMMON_IO_CODING_H_

#include <cstdint>
#include <cstring>

namespace iterd::io {

inline void EncodeFixed32(uint8_t* out, uint32_t value) {
  out[0] = static_cast<uint8_t>(value);
  out[1] = static_cast<uint8_t>(value >> 8);
  out[2] = static_cast<uint8_t>(value >> 16);
  out[3] = static_cast<uint8_t>(value >> 24);
}

inline void EncodeFixed64(uint8_t* out, uint64_t value) {
  EncodeFixed32(out, static_cast<uint32_t>(value));
  EncodeFixed32(out + 4, static_cast<uint32_t>(value >> 32));
}

inline uint16_t DecodeFixed16(const uint8_t* in) {
  return static_cast<uint16_t>(in[0] | (in[1] << 8));
}

inline uint32_t DecodeFixed32(const uint8_t* in) {
  return static_cast<uint32_t>(in[0]) | (static_cast<uint32_t>(in[1]) << 8) |
         (static_cast<uint32_t>(in[2]) << 16) |
         (static_cast<uint32_t>(in[3]) << 24);
}

inline uint64_t DecodeFixed64(const uint8_t* in) {
  return static_cast<uint64_t>(DecodeFixed32(in)) |
         (static_cast<uint64_t>(DecodeFixed32(in + 4)) << 32);
}

// IEEE-754 binary32, stored as its bit pattern.
inline void EncodeFloat32(uint8_t* out, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  EncodeFixed32(out, bits);
}

inline float DecodeFloat32(const uint8_t* in) {
  const uint32_t bits = DecodeFixed32(in);
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

}  // namespace iterd::io

#endif  // ITERD_COMMON_IO_CODING_H_
