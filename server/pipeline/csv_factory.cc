#include "server/pipeline/csv_factory.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/csv/row_parser.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/csv_source.h"
#include "server/pipeline/factory_common.h"

namespace iterd::pipeline {
namespace {

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

absl::Status Validate(const v1::PipelineConfig& pipeline) {
  const v1::CSVConfig& config = pipeline.csv();
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

absl::Status ApplyOverrides(const v1::PipelineOverrides& overrides,
                            v1::PipelineConfig* config) {
  if (overrides.has_batch_size()) {
    config->mutable_csv()->set_batch_size(overrides.batch_size());
  }
  if (overrides.has_shuffle() || overrides.has_seed() ||
      overrides.has_num_parts() || overrides.has_part_index()) {
    return FieldError("overrides",
                      "a CSV pipeline takes only batch_size (CSVIter has no "
                      "shuffle, seed or parts)");
  }
  return absl::OkStatus();
}

absl::StatusOr<OpenedPipeline> Open(const v1::PipelineConfig& config,
                                    std::vector<Array> /*uploads*/,
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

KindIdentity Identity(const v1::PipelineConfig& config) {
  return {config.csv().batch_size(), 1, 0, 0, false};
}

void ClearUnfingerprinted(v1::PipelineConfig* config) {
  config->mutable_csv()->clear_batch_size();
  config->mutable_csv()->clear_prefetch_buffer();
}

}  // namespace

const PipelineKind& CsvKind() {
  static const PipelineKind kind = {"csv",   Validate, ApplyOverrides,
                                    Open,    Identity, ClearUnfingerprinted,
                                    nullptr, nullptr};
  return kind;
}

}  // namespace iterd::pipeline
