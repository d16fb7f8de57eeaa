// Batching policies against the worked examples of MXNet's reference
// (NDArrayIter section 7.4, native round_batch section 8).

#include "server/pipeline/batcher.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/testing/int_source.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::IntSource;

// One epoch rendered as "[0,1,2] [3,4,5] [9,0,1]p2": samples of each batch,
// then its pad if any.
std::string ReadEpoch(Batcher* batcher) {
  std::vector<std::string> batches;
  while (true) {
    std::shared_ptr<Batch> batch;
    bool end = false;
    absl::Status status = batcher->GetNext(&batch, &end);
    if (!status.ok()) return std::string(status.message());
    if (end) break;
    std::vector<std::string> values;
    const float* data = batch->data(0).data_as<float>();
    const float* label = batch->label(0).data_as<float>();
    for (int64_t i = 0; i < batch->batch_size(); ++i) {
      EXPECT_EQ(label[i], 10 * data[i]) << "label row " << i;
      values.push_back(absl::StrCat(data[i]));
    }
    std::string text = absl::StrCat("[", absl::StrJoin(values, ","), "]");
    if (batch->pad != 0) absl::StrAppend(&text, "p", batch->pad);
    batches.push_back(text);
  }
  return absl::StrJoin(batches, " ");
}

std::vector<std::string> ReadEpochs(int64_t n, int64_t batch_size,
                                    LastBatchPolicy policy, int epochs) {
  auto batcher =
      Batcher::Create({batch_size, policy}, std::make_unique<IntSource>(n));
  EXPECT_TRUE(batcher.ok());
  std::vector<std::string> out;
  for (int e = 0; e < epochs; ++e) {
    out.push_back(ReadEpoch(batcher->get()));
    EXPECT_TRUE((*batcher)->Reset(/*epoch_finished=*/true).ok());
  }
  return out;
}

TEST(BatcherTest, PadCompletesFromTheStartEveryEpoch) {
  EXPECT_THAT(ReadEpochs(10, 3, LastBatchPolicy::kPad, 3),
              ElementsAre("[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2",
                          "[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2",
                          "[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2"));
}

TEST(BatcherTest, DiscardDropsTheShortBatch) {
  EXPECT_THAT(
      ReadEpochs(10, 3, LastBatchPolicy::kDiscard, 2),
      ElementsAre("[0,1,2] [3,4,5] [6,7,8]", "[0,1,2] [3,4,5] [6,7,8]"));
}

TEST(BatcherTest, RollOverCarriesTheTailAndReportsTheCarriedCount) {
  EXPECT_THAT(
      ReadEpochs(10, 3, LastBatchPolicy::kRollOver, 4),
      ElementsAre("[0,1,2] [3,4,5] [6,7,8]", "[9,0,1]p1 [2,3,4] [5,6,7]",
                  "[8,9,0]p2 [1,2,3] [4,5,6] [7,8,9]",
                  "[0,1,2] [3,4,5] [6,7,8]"));
}

TEST(BatcherTest, ImageIterRollOverReportsTheNewSampleCountAsPad) {
  // Reference section 11.3, N=10, B=3: ImageIter reports pad = B - held.
  EXPECT_THAT(
      ReadEpochs(10, 3, LastBatchPolicy::kRollOverPadIsNew, 4),
      ElementsAre("[0,1,2] [3,4,5] [6,7,8]", "[9,0,1]p2 [2,3,4] [5,6,7]",
                  "[8,9,0]p1 [1,2,3] [4,5,6] [7,8,9]",
                  "[0,1,2] [3,4,5] [6,7,8]"));
}

TEST(BatcherTest, ImageIterPadAndDiscardFollowTheWorkedExample) {
  EXPECT_THAT(ReadEpochs(10, 3, LastBatchPolicy::kPad, 2),
              ElementsAre("[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2",
                          "[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2"));
  EXPECT_THAT(
      ReadEpochs(10, 3, LastBatchPolicy::kDiscard, 2),
      ElementsAre("[0,1,2] [3,4,5] [6,7,8]", "[0,1,2] [3,4,5] [6,7,8]"));
}

TEST(BatcherTest, ImageIterRollOverDropsTheTailOnAResetMidEpoch) {
  auto batcher = Batcher::Create({3, LastBatchPolicy::kRollOverPadIsNew},
                                 std::make_unique<IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  ReadEpoch(batcher->get());
  ASSERT_TRUE((*batcher)->Reset(/*epoch_finished=*/false).ok());
  EXPECT_EQ(ReadEpoch(batcher->get()), "[0,1,2] [3,4,5] [6,7,8]");
}

TEST(BatcherTest, PadTilesDataSmallerThanTheBatch) {
  // N=10, B=205: the data tiled 20 times, then 0..4; pad 195.
  auto epochs = ReadEpochs(10, 205, LastBatchPolicy::kPad, 1);
  std::vector<std::string> expected;
  for (int i = 0; i < 205; ++i) expected.push_back(absl::StrCat(i % 10));
  EXPECT_EQ(epochs[0],
            absl::StrCat("[", absl::StrJoin(expected, ","), "]p195"));
}

// 10 samples tiled into the largest batch: the work is linear in the rows
// (it was quadratic: every pass allocated ids for all the missing rows, so
// this took hours and starved the daemon's pool).
TEST(BatcherTest, PadTilingTheLargestBatchIsLinear) {
  for (const bool with_ids : {false, true}) {
    auto batcher = Batcher::Create({kMaxBatchSize, LastBatchPolicy::kPad},
                                   std::make_unique<IntSource>(10, with_ids));
    ASSERT_TRUE(batcher.ok());
    std::shared_ptr<Batch> batch;
    bool end = false;
    ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
    ASSERT_FALSE(end);
    EXPECT_EQ(batch->pad, kMaxBatchSize - 10);
    const float* data = batch->data(0).data_as<float>();
    for (const int64_t row : {int64_t{0}, int64_t{9}, int64_t{10},
                              int64_t{123457}, kMaxBatchSize - 1}) {
      EXPECT_EQ(data[row], static_cast<float>(row % 10)) << "row " << row;
      if (with_ids) {
        EXPECT_EQ(batch->index[row], static_cast<uint64_t>(row % 10));
      }
    }
  }
}

TEST(BatcherTest, LargeExampleFromMXNetTests) {
  // N=1000, B=128: pad -> 8 batches, last pad 24; discard/roll_over -> 7
  // batches; after reset the first roll_over batch equals the last pad batch
  // and reports pad 104.
  auto batcher = Batcher::Create({128, LastBatchPolicy::kRollOver},
                                 std::make_unique<IntSource>(1000));
  ASSERT_TRUE(batcher.ok());
  int batches = 0;
  std::shared_ptr<Batch> batch;
  bool end = false;
  while ((*batcher)->GetNext(&batch, &end).ok() && !end) ++batches;
  EXPECT_EQ(batches, 7);
  ASSERT_TRUE((*batcher)->Reset(/*epoch_finished=*/true).ok());
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  ASSERT_FALSE(end);
  EXPECT_EQ(batch->pad, 104);
  EXPECT_EQ(batch->data(0).data_as<float>()[0], 896);
  EXPECT_EQ(batch->data(0).data_as<float>()[104], 0);
  EXPECT_EQ(batch->data(0).data_as<float>()[127], 23);

  auto padded = ReadEpochs(1000, 128, LastBatchPolicy::kPad, 1);
  EXPECT_THAT(padded[0], HasSubstr(",999,0,1,"));
  EXPECT_THAT(padded[0], ::testing::EndsWith(",23]p24"));
}

TEST(BatcherTest, RoundBatchContinuesAfterTheWrappedSamples) {
  EXPECT_THAT(
      ReadEpochs(10, 3, LastBatchPolicy::kRoundBatch, 4),
      ElementsAre("[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2",
                  "[2,3,4] [5,6,7] [8,9,0]p1", "[1,2,3] [4,5,6] [7,8,9]",
                  "[0,1,2] [3,4,5] [6,7,8] [9,0,1]p2"));
}

TEST(BatcherTest, RoundBatchWithFourRows) {
  EXPECT_THAT(ReadEpochs(4, 3, LastBatchPolicy::kRoundBatch, 3),
              ElementsAre("[0,1,2] [3,0,1]p2", "[2,3,0]p1", "[1,2,3]"));
}

TEST(BatcherTest, RoundBatchCannotWrapTwice) {
  auto epochs = ReadEpochs(1, 3, LastBatchPolicy::kRoundBatch, 1);
  EXPECT_THAT(epochs[0],
              HasSubstr("round_batch can wrap around the data only once"));
}

TEST(BatcherTest, ZeroFillKeepsFullShapeWithZeroedFiller) {
  EXPECT_THAT(ReadEpochs(10, 3, LastBatchPolicy::kZeroFill, 2),
              ElementsAre("[0,1,2] [3,4,5] [6,7,8] [9,0,0]p2",
                          "[0,1,2] [3,4,5] [6,7,8] [9,0,0]p2"));
  EXPECT_THAT(ReadEpochs(4, 3, LastBatchPolicy::kZeroFill, 2),
              ElementsAre("[0,1,2] [3,0,0]p2", "[0,1,2] [3,0,0]p2"));
}

TEST(BatcherTest, ResetMidEpochRestartsAtTheFirstSample) {
  for (LastBatchPolicy policy :
       {LastBatchPolicy::kPad, LastBatchPolicy::kRoundBatch,
        LastBatchPolicy::kRollOver}) {
    auto batcher =
        Batcher::Create({3, policy}, std::make_unique<IntSource>(10));
    ASSERT_TRUE(batcher.ok());
    std::shared_ptr<Batch> batch;
    bool end = false;
    ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
    ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
    ASSERT_TRUE((*batcher)->Reset(/*epoch_finished=*/true).ok());
    EXPECT_THAT(ReadEpoch(batcher->get()),
                ::testing::StartsWith("[0,1,2] [3,4,5]"));
  }
}

TEST(BatcherTest, ResetBeforeTheConsumerFinishedIgnoresCarryOver) {
  // The producer ran to the end of the epoch (wrapped batch, held tail), but
  // its consumer had not taken every batch: the next epoch starts at the first
  // sample, with nothing carried.
  for (LastBatchPolicy policy :
       {LastBatchPolicy::kRoundBatch, LastBatchPolicy::kRollOver}) {
    auto batcher =
        Batcher::Create({3, policy}, std::make_unique<IntSource>(10));
    ASSERT_TRUE(batcher.ok());
    ReadEpoch(batcher->get());
    ASSERT_TRUE((*batcher)->Reset(/*epoch_finished=*/false).ok());
    EXPECT_THAT(ReadEpoch(batcher->get()),
                ::testing::StartsWith("[0,1,2] [3,4,5] [6,7,8]"));
  }
}

TEST(BatcherTest, SampleIdsBecomeTheBatchIndex) {
  auto batcher = Batcher::Create({3, LastBatchPolicy::kRoundBatch},
                                 std::make_unique<IntSource>(4, true));
  ASSERT_TRUE(batcher.ok());
  std::shared_ptr<Batch> batch;
  bool end = false;
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_THAT(batch->index, ElementsAre(0, 1, 2));
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_THAT(batch->index, ElementsAre(3, 0, 1));
  EXPECT_EQ(batch->pad, 2);
}

TEST(BatcherTest, BatchesCarryEpochAndSequence) {
  auto batcher = Batcher::Create({5, LastBatchPolicy::kPad},
                                 std::make_unique<IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  std::shared_ptr<Batch> batch;
  bool end = false;
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_EQ(batch->epoch, 0);
  EXPECT_EQ(batch->sequence, 1);
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_TRUE(end);
  ASSERT_TRUE((*batcher)->Reset(/*epoch_finished=*/true).ok());
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_EQ(batch->epoch, 1);
  EXPECT_EQ(batch->sequence, 2);
  EXPECT_EQ(batch->data_specs()[0].shape, std::vector<int64_t>{5});
}

TEST(BatcherTest, RejectsNonPositiveBatchSize) {
  auto batcher = Batcher::Create({0, LastBatchPolicy::kPad},
                                 std::make_unique<IntSource>(10));
  ASSERT_FALSE(batcher.ok());
  EXPECT_EQ(batcher.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batcher.status().message(), HasSubstr("batch_size"));
}

}  // namespace
}  // namespace iterd::pipeline
