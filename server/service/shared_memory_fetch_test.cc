// Zero-copy shared-memory Fetch end to end: a real IterdServiceImpl on
// 127.0.0.1 (in-process), the generated stub, and the iterator's memfd region
// mapped as a client maps it. Batches equal the byte stream's across epochs
// and mid-window resets; a window's slots are not rewritten until the next
// call; a client that holds a window and vanishes is expired without hanging.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cpp/region_handover.h"
#include "gtest/gtest.h"
#include "iterd/v1/service.grpc.pb.h"
#include "server/service/iterd_service.h"
#include "server/service/server_config.h"

namespace iterd::service {
namespace {

constexpr int kSamples = 100;
constexpr int kFeatures = 5;
constexpr int kBatchSize = 7;

// One received batch, flattened for comparison (the slot it came in aside).
struct Received {
  std::string described;
  int64_t slot = -1;  // -1: came as chunks.
  bool end_of_epoch = false;
};

// The region of an OpenIteratorResponse, received from the service's
// hand-over socket and mapped read-only as clients do.
class Mapping {
 public:
  explicit Mapping(const v1::SharedMemoryRegion& region) : region_(region) {
    absl::StatusOr<int> fd = client::ReceiveRegionDescriptor(
        region.handover_socket(), region.token(), absl::Seconds(5));
    EXPECT_TRUE(fd.ok()) << fd.status();
    size_ = region.data_offset() + region.slot_bytes() * region.slots();
    void* base =
        mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd.ok() ? *fd : -1, 0);
    if (fd.ok()) close(*fd);
    EXPECT_NE(base, MAP_FAILED);
    base_ = static_cast<const uint8_t*>(base);
  }
  ~Mapping() { munmap(const_cast<uint8_t*>(base_), size_); }
  std::string Slot(uint64_t slot, size_t bytes) const {
    EXPECT_LT(slot, region_.slots());
    return std::string(reinterpret_cast<const char*>(base_) +
                           region_.data_offset() + slot * region_.slot_bytes(),
                       bytes);
  }

 private:
  const v1::SharedMemoryRegion region_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

class SharedMemoryFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::ServerConfig config;
    config.mutable_limits()->set_idle_timeout_seconds(1);
    ApplyLimitDefaults(config.mutable_limits());
    auto paths = PathPolicy::Create({std::getenv("TEST_TMPDIR")});
    ASSERT_TRUE(paths.ok()) << paths.status();
    service_ = std::make_unique<IterdServiceImpl>(config, *std::move(paths),
                                                  &thread_pool_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::DataIterService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    service_->CancelAll();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }

  // NDArrayIter over data (100, 5) = 0.5 * i and label (100,), B=7, pad.
  v1::OpenIteratorResponse Open(bool shared_memory) {
    grpc::ClientContext context;
    v1::OpenIteratorResponse response;
    auto writer = stub_->OpenIterator(&context, &response);
    v1::OpenIteratorRequest request;
    v1::NDArrayConfig* config =
        request.mutable_open()->mutable_config()->mutable_ndarray();
    v1::ArraySource* data = config->add_data();
    data->set_name("data");
    data->mutable_inline_()->set_dtype(v1::FLOAT32);
    data->mutable_inline_()->add_shape(kSamples);
    data->mutable_inline_()->add_shape(kFeatures);
    v1::ArraySource* label = config->add_label();
    label->set_name("softmax_label");
    label->mutable_inline_()->set_dtype(v1::FLOAT32);
    label->mutable_inline_()->add_shape(kSamples);
    config->set_batch_size(kBatchSize);
    config->set_last_batch_handle(v1::PAD);
    config->set_shuffle(true);
    config->set_seed(7);
    request.mutable_open()->set_shared_memory(shared_memory);
    EXPECT_TRUE(writer->Write(request));
    std::vector<float> values(kSamples * kFeatures);
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * i;
    std::vector<float> labels(kSamples);
    for (int i = 0; i < kSamples; ++i) labels[i] = i;
    for (const std::vector<float>* array : {&values, &labels}) {
      v1::OpenIteratorRequest chunk;
      chunk.mutable_chunk()->set_array(array == &values ? 0 : 1);
      chunk.mutable_chunk()->set_data(array->data(),
                                      array->size() * sizeof(float));
      EXPECT_TRUE(writer->Write(chunk));
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // One Fetch call; every slot is read right away (as clients copy out).
  grpc::Status Fetch(const std::string& id, uint32_t max_batches,
                     const Mapping* mapping, std::vector<Received>* out) {
    grpc::ClientContext context;
    v1::FetchRequest request;
    request.set_iterator_id(id);
    request.set_max_batches(max_batches);
    request.set_shared_memory(mapping != nullptr);
    auto reader = stub_->Fetch(&context, request);
    v1::FetchResponse response;
    v1::BatchHeader header;
    std::string payload;
    auto finish_batch = [&](int64_t slot) {
      Received batch;
      batch.slot = slot;
      batch.described = absl::StrCat("epoch ", header.epoch(), " pad ",
                                     header.pad(), ":", payload);
      out->push_back(batch);
    };
    while (reader->Read(&response)) {
      if (response.has_end_of_epoch()) {
        out->push_back({"end", -1, true});
      } else if (response.has_header()) {
        header = response.header();
        payload.clear();
        if (header.has_shared_memory_slot()) {
          payload = mapping->Slot(header.shared_memory_slot(),
                                  header.payload_bytes());
          finish_batch(header.shared_memory_slot());
        } else if (header.payload_bytes() == 0) {
          finish_batch(-1);
        }
      } else {
        payload += response.chunk();
        if (payload.size() == header.payload_bytes()) finish_batch(-1);
      }
    }
    return reader->Finish();
  }

  grpc::Status Reset(const std::string& id, int64_t consumed) {
    grpc::ClientContext context;
    v1::ResetRequest request;
    request.set_iterator_id(id);
    request.set_batches_consumed(consumed);
    v1::ResetResponse response;
    return stub_->Reset(&context, request, &response);
  }

  // Three epochs in windows of 3: epoch 1 is reset after the first batch of
  // its second window (mid-window), the others run to their end.
  std::vector<std::string> ReadEpochs(const std::string& id,
                                      const Mapping* mapping,
                                      int* slot_batches) {
    std::vector<std::string> batches;
    for (int epoch = 0; epoch < 3; ++epoch) {
      int consumed = 0;
      bool ended = false;
      for (int window = 0; !ended; ++window) {
        std::vector<Received> got;
        EXPECT_TRUE(Fetch(id, 3, mapping, &got).ok());
        for (const Received& batch : got) {
          if (batch.end_of_epoch) {
            ended = true;
            break;
          }
          if (batch.slot >= 0) ++*slot_batches;
          batches.push_back(batch.described);
          ++consumed;
          if (epoch == 1 && window == 1) {
            ended = true;  // Uses one batch of the window, then resets.
            break;
          }
        }
      }
      EXPECT_TRUE(Reset(id, consumed).ok());
    }
    return batches;
  }

  ThreadPool thread_pool_{2};
  std::unique_ptr<IterdServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DataIterService::Stub> stub_;
};

TEST_F(SharedMemoryFetchTest, BatchesEqualTheByteStreamAcrossEpochsAndResets) {
  const v1::OpenIteratorResponse shared = Open(true);
  ASSERT_TRUE(shared.has_shared_memory());
  // Prefetch depth 4 + 4 pipeline buffers + a window of 8 + 1.
  EXPECT_EQ(shared.shared_memory().slots(), 17u);
  const Mapping mapping(shared.shared_memory());
  const v1::OpenIteratorResponse bytes = Open(false);
  EXPECT_FALSE(bytes.has_shared_memory());
  int slot_batches = 0;
  int no_slot_batches = 0;
  const std::vector<std::string> from_region =
      ReadEpochs(shared.iterator_id(), &mapping, &slot_batches);
  const std::vector<std::string> from_bytes =
      ReadEpochs(bytes.iterator_id(), nullptr, &no_slot_batches);
  EXPECT_EQ(no_slot_batches, 0);
  EXPECT_EQ(slot_batches, static_cast<int>(from_region.size()));
  EXPECT_EQ(from_region.size(), 15u + 4 + 15);
  EXPECT_EQ(from_region, from_bytes);
}

TEST_F(SharedMemoryFetchTest, RegionIteratorServesTheByteStreamToo) {
  const v1::OpenIteratorResponse shared = Open(true);
  const v1::OpenIteratorResponse bytes = Open(false);
  int unused = 0;
  // A client that could not map the region asks for bytes.
  EXPECT_EQ(ReadEpochs(shared.iterator_id(), nullptr, &unused),
            ReadEpochs(bytes.iterator_id(), nullptr, &unused));
  EXPECT_EQ(unused, 0);
}

TEST_F(SharedMemoryFetchTest, WindowSlotsAreDistinctAndKeptUntilTheNextCall) {
  const v1::OpenIteratorResponse shared = Open(true);
  const Mapping mapping(shared.shared_memory());
  for (int call = 0; call < 2; ++call) {
    std::vector<Received> window;
    ASSERT_TRUE(Fetch(shared.iterator_id(), 8, &mapping, &window).ok());
    // 15 batches in the epoch: 8, then 7 and its end.
    ASSERT_EQ(window.size(), 8u);
    if (call == 1) {
      EXPECT_TRUE(window.back().end_of_epoch);
      window.pop_back();
    }
    // The producer runs ahead meanwhile, into the other slots only.
    absl::SleepFor(absl::Milliseconds(200));
    std::vector<int64_t> slots;
    for (const Received& batch : window) {
      ASSERT_GE(batch.slot, 0);
      for (int64_t seen : slots) EXPECT_NE(seen, batch.slot);
      slots.push_back(batch.slot);
      const size_t payload =
          batch.described.size() - batch.described.find(':') - 1;
      EXPECT_EQ(batch.described.substr(batch.described.size() - payload),
                mapping.Slot(batch.slot, payload));
    }
  }
}

TEST_F(SharedMemoryFetchTest, ClientHoldingAWindowThatVanishesExpires) {
  const v1::OpenIteratorResponse shared = Open(true);
  const Mapping mapping(shared.shared_memory());
  std::vector<Received> window;
  ASSERT_TRUE(Fetch(shared.iterator_id(), 8, &mapping, &window).ok());
  // Never fetches again: the idle timeout (1 s) frees the iterator.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (service_->Snapshot().registry.stats.open_iterators > 0 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(service_->Snapshot().registry.stats.open_iterators, 0);
  EXPECT_EQ(service_->Snapshot().registry.stats.iterators_expired, 1);
  std::vector<Received> after;
  EXPECT_EQ(Fetch(shared.iterator_id(), 2, &mapping, &after).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SharedMemoryFetchTest, CloseWithAHeldWindowFreesTheIterator) {
  const v1::OpenIteratorResponse shared = Open(true);
  const Mapping mapping(shared.shared_memory());
  std::vector<Received> window;
  ASSERT_TRUE(Fetch(shared.iterator_id(), 8, &mapping, &window).ok());
  grpc::ClientContext context;
  v1::CloseIteratorRequest request;
  request.set_iterator_id(shared.iterator_id());
  v1::CloseIteratorResponse response;
  ASSERT_TRUE(stub_->CloseIterator(&context, request, &response).ok());
  EXPECT_EQ(service_->Snapshot().registry.stats.open_iterators, 0);
  // The held window's slots stay readable in the client's mapping.
  EXPECT_EQ(mapping.Slot(window[0].slot, 4).size(), 4u);
}

}  // namespace
}  // namespace iterd::service
