#include "common/csv/row_parser.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::csv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
struct LineOutcome {
  LineResult result;
  std::vector<T> values;
  RowError error;
};

template <typename T>
DType DTypeOf();
template <>
DType DTypeOf<float>() {
  return DType::kFloat32;
}
template <>
DType DTypeOf<int32_t>() {
  return DType::kInt32;
}
template <>
DType DTypeOf<int64_t>() {
  return DType::kInt64;
}

template <typename T>
LineOutcome<T> Parse(absl::string_view line, int64_t values_per_row,
                     char delimiter = ',') {
  RowFormat format;
  format.delimiter = delimiter;
  format.dtype = DTypeOf<T>();
  format.values_per_row = values_per_row;
  // One spare byte in front makes `out` unaligned on purpose.
  std::vector<uint8_t> buffer(1 + format.row_bytes());
  LineOutcome<T> outcome;
  outcome.result = ParseLine(line, format, buffer.data() + 1, &outcome.error);
  if (outcome.result == LineResult::kRow) {
    outcome.values.resize(values_per_row);
    std::memcpy(outcome.values.data(), buffer.data() + 1, format.row_bytes());
  }
  return outcome;
}

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// The reference for the fast paths: std::from_chars on the whole text (a
// leading '+' dropped, as the parser does for floats).
template <typename T>
T FromChars(const std::string& text) {
  const char* begin = text.data();
  if (std::is_same_v<T, float> && !text.empty() && text[0] == '+') ++begin;
  T value{};
  const auto [ptr, ec] =
      std::from_chars(begin, text.data() + text.size(), value);
  EXPECT_TRUE(ec == std::errc() && ptr == text.data() + text.size()) << text;
  return value;
}

// Parses `text` as a one-value float row and checks the bits against
// from_chars; returns whether they match (for loop tests' early stop).
bool FloatMatchesFromChars(const std::string& text) {
  const auto outcome = Parse<float>(text, 1);
  EXPECT_EQ(outcome.result, LineResult::kRow) << text;
  if (outcome.result != LineResult::kRow) return false;
  const uint32_t expected = FloatBits(FromChars<float>(text));
  EXPECT_EQ(FloatBits(outcome.values[0]), expected) << text;
  return FloatBits(outcome.values[0]) == expected;
}

// "<sign><digits with a '.' at point, or none if point < 0>[e<exponent>]".
std::string Decimal(const std::string& sign, const std::string& digits,
                    int point, bool has_exponent, int exponent) {
  std::string text = sign;
  if (point < 0) {
    text += digits;
  } else {
    text += digits.substr(0, point) + "." + digits.substr(point);
  }
  if (has_exponent) text += "e" + std::to_string(exponent);
  return text;
}

TEST(RowParserTest, FloatIsBitIdenticalToFromCharsOnRandomShortDecimals) {
  std::mt19937 engine(7);
  std::uniform_int_distribution<int> digit_count(1, 9);
  std::uniform_int_distribution<int> digit(0, 9);
  std::uniform_int_distribution<int> coin(0, 3);
  std::uniform_int_distribution<int> exponent(-14, 14);
  const std::string signs[] = {"", "-", "+", ""};
  for (int i = 0; i < 300000; ++i) {
    std::string digits(digit_count(engine), '0');
    for (char& c : digits) c = static_cast<char>('0' + digit(engine));
    std::uniform_int_distribution<int> point(-1,
                                             static_cast<int>(digits.size()));
    const std::string text = Decimal(signs[coin(engine)], digits, point(engine),
                                     coin(engine) == 0, exponent(engine));
    ASSERT_TRUE(FloatMatchesFromChars(text));
  }
}

TEST(RowParserTest, FloatIsBitIdenticalToFromCharsOnEveryShortMantissa) {
  // Every 1-3 digit mantissa at every point position and every exponent the
  // fast path folds, plus some just past its limits.
  for (int mantissa = 0; mantissa < 1000; ++mantissa) {
    for (int width = 1; width <= 3; ++width) {
      std::string digits = std::to_string(mantissa);
      if (static_cast<int>(digits.size()) > width) continue;
      digits.insert(0, width - digits.size(), '0');
      for (int point = -1; point <= width; ++point) {
        for (int exponent = -13; exponent <= 13; ++exponent) {
          ASSERT_TRUE(FloatMatchesFromChars(
              Decimal("-", digits, point, exponent != 0, exponent)));
        }
      }
    }
  }
}

TEST(RowParserTest, FloatIsBitIdenticalToFromCharsAroundTwoToThe24) {
  for (int mantissa = 16777100; mantissa <= 16777300; ++mantissa) {
    const std::string digits = std::to_string(mantissa);
    for (int point = -1; point <= 8; ++point) {
      ASSERT_TRUE(FloatMatchesFromChars(Decimal("", digits, point, false, 0)));
    }
  }
}

TEST(RowParserTest, FloatEdgeCasesAreBitIdenticalToFromChars) {
  for (const char* text : {"0",
                           "-0",
                           "0.0",
                           "16777216",
                           "16777217",
                           "16777218",
                           "0.0000001",
                           "9999999",
                           "-9999999",
                           "99999999",
                           "0000000000001.5",
                           "-000.000125",
                           "1.",
                           "-1.",
                           ".5",
                           "-.5",
                           "0.1",
                           "0.2",
                           "0.3",
                           "3.4028235e38",
                           "1.17549435e-38",
                           "1e-10",
                           "1e10",
                           "9999999e10",
                           "9999999e-10",
                           "1e-11",
                           "1e11",
                           "1.5E+3",
                           "1e05",
                           "1e-05",
                           "1e3",
                           "12345678901234567890",
                           "0.00000000000000000001",
                           "-3.141593",
                           "1.999999999999999999999",
                           "0.1e1",
                           "123.456e-2",
                           "1e-37",
                           "1e38"}) {
    EXPECT_TRUE(FloatMatchesFromChars(text));
  }
}

TEST(RowParserTest, NegativeZeroKeepsItsSignBit) {
  const auto outcome = Parse<float>("-0.0,-0,0.0,-0e5", 4);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_TRUE(std::signbit(outcome.values[0]));
  EXPECT_TRUE(std::signbit(outcome.values[1]));
  EXPECT_FALSE(std::signbit(outcome.values[2]));
  EXPECT_TRUE(std::signbit(outcome.values[3]));
}

TEST(RowParserTest, FloatWithIncompleteExponentIsNotANumber) {
  for (const char* text : {"1e", "1e+", "1e-", "1.5E", "1ex", "1e+-2"}) {
    const auto outcome = Parse<float>(text, 1);
    ASSERT_EQ(outcome.result, LineResult::kError) << text;
    EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber) << text;
  }
}

TEST(RowParserTest, FloatWithoutDigitsIsNotANumber) {
  for (const char* text : {"-", ".", "-.", ".e5", "-e5", "--1", "1.2.3"}) {
    const auto outcome = Parse<float>(text, 1);
    ASSERT_EQ(outcome.result, LineResult::kError) << text;
    EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber) << text;
  }
}

TEST(RowParserTest, FloatFollowedByHexMarkerIsNotANumber) {
  EXPECT_EQ(Parse<float>("0x10", 1).error.kind, RowError::Kind::kNotANumber);
}

template <typename T>
void ExpectIntegersMatchFromChars(uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<int> digit_count(1, 20);
  std::uniform_int_distribution<int> digit(0, 9);
  std::uniform_int_distribution<int> coin(0, 2);
  for (int i = 0; i < 100000; ++i) {
    std::string digits(digit_count(engine), '0');
    for (char& c : digits) c = static_cast<char>('0' + digit(engine));
    const int sign = coin(engine);
    const std::string text = (sign == 0 ? "-" : sign == 1 ? "+" : "") + digits;
    // from_chars takes no '+'; its magnitude decides the expected outcome.
    T expected{};
    const std::string unsigned_text = sign == 1 ? digits : text;
    const auto [ptr, ec] =
        std::from_chars(unsigned_text.data(),
                        unsigned_text.data() + unsigned_text.size(), expected);
    const auto outcome = Parse<T>(text, 1);
    if (ec == std::errc()) {
      ASSERT_EQ(outcome.result, LineResult::kRow) << text;
      ASSERT_EQ(outcome.values[0], expected) << text;
    } else {
      ASSERT_EQ(outcome.result, LineResult::kError) << text;
      ASSERT_EQ(outcome.error.kind, RowError::Kind::kOutOfRange) << text;
    }
  }
}

TEST(RowParserTest, Int32MatchesFromCharsOnRandomDecimals) {
  ExpectIntegersMatchFromChars<int32_t>(11);
}

TEST(RowParserTest, Int64MatchesFromCharsOnRandomDecimals) {
  ExpectIntegersMatchFromChars<int64_t>(13);
}

TEST(RowParserTest, IntegerEdgeCasesAroundTheFastPath) {
  EXPECT_THAT(
      Parse<int64_t>("999999999999999999,-000000000000000000000042,0,-0", 4)
          .values,
      ElementsAre(999999999999999999, -42, 0, 0));
  EXPECT_EQ(Parse<int64_t>("0x", 1).error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(Parse<int64_t>("5x", 1).error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(Parse<int64_t>("-", 1).error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(Parse<int64_t>("+-5", 1).error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(Parse<int32_t>("-2147483649", 1).error.kind,
            RowError::Kind::kOutOfRange);
}

TEST(RowParserTest, ParsesPlainFloatRowIntoUnalignedBuffer) {
  const auto outcome = Parse<float>("1,2.5,-3e2", 3);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_THAT(outcome.values, ElementsAre(1.0f, 2.5f, -300.0f));
}

TEST(RowParserTest, SpacesAndTabsAroundFieldsAreIgnored) {
  const auto outcome = Parse<float>(" 1 ,\t2\t,  3  ", 3);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_THAT(outcome.values, ElementsAre(1.0f, 2.0f, 3.0f));
}

TEST(RowParserTest, TrailingDelimiterIsAccepted) {
  const auto outcome = Parse<float>("1,2,3, ", 3);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_THAT(outcome.values, ElementsAre(1.0f, 2.0f, 3.0f));
}

TEST(RowParserTest, TrailingCarriageReturnIsIgnored) {
  const auto outcome = Parse<int32_t>("1,2,3\r", 3);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_THAT(outcome.values, ElementsAre(1, 2, 3));
}

TEST(RowParserTest, EmptyAndSpaceOnlyLinesAreBlank) {
  EXPECT_EQ(Parse<float>("", 3).result, LineResult::kBlank);
  EXPECT_EQ(Parse<float>(" \t ", 3).result, LineResult::kBlank);
  EXPECT_EQ(Parse<float>("\r", 3).result, LineResult::kBlank);
}

TEST(RowParserTest, FloatTakesPlusSignInfinityNanAndTrailingF) {
  const auto outcome = Parse<float>("+1.5,inf,-Infinity,NaN,2.5f,INF,.5", 7);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_EQ(outcome.values[0], 1.5f);
  EXPECT_EQ(outcome.values[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(outcome.values[2], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(outcome.values[3]));
  EXPECT_EQ(outcome.values[4], 2.5f);
  EXPECT_EQ(outcome.values[5], std::numeric_limits<float>::infinity());
  EXPECT_EQ(outcome.values[6], 0.5f);
}

TEST(RowParserTest, FloatBeyondRangeSaturatesToInfinityOrZero) {
  const auto outcome = Parse<float>("1e39,-1e39,1e-50", 3);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_EQ(outcome.values[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(outcome.values[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(outcome.values[2], 0.0f);
}

TEST(RowParserTest, PlusThenMinusIsNotANumber) {
  const auto outcome = Parse<float>("1,+-2", 2);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(outcome.error.field, 2);
}

TEST(RowParserTest, EmptyFieldIsAnErrorNamingItsNumber) {
  const auto outcome = Parse<float>("1,,3", 3);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kEmptyField);
  EXPECT_EQ(outcome.error.field, 2);
}

TEST(RowParserTest, LeadingDelimiterIsAnEmptyFirstField) {
  const auto outcome = Parse<float>(",1,2", 2);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kEmptyField);
  EXPECT_EQ(outcome.error.field, 1);
}

TEST(RowParserTest, TextFieldIsNotANumberAndKeepsItsText) {
  const auto outcome = Parse<float>("1, abc ,3", 3);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(outcome.error.field, 2);
  EXPECT_EQ(outcome.error.text, "abc");
}

TEST(RowParserTest, NumberFollowedByJunkIsNotANumber) {
  const auto outcome = Parse<int64_t>("1,3x,3", 3);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(outcome.error.text, "3x");
}

TEST(RowParserTest, WrongValueCountReportsTheActualCount) {
  const auto short_row = Parse<float>("1,2", 3);
  ASSERT_EQ(short_row.result, LineResult::kError);
  EXPECT_EQ(short_row.error.kind, RowError::Kind::kWrongCount);
  EXPECT_EQ(short_row.error.actual_count, 2);
  const auto long_row = Parse<float>("1,2,3,4,5", 3);
  ASSERT_EQ(long_row.result, LineResult::kError);
  EXPECT_EQ(long_row.error.actual_count, 5);
}

TEST(RowParserTest, IntegersTakeSignsHexAndDecimalLeadingZeros) {
  const auto outcome = Parse<int32_t>("-5,+7,0x10,-0x10,0X1f,010", 6);
  ASSERT_EQ(outcome.result, LineResult::kRow);
  EXPECT_THAT(outcome.values, ElementsAre(-5, 7, 16, -16, 31, 10));
}

TEST(RowParserTest, Int32LimitsParseAndBeyondIsOutOfRange) {
  const auto limits = Parse<int32_t>("2147483647,-2147483648", 2);
  ASSERT_EQ(limits.result, LineResult::kRow);
  EXPECT_THAT(limits.values, ElementsAre(2147483647, -2147483647 - 1));
  const auto beyond = Parse<int32_t>("1,2147483648", 2);
  ASSERT_EQ(beyond.result, LineResult::kError);
  EXPECT_EQ(beyond.error.kind, RowError::Kind::kOutOfRange);
  EXPECT_EQ(beyond.error.field, 2);
  EXPECT_EQ(Parse<int32_t>("0x80000000", 1).error.kind,
            RowError::Kind::kOutOfRange);
}

TEST(RowParserTest, Int64LimitsParseAndBeyondIsOutOfRange) {
  const auto limits =
      Parse<int64_t>("9223372036854775807,-9223372036854775808", 2);
  ASSERT_EQ(limits.result, LineResult::kRow);
  EXPECT_EQ(limits.values[0], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(limits.values[1], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Parse<int64_t>("9223372036854775808", 1).error.kind,
            RowError::Kind::kOutOfRange);
  EXPECT_EQ(Parse<int64_t>("99999999999999999999999", 1).error.kind,
            RowError::Kind::kOutOfRange);
}

TEST(RowParserTest, IntegerFieldWithFractionIsNotANumber) {
  const auto outcome = Parse<int32_t>("1.5", 1);
  ASSERT_EQ(outcome.result, LineResult::kError);
  EXPECT_EQ(outcome.error.kind, RowError::Kind::kNotANumber);
  EXPECT_EQ(outcome.error.text, "1.5");
}

TEST(RowParserTest, OtherDelimitersSplitFields) {
  EXPECT_THAT(Parse<int32_t>("1;2; 3", 3, ';').values, ElementsAre(1, 2, 3));
  EXPECT_THAT(Parse<int32_t>("1\t2 \t3", 3, '\t').values, ElementsAre(1, 2, 3));
  EXPECT_THAT(Parse<int32_t>("\t1 2 3\t", 3, ' ').values, ElementsAre(1, 2, 3));
}

TEST(RowParserTest, FieldErrorStatusNamesFileLineFieldAndText) {
  RowFormat format;
  format.values_per_row = 3;
  const RowError error = Parse<float>("1,abc,3", 3).error;
  const absl::Status status = RowErrorToStatus(error, format, "data.csv", 7);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data.csv:7:"));
  EXPECT_THAT(status.message(), HasSubstr("field 2"));
  EXPECT_THAT(status.message(), HasSubstr("'abc'"));
  EXPECT_THAT(status.message(), HasSubstr("float32"));
}

TEST(RowParserTest, WrongCountStatusNamesExpectedAndActualCounts) {
  RowFormat format;
  format.values_per_row = 3;
  const absl::Status status =
      RowErrorToStatus(Parse<float>("1,2", 3).error, format, "/tmp/x.csv", 12);
  EXPECT_THAT(status.message(), HasSubstr("/tmp/x.csv:12:"));
  EXPECT_THAT(status.message(), HasSubstr("expected 3 values, found 2"));
}

TEST(RowParserTest, ValidateRowFormatRejectsBadDTypeCountAndDelimiter) {
  RowFormat format;
  format.dtype = DType::kFloat64;
  EXPECT_THAT(ValidateRowFormat(format).message(), HasSubstr("dtype"));
  format.dtype = DType::kInt32;
  format.values_per_row = 0;
  EXPECT_THAT(ValidateRowFormat(format).message(), HasSubstr("values_per_row"));
  format.values_per_row = 2;
  format.delimiter = '\n';
  EXPECT_THAT(ValidateRowFormat(format).message(), HasSubstr("delimiter"));
  format.delimiter = '|';
  EXPECT_TRUE(ValidateRowFormat(format).ok());
}

TEST(RowParserTest, ParseBlockSkipsBlankLinesButCountsThem) {
  RowFormat format;
  format.dtype = DType::kInt32;
  format.values_per_row = 2;
  ParsedBlock block;
  ParseBlock("1,2\n\n3,4\r\n  \n5,6", format, &block);
  EXPECT_FALSE(block.has_error);
  EXPECT_EQ(block.num_rows, 3);
  EXPECT_EQ(block.num_lines, 5);
  std::vector<int32_t> values(6);
  std::memcpy(values.data(), block.values.get(), 6 * sizeof(int32_t));
  EXPECT_THAT(values, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST(RowParserTest, ParseBlockStopsAtTheFirstBadLine) {
  RowFormat format;
  format.values_per_row = 2;
  ParsedBlock block;
  ParseBlock("1,2\n\n3\n5,6\n", format, &block);
  ASSERT_TRUE(block.has_error);
  EXPECT_EQ(block.num_rows, 1);
  EXPECT_EQ(block.error_line, 2);  // 0-based: the third line.
  EXPECT_EQ(block.error.kind, RowError::Kind::kWrongCount);
}

TEST(RowParserTest, ParseBlockBuffersAreSizedByTheTextNotTheRowShape) {
  RowFormat format;
  format.values_per_row = int64_t{1} << 30;  // A hostile shape: 4 GB a row.
  ParsedBlock block;
  ParseBlock("1,2,3\n4,5,6\n", format, &block);
  ASSERT_TRUE(block.has_error);
  EXPECT_EQ(block.error.kind, RowError::Kind::kWrongCount);
  EXPECT_EQ(block.error.actual_count, 3);
  EXPECT_LE(block.values_capacity, 8 * sizeof(float));
}

}  // namespace
}  // namespace iterd::csv
