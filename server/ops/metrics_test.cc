#include "server/ops/metrics.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::ops {
namespace {

TEST(RenderPrometheusTextTest, WritesHelpTypeAndSamplesOfEachFamily) {
  std::vector<MetricFamily> families;
  families.push_back(SingleValue("iterd_batches_served_total",
                                 "Batches written.", MetricType::kCounter, 42));
  families.push_back(
      SingleValue("iterd_uptime_seconds", "Uptime.", MetricType::kGauge, 1.5));
  EXPECT_EQ(RenderPrometheusText(families),
            "# HELP iterd_batches_served_total Batches written.\n"
            "# TYPE iterd_batches_served_total counter\n"
            "iterd_batches_served_total 42\n"
            "# HELP iterd_uptime_seconds Uptime.\n"
            "# TYPE iterd_uptime_seconds gauge\n"
            "iterd_uptime_seconds 1.5\n");
}

TEST(RenderPrometheusTextTest, EscapesLabelValuesAndKeepsLabelOrder) {
  MetricFamily family;
  family.name = "queue";
  family.help = "h";
  family.samples.push_back(
      {{{"iterator_id", "it-1"}, {"pipeline", "a\"b\\c\nd"}}, 3});
  EXPECT_THAT(
      RenderPrometheusText({family}),
      testing::HasSubstr(
          "queue{iterator_id=\"it-1\",pipeline=\"a\\\"b\\\\c\\nd\"} 3\n"));
}

TEST(RenderPrometheusTextTest, FamilyWithoutSamplesStillDeclaresItsType) {
  MetricFamily family;
  family.name = "iterd_prefetch_queue_batches";
  family.help = "Queued.";
  EXPECT_EQ(RenderPrometheusText({family}),
            "# HELP iterd_prefetch_queue_batches Queued.\n"
            "# TYPE iterd_prefetch_queue_batches gauge\n");
}

TEST(EscapeHelpTest, EscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a\\b\n\"c\""), "a\\\\b\\n\"c\"");
}

TEST(FormatSampleValueTest, IntegersHaveNoFractionOrExponent) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(12345678901234), "12345678901234");
  EXPECT_EQ(FormatSampleValue(-7), "-7");
}

TEST(FormatSampleValueTest, FractionsUseTheShortestExactForm) {
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(std::strtod(FormatSampleValue(1.0 / 3).c_str(), nullptr), 1.0 / 3);
}

TEST(FormatSampleValueTest, SpecialValuesUsePrometheusSpelling) {
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

}  // namespace
}  // namespace iterd::ops
