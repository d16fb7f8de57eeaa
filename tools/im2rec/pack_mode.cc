#include "tools/im2rec/pack_mode.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/image/image_codec.h"
#include "common/image/pack_img.h"
#include "common/recordio/writer.h"
#include "common/status/status_macros.h"
#include "tools/im2rec/list_mode.h"
#include "tools/im2rec/ordered_pipeline.h"

namespace iterd::im2rec {
namespace {

// Images read and encoded ahead of the writer, per thread: records are handed
// out in list order, so one slow image must not leave the other threads idle
// (measured on 900 images, 2 threads: 1.77x with 4, 1.81-1.82x with 16); 16
// encoded records per thread are a few MB.
constexpr size_t kInFlightPerThread = 16;

// Bounds on --resize output (OpenCV's limits are far above what is sane).
constexpr int64_t kMaxResizedEdge = int64_t{1} << 20;
constexpr int64_t kMaxResizedPixels = int64_t{1} << 28;

absl::Status ErrnoError(const std::string& what, const std::string& path,
                        int error) {
  const std::string message =
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path, errno);
  struct stat info;
  if (fstat(fd, &info) != 0) {
    const int error = errno;
    close(fd);
    return ErrnoError("stat", path, error);
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a regular file"));
  }
  std::string bytes(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = read(fd, &bytes[done], bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return ErrnoError("read", path, error);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  close(fd);
  bytes.resize(done);
  return bytes;
}

std::string StripExtension(const std::string& path) {
  const std::string ext = FileExtension(path);
  return path.substr(0, path.size() - ext.size());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> FindListFiles(
    const std::string& prefix) {
  struct stat info;
  const bool prefix_is_folder =
      stat(prefix.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  const size_t slash = prefix.rfind('/');
  const std::string folder =
      prefix_is_folder ? prefix : (slash == 0 ? "/" : prefix.substr(0, slash));
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return ErrnoError("list folder", folder, errno);
  std::vector<std::string> lists;
  while (const dirent* entry = readdir(dir)) {
    const std::string path = folder == "/"
                                 ? absl::StrCat("/", entry->d_name)
                                 : absl::StrCat(folder, "/", entry->d_name);
    if (absl::StartsWith(path, prefix) && absl::EndsWith(path, ".lst") &&
        stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      lists.push_back(path);
    }
  }
  closedir(dir);
  std::sort(lists.begin(), lists.end());
  return lists;
}

absl::StatusOr<cv::Mat> CropAndResize(const cv::Mat& image, bool center_crop,
                                      int resize) {
  cv::Mat result = image;
  if (center_crop) {
    // im2rec.py: keep the central square, offset (long - short) // 2.
    if (result.rows > result.cols) {
      const int margin = (result.rows - result.cols) / 2;
      result = result(cv::Rect(0, margin, result.cols, result.cols));
    } else {
      const int margin = (result.cols - result.rows) / 2;
      result = result(cv::Rect(margin, 0, result.rows, result.rows));
    }
  }
  if (resize > 0) {
    const int64_t rows = result.rows;
    const int64_t cols = result.cols;
    // Shorter edge -> resize; the other edge by integer division.
    // Shorter edge -> resize; the other edge by integer division (so never
    // below `resize`). Extreme aspect ratios could still ask for gigapixels.
    const int64_t long_edge =
        rows > cols ? rows * resize / cols : cols * resize / rows;
    if (long_edge > kMaxResizedEdge || long_edge * resize > kMaxResizedPixels) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resizing a ", cols, "x", rows, " image to a shorter edge of ",
          resize, " would make it ", long_edge, " pixels long"));
    }
    const cv::Size size = rows > cols
                              ? cv::Size(resize, static_cast<int>(long_edge))
                              : cv::Size(static_cast<int>(long_edge), resize);
    cv::Mat resized;
    cv::resize(result, resized, size, 0, 0, cv::INTER_LINEAR);
    return resized;
  }
  // A crop is a view with the parent's stride; encoders want it compact.
  return result.isContinuous() ? result : result.clone();
}

recordio::IRHeader HeaderFor(const ListEntry& entry, bool pack_label) {
  recordio::IRHeader header;
  header.id = entry.index;
  if (pack_label && entry.labels.size() > 1) {
    header.labels = entry.labels;
  } else if (!entry.labels.empty()) {
    header.label = entry.labels.front();
  }
  return header;
}

absl::StatusOr<std::string> MakeRecord(const ListEntry& entry,
                                       const std::string& root,
                                       const Options& options) {
  const std::string path = absl::StartsWith(entry.path, "/")
                               ? entry.path
                               : absl::StrCat(root, "/", entry.path);
  ITERD_ASSIGN_OR_RETURN(const std::string bytes, ReadFileBytes(path));
  const recordio::IRHeader header = HeaderFor(entry, options.pack_label);
  if (options.pass_through) return recordio::PackRecord(header, bytes);
  absl::StatusOr<cv::Mat> image = image::DecodeImage(bytes, options.color);
  if (!image.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode ", path, ": ", image.status().message()));
  }
  absl::StatusOr<cv::Mat> transformed =
      CropAndResize(*image, options.center_crop, options.resize);
  if (!transformed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", transformed.status().message()));
  }
  absl::StatusOr<std::string> record =
      image::PackImage(header, *transformed, options.quality, options.encoding);
  if (!record.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot encode ", path, ": ", record.status().message()));
  }
  return record;
}

absl::StatusOr<PackCounts> PackList(const std::string& list_path,
                                    const Options& options,
                                    std::FILE* progress_out) {
  ITERD_ASSIGN_OR_RETURN(const std::vector<ListEntry> entries,
                         ReadListFile(list_path));
  const std::string stem = StripExtension(list_path);
  ITERD_ASSIGN_OR_RETURN(
      std::unique_ptr<recordio::IndexedRecordWriter> writer,
      recordio::IndexedRecordWriter::Create(stem + ".rec", stem + ".idx"));
  const std::string root = AbsolutePath(options.root);
  Progress progress(progress_out, isatty(fileno(progress_out)) != 0, list_path,
                    entries.size());
  PackCounts counts;
  ITERD_RETURN_IF_ERROR(RunOrdered(
      entries.size(), options.num_thread,
      kInFlightPerThread * static_cast<size_t>(options.num_thread),
      [&](size_t i) { return MakeRecord(entries[i], root, options); },
      [&](size_t i, absl::StatusOr<std::string> record) -> absl::Status {
        absl::Status status = record.status();
        if (record.ok()) {
          // Too large for RecordIO (>= 2^29 bytes) is this image's problem;
          // any other write error is the output's and ends the run.
          status = writer->Write(absl::StrCat(entries[i].index), *record);
          if (!status.ok() && !absl::IsInvalidArgument(status)) return status;
        }
        if (status.ok()) {
          ++counts.records;
        } else {
          ++counts.skipped;
          progress.Note(absl::StrCat("skipping ", entries[i].path, ": ",
                                     status.message()));
        }
        progress.Update(i + 1, counts);
        return absl::OkStatus();
      }));
  counts.bytes = writer->Tell();
  ITERD_RETURN_IF_ERROR(writer->Close());
  progress.Finish(counts);
  return counts;
}

int RunPackMode(const Options& options, std::FILE* progress_out) {
  const std::string prefix = AbsolutePath(options.prefix);
  absl::StatusOr<std::vector<std::string>> lists = FindListFiles(prefix);
  if (!lists.ok()) {
    std::fprintf(progress_out, "im2rec: %s\n",
                 std::string(lists.status().message()).c_str());
    return 1;
  }
  if (lists->empty()) {
    std::fprintf(progress_out,
                 "im2rec: did not find any list file with prefix %s\n",
                 prefix.c_str());
    return 1;
  }
  PackCounts total;
  bool failed = false;
  for (const std::string& list : *lists) {
    std::printf("Creating .rec file from %s in %s\n", list.c_str(),
                list.substr(0, list.rfind('/')).c_str());
    std::fflush(stdout);
    absl::StatusOr<PackCounts> counts = PackList(list, options, progress_out);
    if (!counts.ok()) {
      std::fprintf(progress_out, "im2rec: %s\n",
                   std::string(counts.status().message()).c_str());
      failed = true;
      continue;
    }
    total.records += counts->records;
    total.bytes += counts->bytes;
    total.skipped += counts->skipped;
  }
  if (lists->size() > 1) {
    std::fprintf(progress_out,
                 "im2rec: %zu lists, %llu records, %.1f MB, skipped %llu\n",
                 lists->size(), static_cast<unsigned long long>(total.records),
                 static_cast<double>(total.bytes) / 1e6,
                 static_cast<unsigned long long>(total.skipped));
  }
  if (total.records == 0) {
    std::fprintf(progress_out, "im2rec: no record was packed\n");
    return 1;
  }
  return failed ? 1 : 0;
}

}  // namespace iterd::im2rec
