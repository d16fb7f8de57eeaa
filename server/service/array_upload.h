// File: server/service/array_upload.h
//
// ArrayUpload: receives the inline arrays of an OpenIterator stream (ArrayChunk
// messages) into buffers sized from the config's declarations, charging the
// registry's upload budget as bytes arrive: a declaration alone reserves
// nothing, so a client that declares a huge array and sends nothing blocks no
// one. An array's buffer is allocated at its first chunk (untouched pages
// cost no memory). Arrays of any size work: nothing is held but the
// destination buffers.
//
// Thread-compatible (one OpenIterator call). The reservation is returned on
// destruction unless ReleaseReservation() handed it over to an iterator.

#ifndef ITERD_SERVER_SERVICE_ARRAY_UPLOAD_H_
#define ITERD_SERVER_SERVICE_ARRAY_UPLOAD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor/npy.h"
#include "iterd/v1/service.pb.h"
#include "server/pipeline/pipeline_factory.h"
#include "server/service/iterator_registry.h"

namespace iterd::service {

class ArrayUpload final {
 public:
  explicit ArrayUpload(IteratorRegistry* registry) : registry_(registry) {}
  ArrayUpload(const ArrayUpload&) = delete;
  ArrayUpload& operator=(const ArrayUpload&) = delete;
  ~ArrayUpload();

  // Reads the declarations (ResourceExhausted when they exceed the whole
  // budget).
  absl::Status Begin(const v1::PipelineConfig& config);
  // InvalidArgument for a chunk of an unknown array, out of order, or past the
  // declared size; ResourceExhausted when the budget is spent.
  absl::Status Append(const v1::ArrayChunk& chunk);
  // InvalidArgument naming the array when one is incomplete.
  absl::StatusOr<std::vector<Array>> Finish();
  // Returns the reserved byte count and stops owning it.
  uint64_t ReleaseReservation();

 private:
  void AllocateBuffer(size_t array);

  IteratorRegistry* const registry_;
  std::vector<pipeline::InlineArraySpec> specs_;
  std::vector<std::shared_ptr<uint8_t>> buffers_;
  std::vector<uint64_t> received_;
  size_t current_ = 0;     // Arrays before this one are complete.
  uint64_t reserved_ = 0;  // Bytes received so far, all charged.
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_ARRAY_UPLOAD_H_
