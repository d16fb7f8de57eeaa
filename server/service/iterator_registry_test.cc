#include "server/service/iterator_registry.h"

#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/testing/int_source.h"

namespace iterd::service {
namespace {

// Stands in for a decoding source's counters, which the test sets.
struct FakeCounts {
  std::atomic<int64_t> decoded{0};
  std::atomic<int64_t> skipped{0};
};

// A real Batcher over IntSource(n) behind a real Prefetcher of `depth`.
pipeline::OpenedPipeline MakePipeline(int64_t n, int64_t batch_size, int depth,
                                      ThreadPool* pool,
                                      std::shared_ptr<FakeCounts> counts) {
  auto batcher = pipeline::Batcher::Create(
      {batch_size, pipeline::LastBatchPolicy::kPad},
      std::make_unique<pipeline::testing::IntSource>(n));
  EXPECT_TRUE(batcher.ok());
  pipeline::OpenedPipeline opened;
  opened.prefetcher = std::make_unique<pipeline::Prefetcher>(
      std::move(batcher).value(), depth, pool);
  opened.batch_size = batch_size;
  opened.source_stats = [counts] {
    pipeline::SourceStats stats;
    stats.records_decoded = counts->decoded.load();
    stats.records_skipped = counts->skipped.load();
    return stats;
  };
  return opened;
}

bool WaitForQueued(IteratorSession& session, int64_t want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (session.QueuedBatches() != want && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return session.QueuedBatches() == want;
}

TEST(IteratorRegistrySnapshotTest, FreedIteratorsStayCountedInTheTotals) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  auto first = std::make_shared<FakeCounts>();
  auto second = std::make_shared<FakeCounts>();
  first->decoded = 10;
  first->skipped = 2;
  second->decoded = 5;
  auto a =
      registry.Add(MakePipeline(6, 3, 2, &pool, first), "client-a", "train", 0);
  auto b = registry.Add(MakePipeline(6, 3, 2, &pool, second), "client-a",
                        "inline", 0);
  ASSERT_TRUE(a.ok() && b.ok());
  RegistrySnapshot snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.records_decoded, 15);
  EXPECT_EQ(snapshot.records_skipped, 2);
  EXPECT_EQ(snapshot.stats.open_iterators, 2);
  EXPECT_EQ(snapshot.distinct_clients, 1);

  registry.Remove((*a)->id(), "closed by its client", /*expired=*/false);
  first->decoded = 1000;  // Changes after the removal are not counted.
  snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.records_decoded, 15);
  EXPECT_EQ(snapshot.records_skipped, 2);
  ASSERT_EQ(snapshot.iterators.size(), 1u);
  EXPECT_EQ(snapshot.iterators[0].id, (*b)->id());
  EXPECT_EQ(snapshot.iterators[0].pipeline_name, "inline");
  EXPECT_EQ(snapshot.iterators[0].client, "client-a");
}

TEST(IteratorRegistrySnapshotTest, BatchesProducedIncludeFreedIterators) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  auto counts = std::make_shared<FakeCounts>();
  // 4 batches of 3 (the last padded), all prefetched with a depth of 4.
  auto session =
      registry.Add(MakePipeline(10, 3, 4, &pool, counts), "c", "rows", 0);
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(WaitForQueued(**session, 4));
  EXPECT_EQ(registry.Snapshot().batches_produced, 4);
  registry.Remove((*session)->id(), "closed", /*expired=*/false);
  EXPECT_EQ(registry.Snapshot().batches_produced, 4);
}

TEST(IteratorSessionTest, QueuedBatchesFollowTakesAndResets) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  auto session = registry.Add(
      MakePipeline(10, 3, 4, &pool, std::make_shared<FakeCounts>()), "c",
      "rows", 0);
  ASSERT_TRUE(session.ok());
  IteratorSession& it = **session;
  ASSERT_TRUE(WaitForQueued(it, 4));

  std::shared_ptr<const Batch> batch;
  bool end_of_epoch = false;
  ASSERT_TRUE(it.pipeline().prefetcher->GetNext(&batch, &end_of_epoch).ok());
  it.CountTaken();
  EXPECT_EQ(it.QueuedBatches(), 3);  // Nothing left to produce this epoch.

  const int64_t produced = it.pipeline().prefetcher->batches_produced();
  ASSERT_TRUE(it.pipeline().prefetcher->Reset().ok());
  it.RestartQueueCount(produced);
  EXPECT_TRUE(WaitForQueued(it, 4)) << it.QueuedBatches();
}

}  // namespace
}  // namespace iterd::service
