#include "tools/im2rec/ordered_pipeline.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

TEST(OrderedPipelineTest, ConsumesInIndexOrderDespiteUnevenWork) {
  std::vector<std::string> consumed;
  const absl::Status status = RunOrdered(
      200, 4, 8,
      [](size_t i) -> absl::StatusOr<std::string> {
        // Early indices are the slowest, so later ones finish first.
        if (i % 7 == 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        return absl::StrCat(i);
      },
      [&](size_t i, absl::StatusOr<std::string> result) {
        EXPECT_EQ(*result, absl::StrCat(i));
        consumed.push_back(*result);
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(consumed.size(), 200u);
  for (size_t i = 0; i < consumed.size(); ++i) {
    EXPECT_EQ(consumed[i], absl::StrCat(i));
  }
}

TEST(OrderedPipelineTest, NeverRunsMoreThanTheWindowAhead) {
  std::atomic<size_t> consumed{0};
  std::atomic<size_t> max_ahead{0};
  const absl::Status status = RunOrdered(
      100, 3, 5,
      [&](size_t i) -> absl::StatusOr<std::string> {
        const size_t ahead = i - consumed.load();
        size_t seen = max_ahead.load();
        while (ahead > seen && !max_ahead.compare_exchange_weak(seen, ahead)) {
        }
        return std::string();
      },
      [&](size_t, absl::StatusOr<std::string>) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        ++consumed;
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok());
  EXPECT_LT(max_ahead.load(), 5u);
}

TEST(OrderedPipelineTest, ProducerErrorsReachTheConsumerInPlace) {
  std::vector<bool> ok;
  const absl::Status status = RunOrdered(
      6, 2, 4,
      [](size_t i) -> absl::StatusOr<std::string> {
        if (i == 3) return absl::InvalidArgumentError("bad image 3");
        return std::string("fine");
      },
      [&](size_t, absl::StatusOr<std::string> result) {
        ok.push_back(result.ok());
        return absl::OkStatus();
      });
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(ok, ::testing::ElementsAre(true, true, true, false, true, true));
}

TEST(OrderedPipelineTest, ConsumerErrorStopsTheRunAndIsReturned) {
  std::atomic<int> produced{0};
  const absl::Status status = RunOrdered(
      10000, 2, 4,
      [&](size_t) -> absl::StatusOr<std::string> {
        ++produced;
        return std::string();
      },
      [](size_t i, absl::StatusOr<std::string>) {
        return i == 10 ? absl::DataLossError("disk full") : absl::OkStatus();
      });
  EXPECT_TRUE(absl::IsDataLoss(status));
  EXPECT_LE(produced.load(), 10 + 4);
}

}  // namespace
}  // namespace iterd::im2rec
