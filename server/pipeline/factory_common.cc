#include "server/pipeline/factory_common.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status/input_text.h"
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

// Largest sample or batch considered at all, whatever the limits say: far
// above any memory, far below where uint64 products overflow.
constexpr uint64_t kMaxBytes = uint64_t{1} << 62;

// bytes * dim, or false when it would exceed `limit` (no overflow).
bool MultiplyWithin(uint64_t* bytes, uint64_t dim, uint64_t limit) {
  if (dim != 0 && *bytes > limit / dim) return false;
  *bytes *= dim;
  return true;
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

absl::Status CheckSampleShape(absl::string_view field,
                              const std::vector<int64_t>& shape, DType dtype,
                              int64_t min_dim) {
  if (shape.empty() || shape.size() > static_cast<size_t>(kMaxShapeRank)) {
    return FieldError(field, absl::StrCat("must have 1 to ", kMaxShapeRank,
                                          " dimensions, got ", shape.size()));
  }
  uint64_t bytes = DTypeSize(dtype);
  for (const int64_t dim : shape) {
    if (dim < min_dim) {
      return FieldError(field, absl::StrCat("dimensions must be >= ", min_dim,
                                            ", got ", dim));
    }
    if (!MultiplyWithin(&bytes, static_cast<uint64_t>(dim), kMaxBytes)) {
      return FieldError(field,
                        absl::StrCat("(", absl::StrJoin(shape, ", "),
                                     ") describes more than 2^62 bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNameText(absl::string_view field, absl::string_view name) {
  if (name.size() > kMaxNameBytes) {
    return FieldError(field,
                      absl::StrCat("a name of ", name.size(),
                                   " bytes is longer than the limit of ",
                                   kMaxNameBytes, ": ", QuoteInput(name)));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return FieldError(
        field,
        absl::StrCat("a name must not contain a NUL byte: ", QuoteInput(name)));
  }
  return absl::OkStatus();
}

absl::Status CheckBatchBytes(absl::string_view fields, int64_t batch_size,
                             const std::vector<TensorSpec>& sample_specs,
                             const PipelineEnvironment& environment) {
  const uint64_t limit = environment.max_batch_bytes > 0
                             ? std::min(environment.max_batch_bytes, kMaxBytes)
                             : kMaxBytes;
  uint64_t total = 0;
  bool within = true;
  for (const TensorSpec& spec : sample_specs) {
    uint64_t bytes = DTypeSize(spec.dtype);
    within = MultiplyWithin(&bytes, static_cast<uint64_t>(batch_size), limit);
    for (size_t i = 0; within && i < spec.shape.size(); ++i) {
      within = MultiplyWithin(
          &bytes, static_cast<uint64_t>(std::max<int64_t>(spec.shape[i], 0)),
          limit);
    }
    if (!within || bytes > limit - total) {
      within = false;
      break;
    }
    total += bytes;
  }
  if (within) return absl::OkStatus();
  if (environment.max_batch_bytes == 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat(fields, ": a batch of ", batch_size,
                     " samples would take more than 2^62 bytes"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      fields, ": a batch of ", batch_size,
      " samples would take more than the daemon's limit of ",
      environment.max_batch_bytes, " bytes (limits.max_batch_bytes)"));
}

absl::StatusOr<ResolvedFile> ResolveField(
    const PipelineEnvironment& environment, absl::string_view field,
    absl::string_view path) {
  ITERD_RETURN_IF_ERROR(CheckPathText(field, path));
  if (path.empty()) return FieldError(field, "is required");
  absl::StatusOr<std::string> resolved = environment.resolve_path(path);
  if (!resolved.ok()) {
    return absl::Status(resolved.status().code(),
                        absl::StrCat(field, ": ", resolved.status().message()));
  }
  ResolvedFile file;
  file.name = environment.relative_name ? environment.relative_name(*resolved)
                                        : std::string(path);
  file.path = *std::move(resolved);
  return file;
}

absl::Status NameFilesRelative(const absl::Status& status,
                               const PipelineEnvironment& environment) {
  if (status.ok()) return status;
  if (!environment.relative_name) {
    return absl::Status(status.code(), BoundedMessage(status.message()));
  }
  const absl::string_view message = status.message();
  std::string named;
  size_t i = 0;
  while (i < message.size()) {
    const size_t slash = message.find('/', i);
    if (slash == absl::string_view::npos) break;
    size_t end = message.find_first_of(" '\":,()\n", slash);
    if (end == absl::string_view::npos) end = message.size();
    absl::StrAppend(&named, message.substr(i, slash - i));
    // A path under no root comes back as it is (a client's own text).
    named.append(environment.relative_name(message.substr(slash, end - slash)));
    i = end;
  }
  absl::StrAppend(&named, message.substr(std::min(i, message.size())));
  return absl::Status(status.code(), BoundedMessage(named));
}

absl::Status NameFileIn(const absl::Status& status, const ResolvedFile& file) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrReplaceAll(status.message(),
                                          {{file.path, ShownName(file.name)}}));
}

absl::StatusOr<uint64_t> ShapeBytes(const std::vector<int64_t>& shape,
                                    DType dtype, absl::string_view field) {
  constexpr uint64_t kMaxArrayBytes = uint64_t{1}
                                      << 50;  // 1 PiB: larger is a bad shape.
  uint64_t bytes = DTypeSize(dtype);
  for (int64_t dim : shape) {
    if (dim < 0) return FieldError(field, "dimensions must not be negative");
    if (dim != 0 && bytes > kMaxArrayBytes / static_cast<uint64_t>(dim)) {
      return absl::ResourceExhaustedError(
          absl::StrCat(field, ": the shape describes more than 2^50 bytes"));
    }
    bytes *= static_cast<uint64_t>(dim);
  }
  return bytes;
}

std::vector<int64_t> ToVector(
    const google::protobuf::RepeatedField<int64_t>& field) {
  return std::vector<int64_t>(field.begin(), field.end());
}

absl::Status CheckBatchSize(absl::string_view field, int64_t batch_size) {
  if (batch_size >= 1 && batch_size <= kMaxBatchSize) return absl::OkStatus();
  return FieldError(field, absl::StrCat("must be in [1, ", kMaxBatchSize,
                                        "], got ", batch_size));
}

absl::Status CheckParts(absl::string_view prefix, int num_parts,
                        int part_index) {
  if (num_parts < 0) {
    return FieldError(
        absl::StrCat(prefix, "num_parts"),
        absl::StrCat("must be >= 0 (0 means 1), got ", num_parts));
  }
  if (part_index < 0 || part_index >= std::max(num_parts, 1)) {
    return FieldError(absl::StrCat(prefix, "part_index"),
                      absl::StrCat("must be in [0, num_parts), got part_index ",
                                   part_index, " of num_parts ", num_parts));
  }
  return absl::OkStatus();
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
  std::vector<TensorSpec> sample_specs = source->sample_data_specs();
  const std::vector<TensorSpec>& label_specs = source->sample_label_specs();
  sample_specs.insert(sample_specs.end(), label_specs.begin(),
                      label_specs.end());
  // A batch's index (8 bytes a sample) is allocated with it.
  if (source->has_sample_ids()) sample_specs.push_back({DType::kInt64, {}});
  ITERD_RETURN_IF_ERROR(CheckBatchBytes("batch_size and the sample shapes",
                                        shape.batch_size, sample_specs,
                                        environment));
  ITERD_ASSIGN_OR_RETURN(
      std::unique_ptr<Batcher> batcher,
      Batcher::Create({shape.batch_size, shape.policy,
                       shape.prefetch_depth + kPayloadsBeyondPrefetch},
                      std::move(source), environment.make_payload_pool));
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
  if (environment.resume_position.has_value()) {
    // Before the prefetcher starts producing: nothing before the position is
    // read.
    ITERD_RETURN_IF_ERROR(batcher->Restore(*environment.resume_position));
  }
  opened.start_position = batcher->position();
  opened.batch_size = shape.batch_size;
  opened.source_stats = [stats_source] { return stats_source->stats(); };
  opened.prefetcher = std::make_unique<Prefetcher>(
      std::move(batcher), shape.prefetch_depth, environment.pool);
  return opened;
}

}  // namespace iterd::pipeline
