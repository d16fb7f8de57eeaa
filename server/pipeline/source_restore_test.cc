// Save/restore of every pipeline kind over real data (NDArray arrays, CSV
// files cut into many blocks, the reference JPEG records decoded with random
// augmentation, with and without .idx, with a bad record skipped): every
// position of a run, restored into a new pipeline, gives the rest of the run
// byte for byte (server/pipeline/testing/restore_check.h).

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/concurrency/thread_pool.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/reader.h"
#include "common/recordio/writer.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/csv_source.h"
#include "server/pipeline/image_iter_source.h"
#include "server/pipeline/image_iter_source_test_util.h"
#include "server/pipeline/image_record_source.h"
#include "server/pipeline/ndarray_source.h"
#include "server/pipeline/testing/restore_check.h"

namespace iterd::pipeline {
namespace {

using image_iter_testing::Reference;
using image_iter_testing::TempPath;
using testing::CheckSaveRestore;

// Every policy a kind uses, over `make_source`.
void CheckAllPolicies(
    const std::function<std::unique_ptr<SampleSource>()>& make_source,
    const std::vector<LastBatchPolicy>& policies, int64_t batch_size) {
  for (LastBatchPolicy policy : policies) {
    const std::string failure = CheckSaveRestore([&] {
      auto batcher = Batcher::Create({batch_size, policy}, make_source());
      EXPECT_TRUE(batcher.ok()) << batcher.status();
      return std::unique_ptr<BatchIterator>(std::move(*batcher));
    });
    EXPECT_EQ(failure, "") << "policy " << static_cast<int>(policy);
  }
}

TEST(SourceRestoreTest, NDArrayShuffled) {
  auto values = std::make_shared<std::vector<float>>(23 * 3);
  for (size_t i = 0; i < values->size(); ++i) (*values)[i] = i * 0.5f;
  CheckAllPolicies(
      [&] {
        NDArraySourceOptions options;
        options.data.push_back({"data", FromBuffer(DType::kFloat32, {23, 3},
                                                   values, values->data())});
        options.shuffle = true;
        options.seed = 11;
        auto source = NDArraySource::Create(std::move(options));
        EXPECT_TRUE(source.ok()) << source.status();
        return std::unique_ptr<SampleSource>(std::move(*source));
      },
      {LastBatchPolicy::kPad, LastBatchPolicy::kDiscard,
       LastBatchPolicy::kRollOver},
      5);
}

TEST(SourceRestoreTest, CsvFolderInManyBlocks) {
  const std::string folder = TempPath("csv_restore");
  ASSERT_EQ(system(("mkdir -p " + folder).c_str()), 0);
  int row = 0;
  for (const char* name : {"a.csv", "b.csv", "c.csv"}) {
    std::ofstream file(folder + "/" + name);
    for (int i = 0; i < 9; ++i, ++row) {
      file << row << "," << row * 2 << "\n";
      if (i == 4) file << "\n";  // A blank line.
    }
  }
  ThreadPool pool(2);
  CheckAllPolicies(
      [&] {
        CsvSourceOptions options;
        options.data_csv = folder;
        options.data_shape = {2};
        options.max_blocks_in_flight = 2;
        auto source = CsvSource::Create(options, &pool);
        EXPECT_TRUE(source.ok()) << source.status();
        return std::move(*source);
      },
      {LastBatchPolicy::kRoundBatch, LastBatchPolicy::kZeroFill}, 4);
}

// f_images.rec (20 JPEGs) rewritten with record 5's image bytes broken, and
// its .idx.
struct DamagedRec {
  std::string rec;
  std::string idx;
};

DamagedRec WriteDamagedCopy() {
  DamagedRec written{TempPath("damaged.rec"), TempPath("damaged.idx")};
  auto source = recordio::OpenMappedByteSource(Reference("f_images.rec"));
  EXPECT_TRUE(source.ok()) << source.status();
  recordio::RecordReader reader(*source, recordio::ReaderOptions{});
  auto writer = recordio::IndexedRecordWriter::Create(written.rec, written.idx);
  EXPECT_TRUE(writer.ok()) << writer.status();
  for (int key = 0;; ++key) {
    absl::string_view record;
    bool end = false;
    EXPECT_TRUE(reader.Next(&record, &end).ok());
    if (end) break;
    std::string bytes(record);
    if (key == 5) bytes.replace(bytes.size() / 2, 64, 64, '\x5a');
    EXPECT_TRUE((*writer)->Write(absl::StrCat(key), bytes).ok());
  }
  EXPECT_TRUE((*writer)->Close().ok());
  return written;
}

TEST(SourceRestoreTest, ImageRecordAugmentedWithABadRecord) {
  const DamagedRec damaged = WriteDamagedCopy();
  ThreadPool pool(2);
  for (bool indexed : {true, false}) {
    SCOPED_TRACE(indexed ? "with .idx" : "byte range");
    CheckAllPolicies(
        [&] {
          ImageRecordSourceOptions options;
          options.path_imgrec = damaged.rec;
          if (indexed) options.path_imgidx = damaged.idx;
          options.channels = 3;
          options.height = 16;
          options.width = 16;
          options.shuffle = true;
          options.seed = 3;
          options.seed_aug = 7;
          options.preprocess_threads = 2;
          options.augmenter.rand_crop = true;
          options.augmenter.max_rotate_angle = 10;
          options.augmenter.brightness = 0.3f;
          options.writer.rand_mirror = true;
          auto source = ImageRecordSource::Create(std::move(options), &pool);
          EXPECT_TRUE(source.ok()) << source.status();
          return std::unique_ptr<SampleSource>(std::move(*source));
        },
        {LastBatchPolicy::kRoundBatch, LastBatchPolicy::kZeroFill}, 6);
  }
}

TEST(SourceRestoreTest, ImageIterAugmented) {
  const DamagedRec damaged = WriteDamagedCopy();
  ThreadPool pool(2);
  for (bool indexed : {true, false}) {
    SCOPED_TRACE(indexed ? "with .idx" : "sequential");
    CheckAllPolicies(
        [&] {
          ImageIterSourceOptions options = image_iter_testing::IndexedOptions();
          options.path_imgrec = damaged.rec;
          options.path_imgidx = indexed ? damaged.idx : "";
          options.shuffle = indexed;
          options.augmenter.rand_crop = true;
          options.augmenter.rand_mirror = true;
          options.augmenter.brightness = 0.2f;
          options.pool = &pool;
          options.parallelism = 2;
          auto source = ImageIterSource::Create(std::move(options));
          EXPECT_TRUE(source.ok()) << source.status();
          return std::unique_ptr<SampleSource>(std::move(*source));
        },
        {LastBatchPolicy::kPad, LastBatchPolicy::kDiscard,
         LastBatchPolicy::kRollOverPadIsNew},
        6);
  }
}

}  // namespace
}  // namespace iterd::pipeline
