#include "server/pipeline/pipeline_factory.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/csv/row_parser.h"
#include "common/io/held_file.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/csv_source.h"
#include "server/pipeline/factory_common.h"
#include "server/pipeline/image_iter_factory.h"
#include "server/pipeline/image_record_factory.h"
#include "server/pipeline/iterator_state.h"
#include "server/pipeline/ndarray_source.h"

namespace iterd::pipeline {
namespace {

// Bytes of an array of `shape` and `dtype`, refusing sizes that overflow or
// exceed what any upload could hold (the shape comes from the client).
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

absl::Status ValidateNDArray(const v1::NDArrayConfig& config) {
  ITERD_RETURN_IF_ERROR(
      CheckBatchSize("ndarray.batch_size", config.batch_size()));
  if (config.data_size() == 0) {
    return FieldError("ndarray.data", "at least one data array is required");
  }
  if (!v1::LastBatchHandle_IsValid(config.last_batch_handle())) {
    return FieldError("ndarray.last_batch_handle",
                      absl::StrCat("must be PAD, DISCARD or ROLL_OVER, got ",
                                   config.last_batch_handle()));
  }
  if (config.dtype() != v1::DATA_TYPE_UNSPECIFIED) {
    ITERD_RETURN_IF_ERROR(
        FromProtoDType(config.dtype(), "ndarray.dtype").status());
  }
  ITERD_RETURN_IF_ERROR(
      CheckParts("ndarray.", config.num_parts(), config.part_index()));
  for (const bool is_label : {false, true}) {
    const auto& arrays = is_label ? config.label() : config.data();
    for (int i = 0; i < arrays.size(); ++i) {
      const v1::ArraySource& array = arrays[i];
      const std::string field =
          absl::StrCat(is_label ? "ndarray.label[" : "ndarray.data[", i, "]");
      ITERD_RETURN_IF_ERROR(CheckNameText(field + ".name", array.name()));
      ITERD_RETURN_IF_ERROR(CheckNameText(field + ".npz_key", array.npz_key()));
      switch (array.source_case()) {
        case v1::ArraySource::kPath:
          if (array.path().empty()) {
            return FieldError(field + ".path", "is required");
          }
          ITERD_RETURN_IF_ERROR(CheckPathText(field + ".path", array.path()));
          break;
        case v1::ArraySource::kInline:
          break;  // Checked by DeclaredInlineArrays before the upload.
        default:
          return FieldError(field, "needs a path or an inline array");
      }
    }
  }
  return absl::OkStatus();
}

// The output dtype of a CSV pipeline; InvalidArgument naming csv.dtype.
absl::StatusOr<DType> CsvDType(const v1::CSVConfig& config) {
  if (config.dtype() == v1::DATA_TYPE_UNSPECIFIED) return DType::kFloat32;
  absl::StatusOr<DType> dtype = FromProtoDType(config.dtype(), "csv.dtype");
  if (dtype.ok() && (*dtype == DType::kFloat32 || *dtype == DType::kInt32 ||
                     *dtype == DType::kInt64)) {
    return dtype;
  }
  return FieldError(
      "csv.dtype",
      absl::StrCat("must be FLOAT32, INT32 or INT64, got ", config.dtype()));
}

// csv.label_shape as the source reads it: empty means (1,).
std::vector<int64_t> CsvLabelShape(const v1::CSVConfig& config) {
  if (config.label_shape().empty()) return {1};
  return std::vector<int64_t>(config.label_shape().begin(),
                              config.label_shape().end());
}

absl::Status ValidateCsv(const v1::CSVConfig& config) {
  ITERD_RETURN_IF_ERROR(CheckPathText("csv.data_csv", config.data_csv()));
  ITERD_RETURN_IF_ERROR(CheckPathText("csv.label_csv", config.label_csv()));
  if (config.data_csv().empty()) {
    return FieldError("csv.data_csv", "is required");
  }
  ITERD_RETURN_IF_ERROR(CheckBatchSize("csv.batch_size", config.batch_size()));
  ITERD_ASSIGN_OR_RETURN(const DType dtype, CsvDType(config));
  ITERD_RETURN_IF_ERROR(
      CheckSampleShape("csv.data_shape",
                       std::vector<int64_t>(config.data_shape().begin(),
                                            config.data_shape().end()),
                       dtype, 1));
  ITERD_RETURN_IF_ERROR(
      CheckSampleShape("csv.label_shape", CsvLabelShape(config), dtype, 1));
  if (config.delimiter().size() > 1) {
    return FieldError("csv.delimiter",
                      absl::StrCat("must be one character, got ",
                                   QuoteInput(config.delimiter())));
  }
  csv::RowFormat format;
  format.delimiter = config.delimiter().empty() ? ',' : config.delimiter()[0];
  format.dtype = dtype;
  if (absl::Status row = csv::ValidateRowFormat(format); !row.ok()) {
    return absl::Status(row.code(), absl::StrCat("csv.", row.message()));
  }
  return absl::OkStatus();
}

// Input names as MXNet's NDArrayIter assigns them to unnamed arrays: "data"
// for one array, "_0_data", "_1_data", ... for several.
std::string ArrayName(const v1::ArraySource& array, int position, int count,
                      const std::string& base) {
  if (!array.name().empty()) return array.name();
  if (count == 1) return base;
  return absl::StrCat("_", position, "_", base);
}

absl::StatusOr<std::vector<NamedArray>> LoadArrays(
    absl::string_view repeated_field,
    const google::protobuf::RepeatedPtrField<v1::ArraySource>& sources,
    const std::string& base_name, std::vector<Array>* uploads,
    size_t* next_upload, const PipelineEnvironment& environment) {
  std::vector<NamedArray> arrays;
  for (int i = 0; i < sources.size(); ++i) {
    const v1::ArraySource& source = sources[i];
    NamedArray named;
    named.name = ArrayName(source, i, sources.size(), base_name);
    if (source.has_inline_()) {
      named.array = std::move((*uploads)[(*next_upload)++]);
    } else {
      const std::string field = absl::StrCat(repeated_field, "[", i, "].path");
      ITERD_ASSIGN_OR_RETURN(const ResolvedFile file,
                             ResolveField(environment, field, source.path()));
      // Opened by a descriptor checked to be the resolved file: a directory
      // swapped for a symlink since the policy resolved it is refused.
      ITERD_ASSIGN_OR_RETURN(
          const io::HeldFile held,
          io::HeldFile::Open(file.path, ShownName(file.name)));
      const bool is_npz = absl::EndsWith(file.path, ".npz");
      absl::StatusOr<Array> loaded =
          is_npz ? LoadNpz(held.path(), source.npz_key(),
                           environment.max_npz_member_bytes)
                 : LoadNpy(held.path());
      // The loaders name the file by the path they opened.
      if (!loaded.ok()) {
        return NameFileIn(loaded.status(), {held.path(), file.name});
      }
      named.array = *std::move(loaded);
    }
    arrays.push_back(std::move(named));
  }
  return arrays;
}

absl::StatusOr<OpenedPipeline> OpenNDArray(
    const v1::PipelineConfig& config, std::vector<Array> uploads,
    const PipelineEnvironment& environment) {
  const v1::NDArrayConfig& ndarray = config.ndarray();
  NDArraySourceOptions options;
  size_t next_upload = 0;
  const std::string data_name = DataName(config);
  const std::string label_name = LabelName(config);
  ITERD_ASSIGN_OR_RETURN(options.data,
                         LoadArrays("ndarray.data", ndarray.data(), data_name,
                                    &uploads, &next_upload, environment));
  ITERD_ASSIGN_OR_RETURN(
      options.label, LoadArrays("ndarray.label", ndarray.label(), label_name,
                                &uploads, &next_upload, environment));
  options.shuffle = ndarray.shuffle();
  options.seed = ndarray.seed();
  if (options.seed == 0) options.seed = std::random_device()() | 1u;
  options.output_dtype = DType::kFloat32;
  if (ndarray.dtype() != v1::DATA_TYPE_UNSPECIFIED) {
    ITERD_ASSIGN_OR_RETURN(options.output_dtype,
                           FromProtoDType(ndarray.dtype(), "ndarray.dtype"));
  }
  const uint64_t seed = options.seed;
  options.num_parts = ndarray.num_parts() > 0 ? ndarray.num_parts() : 1;
  options.part_index = ndarray.part_index();
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<NDArraySource> source,
                         NDArraySource::Create(std::move(options)));
  NDArraySource* ndarray_source = source.get();
  const int64_t num_samples = source->num_samples();
  PipelineShape shape;
  shape.batch_size = ndarray.batch_size();
  switch (ndarray.last_batch_handle()) {
    case v1::DISCARD:
      shape.policy = LastBatchPolicy::kDiscard;
      break;
    case v1::ROLL_OVER:
      shape.policy = LastBatchPolicy::kRollOver;
      break;
    default:
      shape.policy = LastBatchPolicy::kPad;
      break;
  }
  shape.prefetch_depth = PrefetchDepth(config, environment);
  shape.data_names = ndarray_source->data_names();
  shape.label_names = ndarray_source->label_names();
  ITERD_ASSIGN_OR_RETURN(OpenedPipeline opened,
                         StartPipeline(std::move(source), shape, environment));
  opened.seed = seed;
  opened.num_samples = num_samples;
  Prefetcher* prefetcher = opened.prefetcher.get();
  opened.sample_order = [prefetcher, ndarray_source]() {
    std::vector<uint64_t> order;
    // The source belongs to the prefetcher's producer: read it while no batch
    // is in production.
    prefetcher->WithInputExclusive([&](BatchIterator*) {
      const std::vector<int64_t>& current = ndarray_source->current_order();
      order.assign(current.begin(), current.end());
    });
    return order;
  };
  return opened;
}

absl::StatusOr<OpenedPipeline> OpenCsv(const v1::PipelineConfig& config,
                                       const PipelineEnvironment& environment) {
  const v1::CSVConfig& csv = config.csv();
  CsvSourceOptions options;
  ITERD_ASSIGN_OR_RETURN(options.dtype, CsvDType(csv));
  options.data_shape = ToVector(csv.data_shape());
  options.label_shape = ToVector(csv.label_shape());
  const bool has_labels = !csv.label_csv().empty() && csv.label_csv() != "NULL";
  // Checked before any file is opened or block parsed: a row as large as the
  // shapes say is allocated by the parser.
  std::vector<TensorSpec> samples = {{options.dtype, options.data_shape}};
  // Without a label file every label is one scalar 0.
  samples.push_back({options.dtype,
                     has_labels ? CsvLabelShape(csv) : std::vector<int64_t>{}});
  samples.push_back({DType::kInt64, {}});  // The batch's index: row numbers.
  ITERD_RETURN_IF_ERROR(
      CheckBatchBytes("csv.batch_size, csv.data_shape and csv.label_shape",
                      csv.batch_size(), samples, environment));
  ITERD_ASSIGN_OR_RETURN(
      const ResolvedFile data_csv,
      ResolveField(environment, "csv.data_csv", csv.data_csv()));
  options.data_csv = data_csv.path;
  options.data_csv_name = data_csv.name;
  if (has_labels) {
    ITERD_ASSIGN_OR_RETURN(
        const ResolvedFile label_csv,
        ResolveField(environment, "csv.label_csv", csv.label_csv()));
    options.label_csv = label_csv.path;
    options.label_csv_name = label_csv.name;
  }
  // Files listed in a folder obey the data roots too: a symlink in the
  // folder that leads outside them is refused.
  options.resolve_entry =
      [resolve = environment.resolve_path](const std::string& path) {
        return resolve(path);
      };
  options.hold_files = true;
  const int depth = csv.prefetch_buffer() > 0
                        ? csv.prefetch_buffer()
                        : (config.prefetch_buffer() > 0
                               ? config.prefetch_buffer()
                               : environment.default_prefetch_buffer);
  options.max_blocks_in_flight = std::max(2, depth);
  options.delimiter = csv.delimiter().empty() ? ',' : csv.delimiter()[0];
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<SampleSource> source,
                         CsvSource::Create(options, environment.pool));
  const bool round_batch = !csv.has_round_batch() || csv.round_batch();
  PipelineShape shape;
  shape.batch_size = csv.batch_size();
  shape.policy =
      round_batch ? LastBatchPolicy::kRoundBatch : LastBatchPolicy::kZeroFill;
  shape.prefetch_depth = depth;
  shape.data_names = {DataName(config)};
  shape.label_names = {LabelName(config)};
  // num_samples stays -1: a streamed CSV's row count is known after a pass.
  return StartPipeline(std::move(source), shape, environment);
}

}  // namespace

absl::Status ValidatePipelineConfig(const v1::PipelineConfig& config) {
  // Each prefetched batch holds memory (up to limits.max_batch_bytes): the
  // depth is bounded.
  for (const auto& [field, depth] :
       {std::pair<const char*, int>{"prefetch_buffer",
                                    config.prefetch_buffer()},
        {"csv.prefetch_buffer", config.csv().prefetch_buffer()}}) {
    if (depth < 0 || depth > kMaxPrefetchBuffer) {
      return FieldError(
          field, absl::StrCat("must be between 0 and ", kMaxPrefetchBuffer,
                              ", got ", depth));
    }
  }
  ITERD_RETURN_IF_ERROR(CheckNameText("data_name", config.data_name()));
  ITERD_RETURN_IF_ERROR(CheckNameText("label_name", config.label_name()));
  switch (config.kind_case()) {
    case v1::PipelineConfig::kNdarray:
      return ValidateNDArray(config.ndarray());
    case v1::PipelineConfig::kCsv:
      return ValidateCsv(config.csv());
    case v1::PipelineConfig::kImageRecord:
      return ValidateImageRecord(config.image_record());
    case v1::PipelineConfig::kImageIter:
      return ValidateImageIter(config.image_iter());
    default:
      return FieldError(
          "kind",
          "a pipeline needs one of: ndarray, csv, image_record, image_iter");
  }
}

absl::Status ApplyOverrides(const v1::PipelineOverrides& overrides,
                            v1::PipelineConfig* config) {
  if (config->has_ndarray()) {
    v1::NDArrayConfig* ndarray = config->mutable_ndarray();
    if (overrides.has_batch_size())
      ndarray->set_batch_size(overrides.batch_size());
    if (overrides.has_shuffle()) ndarray->set_shuffle(overrides.shuffle());
    if (overrides.has_seed()) ndarray->set_seed(overrides.seed());
    if (overrides.has_num_parts())
      ndarray->set_num_parts(overrides.num_parts());
    if (overrides.has_part_index())
      ndarray->set_part_index(overrides.part_index());
  } else if (config->has_image_record()) {
    ApplyImageRecordOverrides(overrides, config->mutable_image_record());
  } else if (config->has_image_iter()) {
    v1::ImageIterConfig* image_iter = config->mutable_image_iter();
    if (overrides.has_batch_size()) {
      image_iter->set_batch_size(overrides.batch_size());
    }
    if (overrides.has_shuffle()) image_iter->set_shuffle(overrides.shuffle());
    if (overrides.has_seed()) image_iter->set_seed(overrides.seed());
    if (overrides.has_num_parts()) {
      image_iter->set_num_parts(overrides.num_parts());
    }
    if (overrides.has_part_index()) {
      image_iter->set_part_index(overrides.part_index());
    }
  } else if (config->has_csv()) {
    if (overrides.has_batch_size()) {
      config->mutable_csv()->set_batch_size(overrides.batch_size());
    }
    if (overrides.has_shuffle() || overrides.has_seed() ||
        overrides.has_num_parts() || overrides.has_part_index()) {
      return FieldError("overrides",
                        "a CSV pipeline takes only batch_size (CSVIter has no "
                        "shuffle, seed or parts)");
    }
  }
  return ValidatePipelineConfig(*config);
}

absl::StatusOr<std::vector<InlineArraySpec>> DeclaredInlineArrays(
    const v1::PipelineConfig& config) {
  std::vector<InlineArraySpec> specs;
  if (!config.has_ndarray()) return specs;
  for (const auto* arrays :
       {&config.ndarray().data(), &config.ndarray().label()}) {
    for (const v1::ArraySource& array : *arrays) {
      if (!array.has_inline_()) continue;
      const std::string field =
          absl::StrCat("inline array '", array.name(), "'");
      InlineArraySpec spec;
      spec.name = array.name();
      ITERD_ASSIGN_OR_RETURN(spec.dtype, FromProtoDType(array.inline_().dtype(),
                                                        field + " dtype"));
      spec.shape = ToVector(array.inline_().shape());
      if (spec.shape.empty() ||
          spec.shape.size() > static_cast<size_t>(kMaxShapeRank)) {
        return FieldError(field, absl::StrCat("needs a shape of 1 to ",
                                              kMaxShapeRank, " dimensions"));
      }
      ITERD_ASSIGN_OR_RETURN(spec.byte_size,
                             ShapeBytes(spec.shape, spec.dtype, field));
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

absl::StatusOr<OpenedPipeline> OpenPipeline(
    const v1::PipelineConfig& config, std::vector<Array> uploads,
    const PipelineEnvironment& environment) {
  ITERD_RETURN_IF_ERROR(ValidatePipelineConfig(config));
  v1::PipelineConfig effective = config;
  PipelineEnvironment resumed = environment;
  if (environment.resume_from != nullptr) {
    ITERD_ASSIGN_OR_RETURN(
        resumed.resume_position,
        CheckResumeState(*environment.resume_from, &effective));
  }
  absl::StatusOr<OpenedPipeline> opened =
      effective.has_image_record() ? OpenImageRecord(effective, resumed)
      : effective.has_image_iter() ? OpenImageIter(effective, resumed)
      : effective.has_ndarray()
          ? OpenNDArray(effective, std::move(uploads), resumed)
          : OpenCsv(effective, resumed);
  if (!opened.ok()) return NameFilesRelative(opened.status(), environment);
  opened->state_identity = StateIdentity(effective, opened->seed);
  return opened;
}

}  // namespace iterd::pipeline
