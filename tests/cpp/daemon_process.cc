#include "tests/cpp/daemon_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace iterd::test_support {
namespace {

constexpr absl::string_view kListeningPrefix = "iterd listening on ";
// The listening line is short; a longer one means the binary is not iterd.
constexpr size_t kMaxLineBytes = 4096;

// Exit code, or 128 + the terminating signal.
int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(wait_status));
  }
  return absl::StrCat("ended with wait status ", wait_status);
}

int WaitForChild(pid_t pid) {
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  return wait_status;
}

std::string ErrnoText(absl::string_view what, absl::string_view path) {
  return absl::StrCat(what, " ", path, ": ", std::strerror(errno));
}

}  // namespace

absl::StatusOr<std::string> DefaultDaemonBinary() {
  const char* override_binary = std::getenv("ITERD_BIN");
  if (override_binary != nullptr && override_binary[0] != '\0') {
    return std::string(override_binary);
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  if (srcdir == nullptr) {
    return absl::NotFoundError(
        "no daemon binary: neither $ITERD_BIN nor $TEST_SRCDIR is set (run "
        "under bazel test with data = [\"//server:iterd\"])");
  }
  return absl::StrCat(srcdir, "/iterd/server/iterd");
}

DaemonProcess::~DaemonProcess() {
  if (running()) Stop(SIGTERM).IgnoreError();
}

absl::Status DaemonProcess::Start(const DaemonOptions& options) {
  if (running()) {
    return absl::FailedPreconditionError(
        absl::StrCat("daemon already running as pid ", pid_, " on ", address_));
  }
  std::string binary = options.binary;
  if (binary.empty()) {
    absl::StatusOr<std::string> default_binary = DefaultDaemonBinary();
    if (!default_binary.ok()) return default_binary.status();
    binary = *std::move(default_binary);
  }
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        ErrnoText("daemon binary is not an executable file:", binary));
  }
  std::string data_root = options.data_root;
  if (data_root.empty()) {
    const char* tmpdir = std::getenv("TEST_TMPDIR");
    data_root = absl::StrCat(tmpdir != nullptr ? tmpdir : "/tmp", "/data_root");
  }
  if (mkdir(data_root.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(ErrnoText("cannot create data root", data_root));
  }

  // Everything the child needs is built before fork(): between fork and exec
  // only async-signal-safe calls are allowed (the test may have threads).
  std::vector<std::string> arguments = {binary, "--listen=127.0.0.1:0",
                                        "--data_root=" + data_root};
  arguments.insert(arguments.end(), options.extra_flags.begin(),
                   options.extra_flags.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  int log_fd = -1;
  if (!options.stderr_log_path.empty()) {
    log_fd = open(options.stderr_log_path.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(
          ErrnoText("cannot open stderr log", options.stderr_log_path));
    }
  }
  // O_CLOEXEC: daemons started concurrently must not inherit each other's
  // pipe, or a dead daemon's stdout would never reach end of file.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    if (log_fd >= 0) close(log_fd);
    return absl::InternalError(ErrnoText("pipe for", binary));
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // dup2 clears O_CLOEXEC on the new descriptors.
    dup2(pipe_fds[1], STDOUT_FILENO);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  if (log_fd >= 0) close(log_fd);
  if (pid < 0) {
    close(pipe_fds[0]);
    return absl::InternalError(ErrnoText("fork for", binary));
  }
  pid_ = pid;
  stdout_fd_ = pipe_fds[0];

  absl::StatusOr<std::string> line =
      ReadLine(absl::Now() + options.start_timeout);
  if (!line.ok()) {
    const std::string ended = Abandon();
    return absl::Status(line.status().code(),
                        absl::StrCat(binary, ": ", line.status().message(),
                                     "; the daemon ", ended));
  }
  // "iterd listening on 127.0.0.1:PORT"
  const size_t colon = line->rfind(':');
  int port = 0;
  if (!absl::StartsWith(*line, kListeningPrefix) ||
      colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(*line).substr(colon + 1), &port) ||
      port <= 0) {
    const std::string ended = Abandon();
    return absl::InternalError(absl::StrCat(
        binary, ": first stdout line is \"", *line,
        "\", expected \"iterd listening on HOST:PORT\"; the daemon ", ended));
  }
  address_ = line->substr(kListeningPrefix.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> DaemonProcess::ReadLine(absl::Time deadline) {
  std::string line;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no \"iterd listening on\" line within the start timeout; read so "
          "far: \"",
          line, "\""));
    }
    pollfd poll_fd = {stdout_fd_, POLLIN, 0};
    const int timeout_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
    const int ready = poll(&poll_fd, 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(ErrnoText("poll on", "the daemon's stdout"));
    }
    if (ready == 0) continue;  // The deadline check above reports it.
    // One byte at a time: what follows the line is not ours to consume.
    char byte = 0;
    const ssize_t count = read(stdout_fd_, &byte, 1);
    if (count < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(ErrnoText("read of", "the daemon's stdout"));
    }
    if (count == 0) {
      return absl::InternalError(absl::StrCat(
          "stdout closed before a listening line; read: \"", line, "\""));
    }
    if (byte == '\n') return std::string(absl::StripAsciiWhitespace(line));
    line.push_back(byte);
    if (line.size() > kMaxLineBytes) {
      return absl::InternalError(absl::StrCat("first stdout line longer than ",
                                              kMaxLineBytes, " bytes"));
    }
  }
}

std::string DaemonProcess::Abandon() {
  kill(pid_, SIGKILL);  // A no-op if it already exited.
  const int wait_status = WaitForChild(pid_);
  pid_ = -1;
  close(stdout_fd_);
  stdout_fd_ = -1;
  // SIGKILL is ours, not the daemon's failure; say that plainly.
  if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL) {
    return "was killed";
  }
  return DescribeWaitStatus(wait_status);
}

absl::StatusOr<int> DaemonProcess::Stop(int signal_number) {
  if (!running()) {
    return absl::FailedPreconditionError("daemon is not running");
  }
  kill(pid_, signal_number);
  const int wait_status = WaitForChild(pid_);
  pid_ = -1;
  close(stdout_fd_);
  stdout_fd_ = -1;
  return ExitCodeOf(wait_status);
}

}  // namespace iterd::test_support
