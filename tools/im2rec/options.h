// File: tools/im2rec/options.h
//
// Options of the im2rec tool and its command-line parser. The command line is
// MXNet 1.9.1's tools/im2rec.py (argparse):
//   im2rec [options] PREFIX ROOT
// with `--opt value` and `--opt=value`, unambiguous prefixes of option names
// (argparse's abbreviations), `--exts` taking one or more values, and `--`
// ending the options. For lists and scripts written for MXNet 0.x/1.0, the
// boolean options also take a value (`--list=1`, `--recursive True`,
// `--shuffle=False`; 0/1/true/false/yes/no, any case), and `--shuffle` exists
// besides 1.1's `--no-shuffle`.
//
// Pure functions; thread-safe.

#ifndef ITERD_TOOLS_IM2REC_OPTIONS_H_
#define ITERD_TOOLS_IM2REC_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iterd::im2rec {

struct Options {
  // Positional arguments as given (the modes make them absolute).
  std::string prefix;
  std::string root;

  // --help: print Usage() and exit 0; nothing else is checked.
  bool help = false;

  // List mode (--list).
  bool list = false;
  std::vector<std::string> exts = {".jpeg", ".jpg", ".png"};
  int chunks = 1;
  double train_ratio = 1.0;
  double test_ratio = 0.0;
  bool recursive = false;
  bool shuffle = true;

  // Pack mode (default).
  bool pass_through = false;
  int resize = 0;  // shorter edge in pixels; 0 = keep the size
  bool center_crop = false;
  int quality = 95;  // JPEG quality, or PNG compression level (clamped 0..9)
  int num_thread = 1;
  int color = 1;  // cv::imread flag: -1 unchanged, 0 gray, 1 colour
  std::string encoding = ".jpg";
  bool pack_label = false;
};

// Parses argv (argv[0] is the program name). InvalidArgument naming the
// option for an unknown or ambiguous option, a missing or malformed value, a
// value out of range, or missing/extra positional arguments.
absl::StatusOr<Options> ParseCommandLine(const std::vector<std::string>& args);

// The --help text.
std::string Usage(const std::string& program);

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_OPTIONS_H_
