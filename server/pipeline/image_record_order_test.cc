#include "server/pipeline/image_record_order.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/recordio/index.h"
#include "common/recordio/writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::UnorderedElementsAreArray;

struct TestFile {
  std::string rec_path;
  std::string idx_path;
  std::vector<uint64_t> offsets;  // Of record i, in write order.
};

// `count` records of varying sizes (record i: `size + i % 7` bytes).
TestFile WriteRecords(const std::string& stem, int count, size_t size) {
  TestFile file;
  const std::string dir = getenv("TEST_TMPDIR");
  file.rec_path = absl::StrCat(dir, "/", stem, ".rec");
  file.idx_path = absl::StrCat(dir, "/", stem, ".idx");
  auto writer =
      recordio::IndexedRecordWriter::Create(file.rec_path, file.idx_path);
  EXPECT_TRUE(writer.ok());
  for (int i = 0; i < count; ++i) {
    file.offsets.push_back((*writer)->Tell());
    std::string record(size + i % 7, static_cast<char>('a' + i % 26));
    EXPECT_TRUE((*writer)->Write(absl::StrCat(i), record).ok());
  }
  EXPECT_TRUE((*writer)->Close().ok());
  return file;
}

std::unique_ptr<ImageRecordOrder> MakeOrder(const TestFile& file,
                                            ImageRecordOrderOptions options) {
  auto source = recordio::OpenMappedByteSource(file.rec_path);
  EXPECT_TRUE(source.ok());
  if (options.indexed) {
    auto index = recordio::RecordIndex::Load(file.idx_path);
    EXPECT_TRUE(index.ok());
    options.sorted_offsets = index->SortedOffsets();
  }
  auto order = ImageRecordOrder::Create(*source, std::move(options));
  EXPECT_TRUE(order.ok()) << order.status();
  return order.ok() ? *std::move(order) : nullptr;
}

std::vector<uint64_t> Pass(ImageRecordOrder* order) {
  std::vector<uint64_t> offsets;
  int64_t expected_position = 0;
  while (true) {
    uint64_t offset = 0;
    int64_t position = 0;
    bool end = false;
    EXPECT_TRUE(order->Next(&offset, &position, &end).ok());
    if (end) break;
    EXPECT_EQ(position, expected_position++);
    offsets.push_back(offset);
  }
  return offsets;
}

void ExpectPartsCoverEveryRecordOnce(const TestFile& file, bool indexed,
                                     bool shuffle, int chunk_mb) {
  for (int num_parts = 1; num_parts <= 4; ++num_parts) {
    for (int64_t epoch : {0, 1}) {
      std::vector<uint64_t> all;
      for (int part = 0; part < num_parts; ++part) {
        ImageRecordOrderOptions options;
        options.num_parts = num_parts;
        options.part_index = part;
        options.indexed = indexed;
        options.shuffle = shuffle;
        options.seed = 5;
        options.shuffle_chunk_size_mb = chunk_mb;
        auto order = MakeOrder(file, options);
        ASSERT_NE(order, nullptr);
        ASSERT_TRUE(order->StartEpoch(epoch).ok());
        const std::vector<uint64_t> offsets = Pass(order.get());
        all.insert(all.end(), offsets.begin(), offsets.end());
      }
      EXPECT_THAT(all, UnorderedElementsAreArray(file.offsets))
          << "num_parts " << num_parts << " indexed " << indexed << " shuffle "
          << shuffle;
    }
  }
}

TEST(ImageRecordOrderTest, ByteRangePartsCoverEveryRecordOnce) {
  const TestFile file = WriteRecords("parts", 37, 100);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/false, false, 0);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/false, true, 0);
}

TEST(ImageRecordOrderTest, IndexedPartsCoverEveryRecordOnce) {
  const TestFile file = WriteRecords("iparts", 37, 100);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/true, false, 0);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/true, true, 0);
}

TEST(ImageRecordOrderTest, ShuffleChunksCoverEveryRecordOnce) {
  // About 4.4 MB: with 1 MB sub-parts, several chunks per part.
  const TestFile file = WriteRecords("chunks", 400, 11000);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/false, true, 1);
  ExpectPartsCoverEveryRecordOnce(file, /*indexed=*/false, false, 1);
}

TEST(ImageRecordOrderTest, WithoutShuffleTheOrderIsFileOrder) {
  const TestFile file = WriteRecords("plain", 20, 50);
  for (bool indexed : {false, true}) {
    ImageRecordOrderOptions options;
    options.indexed = indexed;
    auto order = MakeOrder(file, options);
    EXPECT_EQ(Pass(order.get()), file.offsets);
    EXPECT_EQ(order->num_records(), indexed ? 20 : -1);
  }
}

TEST(ImageRecordOrderTest, ShuffleChangesOrderPerEpochAndReplaysPerSeed) {
  const TestFile file = WriteRecords("shuffle", 50, 60);
  for (bool indexed : {false, true}) {
    ImageRecordOrderOptions options;
    options.indexed = indexed;
    options.shuffle = true;
    options.seed = 42;
    auto order = MakeOrder(file, options);
    auto again = MakeOrder(file, options);
    const std::vector<uint64_t> epoch0 = Pass(order.get());
    EXPECT_NE(epoch0, file.offsets);
    EXPECT_THAT(epoch0, UnorderedElementsAreArray(file.offsets));
    ASSERT_TRUE(order->StartEpoch(1).ok());
    const std::vector<uint64_t> epoch1 = Pass(order.get());
    EXPECT_NE(epoch1, epoch0);
    ASSERT_TRUE(order->Rewind().ok());
    EXPECT_EQ(Pass(order.get()), epoch1) << "Rewind keeps the epoch's order";
    ASSERT_TRUE(again->StartEpoch(1).ok());
    EXPECT_EQ(Pass(again.get()), epoch1) << "same seed, same order";
  }
}

TEST(ImageRecordOrderTest, ChunkShuffleKeepsRecordsWithinTheirChunk) {
  const TestFile file = WriteRecords("within", 400, 11000);
  ImageRecordOrderOptions options;
  options.shuffle = true;
  options.shuffle_chunk_size_mb = 1;
  auto order = MakeOrder(file, options);
  const std::vector<recordio::PartRange>& chunks = order->chunks();
  ASSERT_GT(chunks.size(), 2u);
  const std::vector<uint64_t> offsets = Pass(order.get());
  ASSERT_EQ(offsets.size(), 400u);
  // Consecutive records of the pass come from one chunk until it is used up.
  auto chunk_of = [&](uint64_t offset) {
    for (size_t k = 0; k < chunks.size(); ++k) {
      if (offset >= chunks[k].begin_offset && offset < chunks[k].end_offset) {
        return k;
      }
    }
    return chunks.size();
  };
  std::set<size_t> finished;
  size_t current = chunk_of(offsets[0]);
  for (uint64_t offset : offsets) {
    const size_t chunk = chunk_of(offset);
    ASSERT_LT(chunk, chunks.size());
    if (chunk != current) {
      EXPECT_EQ(finished.count(chunk), 0u) << "chunk revisited";
      finished.insert(current);
      current = chunk;
    }
  }
}

class CountingReporter final : public recordio::Reporter {
 public:
  void Corruption(uint64_t, uint64_t, const absl::Status&) override {
    ++corruptions;
  }
  int corruptions = 0;
};

TEST(ImageRecordOrderTest, DamagedFramingIsSkippedAndReported) {
  TestFile file = WriteRecords("damaged", 10, 40);
  {
    // Break record 4's magic.
    std::fstream stream(file.rec_path,
                        std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(file.offsets[4]);
    stream.put('\x0b');
  }
  CountingReporter reporter;
  ImageRecordOrderOptions options;
  options.listing.policy = recordio::CorruptionPolicy::kSkip;
  options.listing.reporter = &reporter;
  auto order = MakeOrder(file, options);
  std::vector<uint64_t> expected = file.offsets;
  expected.erase(expected.begin() + 4);
  EXPECT_EQ(Pass(order.get()), expected);
  EXPECT_EQ(reporter.corruptions, 1);

  ImageRecordOrderOptions strict;
  auto strict_order = MakeOrder(file, strict);
  uint64_t offset = 0;
  int64_t position = 0;
  bool end = false;
  absl::Status status;
  while (status.ok() && !end) {
    status = strict_order->Next(&offset, &position, &end);
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr(file.rec_path));
}

TEST(ImageRecordOrderTest, BadPartIndexIsInvalidArgument) {
  const TestFile file = WriteRecords("badpart", 3, 10);
  auto source = recordio::OpenMappedByteSource(file.rec_path);
  ASSERT_TRUE(source.ok());
  ImageRecordOrderOptions options;
  options.num_parts = 2;
  options.part_index = 2;
  auto order = ImageRecordOrder::Create(*source, options);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace iterd::pipeline
