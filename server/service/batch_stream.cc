#include "server/service/batch_stream.h"

#include <algorithm>

#include "server/pipeline/pipeline_factory.h"

namespace iterd::service {
namespace {

void FillTensorHeader(const TensorSpec& spec, v1::TensorHeader* header) {
  header->set_dtype(pipeline::ToProtoDType(spec.dtype));
  for (int64_t dim : spec.shape) header->add_shape(dim);
  header->set_byte_size(spec.byte_size());
}

}  // namespace

v1::BatchHeader MakeBatchHeader(const Batch& batch) {
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
  return header;
}

bool WriteBatch(const Batch& batch, size_t chunk_bytes,
                grpc::ServerWriter<v1::FetchResponse>* writer) {
  v1::FetchResponse response;
  *response.mutable_header() = MakeBatchHeader(batch);
  if (!writer->Write(response)) return false;
  const absl::Span<const uint8_t> payload = batch.payload();
  // One message reused for every chunk: its string keeps its capacity, so the
  // copy into it is the only per-chunk cost besides serialisation.
  for (size_t offset = 0; offset < payload.size(); offset += chunk_bytes) {
    const size_t size = std::min(chunk_bytes, payload.size() - offset);
    response.mutable_chunk()->assign(
        reinterpret_cast<const char*>(payload.data() + offset), size);
    if (!writer->Write(response)) return false;
  }
  return true;
}

}  // namespace iterd::service
