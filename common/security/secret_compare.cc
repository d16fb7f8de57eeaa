#include "common/security/secret_compare.h"

#include <cstddef>

namespace iterd {

bool SecretEquals(absl::string_view secret, absl::string_view presented) {
  if (secret.size() != presented.size()) return false;
  // volatile: keeps the compiler from turning the loop into an early-exit
  // memcmp.
  volatile unsigned char difference = 0;
  for (size_t i = 0; i < secret.size(); ++i) {
    difference =
        difference | static_cast<unsigned char>(secret[i] ^ presented[i]);
  }
  return difference == 0;
}

}  // namespace iterd
