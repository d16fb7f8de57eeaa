// File: common/status/exception_status.h
//
// Turns the exception being handled into an absl::Status, for the few places
// where code that may throw (allocation, the standard library, OpenCV) runs on
// behalf of a client: a request handler or a pool task. std::bad_alloc becomes
// ResourceExhausted, any other exception Internal; the message says what was
// being done and, escaped and shortened, what the exception said.
//
//   try {
//     status = input->GetNext(&batch);
//   } catch (...) {
//     status = CurrentExceptionStatus("producing a batch");
//   }

#ifndef ITERD_COMMON_STATUS_EXCEPTION_STATUS_H_
#define ITERD_COMMON_STATUS_EXCEPTION_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace iterd {

// REQUIRES: called inside a catch block.
absl::Status CurrentExceptionStatus(absl::string_view doing);

}  // namespace iterd

#endif  // ITERD_COMMON_STATUS_EXCEPTION_STATUS_H_
