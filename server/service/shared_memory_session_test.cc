// IteratorSession with a pipeline whose batches live in a shared-memory region
// (real Batcher, Prefetcher, memfd region and threads): slot lookup, and that a
// producer waiting for a region buffer never deadlocks a close, a reset or an
// expiry. The region here is deliberately tiny (2 slots) so the producer does
// block; the daemon sizes it so that it normally does not.

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/testing/int_source.h"
#include "server/service/iterator_registry.h"
#include "server/service/shared_memory_pool.h"

namespace iterd::service {
namespace {

constexpr int64_t kBatchSize = 4;

// Runs `fn` on another thread; false if it has not returned within 10 s (a
// deadlock). The thread is detached then, so a hang fails rather than blocks.
template <typename Fn>
bool ReturnsInTime(Fn fn) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([fn, done] {
    fn();
    done->set_value();
  }).detach();
  return finished.wait_for(std::chrono::seconds(10)) ==
         std::future_status::ready;
}

// A pipeline over IntSource(1000) whose pool is `slots` slots of a region
// (recorded in *memory), behind a Prefetcher of depth 1.
std::unique_ptr<pipeline::Pipeline> MakeRegionPipeline(
    ThreadPool* pool, uint32_t slots, SessionSharedMemory* memory) {
  auto factory = [slots, memory](size_t bytes, int) {
    auto region = SharedMemoryRegion::Create(bytes, slots);
    EXPECT_TRUE(region.ok()) << region.status();
    memory->region = *std::move(region);
    std::vector<uint8_t*> buffers;
    for (uint32_t i = 0; i < slots; ++i) {
      buffers.push_back(memory->region->slot(i).data());
    }
    memory->pool = PayloadPool::CreateInRegion(bytes, buffers, memory->region);
    return memory->pool;
  };
  auto batcher = pipeline::Batcher::Create(
      {kBatchSize, pipeline::LastBatchPolicy::kPad},
      std::make_unique<pipeline::testing::IntSource>(1000), factory);
  EXPECT_TRUE(batcher.ok());
  pipeline::OpenedPipeline opened;
  opened.prefetcher = std::make_unique<pipeline::Prefetcher>(
      std::move(batcher).value(), /*depth=*/1, pool);
  opened.batch_size = kBatchSize;
  return std::make_unique<pipeline::Pipeline>(std::move(opened));
}

class SharedMemorySessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SessionSharedMemory memory;
    std::unique_ptr<pipeline::Pipeline> opened =
        MakeRegionPipeline(&thread_pool_, 2, &memory);
    pool_ = memory.pool;
    auto added = registry_.Add(std::move(opened), "client", "inline", 0,
                               std::move(memory));
    ASSERT_TRUE(added.ok()) << added.status();
    session_ = *added;
  }

  std::shared_ptr<const Batch> Take() {
    std::shared_ptr<const Batch> batch;
    bool end = false;
    EXPECT_TRUE(session_->pipeline().Next(&batch, &end).ok());
    return batch;
  }

  // Takes both slots' batches into the session's window and waits until the
  // producer is blocked on the full region.
  void FillRegionWithHeldBatches() {
    for (int i = 0; i < 2; ++i) session_->HoldBatch(Take());
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(pool_->free_buffers(), 0);
  }

  ThreadPool thread_pool_{2};
  IteratorRegistry registry_{RegistryOptions{}};
  std::shared_ptr<PayloadPool> pool_;
  std::shared_ptr<IteratorSession> session_;
};

TEST_F(SharedMemorySessionTest, BatchesAreProducedInDistinctRegionSlots) {
  std::shared_ptr<const Batch> first = Take();
  std::shared_ptr<const Batch> second = Take();
  const int64_t first_slot = session_->SlotOf(*first);
  const int64_t second_slot = session_->SlotOf(*second);
  EXPECT_GE(first_slot, 0);
  EXPECT_GE(second_slot, 0);
  EXPECT_NE(first_slot, second_slot);
  const SharedMemoryRegion& region = *session_->shared_memory();
  EXPECT_EQ(first->payload().data(), region.slot(first_slot).data());
  // Samples 0..3 then 4..7 (IntSource's data is the sample number).
  EXPECT_EQ(reinterpret_cast<const float*>(first->payload().data())[0], 0.0f);
  EXPECT_EQ(reinterpret_cast<const float*>(second->payload().data())[0], 4.0f);
}

TEST_F(SharedMemorySessionTest, HeapBatchIsNotInTheRegion) {
  Batch heap({{DType::kFloat32, {kBatchSize}}},
             {{DType::kFloat32, {kBatchSize}}});
  EXPECT_EQ(session_->SlotOf(heap), -1);
}

TEST_F(SharedMemorySessionTest, ReleasingTheWindowUnblocksTheProducer) {
  FillRegionWithHeldBatches();
  session_->ReleaseHeldBatches();
  EXPECT_TRUE(ReturnsInTime([this] { Take(); }));
}

TEST_F(SharedMemorySessionTest, CloseWhileProducerWaitsForAHeldSlotReturns) {
  FillRegionWithHeldBatches();
  std::weak_ptr<IteratorSession> weak = session_;
  const std::string handle = session_->handle();
  session_.reset();
  EXPECT_TRUE(ReturnsInTime(
      [this, &handle] { registry_.Remove(handle, "closed", false); }));
  EXPECT_TRUE(weak.expired());  // The pipeline was destroyed, not stuck.
}

TEST_F(SharedMemorySessionTest,
       CloseWhileSlotsAreHeldOutsideTheSessionReturns) {
  // As a gRPC slice still holding a batch: the session cannot release it, so
  // the pool's cancellation must wake the producer.
  std::shared_ptr<const Batch> first = Take();
  std::shared_ptr<const Batch> second = Take();
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(pool_->free_buffers(), 0);
  const std::string handle = session_->handle();
  session_.reset();
  EXPECT_TRUE(ReturnsInTime(
      [this, &handle] { registry_.Remove(handle, "closed", false); }));
  // The region outlives the pipeline while these still point into it.
  EXPECT_EQ(reinterpret_cast<const float*>(second->payload().data())[0], 4.0f);
}

TEST_F(SharedMemorySessionTest, ResetAfterReleasingTheWindowReturns) {
  FillRegionWithHeldBatches();
  EXPECT_TRUE(ReturnsInTime([this] {
    session_->ReleaseHeldBatches();
    EXPECT_TRUE(session_->pipeline().Reset(2).ok());
  }));
  std::shared_ptr<const Batch> batch = Take();
  EXPECT_GE(session_->SlotOf(*batch), 0);
}

TEST(SharedMemoryExpiryTest, IdleIteratorHoldingAFullRegionExpires) {
  ThreadPool thread_pool(2);
  RegistryOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  IteratorRegistry registry(options);
  SessionSharedMemory memory;
  auto added = registry.Add(MakeRegionPipeline(&thread_pool, 2, &memory), "c",
                            "inline", 0, memory);
  ASSERT_TRUE(added.ok());
  for (int i = 0; i < 2; ++i) {
    std::shared_ptr<const Batch> batch;
    bool end = false;
    ASSERT_TRUE((*added)->pipeline().Next(&batch, &end).ok());
    (*added)->HoldBatch(batch);
  }
  std::weak_ptr<IteratorSession> weak = *added;
  added = absl::UnknownError("dropped");  // Only the registry holds it now.
  memory = {};
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!weak.expired() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(registry.stats().iterators_expired, 1);
}

}  // namespace
}  // namespace iterd::service
