#include "server/service/path_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class PathPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::string(std::getenv("TEST_TMPDIR")) + "/path_policy";
    mkdir(base_.c_str(), 0755);
    root_ = base_ + "/root";
    mkdir(root_.c_str(), 0755);
    mkdir((root_ + "/sub").c_str(), 0755);
    Touch(root_ + "/sub/data.csv");
    Touch(base_ + "/secret.csv");
    Link(base_ + "/secret.csv", root_ + "/escape.csv");
    Link(root_ + "/sub/data.csv", root_ + "/alias.csv");
  }

  // Every test of the process shares TEST_TMPDIR: the link may exist already.
  static void Link(const std::string& target, const std::string& name) {
    EXPECT_TRUE(symlink(target.c_str(), name.c_str()) == 0 || errno == EEXIST)
        << name << ": " << std::strerror(errno);
  }

  static void Touch(const std::string& path) {
    int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0644);
    close(fd);
  }

  std::string base_;
  std::string root_;
};

TEST_F(PathPolicyTest, RelativePathsResolveUnderTheFirstRoot) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto resolved = policy->Resolve("sub/data.csv");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_THAT(*resolved, ::testing::EndsWith("/root/sub/data.csv"));
}

TEST_F(PathPolicyTest, AbsolutePathInsideARootIsAllowed) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->Resolve(root_ + "/sub/data.csv").ok());
}

TEST_F(PathPolicyTest, DotDotOutOfTheRootIsPermissionDenied) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve("../secret.csv");
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(resolved.status().message(), HasSubstr("../secret.csv"));
}

TEST_F(PathPolicyTest, AbsolutePathElsewhereIsPermissionDeniedEvenIfMissing) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->Resolve("/etc/passwd").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(policy->Resolve("/no/such/file").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(PathPolicyTest, SymlinkLeavingTheRootIsPermissionDenied) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve("escape.csv");
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(resolved.status().message(), HasSubstr("symlink"));
  // Neither where the link leads nor the root's location is told.
  EXPECT_THAT(resolved.status().message(), Not(HasSubstr("secret")));
  EXPECT_THAT(resolved.status().message(), Not(HasSubstr(base_)));
}

TEST_F(PathPolicyTest, AbsolutePathsInsideARootAreNamedRelativeToIt) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  for (const std::string name : {"escape.csv", "sub/missing.csv"}) {
    auto resolved = policy->Resolve(root_ + "/" + name);
    ASSERT_FALSE(resolved.ok());
    EXPECT_THAT(resolved.status().message(), HasSubstr("'" + name + "'"));
    EXPECT_THAT(resolved.status().message(), Not(HasSubstr(root_)));
  }
}

TEST_F(PathPolicyTest, RelativeNameIsRelativeToTheRootOfThePath) {
  auto policy = PathPolicy::Create({root_ + "/sub", base_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve("data.csv");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(policy->RelativeName(*resolved), "data.csv");
  EXPECT_EQ(policy->RelativeName(base_ + "/secret.csv"), "secret.csv");
  EXPECT_EQ(policy->RelativeName(base_), ".");
}

TEST_F(PathPolicyTest, OutsideMessagesDoNotNameTheRoots) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve("../secret.csv");
  EXPECT_THAT(resolved.status().message(), Not(HasSubstr(root_)));
}

TEST_F(PathPolicyTest, PathWithANulByteIsInvalidNotTruncated) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  // Cut at the NUL this would be the existing sub/data.csv.
  auto resolved = policy->Resolve(std::string("sub/data.csv\0.txt", 17));
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(resolved.status().message(), HasSubstr("NUL"));
}

TEST_F(PathPolicyTest, HugePathIsInvalidAndQuotedShort) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve(std::string(1 << 20, 'a'));
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(resolved.status().message().size(), 400u);
  // Just under the limit but outside: still quoted short.
  auto outside = policy->Resolve("/" + std::string(4000, 'b'));
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_LT(outside.status().message().size(), 400u);
}

TEST_F(PathPolicyTest, SymlinkInsideTheRootIsAllowed) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->Resolve("alias.csv").ok());
}

TEST_F(PathPolicyTest, MissingFileInsideTheRootIsNotFound) {
  auto policy = PathPolicy::Create({root_});
  ASSERT_TRUE(policy.ok());
  auto resolved = policy->Resolve("sub/missing.csv");
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(resolved.status().message(), HasSubstr("sub/missing.csv"));
}

TEST_F(PathPolicyTest, SecondRootIsReachableByAbsolutePath) {
  auto policy = PathPolicy::Create({root_ + "/sub", base_});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->Resolve(base_ + "/secret.csv").ok());
  EXPECT_TRUE(policy->Resolve("data.csv").ok());
}

TEST_F(PathPolicyTest, MissingRootIsAnError) {
  auto policy = PathPolicy::Create({base_ + "/nope"});
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(PathPolicy::Create({}).ok());
}

}  // namespace
}  // namespace iterd::service
