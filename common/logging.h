// File: common/logging.h
//
// A minimal logging shim: Debian's Abseil 20220623 has no absl/log. Lines go to
// stderr as
//   I1124 03:12:45.123456 main.cc:42] message
// Thread-safe: each line is formatted first and written with one call.
//
// A line is always one line: newlines, carriage returns and other control
// bytes inside a message are written escaped (\n, \r, \t, \xNN), so text a
// client sent (a name, a path) cannot forge log lines. To quote and shorten
// such text, see common/status/input_text.h.
//
//   ITERD_LOG(INFO) << "listening on " << address;
//   ITERD_LOG(WARNING) << "iterator " << id << " expired";

#ifndef ITERD_COMMON_LOGGING_H_
#define ITERD_COMMON_LOGGING_H_

#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>

namespace iterd {

namespace logging_internal {

enum class Severity { kInfo, kWarning, kError, kFatal };

// Collects one line and writes it to stderr on destruction; kFatal then aborts.
class LogMessage final {
 public:
  LogMessage(Severity severity, const char* file, int line);
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  ~LogMessage();

  std::ostream& stream() { return stream_; }

 private:
  Severity severity_;
  std::ostringstream stream_;
  size_t prefix_bytes_ = 0;  // Of stream_: the header, not escaped.
};

}  // namespace logging_internal
}  // namespace iterd

#define ITERD_LOG_SEVERITY_INFO ::iterd::logging_internal::Severity::kInfo
#define ITERD_LOG_SEVERITY_WARNING ::iterd::logging_internal::Severity::kWarning
#define ITERD_LOG_SEVERITY_ERROR ::iterd::logging_internal::Severity::kError
#define ITERD_LOG_SEVERITY_FATAL ::iterd::logging_internal::Severity::kFatal

#define ITERD_LOG(severity)                                            \
  ::iterd::logging_internal::LogMessage(ITERD_LOG_SEVERITY_##severity, \
                                        __FILE__, __LINE__)            \
      .stream()

// Aborts with a message when an invariant is broken. Not for input validation.
#define ITERD_CHECK(condition) \
  if (!(condition)) ITERD_LOG(FATAL) << "Check failed: " #condition " "

#endif  // ITERD_COMMON_LOGGING_H_
