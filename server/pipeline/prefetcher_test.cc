#include "server/pipeline/prefetcher.h"

#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/testing/int_source.h"

namespace iterd::pipeline {
namespace {

std::unique_ptr<BatchIterator> MakeBatcher(int64_t n, int64_t batch_size) {
  auto batcher = Batcher::Create({batch_size, LastBatchPolicy::kPad},
                                 std::make_unique<testing::IntSource>(n));
  EXPECT_TRUE(batcher.ok());
  return std::move(batcher).value();
}

// First data value of every batch of one epoch.
std::vector<float> EpochHeads(Prefetcher* prefetcher) {
  std::vector<float> heads;
  while (true) {
    std::shared_ptr<const Batch> batch;
    bool end = false;
    EXPECT_TRUE(prefetcher->GetNext(&batch, &end).ok());
    if (end) return heads;
    heads.push_back(const_cast<Batch&>(*batch).data(0).data_as<float>()[0]);
  }
}

TEST(PrefetcherTest, DeliversBatchesInOrderThenEndOfEpochUntilReset) {
  ThreadPool pool(2);
  Prefetcher prefetcher(MakeBatcher(10, 3), 2, &pool);
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(0, 3, 6, 9));
  std::shared_ptr<const Batch> batch;
  bool end = false;
  ASSERT_TRUE(prefetcher.GetNext(&batch, &end).ok());
  EXPECT_TRUE(end);  // Still over.
  ASSERT_TRUE(prefetcher.Reset().ok());
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(0, 3, 6, 9));
}

TEST(PrefetcherTest, LastDeliveredEpochFollowsTheBatches) {
  ThreadPool pool(1);
  Prefetcher prefetcher(MakeBatcher(6, 3), 2, &pool);
  EXPECT_EQ(prefetcher.last_delivered_epoch(), 0);
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(EpochHeads(&prefetcher).size(), 2u);
    EXPECT_EQ(prefetcher.last_delivered_epoch(), epoch);
    ASSERT_TRUE(prefetcher.Reset().ok());
  }
}

TEST(PrefetcherTest, ResetMidEpochDropsPrefetchedBatches) {
  ThreadPool pool(1);
  Prefetcher prefetcher(MakeBatcher(100, 10), 4, &pool);
  std::shared_ptr<const Batch> batch;
  bool end = false;
  ASSERT_TRUE(prefetcher.GetNext(&batch, &end).ok());
  ASSERT_TRUE(prefetcher.Reset().ok());
  ASSERT_TRUE(prefetcher.GetNext(&batch, &end).ok());
  EXPECT_EQ(const_cast<Batch&>(*batch).data(0).data_as<float>()[0], 0);
  EXPECT_EQ(batch->epoch, 1);
}

TEST(PrefetcherTest, ResetAfterProducerRanAheadStartsAfresh) {
  // round_batch over 10 samples in batches of 3: the producer reaches the
  // wrapped last batch long before the consumer, who resets after one batch.
  // The next epoch must start at sample 0, not after the wrap, whatever the
  // timing.
  ThreadPool pool(1);
  auto batcher = Batcher::Create({3, LastBatchPolicy::kRoundBatch},
                                 std::make_unique<testing::IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  Prefetcher prefetcher(std::move(batcher).value(), 8, &pool);
  std::shared_ptr<const Batch> batch;
  bool end = false;
  ASSERT_TRUE(prefetcher.GetNext(&batch, &end).ok());
  // Let the producer run to the end of the epoch.
  prefetcher.WithInputExclusive([](BatchIterator*) {});
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(prefetcher.Reset().ok());
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(0, 3, 6, 9));
}

TEST(PrefetcherTest, ResetAfterTheWholeEpochContinuesAfterTheWrap) {
  ThreadPool pool(1);
  auto batcher = Batcher::Create({3, LastBatchPolicy::kRoundBatch},
                                 std::make_unique<testing::IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  Prefetcher prefetcher(std::move(batcher).value(), 2, &pool);
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(0, 3, 6, 9));
  ASSERT_TRUE(prefetcher.Reset().ok());
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(2, 5, 8));
}

TEST(PrefetcherTest, ConsumedCountFromARemoteClientDecides) {
  // A client was sent all four batches but its user took only two before
  // resetting.
  ThreadPool pool(1);
  auto batcher = Batcher::Create({3, LastBatchPolicy::kRoundBatch},
                                 std::make_unique<testing::IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  Prefetcher prefetcher(std::move(batcher).value(), 2, &pool);
  EpochHeads(&prefetcher);
  ASSERT_TRUE(prefetcher.Reset(/*batches_consumed=*/2).ok());
  EXPECT_THAT(EpochHeads(&prefetcher), ::testing::ElementsAre(0, 3, 6, 9));
}

TEST(PrefetcherTest, ErrorsSurfaceAtWaitForFirstAndStick) {
  ThreadPool pool(1);
  // round_batch cannot fill a batch of 5 from one sample: an error on the first
  // batch.
  auto batcher = Batcher::Create({5, LastBatchPolicy::kRoundBatch},
                                 std::make_unique<testing::IntSource>(1));
  ASSERT_TRUE(batcher.ok());
  Prefetcher prefetcher(std::move(batcher).value(), 2, &pool);
  EXPECT_FALSE(prefetcher.WaitForFirst().ok());
  std::shared_ptr<const Batch> batch;
  bool end = false;
  EXPECT_FALSE(prefetcher.GetNext(&batch, &end).ok());
  EXPECT_FALSE(prefetcher.GetNext(&batch, &end).ok());
}

TEST(PrefetcherTest, CancelWakesAWaitingConsumer) {
  ThreadPool pool(1);
  Prefetcher prefetcher(MakeBatcher(10, 3), 1, &pool);
  EpochHeads(&prefetcher);  // Leaves the end of the epoch queued.
  prefetcher.Cancel();
  std::shared_ptr<const Batch> batch;
  bool end = false;
  EXPECT_EQ(prefetcher.GetNext(&batch, &end).code(),
            absl::StatusCode::kCancelled);
}

TEST(PrefetcherTest, ManyPrefetchersShareOnePool) {
  ThreadPool pool(2);
  std::vector<std::unique_ptr<Prefetcher>> prefetchers;
  for (int i = 0; i < 20; ++i) {
    prefetchers.push_back(
        std::make_unique<Prefetcher>(MakeBatcher(30, 4), 3, &pool));
  }
  for (auto& prefetcher : prefetchers) {
    EXPECT_EQ(EpochHeads(prefetcher.get()).size(), 8u);
  }
}

}  // namespace
}  // namespace iterd::pipeline
