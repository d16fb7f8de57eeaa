// File: server/service/path_policy.h
//
// PathPolicy: the daemon's data roots. Every file a client names goes through
// Resolve(), so that clients can only reach files under the roots the daemon
// was started with: a path that leaves them through "..", an absolute path
// elsewhere, or a symlink pointing outside is refused.
//
// Immutable after Create(); thread-safe.

#ifndef ITERD_SERVER_SERVICE_PATH_POLICY_H_
#define ITERD_SERVER_SERVICE_PATH_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iterd::service {

class PathPolicy final {
 public:
  // Each root must be an existing directory (NotFound / InvalidArgument naming
  // it). Roots are canonicalised (symlinks resolved) once here.
  static absl::StatusOr<PathPolicy> Create(
      const std::vector<std::string>& roots);

  // Maps a client path to a canonical absolute path under a root. Relative
  // paths are relative to the first root. Returns PermissionDenied (naming the
  // path) when it lies outside every root, NotFound when it is inside but does
  // not exist. The lexical check comes first, so that a client cannot probe for
  // files outside the roots.
  absl::StatusOr<std::string> Resolve(absl::string_view path) const;

  const std::vector<std::string>& roots() const { return roots_; }

 private:
  explicit PathPolicy(std::vector<std::string> roots)
      : roots_(std::move(roots)) {}

  bool IsUnderRoot(absl::string_view canonical) const;

  std::vector<std::string> roots_;  // Canonical, without trailing '/'.
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_PATH_POLICY_H_
