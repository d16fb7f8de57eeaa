// libFuzzer target for IRHeader unpack/pack (common/recordio/irheader.h).
//
// UnpackRecord on the input either fails with DataLoss exactly when the input
// is shorter than the header plus its labels, or returns a header whose
// PackRecord with the payload reproduces the input byte for byte (with the
// scalar label field cleared when flag > 0, since pack writes 0 there). The
// other way round, a header built from the input packs and unpacks to itself.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/io/coding.h"
#include "common/recordio/irheader.h"
#include "tools/fuzz/fuzz_check.h"

namespace iterd::recordio {
namespace {

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

void CheckUnpack(absl::string_view input) {
  absl::string_view payload;
  absl::StatusOr<IRHeader> header = UnpackRecord(input, &payload);
  const auto* bytes = reinterpret_cast<const uint8_t*>(input.data());
  if (!header.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(header.status()), header.status().ToString());
    const bool too_short =
        input.size() < kIRHeaderBytes ||
        4 * uint64_t{io::DecodeFixed32(bytes)} > input.size() - kIRHeaderBytes;
    FUZZ_CHECK(too_short, absl::StrCat("rejected a well-formed record: ",
                                       header.status().ToString()));
    return;
  }
  FUZZ_CHECK(header->labels.size() == header->flag, "labels.size() != flag");
  FUZZ_CHECK(payload.data() ==
                     input.data() + kIRHeaderBytes + 4 * size_t{header->flag} &&
                 payload.data() + payload.size() == input.data() + input.size(),
             "payload is not the rest of the record");
  std::string expected(input);
  if (header->flag > 0) {
    std::memset(&expected[4], 0, 4);  // pack writes label 0 with labels.
  }
  const std::string packed = PackRecord(*header, payload);
  FUZZ_CHECK(
      packed == expected,
      absl::StrCat("PackRecord(UnpackRecord(x)) != x for flag ", header->flag));
}

void CheckPack(const uint8_t* data, size_t size) {
  FuzzedDataProvider provider(data, size);
  IRHeader header;
  header.label = provider.ConsumeFloatingPoint<float>();
  header.id = provider.ConsumeIntegral<uint64_t>();
  header.id2 = provider.ConsumeIntegral<uint64_t>();
  const size_t label_count = provider.ConsumeIntegralInRange<size_t>(0, 64);
  for (size_t i = 0; i < label_count; ++i) {
    header.labels.push_back(provider.ConsumeFloatingPoint<float>());
  }
  const std::string payload = provider.ConsumeRemainingBytesAsString();
  const std::string packed = PackRecord(header, payload);
  FUZZ_CHECK(packed.size() == kIRHeaderBytes + 4 * label_count + payload.size(),
             "packed size");
  absl::string_view unpacked_payload;
  absl::StatusOr<IRHeader> unpacked = UnpackRecord(packed, &unpacked_payload);
  FUZZ_CHECK(unpacked.ok(), unpacked.status().ToString());
  FUZZ_CHECK(unpacked->flag == label_count, "flag != number of labels");
  FUZZ_CHECK(unpacked->id == header.id && unpacked->id2 == header.id2, "ids");
  // Bit patterns, so that NaN labels compare too.
  FUZZ_CHECK(
      Bits(unpacked->label) == (label_count > 0 ? 0 : Bits(header.label)),
      "scalar label");
  FUZZ_CHECK(unpacked->labels.size() == label_count, "label count");
  for (size_t i = 0; i < label_count; ++i) {
    FUZZ_CHECK(Bits(unpacked->labels[i]) == Bits(header.labels[i]),
               absl::StrCat("label ", i));
  }
  FUZZ_CHECK(unpacked_payload == payload, "payload");
}

}  // namespace
}  // namespace iterd::recordio

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  iterd::recordio::CheckUnpack(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  iterd::recordio::CheckPack(data, size);
  return 0;
}
