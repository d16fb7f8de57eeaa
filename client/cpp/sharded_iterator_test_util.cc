// Shared helpers of the ShardedIterator tests.

#include "client/cpp/sharded_iterator_test_util.h"

#include <sys/stat.h>

#include <cstdlib>
#include <numeric>
#include <opencv2/core.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/image/pack_img.h"
#include "common/recordio/irheader.h"
#include "common/recordio/writer.h"

namespace iterd::client::sharded_testing {

std::string TempDir() {
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  return tmpdir == nullptr ? "/tmp" : tmpdir;
}

std::string DataRoot() { return TempDir() + "/data_root"; }

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

Daemons* ShardedIteratorTest::shared_ = nullptr;

void ShardedIteratorTest::SetUpTestSuite() {
  mkdir(DataRoot().c_str(), 0755);
  ASSERT_TRUE(WriteLabelledRec("labelled", kRecords));
  ASSERT_TRUE(WriteLabelledRec("big", kBigRecords));
  shared_ = new Daemons(StartDaemons("shared"));
  ASSERT_EQ(shared_->size(), static_cast<size_t>(kDaemons))
      << "server/iterd did not start";
}

void ShardedIteratorTest::TearDownTestSuite() {
  delete shared_;
  shared_ = nullptr;
}

void ShardedIteratorTest::SetUp() {
  ASSERT_EQ(shared_->size(), static_cast<size_t>(kDaemons));
}

}  // namespace iterd::client::sharded_testing
