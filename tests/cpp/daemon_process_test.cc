// DaemonProcess against the real server/iterd from the runfiles (it answers
// ListPipelines, stops cleanly on SIGTERM, dies on SIGKILL) and against small
// shell scripts that misbehave (never print, print the wrong line, exit).

#include "tests/cpp/daemon_process.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "iterd/v1/service.grpc.pb.h"

namespace iterd::test_support {
namespace {

std::string TempDir() {
  const char* tmpdir = std::getenv("TEST_TMPDIR");
  return tmpdir == nullptr ? "/tmp" : tmpdir;
}

// An executable /bin/sh script named `name` in the temp dir with `body`.
std::string WriteScript(const std::string& name, const std::string& body) {
  const std::string path = absl::StrCat(TempDir(), "/", name);
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

// The daemon's answer to ListPipelines, over a fresh channel.
grpc::Status CallListPipelines(const std::string& address) {
  std::unique_ptr<iterd::v1::DataIterService::Stub> stub =
      iterd::v1::DataIterService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  iterd::v1::ListPipelinesResponse response;
  return stub->ListPipelines(&context, iterd::v1::ListPipelinesRequest(),
                             &response);
}

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST(DaemonProcessTest, StartedDaemonAnswersListPipelinesOnItsAddress) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(DaemonOptions()).ok());
  EXPECT_TRUE(absl::StartsWith(daemon.address(), "127.0.0.1:"))
      << daemon.address();
  EXPECT_GT(daemon.pid(), 0);
  const grpc::Status status = CallListPipelines(daemon.address());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(DaemonProcessTest, SigtermStopReturnsExitZeroAndReapsTheChild) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(DaemonOptions()).ok());
  const pid_t pid = daemon.pid();
  absl::StatusOr<int> exit_code = daemon.Stop();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_FALSE(daemon.running());
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(DaemonProcessTest, SigkillStopReturns137AndTheAddressStopsAnswering) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(DaemonOptions()).ok());
  const std::string address = daemon.address();
  absl::StatusOr<int> exit_code = daemon.Stop(SIGKILL);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 128 + SIGKILL);
  EXPECT_EQ(daemon.address(), address);
  EXPECT_EQ(CallListPipelines(address).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(DaemonProcessTest, DestructorStopsARunningDaemon) {
  pid_t pid = -1;
  {
    DaemonProcess daemon;
    ASSERT_TRUE(daemon.Start(DaemonOptions()).ok());
    pid = daemon.pid();
  }
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(DaemonProcessTest, StderrGoesToTheLogFileAndFlagsReachTheDaemon) {
  DaemonProcess daemon;
  DaemonOptions options;
  options.stderr_log_path = absl::StrCat(TempDir(), "/iterd.stderr");
  options.data_root = absl::StrCat(TempDir(), "/own_root");
  options.extra_flags = {"--worker_threads=3"};
  ASSERT_TRUE(daemon.Start(options).ok());
  ASSERT_TRUE(daemon.Stop().ok());
  std::stringstream log;
  log << std::ifstream(options.stderr_log_path).rdbuf();
  EXPECT_TRUE(absl::StrContains(log.str(), "with 3 worker threads"))
      << log.str();
  EXPECT_TRUE(absl::StrContains(log.str(), "own_root")) << log.str();
}

TEST(DaemonProcessTest, SecondStartWhileRunningIsFailedPrecondition) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.Start(DaemonOptions()).ok());
  EXPECT_EQ(daemon.Start(DaemonOptions()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DaemonProcessTest, StopWhenNotRunningIsFailedPrecondition) {
  DaemonProcess daemon;
  EXPECT_EQ(daemon.Stop().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Start() with `binary`; a failed start must leave no child running.
absl::Status StartBinary(const std::string& binary,
                         absl::Duration start_timeout = absl::Seconds(60)) {
  DaemonProcess daemon;
  DaemonOptions options;
  options.binary = binary;
  options.start_timeout = start_timeout;
  const absl::Status status = daemon.Start(options);
  EXPECT_EQ(daemon.running(), status.ok());
  return status;
}

TEST(DaemonProcessTest, MissingBinaryIsNotFoundNamingThePath) {
  const absl::Status status =
      StartBinary(absl::StrCat(TempDir(), "/no_such_iterd"));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(status.message(), "no_such_iterd")) << status;
}

TEST(DaemonProcessTest, SilentBinaryIsDeadlineExceededWithoutHanging) {
  const absl::Time start = absl::Now();
  const absl::Status status = StartBinary(
      WriteScript("silent.sh", "exec sleep 60"), absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "silent.sh")) << status;
}

TEST(DaemonProcessTest, BinaryThatExitsEarlyReportsItsExitStatus) {
  const absl::Status status = StartBinary(WriteScript("exits.sh", "exit 3"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(status.message(), "exited with status 3"))
      << status;
}

TEST(DaemonProcessTest, WrongFirstLineIsQuotedInTheError) {
  const absl::Status status =
      StartBinary(WriteScript("chatty.sh", "echo hello there; sleep 60"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(status.message(), "\"hello there\"")) << status;
}

TEST(DaemonProcessTest, IterdBinEnvironmentOverridesTheRunfilesBinary) {
  const std::string script = WriteScript("override.sh", "exit 0");
  setenv("ITERD_BIN", script.c_str(), 1);
  absl::StatusOr<std::string> binary = DefaultDaemonBinary();
  unsetenv("ITERD_BIN");
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(*binary, script);
  absl::StatusOr<std::string> runfiles_binary = DefaultDaemonBinary();
  ASSERT_TRUE(runfiles_binary.ok()) << runfiles_binary.status();
  EXPECT_TRUE(absl::EndsWith(*runfiles_binary, "/iterd/server/iterd"));
}

}  // namespace
}  // namespace iterd::test_support
