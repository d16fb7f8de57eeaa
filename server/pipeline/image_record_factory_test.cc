#include "server/pipeline/image_record_factory.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/concurrency/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/mean_image.h"
#include "server/pipeline/pipeline_factory.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRec[] = "tests/testdata/mxnet-reference/f_images.rec";

v1::PipelineConfig BaseConfig() {
  v1::PipelineConfig config;
  v1::ImageRecordConfig* record = config.mutable_image_record();
  record->set_path_imgrec(kRec);
  record->add_data_shape(3);
  record->add_data_shape(16);
  record->add_data_shape(16);
  record->set_batch_size(8);
  record->set_resize(20);
  record->set_seed_aug(9);
  return config;
}

class ImageRecordFactoryTest : public ::testing::Test {
 protected:
  ImageRecordFactoryTest() {
    environment_.pool = &pool_;
    environment_.resolve_path =
        [](absl::string_view path) -> absl::StatusOr<std::string> {
      return std::string(path);
    };
  }

  // Every batch of the first epoch.
  std::vector<std::shared_ptr<const Batch>> Epoch(Pipeline* pipeline) {
    std::vector<std::shared_ptr<const Batch>> batches;
    while (true) {
      std::shared_ptr<const Batch> batch;
      bool end = false;
      const absl::Status status = pipeline->Next(&batch, &end);
      EXPECT_TRUE(status.ok()) << status;
      if (!status.ok() || end) break;
      batches.push_back(batch);
    }
    return batches;
  }

  ThreadPool pool_{2};
  PipelineEnvironment environment_;
};

struct BadField {
  std::function<void(v1::ImageRecordConfig*)> mutate;
  std::string field;
};

TEST_F(ImageRecordFactoryTest, ValidationErrorsNameTheField) {
  const std::vector<BadField> cases = {
      {[](auto* c) { c->clear_path_imgrec(); }, "image_record.path_imgrec"},
      {[](auto* c) { c->clear_data_shape(); }, "image_record.data_shape"},
      {[](auto* c) { c->set_data_shape(0, 2); }, "image_record.data_shape"},
      {[](auto* c) { c->set_data_shape(1, 0); }, "image_record.data_shape"},
      {[](auto* c) { c->set_batch_size(0); }, "image_record.batch_size"},
      {[](auto* c) { c->set_label_width(0); }, "image_record.label_width"},
      {[](auto* c) { c->set_preprocess_threads(0); },
       "image_record.preprocess_threads"},
      {[](auto* c) { c->set_num_parts(-1); }, "image_record.num_parts"},
      {[](auto* c) {
         c->set_num_parts(2);
         c->set_part_index(2);
       },
       "image_record.part_index"},
      {[](auto* c) { c->set_shuffle_chunk_size(-1); },
       "image_record.shuffle_chunk_size"},
      {[](auto* c) { c->set_dtype(v1::FLOAT64); }, "image_record.dtype"},
      {[](auto* c) { c->set_layout(v1::NHWC); }, "image_record.layout"},
      {[](auto* c) { c->set_pad(-1); }, "image_record.pad"},
      {[](auto* c) { c->set_inter_method(5); }, "inter_method"},
      {[](auto* c) {
         c->set_random_resized_crop(true);
         c->set_rand_crop(true);
       },
       "image_record."},
      {[](auto* c) { c->set_std_r(0); }, "std"},
  };
  for (const BadField& bad : cases) {
    v1::PipelineConfig config = BaseConfig();
    bad.mutate(config.mutable_image_record());
    const absl::Status status = ValidatePipelineConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.field;
    EXPECT_THAT(status.message(), HasSubstr(bad.field));
  }
  EXPECT_TRUE(ValidatePipelineConfig(BaseConfig()).ok());
}

TEST_F(ImageRecordFactoryTest,
       OutOfRangeValuesAreRefusedAtOpenWithTheValueSent) {
  // The first three served an empty epoch (every record failed).
  const std::vector<
      std::pair<std::function<void(v1::ImageRecordConfig*)>, std::string>>
      cases = {
          {[](auto* c) { c->set_pad(1 << 30); },
           "image_record.pad: must be in [0, 1024], got 1073741824"},
          {[](auto* c) { c->set_max_random_scale(1e30f); },
           "image_record.max_random_scale: must be a finite number in [0, "
           "100], got 1e+30"},
          {[](auto* c) { c->set_min_img_size(1e30f); },
           "image_record.min_img_size: must be a finite number in [0, "
           "16384], got 1e+30"},
          {[](auto* c) { c->set_data_shape(1, int64_t{1} << 62); },
           "image_record.data_shape: H and W must be in [1, 65536], got "
           "4611686018427387904"},
          {[](auto* c) { c->set_brightness(NAN); },
           "image_record.brightness: must be a finite number in [0, 100], "
           "got nan"},
          {[](auto* c) { c->set_mean_r(INFINITY); }, "image_record.mean_r"},
          {[](auto* c) { c->set_std_g(NAN); }, "image_record.std_g"},
          {[](auto* c) { c->set_scale(-INFINITY); }, "image_record.scale"},
          {[](auto* c) { c->set_resize(1 << 20); }, "image_record.resize"},
          {[](auto* c) { c->set_max_rotate_angle(-1); },
           "image_record.max_rotate_angle"},
          {[](auto* c) { c->add_rotate_list(100000); },
           "image_record.rotate_list"},
          {[](auto* c) { c->set_max_crop_size(1 << 30); },
           "image_record.max_crop_size"},
          {[](auto* c) { c->set_random_h(1000); }, "image_record.random_h"},
          {[](auto* c) { c->set_fill_value(256); }, "image_record.fill_value"},
          {[](auto* c) { c->set_max_aspect_ratio(NAN); },
           "image_record.max_aspect_ratio"},
          {[](auto* c) { c->set_max_shear_ratio(1e9f); },
           "image_record.max_shear_ratio"},
          {[](auto* c) { c->set_max_random_area(-1); },
           "image_record.max_random_area"},
          {[](auto* c) { c->set_max_img_size(NAN); },
           "image_record.max_img_size"},
          {[](auto* c) { c->set_pca_noise(INFINITY); },
           "image_record.pca_noise"},
          {[](auto* c) { c->set_max_random_illumination(NAN); },
           "image_record.max_random_illumination"},
          {[](auto* c) { c->set_preprocess_threads(1 << 20); },
           "image_record.preprocess_threads"},
          {[](auto* c) { c->set_batch_size(int64_t{1} << 62); },
           "image_record.batch_size"},
          {[](auto* c) { c->set_label_width(1 << 30); },
           "image_record.label_width"},
          {[](auto* c) { c->set_shuffle_chunk_size(1 << 30); },
           "image_record.shuffle_chunk_size"},
      };
  for (const auto& [mutate, expected] : cases) {
    v1::PipelineConfig config = BaseConfig();
    mutate(config.mutable_image_record());
    const absl::Status status = ValidatePipelineConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_THAT(status.message(), HasSubstr(expected));
    // And OpenPipeline refuses it before reading anything.
    EXPECT_EQ(OpenPipeline(config, {}, environment_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << expected;
  }
}

TEST_F(ImageRecordFactoryTest,
       BatchesOverMaxBatchBytesAreRefusedBeforeReading) {
  v1::PipelineConfig config = BaseConfig();
  v1::ImageRecordConfig* record = config.mutable_image_record();
  record->set_data_shape(1, 65536);
  record->set_data_shape(2, 65536);
  record->set_batch_size(1 << 20);
  record->clear_resize();
  record->set_path_imgrec("never_read.rec");
  record->set_mean_img("never_computed.bin");
  environment_.max_batch_bytes = uint64_t{2} << 30;
  const auto opened = OpenPipeline(config, {}, environment_);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(opened.status().message(),
              HasSubstr("image_record.data_shape (3, 65536, 65536) and "
                        "batch_size 1048576 make batches of 54043195532640256 "
                        "bytes"));
}

TEST_F(ImageRecordFactoryTest, DescriptorsFollowShapeDtypeAndLayout) {
  absl::StatusOr<std::unique_ptr<Pipeline>> opened =
      OpenPipeline(BaseConfig(), {}, environment_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ((*opened)->provide_data().size(), 1u);
  EXPECT_EQ((*opened)->provide_data()[0].name(), "data");
  EXPECT_THAT((*opened)->provide_data()[0].shape(), ElementsAre(8, 3, 16, 16));
  EXPECT_EQ((*opened)->provide_data()[0].dtype(), v1::FLOAT32);
  EXPECT_EQ((*opened)->provide_data()[0].layout(), "NCHW");
  EXPECT_EQ((*opened)->provide_label()[0].name(), "softmax_label");
  EXPECT_THAT((*opened)->provide_label()[0].shape(), ElementsAre(8));
  EXPECT_EQ((*opened)->seed(), 9u);
  EXPECT_EQ((*opened)->num_samples(), -1) << "no .idx: unknown before a pass";

  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_dtype(v1::UINT8);
  config.mutable_image_record()->set_layout(v1::NHWC);
  config.mutable_image_record()->set_label_width(2);
  config.mutable_image_record()->set_path_imgidx(
      "tests/testdata/mxnet-reference/f_images.idx");
  opened = OpenPipeline(config, {}, environment_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT((*opened)->provide_data()[0].shape(), ElementsAre(8, 16, 16, 3));
  EXPECT_EQ((*opened)->provide_data()[0].dtype(), v1::UINT8);
  EXPECT_EQ((*opened)->provide_data()[0].layout(), "NHWC");
  EXPECT_THAT((*opened)->provide_label()[0].shape(), ElementsAre(8, 2));
  EXPECT_EQ((*opened)->num_samples(), 20);
}

TEST_F(ImageRecordFactoryTest, RoundBatchWrapsAndPadsTheLastBatch) {
  absl::StatusOr<std::unique_ptr<Pipeline>> opened =
      OpenPipeline(BaseConfig(), {}, environment_);
  ASSERT_TRUE(opened.ok());
  const auto batches = Epoch(opened->get());
  ASSERT_EQ(batches.size(), 3u);  // 20 records, batch 8: 8, 8, 4 + 4 wrapped.
  EXPECT_EQ(batches[0]->pad, 0);
  EXPECT_EQ(batches[2]->pad, 4);
  EXPECT_TRUE(batches[2]->index.empty()) << "MXNet sends no useful index";
  // The wrapped rows are the first records again.
  const float* first = reinterpret_cast<const float*>(
      batches[0]->payload().data() + 8 * 3 * 16 * 16 * 4);
  const float* last = reinterpret_cast<const float*>(
      batches[2]->payload().data() + 8 * 3 * 16 * 16 * 4);
  EXPECT_EQ(last[4], first[0]);
  const SourceStats stats = (*opened)->source_stats();
  EXPECT_EQ(stats.records_decoded, 24);
}

TEST_F(ImageRecordFactoryTest, WithoutRoundBatchTheTailIsZeroFilled) {
  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_round_batch(false);
  absl::StatusOr<std::unique_ptr<Pipeline>> opened =
      OpenPipeline(config, {}, environment_);
  ASSERT_TRUE(opened.ok());
  const auto batches = Epoch(opened->get());
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2]->pad, 4);
}

TEST_F(ImageRecordFactoryTest, MissingRecIsNotFoundNamingIt) {
  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_path_imgrec("/no/such/file.rec");
  absl::StatusOr<std::unique_ptr<Pipeline>> opened =
      OpenPipeline(config, {}, environment_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(opened.status().message(), HasSubstr("/no/such/file.rec"));
}

TEST_F(ImageRecordFactoryTest, MeanImageIsSubtracted) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/mean_img.bin");
  std::ofstream(path, std::ios::binary)
      << EncodeMeanImage(std::vector<float>(3 * 16 * 16, 10.0f), 3, 16, 16);
  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_mean_img(path);
  absl::StatusOr<std::unique_ptr<Pipeline>> with_mean =
      OpenPipeline(config, {}, environment_);
  ASSERT_TRUE(with_mean.ok()) << with_mean.status();
  absl::StatusOr<std::unique_ptr<Pipeline>> without_mean =
      OpenPipeline(BaseConfig(), {}, environment_);
  ASSERT_TRUE(without_mean.ok());
  const auto a = Epoch(with_mean->get());
  const auto b = Epoch(without_mean->get());
  const float* x = reinterpret_cast<const float*>(a[0]->payload().data());
  const float* y = reinterpret_cast<const float*>(b[0]->payload().data());
  for (int i = 0; i < 3 * 16 * 16; ++i) ASSERT_FLOAT_EQ(x[i], y[i] - 10.0f);
}

TEST_F(ImageRecordFactoryTest, MissingMeanImageIsComputedSavedAndSubtracted) {
  const std::string path =
      absl::StrCat(getenv("TEST_TMPDIR"), "/created_mean.bin");
  std::remove(path.c_str());
  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_mean_img(path);
  // Mirroring and scaling happen after the mean is taken: they must not change
  // the saved mean.
  config.mutable_image_record()->set_scale(0.5f);
  absl::StatusOr<std::unique_ptr<Pipeline>> with_mean =
      OpenPipeline(config, {}, environment_);
  ASSERT_TRUE(with_mean.ok()) << with_mean.status();

  // The expected mean: every image of one pass, unnormalised.
  v1::PipelineConfig plain_config = BaseConfig();
  plain_config.mutable_image_record()->set_round_batch(false);
  absl::StatusOr<std::unique_ptr<Pipeline>> plain =
      OpenPipeline(plain_config, {}, environment_);
  ASSERT_TRUE(plain.ok());
  const auto plain_batches = Epoch(plain->get());
  ASSERT_FALSE(plain_batches.empty());
  const int64_t images = 8 * static_cast<int64_t>(plain_batches.size()) -
                         plain_batches.back()->pad;
  ASSERT_GT(images, 1);
  constexpr int kPixels = 3 * 16 * 16;
  std::vector<double> sum(kPixels, 0.0);
  for (int64_t image = 0; image < images; ++image) {
    const float* row = reinterpret_cast<const float*>(
                           plain_batches[image / 8]->payload().data()) +
                       (image % 8) * kPixels;
    for (int i = 0; i < kPixels; ++i) sum[i] += row[i];
  }
  absl::StatusOr<std::vector<float>> saved = LoadMeanImage(path, 3, 16, 16);
  ASSERT_TRUE(saved.ok()) << saved.status();
  for (int i = 0; i < kPixels; ++i) {
    ASSERT_NEAR((*saved)[i], sum[i] / images, 1e-3) << "element " << i;
  }

  const auto normalised = Epoch(with_mean->get());
  const float* x =
      reinterpret_cast<const float*>(normalised[0]->payload().data());
  const float* y =
      reinterpret_cast<const float*>(plain_batches[0]->payload().data());
  for (int i = 0; i < kPixels; ++i) {
    ASSERT_NEAR(x[i], (y[i] - (*saved)[i]) * 0.5f, 1e-4);
  }
}

TEST_F(ImageRecordFactoryTest, UnreadableMeanImageIsAnErrorNamingIt) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/bad_mean.bin");
  std::ofstream(path, std::ios::binary) << "not an ndarray list";
  v1::PipelineConfig config = BaseConfig();
  config.mutable_image_record()->set_mean_img(path);
  absl::StatusOr<std::unique_ptr<Pipeline>> opened =
      OpenPipeline(config, {}, environment_);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("bad_mean.bin"));
}

TEST_F(ImageRecordFactoryTest, OverridesApply) {
  v1::PipelineConfig config = BaseConfig();
  v1::PipelineOverrides overrides;
  overrides.set_batch_size(5);
  overrides.set_shuffle(true);
  overrides.set_seed(77);
  overrides.set_num_parts(2);
  overrides.set_part_index(1);
  ASSERT_TRUE(ApplyOverrides(overrides, &config).ok());
  const v1::ImageRecordConfig& record = config.image_record();
  EXPECT_EQ(record.batch_size(), 5);
  EXPECT_TRUE(record.shuffle());
  EXPECT_EQ(record.seed(), 77);
  EXPECT_EQ(record.seed_aug(), 77u);
  EXPECT_EQ(record.num_parts(), 2);
  EXPECT_EQ(record.part_index(), 1);
  overrides.set_part_index(3);
  EXPECT_EQ(ApplyOverrides(overrides, &config).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageRecordFactoryTest, VerboseLogsTheSetUpAndIsOnByDefault) {
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(OpenPipeline(BaseConfig(), {}, environment_).ok());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("ImageRecordIter: " + std::string(kRec)));

  v1::PipelineConfig quiet = BaseConfig();
  quiet.mutable_image_record()->set_verbose(false);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(OpenPipeline(quiet, {}, environment_).ok());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              Not(HasSubstr("ImageRecordIter:")));
}

}  // namespace
}  // namespace iterd::pipeline
