// Client and RemoteIterator against a real daemon: server/iterd is started on
// 127.0.0.1 with a temporary data root, once for the whole suite.

#include "client/cpp/client.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cpp/shared_daemon.h"

namespace iterd::client {
namespace {

constexpr int kSamples = 10;
constexpr int kFeatures = 2;
constexpr int kBatchSize = 3;

class ClientTest : public test_support::SharedDaemonTest {
 protected:
  void SetUp() override {
    SharedDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(daemon_address(), options_);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    // data[i][j] = 10 i + j, label[i] = i.
    for (int i = 0; i < kSamples; ++i) {
      for (int j = 0; j < kFeatures; ++j) data_.push_back(10.0f * i + j);
      label_.push_back(static_cast<float>(i));
    }
  }

  // NDArrayIter over inline data (10, 2) and label (10,), B=3, pad mode.
  absl::StatusOr<std::unique_ptr<RemoteIterator>> OpenInline() {
    const iterd::v1::OpenIterator open =
        test_support::InlineNDArrayOpen(kSamples, kFeatures, kBatchSize);
    const std::vector<absl::Span<const uint8_t>> arrays = {
        {reinterpret_cast<const uint8_t*>(data_.data()),
         data_.size() * sizeof(float)},
        {reinterpret_cast<const uint8_t*>(label_.data()),
         label_.size() * sizeof(float)}};
    return client_->Open(open, arrays);
  }

  ClientOptions options_;
  std::unique_ptr<Client> client_;
  std::vector<float> data_;
  std::vector<float> label_;
};

// The samples of the 4 batches of an epoch: [0,1,2] [3,4,5] [6,7,8] [9,0,1].
void ExpectPadModeEpoch(RemoteIterator& iterator, int64_t epoch) {
  for (int batch_number = 0; batch_number < 4; ++batch_number) {
    absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_TRUE(batch->has_value()) << "epoch " << epoch << " ended early";
    const Batch& value = **batch;
    EXPECT_EQ(value.epoch, epoch);
    EXPECT_EQ(value.pad, batch_number == 3 ? 2 : 0);
    ASSERT_EQ(value.data.size(), 1u);
    ASSERT_EQ(value.label.size(), 1u);
    EXPECT_EQ(value.data[0].shape, std::vector<int64_t>({3, 2}));
    EXPECT_EQ(value.label[0].shape, std::vector<int64_t>({3}));
    absl::Span<const float> data = value.data[0].values<float>();
    absl::Span<const float> label = value.label[0].values<float>();
    ASSERT_EQ(data.size(), 6u);
    ASSERT_EQ(label.size(), 3u);
    for (int row = 0; row < kBatchSize; ++row) {
      const int sample = (batch_number * kBatchSize + row) % kSamples;
      EXPECT_EQ(data[row * 2], 10.0f * sample) << "batch " << batch_number;
      EXPECT_EQ(data[row * 2 + 1], 10.0f * sample + 1);
      EXPECT_EQ(label[row], static_cast<float>(sample));
    }
  }
  absl::StatusOr<std::optional<Batch>> end = iterator.Next();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(end->has_value()) << "epoch " << epoch << " has a 5th batch";
}

TEST_F(ClientTest, InlineArraysInPadModeGiveExactValuesAndPadsOverTwoEpochs) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  ASSERT_EQ((*iterator)->provide_data().size(), 1);
  EXPECT_EQ((*iterator)->provide_data()[0].name(), "data");
  EXPECT_EQ((*iterator)->provide_data()[0].dtype(), iterd::v1::FLOAT32);
  EXPECT_EQ((*iterator)->provide_label().size(), 1);
  EXPECT_EQ((*iterator)->batch_size(), 3);
  ExpectPadModeEpoch(**iterator, 0);
  ASSERT_TRUE((*iterator)->Reset().ok());
  ExpectPadModeEpoch(**iterator, 1);
}

TEST_F(ClientTest, NextKeepsReturningEndOfEpochUntilReset) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  ExpectPadModeEpoch(**iterator, 0);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::optional<Batch>> end = (*iterator)->Next();
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_FALSE(end->has_value());
  }
  ASSERT_TRUE((*iterator)->Reset().ok());
  absl::StatusOr<std::optional<Batch>> first = (*iterator)->Next();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->has_value());
}

TEST_F(ClientTest, ResetInTheMiddleOfAFetchWindowKeepsTheIterator) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  // One batch read out of a window of 3: Reset must drain, not cancel.
  (*iterator)->set_max_batches(3);
  absl::StatusOr<std::optional<Batch>> first = (*iterator)->Next();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  ASSERT_TRUE((*iterator)->Reset().ok());
  ExpectPadModeEpoch(**iterator, 1);
}

TEST_F(ClientTest, ProtoTransportGivesTheSameBatchesAsRaw) {
  options_.transport = FetchTransport::kProto;
  absl::StatusOr<std::unique_ptr<Client>> proto_client =
      Client::Connect(daemon_address(), options_);
  ASSERT_TRUE(proto_client.ok()) << proto_client.status();
  client_ = *std::move(proto_client);
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  ExpectPadModeEpoch(**iterator, 0);
}

TEST_F(ClientTest, BatchOutlivesItsIterator) {
  std::optional<Batch> kept;
  {
    absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
    ASSERT_TRUE(iterator.ok()) << iterator.status();
    absl::StatusOr<std::optional<Batch>> batch = (*iterator)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    kept = std::move(*batch);
  }
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->data[0].values<float>()[2], 10.0f);
}

TEST_F(ClientTest, UnknownPipelineNameIsNotFoundWithTheServersMessage) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
      client_->OpenNamed("no_such_pipeline");
  ASSERT_FALSE(iterator.ok());
  EXPECT_EQ(iterator.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(
      absl::StrContains(iterator.status().message(), "no_such_pipeline"))
      << iterator.status();
}

TEST_F(ClientTest, WrongNumberOfInlineArraysIsInvalidArgument) {
  iterd::v1::OpenIterator open;
  iterd::v1::NDArrayConfig* config = open.mutable_config()->mutable_ndarray();
  config->add_data()->mutable_inline_()->add_shape(kSamples);
  config->set_batch_size(kBatchSize);
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
      client_->Open(open, {});
  EXPECT_EQ(iterator.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(iterator.status().message(), "inline arrays"));
}

TEST_F(ClientTest, ClosedIteratorIsFreedOnTheDaemonAndRefusesNext) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  absl::StatusOr<iterd::v1::GetServerStatsResponse> before = client_->Stats();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE((*iterator)->Close().ok());
  absl::StatusOr<iterd::v1::GetServerStatsResponse> after = client_->Stats();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->open_iterators(), before->open_iterators() - 1);
  EXPECT_EQ((*iterator)->Next().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*iterator)->Close().ok());
}

TEST_F(ClientTest, StatsCountTheBatchesTheDaemonProduced) {
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator = OpenInline();
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  ExpectPadModeEpoch(**iterator, 0);
  absl::StatusOr<iterd::v1::GetIteratorStatsResponse> stats =
      (*iterator)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  // The daemon may run ahead of the client, never behind it.
  EXPECT_GE(stats->batches_produced(), 4);
  EXPECT_EQ(stats->records_skipped(), 0);
  ASSERT_TRUE((*iterator)->Close().ok());
  EXPECT_EQ((*iterator)->Stats().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientTest, OpenConfigWithATwoValueImageShapeNamesTheField) {
  iterd::v1::PipelineConfig config;
  iterd::v1::ImageRecordConfig* image = config.mutable_image_record();
  image->set_path_imgrec("any.rec");
  image->add_data_shape(227);
  image->add_data_shape(227);
  image->set_batch_size(4);
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
      client_->OpenConfig(config);
  EXPECT_EQ(iterator.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(iterator.status().message(), "data_shape"))
      << iterator.status();
}

// Copies the MXNet reference f_images.rec (20 photos, labels 0..4) from the
// runfiles into the daemon's data root.
bool CopyReferenceImagesToDataRoot() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  if (srcdir == nullptr || tmpdir == nullptr) return false;
  std::ifstream in(
      absl::StrCat(srcdir,
                   "/iterd/tests/testdata/mxnet-reference/f_images.rec"),
      std::ios::binary);
  std::ofstream out(absl::StrCat(tmpdir, "/data_root/f_images.rec"),
                    std::ios::binary);
  out << in.rdbuf();
  return in.good() && out.good();
}

TEST_F(ClientTest, OpenConfigReadsAnImageRecordPipelineAsUint8Nhwc) {
  ASSERT_TRUE(CopyReferenceImagesToDataRoot());
  iterd::v1::PipelineConfig config;
  iterd::v1::ImageRecordConfig* image = config.mutable_image_record();
  image->set_path_imgrec("f_images.rec");
  for (int64_t size : {3, 64, 48}) image->add_data_shape(size);
  image->set_batch_size(5);
  image->set_resize(64);
  image->set_dtype(iterd::v1::UINT8);
  image->set_layout(iterd::v1::NHWC);
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
      client_->OpenConfig(config);
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  // Labels of the records in file order (f_images.lst).
  const std::vector<float> expected_labels = {2, 0, 4, 0, 2, 3, 3, 4, 0, 2,
                                              1, 3, 1, 1, 1, 2, 0, 3, 4, 4};
  std::vector<float> labels;
  for (;;) {
    absl::StatusOr<std::optional<Batch>> batch = (*iterator)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (!batch->has_value()) break;
    const Batch& value = **batch;
    ASSERT_EQ(value.data.size(), 1u);
    EXPECT_EQ(value.data[0].dtype, iterd::v1::UINT8);
    EXPECT_EQ(value.data[0].shape, std::vector<int64_t>({5, 64, 48, 3}));
    EXPECT_EQ(value.pad, 0);
    for (float label : value.label[0].values<float>()) labels.push_back(label);
  }
  EXPECT_EQ(labels, expected_labels);
  absl::StatusOr<iterd::v1::GetIteratorStatsResponse> stats =
      (*iterator)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->records_decoded(), 20);
  EXPECT_EQ(stats->records_skipped(), 0);
}

TEST_F(ClientTest, DaemonWithoutConfigListsNoPipelines) {
  absl::StatusOr<std::vector<iterd::v1::PipelineInfo>> pipelines =
      client_->ListPipelines();
  ASSERT_TRUE(pipelines.ok()) << pipelines.status();
  EXPECT_TRUE(pipelines->empty());
}

TEST(ClientConnectTest, UnreachableAddressIsUnavailable) {
  ClientOptions options;
  options.connect_timeout = absl::Milliseconds(200);
  // Port 1 on loopback: nothing listens there in a test sandbox.
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect("127.0.0.1:1", options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace iterd::client
