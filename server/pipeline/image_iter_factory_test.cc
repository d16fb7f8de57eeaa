// OpenImageIter and ValidateImageIter: config validation naming the field,
// and the opened pipeline's shapes, pads and errors on the 20 JPEG records of
// tests/testdata/mxnet-reference/f_images.{rec,idx}.

#include "server/pipeline/image_iter_factory.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/concurrency/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iterd/v1/pipeline.pb.h"
#include "server/pipeline/image_iter_source_test_util.h"

namespace iterd::pipeline::image_iter_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::PipelineConfig ValidConfig() {
  v1::PipelineConfig config;
  v1::ImageIterConfig* image_iter = config.mutable_image_iter();
  image_iter->set_batch_size(4);
  for (int64_t dim : {3, kHeight, kWidth}) image_iter->add_data_shape(dim);
  image_iter->set_path_imgrec(Reference("f_images.rec"));
  image_iter->set_path_imgidx(Reference("f_images.idx"));
  return config;
}

std::string ValidationError(
    const std::function<void(v1::ImageIterConfig*)>& edit) {
  v1::PipelineConfig config = ValidConfig();
  edit(config.mutable_image_iter());
  return std::string(ValidateImageIter(config.image_iter()).message());
}

TEST(ImageIterFactoryTest, ValidationErrorsNameTheField) {
  EXPECT_EQ(ValidationError([](v1::ImageIterConfig*) {}), "");
  EXPECT_THAT(ValidationError([](auto* c) { c->set_data_shape(0, 1); }),
              HasSubstr("image_iter.data_shape"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_batch_size(0); }),
              HasSubstr("image_iter.batch_size"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_label_width(0); }),
              HasSubstr("image_iter.label_width"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->clear_path_imgrec();
                c->clear_path_imgidx();
              }),
              HasSubstr("image_iter.path_imgrec"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->clear_path_imgidx();
                c->set_shuffle(true);
              }),
              HasSubstr("image_iter.path_imgidx"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->set_num_parts(2);
                c->set_part_index(2);
              }),
              HasSubstr("image_iter.part_index"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_rand_resize(true); }),
              HasSubstr("image_iter.rand_resize"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->add_mean(1);
                c->add_mean(2);
              }),
              HasSubstr("image_iter.mean"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_inter_method(5); }),
              HasSubstr("image_iter.inter_method"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_rand_gray(1.5f); }),
              HasSubstr("image_iter.rand_gray"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_brightness(-1); }),
              HasSubstr("image_iter.brightness"));
}

TEST(ImageIterFactoryTest, OutOfRangeValuesAreRefusedAtOpenWithTheValueSent) {
  // These served an empty epoch (every image failed) instead of an error.
  EXPECT_EQ(ValidationError([](auto* c) { c->set_resize(2147483647); }),
            "image_iter.resize: must be in [0, 16384], got 2147483647");
  EXPECT_EQ(
      ValidationError([](auto* c) { c->set_data_shape(1, int64_t{1} << 62); }),
      "image_iter.data_shape height and width: must be in [1, 65536], "
      "got 4611686018427387904");
  EXPECT_EQ(
      ValidationError([](auto* c) { c->set_batch_size(int64_t{1} << 40); }),
      "image_iter.batch_size: must be in [1, 1048576], got "
      "1099511627776");
  EXPECT_THAT(ValidationError([](auto* c) { c->set_hue(NAN); }),
              HasSubstr("image_iter.hue: must be a finite number in [0, 100], "
                        "got nan"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_contrast(INFINITY); }),
              HasSubstr("image_iter.contrast"));
  EXPECT_THAT(ValidationError([](auto* c) { c->add_mean(NAN); }),
              HasSubstr("image_iter.mean"));
  EXPECT_THAT(ValidationError([](auto* c) { c->add_std(0); }),
              HasSubstr("image_iter.std: must not be zero"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_rand_gray(-0.5f); }),
              HasSubstr("image_iter.rand_gray"));
  EXPECT_THAT(ValidationError([](auto* c) { c->set_num_parts(-1); }),
              HasSubstr("image_iter.num_parts"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->set_last_batch_handle(static_cast<v1::LastBatchHandle>(7));
              }),
              HasSubstr("image_iter.last_batch_handle"));
  EXPECT_THAT(ValidationError([](auto* c) {
                c->set_bad_record_policy(static_cast<v1::BadRecordPolicy>(9));
              }),
              HasSubstr("image_iter.bad_record_policy"));
}

PipelineEnvironment TestEnvironment(ThreadPool* pool) {
  PipelineEnvironment environment;
  environment.resolve_path = ResolveExisting;
  environment.pool = pool;
  return environment;
}

TEST(ImageIterFactoryTest, OpenedPipelineServesFloatBatchesWithPad) {
  ThreadPool pool(2);
  v1::PipelineConfig config = ValidConfig();
  config.mutable_image_iter()->set_batch_size(6);
  config.mutable_image_iter()->set_resize(36);
  config.mutable_image_iter()->set_seed(5);
  auto opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_EQ(opened->provide_data.size(), 1u);
  EXPECT_EQ(opened->provide_data[0].name(), "data");
  EXPECT_THAT(opened->provide_data[0].shape(),
              ElementsAre(6, 3, kHeight, kWidth));
  EXPECT_EQ(opened->provide_data[0].dtype(), v1::FLOAT32);
  EXPECT_EQ(opened->provide_label[0].name(), "softmax_label");
  EXPECT_THAT(opened->provide_label[0].shape(), ElementsAre(6));
  EXPECT_EQ(opened->num_samples, 20);
  EXPECT_EQ(opened->seed, 5u);
  std::vector<int64_t> pads;
  while (true) {
    std::shared_ptr<const Batch> batch;
    bool end = false;
    ASSERT_TRUE(opened->prefetcher->GetNext(&batch, &end).ok());
    if (end) break;
    pads.push_back(batch->pad);
    EXPECT_TRUE(batch->index.empty());
  }
  EXPECT_THAT(pads, ElementsAre(0, 0, 0, 4));  // 20 = 3 * 6 + 2.
  EXPECT_EQ(opened->source_stats().records_decoded, 24);
}

TEST(ImageIterFactoryTest, LabelWidthShapesTheLabelAndMissingFilesFail) {
  ThreadPool pool(1);
  v1::PipelineConfig config = ValidConfig();
  config.mutable_image_iter()->set_label_width(2);
  v1::ImageListEntry* entry = config.mutable_image_iter()->add_imglist();
  entry->add_labels(1);
  entry->add_labels(2);
  entry->set_path("unused.jpg");
  auto opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(opened->provide_label[0].shape(), ElementsAre(4, 2));

  config = ValidConfig();
  config.mutable_image_iter()->set_path_imgidx(TempPath("no_such.idx"));
  opened = OpenImageIter(config, TestEnvironment(&pool));
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("no_such.idx"));
}

TEST(ImageIterFactoryTest, BatchesOverMaxBatchBytesAreRefusedBeforeReading) {
  ThreadPool pool(1);
  v1::PipelineConfig config = ValidConfig();
  config.mutable_image_iter()->set_batch_size(1 << 20);
  config.mutable_image_iter()->set_data_shape(1, 65536);
  config.mutable_image_iter()->set_data_shape(2, 65536);
  config.mutable_image_iter()->set_path_imgrec(TempPath("never_read.rec"));
  PipelineEnvironment environment = TestEnvironment(&pool);
  environment.max_batch_bytes = uint64_t{2} << 30;
  auto opened = OpenImageIter(config, environment);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kResourceExhausted);
  // 2^20 * (3 * 2^32 * 4 + 4) bytes: the exact product, not a wrapped one.
  EXPECT_THAT(opened.status().message(),
              HasSubstr("image_iter.data_shape (3, 65536, 65536) and "
                        "batch_size 1048576 make batches of 54043195532640256 "
                        "bytes, more than the daemon's limit of 2147483648"));
}

}  // namespace
}  // namespace iterd::pipeline::image_iter_testing
