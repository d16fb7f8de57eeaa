// File: tools/fuzz/fuzz_check.h
//
// FUZZ_CHECK: the invariant check of iterd's libFuzzer targets. A failed
// check prints the condition and a message to stderr and aborts, which
// libFuzzer records as a crash and saves the input for.
//
// Thread-safety: stateless. Used only by the single-threaded fuzzers.

#ifndef ITERD_TOOLS_FUZZ_FUZZ_CHECK_H_
#define ITERD_TOOLS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace iterd::fuzz {

[[noreturn]] inline void FailCheck(const char* file, int line,
                                   const char* condition,
                                   const std::string& message) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", file, line,
               condition, message.c_str());
  std::abort();
}

}  // namespace iterd::fuzz

// `message` is only built when the check fails.
#define FUZZ_CHECK(condition, message)                                     \
  do {                                                                     \
    if (!(condition)) {                                                    \
      ::iterd::fuzz::FailCheck(__FILE__, __LINE__, #condition, (message)); \
    }                                                                      \
  } while (false)

#endif  // ITERD_TOOLS_FUZZ_FUZZ_CHECK_H_
