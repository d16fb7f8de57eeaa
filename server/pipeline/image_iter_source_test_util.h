// File: server/pipeline/image_iter_source_test_util.h
// Shared helpers of the ImageIterSource / OpenImageIter tests: the 20 JPEG
// records of tests/testdata/mxnet-reference/f_images.{rec,idx,lst} (keys,
// labels, bytes), options that read them, one-pass readers and an OpenCV-only
// reference of ImageIter's unaugmented pixels. Test-only; the functions are
// stateless and thread-compatible, results are owned by the caller.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_TEST_UTIL_H_
#define ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/pipeline/image_iter_source.h"

namespace iterd::pipeline::image_iter_testing {

// Height and width of every decoded sample.
inline constexpr int kHeight = 24;
inline constexpr int kWidth = 32;

// f_images keys in .idx / .lst order, and each key's label.
extern const std::vector<std::string> kIdxKeys;
extern const std::map<std::string, float> kLabelOfKey;

// Path of `name` under the runfiles' tests/testdata/mxnet-reference.
std::string Reference(const std::string& name);

// Path of `name` under TEST_TMPDIR.
std::string TempPath(const std::string& name);

void WriteFile(const std::string& path, const std::string& contents);

// The JPEG bytes of key `key` in f_images.rec.
std::string ImageBytes(const std::string& key);

// f_images.rec + .idx at kHeight x kWidth, seed 42.
ImageIterSourceOptions IndexedOptions();

// The source, or nullptr (and a test failure naming the status).
std::unique_ptr<ImageIterSource> MustCreate(ImageIterSourceOptions options);

// Every sample of one pass: labels (first label of each) and pixels.
struct Pass {
  std::vector<float> labels;
  std::vector<std::vector<float>> images;
};

Pass ReadPass(ImageIterSource* source, int64_t batch_size, int label_width = 1);

std::vector<float> LabelsOf(const std::vector<std::string>& keys);

// What ImageIter gives without random augmentation, computed with OpenCV
// alone: imdecode, RGB, resize_short(resize, bicubic), centre crop, CHW.
std::vector<float> OpenCvReference(const std::string& bytes, int resize);

double MaxDifference(const std::vector<float>& a, const std::vector<float>& b);

// A resolver that, like the daemon's, fails on a missing file.
absl::StatusOr<std::string> ResolveExisting(absl::string_view path);

}  // namespace iterd::pipeline::image_iter_testing

#endif  // ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_TEST_UTIL_H_
