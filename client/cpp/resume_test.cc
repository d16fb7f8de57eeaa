// Resuming from RemoteIterator::state() against a real daemon (server/iterd on
// 127.0.0.1, started once for the suite): an iterator that Client::Open starts
// from a state returns byte for byte what the original returned after it,
// through the rest of the epoch, its end and the next epoch.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cpp/client.h"
#include "gtest/gtest.h"
#include "tests/cpp/shared_daemon.h"

namespace iterd::client {
namespace {

constexpr int kSamples = 10;
constexpr int kFeatures = 2;
constexpr int kBatchSize = 3;

// What the caller does and sees, one step at a time, and the state after it.
struct Step {
  enum Kind { kBatch, kEnd, kReset } kind;
  std::string batch;  // kBatch: everything the batch carries.
  std::string state;  // Serialized RemoteIterator::state() after the step.
};

// Data, labels, pad, index and epoch, flattened for comparison.
std::string Describe(const Batch& batch) {
  std::string text =
      absl::StrCat("epoch ", batch.epoch, " pad ", batch.pad, " index ",
                   absl::StrJoin(batch.index, ","), ":");
  for (const std::vector<Tensor>* tensors : {&batch.data, &batch.label}) {
    for (const Tensor& tensor : *tensors) {
      text.append(reinterpret_cast<const char*>(tensor.data), tensor.byte_size);
    }
  }
  return text;
}

// Takes a step of `kind` on `iterator`: fails unless Next() gives a batch
// exactly for kBatch.
void Take(RemoteIterator& iterator, Step::Kind kind, Step* taken) {
  taken->kind = kind;
  if (kind == Step::kReset) {
    const absl::Status status = iterator.Reset();
    ASSERT_TRUE(status.ok()) << status;
  } else {
    absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(batch->has_value(), kind == Step::kBatch);
    if (batch->has_value()) taken->batch = Describe(**batch);
  }
  taken->state = iterator.state().SerializeAsString();
}

class ResumeTest : public test_support::SharedDaemonTest {
 protected:
  void SetUp() override {
    SharedDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < kSamples * kFeatures; ++i) data_.push_back(0.5f * i);
    for (int i = 0; i < kSamples; ++i) label_.push_back(static_cast<float>(i));
  }

  std::unique_ptr<Client> Connect(FetchTransport transport,
                                  bool shared_memory) {
    ClientOptions options;
    options.transport = transport;
    options.shared_memory = shared_memory;
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(daemon_address(), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Shuffled NDArrayIter over inline data (10, 2) and label (10,); the seed
  // is left to the daemon, so a resumed iterator must take it from the state.
  iterd::v1::OpenIterator InlineOpen(iterd::v1::LastBatchHandle handle,
                                     int64_t batch_size = kBatchSize) const {
    iterd::v1::OpenIterator open =
        test_support::InlineNDArrayOpen(kSamples, kFeatures, batch_size);
    iterd::v1::NDArrayConfig* config = open.mutable_config()->mutable_ndarray();
    config->set_shuffle(true);
    config->set_last_batch_handle(handle);
    return open;
  }

  std::vector<absl::Span<const uint8_t>> Arrays() const {
    return {{reinterpret_cast<const uint8_t*>(data_.data()),
             data_.size() * sizeof(float)},
            {reinterpret_cast<const uint8_t*>(label_.data()),
             label_.size() * sizeof(float)}};
  }

  // A state after one batch of a fresh iterator.
  iterd::v1::IteratorState StateAfterOneBatch() {
    std::unique_ptr<Client> client = Connect(FetchTransport::kRaw, true);
    EXPECT_NE(client, nullptr);
    if (client == nullptr) return {};
    auto iterator = client->Open(InlineOpen(iterd::v1::PAD), Arrays());
    EXPECT_TRUE(iterator.ok()) << iterator.status();
    if (!iterator.ok()) return {};
    EXPECT_TRUE((*iterator)->Next().ok());
    return (*iterator)->state();
  }

  std::vector<float> data_;
  std::vector<float> label_;
};

TEST_F(ResumeTest, ResumedIteratorGoesOnExactlyWhereTheStateWasTaken) {
  // The uninterrupted run over shared memory and the raw parser, the resumed
  // ones over the byte stream and the protobuf parser: the state must come
  // through both.
  std::unique_ptr<Client> client = Connect(FetchTransport::kRaw, true);
  std::unique_ptr<Client> resume_client =
      Connect(FetchTransport::kProto, false);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(resume_client, nullptr);
  // ROLL_OVER carries the epoch's tail into the next one: the state must too.
  for (iterd::v1::LastBatchHandle handle :
       {iterd::v1::PAD, iterd::v1::ROLL_OVER}) {
    SCOPED_TRACE(iterd::v1::LastBatchHandle_Name(handle));
    const iterd::v1::OpenIterator open = InlineOpen(handle);
    auto iterator = client->Open(open, Arrays());
    ASSERT_TRUE(iterator.ok()) << iterator.status();
    ASSERT_NE((*iterator)->state().version(), 0u);
    // The state right after open, then every step of two epochs.
    std::vector<std::string> states = {
        (*iterator)->state().SerializeAsString()};
    std::vector<Step> run;
    for (int epoch = 0; epoch < 2; ++epoch) {
      if (epoch > 0) {
        run.emplace_back();
        ASSERT_NO_FATAL_FAILURE(Take(**iterator, Step::kReset, &run.back()));
        states.push_back(run.back().state);
      }
      for (;;) {
        run.emplace_back();
        absl::StatusOr<std::optional<Batch>> batch = (*iterator)->Next();
        ASSERT_TRUE(batch.ok()) << batch.status();
        run.back().kind = batch->has_value() ? Step::kBatch : Step::kEnd;
        if (batch->has_value()) run.back().batch = Describe(**batch);
        run.back().state = (*iterator)->state().SerializeAsString();
        states.push_back(run.back().state);
        if (!batch->has_value()) break;
      }
    }
    ASSERT_GE(run.size(), 8u);

    // From every state: right after open (k = 0), after each batch up to the
    // epoch's last, at its end, after the reset, and into the next epoch.
    for (size_t cut = 0; cut < states.size(); ++cut) {
      SCOPED_TRACE(absl::StrCat("resumed after ", cut, " steps"));
      iterd::v1::IteratorState state;
      ASSERT_TRUE(state.ParseFromString(states[cut]));
      auto resumed = resume_client->Open(open, Arrays(), &state);
      ASSERT_TRUE(resumed.ok()) << resumed.status();
      EXPECT_EQ((*resumed)->state().SerializeAsString(), states[cut]);
      EXPECT_EQ((*resumed)->seed(), (*iterator)->seed());
      for (size_t i = cut; i < run.size(); ++i) {
        SCOPED_TRACE(absl::StrCat("step ", i));
        Step taken;
        ASSERT_NO_FATAL_FAILURE(Take(**resumed, run[i].kind, &taken));
        EXPECT_TRUE(taken.batch == run[i].batch);
        EXPECT_TRUE(taken.state == run[i].state);
      }
    }
  }
}

TEST_F(ResumeTest, OpenConfigPassesTheStateOn) {
  // The state is checked before any file is opened: a damaged one is refused
  // even for a missing file, which without it is NOT_FOUND.
  std::unique_ptr<Client> client = Connect(FetchTransport::kRaw, false);
  ASSERT_NE(client, nullptr);
  iterd::v1::IteratorState damaged;
  damaged.set_version(1);
  damaged.set_checksum(1);
  iterd::v1::PipelineConfig config;
  config.mutable_csv()->set_data_csv("no_such.csv");
  config.mutable_csv()->add_data_shape(2);
  config.mutable_csv()->set_batch_size(kBatchSize);
  EXPECT_EQ(client->OpenConfig(config, &damaged).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->OpenConfig(config).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ResumeTest, StateOfAnotherBatchSizeIsFailedPreconditionNamingIt) {
  const iterd::v1::IteratorState state = StateAfterOneBatch();
  ASSERT_NE(state.version(), 0u);
  std::unique_ptr<Client> client = Connect(FetchTransport::kRaw, true);
  ASSERT_NE(client, nullptr);
  auto resumed = client->Open(InlineOpen(iterd::v1::PAD, kBatchSize + 1),
                              Arrays(), &state);
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(resumed.status().message(), "batch_size"))
      << resumed.status();
}

TEST_F(ResumeTest, EditedStateIsInvalidArgument) {
  iterd::v1::IteratorState state = StateAfterOneBatch();
  ASSERT_NE(state.version(), 0u);
  // A plausible position, but the checksum was not recomputed.
  state.set_sequence(state.sequence() + 1);
  state.mutable_source()->set_position(state.source().position() + 1);
  std::unique_ptr<Client> client = Connect(FetchTransport::kRaw, true);
  ASSERT_NE(client, nullptr);
  auto resumed = client->Open(InlineOpen(iterd::v1::PAD), Arrays(), &state);
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(resumed.status().message(), "checksum"))
      << resumed.status();
}

}  // namespace
}  // namespace iterd::client
