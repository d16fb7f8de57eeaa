#include "server/security/access_policy.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace iterd::security {
namespace {

using ::testing::HasSubstr;

v1::ServerConfig Config(const std::string& text) {
  v1::ServerConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config));
  return config;
}

constexpr char kRules[] = R"pb(
  pipelines { name: "train" }
  pipelines { name: "eval" }
  access { identities: "trainer-a" pipelines: "train" }
  access {
    identities: "admin"
    identities: "spiffe://cluster/ns/ml/sa/admin"
    pipelines: "*"
    inline_configs: true
  }
)pb";

CallIdentity Token(const std::string& name) { return {name, {}}; }

TEST(AccessPolicyTest, WithoutRulesEveryoneMayDoEverything) {
  const AccessPolicy policy;
  EXPECT_TRUE(policy.CheckKnown(CallIdentity()).ok());
  EXPECT_TRUE(policy.CheckOpenNamed(Token("x"), "train").ok());
  EXPECT_TRUE(policy.CheckInlineFiles(Token("x")).ok());
}

TEST(AccessPolicyTest, TheFirstRuleNamingTheCallerDecides) {
  const AccessPolicy policy(Config(kRules));
  EXPECT_TRUE(policy.CheckOpenNamed(Token("trainer-a"), "train").ok());
  const absl::Status eval = policy.CheckOpenNamed(Token("trainer-a"), "eval");
  EXPECT_EQ(eval.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(eval.message(),
              HasSubstr("'trainer-a' may not open pipeline 'eval'"));
  const absl::Status inline_files = policy.CheckInlineFiles(Token("trainer-a"));
  EXPECT_EQ(inline_files.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(inline_files.message(), HasSubstr("inline_configs"));

  EXPECT_TRUE(policy.CheckOpenNamed(Token("admin"), "eval").ok());
  EXPECT_TRUE(policy.CheckInlineFiles(Token("admin")).ok());
}

TEST(AccessPolicyTest, CertificateNamesAreIdentitiesToo) {
  const AccessPolicy policy(Config(kRules));
  const CallIdentity by_certificate{
      "", {"admin-host", "spiffe://cluster/ns/ml/sa/admin"}};
  EXPECT_TRUE(policy.CheckKnown(by_certificate).ok());
  EXPECT_TRUE(policy.CheckOpenNamed(by_certificate, "eval").ok());
}

TEST(AccessPolicyTest, ACallerNoRuleNamesMayDoNothing) {
  const AccessPolicy policy(Config(kRules));
  const absl::Status status = policy.CheckKnown(Token("stranger"));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("'stranger' is not named"));
  EXPECT_FALSE(policy.MayOpenNamed(Token("stranger"), "train"));
  EXPECT_EQ(policy.CheckKnown(CallIdentity()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(AccessPolicyTest, ValidateRefusesRulesThatCannotMeanWhatTheySay) {
  EXPECT_TRUE(AccessPolicy::Validate(Config(kRules)).ok());
  const absl::Status typo = AccessPolicy::Validate(Config(R"pb(
    pipelines { name: "train" }
    access { identities: "a" pipelines: "trian" }
  )pb"));
  EXPECT_EQ(typo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(typo.message(), HasSubstr("access[0].pipelines: no pipeline "
                                        "named 'trian'"));
  const absl::Status nobody =
      AccessPolicy::Validate(Config(R"pb(access { pipelines: "*" })pb"));
  EXPECT_THAT(nobody.message(), HasSubstr("access[0].identities"));
  const absl::Status empty =
      AccessPolicy::Validate(Config(R"pb(access { identities: "" })pb"));
  EXPECT_THAT(empty.message(), HasSubstr("access[0].identities"));
}

}  // namespace
}  // namespace iterd::security
