// ShardedIterator's planning without daemons: argument checks, address
// resolution (sorted, deduplicated, as the Python client does) and the
// per-part / per-trainer counts of ceil_split_sizes / batches_of.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/cpp/sharded_iterator.h"
#include "client/cpp/sharded_iterator_test_util.h"
#include "gtest/gtest.h"

namespace iterd::client::sharded_testing {
namespace {

TEST(ShardedIteratorArgumentsTest, BadRankCsvAndPresetPartsAreRefused) {
  const std::vector<std::string> addresses = {"127.0.0.1:1"};
  iterd::v1::PipelineConfig config = RecordConfig("labelled", kBatch);
  EXPECT_EQ(ShardedIterator::Create(addresses, 2, 2, config).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.mutable_image_record()->set_num_parts(4);
  absl::Status preset =
      ShardedIterator::Create(addresses, 0, 2, config).status();
  EXPECT_TRUE(absl::StrContains(preset.message(), "num_parts")) << preset;
  iterd::v1::PipelineConfig csv;
  csv.mutable_csv()->set_batch_size(2);
  EXPECT_EQ(ShardedIterator::Create(addresses, 0, 1, csv).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveDaemonsTest, SortsNumericallyAndDeduplicates) {
  absl::StatusOr<std::vector<std::string>> resolved =
      ResolveDaemons({"127.0.0.10:5, 127.0.0.9:5,[::1]:7", "127.0.0.9:5"});
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  // What Python's resolve_daemons gives for the same entries.
  EXPECT_EQ(*resolved, std::vector<std::string>(
                           {"127.0.0.9:5", "127.0.0.10:5", "[::1]:7"}));
  absl::StatusOr<std::vector<std::string>> local =
      ResolveDaemons({"localhost:7"});
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_EQ(local->front(), "127.0.0.1:7");
  absl::Status malformed = ResolveDaemons({"127.0.0.1:1,nohost"}).status();
  EXPECT_EQ(malformed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(malformed.message(), "'nohost'")) << malformed;
}

TEST(ResolveDaemonsTest, RemembersTheNameEachAddressCameFrom) {
  std::map<std::string, std::string> host_names;
  absl::StatusOr<std::vector<std::string>> resolved =
      ResolveDaemons({"localhost:7,127.0.0.9:5"}, &host_names);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  // With TLS the daemon at 127.0.0.1:7 is checked against "localhost"; an IP
  // given as such has no name to check against but itself.
  EXPECT_EQ(host_names.at("127.0.0.1:7"), "localhost");
  EXPECT_EQ(host_names.count("127.0.0.9:5"), 0u);
}

// (N, D, W, batch) -> parts and per-trainer counts, as printed by the Python
// client's ceil_split_sizes / batches_of for the same cases.
struct PlanCase {
  int64_t records;
  int daemons;
  int world_size;
  int64_t batch;
  std::vector<int64_t> parts;
  std::vector<int64_t> padded;     // Short batches count.
  std::vector<int64_t> discarded;  // Short batches dropped.
};

TEST(ShardedPlanTest, PartsAndCountsMatchThePythonClient) {
  const std::vector<PlanCase> cases = {
      {50, 3, 2, 4, {9, 9, 9, 9, 9, 5}, {9, 8}, {6, 5}},
      {120, 3, 2, 2, {20, 20, 20, 20, 20, 20}, {30, 30}, {30, 30}},
      {7, 2, 3, 2, {2, 2, 2, 1, 0, 0}, {2, 2, 0}, {2, 1, 0}},
      {1000,
       4,
       4,
       32,
       {63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 55},
       {8, 8, 8, 8},
       {4, 4, 4, 4}},
      {5, 3, 2, 4, {1, 1, 1, 1, 1, 0}, {3, 2}, {0, 0}},
      {10, 1, 1, 3, {10}, {4}, {3}},
      {101,
       2,
       5,
       3,
       {11, 11, 11, 11, 11, 11, 11, 11, 11, 2},
       {8, 8, 8, 8, 5},
       {6, 6, 6, 6, 3}},
  };
  for (const PlanCase& c : cases) {
    const std::vector<int64_t> parts =
        CeilSplitSizes(c.records, c.daemons * c.world_size);
    EXPECT_EQ(parts, c.parts) << "N=" << c.records;
    EXPECT_EQ(TrainerBatchCounts(parts, c.daemons, c.world_size, c.batch,
                                 /*discard_short=*/false),
              c.padded)
        << "N=" << c.records;
    EXPECT_EQ(TrainerBatchCounts(parts, c.daemons, c.world_size, c.batch,
                                 /*discard_short=*/true),
              c.discarded)
        << "N=" << c.records;
  }
}

}  // namespace
}  // namespace iterd::client::sharded_testing
