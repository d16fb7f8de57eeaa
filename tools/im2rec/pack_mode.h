// File: tools/im2rec/pack_mode.h
//
// im2rec's pack mode: turns each .lst matching the prefix into X.rec + X.idx
// as MXNet 1.9.1's tools/im2rec.py does (read_list, image_encode,
// write_record):
//  * the image is loaded like cv2.imread(path, color) (DecodeImage of the
//    file's bytes, EXIF orientation applied), optionally centre-cropped to a
//    square and resized (shorter edge N, longer edge by integer division,
//    bilinear), then packed with PackImage(header, image, quality, encoding);
//  * --pass-through stores the file's bytes unmodified after the header;
//  * header IRHeader(0, labels[0], index, 0), or the whole label array with
//    --pack-label and more than one label;
//  * records are written in list order with key = index, while up to
//    4 x num_thread images are read and encoded in parallel on a ThreadPool.
// An image that cannot be read, decoded or encoded is reported by path,
// skipped and counted (MXNet 1.9.1 crashes in single-process mode).
//
// Thread-compatible free functions; PackList uses its own worker threads.

#ifndef ITERD_TOOLS_IM2REC_PACK_MODE_H_
#define ITERD_TOOLS_IM2REC_PACK_MODE_H_

#include <cstdio>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/recordio/irheader.h"
#include "tools/im2rec/list_file.h"
#include "tools/im2rec/options.h"
#include "tools/im2rec/progress.h"

namespace iterd::im2rec {

// The .lst files pack mode converts for an absolute `prefix`: every regular
// file in the prefix's folder (or in `prefix` when it is a folder) whose path
// starts with `prefix` and ends with ".lst", sorted.
absl::StatusOr<std::vector<std::string>> FindListFiles(
    const std::string& prefix);

// im2rec.py's centre crop and resize. InvalidArgument when the resized image
// would be gigantic (an edge over 2^20 or over 2^28 pixels).
absl::StatusOr<cv::Mat> CropAndResize(const cv::Mat& image, bool center_crop,
                                      int resize);

// The IRHeader MXNet packs for `entry`.
recordio::IRHeader HeaderFor(const ListEntry& entry, bool pack_label);

// One packed record for `entry` (image at root/path, or path if absolute).
// NotFound/PermissionDenied for an unreadable file, InvalidArgument for an
// undecodable image; both name the path.
absl::StatusOr<std::string> MakeRecord(const ListEntry& entry,
                                       const std::string& root,
                                       const Options& options);

// Packs the list at `list_path` into its .rec/.idx (same folder and stem),
// reporting progress on `progress_out`. Malformed list: InvalidArgument
// naming the line, nothing written. I/O errors on the outputs end the run.
absl::StatusOr<PackCounts> PackList(const std::string& list_path,
                                    const Options& options,
                                    std::FILE* progress_out);

// Runs pack mode for options.prefix/root; returns the process exit status
// (0 when at least one record was packed and every list was well formed).
int RunPackMode(const Options& options, std::FILE* progress_out);

}  // namespace iterd::im2rec

#endif  // ITERD_TOOLS_IM2REC_PACK_MODE_H_
