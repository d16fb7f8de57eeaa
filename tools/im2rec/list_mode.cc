#include "tools/im2rec/list_mode.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status/status_macros.h"
#include "tools/im2rec/python_random.h"

namespace iterd::im2rec {
namespace {

constexpr uint64_t kShuffleSeed = 100;  // im2rec.py: random.seed(100)

struct DirectoryContents {
  std::vector<std::string> folders;  // sorted; symbolic links followed
  std::vector<std::string> files;    // sorted; everything that is no folder
};

absl::StatusOr<DirectoryContents> ReadDirectory(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot list folder ", path, ": ", std::strerror(errno)));
  }
  DirectoryContents contents;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat info;
    const bool is_folder =
        stat(absl::StrCat(path, "/", name).c_str(), &info) == 0 &&
        S_ISDIR(info.st_mode);
    (is_folder ? contents.folders : contents.files).push_back(name);
  }
  closedir(dir);
  // std::string compares bytes as unsigned char: UTF-8 byte order is Python's
  // code point order.
  std::sort(contents.folders.begin(), contents.folders.end());
  std::sort(contents.files.begin(), contents.files.end());
  return contents;
}

bool IsRegularFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

class ImageFinder {
 public:
  ImageFinder(const std::string& root, const std::vector<std::string>& exts)
      : root_(root) {
    for (const std::string& ext : exts)
      exts_.insert(absl::AsciiStrToLower(ext));
  }

  bool Accepts(const std::string& folder, const std::string& name) const {
    if (exts_.count(absl::AsciiStrToLower(FileExtension(name))) == 0) {
      return false;
    }
    if (name.find_first_of("\t\n\r") != std::string::npos) {
      ITERD_LOG(WARNING) << "skipping " << folder << "/" << name
                         << ": TAB or newline in the name";
      return false;
    }
    return IsRegularFile(absl::StrCat(folder, "/", name));
  }

  // os.walk(top-down, followlinks=True) with sorted folders and files.
  void Walk(const std::string& folder, const std::string& relative,
            std::vector<std::pair<dev_t, ino_t>>* ancestors,
            ImageListing* listing) {
    absl::StatusOr<DirectoryContents> contents = ReadDirectory(folder);
    if (!contents.ok()) {  // os.walk ignores such folders; say so at least
      ITERD_LOG(WARNING) << contents.status().message();
      return;
    }
    int label = -1;
    for (const std::string& name : contents->files) {
      if (!Accepts(folder, name)) continue;
      if (label < 0) {
        label = static_cast<int>(listing->folder_labels.size());
        listing->folder_labels.emplace_back(relative.empty() ? "." : relative,
                                            label);
      }
      AddImage(relative.empty() ? name : absl::StrCat(relative, "/", name),
               label, listing);
    }
    for (const std::string& name : contents->folders) {
      const std::string child = absl::StrCat(folder, "/", name);
      struct stat info;
      if (stat(child.c_str(), &info) != 0) continue;
      const std::pair<dev_t, ino_t> identity(info.st_dev, info.st_ino);
      if (std::find(ancestors->begin(), ancestors->end(), identity) !=
          ancestors->end()) {
        ITERD_LOG(WARNING) << "skipping " << child
                           << ": symbolic link loop to an enclosing folder";
        continue;
      }
      ancestors->push_back(identity);
      Walk(child, relative.empty() ? name : absl::StrCat(relative, "/", name),
           ancestors, listing);
      ancestors->pop_back();
    }
  }

  void AddImage(const std::string& relative_path, int label,
                ImageListing* listing) {
    ListEntry entry;
    entry.index = listing->images.size();
    entry.labels = {static_cast<float>(label)};
    entry.path = relative_path;
    listing->images.push_back(std::move(entry));
  }

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::set<std::string> exts_;
};

}  // namespace

std::string AbsolutePath(const std::string& path) {
  std::string joined = path;
  if (path.empty() || path[0] != '/') {
    char buffer[4096];
    const char* cwd = getcwd(buffer, sizeof(buffer));
    joined = absl::StrCat(cwd != nullptr ? cwd : ".", "/", path);
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(joined, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

std::string FileExtension(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t start = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot < start) return "";
  // Leading dots belong to the stem: ".jpg" and "..jpg" have no extension.
  for (size_t i = start; i < dot; ++i) {
    if (name[i] != '.') return name.substr(dot);
  }
  return "";
}

absl::StatusOr<ImageListing> ListImages(const std::string& root,
                                        const std::vector<std::string>& exts,
                                        bool recursive) {
  ITERD_ASSIGN_OR_RETURN(DirectoryContents top, ReadDirectory(root));
  ImageFinder finder(root, exts);
  ImageListing listing;
  if (!recursive) {
    // sorted(os.listdir(root)): folders and files together.
    std::vector<std::string> names = top.files;
    names.insert(names.end(), top.folders.begin(), top.folders.end());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      if (finder.Accepts(root, name)) finder.AddImage(name, 0, &listing);
    }
    return listing;
  }
  struct stat info;
  std::vector<std::pair<dev_t, ino_t>> ancestors;
  if (stat(root.c_str(), &info) == 0) {
    ancestors.emplace_back(info.st_dev, info.st_ino);
  }
  finder.Walk(root, "", &ancestors, &listing);
  return listing;
}

std::vector<std::pair<std::string, std::vector<ListEntry>>> SplitList(
    std::vector<ListEntry> images, const Options& options) {
  if (options.shuffle) {
    PythonRandom random(kShuffleSeed);
    random.Shuffle(&images);
  }
  std::vector<std::pair<std::string, std::vector<ListEntry>>> outputs;
  const size_t total = images.size();
  const size_t chunks = static_cast<size_t>(options.chunks);
  const size_t chunk_size = (total + chunks - 1) / chunks;
  // Python slicing: clamps both ends to the list.
  auto slice = [](const std::vector<ListEntry>& list, size_t begin,
                  size_t end) {
    begin = std::min(begin, list.size());
    end = std::max(begin, std::min(end, list.size()));
    return std::vector<ListEntry>(list.begin() + begin, list.begin() + end);
  };
  for (size_t c = 0; c < chunks; ++c) {
    const std::vector<ListEntry> chunk =
        slice(images, c * chunk_size, (c + 1) * chunk_size);
    const std::string chunk_suffix = chunks > 1 ? absl::StrCat("_", c) : "";
    // As MXNet: computed from chunk_size, not from the chunk's own length.
    const size_t train = static_cast<size_t>(static_cast<double>(chunk_size) *
                                             options.train_ratio);
    const size_t test = static_cast<size_t>(static_cast<double>(chunk_size) *
                                            options.test_ratio);
    if (options.train_ratio == 1.0) {
      outputs.emplace_back(chunk_suffix, chunk);
      continue;
    }
    if (options.test_ratio != 0) {
      outputs.emplace_back(chunk_suffix + "_test", slice(chunk, 0, test));
    }
    if (options.train_ratio + options.test_ratio < 1.0) {
      outputs.emplace_back(chunk_suffix + "_val",
                           slice(chunk, test + train, chunk.size()));
    }
    outputs.emplace_back(chunk_suffix + "_train",
                         slice(chunk, test, test + train));
  }
  return outputs;
}

absl::StatusOr<std::vector<std::string>> MakeLists(const Options& options,
                                                   std::ostream& out) {
  const std::string prefix = AbsolutePath(options.prefix);
  const std::string root = AbsolutePath(options.root);
  ITERD_ASSIGN_OR_RETURN(ImageListing listing,
                         ListImages(root, options.exts, options.recursive));
  for (const auto& [folder, label] : listing.folder_labels) {
    out << folder << " " << label << "\n";
  }
  if (listing.images.empty()) {
    ITERD_LOG(WARNING) << "no image with extension "
                       << absl::StrJoin(options.exts, "/") << " under " << root;
  }
  std::vector<std::string> written;
  for (const auto& [suffix, entries] :
       SplitList(std::move(listing.images), options)) {
    const std::string path = absl::StrCat(prefix, suffix, ".lst");
    ITERD_RETURN_IF_ERROR(WriteListFile(path, entries));
    written.push_back(path);
  }
  return written;
}

}  // namespace iterd::im2rec
