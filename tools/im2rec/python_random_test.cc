#include "tools/im2rec/python_random.h"

#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::im2rec {
namespace {

using ::testing::ElementsAre;

std::vector<int> ShuffledRange(int size, uint64_t seed) {
  std::vector<int> items(size);
  std::iota(items.begin(), items.end(), 0);
  PythonRandom random(seed);
  random.Shuffle(&items);
  return items;
}

// Known answers from docs/mxnet-semantics.md §5.2 and CPython 3.11.
TEST(PythonRandomTest, FirstWordsAfterSeed100MatchCPython) {
  PythonRandom random(100);
  EXPECT_EQ(random.NextUint32(), 625644691u);
  EXPECT_EQ(random.NextUint32(), 1973661107u);
  EXPECT_EQ(random.NextUint32(), 1953896601u);
}

TEST(PythonRandomTest, ShuffleOfFiveMatchesCPython) {
  EXPECT_THAT(ShuffledRange(5, 100), ElementsAre(2, 0, 4, 3, 1));
}

TEST(PythonRandomTest, ShuffleOfTenMatchesCPython) {
  EXPECT_THAT(ShuffledRange(10, 100),
              ElementsAre(4, 0, 5, 9, 3, 1, 6, 8, 7, 2));
}

// tests/testdata/mxnet-reference/f_images.lst: MXNet's im2rec order of 20.
TEST(PythonRandomTest, ShuffleOfTwentyMatchesMxnetImagesList) {
  EXPECT_THAT(ShuffledRange(20, 100),
              ElementsAre(7, 15, 19, 0, 2, 3, 13, 9, 10, 17, 1, 8, 6, 16, 11,
                          12, 5, 18, 14, 4));
}

// Past 624 draws the state is twisted again; 1000 items need more than that.
TEST(PythonRandomTest, ShuffleOfThousandMatchesCPython) {
  const std::vector<int> items = ShuffledRange(1000, 100);
  EXPECT_THAT(std::vector<int>(items.begin(), items.begin() + 8),
              ElementsAre(342, 471, 929, 100, 543, 231, 154, 450));
  EXPECT_THAT(std::vector<int>(items.end() - 4, items.end()),
              ElementsAre(974, 465, 470, 149));
}

TEST(PythonRandomTest, GetRandBitsAbove32BitsMatchesCPython) {
  PythonRandom random(100);
  EXPECT_EQ(random.GetRandBits(40), 503136818323u);
  EXPECT_EQ(random.GetRandBits(64), 17556092863496198297u);
}

TEST(PythonRandomTest, SeedZeroAndMultiWordSeedsMatchCPython) {
  EXPECT_EQ(PythonRandom(0).NextUint32(), 3626764237u);
  EXPECT_EQ(PythonRandom((uint64_t{1} << 40) + 5).NextUint32(), 2166296868u);
}

TEST(PythonRandomTest, RandBelowStaysBelowItsBound) {
  PythonRandom random(7);
  for (uint64_t bound : {1u, 2u, 3u, 5u, 1000u, 65537u}) {
    for (int i = 0; i < 200; ++i) EXPECT_LT(random.RandBelow(bound), bound);
  }
}

TEST(PythonRandomTest, ShuffleOfEmptyAndSingleListsKeepsThem) {
  EXPECT_TRUE(ShuffledRange(0, 100).empty());
  EXPECT_THAT(ShuffledRange(1, 100), ElementsAre(0));
}

}  // namespace
}  // namespace iterd::im2rec
