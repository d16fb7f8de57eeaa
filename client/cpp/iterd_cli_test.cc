// iterd_cli against a real daemon (server/iterd on 127.0.0.1): a run stopped
// with --print_state and continued with --resume_state reads the batches the
// uninterrupted run reads and ends at the same state.

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/cpp/daemon_process.h"

namespace iterd::client {
namespace {

// 10 rows of 2 values, read in batches of 3: round_batch wraps the last one
// and the second epoch goes on after the wrapped rows.
constexpr char kConfig[] =
    "csv { data_csv: \"rows.csv\" data_shape: [2] batch_size: 3 }";

// Runs `command` in a shell; its stdout, and its exit code in `*exit_code`.
std::string RunCommand(const std::string& command, int* exit_code) {
  *exit_code = -1;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    output.append(buffer, n);
  }
  const int status = pclose(pipe);
  if (WIFEXITED(status)) *exit_code = WEXITSTATUS(status);
  return output;
}

class IterdCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmpdir = std::getenv("TEST_TMPDIR");
    const char* srcdir = std::getenv("TEST_SRCDIR");
    ASSERT_NE(tmpdir, nullptr);
    ASSERT_NE(srcdir, nullptr);
    cli_ = absl::StrCat(srcdir, "/iterd/client/cpp/iterd_cli");
    test_support::DaemonOptions options;
    options.data_root = absl::StrCat(tmpdir, "/cli_data_root");
    const absl::Status started = daemon_.Start(options);
    ASSERT_TRUE(started.ok()) << started;
    std::ofstream csv(absl::StrCat(options.data_root, "/rows.csv"));
    for (int row = 0; row < 10; ++row) csv << row << "," << -row << "\n";
    ASSERT_TRUE(csv.good());
  }

  // The CLI's command line for open-config with `flags` (no single quotes).
  std::string Command(const std::string& flags) const {
    return absl::StrCat(cli_, " --server=", daemon_.address(), " ", flags,
                        " open-config '", kConfig, "'");
  }

  // The CLI's stdout, printing every batch and the final state; fails unless
  // it exits with 0.
  std::string Run(const std::string& flags) const {
    const std::string command =
        Command(absl::StrCat("--print_batches=100 --print_state ", flags));
    int exit_code = -1;
    const std::string output = RunCommand(command, &exit_code);
    EXPECT_EQ(exit_code, 0) << command << "\n" << output;
    return output;
  }

  std::string cli_;
  test_support::DaemonProcess daemon_;
};

// The lines of `output` that start with `prefix`, without it.
std::vector<std::string> Lines(absl::string_view output,
                               absl::string_view prefix) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) lines.emplace_back(line);
  }
  return lines;
}

// The "epoch E batch i: data ... pad P" lines as "E: data ... pad P": the
// batch number restarts at 0 in a resumed run.
std::vector<std::string> Batches(absl::string_view output) {
  std::vector<std::string> batches;
  for (const std::string& line : Lines(output, "epoch ")) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || line.find(" batch ") > colon) continue;
    batches.push_back(
        absl::StrCat(line.substr(0, line.find(' ')), line.substr(colon)));
  }
  return batches;
}

TEST_F(IterdCliTest, RunStoppedWithPrintStateGoesOnWithResumeState) {
  const std::string whole = Run("--epochs=2");
  const std::vector<std::string> whole_batches = Batches(whole);
  const std::vector<std::string> whole_state = Lines(whole, "state: ");
  ASSERT_EQ(whole_state.size(), 1u) << whole;
  int first_epoch = 0;
  for (const std::string& batch : whole_batches) {
    first_epoch += absl::StartsWith(batch, "0:") ? 1 : 0;
  }
  ASSERT_EQ(first_epoch, 4) << whole;
  ASSERT_GT(whole_batches.size(), 4u) << whole;

  // Stopped right after open, mid-epoch, after the epoch's last batch and
  // after its end.
  for (const char* stop :
       {"--epochs=0", "--batches=2", "--batches=4", "--epochs=1"}) {
    SCOPED_TRACE(stop);
    const std::string first = Run(stop);
    const std::vector<std::string> state = Lines(first, "state: ");
    ASSERT_EQ(state.size(), 1u) << first;
    const std::string second =
        Run(absl::StrCat("--epochs=2 --resume_state=", state[0]));
    std::vector<std::string> batches = Batches(first);
    for (const std::string& batch : Batches(second)) batches.push_back(batch);
    EXPECT_EQ(batches, whole_batches) << first << second;
    EXPECT_EQ(Lines(second, "state: "), whole_state);
  }
}

TEST_F(IterdCliTest, ResumeStateThatIsNotBase64IsAUsageError) {
  int exit_code = -1;
  const std::string output =
      RunCommand(Command("--resume_state=%%%not-base64 2>&1"), &exit_code);
  EXPECT_EQ(exit_code, 2) << output;
  EXPECT_TRUE(absl::StrContains(output, "--resume_state")) << output;
}

}  // namespace
}  // namespace iterd::client
