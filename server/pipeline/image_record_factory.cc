#include "server/pipeline/image_record_factory.h"

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/random/engine.h"
#include "common/status/status_macros.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/factory_common.h"
#include "server/pipeline/image_record_ranges.h"
#include "server/pipeline/image_record_source.h"
#include "server/pipeline/mean_image.h"
#include "server/pipeline/mean_image_builder.h"

namespace iterd::pipeline {
namespace {

// Engine stream that derives an unset seed_aug from seed.
constexpr uint64_t kSeedAugStream = 0x5345454441554700;  // "SEEDAUG"

constexpr int kDefaultPreprocessThreads = 4;  // MXNet's default.

absl::Status RecordFieldError(absl::string_view field,
                              absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("image_record.", field, ": ", problem));
}

// The augmenter's and writer's messages already name their field.
absl::Status Prefixed(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("image_record.", status.message()));
}

image::DefaultAugmenterParams AugmenterParams(
    const v1::ImageRecordConfig& config) {
  image::DefaultAugmenterParams params;
  params.out_height = static_cast<int>(config.data_shape(1));
  params.out_width = static_cast<int>(config.data_shape(2));
  if (config.has_resize()) params.resize = config.resize();
  params.rand_crop = config.rand_crop();
  params.random_resized_crop = config.random_resized_crop();
  params.max_rotate_angle = config.max_rotate_angle();
  if (config.has_rotate()) params.rotate = config.rotate();
  params.rotate_list.assign(config.rotate_list().begin(),
                            config.rotate_list().end());
  params.max_aspect_ratio = config.max_aspect_ratio();
  if (config.has_min_aspect_ratio()) {
    params.min_aspect_ratio = config.min_aspect_ratio();
  }
  params.max_shear_ratio = config.max_shear_ratio();
  if (config.has_max_crop_size()) params.max_crop_size = config.max_crop_size();
  if (config.has_min_crop_size()) params.min_crop_size = config.min_crop_size();
  if (config.has_max_random_scale()) {
    params.max_random_scale = config.max_random_scale();
  }
  if (config.has_min_random_scale()) {
    params.min_random_scale = config.min_random_scale();
  }
  if (config.has_max_random_area()) {
    params.max_random_area = config.max_random_area();
  }
  if (config.has_min_random_area()) {
    params.min_random_area = config.min_random_area();
  }
  if (config.has_max_img_size()) params.max_img_size = config.max_img_size();
  params.min_img_size = config.min_img_size();
  params.brightness = config.brightness();
  params.contrast = config.contrast();
  params.saturation = config.saturation();
  params.pca_noise = config.pca_noise();
  params.random_h = config.random_h();
  params.random_s = config.random_s();
  params.random_l = config.random_l();
  if (config.has_fill_value()) params.fill_value = config.fill_value();
  if (config.has_inter_method()) params.inter_method = config.inter_method();
  params.pad = config.pad();
  return params;
}

DType OutputDType(const v1::ImageRecordConfig& config) {
  switch (config.dtype()) {
    case v1::UINT8:
      return DType::kUInt8;
    case v1::INT8:
      return DType::kInt8;
    default:
      return DType::kFloat32;
  }
}

image::SampleWriterParams WriterParams(const v1::ImageRecordConfig& config) {
  image::SampleWriterParams params;
  params.dtype = OutputDType(config);
  params.nhwc = config.layout() == v1::NHWC;
  params.channels = static_cast<int>(config.data_shape(0));
  params.mean[0] = config.mean_r();
  params.mean[1] = config.mean_g();
  params.mean[2] = config.mean_b();
  params.mean[3] = config.mean_a();
  params.std[0] = config.has_std_r() ? config.std_r() : 1.0f;
  params.std[1] = config.has_std_g() ? config.std_g() : 1.0f;
  params.std[2] = config.has_std_b() ? config.std_b() : 1.0f;
  params.std[3] = config.has_std_a() ? config.std_a() : 1.0f;
  params.scale = config.has_scale() ? config.scale() : 1.0f;
  params.mirror = config.mirror();
  params.rand_mirror = config.rand_mirror();
  params.max_random_contrast = config.max_random_contrast();
  params.max_random_illumination = config.max_random_illumination();
  return params;
}

// The path `mean_img` will be created at: its directory must resolve under a
// data root (so a client cannot make the daemon write elsewhere), and the name
// must be a plain file name.
absl::StatusOr<std::string> NewMeanPath(
    absl::string_view mean_img, const PipelineEnvironment& environment) {
  const size_t slash = mean_img.rfind('/');
  const absl::string_view directory =
      slash == absl::string_view::npos
          ? absl::string_view(".")
          : (slash == 0 ? absl::string_view("/") : mean_img.substr(0, slash));
  const absl::string_view name =
      slash == absl::string_view::npos ? mean_img : mean_img.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return RecordFieldError(
        "mean_img", absl::StrCat("\"", mean_img, "\" is not a file name"));
  }
  ITERD_ASSIGN_OR_RETURN(std::string resolved,
                         environment.resolve_path(directory));
  return absl::StrCat(resolved, "/", name);
}

// Loads `mean_img`, or, when it does not exist, computes it with one pass over
// the data and saves it there as MXNet does. A mean that cannot be saved (a
// read-only data root) is still used, with a warning: the iterator's output
// does not depend on the file.
absl::StatusOr<std::vector<float>> LoadOrCreateMean(
    const v1::ImageRecordConfig& config,
    const ImageRecordSourceOptions& options,
    const PipelineEnvironment& environment) {
  const int channels = static_cast<int>(config.data_shape(0));
  const int height = static_cast<int>(config.data_shape(1));
  const int width = static_cast<int>(config.data_shape(2));
  absl::StatusOr<std::string> path =
      environment.resolve_path(config.mean_img());
  std::string new_path;
  if (path.ok()) {
    absl::StatusOr<std::vector<float>> mean =
        LoadMeanImage(*path, channels, height, width);
    if (!absl::IsNotFound(mean.status())) return mean;
    new_path = *std::move(path);
  } else if (absl::IsNotFound(path.status())) {
    ITERD_ASSIGN_OR_RETURN(new_path,
                           NewMeanPath(config.mean_img(), environment));
  } else {
    return path.status();
  }
  ITERD_LOG(INFO) << "mean_img \"" << new_path
                  << "\" does not exist: computing it over \""
                  << options.path_imgrec << "\"";
  ITERD_ASSIGN_OR_RETURN(std::vector<float> mean,
                         ComputeMeanImage(options, environment.pool));
  const absl::Status saved =
      SaveMeanImageIfAbsent(new_path, mean, channels, height, width);
  if (absl::IsAlreadyExists(saved)) {
    // Another iterator computed it meanwhile; the file is authoritative.
    return LoadMeanImage(new_path, channels, height, width);
  }
  if (!saved.ok()) {
    ITERD_LOG(WARNING) << saved.message()
                       << "; using the computed mean without saving it";
  }
  return mean;
}

// The ranges pipeline.proto documents for each numeric field; an optional
// field is checked only when set.
absl::Status CheckRecordRanges(const v1::ImageRecordConfig& c) {
  const IntRange ints[] = {
      {"batch_size", true, c.batch_size(), 1, kMaxImageBatchSize},
      {"label_width", c.has_label_width(), c.label_width(), 1, kMaxLabelWidth},
      {"preprocess_threads", c.has_preprocess_threads(), c.preprocess_threads(),
       1, 1024},
      {"num_parts", true, c.num_parts(), 0, kMaxParts},
      {"shuffle_chunk_size", true, c.shuffle_chunk_size(), 0, 1 << 20},
      {"resize", c.has_resize(), c.resize(), -1, kMaxResize},
      {"max_rotate_angle", true, c.max_rotate_angle(), 0, 360},
      {"rotate", c.has_rotate(), c.rotate(), -1, 360},
      {"max_crop_size", c.has_max_crop_size(), c.max_crop_size(), -1,
       kMaxImageSide},
      {"min_crop_size", c.has_min_crop_size(), c.min_crop_size(), -1,
       kMaxImageSide},
      {"random_h", true, c.random_h(), 0, 180},
      {"random_s", true, c.random_s(), 0, 255},
      {"random_l", true, c.random_l(), 0, 255},
      {"fill_value", c.has_fill_value(), c.fill_value(), 0, 255},
      {"pad", true, c.pad(), 0, kMaxPad},
  };
  ITERD_RETURN_IF_ERROR(CheckIntRanges(ints));
  if (c.rotate_list_size() > 360) {
    return FieldError(
        "rotate_list",
        absl::StrCat("holds at most 360 angles, got ", c.rotate_list_size()));
  }
  for (int32_t angle : c.rotate_list()) {
    ITERD_RETURN_IF_ERROR(CheckIntRange("rotate_list", angle, -360, 360));
  }
  const FloatRange floats[] = {
      {"mean_r", true, c.mean_r(), -1e6, 1e6},
      {"mean_g", true, c.mean_g(), -1e6, 1e6},
      {"mean_b", true, c.mean_b(), -1e6, 1e6},
      {"mean_a", true, c.mean_a(), -1e6, 1e6},
      {"scale", c.has_scale(), c.scale(), -1e6, 1e6},
      {"max_random_contrast", true, c.max_random_contrast(), 0, 1000},
      {"max_random_illumination", true, c.max_random_illumination(), 0, 1000},
      {"max_aspect_ratio", true, c.max_aspect_ratio(), 0, 100},
      {"min_aspect_ratio", c.has_min_aspect_ratio(), c.min_aspect_ratio(), 0,
       100},
      {"max_shear_ratio", true, c.max_shear_ratio(), 0, 10},
      {"max_random_scale", c.has_max_random_scale(), c.max_random_scale(), 0,
       100},
      {"min_random_scale", c.has_min_random_scale(), c.min_random_scale(), 0,
       100},
      {"max_random_area", c.has_max_random_area(), c.max_random_area(), 0, 100},
      {"min_random_area", c.has_min_random_area(), c.min_random_area(), 0, 100},
      {"max_img_size", c.has_max_img_size(), c.max_img_size(), 0, 1e10},
      {"min_img_size", true, c.min_img_size(), 0, kMaxResize},
      {"brightness", true, c.brightness(), 0, 100},
      {"contrast", true, c.contrast(), 0, 100},
      {"saturation", true, c.saturation(), 0, 100},
      {"pca_noise", true, c.pca_noise(), 0, 100},
  };
  ITERD_RETURN_IF_ERROR(CheckFloatRanges(floats));
  for (const auto& [name, set, value] :
       {std::make_tuple("std_r", c.has_std_r(), c.std_r()),
        std::make_tuple("std_g", c.has_std_g(), c.std_g()),
        std::make_tuple("std_b", c.has_std_b(), c.std_b()),
        std::make_tuple("std_a", c.has_std_a(), c.std_a())}) {
    if (set) ITERD_RETURN_IF_ERROR(CheckDivisor(name, value, 1e6));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateImageRecord(const v1::ImageRecordConfig& config) {
  if (config.path_imgrec().empty()) {
    return RecordFieldError("path_imgrec", "is required");
  }
  if (config.data_shape_size() != 3) {
    return RecordFieldError("data_shape",
                            absl::StrCat("needs 3 values (C, H, W), got ",
                                         config.data_shape_size()));
  }
  const int64_t channels = config.data_shape(0);
  if (channels != 1 && channels != 3 && channels != 4) {
    return RecordFieldError(
        "data_shape", absl::StrCat("C must be 1, 3 or 4, got ", channels));
  }
  for (int i = 1; i < 3; ++i) {
    if (config.data_shape(i) <= 0 || config.data_shape(i) > kMaxImageSide) {
      return RecordFieldError(
          "data_shape", absl::StrCat("H and W must be in [1, ", kMaxImageSide,
                                     "], got ", config.data_shape(i)));
    }
  }
  ITERD_RETURN_IF_ERROR(Prefixed(CheckRecordRanges(config)));
  const int num_parts = std::max(1, config.num_parts());
  if (config.part_index() < 0 || config.part_index() >= num_parts) {
    return RecordFieldError(
        "part_index", absl::StrCat("must be in [0, num_parts = ", num_parts,
                                   "), got ", config.part_index()));
  }
  const v1::DataType dtype = config.dtype();
  if (dtype != v1::DATA_TYPE_UNSPECIFIED && dtype != v1::FLOAT32 &&
      dtype != v1::UINT8 && dtype != v1::INT8) {
    return RecordFieldError("dtype", "must be float32, uint8 or int8");
  }
  if (config.layout() == v1::NHWC && dtype != v1::UINT8) {
    return RecordFieldError("layout", "NHWC is only offered with dtype uint8");
  }
  if (config.layout() != v1::IMAGE_LAYOUT_UNSPECIFIED &&
      config.layout() != v1::NCHW && config.layout() != v1::NHWC) {
    return RecordFieldError("layout", "must be NCHW or NHWC");
  }
  if (config.bad_record_policy() != v1::BAD_RECORD_POLICY_UNSPECIFIED &&
      config.bad_record_policy() != v1::SKIP &&
      config.bad_record_policy() != v1::FAIL) {
    return RecordFieldError("bad_record_policy", "must be SKIP or FAIL");
  }
  ITERD_RETURN_IF_ERROR(Prefixed(
      image::DefaultAugmenter::Create(AugmenterParams(config)).status()));
  return Prefixed(image::SampleWriter::Create(WriterParams(config)).status());
}

void ApplyImageRecordOverrides(const v1::PipelineOverrides& overrides,
                               v1::ImageRecordConfig* config) {
  if (overrides.has_batch_size())
    config->set_batch_size(overrides.batch_size());
  if (overrides.has_shuffle()) config->set_shuffle(overrides.shuffle());
  if (overrides.has_seed()) {
    config->set_seed(static_cast<int32_t>(overrides.seed()));
    config->set_seed_aug(overrides.seed());
  }
  if (overrides.has_num_parts()) config->set_num_parts(overrides.num_parts());
  if (overrides.has_part_index()) {
    config->set_part_index(overrides.part_index());
  }
}

absl::StatusOr<OpenedPipeline> OpenImageRecord(
    const v1::PipelineConfig& config, const PipelineEnvironment& environment) {
  const v1::ImageRecordConfig& record = config.image_record();
  ITERD_RETURN_IF_ERROR(ValidateImageRecord(record));
  // Before any file is read (a missing mean_img is computed over the data).
  ITERD_RETURN_IF_ERROR(Prefixed(CheckImageBatchBytes(
      record.batch_size(), record.data_shape(0), record.data_shape(1),
      record.data_shape(2), DTypeSize(OutputDType(record)),
      record.has_label_width() ? record.label_width() : 1,
      environment.max_batch_bytes)));
  if (environment.pool == nullptr) {
    return absl::FailedPreconditionError("image_record needs a thread pool");
  }
  ImageRecordSourceOptions options;
  ITERD_ASSIGN_OR_RETURN(options.path_imgrec,
                         environment.resolve_path(record.path_imgrec()));
  if (!record.path_imgidx().empty()) {
    ITERD_ASSIGN_OR_RETURN(options.path_imgidx,
                           environment.resolve_path(record.path_imgidx()));
    options.imgidx_name = record.path_imgidx();
  }
  options.max_image_pixels = environment.max_image_pixels;
  if (!record.path_imglist().empty()) {
    ITERD_ASSIGN_OR_RETURN(options.path_imglist,
                           environment.resolve_path(record.path_imglist()));
  }
  options.label_width = record.has_label_width() ? record.label_width() : 1;
  options.channels = static_cast<int>(record.data_shape(0));
  options.height = static_cast<int>(record.data_shape(1));
  options.width = static_cast<int>(record.data_shape(2));
  // The caller takes part in every batch, so the pool's size is the most
  // threads one iterator can use.
  options.preprocess_threads =
      std::min(record.has_preprocess_threads() ? record.preprocess_threads()
                                               : kDefaultPreprocessThreads,
               std::max(1, environment.pool->num_threads()));
  options.num_parts = std::max(1, record.num_parts());
  options.part_index = record.part_index();
  options.shuffle = record.shuffle();
  options.seed = static_cast<uint64_t>(static_cast<uint32_t>(record.seed()));
  options.shuffle_chunk_size_mb = record.shuffle_chunk_size();
  options.shuffle_chunk_seed =
      static_cast<uint64_t>(static_cast<uint32_t>(record.shuffle_chunk_seed()));
  // Unset: derived from `seed`, so that the same config gives the same
  // batches on every open (a resumed iterator must augment as the saved one
  // did) and seed alone varies a run.
  options.seed_aug =
      record.has_seed_aug()
          ? record.seed_aug()
          : random::Engine(options.seed, kSeedAugStream, 0).Next();
  options.fail_on_bad_record = record.bad_record_policy() == v1::FAIL;
  options.augmenter = AugmenterParams(record);
  options.writer = WriterParams(record);
  if (!record.mean_img().empty()) {
    ITERD_ASSIGN_OR_RETURN(options.mean_image,
                           LoadOrCreateMean(record, options, environment));
  }
  if (!record.has_verbose() || record.verbose()) {
    // MXNet's ImageRecordIOParser2 prints the same facts when verbose.
    ITERD_LOG(INFO) << "ImageRecordIter: " << options.path_imgrec << ", part "
                    << options.part_index << " of " << options.num_parts << ", "
                    << options.preprocess_threads << " threads for decoding"
                    << (options.shuffle ? ", shuffled" : "");
  }
  const uint64_t seed_aug = options.seed_aug;
  const bool nhwc = options.writer.nhwc;
  ITERD_ASSIGN_OR_RETURN(
      std::unique_ptr<ImageRecordSource> source,
      ImageRecordSource::Create(std::move(options), environment.pool));
  const int64_t num_samples = source->num_samples();
  const bool round_batch = !record.has_round_batch() || record.round_batch();
  PipelineShape shape;
  shape.batch_size = record.batch_size();
  shape.policy =
      round_batch ? LastBatchPolicy::kRoundBatch : LastBatchPolicy::kZeroFill;
  shape.prefetch_depth = PrefetchDepth(config, environment);
  shape.data_names = {DataName(config)};
  shape.label_names = {LabelName(config)};
  shape.data_layout = nhwc ? "NHWC" : "NCHW";
  ITERD_ASSIGN_OR_RETURN(OpenedPipeline opened,
                         StartPipeline(std::move(source), shape, environment));
  opened.seed = seed_aug;
  opened.num_samples = num_samples;
  return opened;
}

namespace {

absl::Status ValidateKind(const v1::PipelineConfig& config) {
  return ValidateImageRecord(config.image_record());
}

absl::Status ApplyKindOverrides(const v1::PipelineOverrides& overrides,
                                v1::PipelineConfig* config) {
  ApplyImageRecordOverrides(overrides, config->mutable_image_record());
  return absl::OkStatus();
}

absl::StatusOr<OpenedPipeline> OpenKind(
    const v1::PipelineConfig& config, std::vector<Array> /*uploads*/,
    const PipelineEnvironment& environment) {
  return OpenImageRecord(config, environment);
}

KindIdentity Identity(const v1::PipelineConfig& config) {
  const v1::ImageRecordConfig& record = config.image_record();
  // MXNet's seed is an int; 0 is a seed like any other (the default).
  return {record.batch_size(), std::max(1, record.num_parts()),
          record.part_index(),
          static_cast<uint64_t>(static_cast<uint32_t>(record.seed())), false};
}

void ClearUnfingerprinted(v1::PipelineConfig* config) {
  v1::ImageRecordConfig* record = config->mutable_image_record();
  record->clear_batch_size();
  record->clear_num_parts();
  record->clear_part_index();
  record->clear_seed();
  record->clear_preprocess_threads();
  record->clear_verbose();
}

}  // namespace

const PipelineKind& ImageRecordKind() {
  static const PipelineKind kind = {
      "image_record", ValidateKind, ApplyKindOverrides,
      OpenKind,       Identity,     ClearUnfingerprinted,
      nullptr,        nullptr};
  return kind;
}

}  // namespace iterd::pipeline
