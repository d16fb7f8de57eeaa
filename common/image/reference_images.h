// File: common/image/reference_images.h
//
// Test support: the image records of the MXNet reference vectors
// (tests/testdata/mxnet-reference, cases f_images and g_png), read straight
// from the .rec bytes at the offsets MANIFEST.json gives, with what the
// manifest says each image decodes to. Deliberately independent of the
// project's RecordIO reader, so codec tests do not trust the code under test
// elsewhere. Also a SHA-256 helper (OpenSSL).
//
// testonly. Thread-safe (pure functions returning owned values).

#ifndef ITERD_COMMON_IMAGE_REFERENCE_IMAGES_H_
#define ITERD_COMMON_IMAGE_REFERENCE_IMAGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::image::testing {

struct ReferenceImage {
  std::string note;      // Manifest's description of the source photo.
  std::string record;    // The whole logical record (IRHeader + content).
  std::string content;   // The encoded image after the header and labels.
  std::string encoding;  // "jpeg" or "png".
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<float> labels;  // irheader.labels (flag > 0), else {label}.
  std::string pixels_rgb_sha256;
  std::vector<double> pixels_rgb_mean;  // One per channel.
};

// Directory holding the reference files, with a trailing slash: under
// $TEST_SRCDIR in a test, else relative to the runfiles working directory
// (bazel run).
std::string ReferenceDir();

// The records of case `case_name` ("f_images", "g_png") that carry an
// image. Errors name the file and record when the manifest and the .rec
// disagree (a record split into several chunks, a bad chunk header).
absl::StatusOr<std::vector<ReferenceImage>> LoadReferenceImages(
    absl::string_view case_name);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

}  // namespace iterd::image::testing

#endif  // ITERD_COMMON_IMAGE_REFERENCE_IMAGES_H_
