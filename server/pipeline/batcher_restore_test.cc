// Save/restore of the Batcher under every last-batch policy: every position a
// run passes through, restored into a fresh batcher, gives the rest of the
// run byte for byte (server/pipeline/testing/restore_check.h).

#include <memory>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/testing/int_source.h"
#include "server/pipeline/testing/restore_check.h"

namespace iterd::pipeline {
namespace {

using testing::CheckSaveRestore;
using testing::IntSource;

class BatcherRestoreTest
    : public ::testing::TestWithParam<
          std::tuple<LastBatchPolicy, int64_t, int64_t, bool>> {};

TEST_P(BatcherRestoreTest, EveryPositionResumesTheRun) {
  const auto [policy, samples, batch_size, with_ids] = GetParam();
  if (policy == LastBatchPolicy::kRoundBatch && samples < batch_size) {
    GTEST_SKIP() << "round_batch wraps at most once: an error, as in MXNet";
  }
  const std::string failure = CheckSaveRestore([&] {
    auto batcher = Batcher::Create(
        {batch_size, policy}, std::make_unique<IntSource>(samples, with_ids));
    EXPECT_TRUE(batcher.ok()) << batcher.status();
    return std::unique_ptr<BatchIterator>(std::move(*batcher));
  });
  EXPECT_EQ(failure, "");
}

INSTANTIATE_TEST_SUITE_P(
    AllPolicies, BatcherRestoreTest,
    ::testing::Combine(
        ::testing::Values(LastBatchPolicy::kPad, LastBatchPolicy::kDiscard,
                          LastBatchPolicy::kRollOver,
                          LastBatchPolicy::kRollOverPadIsNew,
                          LastBatchPolicy::kRoundBatch,
                          LastBatchPolicy::kZeroFill),
        // Samples and batch sizes: a tail, an exact fit, a batch larger than
        // the data (pad tiles, roll_over spans epochs).
        ::testing::Values(int64_t{10}, int64_t{12}, int64_t{3}),
        ::testing::Values(int64_t{4}, int64_t{5}), ::testing::Bool()));

TEST(BatcherRestoreTest, RefusesPositionsTheStreamCannotHave) {
  auto batcher = Batcher::Create({4, LastBatchPolicy::kPad},
                                 std::make_unique<IntSource>(10));
  ASSERT_TRUE(batcher.ok());
  StreamPosition position;
  position.epoch_started = true;
  position.source.position = 11;  // Past the 10 samples.
  EXPECT_EQ((*batcher)->Restore(position).code(),
            absl::StatusCode::kInvalidArgument);
  position.source.position = 2;
  position.held_rows = 2;  // pad holds nothing back.
  EXPECT_EQ((*batcher)->Restore(position).code(),
            absl::StatusCode::kInvalidArgument);
  position.held_rows = 0;
  position.epoch = -1;
  EXPECT_EQ((*batcher)->Restore(position).code(),
            absl::StatusCode::kInvalidArgument);
  position.epoch = 0;
  ASSERT_TRUE((*batcher)->Restore(position).ok());
  std::shared_ptr<Batch> batch;
  bool end = false;
  ASSERT_TRUE((*batcher)->GetNext(&batch, &end).ok());
  EXPECT_EQ(batch->data(0).data_as<float>()[0], 2.0f);
}

}  // namespace
}  // namespace iterd::pipeline
