// ShardedIterator when a real daemon (server/iterd on 127.0.0.1) dies: a
// daemon killed mid-epoch makes the fail mode end the epoch with an error
// naming it and the reassign mode complete the epoch exactly once; a daemon
// dead at Create fails it or is reassigned.

#include <signal.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "client/cpp/sharded_iterator.h"
#include "client/cpp/sharded_iterator_test_util.h"
#include "gtest/gtest.h"

namespace iterd::client::sharded_testing {
namespace {

// Both trainers created, 4 batches read from each, then daemon 1 killed.
struct KilledRun {
  Daemons daemons;
  std::vector<std::unique_ptr<ShardedIterator>> trainers;
  std::vector<std::vector<int>> labels;
  std::string killed;  // The address of daemon 1 in the trainers' order.
};

void StartAndKillDaemonOne(DaemonFailureMode mode, KilledRun* run) {
  run->daemons = StartDaemons(mode == DaemonFailureMode::kFail ? "fail" : "re");
  ASSERT_EQ(run->daemons.size(), static_cast<size_t>(kDaemons));
  ShardedIteratorOptions options;
  options.on_daemon_failure = mode;
  options.client_options.connect_timeout = absl::Milliseconds(500);
  run->labels.resize(kWorldSize);
  for (int rank = 0; rank < kWorldSize; ++rank) {
    absl::StatusOr<std::unique_ptr<ShardedIterator>> iterator =
        ShardedIterator::Create(AddressesOf(run->daemons), rank, kWorldSize,
                                RecordConfig("big", 2), options);
    ASSERT_TRUE(iterator.ok()) << iterator.status();
    run->trainers.push_back(*std::move(iterator));
    for (int n = 0; n < 4; ++n) {
      Batch batch;
      ASSERT_TRUE(*run->trainers.back()->Next(&batch));
      for (int label : RealLabels(batch)) run->labels[rank].push_back(label);
    }
  }
  run->killed = run->trainers[0]->addresses()[1];
  for (auto& daemon : run->daemons) {
    if (daemon->address() == run->killed) {
      ASSERT_TRUE(daemon->Stop(SIGKILL).ok());
    }
  }
}

TEST_F(ShardedIteratorTest, KilledDaemonFailsFastNamingItsAddressAndPart) {
  KilledRun run;
  StartAndKillDaemonOne(DaemonFailureMode::kFail, &run);
  const std::string& killed = run.killed;
  absl::StatusOr<std::vector<Batch>> rest = ReadEpoch(run.trainers[0].get());
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(rest.status().message(), killed))
      << rest.status();
  EXPECT_TRUE(absl::StrContains(rest.status().message(), "part 1 of 6"))
      << rest.status();
  Batch batch;
  EXPECT_EQ(run.trainers[0]->Next(&batch).status(), rest.status())
      << "the error ends the epoch until Reset()";
}

TEST_F(ShardedIteratorTest, ReassignCompletesTheEpochsExactlyOnce) {
  KilledRun run;
  StartAndKillDaemonOne(DaemonFailureMode::kReassign, &run);
  const std::string& killed = run.killed;
  std::vector<int> merged;
  for (int rank = 0; rank < kWorldSize; ++rank) {
    absl::StatusOr<std::vector<Batch>> rest =
        ReadEpoch(run.trainers[rank].get());
    ASSERT_TRUE(rest.ok()) << rest.status();
    EXPECT_EQ(rest->size() + 4, 30u);
    std::vector<int> labels = EpochLabels(*rest);
    merged.insert(merged.end(), run.labels[rank].begin(),
                  run.labels[rank].end());
    merged.insert(merged.end(), labels.begin(), labels.end());
    EXPECT_EQ(run.trainers[rank]->failed_daemons(),
              std::set<std::string>({killed}));
    for (const std::string& address : run.trainers[rank]->part_addresses()) {
      EXPECT_NE(address, killed);
    }
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, Range(kBigRecords));
  // The next epoch runs on the two survivors alone.
  merged.clear();
  for (int rank = 0; rank < kWorldSize; ++rank) {
    ASSERT_TRUE(run.trainers[rank]->Reset().ok());
    absl::StatusOr<std::vector<Batch>> epoch =
        ReadEpoch(run.trainers[rank].get());
    ASSERT_TRUE(epoch.ok()) << epoch.status();
    std::vector<int> labels = EpochLabels(*epoch);
    merged.insert(merged.end(), labels.begin(), labels.end());
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, Range(kBigRecords));
}

TEST_F(ShardedIteratorTest, DaemonDeadAtCreateFailsOrIsReassigned) {
  Daemons daemons = StartDaemons("dead");
  ASSERT_EQ(daemons.size(), static_cast<size_t>(kDaemons));
  absl::StatusOr<std::vector<std::string>> sorted =
      ResolveDaemons(AddressesOf(daemons));
  ASSERT_TRUE(sorted.ok()) << sorted.status();
  const std::vector<std::string>& addresses = *sorted;
  for (auto& daemon : daemons) {
    if (daemon->address() == addresses[2]) {
      ASSERT_TRUE(daemon->Stop(SIGKILL).ok());
    }
  }
  ShardedIteratorOptions options;
  options.client_options.connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<ShardedIterator>> failing =
      ShardedIterator::Create(addresses, 0, kWorldSize,
                              RecordConfig("labelled", kBatch), options);
  EXPECT_EQ(failing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(failing.status().message(), addresses[2]))
      << failing.status();
  options.on_daemon_failure = DaemonFailureMode::kReassign;
  std::vector<TrainerRun> runs =
      RunTrainers(addresses, RecordConfig("labelled", kBatch), options, 1);
  std::vector<int> merged;
  for (const TrainerRun& run : runs) {
    ASSERT_TRUE(run.status.ok()) << run.status;
    EXPECT_EQ(run.epochs[0].size(), 9u);
    std::vector<int> labels = EpochLabels(run.epochs[0]);
    merged.insert(merged.end(), labels.begin(), labels.end());
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, Range(kRecords));
}

}  // namespace
}  // namespace iterd::client::sharded_testing
