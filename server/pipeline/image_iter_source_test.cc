// ImageIterSource and OpenImageIter against MXNet's ImageIter
// (docs/mxnet-io-reference.md section 11), on the 20 JPEG records of
// tests/testdata/mxnet-reference/f_images.{rec,idx,lst}.

#include "server/pipeline/image_iter_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/concurrency/thread_pool.h"
#include "common/recordio/index.h"
#include "common/recordio/irheader.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iterd/v1/pipeline.pb.h"
#include "server/pipeline/image_iter_factory.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

constexpr int kHeight = 24;
constexpr int kWidth = 32;

// f_images keys in .idx / .lst order, and each key's label.
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

// Every sample of one pass: labels (first label of each) and pixels.
struct Pass {
  std::vector<float> labels;
  std::vector<std::vector<float>> images;
};

Pass ReadPass(ImageIterSource* source, int64_t batch_size,
              int label_width = 1) {
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

// What ImageIter gives without random augmentation, computed with OpenCV
// alone: imdecode, RGB, resize_short(resize, bicubic), centre crop, CHW.
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

TEST(ImageIterSourceTest, IndexedRecordFollowsTheIdxKeysWithHeaderLabels) {
  auto source = MustCreate(IndexedOptions());
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->num_samples(), 20);
  EXPECT_EQ(source->current_keys(), kIdxKeys);
  Pass pass = ReadPass(source.get(), 6);
  EXPECT_EQ(pass.labels, LabelsOf(kIdxKeys));
  EXPECT_EQ(source->stats().records_decoded, 20);
}

TEST(ImageIterSourceTest, SequentialRecordReadsTheFileInOrder) {
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imgidx.clear();
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->num_samples(), -1);
  Pass pass = ReadPass(source.get(), 7);
  EXPECT_EQ(pass.labels, LabelsOf(kIdxKeys));
  ASSERT_TRUE(source->Rewind().ok());
  EXPECT_EQ(ReadPass(source.get(), 20).labels, LabelsOf(kIdxKeys));
}

TEST(ImageIterSourceTest, ListWithRecordTakesImagesByKeyAndLabelsFromTheList) {
  // A .lst in its own order, labels 100 + key.
  const std::string lst = TempPath("relabelled.lst");
  WriteFile(lst, "3\t103\tx.jpg\n\n12\t112\ty.jpg\n0\t100\tz.jpg\n");
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imglist = lst;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->current_keys(), ElementsAre("3", "12", "0"));
  Pass pass = ReadPass(source.get(), 3);
  EXPECT_THAT(pass.labels, ElementsAre(103, 112, 100));
  ASSERT_EQ(pass.images.size(), 3u);
  EXPECT_LT(
      MaxDifference(pass.images[1], OpenCvReference(ImageBytes("12"), 40)),
      2.0);
}

TEST(ImageIterSourceTest, InlineListKeysAreOneBased) {
  ImageIterSourceOptions options = IndexedOptions();
  options.imglist = {{{7}, "a.jpg"}, {{8}, "b.jpg"}};
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->current_keys(), ElementsAre("1", "2"));
  EXPECT_THAT(ReadPass(source.get(), 2).labels, ElementsAre(7, 8));
}

// Writes keys' images as .jpg files under TEST_TMPDIR/<root> plus a .lst.
std::string WriteImageFolder(const std::string& root,
                             const std::vector<std::string>& keys) {
  const std::string dir = TempPath(root);
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/class").c_str(), 0755);
  std::string lst;
  for (const std::string& key : keys) {
    WriteFile(absl::StrCat(dir, "/class/img", key, ".jpg"), ImageBytes(key));
    absl::StrAppend(&lst, key, "\t", kLabelOfKey.at(key), "\tclass/img", key,
                    ".jpg\n");
  }
  WriteFile(dir + "/images.lst", lst);
  return dir;
}

// A resolver that, like the daemon's, fails on a missing file.
absl::StatusOr<std::string> ResolveExisting(absl::string_view path) {
  struct stat info;
  if (stat(std::string(path).c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  return std::string(path);
}

TEST(ImageIterSourceTest, ImageListReadsFilesUnderPathRoot) {
  const std::vector<std::string> keys = {"9", "1", "16", "4"};
  const std::string dir = WriteImageFolder("folder", keys);
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->current_keys(), keys);
  Pass pass = ReadPass(source.get(), 3);
  EXPECT_EQ(pass.labels, LabelsOf(keys));
  ASSERT_EQ(pass.images.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_LT(
        MaxDifference(pass.images[i], OpenCvReference(ImageBytes(keys[i]), 40)),
        2.0)
        << "key " << keys[i];
  }
}

TEST(ImageIterSourceTest, WithoutAugmentationPixelsMatchOpenCV) {
  ImageIterSourceOptions options = IndexedOptions();
  options.augmenter.resize = 36;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  Pass pass = ReadPass(source.get(), 5);
  ASSERT_EQ(pass.images.size(), 20u);
  for (size_t i = 0; i < kIdxKeys.size(); ++i) {
    const std::vector<float> expected =
        OpenCvReference(ImageBytes(kIdxKeys[i]), 36);
    double total = 0;
    for (size_t p = 0; p < expected.size(); ++p) {
      total += std::fabs(pass.images[i][p] - expected[p]);
    }
    EXPECT_LT(MaxDifference(pass.images[i], expected), 2.0)
        << "key " << kIdxKeys[i];
    EXPECT_LT(total / expected.size(), 0.1) << "key " << kIdxKeys[i];
  }
}

TEST(ImageIterSourceTest, MissingListedImageFailsTheOpenNamingIt) {
  const std::string dir = WriteImageFolder("missing", {"2"});
  WriteFile(dir + "/images.lst",
            "2\t2\tclass/img2.jpg\n5\t0\tclass/gone.jpg\n");
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  auto source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr("class/gone.jpg"));
}

TEST(ImageIterSourceTest, ListedFifoIsSkippedAndCountedWithoutBlocking) {
  // A FIFO exists, so it passes the resolver like any file; reading it on a
  // pool thread must not wait for a writer. Under the skip policy it counts as
  // one bad image whose reason says it is not a regular file.
  const std::string dir = WriteImageFolder("fifo", {"9", "1"});
  const std::string fifo = dir + "/class/pipe.jpg";
  unlink(fifo.c_str());  // Left by an earlier run in the same TEST_TMPDIR.
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteFile(dir + "/images.lst",
            "9\t4\tclass/img9.jpg\n3\t3\tclass/pipe.jpg\n"
            "1\t1\tclass/img1.jpg\n");
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(ReadPass(source.get(), 2).labels, ElementsAre(4, 1));
  const SourceStats stats = source->stats();
  EXPECT_EQ(stats.records_decoded, 2);
  EXPECT_EQ(stats.records_skipped, 1);
  ASSERT_EQ(stats.skipped_examples.size(), 1u);
  EXPECT_THAT(stats.skipped_examples[0], HasSubstr("class/pipe.jpg"));
  EXPECT_THAT(stats.skipped_examples[0], HasSubstr("is not a regular file"));
}

TEST(ImageIterSourceTest, BadListLinesNameTheFileAndLine) {
  const std::string lst = TempPath("bad.lst");
  WriteFile(lst, "1\t1\ta.jpg\nx\t1\tb.jpg\n");
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imglist = lst;
  auto source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("bad.lst:2"));

  WriteFile(lst, "1\t1\ta.jpg\n");
  options.label_width = 2;
  source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(),
              HasSubstr("bad.lst:1: 1 labels, but label_width is 2"));

  WriteFile(lst, "99\t1\ta.jpg\n");
  options.label_width = 1;
  source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("key 99 is not in"));
}

TEST(ImageIterSourceTest, PartsSplitTheKeysLeavingTheRemainderOut) {
  // N = 20, 3 parts: Cp = 6, keys [0,6) [6,12) [12,18); the last 2 unused.
  std::vector<std::string> seen;
  for (int part = 0; part < 3; ++part) {
    ImageIterSourceOptions options = IndexedOptions();
    options.num_parts = 3;
    options.part_index = part;
    auto source = MustCreate(options);
    ASSERT_NE(source, nullptr);
    const std::vector<std::string> keys = source->current_keys();
    EXPECT_EQ(keys, std::vector<std::string>(kIdxKeys.begin() + 6 * part,
                                             kIdxKeys.begin() + 6 * part + 6));
    EXPECT_EQ(ReadPass(source.get(), 4).labels, LabelsOf(keys));
    seen.insert(seen.end(), keys.begin(), keys.end());
  }
  EXPECT_THAT(seen, UnorderedElementsAreArray(std::vector<std::string>(
                        kIdxKeys.begin(), kIdxKeys.begin() + 18)));
}

TEST(ImageIterSourceTest, ShuffleDrawsANewPermutationEveryEpoch) {
  ImageIterSourceOptions options = IndexedOptions();
  options.shuffle = true;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  const std::vector<std::string> epoch0 = source->current_keys();
  EXPECT_THAT(epoch0, UnorderedElementsAreArray(kIdxKeys));
  EXPECT_NE(epoch0, kIdxKeys);
  EXPECT_EQ(ReadPass(source.get(), 8).labels, LabelsOf(epoch0));
  ASSERT_TRUE(source->StartEpoch(1).ok());
  const std::vector<std::string> epoch1 = source->current_keys();
  EXPECT_THAT(epoch1, UnorderedElementsAreArray(kIdxKeys));
  EXPECT_NE(epoch1, epoch0);
  EXPECT_EQ(ReadPass(source.get(), 8).labels, LabelsOf(epoch1));
  // The same seed replays the same order; another seed does not.
  auto again = MustCreate(options);
  EXPECT_EQ(again->current_keys(), epoch0);
  options.seed = 43;
  EXPECT_NE(MustCreate(options)->current_keys(), epoch0);
}

TEST(ImageIterSourceTest, OutputIsTheSameWithOneAndTwoThreads) {
  std::vector<Pass> passes;
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    ImageIterSourceOptions options = IndexedOptions();
    options.shuffle = true;
    options.augmenter.resize = 40;
    options.augmenter.rand_crop = true;
    options.augmenter.rand_mirror = true;
    options.augmenter.brightness = 0.3f;
    options.pool = &pool;
    options.parallelism = threads;
    auto source = MustCreate(options);
    ASSERT_NE(source, nullptr);
    for (int epoch = 0; epoch < 2; ++epoch) {
      ASSERT_TRUE(source->StartEpoch(epoch).ok());
      passes.push_back(ReadPass(source.get(), 6));
    }
  }
  ASSERT_EQ(passes.size(), 4u);
  for (int epoch = 0; epoch < 2; ++epoch) {
    EXPECT_EQ(passes[epoch].labels, passes[2 + epoch].labels);
    EXPECT_TRUE(passes[epoch].images == passes[2 + epoch].images)
        << "epoch " << epoch;
  }
  // Augmentation draws differ between epochs.
  EXPECT_FALSE(passes[0].images == passes[1].images);
}

// f_images records 0..4 rewritten with record 2's image replaced by bytes
// that are not an image.
void WriteRecordsWithABrokenImage(const std::string& rec,
                                  const std::string& idx) {
  auto writer = recordio::IndexedRecordWriter::Create(rec, idx);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 5; ++i) {
    const std::string& key = kIdxKeys[i];
    recordio::IRHeader header;
    header.label = kLabelOfKey.at(key);
    const std::string payload =
        i == 2 ? std::string("\xff\xd8 not really a jpeg") : ImageBytes(key);
    ASSERT_TRUE(
        (*writer)->Write(key, recordio::PackRecord(header, payload)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

TEST(ImageIterSourceTest, BrokenImageIsSkippedAndCountedKeepingBatchesFull) {
  const std::string rec = TempPath("broken.rec");
  const std::string idx = TempPath("broken.idx");
  WriteRecordsWithABrokenImage(rec, idx);
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imgrec = rec;
  options.path_imgidx = idx;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  Pass pass = ReadPass(source.get(), 4);
  // One full batch of the 4 good images: keys 7, 15, 0, 2.
  EXPECT_THAT(pass.labels, ElementsAre(2, 0, 0, 2));
  const SourceStats stats = source->stats();
  EXPECT_EQ(stats.records_decoded, 4);
  EXPECT_EQ(stats.records_skipped, 1);
  ASSERT_EQ(stats.skipped_examples.size(), 1u);
  EXPECT_THAT(stats.skipped_examples[0], HasSubstr("broken.rec: key 19"));

  // Read sequentially (no .idx) the same record is skipped too.
  options.path_imgidx.clear();
  source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(ReadPass(source.get(), 4).labels, ElementsAre(2, 0, 0, 2));
  EXPECT_EQ(source->stats().records_skipped, 1);
}

TEST(ImageIterSourceTest, BrokenImageIsDataLossUnderTheFailPolicy) {
  const std::string rec = TempPath("broken_fail.rec");
  const std::string idx = TempPath("broken_fail.idx");
  WriteRecordsWithABrokenImage(rec, idx);
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imgrec = rec;
  options.path_imgidx = idx;
  options.fail_on_bad_image = true;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  Batch batch({{DType::kFloat32, {4, 3, kHeight, kWidth}}},
              {{DType::kFloat32, {4}}});
  std::vector<uint64_t> ids(4);
  int64_t filled = 0;
  bool end = false;
  absl::Status status =
      source->ReadSamples(&batch, 0, 4, ids.data(), &filled, &end);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("broken image"));
  EXPECT_THAT(status.message(), HasSubstr("broken_fail.rec: key 19"));
}

TEST(ImageIterSourceTest, ReadSampleFillsOneRow) {
  auto source = MustCreate(IndexedOptions());
  ASSERT_NE(source, nullptr);
  Batch batch({{DType::kFloat32, {2, 3, kHeight, kWidth}}},
              {{DType::kFloat32, {2}}});
  uint64_t id = 0;
  bool end = false;
  ASSERT_TRUE(source->ReadSample(&batch, 1, &id, &end).ok());
  EXPECT_FALSE(end);
  EXPECT_EQ(batch.label(0).data_as<float>()[1], 2);  // Key 7.
}

// --- OpenImageIter / ValidateImageIter.

v1::PipelineConfig ValidConfig() {
  v1::PipelineConfig config;
  v1::ImageIterConfig* image_iter = config.mutable_image_iter();
  image_iter->set_batch_size(4);
  for (int64_t dim : {3, kHeight, kWidth}) image_iter->add_data_shape(dim);
  image_iter->set_path_imgrec(Reference("f_images.rec"));
  image_iter->set_path_imgidx(Reference("f_images.idx"));
  return config;
}

std::string ValidationError(
    const std::function<void(v1::ImageIterConfig*)>& edit) {
  v1::PipelineConfig config = ValidConfig();
  edit(config.mutable_image_iter());
  return std::string(ValidateImageIter(config.image_iter()).message());
}

TEST(ImageIterFactoryTest, ValidationErrorsNameTheField) {
  EXPECT_EQ(ValidationError([](v1::ImageIterConfig*) {}), "");
  EXPECT_THAT(ValidationError([](auto* c) { c->set_data_shape(0, 1); }),
              HasSubstr("image_iter.data_shape"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_batch_size(0); }),
              HasSubstr("image_iter.batch_size"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_label_width(0); }),
              HasSubstr("image_iter.label_width"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->clear_path_imgrec();
                c->clear_path_imgidx();
              }),
              HasSubstr("image_iter.path_imgrec"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->clear_path_imgidx();
                c->set_shuffle(true);
              }),
              HasSubstr("image_iter.path_imgidx"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->set_num_parts(2);
                c->set_part_index(2);
              }),
              HasSubstr("image_iter.part_index"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_rand_resize(true); }),
              HasSubstr("image_iter.rand_resize"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->add_mean(1);
                c->add_mean(2);
              }),
              HasSubstr("image_iter.mean"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_inter_method(5); }),
              HasSubstr("image_iter.inter_method"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_rand_gray(1.5f); }),
              HasSubstr("image_iter.rand_gray"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_brightness(-1); }),
              HasSubstr("image_iter.brightness"));
}

PipelineEnvironment TestEnvironment(ThreadPool* pool) {
  PipelineEnvironment environment;
  environment.resolve_path = ResolveExisting;
  environment.pool = pool;
  return environment;
}

TEST(ImageIterFactoryTest, OpenedPipelineServesFloatBatchesWithPad) {
  ThreadPool pool(2);
  v1::PipelineConfig config = ValidConfig();
  config.mutable_image_iter()->set_batch_size(6);
  config.mutable_image_iter()->set_resize(36);
  config.mutable_image_iter()->set_seed(5);
  auto opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ(opened->provide_data.size(), 1u);
  EXPECT_EQ(opened->provide_data[0].name(), "data");
  EXPECT_THAT(opened->provide_data[0].shape(),
              ElementsAre(6, 3, kHeight, kWidth));
  EXPECT_EQ(opened->provide_data[0].dtype(), v1::FLOAT32);
  EXPECT_EQ(opened->provide_label[0].name(), "softmax_label");
  EXPECT_THAT(opened->provide_label[0].shape(), ElementsAre(6));
  EXPECT_EQ(opened->num_samples, 20);
  EXPECT_EQ(opened->seed, 5u);
  std::vector<int64_t> pads;
  while (true) {
    std::shared_ptr<const Batch> batch;
    bool end = false;
    ASSERT_TRUE(opened->prefetcher->GetNext(&batch, &end).ok());
    if (end) break;
    pads.push_back(batch->pad);
    EXPECT_TRUE(batch->index.empty());
  }
  EXPECT_THAT(pads, ElementsAre(0, 0, 0, 4));  // 20 = 3 * 6 + 2.
  EXPECT_EQ(opened->source_stats().records_decoded, 24);
}

TEST(ImageIterFactoryTest, LabelWidthShapesTheLabelAndMissingFilesFail) {
  ThreadPool pool(1);
  v1::PipelineConfig config = ValidConfig();
  config.mutable_image_iter()->set_label_width(2);
  v1::ImageListEntry* entry = config.mutable_image_iter()->add_imglist();
  entry->add_labels(1);
  entry->add_labels(2);
  entry->set_path("unused.jpg");
  auto opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(opened->provide_label[0].shape(), ElementsAre(4, 2));

  config = ValidConfig();
  config.mutable_image_iter()->set_path_imgidx(TempPath("no_such.idx"));
  opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("no_such.idx"));
}

}  // namespace
}  // namespace iterd::pipeline
