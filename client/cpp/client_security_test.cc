// The C++ client against a real daemon serving TLS with bearer tokens:
// certificates are made by the openssl command in the test's temporary
// directory, the daemon is server/iterd on 127.0.0.1.

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cpp/channel_security.h"
#include "client/cpp/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cpp/daemon_process.h"

namespace iterd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kToken = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir == nullptr ? "/tmp" : dir;
}

std::string Path(const std::string& name) { return TempDir() + "/" + name; }

// A CA and a server certificate for 127.0.0.1 and localhost, made with the
// openssl command.
bool MakeCertificates() {
  const std::string dir = TempDir();
  std::ofstream(Path("san.ext"))
      << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  const std::string commands = absl::StrCat(
      "cd ", dir,
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt"
      " -days 2 -subj /CN=iterd-test-ca",
      " && openssl req -newkey rsa:2048 -nodes -keyout server.key"
      " -out server.csr -subj /CN=localhost",
      " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key"
      " -CAcreateserial -out server.crt -days 2 -extfile san.ext",
      " >/dev/null 2>&1");
  return std::system(commands.c_str()) == 0;
}

test_support::DaemonProcess* daemon_process = nullptr;

class ClientSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(MakeCertificates()) << "openssl failed";
    std::ofstream(Path("tokens")) << "trainer-a " << kToken << "\n";
    daemon_process = new test_support::DaemonProcess();
    test_support::DaemonOptions options;
    options.extra_flags = {"--tls_cert_file=" + Path("server.crt"),
                           "--tls_key_file=" + Path("server.key"),
                           "--auth_token_file=" + Path("tokens")};
    options.stderr_log_path = Path("daemon.log");
    const absl::Status started = daemon_process->Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    delete daemon_process;
    daemon_process = nullptr;
  }

  static ClientOptions Secured(std::string token) {
    ClientOptions options;
    options.security.root_certificates = Path("ca.crt");
    options.security.token = std::move(token);
    options.security.use_environment = false;
    options.connect_timeout = absl::Seconds(5);
    return options;
  }

  // NDArrayIter over 4 inline float rows of width 1, batch 2.
  static absl::StatusOr<std::unique_ptr<RemoteIterator>> OpenSmall(
      Client& client, const std::vector<float>& rows) {
    iterd::v1::OpenIterator open;
    iterd::v1::NDArrayConfig* config = open.mutable_config()->mutable_ndarray();
    iterd::v1::ArraySource* data = config->add_data();
    data->set_name("data");
    data->mutable_inline_()->set_dtype(iterd::v1::FLOAT32);
    data->mutable_inline_()->add_shape(static_cast<int64_t>(rows.size()));
    data->mutable_inline_()->add_shape(1);
    config->set_batch_size(2);
    const std::vector<absl::Span<const uint8_t>> arrays = {
        {reinterpret_cast<const uint8_t*>(rows.data()),
         rows.size() * sizeof(float)}};
    return client.Open(open, arrays);
  }
};

TEST_F(ClientSecurityTest, TlsWithTheRightTokenServesBatchesOverSharedMemory) {
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(daemon_process->address(), Secured(kToken));
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->ListPipelines().ok());
  const std::vector<float> rows = {1, 2, 3, 4};
  absl::StatusOr<std::unique_ptr<RemoteIterator>> iterator =
      OpenSmall(**client, rows);
  ASSERT_TRUE(iterator.ok()) << iterator.status();
  // Same host over TLS: payloads still go through the shared region.
  EXPECT_TRUE((*iterator)->uses_shared_memory());
  absl::StatusOr<std::optional<Batch>> batch = (*iterator)->Next();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE(batch->has_value());
  absl::Span<const float> data = (**batch).data[0].values<float>();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0], 1.0f);
  EXPECT_EQ(data[1], 2.0f);
  EXPECT_TRUE((*iterator)->Close().ok());
}

TEST_F(ClientSecurityTest, MissingOrWrongTokensAreUnauthenticated) {
  absl::StatusOr<std::unique_ptr<Client>> without =
      Client::Connect(daemon_process->address(), Secured(""));
  ASSERT_TRUE(without.ok()) << without.status();
  absl::Status status = (*without)->ListPipelines().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("no token"));

  const std::string wrong(40, 'w');
  absl::StatusOr<std::unique_ptr<Client>> wrong_client =
      Client::Connect(daemon_process->address(), Secured(wrong));
  ASSERT_TRUE(wrong_client.ok()) << wrong_client.status();
  status = OpenSmall(**wrong_client, {1, 2}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("token refused"));
  EXPECT_THAT(status.message(), Not(HasSubstr(wrong)));
}

TEST_F(ClientSecurityTest, APlaintextClientIsToldTheDaemonMayServeTls) {
  ClientOptions options;
  options.security.use_environment = false;
  options.connect_timeout = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(daemon_process->address(), options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(client.status().message(),
              HasSubstr("if the daemon serves TLS, set root_certificates"));
}

TEST_F(ClientSecurityTest, TheEnvironmentSuppliesDefaults) {
  setenv("ITERD_TLS_CA", Path("ca.crt").c_str(), 1);
  std::ofstream(Path("token_only")) << "  " << kToken << "\n";
  setenv("ITERD_TOKEN_FILE", Path("token_only").c_str(), 1);
  ClientOptions options;
  options.connect_timeout = absl::Seconds(5);
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(daemon_process->address(), options);
  unsetenv("ITERD_TLS_CA");
  unsetenv("ITERD_TOKEN_FILE");
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->ListPipelines().ok());
}

TEST_F(ClientSecurityTest, ServerNameIsWhatTheCertificateIsCheckedAgainst) {
  // The certificate names localhost and 127.0.0.1; a client that dials the
  // address but expects another name must fail the handshake.
  ClientOptions as_localhost = Secured(kToken);
  as_localhost.security.server_name = "localhost";
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect(daemon_process->address(), as_localhost);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->ListPipelines().ok());

  ClientOptions as_other = Secured(kToken);
  as_other.security.server_name = "iterd.other.example";
  as_other.connect_timeout = absl::Seconds(1);
  EXPECT_EQ(
      Client::Connect(daemon_process->address(), as_other).status().code(),
      absl::StatusCode::kUnavailable);
}

TEST_F(ClientSecurityTest, TheDaemonLogNeverShowsATokenItWasSent) {
  std::ifstream log(Path("daemon.log"));
  const std::string text((std::istreambuf_iterator<char>(log)),
                         std::istreambuf_iterator<char>());
  EXPECT_THAT(text, Not(HasSubstr(kToken)));
  EXPECT_THAT(text, Not(HasSubstr(std::string(40, 'w'))));
}

TEST(ResolveChannelSecurityTest, RefusesIncompleteOrUnreadableSettings) {
  ClientSecurity key_only;
  key_only.use_environment = false;
  key_only.private_key = "/nonexistent.key";
  EXPECT_THAT(ResolveChannelSecurity(key_only).status().message(),
              HasSubstr("certificate_chain and private_key"));
  ClientSecurity missing_ca;
  missing_ca.use_environment = false;
  missing_ca.root_certificates = "/nonexistent/ca.crt";
  const absl::Status status = ResolveChannelSecurity(missing_ca).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("root_certificates: /nonexistent/ca.crt"));
}

}  // namespace
}  // namespace iterd::client
