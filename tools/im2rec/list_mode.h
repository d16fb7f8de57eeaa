// File: tools/im2rec/list_mode.h
//
// im2rec's list mode (--list): finds the images under a root folder and
// writes .lst files as MXNet 1.9.1's tools/im2rec.py does (list_image,
// make_list):
//  * non-recursive: the root's regular files in sorted name order, label 0;
//  * recursive: a sorted pre-order walk (following symbolic links) where the
//    first folder holding an accepted image gets label 0, the next 1, ...;
//  * a file is accepted when its lower-cased extension (Python's splitext:
//    leading dots do not start an extension) is one of `exts`;
//  * shuffled as Python's random.seed(100); random.shuffle (PythonRandom),
//    then split into chunks and train/val/test parts.
// Deviations, all on inputs where MXNet misbehaves: `exts` are compared
// lower-cased too; a symbolic link back to an enclosing folder is skipped
// instead of recursing forever; a file name containing TAB or newline (which
// would corrupt the .lst) is skipped with a warning.
//
// Thread-compatible free functions.

#ifndef ITERD_TOOLS_IM2REC_LIST_MODE_H_
#define ITERD_TOOLS_IM2REC_LIST_MODE_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/im2rec/list_file.h"
#include "tools/im2rec/options.h"

namespace iterd::im2rec {

struct ImageListing {
  // In traversal order; index i is the position, labels one element.
  std::vector<ListEntry> images;
  // Recursive walk only: (folder relative to the root, "." for the root
  // itself; label) in label order.
  std::vector<std::pair<std::string, int>> folder_labels;
};

// Python's os.path.abspath: joined with the working directory and normalised
// lexically ("." and ".." removed, no trailing '/'); symlinks not resolved.
std::string AbsolutePath(const std::string& path);

// Python's os.path.splitext(name)[1].
std::string FileExtension(const std::string& name);

// list_image(root, recursive, exts). `root` is used as given. NotFound when
// `root` is not a readable folder.
absl::StatusOr<ImageListing> ListImages(const std::string& root,
                                        const std::vector<std::string>& exts,
                                        bool recursive);

// The output of make_list for already listed images: (file name suffix, e.g.
// "", "_train", "_2_val"; entries) in the order MXNet writes them.
std::vector<std::pair<std::string, std::vector<ListEntry>>> SplitList(
    std::vector<ListEntry> images, const Options& options);

// Runs list mode: lists options.root, writes PREFIX[_c][_part].lst and prints
// the folder->label map (recursive) to `out`. Returns the files written.
absl::StatusOr<std::vector<std::string>> MakeLists(const Options& options,
                                                   std::ostream& out);

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_LIST_MODE_H_
