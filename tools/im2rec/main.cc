// im2rec: MXNet's tools/im2rec.py as a native tool. Makes image lists
// (--list) or packs them into RecordIO .rec/.idx files; see Usage().

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "opencv2/core/utility.hpp"
#include "tools/im2rec/list_mode.h"
#include "tools/im2rec/options.h"
#include "tools/im2rec/pack_mode.h"

int main(int argc, char** argv) {
  // --num-thread is the tool's parallelism: OpenCV's own worker threads inside
  // cv::resize would add hidden threads that compete with the packing threads.
  cv::setNumThreads(1);
  using iterd::im2rec::Options;
  const std::vector<std::string> args(argv, argv + argc);
  const std::string program = argc > 0 ? args[0] : "im2rec";
  absl::StatusOr<Options> options = iterd::im2rec::ParseCommandLine(args);
  if (!options.ok()) {
    std::fprintf(stderr, "usage: %s [options] prefix root\n%s: error: %s\n",
                 program.c_str(), program.c_str(),
                 std::string(options.status().message()).c_str());
    return 2;  // as argparse
  }
  if (options->help) {
    std::fputs(iterd::im2rec::Usage(program).c_str(), stdout);
    return 0;
  }
  if (options->list) {
    absl::StatusOr<std::vector<std::string>> written =
        iterd::im2rec::MakeLists(*options, std::cout);
    std::cout.flush();
    if (!written.ok()) {
      std::fprintf(stderr, "%s: %s\n", program.c_str(),
                   std::string(written.status().message()).c_str());
      return 1;
    }
    for (const std::string& path : *written) {
      std::fprintf(stderr, "wrote %s\n", path.c_str());
    }
    return 0;
  }
  return iterd::im2rec::RunPackMode(*options, stderr);
}
