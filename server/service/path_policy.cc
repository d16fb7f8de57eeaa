#include "server/service/path_policy.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/input_text.h"

namespace iterd::service {
namespace {

// Collapses ".", ".." and repeated '/' without touching the file system.
// REQUIRES: absolute path.
std::string NormalizeLexically(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

// realpath(3) of `path`; errors name the file as `shown`, never `path`
// (which holds the data root's absolute location).
absl::StatusOr<std::string> RealPath(const std::string& path,
                                     absl::string_view shown) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer) == nullptr) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("no such file: ", shown));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot resolve ", shown, ": ", std::strerror(error)));
  }
  return std::string(buffer);
}

}  // namespace

absl::StatusOr<PathPolicy> PathPolicy::Create(
    const std::vector<std::string>& roots) {
  if (roots.empty()) {
    return absl::InvalidArgumentError(
        "at least one --data_root is required: clients can only read files "
        "under the data roots");
  }
  std::vector<std::string> canonical;
  for (const std::string& root : roots) {
    absl::StatusOr<std::string> real = RealPath(root, root);
    if (!real.ok()) {
      return absl::NotFoundError(
          absl::StrCat("data root ", root, " does not exist"));
    }
    struct stat info;
    if (stat(real->c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("data root ", root, " is not a directory"));
    }
    if (*real != "/" && real->back() == '/') real->pop_back();
    canonical.push_back(*std::move(real));
  }
  return PathPolicy(std::move(canonical));
}

bool PathPolicy::IsUnderRoot(absl::string_view path) const {
  for (const std::string& root : roots_) {
    if (root == "/") return true;
    if (path == root) return true;
    if (path.size() > root.size() && path.substr(0, root.size()) == root &&
        path[root.size()] == '/') {
      return true;
    }
  }
  return false;
}

std::string PathPolicy::RelativeName(absl::string_view canonical) const {
  for (const std::string& root : roots_) {
    if (canonical == root) return ".";
    if (root == "/") return std::string(canonical.substr(1));
    if (canonical.size() > root.size() &&
        canonical.substr(0, root.size()) == root &&
        canonical[root.size()] == '/') {
      return std::string(canonical.substr(root.size() + 1));
    }
  }
  return std::string(canonical);
}

std::string PathPolicy::Shown(absl::string_view path,
                              absl::string_view lexical) const {
  return QuoteInput(IsUnderRoot(lexical) ? RelativeName(lexical) : path);
}

absl::StatusOr<std::string> PathPolicy::Resolve(absl::string_view path) const {
  if (absl::Status text = CheckPathText("path", path); !text.ok()) return text;
  if (path.empty()) return absl::InvalidArgumentError("empty file path");
  const std::string absolute =
      path[0] == '/' ? std::string(path) : absl::StrCat(roots_[0], "/", path);
  const std::string lexical = NormalizeLexically(absolute);
  if (!IsUnderRoot(lexical)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path ", QuoteInput(path), " is outside the daemon's data roots"));
  }
  const std::string shown = Shown(path, lexical);
  absl::StatusOr<std::string> real = RealPath(lexical, shown);
  if (!real.ok()) return real.status();
  if (!IsUnderRoot(*real)) {
    // Neither the target nor the roots are named: both are the daemon's
    // business, and the target may be what a client probes for.
    return absl::PermissionDeniedError(
        absl::StrCat("path ", shown,
                     " resolves through a symlink to a file outside the "
                     "daemon's data roots"));
  }
  return real;
}

}  // namespace iterd::service
