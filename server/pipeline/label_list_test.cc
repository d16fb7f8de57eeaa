#include "server/pipeline/label_list.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::pipeline {
namespace {

using ::testing::HasSubstr;

TEST(LabelListTest, LooksUpLabelsByIndexColumn) {
  absl::StatusOr<LabelList> list = LabelList::Parse(
      "7\t2.000000\tclass_2/a.jpg\n15\t0.5\tb.jpg\n", "x.lst", 1);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_NE(list->Find(7), nullptr);
  EXPECT_FLOAT_EQ(*list->Find(7), 2.0f);
  EXPECT_FLOAT_EQ(*list->Find(15), 0.5f);
  EXPECT_EQ(list->Find(8), nullptr);
  EXPECT_EQ(list->size(), 2u);
}

TEST(LabelListTest, ReadsLabelWidthColumnsAndIgnoresTheRest) {
  absl::StatusOr<LabelList> list =
      LabelList::Parse("3\t1\t2\t3\tpath.jpg\r\n\n", "m.lst", 2);
  ASSERT_TRUE(list.ok()) << list.status();
  const float* labels = list->Find(3);
  ASSERT_NE(labels, nullptr);
  EXPECT_FLOAT_EQ(labels[0], 1.0f);
  EXPECT_FLOAT_EQ(labels[1], 2.0f);
}

TEST(LabelListTest, RepeatedIndexKeepsLastLine) {
  absl::StatusOr<LabelList> list =
      LabelList::Parse("1\t4\ta\n1\t9\tb\n", "r.lst", 1);
  ASSERT_TRUE(list.ok());
  EXPECT_FLOAT_EQ(*list->Find(1), 9.0f);
}

TEST(LabelListTest, TooFewLabelColumnsNamesFileAndLine) {
  absl::StatusOr<LabelList> list =
      LabelList::Parse("1\t4\ta\n2\t5\n", "few.lst", 2);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("few.lst:1:"));
}

TEST(LabelListTest, BadIndexAndBadLabelNameTheLine) {
  absl::StatusOr<LabelList> bad_index =
      LabelList::Parse("1\t4\ta\nx\t5\tb\n", "i.lst", 1);
  ASSERT_FALSE(bad_index.ok());
  EXPECT_THAT(bad_index.status().message(), HasSubstr("i.lst:2: index"));
  absl::StatusOr<LabelList> bad_label =
      LabelList::Parse("1\tcat\ta\n", "l.lst", 1);
  ASSERT_FALSE(bad_label.ok());
  EXPECT_THAT(bad_label.status().message(), HasSubstr("l.lst:1: label"));
}

TEST(LabelListTest, AHugeBadColumnIsQuotedShort) {
  const std::string huge(1 << 20, 'x');
  absl::StatusOr<LabelList> bad =
      LabelList::Parse(absl::StrCat("1\t", huge, "\ta\n"), "h.lst", 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr(absl::StrCat("label \"", std::string(64, 'x'),
                                     "... (1048576 bytes)\" is not a number")));
  EXPECT_LT(bad.status().message().size(), 200u);
}

TEST(LabelListTest, MissingFileIsNotFoundNamingThePath) {
  absl::StatusOr<LabelList> list =
      LabelList::Load("/nonexistent/dir/none.lst", 1);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(list.status().message(), HasSubstr("/nonexistent/dir/none.lst"));
}

TEST(LabelListTest, LoadsTheReferenceList) {
  absl::StatusOr<LabelList> list =
      LabelList::Load("tests/testdata/mxnet-reference/f_images.lst", 1);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 20u);
  EXPECT_FLOAT_EQ(*list->Find(19), 4.0f);
}

}  // namespace
}  // namespace iterd::pipeline
