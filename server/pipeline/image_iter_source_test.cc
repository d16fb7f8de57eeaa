// ImageIterSource against MXNet's ImageIter (docs/mxnet-semantics.md
// section 11) reading .rec files: with and without .idx, pixels, parts,
// shuffle, threads and broken images, on the 20 JPEG records of
// tests/testdata/mxnet-reference/f_images.{rec,idx}.

#include "server/pipeline/image_iter_source.h"

#include <cmath>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "common/concurrency/thread_pool.h"
#include "common/image/image_header.h"
#include "common/image/test_jpeg.h"
#include "common/recordio/irheader.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/image_iter_source_test_util.h"

namespace iterd::pipeline::image_iter_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

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

// f_images records 0..4 rewritten with each image replaced by
// bad(i, its bytes) (empty: kept).
void WriteRecordsWithBadImages(
    const std::string& rec, const std::string& idx,
    const std::function<std::string(int, const std::string&)>& bad) {
  auto writer = recordio::IndexedRecordWriter::Create(rec, idx);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 5; ++i) {
    const std::string& key = kIdxKeys[i];
    recordio::IRHeader header;
    header.label = kLabelOfKey.at(key);
    const std::string replaced = bad(i, ImageBytes(key));
    const std::string payload = replaced.empty() ? ImageBytes(key) : replaced;
    ASSERT_TRUE(
        (*writer)->Write(key, recordio::PackRecord(header, payload)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
}

// Record 2's image replaced by bytes that are not an image.
void WriteRecordsWithABrokenImage(const std::string& rec,
                                  const std::string& idx) {
  WriteRecordsWithBadImages(rec, idx, [](int i, const std::string&) {
    return i == 2 ? std::string("\xff\xd8 not really a jpeg") : std::string();
  });
}

TEST(ImageIterSourceTest,
     BombsAreSkippedFromTheHeaderAndDoNotPoisonTheDecoder) {
  // Records 1-3: a JPEG declaring 32768x32768, one declaring 65535x65535, a
  // PNG declaring 20000x20000. Records 0 and 4 are good.
  const auto bombs = [](int i, const std::string& jpeg) {
    const cv::Mat small(4, 4, CV_8UC3, cv::Scalar(1, 2, 3));
    switch (i) {
      case 1:
        return image::testing::WithJpegFrameSize(jpeg, 32768, 32768);
      case 2:
        return image::testing::WithJpegFrameSize(jpeg, 65535, 65535);
      case 3:
        return image::testing::PngWithDeclaredSize(small, 20000, 20000);
      default:
        return std::string();
    }
  };
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imgrec = TempPath("bombs.rec");
  options.path_imgidx = TempPath("bombs.idx");
  WriteRecordsWithBadImages(options.path_imgrec, options.path_imgidx, bombs);
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  const std::vector<float> good = {kLabelOfKey.at(kIdxKeys[0]),
                                   kLabelOfKey.at(kIdxKeys[4])};
  EXPECT_EQ(ReadPass(source.get(), 2).labels, good);
  SourceStats stats = source->stats();
  EXPECT_EQ(stats.records_skipped, 3);
  ASSERT_EQ(stats.skipped_examples.size(), 3u);
  EXPECT_THAT(stats.skipped_examples[0],
              HasSubstr("declares 32768x32768 = 1073741824 pixels, more "
                        "than the limit of 89478485"));
  EXPECT_THAT(stats.skipped_examples[2],
              HasSubstr("declares 20000x20000 = 400000000 pixels"));

  // Only the 65535x65535 JPEG, under a limit that lets libjpeg see it (and
  // refuse it past its 65500): the good images decode on the same thread
  // afterwards (they failed with "two SOI markers").
  WriteRecordsWithBadImages(options.path_imgrec, options.path_imgidx,
                            [&bombs](int i, const std::string& jpeg) {
                              return i == 2 ? bombs(i, jpeg) : std::string();
                            });
  options.max_image_pixels = uint64_t{1} << 33;
  source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  Pass pass = ReadPass(source.get(), 2);
  EXPECT_EQ(pass.labels.size(), 4u);
  stats = source->stats();
  EXPECT_EQ(stats.records_skipped, 1);
  EXPECT_EQ(stats.records_decoded, 4);
}

TEST(ImageIterSourceTest, IdxOffsetPastTheRecIsRefusedAtOpenNamingTheLine) {
  const std::string rec = TempPath("bad_offset.rec");
  const std::string idx = TempPath("bad_offset.idx");
  WriteRecordsWithABrokenImage(rec, idx);
  WriteFile(idx, "7\t0\n15\t18446744073709551615\n");
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imgrec = rec;
  options.path_imgidx = idx;
  options.imgidx_name = "data/bad_offset.idx";
  auto source = ImageIterSource::Create(options);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(source.status().message(),
              HasSubstr("data/bad_offset.idx: line 2 (key 15): offset "
                        "18446744073709551615 is past the end of the .rec"));
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
  EXPECT_THAT(status.message(), HasSubstr("bad image"));
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

}  // namespace
}  // namespace iterd::pipeline::image_iter_testing
