#include "server/pipeline/image_iter_factory.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/factory_common.h"
#include "server/pipeline/image_iter_source.h"
#include "server/pipeline/image_record_ranges.h"

namespace iterd::pipeline {
namespace {

absl::Status IterFieldError(absl::string_view field,
                            absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("image_iter.", field, ": ", problem));
}

// The range checks' messages name their field.
absl::Status Prefixed(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("image_iter.", status.message()));
}

absl::StatusOr<std::string> ResolveIfSet(
    const std::string& path, const PipelineEnvironment& environment) {
  if (path.empty()) return std::string();
  return environment.resolve_path(path);
}

image::ImageIterAugmenterParams AugmenterParams(
    const v1::ImageIterConfig& config) {
  image::ImageIterAugmenterParams params;
  params.out_height = static_cast<int>(config.data_shape(1));
  params.out_width = static_cast<int>(config.data_shape(2));
  params.resize = config.resize();
  params.rand_crop = config.rand_crop();
  params.rand_resize = config.rand_resize();
  params.rand_mirror = config.rand_mirror();
  params.mean.assign(config.mean().begin(), config.mean().end());
  params.std.assign(config.std().begin(), config.std().end());
  params.brightness = config.brightness();
  params.contrast = config.contrast();
  params.saturation = config.saturation();
  params.hue = config.hue();
  params.pca_noise = config.pca_noise();
  params.rand_gray = config.rand_gray();
  if (config.has_inter_method()) params.inter_method = config.inter_method();
  return params;
}

}  // namespace

absl::Status ValidateImageIter(const v1::ImageIterConfig& config) {
  if (config.data_shape_size() != 3 || config.data_shape(0) != 3) {
    // MXNet's ValueError: ImageIter only handles 3-channel images.
    return IterFieldError("data_shape", "must be (3, height, width)");
  }
  for (int i = 1; i < 3; ++i) {
    ITERD_RETURN_IF_ERROR(
        Prefixed(CheckIntRange("data_shape height and width",
                               config.data_shape(i), 1, kMaxImageSide)));
  }
  const IntRange ints[] = {
      {"batch_size", true, config.batch_size(), 1, kMaxImageBatchSize},
      {"label_width", config.has_label_width(), config.label_width(), 1,
       kMaxLabelWidth},
      {"num_parts", true, config.num_parts(), 0, kMaxParts},
      {"resize", true, config.resize(), 0, kMaxResize},
      {"last_batch_handle", true, config.last_batch_handle(), 0, 3},
      {"bad_record_policy", true, config.bad_record_policy(), 0, 2},
  };
  ITERD_RETURN_IF_ERROR(Prefixed(CheckIntRanges(ints)));
  const bool has_list =
      !config.path_imglist().empty() || config.imglist_size() > 0;
  if (config.path_imgrec().empty() && !has_list) {
    return IterFieldError(
        "path_imgrec", "one of path_imgrec, path_imglist or imglist is needed");
  }
  if (!config.path_imglist().empty() && config.imglist_size() > 0) {
    return IterFieldError("imglist", "give path_imglist or imglist, not both");
  }
  if (!config.path_imgidx().empty() && config.path_imgrec().empty()) {
    return IterFieldError("path_imgidx", "needs path_imgrec");
  }
  if (config.part_index() < 0 ||
      config.part_index() >= std::max(1, config.num_parts())) {
    return IterFieldError(
        "part_index", absl::StrCat("must be in [0, num_parts), got part_index ",
                                   config.part_index(), " of num_parts ",
                                   config.num_parts()));
  }
  if (!config.path_imgrec().empty() && config.path_imgidx().empty() &&
      (config.shuffle() || config.num_parts() > 1)) {
    return IterFieldError("path_imgidx",
                          "shuffle and num_parts > 1 over path_imgrec need the "
                          "record index");
  }
  if (config.rand_resize() && !config.rand_crop()) {
    return IterFieldError("rand_resize",
                          "requires rand_crop (as CreateAugmenter)");
  }
  for (const auto& [values, name] : {std::make_pair(&config.mean(), "mean"),
                                     std::make_pair(&config.std(), "std")}) {
    if (values->size() != 0 && values->size() != 1 && values->size() != 3) {
      return IterFieldError(
          name, absl::StrCat("must have 1 or 3 values, got ", values->size()));
    }
  }
  for (float value : config.mean()) {
    ITERD_RETURN_IF_ERROR(Prefixed(CheckFloatRange("mean", value, -1e6, 1e6)));
  }
  for (float value : config.std()) {
    ITERD_RETURN_IF_ERROR(Prefixed(CheckDivisor("std", value, 1e6)));
  }
  for (const auto& [name, value, hi] :
       {std::make_tuple("brightness", config.brightness(), 100.0),
        std::make_tuple("contrast", config.contrast(), 100.0),
        std::make_tuple("saturation", config.saturation(), 100.0),
        std::make_tuple("hue", config.hue(), 100.0),
        std::make_tuple("pca_noise", config.pca_noise(), 100.0),
        // A probability.
        std::make_tuple("rand_gray", config.rand_gray(), 1.0)}) {
    ITERD_RETURN_IF_ERROR(Prefixed(CheckFloatRange(name, value, 0, hi)));
  }
  if (config.has_inter_method()) {
    const int method = config.inter_method();
    if (!((method >= 0 && method <= 4) || method == 9 || method == 10)) {
      return IterFieldError("inter_method",
                            absl::StrCat("must be 0-4, 9 or 10, got ", method));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<OpenedPipeline> OpenImageIter(
    const v1::PipelineConfig& config, const PipelineEnvironment& environment) {
  const v1::ImageIterConfig& image_iter = config.image_iter();
  ITERD_RETURN_IF_ERROR(ValidateImageIter(image_iter));
  // Before any file or list is read.
  ITERD_RETURN_IF_ERROR(Prefixed(CheckImageBatchBytes(
      image_iter.batch_size(), 3, image_iter.data_shape(1),
      image_iter.data_shape(2), sizeof(float),
      image_iter.has_label_width() ? image_iter.label_width() : 1,
      environment.max_batch_bytes)));
  ImageIterSourceOptions options;
  options.height = image_iter.data_shape(1);
  options.width = image_iter.data_shape(2);
  options.label_width =
      image_iter.has_label_width() ? image_iter.label_width() : 1;
  ITERD_ASSIGN_OR_RETURN(options.path_imgrec,
                         ResolveIfSet(image_iter.path_imgrec(), environment));
  ITERD_ASSIGN_OR_RETURN(options.path_imgidx,
                         ResolveIfSet(image_iter.path_imgidx(), environment));
  options.imgidx_name = image_iter.path_imgidx();
  options.max_image_pixels = environment.max_image_pixels;
  ITERD_ASSIGN_OR_RETURN(options.path_imglist,
                         ResolveIfSet(image_iter.path_imglist(), environment));
  // Not resolved itself: each joined image path is (a list cannot point
  // outside the data roots through path_root/../..).
  options.path_root = image_iter.path_root();
  for (const v1::ImageListEntry& entry : image_iter.imglist()) {
    options.imglist.push_back(
        {std::vector<float>(entry.labels().begin(), entry.labels().end()),
         entry.path()});
  }
  options.resolve_path = environment.resolve_path;
  options.shuffle = image_iter.shuffle();
  options.seed = image_iter.seed();
  if (options.seed == 0) options.seed = std::random_device()() | 1u;
  options.num_parts = std::max(1, image_iter.num_parts());
  options.part_index = image_iter.part_index();
  options.augmenter = AugmenterParams(image_iter);
  options.fail_on_bad_image = image_iter.bad_record_policy() == v1::FAIL;
  options.pool = environment.pool;
  options.parallelism =
      environment.pool != nullptr ? environment.pool->num_threads() : 1;
  const uint64_t seed = options.seed;
  ITERD_ASSIGN_OR_RETURN(std::unique_ptr<ImageIterSource> source,
                         ImageIterSource::Create(std::move(options)));
  const int64_t num_samples = source->num_samples();

  LastBatchPolicy policy = LastBatchPolicy::kPad;
  if (image_iter.last_batch_handle() == v1::DISCARD) {
    policy = LastBatchPolicy::kDiscard;
  } else if (image_iter.last_batch_handle() == v1::ROLL_OVER) {
    policy = LastBatchPolicy::kRollOverPadIsNew;  // pad = B - held (§11.3).
  }
  PipelineShape shape;
  shape.batch_size = image_iter.batch_size();
  shape.policy = policy;
  shape.prefetch_depth = PrefetchDepth(config, environment);
  shape.data_names = {DataName(config)};
  shape.label_names = {LabelName(config)};
  ITERD_ASSIGN_OR_RETURN(OpenedPipeline opened,
                         StartPipeline(std::move(source), shape, environment));
  opened.seed = seed;
  opened.num_samples = num_samples;
  return opened;
}

namespace {

absl::Status ValidateKind(const v1::PipelineConfig& config) {
  return ValidateImageIter(config.image_iter());
}

absl::Status ApplyKindOverrides(const v1::PipelineOverrides& overrides,
                                v1::PipelineConfig* config) {
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
  return absl::OkStatus();
}

absl::StatusOr<OpenedPipeline> OpenKind(
    const v1::PipelineConfig& config, std::vector<Array> /*uploads*/,
    const PipelineEnvironment& environment) {
  return OpenImageIter(config, environment);
}

KindIdentity Identity(const v1::PipelineConfig& config) {
  const v1::ImageIterConfig& image_iter = config.image_iter();
  return {image_iter.batch_size(), std::max(1, image_iter.num_parts()),
          image_iter.part_index(), image_iter.seed(), image_iter.seed() == 0};
}

void ClearUnfingerprinted(v1::PipelineConfig* config) {
  v1::ImageIterConfig* image_iter = config->mutable_image_iter();
  image_iter->clear_batch_size();
  image_iter->clear_num_parts();
  image_iter->clear_part_index();
  image_iter->clear_seed();
}

void SetSeed(uint64_t seed, v1::PipelineConfig* config) {
  config->mutable_image_iter()->set_seed(seed);
}

}  // namespace

const PipelineKind& ImageIterKind() {
  static const PipelineKind kind = {
      "image_iter", ValidateKind, ApplyKindOverrides,
      OpenKind,     Identity,     ClearUnfingerprinted,
      SetSeed,      nullptr};
  return kind;
}

}  // namespace iterd::pipeline
