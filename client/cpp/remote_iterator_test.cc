// RemoteIterator's same-host shared memory against a real daemon
// (server/iterd on 127.0.0.1, started once for the suite): batches are the
// same as over the byte stream, and an unusable region falls back to bytes.

#include "client/cpp/remote_iterator.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cpp/client.h"
#include "gtest/gtest.h"
#include "tests/cpp/shared_daemon.h"

namespace iterd::client {
namespace {

constexpr int kSamples = 100;
constexpr int kFeatures = 5;
constexpr int kBatchSize = 7;

class SharedMemoryTest : public test_support::SharedDaemonTest {
 protected:
  void SetUp() override {
    SharedDaemonTest::SetUp();
    if (HasFatalFailure()) return;
    for (int i = 0; i < kSamples * kFeatures; ++i) data_.push_back(0.5f * i);
    for (int i = 0; i < kSamples; ++i) label_.push_back(static_cast<float>(i));
  }

  std::unique_ptr<Client> Connect(bool shared_memory) {
    ClientOptions options;
    options.shared_memory = shared_memory;
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Connect(daemon_address(), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // NDArrayIter over inline data (100, 5) and label (100,), B=7, pad mode.
  iterd::v1::OpenIterator InlineOpen() const {
    return test_support::InlineNDArrayOpen(kSamples, kFeatures, kBatchSize);
  }

  std::vector<absl::Span<const uint8_t>> Arrays() const {
    return {{reinterpret_cast<const uint8_t*>(data_.data()),
             data_.size() * sizeof(float)},
            {reinterpret_cast<const uint8_t*>(label_.data()),
             label_.size() * sizeof(float)}};
  }

  // OpenIterator through the plain stub, asking for shared memory: the raw
  // response, for tests that tamper with its region before using it.
  iterd::v1::OpenIteratorResponse OpenRaw(
      const std::shared_ptr<grpc::Channel>& channel) const {
    auto stub = iterd::v1::DataIterService::NewStub(channel);
    grpc::ClientContext context;
    iterd::v1::OpenIteratorResponse response;
    auto writer = stub->OpenIterator(&context, &response);
    iterd::v1::OpenIteratorRequest request;
    *request.mutable_open() = InlineOpen();
    request.mutable_open()->set_shared_memory(true);
    EXPECT_TRUE(writer->Write(request));
    const std::vector<absl::Span<const uint8_t>> arrays = Arrays();
    for (uint32_t array = 0; array < arrays.size(); ++array) {
      iterd::v1::OpenIteratorRequest chunk;
      chunk.mutable_chunk()->set_array(array);
      chunk.mutable_chunk()->set_data(arrays[array].data(),
                                      arrays[array].size());
      EXPECT_TRUE(writer->Write(chunk));
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::vector<float> data_;
  std::vector<float> label_;
};

// Everything a batch carries, flattened for comparison. Not the sequence:
// after a mid-epoch reset it depends on how far the daemon had run ahead.
std::string Describe(const Batch& batch) {
  std::string text = absl::StrCat("epoch ", batch.epoch, " pad ", batch.pad,
                                  " index ", batch.index.size(), ":");
  for (const std::vector<Tensor>* tensors : {&batch.data, &batch.label}) {
    for (const Tensor& tensor : *tensors) {
      text.append(reinterpret_cast<const char*>(tensor.data), tensor.byte_size);
    }
  }
  return text;
}

// Three epochs (the second reset mid-epoch) as described batches.
std::vector<std::string> ReadEpochs(RemoteIterator& iterator) {
  std::vector<std::string> batches;
  for (int epoch = 0; epoch < 3; ++epoch) {
    for (int taken = 0;; ++taken) {
      if (epoch == 1 && taken == 5) break;  // A mid-epoch reset.
      absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok() || !batch->has_value()) break;
      batches.push_back(Describe(**batch));
    }
    EXPECT_TRUE(iterator.Reset().ok());
  }
  return batches;
}

// The first batch's samples are 0..6: data 0.5 * (5 i + j).
void ExpectFirstBatchValues(RemoteIterator& iterator) {
  absl::StatusOr<std::optional<Batch>> batch = iterator.Next();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE(batch->has_value());
  absl::Span<const float> data = (**batch).data[0].values<float>();
  ASSERT_EQ(data.size(), static_cast<size_t>(kBatchSize * kFeatures));
  for (size_t i = 0; i < data.size(); ++i) EXPECT_EQ(data[i], 0.5f * i);
}

TEST_F(SharedMemoryTest, SharedMemoryGivesTheSameBatchesAsTheByteStream) {
  std::unique_ptr<Client> shared_client = Connect(true);
  std::unique_ptr<Client> bytes_client = Connect(false);
  ASSERT_NE(shared_client, nullptr);
  ASSERT_NE(bytes_client, nullptr);
  auto shared = shared_client->Open(InlineOpen(), Arrays());
  auto bytes = bytes_client->Open(InlineOpen(), Arrays());
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE((*shared)->uses_shared_memory());
  EXPECT_FALSE((*bytes)->uses_shared_memory());
  (*shared)->set_max_batches(3);
  (*bytes)->set_max_batches(3);
  const std::vector<std::string> from_shared = ReadEpochs(**shared);
  const std::vector<std::string> from_bytes = ReadEpochs(**bytes);
  // 15 + 5 + 15 batches.
  EXPECT_EQ(from_shared.size(), 35u);
  EXPECT_TRUE(from_shared == from_bytes);
}

TEST_F(SharedMemoryTest, WindowLargerThanTheSlotsIsCappedAndStaysExact) {
  std::unique_ptr<Client> client = Connect(true);
  std::unique_ptr<Client> bytes_client = Connect(false);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(bytes_client, nullptr);
  auto shared = client->Open(InlineOpen(), Arrays());
  auto bytes = bytes_client->Open(InlineOpen(), Arrays());
  ASSERT_TRUE(shared.ok() && bytes.ok());
  ASSERT_TRUE((*shared)->uses_shared_memory());
  (*shared)->set_max_batches(40);  // More than the region's slots.
  const std::vector<std::string> from_shared = ReadEpochs(**shared);
  EXPECT_EQ(from_shared.size(), 35u);
  EXPECT_TRUE(from_shared == ReadEpochs(**bytes));
}

TEST_F(SharedMemoryTest, DefaultOnALoopbackAddressIsSharedMemory) {
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(daemon_address());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->wants_shared_memory());
  auto iterator = (*client)->Open(InlineOpen(), Arrays());
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  EXPECT_TRUE((*iterator)->uses_shared_memory());
  ExpectFirstBatchValues(**iterator);
}

TEST_F(SharedMemoryTest, HandoverSocketThatDoesNotAnswerFallsBackToBytes) {
  auto channel =
      grpc::CreateChannel(daemon_address(), grpc::InsecureChannelCredentials());
  iterd::v1::OpenIteratorResponse response = OpenRaw(channel);
  ASSERT_TRUE(response.has_shared_memory());
  response.mutable_shared_memory()->set_handover_socket("@iterd-nobody-here");
  RemoteIterator iterator(channel, response, FetchTransport::kRaw);
  EXPECT_FALSE(iterator.uses_shared_memory());
  ExpectFirstBatchValues(iterator);
}

TEST_F(SharedMemoryTest, WrongTokenIsRefusedAndFallsBackToBytes) {
  auto channel =
      grpc::CreateChannel(daemon_address(), grpc::InsecureChannelCredentials());
  iterd::v1::OpenIteratorResponse response = OpenRaw(channel);
  ASSERT_TRUE(response.has_shared_memory());
  EXPECT_EQ(response.shared_memory().handover_socket().rfind("@iterd-", 0), 0u)
      << response.shared_memory().handover_socket();
  std::string token = response.shared_memory().token();
  ASSERT_EQ(token.size(), 16u);
  token[3] ^= 0x5a;
  response.mutable_shared_memory()->set_token(token);
  RemoteIterator iterator(channel, response, FetchTransport::kRaw);
  EXPECT_FALSE(iterator.uses_shared_memory());
  ExpectFirstBatchValues(iterator);
}

TEST_F(SharedMemoryTest, RegionIsHandedOverOnceOnly) {
  auto channel =
      grpc::CreateChannel(daemon_address(), grpc::InsecureChannelCredentials());
  const iterd::v1::OpenIteratorResponse response = OpenRaw(channel);
  ASSERT_TRUE(response.has_shared_memory());
  std::unique_ptr<SharedMemoryMapping> first =
      SharedMemoryMapping::Map(response.shared_memory());
  EXPECT_NE(first, nullptr);
  EXPECT_EQ(SharedMemoryMapping::Map(response.shared_memory()), nullptr);
}

// The memfd regions this process has mapped (/proc/self/maps).
int MappedRegions() {
  std::ifstream maps("/proc/self/maps");
  int regions = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("memfd:iterd-batches") != std::string::npos) ++regions;
  }
  return regions;
}

TEST_F(SharedMemoryTest, RegionIsUnmappedAtClose) {
  auto channel =
      grpc::CreateChannel(daemon_address(), grpc::InsecureChannelCredentials());
  iterd::v1::OpenIteratorResponse response = OpenRaw(channel);
  ASSERT_TRUE(response.has_shared_memory());
  const int before = MappedRegions();
  RemoteIterator iterator(channel, response, FetchTransport::kRaw);
  ASSERT_TRUE(iterator.uses_shared_memory());
  EXPECT_EQ(MappedRegions(), before + 1);
  ExpectFirstBatchValues(iterator);
  ASSERT_TRUE(iterator.Close().ok());
  EXPECT_EQ(MappedRegions(), before);
}

}  // namespace
}  // namespace iterd::client
