// Hostile NDArray and CSV configs: every field is checked at open, before any
// file is read or anything is allocated, and messages name files relative to
// their data root. Real files, real symlinks, the daemon's real PathPolicy.

#include "server/pipeline/pipeline_factory.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/batcher.h"
#include "server/pipeline/factory_common.h"
#include "server/service/path_policy.h"

namespace iterd::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PipelineFactoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    base_ = std::string(tmp != nullptr ? tmp : "/tmp") + "/pipeline_factory";
    std::filesystem::remove_all(base_);
    root_ = base_ + "/root";
    std::filesystem::create_directories(root_ + "/folder");
    std::filesystem::create_directories(base_ + "/outside");
    Write(root_ + "/rows.csv", "1,2\n3,4\n");
    Write(root_ + "/folder/a.csv", "1,2\n");
    Write(base_ + "/outside/secret.csv", "SECRET_TOKEN,2\n");
    Write(root_ + "/bad.npy", "not a numpy file at all");
    auto policy = service::PathPolicy::Create({root_});
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = std::make_unique<service::PathPolicy>(*std::move(policy));
    environment_.resolve_path = [this](absl::string_view path) {
      return policy_->Resolve(path);
    };
    environment_.relative_name = [this](absl::string_view path) {
      return policy_->RelativeName(path);
    };
    environment_.pool = &pool_;
    environment_.max_batch_bytes = uint64_t{2} << 30;
  }

  static void Write(const std::string& path, const std::string& contents) {
    std::ofstream(path, std::ios::binary) << contents;
  }

  static v1::PipelineConfig Csv(const std::string& data_csv,
                                std::vector<int64_t> data_shape) {
    v1::PipelineConfig config;
    v1::CSVConfig* csv = config.mutable_csv();
    csv->set_data_csv(data_csv);
    for (int64_t dim : data_shape) csv->add_data_shape(dim);
    csv->set_batch_size(1);
    return config;
  }

  // An NDArray config over one inline float32 array of `rows` x 3.
  static v1::PipelineConfig Inline(int64_t rows, int64_t batch_size) {
    v1::PipelineConfig config;
    v1::NDArrayConfig* ndarray = config.mutable_ndarray();
    v1::InlineArray* array = ndarray->add_data()->mutable_inline_();
    array->set_dtype(v1::FLOAT32);
    array->add_shape(rows);
    array->add_shape(3);
    ndarray->set_batch_size(batch_size);
    return config;
  }

  absl::Status Open(const v1::PipelineConfig& config,
                    std::vector<Array> uploads = {}) {
    if (config.has_ndarray() && uploads.empty()) {
      Array array;
      array.shape = {config.ndarray().data(0).inline_().shape(0), 3};
      values_.assign(array.shape[0] * 3, 1.0f);
      array.data = values_.data();
      uploads.push_back(array);
    }
    return OpenPipeline(config, std::move(uploads), environment_).status();
  }

  std::string base_;
  std::string root_;
  ThreadPool pool_{2};
  std::unique_ptr<service::PathPolicy> policy_;
  PipelineEnvironment environment_;
  std::vector<float> values_;
};

TEST_F(PipelineFactoryTest, CsvFolderWithASymlinkLeavingTheRootIsRefused) {
  std::filesystem::create_symlink(base_ + "/outside/secret.csv",
                                  root_ + "/folder/b.csv");
  const absl::Status status = Open(Csv("folder", {2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("'folder/b.csv'"));
  EXPECT_THAT(status.message(), Not(HasSubstr(base_)));
  EXPECT_THAT(status.message(), Not(HasSubstr("SECRET_TOKEN")));
}

TEST_F(PipelineFactoryTest, CsvSymlinkToATextFileOutsideLeaksNothing) {
  std::filesystem::create_symlink(base_ + "/outside/secret.csv",
                                  root_ + "/link.csv");
  const absl::Status status = Open(Csv("link.csv", {3}));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_csv"));
  EXPECT_THAT(status.message(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(status.message(), Not(HasSubstr(base_)));
}

TEST_F(PipelineFactoryTest, CsvErrorsNameFilesRelativeToTheRoot) {
  v1::PipelineConfig config = Csv(root_ + "/nope.csv", {2});
  absl::Status status = Open(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("'nope.csv'"));
  EXPECT_THAT(status.message(), Not(HasSubstr(root_)));
  // A bad first row fails at decode, named by the relative name even when
  // the client gave the absolute path.
  Write(root_ + "/folder/c.csv", "1,2,3\n");
  auto opened = OpenPipeline(Csv(root_ + "/folder", {2}), {}, environment_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<const Batch> batch;
  bool end = false;
  absl::Status fetched;
  for (int i = 0; i < 3 && fetched.ok(); ++i) {
    fetched = (*opened)->Next(&batch, &end);
  }
  EXPECT_THAT(fetched.message(), HasSubstr("folder/c.csv:1:"));
  EXPECT_THAT(fetched.message(), Not(HasSubstr(root_)));
}

TEST_F(PipelineFactoryTest, HugeCsvShapesAreRefusedBeforeAnyAllocation) {
  absl::Status status = Open(Csv("rows.csv", {3, 100000, 100000}));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_shape"));
  EXPECT_THAT(status.message(), HasSubstr("limits.max_batch_bytes"));

  v1::PipelineConfig labels = Csv("rows.csv", {2});
  labels.mutable_csv()->set_label_csv("rows.csv");
  labels.mutable_csv()->add_label_shape(int64_t{1} << 40);
  status = Open(labels);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("csv.label_shape"));

  status = Open(Csv("rows.csv", {int64_t{1} << 62, 4}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_shape"));
  EXPECT_THAT(status.message(), Not(HasSubstr("values_per_row")));
}

TEST_F(PipelineFactoryTest, ImageOpenErrorsNameFilesRelativeToTheRoot) {
  v1::PipelineConfig config;
  v1::ImageRecordConfig* record = config.mutable_image_record();
  record->set_path_imgrec(root_ + "/bad.npy");  // Not RecordIO.
  for (int64_t dim : {3, 8, 8}) record->add_data_shape(dim);
  record->set_batch_size(1);
  record->set_bad_record_policy(v1::FAIL);
  const absl::Status status = Open(config);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), Not(HasSubstr(root_)));
}

TEST_F(PipelineFactoryTest, NameFilesRelativeKeepsPathsOutsideTheRoots) {
  const absl::Status status = NameFilesRelative(
      absl::DataLossError("cannot read " + root_ + "/x.rec: at /etc/passwd"),
      environment_);
  EXPECT_EQ(status.message(), "cannot read x.rec: at /etc/passwd");
  const absl::Status listing = NameFilesRelative(
      absl::InvalidArgumentError("keys: [" + std::string(100000, 'k') +
                                 "\nE1207 forged]"),
      environment_);
  EXPECT_LT(listing.message().size(), 2100u);
  EXPECT_THAT(listing.message(), Not(HasSubstr("\n")));
}

TEST_F(PipelineFactoryTest, CsvBatchBytesCountDataLabelAndIndex) {
  // float32 data (1,), the dummy float32 label, an 8-byte index: 16 bytes a
  // row.
  environment_.max_batch_bytes = 16 * 1000;
  v1::PipelineConfig config = Csv("rows.csv", {2});
  config.mutable_csv()->clear_data_shape();
  config.mutable_csv()->add_data_shape(1);
  config.mutable_csv()->set_batch_size(1000);
  Write(root_ + "/one.csv", "1\n2\n");
  config.mutable_csv()->set_data_csv("one.csv");
  EXPECT_TRUE(Open(config).ok());
  config.mutable_csv()->set_batch_size(1001);
  EXPECT_EQ(Open(config).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(PipelineFactoryTest, PathFieldsWithNulOrHugeLengthAreInvalid) {
  absl::Status status = Open(Csv(std::string("rows.csv\0x", 10), {2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_csv"));
  EXPECT_THAT(status.message(), HasSubstr("NUL"));
  status = Open(Csv(std::string(1 << 20, 'a'), {2}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_csv"));
  EXPECT_LT(status.message().size(), 400u);
  v1::PipelineConfig ndarray = Inline(10, 2);
  ndarray.mutable_ndarray()->add_label()->set_path(std::string("x.npy\0y", 7));
  status = Open(ndarray);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ndarray.label[0].path"));
}

TEST_F(PipelineFactoryTest, NDArrayFileErrorsNameTheFileRelativeToTheRoot) {
  v1::PipelineConfig config = Inline(10, 2);
  config.mutable_ndarray()->add_label()->set_path(root_ + "/bad.npy");
  const absl::Status status = Open(config);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("bad.npy"));
  EXPECT_THAT(status.message(), Not(HasSubstr(root_)));
}

TEST_F(PipelineFactoryTest, EveryCommonFieldIsCheckedAtOpen) {
  struct Case {
    std::function<void(v1::PipelineConfig*)> change;
    const char* field;
  };
  const std::vector<Case> cases = {
      {[](auto* c) {
         c->mutable_ndarray()->set_last_batch_handle(
             static_cast<v1::LastBatchHandle>(99));
       },
       "ndarray.last_batch_handle"},
      {[](auto* c) { c->mutable_ndarray()->set_batch_size(0); },
       "ndarray.batch_size"},
      {[](auto* c) { c->mutable_ndarray()->set_batch_size(kMaxBatchSize + 1); },
       "ndarray.batch_size"},
      {[](auto* c) { c->mutable_ndarray()->set_num_parts(-1); },
       "ndarray.num_parts"},
      {[](auto* c) {
         c->mutable_ndarray()->set_num_parts(2);
         c->mutable_ndarray()->set_part_index(2);
       },
       "ndarray.part_index"},
      {[](auto* c) {
         c->mutable_ndarray()->set_dtype(static_cast<v1::DataType>(77));
       },
       "ndarray.dtype"},
      {[](auto* c) { c->set_prefetch_buffer(65); }, "prefetch_buffer"},
      {[](auto* c) { c->set_data_name(std::string(5000, 'n')); }, "data_name"},
  };
  for (const Case& test : cases) {
    v1::PipelineConfig config = Inline(10, 2);
    test.change(&config);
    const absl::Status status = Open(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << test.field;
    EXPECT_THAT(status.message(), HasSubstr(test.field));
  }
  v1::PipelineConfig csv = Csv("rows.csv", {2});
  csv.mutable_csv()->set_batch_size(-3);
  EXPECT_THAT(Open(csv).message(), HasSubstr("csv.batch_size"));
  csv = Csv("rows.csv", {2});
  csv.mutable_csv()->set_delimiter("7");
  EXPECT_THAT(Open(csv).message(), HasSubstr("csv.delimiter"));
  csv = Csv("rows.csv", std::vector<int64_t>(40, 1));
  EXPECT_THAT(Open(csv).message(), HasSubstr("csv.data_shape"));
}

TEST_F(PipelineFactoryTest, EmptySamplesCannotMakeAHugeOrder) {
  v1::PipelineConfig config;
  v1::NDArrayConfig* ndarray = config.mutable_ndarray();
  v1::InlineArray* declared = ndarray->add_data()->mutable_inline_();
  declared->set_dtype(v1::FLOAT32);
  declared->add_shape(int64_t{1} << 40);
  declared->add_shape(0);
  ndarray->set_batch_size(1);
  Array array;
  array.shape = {int64_t{1} << 40, 0};
  const absl::Status status = Open(config, {array});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("samples of 0 bytes"));
}

TEST_F(PipelineFactoryTest, LargestBatchOverTenSamplesOpensPromptly) {
  // Tiled by memcpy: linear in the batch, bounded by max_batch_bytes.
  values_.assign(30, 2.0f);
  Array array;
  array.shape = {10, 3};
  array.data = values_.data();
  auto opened = OpenPipeline(Inline(10, kMaxBatchSize), {array}, environment_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<const Batch> batch;
  bool end = false;
  ASSERT_TRUE((*opened)->Next(&batch, &end).ok());
  EXPECT_EQ(batch->pad, kMaxBatchSize - 10);
  environment_.max_batch_bytes = 1 << 20;
  const absl::Status status =
      OpenPipeline(Inline(10, kMaxBatchSize), {array}, environment_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("batch_size"));
}

}  // namespace
}  // namespace iterd::pipeline
