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
std::unique_ptr<pipeline::Pipeline> MakePipeline(
    int64_t n, int64_t batch_size, int depth, ThreadPool* pool,
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
  return std::make_unique<pipeline::Pipeline>(std::move(opened));
}

bool WaitForQueued(IteratorSession& session, int64_t want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (session.pipeline().queued_batches() != want &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return session.pipeline().queued_batches() == want;
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

  registry.Remove((*a)->handle(), "closed by its client", /*expired=*/false);
  first->decoded = 1000;  // Changes after the removal are not counted.
  snapshot = registry.Snapshot();
  EXPECT_EQ(snapshot.records_decoded, 15);
  EXPECT_EQ(snapshot.records_skipped, 2);
  ASSERT_EQ(snapshot.iterators.size(), 1u);
  EXPECT_EQ(snapshot.iterators[0].display_id, (*b)->display_id());
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
  registry.Remove((*session)->handle(), "closed", /*expired=*/false);
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
  ASSERT_TRUE(it.pipeline().Next(&batch, &end_of_epoch).ok());
  // Nothing left to produce this epoch but its end, which is no batch.
  EXPECT_TRUE(WaitForQueued(it, 3));

  ASSERT_TRUE(it.pipeline().Reset(std::nullopt).ok());
  EXPECT_TRUE(WaitForQueued(it, 4)) << it.pipeline().queued_batches();
}

std::shared_ptr<IteratorSession> AddRows(IteratorRegistry& registry,
                                         ThreadPool* pool) {
  auto session =
      registry.Add(MakePipeline(6, 3, 2, pool, std::make_shared<FakeCounts>()),
                   "client", "rows", 0);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *session : nullptr;
}

TEST(IteratorHandleTest, HandleIsLongRandomAndDistinctFromTheDisplayId) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  std::shared_ptr<IteratorSession> a = AddRows(registry, &pool);
  std::shared_ptr<IteratorSession> b = AddRows(registry, &pool);
  ASSERT_TRUE(a && b);
  // "ih-" and 24 random bytes in hex: at least 128 bits, at most 64 bytes.
  EXPECT_THAT(a->handle(), ::testing::MatchesRegex("ih-[0-9a-f]{48}"));
  EXPECT_NE(a->handle(), b->handle());
  EXPECT_EQ(a->display_id(), "it-1");
  EXPECT_EQ(b->display_id(), "it-2");
  EXPECT_EQ(registry.Find(a->handle()).value(), a);
}

TEST(IteratorHandleTest, OnlyTheExactHandleFindsOrClosesAnIterator) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  std::shared_ptr<IteratorSession> session = AddRows(registry, &pool);
  ASSERT_TRUE(session);
  const std::string handle = session->handle();
  std::string flipped = handle;
  flipped.back() = flipped.back() == '0' ? '1' : '0';  // Same selector.
  std::string upper = handle;
  upper[5] = upper[5] >= 'a' ? upper[5] - 32 : upper[5];
  for (const std::string& guess :
       {session->display_id(), std::string("1"), handle.substr(0, 19), flipped,
        handle + "0", std::string(""), std::string(100000, 'x'),
        std::string("ih-") + std::string(48, '\0')}) {
    absl::StatusOr<std::shared_ptr<IteratorSession>> found =
        registry.Find(guess);
    ASSERT_FALSE(found.ok()) << guess;
    EXPECT_TRUE(absl::IsNotFound(found.status()));
    // The message never echoes what the client sent.
    if (guess.size() >= 4) {
      EXPECT_EQ(found.status().message().find(guess.substr(0, 8)),
                absl::string_view::npos)
          << found.status();
    }
    registry.Remove(guess, "closed", /*expired=*/false);
  }
  if (upper != handle) {
    EXPECT_FALSE(registry.Find(upper).ok());
  }
  EXPECT_EQ(registry.stats().open_iterators, 1);
  registry.Remove(handle, "closed", /*expired=*/false);
  EXPECT_EQ(registry.stats().open_iterators, 0);
  EXPECT_TRUE(absl::IsNotFound(registry.Find(handle).status()));
}

TEST(IteratorHandleTest, SnapshotShowsDisplayIdsNeverHandles) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  std::shared_ptr<IteratorSession> session = AddRows(registry, &pool);
  ASSERT_TRUE(session);
  RegistrySnapshot snapshot = registry.Snapshot();
  ASSERT_EQ(snapshot.iterators.size(), 1u);
  EXPECT_EQ(snapshot.iterators[0].display_id, session->display_id());
  EXPECT_EQ(snapshot.iterators[0].display_id.find(session->handle().substr(3)),
            std::string::npos);
}

TEST(OpenCallTest, ConcurrentOpensAreCappedAndLateOnesCancelledOnce) {
  RegistryOptions options;
  options.max_concurrent_opens = 2;
  options.open_timeout = absl::Milliseconds(200);
  IteratorRegistry registry(options);
  std::atomic<int> cancelled{0};
  auto first = registry.BeginOpen([&cancelled] { ++cancelled; });
  auto second = registry.BeginOpen([] {});
  ASSERT_TRUE(first.ok() && second.ok());
  auto third = registry.BeginOpen([] {});
  EXPECT_TRUE(absl::IsResourceExhausted(third.status())) << third.status();
  EXPECT_FALSE((*first)->timed_out());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!(*first)->timed_out() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE((*first)->timed_out());
  absl::SleepFor(absl::Milliseconds(300));  // More reaper rounds.
  EXPECT_EQ(cancelled.load(), 1);
  first->reset();  // Frees its place.
  EXPECT_TRUE(registry.BeginOpen([] {}).ok());
}

TEST(InlineBudgetTest, DeclarationsReserveNothingAndBytesAreCharged) {
  RegistryOptions options;
  options.max_inline_bytes = 100;
  IteratorRegistry registry(options);
  EXPECT_TRUE(registry.CheckInlineDeclaration(100).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(registry.CheckInlineDeclaration(101)));
  ASSERT_TRUE(registry.ReserveInlineBytes(60).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(registry.ReserveInlineBytes(41)));
  registry.ReleaseInlineBytes(60);
  EXPECT_TRUE(registry.ReserveInlineBytes(100).ok());
}

TEST(IteratorSessionTest, AStreamIsActivityOnlyWhileItWaitsForThePipeline) {
  ThreadPool pool(2);
  IteratorRegistry registry({});
  std::shared_ptr<IteratorSession> session = AddRows(registry, &pool);
  ASSERT_TRUE(session);
  int cancels = 0;
  ASSERT_TRUE(session->BeginStream([&cancels] { ++cancels; }));
  const absl::Time later = absl::Now() + absl::Seconds(10);
  // Blocked writing to a client that does not read: idle.
  EXPECT_TRUE(session->IdleSince(later, absl::Seconds(1)));
  session->SetStreamWaiting(true);
  EXPECT_FALSE(session->IdleSince(later, absl::Seconds(1)));
  session->SetStreamWaiting(false);
  session->CancelStream();
  EXPECT_EQ(cancels, 1);
  session->EndStream();
  session->CancelStream();  // No stream: nothing to cancel.
  EXPECT_EQ(cancels, 1);
}

TEST(IteratorRegistryReaperTest, CancelsAndFreesAStalledStream) {
  ThreadPool pool(2);
  RegistryOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  IteratorRegistry registry(options);
  std::shared_ptr<IteratorSession> session = AddRows(registry, &pool);
  ASSERT_TRUE(session);
  std::atomic<int> cancels{0};
  ASSERT_TRUE(session->BeginStream([&cancels] { ++cancels; }));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (registry.stats().open_iterators > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(registry.stats().open_iterators, 0);
  EXPECT_EQ(cancels.load(), 1);
  EXPECT_EQ(registry.stats().iterators_expired, 1);
  session->EndStream();
}

}  // namespace
}  // namespace iterd::service
