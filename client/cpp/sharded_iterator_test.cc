// ShardedIterator against 3 real daemons (server/iterd on 127.0.0.1) sharing
// one data root that holds small real-JPEG .rec files whose record i has
// label i; two trainers (rank 0 and 1 of world_size 2, each in its own
// thread) read them. Checks exactly-once coverage per epoch, equal batch
// counts for pad and discard, even load, a killed daemon (fail fast names it,
// reassign completes the epoch), and that a C++ and a Python trainer agree.

#include "client/cpp/sharded_iterator.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <opencv2/core.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/image/pack_img.h"
#include "common/recordio/irheader.h"
#include "common/recordio/writer.h"
#include "gtest/gtest.h"
#include "tests/cpp/daemon_process.h"

namespace iterd::client {
namespace {

constexpr int kDaemons = 3;
constexpr int kWorldSize = 2;
constexpr int kRecords = 50;  // P = 6 parts of ceil(50 / 6) = 9: 9 x 5, 5.
constexpr int kBatch = 4;
constexpr int kBigRecords = 120;  // 20 records = 10 batches of 2 per part.
constexpr int kSide = 16;

std::string TempDir() {
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  return tmpdir == nullptr ? "/tmp" : tmpdir;
}

std::string DataRoot() { return TempDir() + "/data_root"; }

using Daemons = std::vector<std::unique_ptr<test_support::DaemonProcess>>;

// kDaemons daemons on DataRoot(), stderr to iterd_<tag><d>.stderr; empty (and
// a test failure naming the reason) if one does not start.
Daemons StartDaemons(const std::string& tag) {
  Daemons daemons;
  for (int d = 0; d < kDaemons; ++d) {
    test_support::DaemonOptions options;
    options.data_root = DataRoot();
    options.stderr_log_path =
        absl::StrCat(TempDir(), "/iterd_", tag, d, ".stderr");
    daemons.push_back(std::make_unique<test_support::DaemonProcess>());
    const absl::Status started = daemons.back()->Start(options);
    if (!started.ok()) {
      ADD_FAILURE() << "daemon " << d << ": " << started;
      return {};
    }
  }
  return daemons;
}

std::vector<std::string> AddressesOf(const Daemons& daemons) {
  std::vector<std::string> addresses;
  for (const auto& daemon : daemons) addresses.push_back(daemon->address());
  return addresses;
}

// `count` 16x16 JPEG records (key and label i, colour from i) with an .idx.
bool WriteLabelledRec(const std::string& stem, int count) {
  auto writer = recordio::IndexedRecordWriter::Create(
      absl::StrCat(DataRoot(), "/", stem, ".rec"),
      absl::StrCat(DataRoot(), "/", stem, ".idx"));
  if (!writer.ok()) return false;
  for (int i = 0; i < count; ++i) {
    recordio::IRHeader header;
    header.label = static_cast<float>(i);
    header.id = static_cast<uint64_t>(i);
    const cv::Mat image(kSide, kSide, CV_8UC3,
                        cv::Scalar(i * 5 % 256, i * 11 % 256, i * 17 % 256));
    absl::StatusOr<std::string> record = image::PackImage(header, image);
    if (!record.ok() || !(*writer)->Write(absl::StrCat(i), *record).ok()) {
      return false;
    }
  }
  return (*writer)->Close().ok();
}

iterd::v1::PipelineConfig RecordConfig(const std::string& stem, int batch) {
  iterd::v1::PipelineConfig config;
  iterd::v1::ImageRecordConfig* record = config.mutable_image_record();
  record->set_path_imgrec(stem + ".rec");
  record->set_path_imgidx(stem + ".idx");
  for (int64_t size : {3, kSide, kSide}) record->add_data_shape(size);
  record->set_batch_size(batch);
  return config;
}

// Labels of the real rows (pad rows excluded), and of all rows.
std::vector<int> RealLabels(const Batch& batch) {
  std::vector<int> labels;
  const auto values = batch.label[0].values<float>();
  for (size_t i = 0; i + batch.pad < values.size(); ++i) {
    labels.push_back(static_cast<int>(values[i] + 0.5f));
  }
  return labels;
}

std::vector<int> AllLabels(const Batch& batch) {
  std::vector<int> labels;
  for (float value : batch.label[0].values<float>()) {
    labels.push_back(static_cast<int>(value + 0.5f));
  }
  return labels;
}

// One epoch of `iterator`: its batches, or the first error.
absl::StatusOr<std::vector<Batch>> ReadEpoch(ShardedIterator* iterator) {
  std::vector<Batch> batches;
  for (;;) {
    Batch batch;
    absl::StatusOr<bool> more = iterator->Next(&batch);
    if (!more.ok()) return more.status();
    if (!*more) return batches;
    batches.push_back(std::move(batch));
  }
}

struct TrainerRun {
  absl::Status status;
  std::unique_ptr<ShardedIterator> iterator;
  std::vector<std::vector<Batch>> epochs;
};

// Each trainer in its own thread: Create, then `epochs` epochs.
std::vector<TrainerRun> RunTrainers(const std::vector<std::string>& addresses,
                                    const iterd::v1::PipelineConfig& config,
                                    const ShardedIteratorOptions& options,
                                    int epochs) {
  std::vector<TrainerRun> runs(kWorldSize);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kWorldSize; ++rank) {
    threads.emplace_back([&, rank] {
      TrainerRun& run = runs[rank];
      absl::StatusOr<std::unique_ptr<ShardedIterator>> iterator =
          ShardedIterator::Create(addresses, rank, kWorldSize, config, options);
      if (!iterator.ok()) {
        run.status = iterator.status();
        return;
      }
      run.iterator = *std::move(iterator);
      for (int epoch = 0; epoch < epochs; ++epoch) {
        if (epoch > 0) run.status = run.iterator->Reset();
        absl::StatusOr<std::vector<Batch>> batches =
            run.status.ok() ? ReadEpoch(run.iterator.get())
                            : absl::StatusOr<std::vector<Batch>>(run.status);
        if (!batches.ok()) {
          run.status = batches.status();
          return;
        }
        run.epochs.push_back(*std::move(batches));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return runs;
}

std::vector<int> EpochLabels(const std::vector<Batch>& batches) {
  std::vector<int> labels;
  for (const Batch& batch : batches) {
    for (int label : RealLabels(batch)) labels.push_back(label);
  }
  return labels;
}

std::vector<int> Range(int count) {
  std::vector<int> values(count);
  std::iota(values.begin(), values.end(), 0);
  return values;
}

class ShardedIteratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mkdir(DataRoot().c_str(), 0755);
    ASSERT_TRUE(WriteLabelledRec("labelled", kRecords));
    ASSERT_TRUE(WriteLabelledRec("big", kBigRecords));
    shared_ = new Daemons(StartDaemons("shared"));
    ASSERT_EQ(shared_->size(), static_cast<size_t>(kDaemons))
        << "server/iterd did not start";
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(shared_->size(), static_cast<size_t>(kDaemons));
  }

  static Daemons* shared_;
};

Daemons* ShardedIteratorTest::shared_ = nullptr;

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
}  // namespace iterd::client
