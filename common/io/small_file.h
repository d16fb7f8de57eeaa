// File: common/io/small_file.h
//
// Reading a whole small file (a token file, a certificate, a /proc entry)
// with a bound on its size, so that a path pointing at something huge or
// endless (/dev/zero, a FIFO) costs at most `max_bytes` and never blocks.

#ifndef ITERD_COMMON_IO_SMALL_FILE_H_
#define ITERD_COMMON_IO_SMALL_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace iterd::io {

// The content of `path`. Errors name the path: NotFound, PermissionDenied,
// FailedPrecondition when it is not a regular file (nor a /proc entry) or is
// longer than `max_bytes`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes);

}  // namespace iterd::io

#endif  // ITERD_COMMON_IO_SMALL_FILE_H_
