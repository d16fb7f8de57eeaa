#include "common/status/input_text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(QuoteInputTest, ShortTextIsQuotedWhole) {
  EXPECT_EQ(QuoteInput("data.csv"), "'data.csv'");
}

TEST(QuoteInputTest, LongTextIsCutToAPrefix) {
  const std::string quoted = QuoteInput(std::string(1 << 20, 'a'));
  EXPECT_EQ(quoted, "'" + std::string(kMaxQuotedBytes, 'a') + "'...");
}

TEST(QuoteInputTest, ControlBytesCannotForgeALogLine) {
  EXPECT_EQ(QuoteInput(std::string("a\nI1207 forged\0b", 16)),
            "'a\\x0AI1207 forged\\x00b'");
}

TEST(EscapedInputTest, EscapesControlBytesAndKeepsTheRest) {
  EXPECT_EQ(EscapedInput("host:1\nI1207 forged\x7f"),
            "host:1\\x0AI1207 forged\\x7F");
  EXPECT_EQ(EscapedInput("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays.
}

TEST(ShownNameTest, KeepsTheEndOfALongNameAndEscapesControlBytes) {
  EXPECT_EQ(ShownName("dir/data.csv"), "dir/data.csv");
  EXPECT_EQ(ShownName("a\nb"), "a\\x0Ab");
  const std::string shown =
      ShownName(std::string(1000, 'd') + "/" + std::string(10, 'f'));
  EXPECT_EQ(shown.size(), 3 + kMaxShownNameBytes);
  EXPECT_EQ(shown.substr(0, 3), "...");
  EXPECT_EQ(shown.substr(shown.size() - 11), "/ffffffffff");
}

TEST(BoundedMessageTest, CutsLongMessagesAndEscapesControlBytes) {
  EXPECT_EQ(BoundedMessage("a.npz: keys [x\ny]"), "a.npz: keys [x\\x0Ay]");
  EXPECT_EQ(BoundedMessage(std::string(1 << 20, 'k')).size(),
            kMaxMessageBytes + 3);
}

TEST(CheckPathTextTest, NulByteIsRefusedNamingTheField) {
  const absl::Status status =
      CheckPathText("csv.data_csv", std::string("ok.csv\0junk", 11));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_csv"));
  EXPECT_THAT(status.message(), HasSubstr("NUL"));
}

TEST(CheckPathTextTest, LongPathIsRefusedWithAShortQuote) {
  const absl::Status status =
      CheckPathText("csv.data_csv", std::string(1 << 20, 'x'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("csv.data_csv"));
  EXPECT_LT(status.message().size(), 300u);
}

TEST(CheckPathTextTest, OrdinaryAndEmptyPathsPass) {
  EXPECT_TRUE(CheckPathText("f", "a/b.csv").ok());
  EXPECT_TRUE(CheckPathText("f", "").ok());
  EXPECT_TRUE(CheckPathText("f", std::string(kMaxPathBytes, 'x')).ok());
  EXPECT_THAT(CheckPathText("f", "a").message(), Not(HasSubstr("NUL")));
}

}  // namespace
}  // namespace iterd
