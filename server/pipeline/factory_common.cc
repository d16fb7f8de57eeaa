#include "server/pipeline/factory_common.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace iterd::pipeline {
namespace {

v1::DataDesc MakeDesc(const std::string& name, const TensorSpec& spec,
                      absl::string_view layout) {
  v1::DataDesc desc;
  desc.set_name(name);
  for (int64_t dim : spec.shape) desc.add_shape(dim);
  desc.set_dtype(ToProtoDType(spec.dtype));
  desc.set_layout(std::string(layout));
  return desc;
}

// Refuses a pipeline whose batches exceed the daemon's limit, before anything
// is allocated.
absl::Status CheckBatchBytes(const Batcher& batcher,
                             const PipelineEnvironment& environment) {
  // Computed here with overflow checks: the shapes come from clients.
  const uint64_t limit = environment.max_batch_bytes > 0
                             ? environment.max_batch_bytes
                             : std::numeric_limits<uint64_t>::max();
  uint64_t total = 0;
  bool too_large = false;
  for (const auto* specs : {&batcher.data_specs(), &batcher.label_specs()}) {
    for (const TensorSpec& spec : *specs) {
      uint64_t bytes = DTypeSize(spec.dtype);
      for (int64_t dim : spec.shape) {
        const uint64_t size = static_cast<uint64_t>(std::max<int64_t>(dim, 0));
        if (size != 0 && bytes > limit / size) too_large = true;
        bytes *= size;
      }
      if (too_large || bytes > limit - total) {
        too_large = true;
        break;
      }
      total += bytes;
    }
  }
  if (!too_large) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "a batch would take more than the daemon's limit of ",
      environment.max_batch_bytes, " bytes (limits.max_batch_bytes)"));
}

}  // namespace

absl::StatusOr<DType> FromProtoDType(v1::DataType dtype,
                                     absl::string_view field) {
  switch (dtype) {
    case v1::FLOAT32:
      return DType::kFloat32;
    case v1::FLOAT64:
      return DType::kFloat64;
    case v1::FLOAT16:
      return DType::kFloat16;
    case v1::UINT8:
      return DType::kUInt8;
    case v1::INT8:
      return DType::kInt8;
    case v1::INT32:
      return DType::kInt32;
    case v1::INT64:
      return DType::kInt64;
    default:
      return FieldError(field, "unspecified or unknown dtype");
  }
}

v1::DataType ToProtoDType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return v1::FLOAT32;
    case DType::kFloat64:
      return v1::FLOAT64;
    case DType::kFloat16:
      return v1::FLOAT16;
    case DType::kUInt8:
      return v1::UINT8;
    case DType::kInt8:
      return v1::INT8;
    case DType::kInt32:
      return v1::INT32;
    case DType::kInt64:
      return v1::INT64;
  }
  return v1::DATA_TYPE_UNSPECIFIED;
}

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

int PrefetchDepth(const v1::PipelineConfig& config,
                  const PipelineEnvironment& environment) {
  return config.prefetch_buffer() > 0 ? config.prefetch_buffer()
                                      : environment.default_prefetch_buffer;
}

std::string DataName(const v1::PipelineConfig& config) {
  return config.data_name().empty() ? "data" : config.data_name();
}

std::string LabelName(const v1::PipelineConfig& config) {
  return config.label_name().empty() ? "softmax_label" : config.label_name();
}

absl::StatusOr<OpenedPipeline> StartPipeline(
    std::unique_ptr<SampleSource> source, const PipelineShape& shape,
    const PipelineEnvironment& environment) {
  SampleSource* stats_source = source.get();
  ITERD_ASSIGN_OR_RETURN(
      std::unique_ptr<Batcher> batcher,
      Batcher::Create({shape.batch_size, shape.policy,
                       shape.prefetch_depth + kPayloadsBeyondPrefetch},
                      std::move(source), environment.make_payload_pool));
  ITERD_RETURN_IF_ERROR(CheckBatchBytes(*batcher, environment));
  if (batcher->data_specs().size() != shape.data_names.size() ||
      batcher->label_specs().size() != shape.label_names.size()) {
    return absl::InternalError("descriptor names do not match the tensors");
  }
  OpenedPipeline opened;
  for (size_t i = 0; i < shape.data_names.size(); ++i) {
    opened.provide_data.push_back(MakeDesc(
        shape.data_names[i], batcher->data_specs()[i], shape.data_layout));
  }
  for (size_t i = 0; i < shape.label_names.size(); ++i) {
    opened.provide_label.push_back(
        MakeDesc(shape.label_names[i], batcher->label_specs()[i], "NCHW"));
  }
  opened.batch_size = shape.batch_size;
  opened.source_stats = [stats_source] { return stats_source->stats(); };
  opened.prefetcher = std::make_unique<Prefetcher>(
      std::move(batcher), shape.prefetch_depth, environment.pool);
  return opened;
}

}  // namespace iterd::pipeline
