#include "common/image/augment/random_draws.h"

#include <cmath>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::image {
namespace {

TEST(RandomDrawsTest, UniformFloatStaysInHalfOpenRangeWithCentredMean) {
  random::Engine rng(7, 0, 0);
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const float value = UniformFloat(&rng, -0.4f, 0.4f);
    ASSERT_GE(value, -0.4f);
    ASSERT_LT(value, 0.4f);
    sum += value;
  }
  EXPECT_NEAR(sum / 20000, 0.0, 0.01);
}

TEST(RandomDrawsTest, UniformFloatWithEmptyRangeReturnsLowAndConsumesADraw) {
  random::Engine rng(1), reference(1);
  EXPECT_EQ(UniformFloat(&rng, 3.0f, 3.0f), 3.0f);
  reference.Next();
  EXPECT_EQ(rng.Next(), reference.Next());
}

TEST(RandomDrawsTest, UniformIntInclusiveHitsBothEndsAndNothingElse) {
  random::Engine rng(3, 1, 2);
  std::set<int> seen;
  for (int i = 0; i < 2000; ++i) {
    const int value = UniformIntInclusive(&rng, -2, 2);
    ASSERT_GE(value, -2);
    ASSERT_LE(value, 2);
    seen.insert(value);
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(-2, -1, 0, 1, 2));
}

TEST(RandomDrawsTest, NormalHasRequestedMeanAndStddev) {
  random::Engine rng(11, 0, 0);
  double sum = 0, sum_squares = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const double value = Normal(&rng, 5.0f, 2.0f);
    sum += value;
    sum_squares += value * value;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 5.0, 0.05);
  EXPECT_NEAR(std::sqrt(sum_squares / n - mean * mean), 2.0, 0.05);
}

TEST(RandomDrawsTest, SameEngineSeedGivesSameDraws) {
  random::Engine first(42, 3, 9), second(42, 3, 9);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(UniformFloat(&first, 0, 1), UniformFloat(&second, 0, 1));
    EXPECT_EQ(Normal(&first, 0, 1), Normal(&second, 0, 1));
    EXPECT_EQ(UniformIntInclusive(&first, 0, 9),
              UniformIntInclusive(&second, 0, 9));
  }
}

}  // namespace
}  // namespace iterd::image
