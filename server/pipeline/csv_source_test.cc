#include "server/pipeline/csv_source.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(root != nullptr ? root : "/tmp") + "/csv_source_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// A batch of `batch_size` rows shaped after the source's sample specs.
std::unique_ptr<Batch> MakeBatch(const SampleSource& source,
                                 int64_t batch_size) {
  auto with_batch_axis = [batch_size](std::vector<TensorSpec> specs) {
    for (TensorSpec& spec : specs) {
      spec.shape.insert(spec.shape.begin(), batch_size);
    }
    return specs;
  };
  return std::make_unique<Batch>(with_batch_axis(source.sample_data_specs()),
                                 with_batch_axis(source.sample_label_specs()));
}

template <typename T>
std::vector<T> Values(const TensorView& view) {
  std::vector<T> values(view.bytes().size() / sizeof(T));
  std::memcpy(values.data(), view.bytes().data(), view.bytes().size());
  return values;
}

// Reads up to batch->batch_size() samples; returns their ids.
std::vector<uint64_t> Fill(SampleSource* source, Batch* batch,
                           absl::Status* status) {
  std::vector<uint64_t> ids;
  for (int64_t row = 0; row < batch->batch_size(); ++row) {
    uint64_t id = 0;
    bool end = false;
    *status = source->ReadSample(batch, row, &id, &end);
    if (!status->ok() || end) break;
    ids.push_back(id);
  }
  return ids;
}

CsvSourceOptions FloatOptions(const std::string& data_csv,
                              std::vector<int64_t> data_shape) {
  CsvSourceOptions options;
  options.data_csv = data_csv;
  options.data_shape = std::move(data_shape);
  return options;
}

TEST(CsvSourceTest, WithoutLabelFileRowsComeInOrderWithZeroScalarLabels) {
  const std::string path = WriteFile(TempDir("nolabel") + "/d.csv",
                                     "1,2,3\n4,5,6\n7,8,9\n10,11,12\n");
  ThreadPool pool(2);
  auto source = CsvSource::Create(FloatOptions(path, {3}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->num_samples(), -1);
  EXPECT_TRUE((*source)->has_sample_ids());
  EXPECT_THAT((*source)->sample_data_specs()[0].shape, ElementsAre(3));
  EXPECT_TRUE((*source)->sample_label_specs()[0].shape.empty());
  auto batch = MakeBatch(**source, 3);
  absl::Status status;
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1, 2));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Values<float>(batch->data(0)),
              ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_THAT(Values<float>(batch->label(0)), ElementsAre(0, 0, 0));
}

TEST(CsvSourceTest, EndOfPassAfterTheLastRow) {
  const std::string path = WriteFile(TempDir("end") + "/d.csv", "1\n2\n");
  ThreadPool pool(1);
  auto source = CsvSource::Create(FloatOptions(path, {1}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 4);
  absl::Status status;
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1));
  EXPECT_TRUE(status.ok()) << status;
}

TEST(CsvSourceTest, LabelFileRowLabelsTheSameDataRow) {
  const std::string dir = TempDir("label");
  const std::string data = WriteFile(dir + "/d.csv", "1,1\n2,2\n3,3\n");
  const std::string labels = WriteFile(dir + "/l.csv", "7\n8\n9\n10\n");
  ThreadPool pool(2);
  CsvSourceOptions options = FloatOptions(data, {2});
  options.label_csv = labels;
  auto source = CsvSource::Create(options, &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE((*source)->sample_label_specs()[0].shape.empty());  // (1,)
  auto batch = MakeBatch(**source, 3);
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Values<float>(batch->label(0)), ElementsAre(7, 8, 9));
}

TEST(CsvSourceTest, MultiValueLabelShapeIsKept) {
  const std::string dir = TempDir("label2");
  const std::string data = WriteFile(dir + "/d.csv", "1\n2\n");
  const std::string labels = WriteFile(dir + "/l.csv", "1,2\n3,4\n");
  ThreadPool pool(1);
  CsvSourceOptions options = FloatOptions(data, {1});
  options.label_csv = labels;
  options.label_shape = {2};
  auto source = CsvSource::Create(options, &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_THAT((*source)->sample_label_specs()[0].shape, ElementsAre(2));
  auto batch = MakeBatch(**source, 2);
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Values<float>(batch->label(0)), ElementsAre(1, 2, 3, 4));
}

TEST(CsvSourceTest, FewerLabelRowsThanDataRowsIsAnErrorNamingTheLabelFile) {
  const std::string dir = TempDir("shortlabel");
  const std::string data = WriteFile(dir + "/d.csv", "1\n2\n3\n");
  const std::string labels = WriteFile(dir + "/l.csv", "0\n1\n");
  ThreadPool pool(1);
  CsvSourceOptions options = FloatOptions(data, {1});
  options.label_csv = labels;
  auto source = CsvSource::Create(options, &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 3);
  absl::Status status;
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(labels));
  EXPECT_THAT(status.message(), HasSubstr("no label for row 2"));
}

TEST(CsvSourceTest, Int32DTypeWritesInt32DataAndLabels) {
  const std::string path =
      WriteFile(TempDir("int32") + "/d.csv", "-1,0x10\n2147483647,5\n");
  ThreadPool pool(1);
  CsvSourceOptions options = FloatOptions(path, {2});
  options.dtype = DType::kInt32;
  auto source = CsvSource::Create(options, &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->sample_label_specs()[0].dtype, DType::kInt32);
  auto batch = MakeBatch(**source, 2);
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(Values<int32_t>(batch->data(0)),
              ElementsAre(-1, 16, 2147483647, 5));
  EXPECT_THAT(Values<int32_t>(batch->label(0)), ElementsAre(0, 0));
}

TEST(CsvSourceTest, ShapeThreeByTwoIsFilledRowMajor) {
  const std::string path =
      WriteFile(TempDir("shape") + "/d.csv", "1,2,3,4,5,6\n");
  ThreadPool pool(1);
  auto source = CsvSource::Create(FloatOptions(path, {3, 2}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 1);
  EXPECT_THAT(batch->data_specs()[0].shape, ElementsAre(1, 3, 2));
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  ASSERT_TRUE(status.ok()) << status;
  // [[1,2],[3,4],[5,6]] laid out row-major.
  EXPECT_THAT(Values<float>(batch->data(0)), ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST(CsvSourceTest, MalformedRowErrorNamesFileLineAndField) {
  const std::string path =
      WriteFile(TempDir("bad") + "/d.csv", "1,2\n\n3,x4\n");
  ThreadPool pool(1);
  auto source = CsvSource::Create(FloatOptions(path, {2}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 4);
  absl::Status status;
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path + ":3: field 2: 'x4'"));
}

TEST(CsvSourceTest, WrongValueCountNamesExpectedAndActual) {
  const std::string path = WriteFile(TempDir("count") + "/d.csv", "1,2,3\n");
  ThreadPool pool(1);
  auto source = CsvSource::Create(FloatOptions(path, {2, 2}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 1);
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  EXPECT_THAT(status.message(),
              HasSubstr(path + ":1: expected 4 values, found 3"));
}

TEST(CsvSourceTest, MissingFilesAreNotFoundNamingThePath) {
  const std::string dir = TempDir("missing");
  ThreadPool pool(1);
  auto missing_data =
      CsvSource::Create(FloatOptions(dir + "/none.csv", {1}), &pool);
  EXPECT_EQ(missing_data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_data.status().message(), HasSubstr(dir + "/none.csv"));
  CsvSourceOptions options =
      FloatOptions(WriteFile(dir + "/d.csv", "1\n"), {1});
  options.label_csv = dir + "/nolabel.csv";
  auto missing_label = CsvSource::Create(options, &pool);
  EXPECT_EQ(missing_label.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_label.status().message(), HasSubstr("label_csv"));
  EXPECT_THAT(missing_label.status().message(), HasSubstr("nolabel.csv"));
}

TEST(CsvSourceTest, BadOptionsAreInvalidArgumentNamingTheField) {
  const std::string path = WriteFile(TempDir("opts") + "/d.csv", "1\n");
  ThreadPool pool(1);
  auto no_shape = CsvSource::Create(FloatOptions(path, {}), &pool);
  EXPECT_EQ(no_shape.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_shape.status().message(), HasSubstr("data_shape"));
  auto zero_dim = CsvSource::Create(FloatOptions(path, {2, 0}), &pool);
  EXPECT_THAT(zero_dim.status().message(), HasSubstr("data_shape"));
  CsvSourceOptions float64 = FloatOptions(path, {1});
  float64.dtype = DType::kFloat64;
  auto bad_dtype = CsvSource::Create(float64, &pool);
  EXPECT_EQ(bad_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_dtype.status().message(), HasSubstr("dtype"));
  CsvSourceOptions bad_label = FloatOptions(path, {1});
  bad_label.label_csv = path;
  bad_label.label_shape = {-1};
  EXPECT_THAT(CsvSource::Create(bad_label, &pool).status().message(),
              HasSubstr("label_shape"));
}

TEST(CsvSourceTest, RewindRestartsRowsAndIdsAtZero) {
  const std::string path =
      WriteFile(TempDir("rewind") + "/d.csv", "0\n1\n2\n3\n4\n");
  ThreadPool pool(2);
  auto source = CsvSource::Create(FloatOptions(path, {1}), &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 3);
  absl::Status status;
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1, 2));
  ASSERT_TRUE((*source)->Rewind().ok());
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1, 2));
  EXPECT_THAT(Values<float>(batch->data(0)), ElementsAre(0, 1, 2));
  ASSERT_TRUE((*source)->StartEpoch(1).ok());
  EXPECT_THAT(Fill(source->get(), batch.get(), &status), ElementsAre(0, 1, 2));
}

TEST(CsvSourceTest, ErrorsNameFilesByTheirNamesNotTheirPaths) {
  const std::string dir = TempDir("names");
  WriteFile(dir + "/d.csv", "1,2\n3\n");
  WriteFile(dir + "/l.csv", "0\n");
  ThreadPool pool(2);
  CsvSourceOptions options = FloatOptions(dir + "/d.csv", {2});
  options.data_csv_name = "sub/d.csv";
  options.label_csv = dir + "/l.csv";
  options.label_csv_name = "sub/l.csv";
  auto source = CsvSource::Create(options, &pool);
  ASSERT_TRUE(source.ok()) << source.status();
  auto batch = MakeBatch(**source, 2);
  absl::Status status;
  Fill(source->get(), batch.get(), &status);
  EXPECT_THAT(status.message(), HasSubstr("sub/d.csv:2: expected 2 values"));
  EXPECT_THAT(status.message(), Not(HasSubstr(dir)));
  options.data_csv = dir + "/missing.csv";
  options.data_csv_name = "sub/missing.csv";
  auto missing = CsvSource::Create(options, &pool);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("sub/missing.csv"));
  EXPECT_THAT(missing.status().message(), Not(HasSubstr(dir)));
}

TEST(CsvSourceTest, FolderEntriesGoThroughTheResolver) {
  const std::string dir = TempDir("folder_policy");
  const std::string outside = TempDir("folder_policy_outside");
  std::filesystem::create_directories(dir + "/folder");
  WriteFile(dir + "/folder/a.csv", "1,2\n");
  WriteFile(outside + "/secret.csv", "SECRET_TOKEN,2\n");
  std::filesystem::create_symlink(outside + "/secret.csv",
                                  dir + "/folder/b.csv");
  ThreadPool pool(2);
  CsvSourceOptions options = FloatOptions(dir + "/folder", {2});
  options.data_csv_name = "folder";
  options.resolve_entry =
      [&](const std::string& path) -> absl::StatusOr<std::string> {
    const std::string target = std::filesystem::canonical(path).string();
    if (target.rfind(outside, 0) == 0) {
      return absl::PermissionDeniedError("path 'folder/b.csv' is outside");
    }
    return target;
  };
  auto source = CsvSource::Create(options, &pool);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(source.status().message(), HasSubstr("data_csv"));
  EXPECT_THAT(source.status().message(), HasSubstr("folder/b.csv"));
  EXPECT_THAT(source.status().message(), Not(HasSubstr("SECRET_TOKEN")));
}

TEST(CsvSourceTest, OverflowingShapeIsInvalidBeforeAnyAllocation) {
  const std::string path = WriteFile(TempDir("overflow") + "/d.csv", "1\n");
  ThreadPool pool(2);
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{int64_t{1} << 62, 4},
        std::vector<int64_t>{3, 100000, 100000, 1000}}) {
    auto source = CsvSource::Create(FloatOptions(path, shape), &pool);
    EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(source.status().message(), HasSubstr("data_shape"));
    EXPECT_THAT(source.status().message(), Not(HasSubstr("got 0")));
  }
}

}  // namespace
}  // namespace iterd::pipeline
