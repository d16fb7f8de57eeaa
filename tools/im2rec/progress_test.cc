#include "tools/im2rec/progress.h"

#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

using ::testing::HasSubstr;

TEST(ProgressTest, DurationIsMinutesSecondsOrHours) {
  EXPECT_EQ(FormatDuration(65), "1:05");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "?");
}

TEST(ProgressTest, BarShowsFractionRateAndEta) {
  const std::string bar = FormatProgressBar(50, 100, 10.0, 10);
  EXPECT_THAT(bar, HasSubstr("[#####.....]"));
  EXPECT_THAT(bar, HasSubstr(" 50.0%"));
  EXPECT_THAT(bar, HasSubstr("50/100 records"));
  EXPECT_THAT(bar, HasSubstr("5.0 rec/s"));
  EXPECT_THAT(bar, HasSubstr("ETA 0:10"));
}

TEST(ProgressTest, BarWithoutRateHasUnknownEta) {
  EXPECT_THAT(FormatProgressBar(0, 100, 0.0, 10), HasSubstr("ETA ?"));
}

TEST(ProgressTest, FinishPrintsTheSummaryLine) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  Progress progress(out, /*interactive=*/false, "train.lst", 3);
  PackCounts counts;
  counts.records = 2;
  counts.bytes = 3000000;
  counts.skipped = 1;
  progress.Update(3, counts);
  const std::string summary = progress.Finish(counts);
  EXPECT_THAT(summary, HasSubstr("train.lst: 2 records, 3.0 MB, skipped 1"));
  std::rewind(out);
  char buffer[512] = {};
  const size_t read = std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  // Non-interactive output has no carriage returns, only whole lines.
  EXPECT_EQ(std::string(buffer, read).find('\r'), std::string::npos);
  EXPECT_THAT(std::string(buffer, read), HasSubstr(summary + "\n"));
}

}  // namespace
}  // namespace iterd::im2rec
