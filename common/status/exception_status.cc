#include "common/status/exception_status.h"

#include <exception>
#include <new>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace iterd {
namespace {

// Exception texts may quote input: at most this much of one, escaped.
constexpr size_t kMaxWhatBytes = 200;

}  // namespace

absl::Status CurrentExceptionStatus(absl::string_view doing) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the daemon ran out of memory ", doing,
                     "; retry later or with smaller arrays or batches"));
  } catch (const std::exception& error) {
    const absl::string_view what = error.what();
    return absl::InternalError(
        absl::StrCat("internal error ", doing, ": ",
                     absl::CHexEscape(what.substr(0, kMaxWhatBytes)),
                     what.size() > kMaxWhatBytes ? "..." : ""));
  } catch (...) {
    return absl::InternalError(
        absl::StrCat("internal error ", doing, ": an unknown exception"));
  }
}

}  // namespace iterd
