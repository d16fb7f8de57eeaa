// ShardedIterator against 3 real daemons (server/iterd on 127.0.0.1) sharing
// one data root that holds small real-JPEG .rec files whose record i has
// label i; two trainers (rank 0 and 1 of world_size 2, each in its own
// thread) read them. Checks exactly-once coverage per epoch, equal batch
// counts for pad and discard, even load, named pipelines, and that a C++ and
// a Python trainer agree. Daemon failures: sharded_iterator_failure_test.cc.

#include "client/cpp/sharded_iterator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/cpp/sharded_iterator_test_util.h"
#include "gtest/gtest.h"

namespace iterd::client::sharded_testing {
namespace {

TEST_F(ShardedIteratorTest,
       TwoTrainersOnThreeDaemonsGetEveryRecordOncePerEpoch) {
  iterd::v1::PipelineConfig config = RecordConfig("labelled", kBatch);
  config.mutable_image_record()->set_shuffle(true);
  std::vector<TrainerRun> runs =
      RunTrainers(AddressesOf(*shared_), config, {}, /*epochs=*/2);
  for (const TrainerRun& run : runs) ASSERT_TRUE(run.status.ok()) << run.status;
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<int> rank0 = EpochLabels(runs[0].epochs[epoch]);
    std::vector<int> rank1 = EpochLabels(runs[1].epochs[epoch]);
    std::vector<int> merged = rank0;
    merged.insert(merged.end(), rank1.begin(), rank1.end());
    std::sort(merged.begin(), merged.end());
    EXPECT_EQ(merged, Range(kRecords)) << "epoch " << epoch;
  }
  EXPECT_EQ(runs[0].iterator->part_indices(), std::vector<int>({0, 1, 2}));
  EXPECT_EQ(runs[1].iterator->part_indices(), std::vector<int>({3, 4, 5}));
}

TEST_F(ShardedIteratorTest, PadGivesBothTrainersTheLargestCountWithRealFiller) {
  std::vector<TrainerRun> runs = RunTrainers(
      AddressesOf(*shared_), RecordConfig("labelled", kBatch), {}, 1);
  for (const TrainerRun& run : runs) ASSERT_TRUE(run.status.ok()) << run.status;
  // Parts 9,9,9 | 9,9,5 records: 3+3+3 = 9 and 3+3+2 = 8; rank 1 pads to 9.
  EXPECT_EQ(runs[0].iterator->trainer_batches(), std::vector<int64_t>({9, 8}));
  EXPECT_EQ(runs[0].epochs[0].size(), 9u);
  EXPECT_EQ(runs[1].epochs[0].size(), 9u);
  EXPECT_EQ(runs[1].iterator->batches_per_epoch(), 9);
  const Batch& filler = runs[1].epochs[0].back();
  EXPECT_EQ(filler.pad, kBatch);
  // Filler rows and the pad rows of short batches hold the trainer's own
  // real samples (wrap-around), never zeros of another part.
  const std::vector<int> real = EpochLabels(runs[1].epochs[0]);
  const std::set<int> own(real.begin(), real.end());
  for (const Batch& batch : runs[1].epochs[0]) {
    for (int label : AllLabels(batch)) EXPECT_EQ(own.count(label), 1u) << label;
  }
}

TEST_F(ShardedIteratorTest, DiscardGivesBothTrainersTheSmallestCount) {
  ShardedIteratorOptions options;
  options.balance = BalanceMode::kDiscard;
  std::vector<TrainerRun> runs = RunTrainers(
      AddressesOf(*shared_), RecordConfig("labelled", kBatch), options, 2);
  for (const TrainerRun& run : runs) ASSERT_TRUE(run.status.ok()) << run.status;
  for (int epoch = 0; epoch < 2; ++epoch) {
    EXPECT_EQ(runs[0].epochs[epoch].size(), 8u);
    EXPECT_EQ(runs[1].epochs[epoch].size(), 8u);
    std::vector<int> merged = EpochLabels(runs[0].epochs[epoch]);
    std::vector<int> rank1 = EpochLabels(runs[1].epochs[epoch]);
    merged.insert(merged.end(), rank1.begin(), rank1.end());
    EXPECT_EQ(std::set<int>(merged.begin(), merged.end()).size(), merged.size())
        << "a record reached two trainers";
  }
}

TEST_F(ShardedIteratorTest, LoadIsEvenOverTheDaemons) {
  std::vector<TrainerRun> runs = RunTrainers(
      AddressesOf(*shared_), RecordConfig("labelled", kBatch), {}, 1);
  for (const TrainerRun& run : runs) ASSERT_TRUE(run.status.ok()) << run.status;
  std::vector<int64_t> served(kDaemons, 0);
  for (const TrainerRun& run : runs) {
    for (int d = 0; d < kDaemons; ++d) {
      served[d] += run.iterator->daemon_batches()[d];
    }
  }
  // Daemon d serves parts d and d + 3: 3 + 3, 3 + 3, 3 + 2 batches.
  EXPECT_EQ(served, std::vector<int64_t>({6, 6, 5}));
}

TEST_F(ShardedIteratorTest,
       InlineNDArrayPartsCoverEveryRowOnceWithEqualCounts) {
  // data[i] = label[i] = i, 10 rows, batch 3: parts of 2,2,2 | 2,2,0 rows give
  // 3 and 2 batches; pad evens them at 3.
  constexpr int kRows = 10;
  std::vector<float> values(kRows);
  std::iota(values.begin(), values.end(), 0.0f);
  iterd::v1::PipelineConfig config;
  iterd::v1::NDArrayConfig* ndarray = config.mutable_ndarray();
  for (const char* name : {"data", "softmax_label"}) {
    iterd::v1::ArraySource* source = std::string(name) == "data"
                                         ? ndarray->add_data()
                                         : ndarray->add_label();
    source->set_name(name);
    source->mutable_inline_()->set_dtype(iterd::v1::FLOAT32);
    source->mutable_inline_()->add_shape(kRows);
  }
  ndarray->set_batch_size(3);
  const absl::Span<const uint8_t> bytes(
      reinterpret_cast<const uint8_t*>(values.data()),
      values.size() * sizeof(float));
  ShardedIteratorOptions options;
  options.inline_arrays = {bytes, bytes};
  std::vector<TrainerRun> runs =
      RunTrainers(AddressesOf(*shared_), config, options, 2);
  for (const TrainerRun& run : runs) ASSERT_TRUE(run.status.ok()) << run.status;
  EXPECT_EQ(runs[0].iterator->trainer_batches(), std::vector<int64_t>({3, 2}));
  for (int epoch = 0; epoch < 2; ++epoch) {
    EXPECT_EQ(runs[0].epochs[epoch].size(), 3u);
    EXPECT_EQ(runs[1].epochs[epoch].size(), 3u);
    std::vector<int> merged = EpochLabels(runs[0].epochs[epoch]);
    std::vector<int> rank1 = EpochLabels(runs[1].epochs[epoch]);
    merged.insert(merged.end(), rank1.begin(), rank1.end());
    std::sort(merged.begin(), merged.end());
    EXPECT_EQ(merged, Range(kRows)) << "epoch " << epoch;
  }
}

TEST_F(ShardedIteratorTest, UnknownPipelineNameIsNotFound) {
  absl::StatusOr<std::unique_ptr<ShardedIterator>> iterator =
      ShardedIterator::CreateNamed(AddressesOf(*shared_), 0, kWorldSize,
                                   "no_such_pipeline");
  EXPECT_EQ(iterator.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      absl::StrContains(iterator.status().message(), "no_such_pipeline"));
}

// The Python trainer of the mixed test: rank and balance from argv, one
// epoch of iterd.ImageRecordIter over the daemons, then "key values..." lines.
constexpr char kPythonTrainer[] = R"(
import sys
import numpy as np
import iterd
addresses, rank, world_size, batch, balance = sys.argv[1:6]
it = iterd.ImageRecordIter(
    path_imgrec="labelled.rec", path_imgidx="labelled.idx",
    data_shape=(3, 16, 16), batch_size=int(batch), server=addresses.split(","),
    rank=int(rank), world_size=int(world_size), balance=balance)
labels, count = [], 0
for b in it:
    count += 1
    column = np.asarray(b.label[0]).reshape(b.label[0].shape[0], -1)[:, 0]
    labels.extend(int(round(v)) for v in column[:column.shape[0] - (b.pad or 0)])
print("batches_per_epoch", it.batches_per_epoch)
print("trainer_batches", *it.trainer_batches)
print("count", count)
print("labels", *labels)
print("parts", *["%d=%s" % kv for kv in sorted(it.part_addresses().items())])
it.close()
)";

// Runs the Python trainer; its output lines as {key: values}.
std::map<std::string, std::vector<std::string>> RunPythonTrainer(
    const std::string& python, const std::vector<std::string>& addresses,
    int rank, const std::string& balance) {
  const std::string script = TempDir() + "/python_trainer.py";
  std::ofstream(script) << kPythonTrainer;
  const std::string command =
      absl::StrCat(python, " ", script, " ", absl::StrJoin(addresses, ","), " ",
                   rank, " ", kWorldSize, " ", kBatch, " ", balance, " 2>",
                   TempDir(), "/python_trainer.stderr");
  std::map<std::string, std::vector<std::string>> output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  std::string text;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) text += buffer;
  pclose(pipe);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> words =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    const std::string key = words.front();
    output[key] = std::vector<std::string>(words.begin() + 1, words.end());
  }
  return output;
}

std::vector<int64_t> Numbers(const std::vector<std::string>& words) {
  std::vector<int64_t> numbers;
  for (const std::string& word : words) {
    int64_t number = -1;
    EXPECT_TRUE(absl::SimpleAtoi(word, &number)) << word;
    numbers.push_back(number);
  }
  return numbers;
}

// A C++ trainer (rank 0) and a Python trainer (rank 1) of one job: same
// parts, same counts, every record once. Needs $ITERD_TEST_PYTHON, a Python
// with the iterd client installed (--test_env=ITERD_TEST_PYTHON=...).
TEST_F(ShardedIteratorTest, CppAndPythonTrainersShareOneJobExactlyOnce) {
  const char* python = std::getenv("ITERD_TEST_PYTHON");
  if (python == nullptr) {
    GTEST_SKIP() << "set --test_env=ITERD_TEST_PYTHON=<python with iterd>";
  }
  for (const std::string balance : {"pad", "discard"}) {
    SCOPED_TRACE(balance);
    ShardedIteratorOptions options;
    options.balance =
        balance == "pad" ? BalanceMode::kPad : BalanceMode::kDiscard;
    std::map<std::string, std::vector<std::string>> py;
    std::thread python_trainer([&] {
      py = RunPythonTrainer(python, AddressesOf(*shared_), 1, balance);
    });
    absl::StatusOr<std::unique_ptr<ShardedIterator>> cpp =
        ShardedIterator::Create(AddressesOf(*shared_), 0, kWorldSize,
                                RecordConfig("labelled", kBatch), options);
    absl::StatusOr<std::vector<Batch>> batches =
        cpp.ok() ? ReadEpoch(cpp->get())
                 : absl::StatusOr<std::vector<Batch>>(cpp.status());
    python_trainer.join();
    ASSERT_TRUE(batches.ok()) << batches.status();
    ASSERT_EQ(py.count("labels"), 1u)
        << "the Python trainer failed: see python_trainer.stderr";
    EXPECT_EQ(Numbers(py["trainer_batches"]), (*cpp)->trainer_batches());
    EXPECT_EQ(Numbers(py["batches_per_epoch"]),
              std::vector<int64_t>({*(*cpp)->batches_per_epoch()}));
    EXPECT_EQ(Numbers(py["count"]),
              std::vector<int64_t>({static_cast<int64_t>(batches->size())}));
    const std::vector<std::string>& sorted = (*cpp)->addresses();
    EXPECT_EQ(py["parts"],
              std::vector<std::string>(
                  {"3=" + sorted[0], "4=" + sorted[1], "5=" + sorted[2]}));
    std::vector<int> merged = EpochLabels(*batches);
    for (int64_t label : Numbers(py["labels"])) {
      merged.push_back(static_cast<int>(label));
    }
    std::sort(merged.begin(), merged.end());
    if (balance == "pad") {
      EXPECT_EQ(merged, Range(kRecords));
    } else {
      EXPECT_EQ(std::set<int>(merged.begin(), merged.end()).size(),
                merged.size());
    }
  }
}

}  // namespace
}  // namespace iterd::client::sharded_testing
