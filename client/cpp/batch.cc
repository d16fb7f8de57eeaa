#include "client/cpp/batch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace iterd::client {
namespace {

absl::Status ValidateTensor(const iterd::v1::TensorHeader& tensor,
                            absl::string_view role, int position) {
  const size_t element_size = DataTypeSize(tensor.dtype());
  if (element_size == 0) {
    return absl::DataLossError(absl::StrCat("BatchHeader.", role, "[", position,
                                            "].dtype is unknown (",
                                            tensor.dtype(), ")"));
  }
  uint64_t elements = 1;
  for (int64_t dim : tensor.shape()) {
    if (dim < 0) {
      return absl::DataLossError(absl::StrCat(
          "BatchHeader.", role, "[", position, "].shape has a negative dim: [",
          absl::StrJoin(tensor.shape(), ","), "]"));
    }
    elements *= static_cast<uint64_t>(dim);
  }
  if (elements * element_size != tensor.byte_size()) {
    return absl::DataLossError(absl::StrCat(
        "BatchHeader.", role, "[", position, "].byte_size is ",
        tensor.byte_size(), " but shape [", absl::StrJoin(tensor.shape(), ","),
        "] needs ", elements * element_size));
  }
  return absl::OkStatus();
}

void AppendTensors(
    const google::protobuf::RepeatedPtrField<iterd::v1::TensorHeader>& headers,
    const uint8_t* base, size_t* offset, std::vector<Tensor>* out) {
  out->reserve(headers.size());
  for (const iterd::v1::TensorHeader& header : headers) {
    Tensor tensor;
    tensor.dtype = header.dtype();
    tensor.shape.assign(header.shape().begin(), header.shape().end());
    tensor.offset = *offset;
    tensor.byte_size = header.byte_size();
    tensor.data = base + *offset;
    *offset += tensor.byte_size;
    out->push_back(std::move(tensor));
  }
}

}  // namespace

size_t DataTypeSize(iterd::v1::DataType dtype) {
  switch (dtype) {
    case iterd::v1::FLOAT32:
    case iterd::v1::INT32:
      return 4;
    case iterd::v1::FLOAT64:
    case iterd::v1::INT64:
      return 8;
    case iterd::v1::FLOAT16:
      return 2;
    case iterd::v1::UINT8:
    case iterd::v1::INT8:
      return 1;
    default:
      return 0;
  }
}

absl::Status ValidateBatchHeader(const iterd::v1::BatchHeader& header) {
  uint64_t total = 0;
  for (int i = 0; i < header.data_size(); ++i) {
    absl::Status status = ValidateTensor(header.data(i), "data", i);
    if (!status.ok()) return status;
    total += header.data(i).byte_size();
  }
  for (int i = 0; i < header.label_size(); ++i) {
    absl::Status status = ValidateTensor(header.label(i), "label", i);
    if (!status.ok()) return status;
    total += header.label(i).byte_size();
  }
  if (total != header.payload_bytes()) {
    return absl::DataLossError(
        absl::StrCat("BatchHeader.payload_bytes is ", header.payload_bytes(),
                     " but its tensors add up to ", total, " bytes (sequence ",
                     header.sequence(), ")"));
  }
  return absl::OkStatus();
}

Batch MakeBatch(const iterd::v1::BatchHeader& header,
                std::shared_ptr<const PayloadBuffer> payload) {
  Batch batch;
  size_t offset = 0;
  AppendTensors(header.data(), payload->data(), &offset, &batch.data);
  AppendTensors(header.label(), payload->data(), &offset, &batch.label);
  batch.pad = header.pad();
  batch.index.assign(header.index().begin(), header.index().end());
  batch.epoch = header.epoch();
  batch.sequence = header.sequence();
  batch.payload = std::move(payload);
  return batch;
}

}  // namespace iterd::client
