#include "common/image/reference_images.h"

#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/io/coding.h"
#include "common/recordio/recordio_format.h"

namespace iterd::image::testing {
namespace {

uint32_t WordAt(const std::string& bytes, uint64_t offset) {
  return io::DecodeFixed32(
      reinterpret_cast<const uint8_t*>(bytes.data() + offset));
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

std::string ReferenceDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir != nullptr) {
    return absl::StrCat(srcdir, "/iterd/tests/testdata/mxnet-reference/");
  }
  return "tests/testdata/mxnet-reference/";
}

absl::StatusOr<std::vector<ReferenceImage>> LoadReferenceImages(
    absl::string_view case_name) {
  const std::string dir = ReferenceDir();
  absl::StatusOr<std::string> manifest_text =
      ReadWholeFile(dir + "MANIFEST.json");
  if (!manifest_text.ok()) return manifest_text.status();
  const nlohmann::json manifest = nlohmann::json::parse(*manifest_text);
  for (const nlohmann::json& test_case : manifest["cases"]) {
    if (test_case["name"].get<std::string>() != case_name) continue;
    const std::string rec_path = dir + test_case["rec"].get<std::string>();
    absl::StatusOr<std::string> rec = ReadWholeFile(rec_path);
    if (!rec.ok()) return rec.status();
    std::vector<ReferenceImage> images;
    for (const nlohmann::json& record : test_case["records"]) {
      if (!record.contains("image")) continue;
      const std::string where =
          absl::StrCat(rec_path, " record ", record["index"].get<int>());
      const nlohmann::json& parts = record["parts"];
      const uint64_t offset = record["offset"].get<uint64_t>();
      const uint64_t length = record["payload_len"].get<uint64_t>();
      if (parts.size() != 1 || parts[0]["cflag"].get<int>() != 0) {
        return absl::UnimplementedError(
            absl::StrCat(where, ": multi-chunk records are not handled"));
      }
      if (offset + recordio::kPartHeaderBytes + length > rec->size() ||
          WordAt(*rec, offset) != recordio::kMagic ||
          WordAt(*rec, offset + 4) !=
              recordio::EncodeLrec(recordio::CFlag::kFull, length)) {
        return absl::DataLossError(
            absl::StrCat(where, ": no chunk header at offset ", offset));
      }
      ReferenceImage image;
      image.record = rec->substr(offset + recordio::kPartHeaderBytes, length);
      const nlohmann::json& irheader = record["irheader"];
      image.content =
          image.record.substr(irheader["content_offset"].get<size_t>());
      if (irheader.contains("labels")) {
        image.labels = irheader["labels"].get<std::vector<float>>();
      } else {
        image.labels = {irheader["label"].get<float>()};
      }
      const nlohmann::json& info = record["image"];
      image.note = record.value("note", "");
      image.encoding = info["encoding"].get<std::string>();
      image.width = info["width"].get<int>();
      image.height = info["height"].get<int>();
      image.channels = info["channels"].get<int>();
      image.pixels_rgb_sha256 = info["pixels_rgb_sha256"].get<std::string>();
      image.pixels_rgb_mean =
          info["pixels_rgb_mean"].get<std::vector<double>>();
      images.push_back(std::move(image));
    }
    return images;
  }
  return absl::NotFoundError(
      absl::StrCat("no case \"", case_name, "\" in ", dir, "MANIFEST.json"));
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace iterd::image::testing
