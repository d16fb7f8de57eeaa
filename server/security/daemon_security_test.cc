#include "server/security/daemon_security.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace iterd::security {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir == nullptr ? "/tmp" : dir) + "/" + name;
}

std::string TokenFile() {
  const std::string path = TempPath("daemon_tokens");
  std::ofstream(path) << "trainer-a " << std::string(40, 't') << "\n";
  return path;
}

SecurityFlags Listening(const std::string& listen) {
  SecurityFlags flags;
  flags.listen = listen;
  flags.token_reload_interval = absl::ZeroDuration();
  return flags;
}

TEST(SetUpSecurityTest, LoopbackNeedsNoFlags) {
  absl::StatusOr<DaemonSecurity> security =
      SetUpSecurity(Listening("127.0.0.1:0"));
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_NE(security->credentials, nullptr);
  EXPECT_EQ(security->tokens, nullptr);
  EXPECT_EQ(security->summary, "plaintext, no tokens");
}

TEST(SetUpSecurityTest, AnExposedPlaintextPortWithoutTokensIsRefused) {
  for (const std::string listen :
       {"0.0.0.0:50051", "[::]:50051", "10.1.2.3:1"}) {
    absl::StatusOr<DaemonSecurity> security = SetUpSecurity(Listening(listen));
    EXPECT_EQ(security.status().code(), absl::StatusCode::kFailedPrecondition)
        << listen;
    EXPECT_THAT(security.status().message(),
                HasSubstr("refusing to serve " + listen));
    EXPECT_THAT(security.status().message(), HasSubstr("--insecure"));
  }
}

TEST(SetUpSecurityTest, TokensOrInsecureMakeAnExposedPortAcceptable) {
  SecurityFlags with_tokens = Listening("0.0.0.0:50051");
  with_tokens.token_file = TokenFile();
  absl::StatusOr<DaemonSecurity> security = SetUpSecurity(with_tokens);
  ASSERT_TRUE(security.ok()) << security.status();
  EXPECT_NE(security->tokens, nullptr);
  EXPECT_EQ(security->summary, "plaintext, bearer tokens");

  SecurityFlags insecure = Listening("0.0.0.0:50051");
  insecure.insecure = true;
  EXPECT_TRUE(SetUpSecurity(insecure).ok());
}

TEST(SetUpSecurityTest, IncompleteOrUnusableTlsFlagsAreRefusedByName) {
  SecurityFlags flags = Listening("127.0.0.1:0");
  flags.tls.certificate_file = TempPath("absent.crt");
  EXPECT_THAT(SetUpSecurity(flags).status().message(),
              HasSubstr("--tls_cert_file and --tls_key_file go together"));
  flags.tls.key_file = TempPath("absent.key");
  EXPECT_THAT(SetUpSecurity(flags).status().message(),
              HasSubstr("--tls_cert_file: "));
  const std::string not_pem = TempPath("not_pem.crt");
  std::ofstream(not_pem) << "hello\n";
  flags.tls.certificate_file = not_pem;
  EXPECT_THAT(SetUpSecurity(flags).status().message(),
              HasSubstr("holds no PEM CERTIFICATE block"));
  SecurityFlags ca_only = Listening("127.0.0.1:0");
  ca_only.tls.client_ca_file = not_pem;
  EXPECT_THAT(SetUpSecurity(ca_only).status().message(),
              HasSubstr("--tls_client_ca_file needs"));
}

TEST(SetUpSecurityTest, AnInvalidTokenFileNamesTheFlag) {
  SecurityFlags flags = Listening("127.0.0.1:0");
  flags.token_file = TempPath("absent_tokens");
  absl::StatusOr<DaemonSecurity> security = SetUpSecurity(flags);
  EXPECT_EQ(security.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(security.status().message(), HasSubstr("--auth_token_file: "));
}

TEST(RequireBearerTokenTest, AnswersOnlyRequestsWithAListedToken) {
  absl::StatusOr<std::unique_ptr<TokenStore>> tokens =
      TokenStore::Open(TokenFile(), absl::ZeroDuration());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  const ops::HttpHandler guarded =
      RequireBearerToken(tokens->get(), [](const ops::HttpRequest&) {
        ops::HttpResponse response;
        response.body = "metrics";
        return response;
      });
  ops::HttpRequest request;
  request.path = "/metrics";
  EXPECT_EQ(guarded(request).status_code, 401);
  const std::string wrong = "Bearer " + std::string(40, 'x');
  request.authorization = wrong;
  EXPECT_EQ(guarded(request).status_code, 401);
  const std::string right = "Bearer " + std::string(40, 't');
  request.authorization = right;
  EXPECT_EQ(guarded(request).status_code, 200);
  EXPECT_EQ(guarded(request).body, "metrics");
}

}  // namespace
}  // namespace iterd::security
