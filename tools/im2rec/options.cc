#include "tools/im2rec/options.h"

#include <cmath>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace iterd::im2rec {
namespace {

enum class Kind {
  kFlag,        // bare flag; MXNet 0.x/1.0 also gave it a boolean value
  kBareFlag,    // bare flag only (--no-shuffle, --help)
  kValue,       // exactly one value
  kManyValues,  // one or more values (argparse nargs='+')
};

struct OptionSpec {
  const char* name;
  Kind kind;
  std::function<absl::Status(const std::string& value, Options* options)> set;
};

absl::Status BadValue(const std::string& name, const std::string& value,
                      const std::string& expected) {
  return absl::InvalidArgumentError(absl::StrCat(
      "argument ", name, ": invalid value '", value, "' (", expected, ")"));
}

absl::StatusOr<bool> ParseBool(const std::string& name,
                               const std::string& value) {
  const std::string lower = absl::AsciiStrToLower(value);
  if (lower == "1" || lower == "true" || lower == "yes") return true;
  if (lower == "0" || lower == "false" || lower == "no") return false;
  return BadValue(name, value, "expected 0/1/true/false/yes/no");
}

bool IsBoolLiteral(const std::string& value) {
  return ParseBool("", value).ok();
}

absl::Status ParseInt(const std::string& name, const std::string& value,
                      int low, int high, int* out) {
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < low || parsed > high) {
    return BadValue(name, value,
                    absl::StrCat("expected an integer in ", low, "..", high));
  }
  *out = parsed;
  return absl::OkStatus();
}

absl::Status ParseRatio(const std::string& name, const std::string& value,
                        double* out) {
  double parsed = 0;
  if (!absl::SimpleAtod(value, &parsed) || !std::isfinite(parsed) ||
      parsed < 0 || parsed > 1) {
    return BadValue(name, value, "expected a number in 0..1");
  }
  *out = parsed;
  return absl::OkStatus();
}

std::function<absl::Status(const std::string&, Options*)> SetBool(
    const char* name, bool Options::*field) {
  return [name, field](const std::string& value, Options* options) {
    ITERD_ASSIGN_OR_RETURN(options->*field, ParseBool(name, value));
    return absl::OkStatus();
  };
}

std::function<absl::Status(const std::string&, Options*)> SetInt(
    const char* name, int Options::*field, int low, int high) {
  return [=](const std::string& value, Options* options) {
    return ParseInt(name, value, low, high, &(options->*field));
  };
}

std::function<absl::Status(const std::string&, Options*)> SetRatio(
    const char* name, double Options::*field) {
  return [=](const std::string& value, Options* options) {
    return ParseRatio(name, value, &(options->*field));
  };
}

const std::vector<OptionSpec>& OptionTable() {
  static const auto* table = new std::vector<OptionSpec>{
      {"--help", Kind::kBareFlag, SetBool("--help", &Options::help)},
      {"--list", Kind::kFlag, SetBool("--list", &Options::list)},
      {"--exts", Kind::kManyValues,
       [](const std::string& value, Options* options) {
         options->exts.push_back(value);
         return absl::OkStatus();
       }},
      {"--chunks", Kind::kValue,
       SetInt("--chunks", &Options::chunks, 1, 1 << 30)},
      {"--train-ratio", Kind::kValue,
       SetRatio("--train-ratio", &Options::train_ratio)},
      {"--test-ratio", Kind::kValue,
       SetRatio("--test-ratio", &Options::test_ratio)},
      {"--recursive", Kind::kFlag, SetBool("--recursive", &Options::recursive)},
      {"--shuffle", Kind::kFlag, SetBool("--shuffle", &Options::shuffle)},
      {"--no-shuffle", Kind::kBareFlag,
       [](const std::string& value, Options* options) {
         ITERD_ASSIGN_OR_RETURN(const bool set,
                                ParseBool("--no-shuffle", value));
         options->shuffle = !set;
         return absl::OkStatus();
       }},
      {"--pass-through", Kind::kFlag,
       SetBool("--pass-through", &Options::pass_through)},
      {"--resize", Kind::kValue,
       SetInt("--resize", &Options::resize, 0, 1 << 20)},
      {"--center-crop", Kind::kFlag,
       SetBool("--center-crop", &Options::center_crop)},
      {"--quality", Kind::kValue,
       SetInt("--quality", &Options::quality, 0, 100)},
      {"--num-thread", Kind::kValue,
       SetInt("--num-thread", &Options::num_thread, 1, 1024)},
      {"--color", Kind::kValue, SetInt("--color", &Options::color, -1, 1)},
      {"--encoding", Kind::kValue,
       [](const std::string& value, Options* options) {
         if (value != ".jpg" && value != ".png") {
           return BadValue("--encoding", value, "choose from .jpg, .png");
         }
         options->encoding = value;
         return absl::OkStatus();
       }},
      {"--pack-label", Kind::kFlag,
       SetBool("--pack-label", &Options::pack_label)},
  };
  return *table;
}

// argparse accepts any unambiguous prefix of a long option.
absl::StatusOr<const OptionSpec*> FindOption(const std::string& name) {
  std::vector<const OptionSpec*> matches;
  for (const OptionSpec& spec : OptionTable()) {
    if (name == spec.name) return &spec;
    if (absl::StartsWith(spec.name, name)) matches.push_back(&spec);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unrecognized option '", name, "' (see --help)"));
  }
  std::vector<std::string> names;
  for (const OptionSpec* spec : matches) names.push_back(spec->name);
  return absl::InvalidArgumentError(
      absl::StrCat("ambiguous option '", name,
                   "' could match: ", absl::StrJoin(names, ", ")));
}

// As argparse: "-1" is a value (a negative number), "-x" is an option.
bool LooksLikeOption(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  double number = 0;
  return !absl::SimpleAtod(arg, &number);
}

}  // namespace

absl::StatusOr<Options> ParseCommandLine(const std::vector<std::string>& args) {
  Options options;
  std::vector<std::string> positional;
  bool options_ended = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || !LooksLikeOption(arg)) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "-h") {
      options.help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unrecognized option '", arg, "' (see --help)"));
    }
    const size_t equals = arg.find('=');
    const bool has_value = equals != std::string::npos;
    ITERD_ASSIGN_OR_RETURN(const OptionSpec* spec,
                           FindOption(arg.substr(0, equals)));
    const std::string value = has_value ? arg.substr(equals + 1) : "";
    switch (spec->kind) {
      case Kind::kBareFlag:
        if (has_value) {
          return absl::InvalidArgumentError(
              absl::StrCat("argument ", spec->name,
                           ": ignored explicit argument '", value, "'"));
        }
        ITERD_RETURN_IF_ERROR(spec->set("1", &options));
        break;
      case Kind::kFlag:
        if (has_value) {
          ITERD_RETURN_IF_ERROR(spec->set(value, &options));
        } else if (i + 1 < args.size() && IsBoolLiteral(args[i + 1])) {
          ITERD_RETURN_IF_ERROR(spec->set(args[++i], &options));  // 1.0 style
        } else {
          ITERD_RETURN_IF_ERROR(spec->set("1", &options));
        }
        break;
      case Kind::kValue:
        if (has_value) {
          ITERD_RETURN_IF_ERROR(spec->set(value, &options));
        } else if (i + 1 < args.size() && !LooksLikeOption(args[i + 1])) {
          ITERD_RETURN_IF_ERROR(spec->set(args[++i], &options));
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat("argument ", spec->name, ": expected one value"));
        }
        break;
      case Kind::kManyValues: {
        // A repeated --exts replaces the earlier values, as argparse does.
        options.exts.clear();
        if (has_value) ITERD_RETURN_IF_ERROR(spec->set(value, &options));
        // Greedy, as argparse's nargs='+': every following non-option.
        while (!has_value && i + 1 < args.size() &&
               !LooksLikeOption(args[i + 1]) && args[i + 1] != "--") {
          ITERD_RETURN_IF_ERROR(spec->set(args[++i], &options));
        }
        if (options.exts.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "argument ", spec->name, ": expected at least one value"));
        }
        break;
      }
    }
  }
  if (options.help) return options;
  if (positional.size() < 2) {
    return absl::InvalidArgumentError(
        positional.empty()
            ? "the following arguments are required: prefix, root"
            : "the following arguments are required: root");
  }
  if (positional.size() > 2) {
    std::vector<std::string> extra(positional.begin() + 2, positional.end());
    return absl::InvalidArgumentError(absl::StrCat(
        "unrecognized arguments: ", absl::StrJoin(extra, " "),
        " (note: --exts takes every following value; put it last)"));
  }
  options.prefix = positional[0];
  options.root = positional[1];
  return options;
}

std::string Usage(const std::string& program) {
  return absl::StrCat("usage: ", program, " [options] prefix root\n",
                      R"(
Create an image list or make a RecordIO database from a list, as MXNet's
tools/im2rec.py does.

positional arguments:
  prefix                prefix of input/output lst and rec files
  root                  path to folder containing images

Options for creating image lists (with --list):
  --list                make .lst file(s) by traversing root instead of packing
  --exts EXT [EXT ...]  accepted file extensions (default: .jpeg .jpg .png)
  --chunks N            number of chunks (default: 1)
  --train-ratio F       fraction of images for training (default: 1.0)
  --test-ratio F        fraction of images for testing (default: 0)
  --recursive           walk sub-folders; one label per folder
  --no-shuffle          keep the traversal order (default: shuffle as
                        Python's random.seed(100); random.shuffle)
  --shuffle[=BOOL]      MXNet 1.0 spelling (--shuffle=0 is --no-shuffle)

Options for creating database (default mode):
  --pass-through        store the image files' bytes unmodified
  --resize N            resize the shorter edge to N pixels (default: 0, off)
  --center-crop         crop the central square first
  --quality Q           JPEG quality 1-100 or PNG compression 0-9 (default: 95)
  --num-thread N        encoding threads; records stay in list order
                        (default: 1)
  --color {-1,0,1}      load as -1 unchanged, 0 grayscale, 1 colour (default: 1)
  --encoding {.jpg,.png}  output encoding (default: .jpg)
  --pack-label          store every label of a multi-label line

Every regular file in the prefix's folder whose path starts with the prefix and
ends with .lst is packed into .rec + .idx beside it (a folder prefix: every
.lst in it). The boolean options also accept MXNet 1.0's values (--list=1,
--recursive True). Exit status: 0 when records were packed or lists written;
1 on bad arguments, a malformed .lst line, or when nothing was packed.
  -h, --help            show this help and exit
)");
}

}  // namespace iterd::im2rec
