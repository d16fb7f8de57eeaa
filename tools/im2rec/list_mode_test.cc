#include "tools/im2rec/list_mode.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::string TempDir(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  mkdir(path.c_str(), 0755);
  return path;
}

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

std::vector<std::string> Paths(const std::vector<ListEntry>& entries) {
  std::vector<std::string> paths;
  for (const ListEntry& entry : entries) paths.push_back(entry.path);
  return paths;
}

std::vector<uint64_t> Indices(const std::vector<ListEntry>& entries) {
  std::vector<uint64_t> indices;
  for (const ListEntry& entry : entries) indices.push_back(entry.index);
  return indices;
}

// root/{.jpg, top.jpeg, notes.txt, a/x.jpg, a/sub/y.JPG, b/z.png, c/,
// b/loop -> root}
std::string MakeTree() {
  const std::string root = TempDir("tree");
  mkdir((root + "/a").c_str(), 0755);
  mkdir((root + "/a/sub").c_str(), 0755);
  mkdir((root + "/b").c_str(), 0755);
  mkdir((root + "/c").c_str(), 0755);
  Touch(root + "/.jpg");
  Touch(root + "/top.jpeg");
  Touch(root + "/notes.txt");
  Touch(root + "/a/x.jpg");
  Touch(root + "/a/sub/y.JPG");
  Touch(root + "/b/z.png");
  // Every test of the process makes the tree again: the link may exist.
  EXPECT_TRUE(symlink(root.c_str(), (root + "/b/loop").c_str()) == 0 ||
              errno == EEXIST)
      << std::strerror(errno);
  return root;
}

TEST(ListModeTest, FileExtensionFollowsPythonSplitext) {
  EXPECT_EQ(FileExtension("a.JPG"), ".JPG");
  EXPECT_EQ(FileExtension("a.tar.gz"), ".gz");
  EXPECT_EQ(FileExtension(".jpg"), "");
  EXPECT_EQ(FileExtension("..jpg"), "");
  EXPECT_EQ(FileExtension("dir.d/file"), "");
  EXPECT_EQ(FileExtension("noext"), "");
}

TEST(ListModeTest, AbsolutePathNormalisesLexically) {
  EXPECT_EQ(AbsolutePath("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(AbsolutePath("/"), "/");
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(AbsolutePath("x/y"), std::string(cwd) + "/x/y");
}

TEST(ListModeTest, RecursiveWalkIsSortedPreorderWithOneLabelPerFolder) {
  absl::StatusOr<ImageListing> listing =
      ListImages(MakeTree(), {".jpeg", ".jpg", ".png"}, true);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(Paths(listing->images),
              ElementsAre("top.jpeg", "a/x.jpg", "a/sub/y.JPG", "b/z.png"));
  EXPECT_THAT(Indices(listing->images), ElementsAre(0, 1, 2, 3));
  std::vector<float> labels;
  for (const ListEntry& entry : listing->images) {
    labels.push_back(entry.labels.at(0));
  }
  EXPECT_THAT(labels, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(
      listing->folder_labels,
      ElementsAre(Pair(".", 0), Pair("a", 1), Pair("a/sub", 2), Pair("b", 3)));
}

TEST(ListModeTest, FlatListingTakesOnlyTheRootsFilesWithLabelZero) {
  absl::StatusOr<ImageListing> listing =
      ListImages(MakeTree(), {".jpeg", ".jpg", ".png"}, false);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(Paths(listing->images), ElementsAre("top.jpeg"));
  EXPECT_EQ(listing->images[0].labels, std::vector<float>{0});
}

TEST(ListModeTest, ExtensionsOutsideTheListAreIgnored) {
  absl::StatusOr<ImageListing> listing =
      ListImages(MakeTree(), {".png", ".txt"}, true);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_THAT(Paths(listing->images), ElementsAre("notes.txt", "b/z.png"));
}

TEST(ListModeTest, MissingRootIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(
      ListImages(TempDir("x") + "/missing", {".jpg"}, true).status()));
}

std::vector<ListEntry> Range(int size) {
  std::vector<ListEntry> entries;
  for (int i = 0; i < size; ++i) {
    entries.push_back({static_cast<uint64_t>(i), {0}, std::to_string(i)});
  }
  return entries;
}

TEST(ListModeTest, SplitTakesTestThenTrainThenValFromEachChunk) {
  Options options;
  options.shuffle = false;
  options.train_ratio = 0.8;
  options.test_ratio = 0.1;
  const auto outputs = SplitList(Range(10), options);
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].first, "_test");
  EXPECT_THAT(Indices(outputs[0].second), ElementsAre(0));
  EXPECT_EQ(outputs[1].first, "_val");
  EXPECT_THAT(Indices(outputs[1].second), ElementsAre(9));
  EXPECT_EQ(outputs[2].first, "_train");
  EXPECT_THAT(Indices(outputs[2].second), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8));
}

TEST(ListModeTest, FullTrainRatioIgnoresTestRatio) {
  Options options;
  options.shuffle = false;
  options.test_ratio = 0.5;
  const auto outputs = SplitList(Range(4), options);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].first, "");
  EXPECT_EQ(outputs[0].second.size(), 4u);
}

TEST(ListModeTest, ChunksUseCeilingSizeAndNumberedSuffixes) {
  Options options;
  options.shuffle = false;
  options.chunks = 3;
  const auto outputs = SplitList(Range(10), options);
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].first, "_0");
  EXPECT_THAT(Indices(outputs[0].second), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(outputs[2].first, "_2");
  EXPECT_THAT(Indices(outputs[2].second), ElementsAre(8, 9));
}

TEST(ListModeTest, ShuffleIsPythonsSeed100Shuffle) {
  Options options;
  const auto outputs = SplitList(Range(10), options);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_THAT(Indices(outputs[0].second),
              ElementsAre(4, 0, 5, 9, 3, 1, 6, 8, 7, 2));
}

TEST(ListModeTest, MakeListsWritesPrefixLstAndPrintsFolderLabels) {
  Options options;
  options.root = MakeTree();
  options.prefix = TempDir("out") + "/images";
  options.recursive = true;
  options.shuffle = false;
  std::ostringstream out;
  absl::StatusOr<std::vector<std::string>> written = MakeLists(options, out);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, ElementsAre(options.prefix + ".lst"));
  EXPECT_EQ(out.str(), ". 0\na 1\na/sub 2\nb 3\n");
  std::ifstream in(options.prefix + ".lst");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(),
            "0\t0.000000\ttop.jpeg\n1\t1.000000\ta/x.jpg\n"
            "2\t2.000000\ta/sub/y.JPG\n3\t3.000000\tb/z.png\n");
}

}  // namespace
}  // namespace iterd::im2rec
