// File: server/security/token_store.h
//
// TokenStore: the bearer tokens the daemon accepts, kept in step with the
// token file (--auth_token_file). A thread looks at the file every
// `reload_interval` and re-reads it when it changed (modification time, size
// or inode: an edit, an atomic rename over it, a Kubernetes Secret update);
// a removed line is thus refused for new calls within about that interval.
// A file that became unreadable or invalid keeps the tokens last read (an
// ERROR line says why, without any token) so that a half-written file does
// not lock every trainer out; writers should replace the file atomically.
//
// Thread-safe: Authenticate() may run on any thread while the file reloads.

#ifndef ITERD_SERVER_SECURITY_TOKEN_STORE_H_
#define ITERD_SERVER_SECURITY_TOKEN_STORE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/security/token_file.h"

namespace iterd::security {

class TokenStore final {
 public:
  // Reads `path` (an error stops the daemon's start-up) and starts watching
  // it; reload_interval <= 0 does not watch.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(
      std::string path, absl::Duration reload_interval);

  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;
  ~TokenStore();

  // The NAME of the token in `authorization`, the value of an
  // "authorization" header: "Bearer TOKEN" (scheme case-insensitive).
  // Unauthenticated otherwise; the message says what was wrong (no header,
  // not Bearer, unknown token) and never contains the token.
  absl::StatusOr<std::string> Authenticate(
      absl::string_view authorization) const ABSL_LOCKS_EXCLUDED(mu_);

  // Re-reads the file when it changed since the last look. The watcher
  // thread calls this; public for tests.
  void ReloadIfChanged() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& path() const { return path_; }

 private:
  // What identifies one version of the file.
  struct FileVersion {
    bool operator==(const FileVersion& other) const;
    long long device = 0;
    long long inode = 0;
    long long size = 0;
    long long modified_nanos = 0;
  };
  static FileVersion Stat(const std::string& path, bool* ok);

  TokenStore(std::string path, std::vector<NamedToken> tokens,
             FileVersion version);
  void Watch(absl::Duration reload_interval);

  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const std::vector<NamedToken>> tokens_ ABSL_GUARDED_BY(mu_);
  FileVersion version_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace iterd::security

#endif  // ITERD_SERVER_SECURITY_TOKEN_STORE_H_
