// File: common/security/secret_compare.h
//
// Comparing a secret a client presents (an iterator handle, a shared-memory
// token, a bearer token) with the real one. An early exit at the first
// differing byte would tell a client, by how long the answer took, how much
// of its guess was right; these comparisons take the same time wherever the
// strings differ.

#ifndef ITERD_COMMON_SECURITY_SECRET_COMPARE_H_
#define ITERD_COMMON_SECURITY_SECRET_COMPARE_H_

#include "absl/strings/string_view.h"

namespace iterd {

// True when `presented` equals `secret`. The time depends only on the
// lengths: a length mismatch returns at once, which reveals the secret's
// length, not its content (iterd's secrets have public lengths or are at
// least 32 characters of random text).
bool SecretEquals(absl::string_view secret, absl::string_view presented);

}  // namespace iterd

#endif  // ITERD_COMMON_SECURITY_SECRET_COMPARE_H_
