// ImageIterSource against MXNet's ImageIter (docs/mxnet-semantics.md
// section 11) driven by an image list: a .lst over a .rec, an inline imglist,
// a .lst of image files under path_root, and bad or missing list entries.

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pipeline/image_iter_source.h"
#include "server/pipeline/image_iter_source_test_util.h"

namespace iterd::pipeline::image_iter_testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ImageIterSourceTest, ListWithRecordTakesImagesByKeyAndLabelsFromTheList) {
  // A .lst in its own order, labels 100 + key.
  const std::string lst = TempPath("relabelled.lst");
  WriteFile(lst, "3\t103\tx.jpg\n\n12\t112\ty.jpg\n0\t100\tz.jpg\n");
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imglist = lst;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->current_keys(), ElementsAre("3", "12", "0"));
  Pass pass = ReadPass(source.get(), 3);
  EXPECT_THAT(pass.labels, ElementsAre(103, 112, 100));
  ASSERT_EQ(pass.images.size(), 3u);
  EXPECT_LT(
      MaxDifference(pass.images[1], OpenCvReference(ImageBytes("12"), 40)),
      2.0);
}

TEST(ImageIterSourceTest, InlineListKeysAreOneBased) {
  ImageIterSourceOptions options = IndexedOptions();
  options.imglist = {{{7}, "a.jpg"}, {{8}, "b.jpg"}};
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(source->current_keys(), ElementsAre("1", "2"));
  EXPECT_THAT(ReadPass(source.get(), 2).labels, ElementsAre(7, 8));
}

// Writes keys' images as .jpg files under TEST_TMPDIR/<root> plus a .lst.
std::string WriteImageFolder(const std::string& root,
                             const std::vector<std::string>& keys) {
  const std::string dir = TempPath(root);
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/class").c_str(), 0755);
  std::string lst;
  for (const std::string& key : keys) {
    WriteFile(absl::StrCat(dir, "/class/img", key, ".jpg"), ImageBytes(key));
    absl::StrAppend(&lst, key, "\t", kLabelOfKey.at(key), "\tclass/img", key,
                    ".jpg\n");
  }
  WriteFile(dir + "/images.lst", lst);
  return dir;
}

TEST(ImageIterSourceTest, ImageListReadsFilesUnderPathRoot) {
  const std::vector<std::string> keys = {"9", "1", "16", "4"};
  const std::string dir = WriteImageFolder("folder", keys);
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->current_keys(), keys);
  Pass pass = ReadPass(source.get(), 3);
  EXPECT_EQ(pass.labels, LabelsOf(keys));
  ASSERT_EQ(pass.images.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_LT(
        MaxDifference(pass.images[i], OpenCvReference(ImageBytes(keys[i]), 40)),
        2.0)
        << "key " << keys[i];
  }
}

TEST(ImageIterSourceTest, MissingListedImageFailsTheOpenNamingIt) {
  const std::string dir = WriteImageFolder("missing", {"2"});
  WriteFile(dir + "/images.lst",
            "2\t2\tclass/img2.jpg\n5\t0\tclass/gone.jpg\n");
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  auto source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(source.status().message(), HasSubstr("class/gone.jpg"));
}

TEST(ImageIterSourceTest, ListedFifoIsSkippedAndCountedWithoutBlocking) {
  // A FIFO exists, so it passes the resolver like any file; reading it on a
  // pool thread must not wait for a writer. Under the skip policy it counts as
  // one bad image whose reason says it is not a regular file.
  const std::string dir = WriteImageFolder("fifo", {"9", "1"});
  const std::string fifo = dir + "/class/pipe.jpg";
  unlink(fifo.c_str());  // Left by an earlier run in the same TEST_TMPDIR.
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteFile(dir + "/images.lst",
            "9\t4\tclass/img9.jpg\n3\t3\tclass/pipe.jpg\n"
            "1\t1\tclass/img1.jpg\n");
  ImageIterSourceOptions options;
  options.height = kHeight;
  options.width = kWidth;
  options.path_imglist = dir + "/images.lst";
  options.path_root = dir;
  options.resolve_path = ResolveExisting;
  options.augmenter.resize = 40;
  auto source = MustCreate(options);
  ASSERT_NE(source, nullptr);
  EXPECT_THAT(ReadPass(source.get(), 2).labels, ElementsAre(4, 1));
  const SourceStats stats = source->stats();
  EXPECT_EQ(stats.records_decoded, 2);
  EXPECT_EQ(stats.records_skipped, 1);
  ASSERT_EQ(stats.skipped_examples.size(), 1u);
  EXPECT_THAT(stats.skipped_examples[0], HasSubstr("class/pipe.jpg"));
  EXPECT_THAT(stats.skipped_examples[0], HasSubstr("is not a regular file"));
}

TEST(ImageIterSourceTest, BadListLinesNameTheFileAndLine) {
  const std::string lst = TempPath("bad.lst");
  WriteFile(lst, "1\t1\ta.jpg\nx\t1\tb.jpg\n");
  ImageIterSourceOptions options = IndexedOptions();
  options.path_imglist = lst;
  auto source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("bad.lst:2"));

  WriteFile(lst, "1\t1\ta.jpg\n");
  options.label_width = 2;
  source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(),
              HasSubstr("bad.lst:1: 1 labels, but label_width is 2"));

  WriteFile(lst, "99\t1\ta.jpg\n");
  options.label_width = 1;
  source = ImageIterSource::Create(options);
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(source.status().message(), HasSubstr("key 99 is not in"));
}

}  // namespace
}  // namespace iterd::pipeline::image_iter_testing
