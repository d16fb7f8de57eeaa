#include "server/security/token_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTokenA(32, 'a');
const std::string kTokenB = "0123456789abcdef0123456789abcdef0123";

TEST(ParseTokenFileTest, ReadsNamesAndTokensSkippingCommentsAndBlanks) {
  const std::string text = "# trainers\n\ntrainer-a " + kTokenA +
                           "\n  ops@team:1\t" + kTokenB + "  \n";
  absl::StatusOr<std::vector<NamedToken>> tokens =
      ParseTokenFile(text, "tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ((*tokens)[0].name, "trainer-a");
  EXPECT_EQ((*tokens)[0].token, kTokenA);
  EXPECT_EQ((*tokens)[1].name, "ops@team:1");
  EXPECT_EQ((*tokens)[1].token, kTokenB);
}

// Every refusal names the file and line, and none repeats the token.
void ExpectRefused(const std::string& text, const std::string& expected,
                   const std::string& secret) {
  absl::StatusOr<std::vector<NamedToken>> tokens =
      ParseTokenFile(text, "/etc/iterd/tokens");
  ASSERT_FALSE(tokens.ok()) << text;
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokens.status().message(), HasSubstr(expected));
  if (!secret.empty()) {
    EXPECT_THAT(tokens.status().message(), Not(HasSubstr(secret)));
  }
}

TEST(ParseTokenFileTest, RefusesMalformedLinesWithoutQuotingTokens) {
  ExpectRefused("a " + kTokenA + "\nb\n", "/etc/iterd/tokens:2: expected",
                kTokenA);
  ExpectRefused("a " + kTokenA + " extra\n", ":1: expected NAME TOKEN",
                kTokenA);
  const std::string short_token(31, 's');
  ExpectRefused("a " + short_token + "\n", "31 characters", short_token);
  ExpectRefused("bad/name " + kTokenA + "\n", ":1: the name", kTokenA);
  ExpectRefused(std::string(129, 'n') + " " + kTokenA + "\n", "the name",
                kTokenA);
  const std::string odd_token = kTokenA + "\x01";
  ExpectRefused("a " + odd_token + "\n", "outside printable", odd_token);
  ExpectRefused("a " + kTokenA + "\na " + kTokenB + "\n",
                ":2: the name 'a' is listed twice", kTokenB);
  ExpectRefused("a " + kTokenA + "\nb " + kTokenA + "\n",
                ":2: the token of 'b' is also", kTokenA);
  ExpectRefused("# nobody\n\n", "no NAME TOKEN line", "");
}

TEST(ReadTokenFileTest, NamesAMissingFile) {
  absl::StatusOr<std::vector<NamedToken>> tokens =
      ReadTokenFile("/nonexistent/tokens");
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokens.status().message(), HasSubstr("/nonexistent/tokens"));
}

}  // namespace
}  // namespace iterd::security
