#include "common/security/secret_compare.h"

#include <string>

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(SecretEqualsTest, EqualOnlyForTheSameBytes) {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(SecretEquals(secret, std::string(secret)));
  EXPECT_FALSE(SecretEquals(secret, "1123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(SecretEquals(secret, "0123456789abcdef0123456789abcdee"));
  EXPECT_FALSE(SecretEquals(secret, secret.substr(0, 31)));
  EXPECT_FALSE(SecretEquals(secret, secret + "0"));
  EXPECT_FALSE(SecretEquals(secret, ""));
  EXPECT_TRUE(SecretEquals("", ""));
}

TEST(SecretEqualsTest, EveryByteCounts) {
  const std::string secret(64, 'x');
  for (size_t i = 0; i < secret.size(); ++i) {
    std::string guess = secret;
    guess[i] = 'y';
    EXPECT_FALSE(SecretEquals(secret, guess)) << "byte " << i;
  }
  // Bytes with the high bit set compare like any other.
  EXPECT_FALSE(SecretEquals(std::string(1, '\x80'), std::string(1, '\x00')));
}

}  // namespace
}  // namespace iterd
