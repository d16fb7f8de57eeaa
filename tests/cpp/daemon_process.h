// File: tests/cpp/daemon_process.h
//
// DaemonProcess: a real server/iterd child process for tests. Start() forks
// and execs the daemon with --listen=127.0.0.1:0 and a data root, then reads
// its first stdout line ("iterd listening on HOST:PORT") with a deadline to
// learn the port; Stop() signals the child and reaps it.
//
// Thread-safety: one DaemonProcess is used by one thread at a time (a test's
// fixture); distinct objects may start daemons concurrently.
// Ownership: the object owns the child process and the read end of its stdout
// pipe; the destructor stops a running child with SIGTERM and reaps it, so no
// daemon outlives its test.

#ifndef ITERD_TESTS_CPP_DAEMON_PROCESS_H_
#define ITERD_TESTS_CPP_DAEMON_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace iterd::test_support {

struct DaemonOptions {
  // The daemon executable; empty means DefaultDaemonBinary().
  std::string binary;
  // --data_root; empty means $TEST_TMPDIR/data_root. Created if missing.
  std::string data_root;
  // Appended after --listen and --data_root, so they may override them.
  std::vector<std::string> extra_flags;
  // Where the daemon's stderr goes (truncated); empty keeps the test's stderr.
  std::string stderr_log_path;
  // How long to wait for the listening line before killing the child.
  absl::Duration start_timeout = absl::Seconds(60);
};

// $ITERD_BIN when set (e.g. a stable copy while the server is being rebuilt,
// passed with --test_env), else the runfiles' server/iterd. NotFound when
// neither is available.
absl::StatusOr<std::string> DefaultDaemonBinary();

class DaemonProcess final {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the daemon and waits for its listening line. Errors: NotFound (no
  // executable binary), FailedPrecondition (already running), Internal (the
  // child exited or printed something else first; the message quotes it),
  // DeadlineExceeded (no line within start_timeout; the child is killed).
  absl::Status Start(const DaemonOptions& options);

  // Sends `signal_number` and reaps the child. Returns its exit code, or
  // 128 + the signal that ended it (shell convention), so a clean SIGTERM
  // shutdown is 0 and SIGKILL is 137. FailedPrecondition when not running.
  absl::StatusOr<int> Stop(int signal_number = SIGTERM);

  // "HOST:PORT" from the listening line; empty until Start() succeeds, kept
  // after Stop() so a test can name the daemon it stopped.
  const std::string& address() const { return address_; }
  // The child's pid while running, else -1.
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

 private:
  // Reads one line from stdout_fd_ until `deadline`. REQUIRES: running().
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);
  // SIGKILLs and reaps the child after a failed start; returns what ended it.
  std::string Abandon();

  pid_t pid_ = -1;
  // Kept open while the child runs so its later stdout writes never SIGPIPE.
  int stdout_fd_ = -1;
  std::string address_;
};

}  // namespace iterd::test_support

#endif  // ITERD_TESTS_CPP_DAEMON_PROCESS_H_
