// Shared helpers of the ImageIterSource / OpenImageIter tests.

#include "server/pipeline/image_iter_source_test_util.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/recordio/index.h"
#include "common/recordio/irheader.h"
#include "gtest/gtest.h"

namespace iterd::pipeline::image_iter_testing {

const std::vector<std::string> kIdxKeys = {
    "7", "15", "19", "0",  "2",  "3",  "13", "9",  "10", "17",
    "1", "8",  "6",  "16", "11", "12", "5",  "18", "14", "4"};
const std::map<std::string, float> kLabelOfKey = {
    {"7", 2},  {"15", 0}, {"19", 4}, {"0", 0},  {"2", 2},  {"3", 3}, {"13", 3},
    {"9", 4},  {"10", 0}, {"17", 2}, {"1", 1},  {"8", 3},  {"6", 1}, {"16", 1},
    {"11", 1}, {"12", 2}, {"5", 0},  {"18", 3}, {"14", 4}, {"4", 4}};

std::string Reference(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/iterd/tests/testdata/mxnet-reference/", name);
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

// The JPEG bytes of key `key` in f_images.rec.
std::string ImageBytes(const std::string& key) {
  auto reader = recordio::IndexedReader::Open(Reference("f_images.rec"),
                                              Reference("f_images.idx"));
  EXPECT_TRUE(reader.ok());
  absl::string_view record;
  bool end = false;
  EXPECT_TRUE((*reader)->Read(key, &record, &end).ok());
  absl::string_view payload;
  EXPECT_TRUE(recordio::UnpackRecord(record, &payload).ok());
  return std::string(payload);
}

ImageIterSourceOptions IndexedOptions() {
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imgrec = Reference("f_images.rec");
  options.path_imgidx = Reference("f_images.idx");
  options.seed = 42;
  return options;
}

std::unique_ptr<ImageIterSource> MustCreate(ImageIterSourceOptions options) {
  auto source = ImageIterSource::Create(std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

Pass ReadPass(ImageIterSource* source, int64_t batch_size, int label_width) {
  std::vector<TensorSpec> data = {
      {DType::kFloat32, {batch_size, 3, kHeight, kWidth}}};
  std::vector<TensorSpec> label = {{DType::kFloat32, {batch_size}}};
  if (label_width > 1) label[0].shape.push_back(label_width);
  Batch batch(data, label);
  std::vector<uint64_t> ids(batch_size);
  Pass pass;
  bool end = false;
  while (!end) {
    int64_t filled = 0;
    absl::Status status =
        source->ReadSamples(&batch, 0, batch_size, ids.data(), &filled, &end);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok()) break;
    const float* labels = batch.label(0).data_as<float>();
    for (int64_t row = 0; row < filled; ++row) {
      pass.labels.push_back(labels[row * label_width]);
      const float* pixels =
          reinterpret_cast<const float*>(batch.data(0).row(row).data());
      pass.images.emplace_back(pixels, pixels + 3 * kHeight * kWidth);
    }
  }
  return pass;
}

std::vector<float> LabelsOf(const std::vector<std::string>& keys) {
  std::vector<float> labels;
  for (const std::string& key : keys) labels.push_back(kLabelOfKey.at(key));
  return labels;
}

std::vector<float> OpenCvReference(const std::string& bytes, int resize) {
  cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                  const_cast<char*>(bytes.data()));
  cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const int h = rgb.rows, w = rgb.cols;
  cv::Size size = h > w ? cv::Size(resize, resize * h / w)
                        : cv::Size(resize * w / h, resize);
  cv::Mat resized;
  cv::resize(rgb, resized, size, 0, 0, cv::INTER_CUBIC);
  const int x0 = (resized.cols - kWidth) / 2;
  const int y0 = (resized.rows - kHeight) / 2;
  cv::Mat crop = resized(cv::Rect(x0, y0, kWidth, kHeight));
  std::vector<float> chw(3 * kHeight * kWidth);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < kHeight; ++y) {
      for (int x = 0; x < kWidth; ++x) {
        chw[(c * kHeight + y) * kWidth + x] = crop.at<cv::Vec3b>(y, x)[c];
      }
    }
  }
  return chw;
}

double MaxDifference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return worst;
}

absl::StatusOr<std::string> ResolveExisting(absl::string_view path) {
  struct stat info;
  if (stat(std::string(path).c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  return std::string(path);
}

}  // namespace iterd::pipeline::image_iter_testing
