#include "common/logging.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace iterd {
namespace {

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
