// File: common/status/status_macros.h
//
// ITERD_RETURN_IF_ERROR and ITERD_ASSIGN_OR_RETURN, shaped like TensorFlow's
// TF_RETURN_IF_ERROR: Debian's Abseil 20220623 ships neither.
//
//   ITERD_RETURN_IF_ERROR(file.Open(path));
//   ITERD_ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader,
//   Reader::Create(path));

#ifndef ITERD_COMMON_STATUS_STATUS_MACROS_H_
#define ITERD_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ITERD_RETURN_IF_ERROR(expr)                \
  do {                                             \
    const ::absl::Status iterd_status_ = (expr);   \
    if (!iterd_status_.ok()) return iterd_status_; \
  } while (false)

#define ITERD_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define ITERD_STATUS_MACROS_CONCAT_(x, y) \
  ITERD_STATUS_MACROS_CONCAT_INNER_(x, y)

#define ITERD_ASSIGN_OR_RETURN(lhs, rexpr) \
  ITERD_ASSIGN_OR_RETURN_IMPL_(            \
      ITERD_STATUS_MACROS_CONCAT_(iterd_statusor_, __LINE__), lhs, rexpr)

#define ITERD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // ITERD_COMMON_STATUS_STATUS_MACROS_H_
