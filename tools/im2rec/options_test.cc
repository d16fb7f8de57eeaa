#include "tools/im2rec/options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "im2rec");
  return ParseCommandLine(args);
}

TEST(OptionsTest, DefaultsAreMxnet191s) {
  absl::StatusOr<Options> options = Parse({"data/train", "images"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->prefix, "data/train");
  EXPECT_EQ(options->root, "images");
  EXPECT_FALSE(options->list);
  EXPECT_THAT(options->exts, ElementsAre(".jpeg", ".jpg", ".png"));
  EXPECT_EQ(options->chunks, 1);
  EXPECT_EQ(options->train_ratio, 1.0);
  EXPECT_EQ(options->test_ratio, 0.0);
  EXPECT_FALSE(options->recursive);
  EXPECT_TRUE(options->shuffle);
  EXPECT_FALSE(options->pass_through);
  EXPECT_EQ(options->resize, 0);
  EXPECT_FALSE(options->center_crop);
  EXPECT_EQ(options->quality, 95);
  EXPECT_EQ(options->num_thread, 1);
  EXPECT_EQ(options->color, 1);
  EXPECT_EQ(options->encoding, ".jpg");
  EXPECT_FALSE(options->pack_label);
}

TEST(OptionsTest, ListOptionsTakeSeparateAndAttachedValues) {
  absl::StatusOr<Options> options =
      Parse({"--list", "--recursive", "--no-shuffle", "--train-ratio", "0.8",
             "--test-ratio=0.1", "--chunks", "3", "p", "r", "--exts", ".JPG",
             ".bmp"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->list);
  EXPECT_TRUE(options->recursive);
  EXPECT_FALSE(options->shuffle);
  EXPECT_EQ(options->train_ratio, 0.8);
  EXPECT_EQ(options->test_ratio, 0.1);
  EXPECT_EQ(options->chunks, 3);
  EXPECT_THAT(options->exts, ElementsAre(".JPG", ".bmp"));
}

TEST(OptionsTest, PackOptionsParse) {
  absl::StatusOr<Options> options =
      Parse({"p", "r", "--num-thread=4", "--pass-through", "--resize", "256",
             "--center-crop", "--quality", "80", "--color", "-1", "--encoding",
             ".png", "--pack-label"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->num_thread, 4);
  EXPECT_TRUE(options->pass_through);
  EXPECT_EQ(options->resize, 256);
  EXPECT_TRUE(options->center_crop);
  EXPECT_EQ(options->quality, 80);
  EXPECT_EQ(options->color, -1);
  EXPECT_EQ(options->encoding, ".png");
  EXPECT_TRUE(options->pack_label);
}

TEST(OptionsTest, Mxnet10BooleanValuesAreAccepted) {
  absl::StatusOr<Options> options =
      Parse({"--list=1", "--recursive", "True", "--shuffle=False", "p", "r"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->list);
  EXPECT_TRUE(options->recursive);
  EXPECT_FALSE(options->shuffle);
  options = Parse({"--shuffle", "1", "--pass-through=0", "p", "r"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->shuffle);
  EXPECT_FALSE(options->pass_through);
}

TEST(OptionsTest, UnambiguousPrefixesAbbreviateOptions) {
  absl::StatusOr<Options> options = Parse({"--rec", "--num", "2", "p", "r"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->recursive);
  EXPECT_EQ(options->num_thread, 2);
}

TEST(OptionsTest, AmbiguousPrefixIsRejectedWithCandidates) {
  absl::StatusOr<Options> options = Parse({"--t", "0.5", "p", "r"});
  ASSERT_FALSE(options.ok());
  EXPECT_THAT(options.status().message(), HasSubstr("--train-ratio"));
  EXPECT_THAT(options.status().message(), HasSubstr("--test-ratio"));
}

TEST(OptionsTest, HelpNeedsNoPositionalArguments) {
  absl::StatusOr<Options> options = Parse({"--help"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->help);
  EXPECT_TRUE(Parse({"-h"})->help);
  EXPECT_THAT(Usage("im2rec"), HasSubstr("--pass-through"));
}

TEST(OptionsTest, BadInputNamesTheOption) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--color", "2", "p", "r"}, "--color"},
      {{"--encoding", ".bmp", "p", "r"}, "--encoding"},
      {{"--num-thread", "0", "p", "r"}, "--num-thread"},
      {{"--chunks", "x", "p", "r"}, "--chunks"},
      {{"--train-ratio", "1.5", "p", "r"}, "--train-ratio"},
      {{"--quality", "p", "r"}, "--quality"},
      {{"--bogus", "p", "r"}, "--bogus"},
      {{"--no-shuffle=1", "p", "r"}, "--no-shuffle"},
      {{"--resize"}, "--resize"},
  };
  for (const auto& [args, name] : cases) {
    absl::StatusOr<Options> options = Parse(args);
    ASSERT_FALSE(options.ok()) << name;
    EXPECT_THAT(options.status().message(), HasSubstr(name));
  }
}

TEST(OptionsTest, PositionalArgumentsAreRequiredAndCounted) {
  EXPECT_THAT(Parse({}).status().message(), HasSubstr("prefix, root"));
  EXPECT_THAT(Parse({"p"}).status().message(), HasSubstr("root"));
  EXPECT_THAT(Parse({"p", "r", "extra"}).status().message(),
              HasSubstr("unrecognized arguments: extra"));
  // As argparse, --exts is greedy: it swallows the positionals after it.
  EXPECT_FALSE(Parse({"--exts", ".jpg", "p", "r"}).ok());
}

}  // namespace
}  // namespace iterd::im2rec
