#include "server/pipeline/image_record_source.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/concurrency/thread_pool.h"
#include "common/image/pack_img.h"
#include "common/recordio/irheader.h"
#include "common/recordio/reader.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr char kReferenceRec[] = "tests/testdata/mxnet-reference/f_images.rec";
constexpr char kReferenceIdx[] = "tests/testdata/mxnet-reference/f_images.idx";
constexpr char kReferenceLst[] = "tests/testdata/mxnet-reference/f_images.lst";

std::string TempPath(absl::string_view name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

// Everything a pass produced: rows' bytes, labels and ids, batch by batch.
struct EpochOutput {
  std::vector<std::string> data;  // One entry per row.
  std::vector<std::vector<float>> labels;
  std::vector<uint64_t> ids;
};

// Reads one whole pass of `source` in batches of `batch_size` rows.
EpochOutput ReadEpoch(ImageRecordSource* source, int64_t batch_size,
                      int64_t epoch) {
  EpochOutput out;
  EXPECT_TRUE(source->StartEpoch(epoch).ok());
  std::vector<TensorSpec> data_specs = source->sample_data_specs();
  std::vector<TensorSpec> label_specs = source->sample_label_specs();
  for (auto* specs : {&data_specs, &label_specs}) {
    for (TensorSpec& spec : *specs) {
      spec.shape.insert(spec.shape.begin(), batch_size);
    }
  }
  bool end_of_pass = false;
  while (!end_of_pass) {
    Batch batch(data_specs, label_specs);
    std::vector<uint64_t> ids(batch_size);
    int64_t filled = 0;
    const absl::Status status = source->ReadSamples(
        &batch, 0, batch_size, ids.data(), &filled, &end_of_pass);
    EXPECT_TRUE(status.ok()) << status;
    if (!status.ok()) break;
    for (int64_t row = 0; row < filled; ++row) {
      const absl::Span<uint8_t> data = batch.data(0).row(row);
      out.data.emplace_back(reinterpret_cast<const char*>(data.data()),
                            data.size());
      const absl::Span<uint8_t> label = batch.label(0).row(row);
      std::vector<float> labels(label.size() / sizeof(float));
      std::memcpy(labels.data(), label.data(), label.size());
      out.labels.push_back(std::move(labels));
      out.ids.push_back(ids[row]);
    }
  }
  return out;
}

ImageRecordSourceOptions Options(const std::string& rec, int c, int h, int w) {
  ImageRecordSourceOptions options;
  options.path_imgrec = rec;
  options.channels = c;
  options.height = h;
  options.width = w;
  options.seed_aug = 7;
  return options;
}

class ImageRecordSourceTest : public ::testing::Test {
 protected:
  std::unique_ptr<ImageRecordSource> Open(ImageRecordSourceOptions options) {
    auto source = ImageRecordSource::Create(std::move(options), &pool_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }
  ThreadPool pool_{2};
};

// Synthetic test images: a gradient tinted by `id`, so records differ.
cv::Mat TestImage(int id, int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b((x * 5 + id * 37) % 256, (y * 3 + id * 11) % 256,
                    (x + y + id * 53) % 256);
    }
  }
  return image;
}

struct WrittenRec {
  std::string rec;
  std::string idx;
  std::vector<uint64_t> offsets;
};

// `count` JPEG records, IRHeader id = i and label = i.
WrittenRec WriteImages(const std::string& stem, int count) {
  WrittenRec written;
  written.rec = TempPath(stem + ".rec");
  written.idx = TempPath(stem + ".idx");
  auto writer = recordio::IndexedRecordWriter::Create(written.rec, written.idx);
  EXPECT_TRUE(writer.ok());
  for (int i = 0; i < count; ++i) {
    recordio::IRHeader header;
    header.id = i;
    header.label = static_cast<float>(i);
    absl::StatusOr<std::string> record =
        image::PackImage(header, TestImage(i, 40 + i % 5, 30 + i % 3));
    EXPECT_TRUE(record.ok());
    written.offsets.push_back((*writer)->Tell());
    EXPECT_TRUE((*writer)->Write(absl::StrCat(i), *record).ok());
  }
  EXPECT_TRUE((*writer)->Close().ok());
  return written;
}

std::vector<float> Labels(const EpochOutput& out) {
  std::vector<float> labels;
  for (const auto& row : out.labels) labels.push_back(row[0]);
  return labels;
}

std::vector<float> Range(int count) {
  std::vector<float> values;
  for (int i = 0; i < count; ++i) values.push_back(static_cast<float>(i));
  return values;
}

// Mean absolute difference between every row of `out` (float32 RGB CHW,
// 224 x 224) and OpenCV's own decode, shorter edge to 256 with
// `interpolation(rows, cols)`, centre crop, BGR -> RGB. Also checks labels
// and ids against the record headers.
void ExpectMatchesOpenCv(const EpochOutput& out,
                         int (*interpolation)(int rows, int cols)) {
  auto reader = recordio::RecordReader::Open(kReferenceRec);
  ASSERT_TRUE(reader.ok());
  for (size_t i = 0; i < out.data.size(); ++i) {
    absl::string_view record;
    bool end = false;
    ASSERT_TRUE((*reader)->Next(&record, &end).ok());
    absl::string_view payload;
    absl::StatusOr<recordio::IRHeader> header =
        recordio::UnpackRecord(record, &payload);
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(out.labels[i][0], header->label);
    EXPECT_EQ(out.ids[i], header->id);
    const std::vector<uint8_t> bytes(payload.begin(), payload.end());
    cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_COLOR);
    const int rows = decoded.rows, cols = decoded.cols;
    cv::Size size = rows > cols ? cv::Size(256, 256 * rows / cols)
                                : cv::Size(256 * cols / rows, 256);
    cv::Mat resized;
    cv::resize(decoded, resized, size, 0, 0, interpolation(rows, cols));
    const int y = (resized.rows - 224) / 2, x = (resized.cols - 224) / 2;
    const cv::Mat crop = resized(cv::Rect(x, y, 224, 224));
    const float* row = reinterpret_cast<const float*>(out.data[i].data());
    double total = 0;
    for (int c = 0; c < 3; ++c) {
      for (int yy = 0; yy < 224; ++yy) {
        for (int xx = 0; xx < 224; ++xx) {
          const float expected = crop.at<cv::Vec3b>(yy, xx)[2 - c];
          total += std::fabs(row[(c * 224 + yy) * 224 + xx] - expected);
        }
      }
    }
    EXPECT_LT(total / (3 * 224 * 224), 1.5)
        << "record " << i << " (" << cols << "x" << rows << ")";
  }
}

TEST_F(ImageRecordSourceTest, PixelsMatchOpenCvDecodeResizeAndCentreCrop) {
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 224, 224);
  options.augmenter.resize = 256;
  options.jpeg_dct_scaling = false;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  const EpochOutput out = ReadEpoch(source.get(), 8, 0);
  ASSERT_EQ(out.data.size(), 20u);
  ExpectMatchesOpenCv(out, [](int, int) { return int{cv::INTER_LINEAR}; });
  const SourceStats stats = source->stats();
  EXPECT_EQ(stats.records_decoded, 20);
  EXPECT_EQ(stats.records_skipped, 0);
}

TEST_F(ImageRecordSourceTest,
       CropFirstDecodeMatchesTheFullDecodeWithinRounding) {
  // The same draws (random crop, mirror, brightness) either way; pixels differ
  // only by the window resampling's rounding.
  EpochOutput outputs[2];
  for (const bool crop_first : {false, true}) {
    ImageRecordSourceOptions options = Options(kReferenceRec, 3, 224, 224);
    options.augmenter.resize = 256;
    options.augmenter.rand_crop = true;
    options.augmenter.brightness = 0.3f;
    options.writer.rand_mirror = true;
    options.writer.dtype = DType::kUInt8;
    options.seed_aug = 9;
    options.jpeg_crop_first = crop_first;
    auto source = Open(options);
    ASSERT_NE(source, nullptr);
    outputs[crop_first] = ReadEpoch(source.get(), 8, 1);
    EXPECT_EQ(source->stats().records_skipped, 0);
  }
  ASSERT_EQ(outputs[0].data.size(), 20u);
  ASSERT_EQ(outputs[1].data.size(), 20u);
  EXPECT_EQ(outputs[0].ids, outputs[1].ids);
  int rows_resampled = 0;  // Crop-first ran (its rounding shows).
  for (size_t i = 0; i < outputs[0].data.size(); ++i) {
    const std::string& full = outputs[0].data[i];
    const std::string& crop = outputs[1].data[i];
    ASSERT_EQ(full.size(), crop.size());
    int64_t total = 0;
    int worst = 0;
    for (size_t k = 0; k < full.size(); ++k) {
      const int diff = std::abs(static_cast<uint8_t>(full[k]) -
                                static_cast<uint8_t>(crop[k]));
      total += diff;
      worst = std::max(worst, diff);
    }
    EXPECT_LT(static_cast<double>(total) / full.size(), 1.0) << "row " << i;
    EXPECT_LE(worst, 16) << "row " << i;
    rows_resampled += full != crop;
  }
  EXPECT_GT(rows_resampled, 10);
}

TEST_F(ImageRecordSourceTest, DctScaledJpegsMatchAnAntialiasedResize) {
  // Images whose shorter edge is >= 512 decode at 1/2 scale: the result is
  // a properly filtered downscale, so it matches INTER_AREA (OpenCV's bilinear
  // from full size aliases); the others take the plain path.
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 224, 224);
  options.augmenter.resize = 256;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  const EpochOutput out = ReadEpoch(source.get(), 8, 0);
  ASSERT_EQ(out.data.size(), 20u);
  ExpectMatchesOpenCv(out, [](int rows, int cols) {
    return std::min(rows, cols) >= 512 ? int{cv::INTER_AREA}
                                       : int{cv::INTER_LINEAR};
  });
}

TEST_F(ImageRecordSourceTest, Uint8NhwcRowsAreRawRgbPixels) {
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 32, 32);
  options.augmenter.resize = 40;
  options.writer.dtype = DType::kUInt8;
  options.writer.nhwc = true;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->sample_data_specs()[0].shape,
            (std::vector<int64_t>{32, 32, 3}));
  EXPECT_EQ(source->sample_data_specs()[0].dtype, DType::kUInt8);
  const EpochOutput out = ReadEpoch(source.get(), 5, 0);
  ASSERT_EQ(out.data.size(), 20u);
  EXPECT_EQ(out.data[0].size(), 32u * 32 * 3);
}

TEST_F(ImageRecordSourceTest, LabelsComeFromImglistById) {
  // A list giving every id of the reference file the label id * 10.
  const std::string lst = TempPath("times10.lst");
  {
    std::ofstream file(lst);
    for (int id = 0; id < 20; ++id) {
      file << id << "\t" << id * 10 << "\tx.jpg\n";
    }
  }
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 16, 16);
  options.augmenter.resize = 20;
  options.path_imglist = lst;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  const EpochOutput out = ReadEpoch(source.get(), 7, 0);
  ASSERT_EQ(out.ids.size(), 20u);
  for (size_t i = 0; i < out.ids.size(); ++i) {
    EXPECT_EQ(out.labels[i][0], static_cast<float>(out.ids[i] * 10));
  }
  // The reference list itself gives each record the label in its header.
  options.path_imglist = kReferenceLst;
  auto reference = Open(options);
  const EpochOutput with_lst = ReadEpoch(reference.get(), 7, 0);
  options.path_imglist.clear();
  auto headers = Open(options);
  EXPECT_EQ(with_lst.labels, ReadEpoch(headers.get(), 7, 0).labels);
}

TEST_F(ImageRecordSourceTest, IdMissingFromImglistIsAnError) {
  const std::string lst = TempPath("partial.lst");
  std::ofstream(lst) << "0\t1\ta.jpg\n";
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 16, 16);
  options.augmenter.resize = 20;
  options.path_imglist = lst;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->StartEpoch(0).ok());
  Batch batch({{DType::kFloat32, {4, 3, 16, 16}}}, {{DType::kFloat32, {4}}});
  std::vector<uint64_t> ids(4);
  int64_t filled = 0;
  bool end = false;
  const absl::Status status =
      source->ReadSamples(&batch, 0, 4, ids.data(), &filled, &end);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is not in path_imglist"));
}

TEST_F(ImageRecordSourceTest, ScalarLabelWithLabelWidthTwoIsAnError) {
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 16, 16);
  options.label_width = 2;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->sample_label_specs()[0].shape, std::vector<int64_t>{2});
  ASSERT_TRUE(source->StartEpoch(0).ok());
  Batch batch({{DType::kFloat32, {2, 3, 16, 16}}}, {{DType::kFloat32, {2, 2}}});
  std::vector<uint64_t> ids(2);
  int64_t filled = 0;
  bool end = false;
  const absl::Status status =
      source->ReadSamples(&batch, 0, 2, ids.data(), &filled, &end);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("label_width is 2"));
}

TEST_F(ImageRecordSourceTest, PartsHoldEveryRecordExactlyOncePerEpoch) {
  const WrittenRec written = WriteImages("parts", 29);
  for (bool indexed : {false, true}) {
    for (bool shuffle : {false, true}) {
      for (int num_parts = 1; num_parts <= 4; ++num_parts) {
        std::vector<float> all;
        for (int part = 0; part < num_parts; ++part) {
          ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
          if (indexed) options.path_imgidx = written.idx;
          options.num_parts = num_parts;
          options.part_index = part;
          options.shuffle = shuffle;
          auto source = Open(options);
          ASSERT_NE(source, nullptr);
          const std::vector<float> labels =
              Labels(ReadEpoch(source.get(), 4, 1));
          all.insert(all.end(), labels.begin(), labels.end());
        }
        EXPECT_THAT(all, UnorderedElementsAreArray(Range(29)))
            << "indexed " << indexed << " shuffle " << shuffle << " num_parts "
            << num_parts;
      }
    }
  }
}

TEST_F(ImageRecordSourceTest, ShuffleChangesTheOrderNotTheSet) {
  const WrittenRec written = WriteImages("shuffle", 24);
  for (bool indexed : {false, true}) {
    ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
    if (indexed) options.path_imgidx = written.idx;
    options.shuffle = true;
    options.seed = 3;
    auto source = Open(options);
    ASSERT_NE(source, nullptr);
    const std::vector<float> epoch0 = Labels(ReadEpoch(source.get(), 5, 0));
    const std::vector<float> epoch1 = Labels(ReadEpoch(source.get(), 5, 1));
    EXPECT_NE(epoch0, Range(24));
    EXPECT_NE(epoch0, epoch1);
    EXPECT_THAT(epoch0, UnorderedElementsAreArray(Range(24)));
    EXPECT_THAT(epoch1, UnorderedElementsAreArray(Range(24)));
  }
}

TEST_F(ImageRecordSourceTest, SameSeedGivesSameBytesWithOneAndTwoThreads) {
  const WrittenRec written = WriteImages("threads", 21);
  std::vector<EpochOutput> outputs;
  for (int threads : {1, 2}) {
    ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
    options.path_imgidx = written.idx;
    options.shuffle = true;
    options.preprocess_threads = threads;
    options.augmenter.rand_crop = true;
    options.augmenter.max_rotate_angle = 10;
    options.augmenter.brightness = 0.3f;
    options.writer.rand_mirror = true;
    options.writer.mean[0] = 120;
    auto source = Open(options);
    ASSERT_NE(source, nullptr);
    outputs.push_back(ReadEpoch(source.get(), 8, 2));
  }
  ASSERT_EQ(outputs[0].data.size(), 21u);
  EXPECT_EQ(outputs[0].data, outputs[1].data);
  EXPECT_EQ(outputs[0].labels, outputs[1].labels);
  // And another seed_aug changes the augmentation.
  ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
  options.path_imgidx = written.idx;
  options.shuffle = true;
  options.seed_aug = 8;
  options.augmenter.rand_crop = true;
  options.augmenter.max_rotate_angle = 10;
  options.augmenter.brightness = 0.3f;
  options.writer.rand_mirror = true;
  options.writer.mean[0] = 120;
  auto other = Open(options);
  EXPECT_NE(ReadEpoch(other.get(), 8, 2).data, outputs[0].data);
}

// Writes `count` good records with record `bad_jpeg` holding garbage instead
// of a JPEG, and breaks the magic of record `bad_framing`.
WrittenRec WriteCorrupt(const std::string& stem, int count, int bad_jpeg,
                        int bad_framing) {
  WrittenRec written;
  written.rec = TempPath(stem + ".rec");
  written.idx = TempPath(stem + ".idx");
  auto writer = recordio::IndexedRecordWriter::Create(written.rec, written.idx);
  EXPECT_TRUE(writer.ok());
  for (int i = 0; i < count; ++i) {
    recordio::IRHeader header;
    header.id = i;
    header.label = static_cast<float>(i);
    std::string record;
    if (i == bad_jpeg) {
      record = recordio::PackRecord(header, "\xFF\xD8\xFF\xE0garbage bytes");
    } else {
      record = *image::PackImage(header, TestImage(i, 32, 32));
    }
    written.offsets.push_back((*writer)->Tell());
    EXPECT_TRUE((*writer)->Write(absl::StrCat(i), record).ok());
  }
  EXPECT_TRUE((*writer)->Close().ok());
  std::fstream file(written.rec,
                    std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(written.offsets[bad_framing]);
  file.put('\x0b');
  return written;
}

TEST_F(ImageRecordSourceTest, CorruptRecordsAreSkippedCountedAndReplaced) {
  const WrittenRec written = WriteCorrupt("corrupt", 12, 3, 7);
  for (bool indexed : {false, true}) {
    ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
    if (indexed) options.path_imgidx = written.idx;
    auto source = Open(options);
    ASSERT_NE(source, nullptr);
    ASSERT_TRUE(source->StartEpoch(0).ok());
    Batch batch({{DType::kFloat32, {5, 3, 24, 24}}}, {{DType::kFloat32, {5}}});
    std::vector<uint64_t> ids(5);
    int64_t filled = 0;
    bool end = false;
    std::vector<float> labels;
    for (int b = 0; b < 2; ++b) {
      ASSERT_TRUE(
          source->ReadSamples(&batch, 0, 5, ids.data(), &filled, &end).ok());
      EXPECT_EQ(filled, 5) << "the batch stays full";
      for (int row = 0; row < filled; ++row) {
        labels.push_back(batch.label(0).data_as<float>()[row]);
      }
    }
    ASSERT_TRUE(
        source->ReadSamples(&batch, 0, 5, ids.data(), &filled, &end).ok());
    EXPECT_EQ(filled, 0);
    EXPECT_TRUE(end);
    EXPECT_EQ(labels, (std::vector<float>{0, 1, 2, 4, 5, 6, 8, 9, 10, 11}));
    const SourceStats stats = source->stats();
    EXPECT_EQ(stats.records_skipped, 2) << "indexed " << indexed;
    EXPECT_EQ(stats.records_decoded, 10);
    ASSERT_EQ(stats.skipped_examples.size(), 2u);
    for (const std::string& example : stats.skipped_examples) {
      EXPECT_THAT(example, HasSubstr(written.rec + ":"));
    }
    EXPECT_THAT(stats.skipped_examples[indexed ? 0 : 1],
                HasSubstr(absl::StrCat(written.rec, ":", written.offsets[3])));
  }
}

TEST_F(ImageRecordSourceTest, FailPolicyGivesDataLossNamingFileAndOffset) {
  const WrittenRec written = WriteCorrupt("fail", 8, 2, 6);
  ImageRecordSourceOptions options = Options(written.rec, 3, 24, 24);
  options.fail_on_bad_record = true;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->StartEpoch(0).ok());
  Batch batch({{DType::kFloat32, {4, 3, 24, 24}}}, {{DType::kFloat32, {4}}});
  std::vector<uint64_t> ids(4);
  int64_t filled = 0;
  bool end = false;
  const absl::Status status =
      source->ReadSamples(&batch, 0, 4, ids.data(), &filled, &end);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(),
              HasSubstr(absl::StrCat(written.rec, ":", written.offsets[2])));
}

TEST_F(ImageRecordSourceTest, FourChannelsNeedAnImageWithAlpha) {
  ImageRecordSourceOptions options = Options(kReferenceRec, 4, 16, 16);
  options.fail_on_bad_record = true;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->StartEpoch(0).ok());
  Batch batch({{DType::kFloat32, {1, 4, 16, 16}}}, {{DType::kFloat32, {1}}});
  uint64_t id = 0;
  int64_t filled = 0;
  bool end = false;
  const absl::Status status =
      source->ReadSamples(&batch, 0, 1, &id, &filled, &end);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("needs 4"));
}

TEST_F(ImageRecordSourceTest, GrayscaleOutputHasOneChannel) {
  ImageRecordSourceOptions options = Options(kReferenceRec, 1, 20, 20);
  options.augmenter.resize = 24;
  options.path_imgidx = kReferenceIdx;
  auto source = Open(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->num_samples(), 20);
  const EpochOutput out = ReadEpoch(source.get(), 6, 0);
  ASSERT_EQ(out.data.size(), 20u);
  EXPECT_EQ(out.data[0].size(), 20u * 20 * sizeof(float));
}

TEST_F(ImageRecordSourceTest, MissingRecFileIsNotFoundNamingThePath) {
  auto source =
      ImageRecordSource::Create(Options(TempPath("nope.rec"), 3, 8, 8), &pool_);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr("nope.rec"));
}

TEST_F(ImageRecordSourceTest, BadOptionsAreInvalidArgument) {
  EXPECT_EQ(ImageRecordSource::Create(Options(kReferenceRec, 2, 8, 8), &pool_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  ImageRecordSourceOptions options = Options(kReferenceRec, 3, 8, 8);
  options.mean_image.assign(10, 0.0f);
  auto source = ImageRecordSource::Create(options, &pool_);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("mean_img"));
}

}  // namespace
}  // namespace iterd::pipeline
