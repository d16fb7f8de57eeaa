// File: common/image/augment/color_ops.h
//
// The colour steps of ImageRecordIter's default augmenter (reference §10.2
// steps 8-10) on 8-bit images in OpenCV order (gray, BGR, BGRA): colour
// jitter, HLS jitter and PCA lighting noise. Each draws its random values
// from the caller's Engine in MXNet's order and modifies the pixels in place
// (a ROI view is modified inside its parent). Alpha is never changed.
// Internal to //common/image/augment; DefaultAugmenter is the public entry.
//
// Thread-compatibility: free functions; image and Engine are the caller's.

#ifndef ITERD_COMMON_IMAGE_AUGMENT_COLOR_OPS_H_
#define ITERD_COMMON_IMAGE_AUGMENT_COLOR_OPS_H_

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "common/random/engine.h"

namespace iterd::image {

// Step 8. Draws alpha_b, alpha_c, alpha_s = 1 + U(-v, v) (all three, always),
// then a random order of the three operations, and applies those whose
// strength is > 0. Grey values weight the channels .299/.587/.114 in stored
// (BGR) order, so B gets .299 and R .114: that is what MXNet's
// image_aug_default.cc does, and ImageRecordIter compatibility means keeping
// it. On a gray image the grey value is the pixel itself.
void ApplyColorJitter(float brightness, float contrast, float saturation,
                      random::Engine* rng, cv::Mat* image);

// Step 9. Draws r = (U + 4U) / 5 for h, s, l in that order, offsets
// d = int(r * 2 * v - v), and adds them to OpenCV's 8-bit HLS channels
// (H clamped to 0..180, L and S to 0..255). Gray images have no hue or
// saturation and are left unchanged (MXNet would fail on them); the draws
// still happen. Internal error if OpenCV throws.
absl::Status ApplyHlsJitter(int random_h, int random_s, int random_l,
                            random::Engine* rng, cv::Mat* image);

// Step 10. Draws a_r, a_g, a_b ~ N(0, pca_noise) and adds
// delta_c = sum_j eigval_j * eigvec[c][j] * a_j (rounded to an integer) to
// channel c = R, G, B, clamped to 0..255. Gray images are left unchanged.
void ApplyPcaNoise(float pca_noise, random::Engine* rng, cv::Mat* image);

// AlexNet's ImageNet RGB eigen decomposition (reference §10.2 step 10), shared
// with ImageIter's LightingAug.
inline constexpr float kPcaEigenvalues[3] = {55.46f, 4.794f, 1.148f};
inline constexpr float kPcaEigenvectors[3][3] = {{-0.5675f, 0.7192f, 0.4009f},
                                                 {-0.5808f, -0.0045f, -0.8140f},
                                                 {-0.5836f, -0.6948f, 0.4203f}};

}  // namespace iterd::image

#endif  // ITERD_COMMON_IMAGE_AUGMENT_COLOR_OPS_H_
