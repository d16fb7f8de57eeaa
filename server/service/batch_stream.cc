#include "server/service/batch_stream.h"

#include <algorithm>
#include <string>

#include "grpcpp/support/slice.h"
#include "server/pipeline/pipeline_factory.h"

namespace iterd::service {
namespace {

// FetchResponse.chunk is field 2, length-delimited: tag byte (2 << 3) | 2.
constexpr uint8_t kChunkTag = 0x12;

void FillTensorHeader(const TensorSpec& spec, v1::TensorHeader* header) {
  header->set_dtype(pipeline::ToProtoDType(spec.dtype));
  for (int64_t dim : spec.shape) header->add_shape(dim);
  header->set_byte_size(spec.byte_size());
}

// Releases the batch reference a payload slice holds.
void ReleaseBatch(void* batch) {
  delete static_cast<std::shared_ptr<const Batch>*>(batch);
}

}  // namespace

v1::BatchHeader MakeBatchHeader(const Batch& batch,
                                const v1::IteratorState& state_after) {
  v1::BatchHeader header;
  for (const TensorSpec& spec : batch.data_specs()) {
    FillTensorHeader(spec, header.add_data());
  }
  for (const TensorSpec& spec : batch.label_specs()) {
    FillTensorHeader(spec, header.add_label());
  }
  header.set_pad(batch.pad);
  header.mutable_index()->Add(batch.index.begin(), batch.index.end());
  header.set_epoch(batch.epoch);
  header.set_sequence(batch.sequence);
  header.set_payload_bytes(batch.payload().size());
  *header.mutable_state() = state_after;
  return header;
}

grpc::ByteBuffer SerializeResponse(const v1::FetchResponse& response) {
  const std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer MakeChunkMessage(const std::shared_ptr<const Batch>& batch,
                                  size_t offset, size_t size) {
  uint8_t prefix[1 + 10];
  size_t prefix_size = 0;
  prefix[prefix_size++] = kChunkTag;
  for (uint64_t value = size;; value >>= 7) {  // Varint length.
    const uint8_t low = value & 0x7f;
    if (value < 0x80) {
      prefix[prefix_size++] = low;
      break;
    }
    prefix[prefix_size++] = low | 0x80;
  }
  const uint8_t* payload = batch->payload().data() + offset;
  grpc::Slice slices[2] = {
      grpc::Slice(prefix, prefix_size),
      // gRPC never writes through the pointer; the slice keeps the batch alive
      // until it is sent.
      grpc::Slice(const_cast<uint8_t*>(payload), size, &ReleaseBatch,
                  new std::shared_ptr<const Batch>(batch)),
  };
  return grpc::ByteBuffer(slices, 2);
}

bool WriteBatch(const std::shared_ptr<const Batch>& batch,
                const v1::IteratorState& state_after, size_t chunk_bytes,
                FetchStreamer* stream,
                const std::function<void()>& on_progress) {
  v1::FetchResponse header;
  *header.mutable_header() = MakeBatchHeader(*batch, state_after);
  if (!stream->Write(SerializeResponse(header))) return false;
  const size_t payload_size = batch->payload().size();
  for (size_t offset = 0; offset < payload_size; offset += chunk_bytes) {
    if (on_progress) on_progress();
    const size_t size = std::min(chunk_bytes, payload_size - offset);
    if (!stream->Write(MakeChunkMessage(batch, offset, size))) return false;
  }
  return true;
}

bool WriteBatchInSlot(const Batch& batch, const v1::IteratorState& state_after,
                      uint32_t slot, FetchStreamer* stream) {
  v1::FetchResponse header;
  *header.mutable_header() = MakeBatchHeader(batch, state_after);
  header.mutable_header()->set_shared_memory_slot(slot);
  return stream->Write(SerializeResponse(header));
}

}  // namespace iterd::service
