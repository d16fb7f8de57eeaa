// File: common/recordio/irheader.h
//
// IRHeader: MXNet's image-record header, packed in front of each image record
// (mx.recordio.pack / unpack). 24 bytes, little-endian, no padding (Python
// struct 'IfQQ'):
//
//   offset 0   uint32   flag   number of float32 labels that follow (0 = scalar
//   label) offset 4   float32  label  the scalar label (written 0 when flag >
//   0) offset 8   uint64   id     image id (im2rec: the .lst index) offset 16
//   uint64   id2    high part of a 128-bit id; in practice 0 offset 24  float32
//   x flag  the label array, when flag > 0 then       the payload (encoded
//   image bytes)
//
// Pure functions; thread-safe.

#ifndef ITERD_COMMON_RECORDIO_IRHEADER_H_
#define ITERD_COMMON_RECORDIO_IRHEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::recordio {

inline constexpr size_t kIRHeaderBytes = 24;

struct IRHeader {
  // As stored. Pack() derives it from `labels` (MXNet's pack overwrites the
  // caller's flag).
  uint32_t flag = 0;
  float label = 0;
  uint64_t id = 0;
  uint64_t id2 = 0;
  // The label array (flag > 0). Empty means a scalar label in `label`.
  std::vector<float> labels;
};

// mx.recordio.pack: header + payload. With `labels` non-empty (even one
// element) flag becomes labels.size(), the label field 0 and the labels are
// inserted before the payload; otherwise flag is 0 and `label` is stored.
std::string PackRecord(const IRHeader& header, absl::string_view payload);

// mx.recordio.unpack: the header and a view of the payload inside `record`
// (valid while `record` is). DataLoss naming the sizes when the record is
// shorter than the header or its labels.
absl::StatusOr<IRHeader> UnpackRecord(absl::string_view record,
                                      absl::string_view* payload);

}  // namespace iterd::recordio

#endif  // ITERD_COMMON_RECORDIO_IRHEADER_H_
