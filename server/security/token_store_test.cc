#include "server/security/token_store.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTokenA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kTokenB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir == nullptr ? "/tmp" : dir) + "/" + name;
}

// Writes `text` to `path` the way operators should: a new file renamed over
// the old one.
void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".new";
  std::ofstream(temporary) << text;
  ASSERT_EQ(std::rename(temporary.c_str(), path.c_str()), 0);
}

std::unique_ptr<TokenStore> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<TokenStore>> store =
      TokenStore::Open(path, absl::ZeroDuration());
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

TEST(TokenStoreTest, AuthenticatesBearerTokensByName) {
  const std::string path = TempPath("tokens_names");
  ReplaceFile(path, "trainer-a " + kTokenA + "\nops " + kTokenB + "\n");
  std::unique_ptr<TokenStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->Authenticate("Bearer " + kTokenA), "trainer-a");
  EXPECT_EQ(*store->Authenticate("bearer  " + kTokenB), "ops");
}

TEST(TokenStoreTest, RefusesMissingMalformedAndUnknownTokens) {
  const std::string path = TempPath("tokens_refusals");
  ReplaceFile(path, "trainer-a " + kTokenA + "\n");
  std::unique_ptr<TokenStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  const struct {
    std::string authorization;
    std::string message;
  } cases[] = {{"", "no token"},
               {kTokenA, "malformed authorization"},
               {"Basic " + kTokenA, "malformed authorization"},
               {"Bearer " + kTokenA.substr(1), "token refused"},
               {"Bearer " + kTokenA + "x", "token refused"},
               {"Bearer " + kTokenB, "token refused"}};
  for (const auto& c : cases) {
    absl::StatusOr<std::string> name = store->Authenticate(c.authorization);
    EXPECT_EQ(name.status().code(), absl::StatusCode::kUnauthenticated)
        << c.authorization;
    EXPECT_THAT(name.status().message(), HasSubstr(c.message));
    EXPECT_THAT(name.status().message(), Not(HasSubstr("aaaaaaaa")));
  }
}

TEST(TokenStoreTest, ReloadRevokesRemovedLinesAndAddsNewOnes) {
  const std::string path = TempPath("tokens_reload");
  ReplaceFile(path, "trainer-a " + kTokenA + "\n");
  std::unique_ptr<TokenStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  ReplaceFile(path, "trainer-b " + kTokenB + "\n");
  store->ReloadIfChanged();
  EXPECT_EQ(store->Authenticate("Bearer " + kTokenA).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*store->Authenticate("Bearer " + kTokenB), "trainer-b");
}

TEST(TokenStoreTest, KeepsTheLastGoodTokensWhenTheFileTurnsInvalid) {
  const std::string path = TempPath("tokens_invalid");
  ReplaceFile(path, "trainer-a " + kTokenA + "\n");
  std::unique_ptr<TokenStore> store = OpenStore(path);
  ASSERT_NE(store, nullptr);
  ReplaceFile(path, "trainer-a short\n");
  store->ReloadIfChanged();
  EXPECT_EQ(*store->Authenticate("Bearer " + kTokenA), "trainer-a");
  unlink(path.c_str());
  store->ReloadIfChanged();
  EXPECT_EQ(*store->Authenticate("Bearer " + kTokenA), "trainer-a");
}

TEST(TokenStoreTest, TheWatcherPicksUpChangesByItself) {
  const std::string path = TempPath("tokens_watched");
  ReplaceFile(path, "trainer-a " + kTokenA + "\n");
  absl::StatusOr<std::unique_ptr<TokenStore>> store =
      TokenStore::Open(path, absl::Milliseconds(10));
  ASSERT_TRUE(store.ok()) << store.status();
  ReplaceFile(path, "trainer-b " + kTokenB + "\n");
  // Bounded wait for the watcher, not a timing assertion.
  for (int i = 0; i < 500 && !(*store)->Authenticate("Bearer " + kTokenB).ok();
       ++i) {
    usleep(10000);
  }
  EXPECT_EQ(*(*store)->Authenticate("Bearer " + kTokenB), "trainer-b");
}

TEST(TokenStoreTest, OpenFailsOnAnInvalidFile) {
  const std::string path = TempPath("tokens_bad");
  ReplaceFile(path, "trainer-a tooshort\n");
  absl::StatusOr<std::unique_ptr<TokenStore>> store =
      TokenStore::Open(path, absl::ZeroDuration());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("tokens_bad:1:"));
}

}  // namespace
}  // namespace iterd::security
