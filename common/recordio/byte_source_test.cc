#include "common/recordio/byte_source.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::recordio {
namespace {

using ::testing::HasSubstr;

TEST(StringByteSourceTest, ReadsTheRequestedBytes) {
  StringByteSource source("mem", "0123456789");
  std::string scratch;
  absl::string_view result;
  ASSERT_TRUE(source.Read(3, 4, &scratch, &result).ok());
  EXPECT_EQ(result, "3456");
  ASSERT_TRUE(source.Read(10, 0, &scratch, &result).ok());
  EXPECT_TRUE(result.empty());
}

TEST(StringByteSourceTest, ReadPastEndIsAnErrorNotACrash) {
  StringByteSource source("mem", "0123");
  std::string scratch;
  absl::string_view result;
  EXPECT_FALSE(source.Read(2, 3, &scratch, &result).ok());
  EXPECT_FALSE(source.Read(~uint64_t{0}, 2, &scratch, &result).ok());
}

TEST(StringByteSourceTest, InjectedFailureCoversOnlyLaterBytes) {
  StringByteSource source("mem", "0123456789");
  source.FailReadsFrom(6);
  std::string scratch;
  absl::string_view result;
  EXPECT_TRUE(source.Read(0, 6, &scratch, &result).ok());
  absl::Status status = source.Read(4, 4, &scratch, &result);
  EXPECT_TRUE(absl::IsUnavailable(status));
  EXPECT_THAT(status.message(), HasSubstr("mem"));
}

TEST(MappedByteSourceTest, ReadsAFileThroughTheMapping) {
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/mapped.bin");
  std::ofstream(path, std::ios::binary) << "abcdefgh";
  auto source = OpenMappedByteSource(path);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->size(), 8u);
  EXPECT_EQ((*source)->name(), path);
  std::string scratch;
  absl::string_view result;
  ASSERT_TRUE((*source)->Read(6, 2, &scratch, &result).ok());
  EXPECT_EQ(result, "gh");
  EXPECT_FALSE((*source)->Read(6, 3, &scratch, &result).ok());
}

TEST(MappedByteSourceTest, MissingFileIsNotFoundNamingIt) {
  auto source = OpenMappedByteSource("/no/such/file.rec");
  ASSERT_FALSE(source.ok());
  EXPECT_TRUE(absl::IsNotFound(source.status()));
  EXPECT_THAT(source.status().message(), HasSubstr("/no/such/file.rec"));
}

}  // namespace
}  // namespace iterd::recordio
