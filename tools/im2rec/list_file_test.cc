#include "tools/im2rec/list_file.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::string ReferencePath(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) +
         "/iterd/tests/testdata/mxnet-reference/" + name;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ListFileTest, LineFormatIsMxnet191s) {
  EXPECT_EQ(FormatListLine({3, {2.0f}, "b/z.jpg"}), "3\t2.000000\tb/z.jpg\n");
  EXPECT_EQ(FormatListLine({0, {1.5f, -0.25f}, "x.png"}),
            "0\t1.500000\t-0.250000\tx.png\n");
}

TEST(ListFileTest, ParsesIndexLabelsAndPathWithStrippedFields) {
  absl::StatusOr<ListEntry> entry =
      ParseListLine("  12\t 1.0 \t2e1\ta b/c.jpg \r\n");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->index, 12u);
  EXPECT_THAT(entry->labels, ElementsAre(1.0f, 20.0f));
  EXPECT_EQ(entry->path, "a b/c.jpg");
}

TEST(ListFileTest, MalformedLinesGiveTheReason) {
  EXPECT_THAT(ParseListLine("0\tx.jpg").status().message(),
              HasSubstr("at least 3"));
  EXPECT_THAT(ParseListLine("a\t1\tx.jpg").status().message(),
              HasSubstr("index 'a'"));
  EXPECT_THAT(ParseListLine("-1\t1\tx.jpg").status().message(),
              HasSubstr("index '-1'"));
  EXPECT_THAT(ParseListLine("1\tcat\tx.jpg").status().message(),
              HasSubstr("label 1 'cat'"));
  EXPECT_THAT(ParseListLine("1\t1\t \t").status().message(),
              HasSubstr("at least 3"));
}

TEST(ListFileTest, ReadsMxnetReferenceListAndWritesItBackIdentically) {
  absl::StatusOr<std::vector<ListEntry>> entries =
      ReadListFile(ReferencePath("f_images.lst"));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 20u);
  EXPECT_EQ(entries->front(),
            (ListEntry{7, {2.0f}, "class_2/flower_600x600.jpg"}));
  const std::string copy = TempPath("f_images_copy.lst");
  ASSERT_TRUE(WriteListFile(copy, *entries).ok());
  EXPECT_EQ(ReadText(copy), ReadText(ReferencePath("f_images.lst")));
}

TEST(ListFileTest, BlankLinesAreSkipped) {
  const std::string path = TempPath("blank.lst");
  WriteText(path, "0\t1.000000\ta.jpg\n\n   \n1\t0.000000\tb.jpg\n");
  absl::StatusOr<std::vector<ListEntry>> entries = ReadListFile(path);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 2u);
}

TEST(ListFileTest, MalformedLineErrorNamesFileAndLineNumber) {
  const std::string path = TempPath("bad.lst");
  WriteText(path, "0\t1.000000\ta.jpg\n1\tb.jpg\n2\tx\tc.jpg\n");
  absl::StatusOr<std::vector<ListEntry>> entries = ReadListFile(path);
  ASSERT_FALSE(entries.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(entries.status()));
  EXPECT_THAT(entries.status().message(), HasSubstr(path + ":2:"));
  EXPECT_THAT(entries.status().message(), HasSubstr(path + ":3:"));
}

TEST(ListFileTest, MissingFileIsNotFound) {
  absl::StatusOr<std::vector<ListEntry>> entries =
      ReadListFile(TempPath("does_not_exist.lst"));
  EXPECT_TRUE(absl::IsNotFound(entries.status())) << entries.status();
  EXPECT_THAT(entries.status().message(), HasSubstr("does_not_exist.lst"));
}

}  // namespace
}  // namespace iterd::im2rec
