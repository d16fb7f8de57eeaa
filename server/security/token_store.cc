#include "server/security/token_store.h"

#include <sys/stat.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/security/secret_compare.h"

namespace iterd::security {

bool TokenStore::FileVersion::operator==(const FileVersion& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified_nanos == other.modified_nanos;
}

TokenStore::FileVersion TokenStore::Stat(const std::string& path, bool* ok) {
  struct stat info;
  FileVersion version;
  *ok = stat(path.c_str(), &info) == 0;
  if (!*ok) return version;
  version.device = static_cast<long long>(info.st_dev);
  version.inode = static_cast<long long>(info.st_ino);
  version.size = static_cast<long long>(info.st_size);
  version.modified_nanos =
      static_cast<long long>(info.st_mtim.tv_sec) * 1000000000LL +
      info.st_mtim.tv_nsec;
  return version;
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(
    std::string path, absl::Duration reload_interval) {
  bool ok = false;
  const FileVersion version = Stat(path, &ok);
  absl::StatusOr<std::vector<NamedToken>> tokens = ReadTokenFile(path);
  if (!tokens.ok()) return tokens.status();
  std::unique_ptr<TokenStore> store(
      new TokenStore(std::move(path), *std::move(tokens), version));
  if (reload_interval > absl::ZeroDuration()) {
    store->watcher_ = std::thread([store = store.get(), reload_interval] {
      store->Watch(reload_interval);
    });
  }
  return store;
}

TokenStore::TokenStore(std::string path, std::vector<NamedToken> tokens,
                       FileVersion version)
    : path_(std::move(path)),
      tokens_(
          std::make_shared<const std::vector<NamedToken>>(std::move(tokens))),
      version_(version) {}

TokenStore::~TokenStore() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

void TokenStore::Watch(absl::Duration reload_interval) {
  while (!stop_.WaitForNotificationWithTimeout(reload_interval)) {
    ReloadIfChanged();
  }
}

void TokenStore::ReloadIfChanged() {
  bool ok = false;
  const FileVersion version = Stat(path_, &ok);
  {
    absl::MutexLock lock(&mu_);
    if (ok && version == version_) return;
  }
  absl::StatusOr<std::vector<NamedToken>> tokens = ReadTokenFile(path_);
  absl::MutexLock lock(&mu_);
  // Looked at once per version: an invalid file is reported once, not every
  // interval, and tried again when it changes.
  version_ = version;
  if (!tokens.ok()) {
    ITERD_LOG(ERROR) << "--auth_token_file: keeping the " << tokens_->size()
                     << " tokens read before: " << tokens.status().message();
    return;
  }
  ITERD_LOG(INFO) << "--auth_token_file " << path_ << ": reloaded, "
                  << tokens->size() << " tokens";
  tokens_ = std::make_shared<const std::vector<NamedToken>>(*std::move(tokens));
}

absl::StatusOr<std::string> TokenStore::Authenticate(
    absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "no token: this daemon requires 'authorization: Bearer TOKEN' on "
        "every call (iterd clients: token= or $ITERD_TOKEN)");
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization);
  if (token.size() < 7 ||
      !absl::EqualsIgnoreCase(token.substr(0, 7), "Bearer ")) {
    return absl::UnauthenticatedError(
        "malformed authorization: expected 'Bearer TOKEN'");
  }
  token = absl::StripLeadingAsciiWhitespace(token.substr(7));
  std::shared_ptr<const std::vector<NamedToken>> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  // Every entry is compared (no early exit), so the time does not tell which
  // line, if any, matched.
  const NamedToken* found = nullptr;
  for (const NamedToken& entry : *tokens) {
    if (SecretEquals(entry.token, token)) found = &entry;
  }
  if (found == nullptr) {
    return absl::UnauthenticatedError(
        "token refused: it is not (or no longer) in the daemon's token file");
  }
  return found->name;
}

}  // namespace iterd::security
