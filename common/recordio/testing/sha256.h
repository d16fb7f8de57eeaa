// File: common/recordio/testing/sha256.h
//
// Sha256Hex: the SHA-256 digest of some bytes as 64 lowercase hex digits, to
// compare records with MANIFEST.json. Test-only; a pure, thread-safe function.

#ifndef ITERD_COMMON_RECORDIO_TESTING_SHA256_H_
#define ITERD_COMMON_RECORDIO_TESTING_SHA256_H_

#include <string>

#include "absl/strings/string_view.h"

namespace iterd::recordio::testing {

std::string Sha256Hex(absl::string_view bytes);

}  // namespace iterd::recordio::testing

#endif  // ITERD_COMMON_RECORDIO_TESTING_SHA256_H_
