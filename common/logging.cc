#include "common/logging.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace iterd {
namespace {

// Appends `c` escaped if it is a control byte; as is otherwise (UTF-8 stays
// readable).
void AppendEscaped(unsigned char c, std::string* out) {
  switch (c) {
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    default:
      break;
  }
  if (c < 0x20 || c == 0x7f) {
    char hex[5];
    snprintf(hex, sizeof(hex), "\\x%02x", c);
    *out += hex;
  } else {
    *out += static_cast<char>(c);
  }
}

}  // namespace

namespace logging_internal {
namespace {

char SeverityLetter(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return 'I';
    case Severity::kWarning:
      return 'W';
    case Severity::kError:
      return 'E';
    case Severity::kFatal:
      return 'F';
  }
  return '?';
}

}  // namespace

LogMessage::LogMessage(Severity severity, const char* file, int line)
    : severity_(severity) {
  timeval now;
  gettimeofday(&now, nullptr);
  tm local;
  localtime_r(&now.tv_sec, &local);
  char prefix[64];
  const char* base = std::strrchr(file, '/');
  snprintf(prefix, sizeof(prefix), "%c%02d%02d %02d:%02d:%02d.%06ld ",
           SeverityLetter(severity), local.tm_mon + 1, local.tm_mday,
           local.tm_hour, local.tm_min, local.tm_sec,
           static_cast<long>(now.tv_usec));
  stream_ << prefix << (base ? base + 1 : file) << ":" << line << "] ";
  prefix_bytes_ = stream_.str().size();
}

LogMessage::~LogMessage() {
  const std::string text = stream_.str();
  std::string line = text.substr(0, prefix_bytes_);
  line.reserve(text.size() + 1);
  for (size_t i = prefix_bytes_; i < text.size(); ++i) {
    AppendEscaped(static_cast<unsigned char>(text[i]), &line);
  }
  line += '\n';
  // One write per line keeps lines from different threads whole.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  if (severity_ == Severity::kFatal) std::abort();
}

}  // namespace logging_internal
}  // namespace iterd
