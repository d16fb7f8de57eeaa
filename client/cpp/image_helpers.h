// File: client/cpp/image_helpers.h
//
// MXNet's mx.image helpers for C++ trainers (reference §11.5): decode an
// encoded image or a file to RGB HWC uint8 (cv::Mat CV_8UC3, or CV_8UC1 for
// gray), resize with MXNet's interpolation codes, resize the shorter side,
// and the fixed / centre / random crops with the rectangle they took.
//
//   ITERD_ASSIGN_OR_RETURN(cv::Mat rgb, client::ReadImage("cat.jpg"));
//   cv::Rect rect;
//   ITERD_ASSIGN_OR_RETURN(cv::Mat patch,
//                          client::RandomCrop(rgb, {224, 224}, &rng, &rect));
//
// Decoding goes through //common/image's codec (TurboJPEG for JPEG, OpenCV
// for the rest), so pixels equal cv::imdecode's. Sizes are (width, height),
// as in MXNet's Python helpers and cv::Size.
//
// Thread-safety: free functions; safe from any number of threads (each
// thread gets its own TurboJPEG handle). A random::Engine is the caller's
// and must not be shared between threads.
// Ownership: decoded and resized images own their pixels. A crop that needs
// no resize is a cv::Mat ROI sharing `src`'s pixels (reference-counted, so it
// stays valid after `src` goes away; writing to it writes to `src`): clone()
// it to detach.

#ifndef ITERD_CLIENT_CPP_IMAGE_HELPERS_H_
#define ITERD_CLIENT_CPP_IMAGE_HELPERS_H_

#include <opencv2/core.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/random/engine.h"

namespace iterd::client {

// MXNet's interpolation codes; 0..4 equal OpenCV's INTER_* values.
inline constexpr int kInterNearest = 0;
inline constexpr int kInterLinear = 1;
inline constexpr int kInterCubic = 2;
inline constexpr int kInterArea = 3;
inline constexpr int kInterLanczos = 4;
// Bicubic if both sides grow, area if both shrink, else bilinear.
inline constexpr int kInterAuto = 9;
// One uniform draw among 0..4 from the caller's Engine.
inline constexpr int kInterRandom = 10;

struct DecodeOptions {
  bool color = true;   // MXNet flag=1: 3 channels. false (flag=0): 1 channel.
  bool to_rgb = true;  // Colour in RGB order (MXNet); false: OpenCV's BGR.
};

// Decodes JPEG/PNG/... bytes like mx.image.imdecode: CV_8UC3 RGB (BGR with
// to_rgb=false) or CV_8UC1 gray. InvalidArgument "not a decodable image (N
// bytes, starts with ...)" for empty or undecodable bytes.
absl::StatusOr<cv::Mat> DecodeImage(absl::string_view bytes,
                                    const DecodeOptions& options = {});

// DecodeImage of the file at `path`. Errors start with the path: NotFound if
// it does not exist, PermissionDenied if unreadable, InvalidArgument if it is
// a directory, empty or not an image.
absl::StatusOr<cv::Mat> ReadImage(const std::string& path,
                                  const DecodeOptions& options = {});

// mx.image.imresize: `src` resized to width x height (any depth and channel
// count OpenCV's resize takes). `rng` is used, and required, only for
// kInterRandom. InvalidArgument naming the argument for an empty `src`, a
// non-positive width/height or an unknown code; OpenCV's refusals (e.g. a
// depth it cannot resize) also become InvalidArgument.
absl::StatusOr<cv::Mat> ResizeImage(const cv::Mat& src, int width, int height,
                                    int interpolation = kInterLinear,
                                    random::Engine* rng = nullptr);

// mx.image.resize_short: the shorter side becomes `size`, the longer one
// size * long / short in integer division.
absl::StatusOr<cv::Mat> ResizeShorterSide(const cv::Mat& src, int size,
                                          int interpolation = kInterCubic,
                                          random::Engine* rng = nullptr);

// mx.image.scale_down: `size` shrunk, keeping its aspect ratio, until it fits
// in `src_size` (both width x height): (640x480, 720x120) -> 640x106.
cv::Size ScaleDown(cv::Size src_size, cv::Size size);

// mx.image.fixed_crop: `rect` of `src`, resized to `size` unless `size` is
// empty (the default) or equal to the rect's size. InvalidArgument naming the
// rect when it is empty or leaves the image.
absl::StatusOr<cv::Mat> FixedCrop(const cv::Mat& src, cv::Rect rect,
                                  cv::Size size = cv::Size(),
                                  int interpolation = kInterCubic,
                                  random::Engine* rng = nullptr);

// mx.image.center_crop: the centred ScaleDown(src size, size) window (offsets
// floor((W - w) / 2), floor((H - h) / 2)) resized to `size`. Stores the
// window in *rect_out when non-null. InvalidArgument for a non-positive size
// or one that scales down to nothing.
absl::StatusOr<cv::Mat> CenterCrop(const cv::Mat& src, cv::Size size,
                                   cv::Rect* rect_out = nullptr,
                                   int interpolation = kInterCubic,
                                   random::Engine* rng = nullptr);

// mx.image.random_crop: as CenterCrop, at x0 uniform in [0, W - w] and y0 in
// [0, H - h] (inclusive), drawn from `rng` (x0 first). REQUIRES: rng, else
// InvalidArgument.
absl::StatusOr<cv::Mat> RandomCrop(const cv::Mat& src, cv::Size size,
                                   random::Engine* rng,
                                   cv::Rect* rect_out = nullptr,
                                   int interpolation = kInterCubic);

}  // namespace iterd::client

#endif  // ITERD_CLIENT_CPP_IMAGE_HELPERS_H_
