#include "server/pipeline/ndarray_factory.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/io/held_file.h"
#include "common/status/input_text.h"
#include "common/status/status_macros.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/factory_common.h"
#include "server/pipeline/ndarray_source.h"

namespace iterd::pipeline {
namespace {

absl::Status Validate(const v1::PipelineConfig& pipeline) {
  const v1::NDArrayConfig& config = pipeline.ndarray();
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

absl::Status ApplyOverrides(const v1::PipelineOverrides& overrides,
                            v1::PipelineConfig* config) {
  v1::NDArrayConfig* ndarray = config->mutable_ndarray();
  if (overrides.has_batch_size())
    ndarray->set_batch_size(overrides.batch_size());
  if (overrides.has_shuffle()) ndarray->set_shuffle(overrides.shuffle());
  if (overrides.has_seed()) ndarray->set_seed(overrides.seed());
  if (overrides.has_num_parts()) ndarray->set_num_parts(overrides.num_parts());
  if (overrides.has_part_index()) {
    ndarray->set_part_index(overrides.part_index());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<InlineArraySpec>> DeclaredUploads(
    const v1::PipelineConfig& config) {
  std::vector<InlineArraySpec> specs;
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

absl::StatusOr<OpenedPipeline> Open(const v1::PipelineConfig& config,
                                    std::vector<Array> uploads,
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

KindIdentity Identity(const v1::PipelineConfig& config) {
  const v1::NDArrayConfig& ndarray = config.ndarray();
  return {ndarray.batch_size(), std::max(1, ndarray.num_parts()),
          ndarray.part_index(), ndarray.seed(), ndarray.seed() == 0};
}

void ClearUnfingerprinted(v1::PipelineConfig* config) {
  v1::NDArrayConfig* ndarray = config->mutable_ndarray();
  ndarray->clear_batch_size();
  ndarray->clear_num_parts();
  ndarray->clear_part_index();
  ndarray->clear_seed();
}

void SetSeed(uint64_t seed, v1::PipelineConfig* config) {
  config->mutable_ndarray()->set_seed(seed);
}

}  // namespace

const PipelineKind& NDArrayKind() {
  static const PipelineKind kind = {"ndarray",      Validate,
                                    ApplyOverrides, Open,
                                    Identity,       ClearUnfingerprinted,
                                    SetSeed,        DeclaredUploads};
  return kind;
}

}  // namespace iterd::pipeline
