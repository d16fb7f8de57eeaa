// File: server/service/path_policy.h
//
// PathPolicy: the daemon's data roots. Every file a client names goes through
// Resolve(), so that clients can only reach files under the roots the daemon
// was started with: a path that leaves them through "..", an absolute path
// elsewhere, or a symlink pointing outside is refused.
//
// Messages name a file by its path relative to its root (quoted, at most a
// short prefix), never by the root's absolute location nor by where a symlink
// leads outside the roots.
//
// The resolve-then-open window (TOCTOU): Resolve() returns a canonical path
// and the caller opens it afterwards. A local user who can write inside a
// root could, in between, replace a directory on that path with a symlink
// leading outside, and a plain open would follow it. CSV files (also each
// file listed in a folder) and NDArray .npy/.npz files are opened through
// io::HeldFile (common/io/held_file.h): O_NOFOLLOW, then the descriptor's own
// path must still be the canonical one, and the reader maps exactly that
// descriptor; such a swap is refused. Files opened by the image pipelines
// (.rec, .idx, .lst, images of a list, mean images) are still opened by path:
// for them the window remains until they take a HeldFile too. Clients cannot
// make such swaps through iterd (it creates no client-named directories or
// symlinks), so the window needs a local user who can write inside a root.
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
  // paths are relative to the first root. Returns InvalidArgument for a path
  // with a NUL byte or longer than kMaxPathBytes (input_text.h),
  // PermissionDenied (naming the path) when it lies outside every root, also
  // through a symlink, NotFound when it is inside but does not exist. The
  // lexical check comes first, so that a client cannot probe for files outside
  // the roots. An absolute path inside a root is named relative to that root.
  absl::StatusOr<std::string> Resolve(absl::string_view path) const;

  // How messages name a path Resolve() returned: relative to its root
  // ("." for the root itself), unquoted; a path under no root is returned as
  // is.
  std::string RelativeName(absl::string_view canonical) const;

  const std::vector<std::string>& roots() const { return roots_; }

 private:
  explicit PathPolicy(std::vector<std::string> roots)
      : roots_(std::move(roots)) {}

  bool IsUnderRoot(absl::string_view canonical) const;
  // How messages name `path` (whose normalised absolute form is `lexical`):
  // relative to the root it lies in, quoted; else the client's text, quoted.
  std::string Shown(absl::string_view path, absl::string_view lexical) const;

  std::vector<std::string> roots_;  // Canonical, without trailing '/'.
};

}  // namespace iterd::service

#endif  // ITERD_SERVER_SERVICE_PATH_POLICY_H_
