#include "server/pipeline/mean_image_builder.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/mean_image.h"

namespace iterd::pipeline {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

ImageRecordSourceOptions Options() {
  ImageRecordSourceOptions options;
  options.path_imgrec = "tests/testdata/mxnet-reference/f_images.rec";
  options.height = 8;
  options.width = 8;
  options.augmenter.resize = 8;
  return options;
}

TEST(ComputeMeanImageTest, IgnoresNormalisationMirrorAndOutputType) {
  ThreadPool pool(2);
  absl::StatusOr<std::vector<float>> plain = ComputeMeanImage(Options(), &pool);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->size(), 3u * 8 * 8);
  for (float value : *plain) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 255.0f);
  }
  ImageRecordSourceOptions normalised = Options();
  normalised.writer.scale = 0.25f;
  normalised.writer.mean[0] = 100.0f;
  normalised.writer.mirror = true;
  normalised.writer.dtype = DType::kUInt8;
  normalised.writer.nhwc = true;
  absl::StatusOr<std::vector<float>> same = ComputeMeanImage(normalised, &pool);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, *plain);
}

TEST(ComputeMeanImageTest, MissingRecordFileIsNotFound) {
  ThreadPool pool(1);
  ImageRecordSourceOptions options = Options();
  options.path_imgrec = "/no/such/images.rec";
  absl::StatusOr<std::vector<float>> mean = ComputeMeanImage(options, &pool);
  ASSERT_FALSE(mean.ok());
  EXPECT_THAT(mean.status().message(), HasSubstr("/no/such/images.rec"));
}

TEST(SaveMeanImageIfAbsentTest, WritesMXNetBytesAndNeverReplaces) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/mean.bin");
  std::remove(path.c_str());
  const std::vector<float> first(2 * 3 * 4, 1.5f);
  ASSERT_TRUE(SaveMeanImageIfAbsent(path, first, 2, 3, 4).ok());
  EXPECT_EQ(ReadFile(path), EncodeMeanImage(first, 2, 3, 4));

  const std::vector<float> second(2 * 3 * 4, 7.0f);
  const absl::Status again = SaveMeanImageIfAbsent(path, second, 2, 3, 4);
  EXPECT_TRUE(absl::IsAlreadyExists(again)) << again;
  EXPECT_THAT(again.message(), HasSubstr(path));
  EXPECT_EQ(ReadFile(path), EncodeMeanImage(first, 2, 3, 4));
}

TEST(SaveMeanImageIfAbsentTest, MissingDirectoryIsAnErrorNamingIt) {
  const absl::Status status = SaveMeanImageIfAbsent(
      "/no/such/dir/mean.bin", std::vector<float>(1, 0.0f), 1, 1, 1);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("/no/such/dir/mean.bin"));
}

}  // namespace
}  // namespace iterd::pipeline
