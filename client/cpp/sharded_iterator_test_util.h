// File: client/cpp/sharded_iterator_test_util.h
// Shared helpers of the ShardedIterator tests: a data root in TEST_TMPDIR with
// small real-JPEG .rec files whose record i has label i, real server/iterd
// daemons on 127.0.0.1 serving it, trainers (one thread per rank) reading
// epochs, and the fixture that starts kDaemons shared daemons once per suite.
// Test-only; functions are thread-compatible (RunTrainers joins its threads
// before returning) and return values the caller owns.

#ifndef ITERD_CLIENT_CPP_SHARDED_ITERATOR_TEST_UTIL_H_
#define ITERD_CLIENT_CPP_SHARDED_ITERATOR_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cpp/sharded_iterator.h"
#include "gtest/gtest.h"
#include "tests/cpp/daemon_process.h"

namespace iterd::client::sharded_testing {

inline constexpr int kDaemons = 3;
inline constexpr int kWorldSize = 2;
inline constexpr int kRecords =
    50;  // P = 6 parts of ceil(50 / 6) = 9: 9 x 5, 5.
inline constexpr int kBatch = 4;
inline constexpr int kBigRecords =
    120;  // 20 records = 10 batches of 2 per part.
inline constexpr int kSide = 16;

std::string TempDir();

std::string DataRoot();

using Daemons = std::vector<std::unique_ptr<test_support::DaemonProcess>>;

// kDaemons daemons on DataRoot(), stderr to iterd_<tag><d>.stderr; empty (and
// a test failure naming the reason) if one does not start.
Daemons StartDaemons(const std::string& tag);

std::vector<std::string> AddressesOf(const Daemons& daemons);

// `count` 16x16 JPEG records (key and label i, colour from i) with an .idx.
bool WriteLabelledRec(const std::string& stem, int count);

iterd::v1::PipelineConfig RecordConfig(const std::string& stem, int batch);

// Labels of the real rows (pad rows excluded), and of all rows.
std::vector<int> RealLabels(const Batch& batch);

std::vector<int> AllLabels(const Batch& batch);

// One epoch of `iterator`: its batches, or the first error.
absl::StatusOr<std::vector<Batch>> ReadEpoch(ShardedIterator* iterator);

struct TrainerRun {
  absl::Status status;
  std::unique_ptr<ShardedIterator> iterator;
  std::vector<std::vector<Batch>> epochs;
};

// Each trainer in its own thread: Create, then `epochs` epochs.
std::vector<TrainerRun> RunTrainers(const std::vector<std::string>& addresses,
                                    const iterd::v1::PipelineConfig& config,
                                    const ShardedIteratorOptions& options,
                                    int epochs);

// The real labels of a whole epoch, in batch order.
std::vector<int> EpochLabels(const std::vector<Batch>& batches);

// 0, 1, ..., count - 1.
std::vector<int> Range(int count);

// Writes labelled.rec (kRecords) and big.rec (kBigRecords) under DataRoot()
// and starts kDaemons daemons on it, shared by the suite's tests (shared_).
class ShardedIteratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static Daemons* shared_;
};

}  // namespace iterd::client::sharded_testing

#endif  // ITERD_CLIENT_CPP_SHARDED_ITERATOR_TEST_UTIL_H_
