#include "common/logging.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace iterd {
namespace {

TEST(LogQuoteTest, EscapesControlBytesQuotesAndBackslashes) {
  EXPECT_EQ(LogQuote("a\nb\r\t\"\\\x01\x7f"), "a\\nb\\r\\t\\\"\\\\\\x01\\x7f");
  EXPECT_EQ(LogQuote("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays readable.
}

TEST(LogQuoteTest, CutsLongTextAndSaysHowLongItWas) {
  EXPECT_EQ(LogQuote(std::string(300, 'x'), 4), "xxxx...(300 bytes)");
  EXPECT_EQ(LogQuote("abcd", 4), "abcd");
}

// Captures what ITERD_LOG writes to stderr.
std::string Logged(const std::string& message) {
  std::FILE* capture = std::tmpfile();
  const int saved = dup(STDERR_FILENO);
  dup2(fileno(capture), STDERR_FILENO);
  ITERD_LOG(INFO) << message;
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string text(4096, '\0');
  std::rewind(capture);
  text.resize(std::fread(text.data(), 1, text.size(), capture));
  std::fclose(capture);
  return text;
}

TEST(LogMessageTest, AMessageIsAlwaysOneLine) {
  const std::string text =
      Logged("client evil\nI1207 00:00:00.000000 main.cc:1] forged\x1b[2J");
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
  EXPECT_NE(text.find("evil\\nI1207 00:00:00.000000 main.cc:1] forged\\x1b[2J"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace iterd
