#include "common/recordio/irheader.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/io/coding.h"

namespace iterd::recordio {

std::string PackRecord(const IRHeader& header, absl::string_view payload) {
  const uint32_t flag = static_cast<uint32_t>(header.labels.size());
  std::string record(kIRHeaderBytes + 4 * size_t{flag} + payload.size(), '\0');
  auto* out = reinterpret_cast<uint8_t*>(record.data());
  io::EncodeFixed32(out, flag);
  io::EncodeFloat32(out + 4, flag > 0 ? 0.0f : header.label);
  io::EncodeFixed64(out + 8, header.id);
  io::EncodeFixed64(out + 16, header.id2);
  for (uint32_t i = 0; i < flag; ++i) {
    io::EncodeFloat32(out + kIRHeaderBytes + 4 * i, header.labels[i]);
  }
  if (!payload.empty()) {
    record.replace(kIRHeaderBytes + 4 * size_t{flag}, payload.size(),
                   payload.data(), payload.size());
  }
  return record;
}

absl::StatusOr<IRHeader> UnpackRecord(absl::string_view record,
                                      absl::string_view* payload) {
  if (record.size() < kIRHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("record of ", record.size(),
                     " bytes is shorter than the 24-byte IRHeader"));
  }
  const auto* in = reinterpret_cast<const uint8_t*>(record.data());
  IRHeader header;
  header.flag = io::DecodeFixed32(in);
  header.label = io::DecodeFloat32(in + 4);
  header.id = io::DecodeFixed64(in + 8);
  header.id2 = io::DecodeFixed64(in + 16);
  const uint64_t label_bytes = 4 * uint64_t{header.flag};
  if (label_bytes > record.size() - kIRHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("IRHeader flag ", header.flag, " needs ", label_bytes,
                     " label bytes, but the record has ",
                     record.size() - kIRHeaderBytes, " after its header"));
  }
  header.labels.resize(header.flag);
  for (uint32_t i = 0; i < header.flag; ++i) {
    header.labels[i] = io::DecodeFloat32(in + kIRHeaderBytes + 4 * i);
  }
  *payload = record.substr(kIRHeaderBytes + label_bytes);
  return header;
}

}  // namespace iterd::recordio
