#include "tools/im2rec/pack_mode.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/image/image_codec.h"
#include "common/recordio/irheader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/im2rec/list_file.h"

namespace iterd::im2rec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  mkdir(path.c_str(), 0755);
  return path;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A smooth colour gradient: JPEG-friendly and different in every corner.
cv::Mat Gradient(int rows, int cols) {
  cv::Mat image(rows, cols, CV_8UC3);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      image.at<cv::Vec3b>(r, c) = cv::Vec3b(static_cast<uchar>(255 * r / rows),
                                            static_cast<uchar>(255 * c / cols),
                                            static_cast<uchar>((r + c) % 256));
    }
  }
  return image;
}

TEST(PackModeTest, CenterCropKeepsTheMiddleSquareWithFlooredMargin) {
  const cv::Mat tall = Gradient(301, 200);
  absl::StatusOr<cv::Mat> cropped = CropAndResize(tall, true, 0);
  ASSERT_TRUE(cropped.ok()) << cropped.status();
  EXPECT_EQ(cropped->size(), cv::Size(200, 200));
  EXPECT_EQ(cv::norm(*cropped, tall(cv::Rect(0, 50, 200, 200)), cv::NORM_INF),
            0);
  const cv::Mat wide = Gradient(100, 151);
  cropped = CropAndResize(wide, true, 0);
  ASSERT_TRUE(cropped.ok());
  EXPECT_EQ(cv::norm(*cropped, wide(cv::Rect(25, 0, 100, 100)), cv::NORM_INF),
            0);
}

TEST(PackModeTest, ResizeSetsShorterEdgeAndFloorsTheLongerOne) {
  absl::StatusOr<cv::Mat> resized =
      CropAndResize(Gradient(200, 301), false, 100);
  ASSERT_TRUE(resized.ok());
  EXPECT_EQ(resized->size(), cv::Size(150, 100));  // 301 * 100 // 200
  resized = CropAndResize(Gradient(333, 200), false, 64);
  ASSERT_TRUE(resized.ok());
  EXPECT_EQ(resized->size(), cv::Size(64, 106));  // 333 * 64 // 200
  resized = CropAndResize(Gradient(333, 200), true, 64);
  ASSERT_TRUE(resized.ok());
  EXPECT_EQ(resized->size(), cv::Size(64, 64));
}

TEST(PackModeTest, ResizeToAGiganticImageIsAnError) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      CropAndResize(Gradient(1, 500), false, 1 << 16).status()));
}

TEST(PackModeTest, HeaderHasFirstLabelUnlessPackLabelWithSeveral) {
  const ListEntry entry{42, {3.0f, 7.0f}, "x.jpg"};
  recordio::IRHeader header = HeaderFor(entry, false);
  EXPECT_EQ(header.id, 42u);
  EXPECT_EQ(header.label, 3.0f);
  EXPECT_TRUE(header.labels.empty());
  header = HeaderFor(entry, true);
  EXPECT_THAT(header.labels, ElementsAre(3.0f, 7.0f));
  header = HeaderFor({1, {5.0f}, "y.jpg"}, true);
  EXPECT_EQ(header.label, 5.0f);
  EXPECT_TRUE(header.labels.empty());
}

class PackFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TempDir("images");
    ASSERT_TRUE(cv::imwrite(root_ + "/a.jpg", Gradient(120, 160)));
    ASSERT_TRUE(cv::imwrite(root_ + "/b.png", Gradient(90, 60)));
    std::ofstream(root_ + "/broken.jpg") << "not an image at all";
    options_.root = root_;
  }

  std::string root_;
  Options options_;
};

TEST_F(PackFolderTest, PassThroughKeepsTheFileBytes) {
  options_.pass_through = true;
  absl::StatusOr<std::string> record =
      MakeRecord({9, {1.0f}, "a.jpg"}, root_, options_);
  ASSERT_TRUE(record.ok()) << record.status();
  absl::string_view payload;
  absl::StatusOr<recordio::IRHeader> header =
      recordio::UnpackRecord(*record, &payload);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->id, 9u);
  EXPECT_EQ(payload, ReadText(root_ + "/a.jpg"));
}

TEST_F(PackFolderTest, ReencodedRecordDecodesToTheResizedImage) {
  options_.resize = 30;
  options_.encoding = ".png";
  absl::StatusOr<std::string> record =
      MakeRecord({2, {0.0f}, "b.png"}, root_, options_);
  ASSERT_TRUE(record.ok()) << record.status();
  absl::string_view payload;
  ASSERT_TRUE(recordio::UnpackRecord(*record, &payload).ok());
  absl::StatusOr<cv::Mat> image = image::DecodeImage(payload, -1);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->size(), cv::Size(30, 45));  // 90 * 30 // 60
}

TEST_F(PackFolderTest, MissingAndCorruptImagesAreErrorsNamingThePath) {
  absl::StatusOr<std::string> record =
      MakeRecord({0, {0.0f}, "gone.jpg"}, root_, options_);
  EXPECT_TRUE(absl::IsNotFound(record.status())) << record.status();
  EXPECT_THAT(record.status().message(), HasSubstr("gone.jpg"));
  record = MakeRecord({0, {0.0f}, "broken.jpg"}, root_, options_);
  EXPECT_TRUE(absl::IsInvalidArgument(record.status())) << record.status();
  EXPECT_THAT(record.status().message(), HasSubstr("broken.jpg"));
}

TEST_F(PackFolderTest, PackListSkipsBadImagesAndKeepsListOrder) {
  const std::string prefix = TempDir("lists") + "/train";
  ASSERT_TRUE(WriteListFile(prefix + ".lst", {{5, {1.0f}, "b.png"},
                                              {3, {0.0f}, "broken.jpg"},
                                              {8, {2.0f}, "a.jpg"},
                                              {1, {0.0f}, "missing.jpg"},
                                              {0, {1.0f}, "a.jpg"}})
                  .ok());
  options_.num_thread = 2;
  std::FILE* out = std::tmpfile();
  absl::StatusOr<PackCounts> counts = PackList(prefix + ".lst", options_, out);
  std::fclose(out);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->records, 3u);
  EXPECT_EQ(counts->skipped, 2u);
  const std::string index = ReadText(prefix + ".idx");
  EXPECT_THAT(index, testing::StartsWith("5\t0\n8\t"));
  EXPECT_THAT(index, HasSubstr("\n0\t"));
  struct stat info;
  ASSERT_EQ(stat((prefix + ".rec").c_str(), &info), 0);
  EXPECT_EQ(static_cast<uint64_t>(info.st_size), counts->bytes);
}

TEST_F(PackFolderTest, MalformedListIsRejectedNamingTheLineAndWritesNothing) {
  const std::string prefix = TempDir("bad_lists") + "/bad";
  std::ofstream(prefix + ".lst") << "0\t1.000000\ta.jpg\n1\ta.jpg\n";
  std::FILE* out = std::tmpfile();
  absl::StatusOr<PackCounts> counts = PackList(prefix + ".lst", options_, out);
  std::fclose(out);
  ASSERT_FALSE(counts.ok());
  EXPECT_THAT(counts.status().message(), HasSubstr("bad.lst:2:"));
  struct stat info;
  EXPECT_NE(stat((prefix + ".rec").c_str(), &info), 0);
}

TEST(FindListFilesTest, MatchesFilesStartingWithThePrefix) {
  const std::string dir = TempDir("find");
  for (const char* name :
       {"train.lst", "train_val.lst", "train_2.lst", "val.lst", "train.txt"}) {
    std::ofstream(dir + "/" + name) << "";
  }
  mkdir((dir + "/train_dir.lst").c_str(), 0755);
  absl::StatusOr<std::vector<std::string>> lists =
      FindListFiles(dir + "/train");
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_THAT(*lists, ElementsAre(dir + "/train.lst", dir + "/train_2.lst",
                                  dir + "/train_val.lst"));
  lists = FindListFiles(dir);
  ASSERT_TRUE(lists.ok());
  EXPECT_EQ(lists->size(), 4u);
}

}  // namespace
}  // namespace iterd::im2rec
