// File: server/pipeline/image_iter_source.h
//
// ImageIterSource: the SampleSource of mx.image.ImageIter
// (docs/mxnet-semantics.md section 11). Each sample is an image, decoded,
// turned to RGB and run through the CreateAugmenter list
// (image::ImageIterAugmenter), written as float32 CHW straight into its batch
// row, with its label_width float32 labels in the label row.
//
// Where the images and labels come from (section 11.1):
//   - path_imglist (".lst": key \t labels... \t path) or an inline imglist
//     (keys 1, 2, ...): files path_root/path, labels from the list;
//   - path_imgrec + path_imgidx: the .idx keys in file order, images and
//     labels from the records; with a list as well, the list's keys, images
//     from the records (found by key) and labels from the list;
//   - path_imgrec alone: the records in file order (no shuffle, no parts).
// num_parts > 1 keeps keys [k*Cp, (k+1)*Cp) with Cp = N / num_parts (the
// remainder is never read, as in MXNet). shuffle permutes the part's keys at
// every epoch, the permutation drawn from (seed, epoch) alone.
//
// Determinism: sample i of epoch e (i = its position in the epoch's order) is
// augmented with random::Engine(seed, e, i), so batches do not depend on the
// number of decoding threads or on timing.
//
// Bad images (undecodable bytes, damaged records, unreadable files): with
// fail_on_bad_image a DataLoss naming the file and key; otherwise skipped,
// logged, counted in stats() and replaced by the next sample, so batches stay
// full. Label counts that do not match label_width are always an error.
//
// Thread-compatibility: one thread at a time (the Batcher's producer), except
// stats(), which is thread-safe. ReadSamples() decodes a batch's images on the
// shared pool through ParallelFor. The pool is borrowed and must outlive the
// source.

#ifndef ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_H_
#define ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/concurrency/thread_pool.h"
#include "common/image/augment/image_iter_augmenter.h"
#include "common/image/image_header.h"
#include "common/recordio/byte_source.h"
#include "common/recordio/reader.h"
#include "common/tensor/batch.h"
#include "server/pipeline/decode_loop.h"
#include "server/pipeline/sample_source.h"

namespace iterd::pipeline {

// One entry of an inline image list (MXNet's `imglist` item [labels..., path]).
struct ImageIterListEntry {
  std::vector<float> labels;
  std::string path;  // Relative to path_root.
};

struct ImageIterSourceOptions {
  int64_t height = 0;  // data_shape (3, height, width).
  int64_t width = 0;
  int label_width = 1;
  // Paths of the .rec, .idx and .lst files, already resolved (empty = none).
  std::string path_imgrec;
  std::string path_imgidx;
  std::string path_imglist;
  // The .idx as the client named it, for messages (empty: path_imgidx).
  std::string imgidx_name;
  // Largest pixel count an image's header may declare (limits.
  // max_image_pixels); larger images are bad images, refused before decoding.
  uint64_t max_image_pixels = image::kDefaultMaxImagePixels;
  // Prefix of the list entries' paths; each joined path goes through
  // resolve_path (null = used as is), so that a list cannot reach files
  // outside the daemon's data roots.
  std::string path_root;
  std::vector<ImageIterListEntry> imglist;  // Used when path_imglist is empty.
  std::function<absl::StatusOr<std::string>(absl::string_view)> resolve_path;
  bool shuffle = false;
  uint64_t seed = 0;
  int num_parts = 1;  // >= 1.
  int part_index = 0;
  // CreateAugmenter's options; Create() sets out_height/out_width from
  // height/width.
  image::ImageIterAugmenterParams augmenter;
  // BadRecordPolicy FAIL (true) or SKIP (false).
  bool fail_on_bad_image = false;
  // Images of a batch decoded at once: the caller plus parallelism - 1 pool
  // tasks. A null pool decodes on the caller.
  ThreadPool* pool = nullptr;
  int parallelism = 1;
};

class ImageIterSource final : public SampleSource {
 public:
  // Opens and checks the files and lists. Errors: NotFound / PermissionDenied
  // naming a missing file (including a list entry's image); InvalidArgument
  // naming the file and line of a bad list line, a list key absent from the
  // .idx, a label count that is not label_width, or the field of a bad option
  // (no source of images, num_parts without idx or list, shuffle over a .rec
  // without .idx, an augmenter option).
  static absl::StatusOr<std::unique_ptr<ImageIterSource>> Create(
      ImageIterSourceOptions options);

  ImageIterSource(const ImageIterSource&) = delete;
  ImageIterSource& operator=(const ImageIterSource&) = delete;
  ~ImageIterSource() override;

  // Keys of this part's samples in the current epoch's order (list or .idx
  // keys). Empty for a sequentially read .rec.
  std::vector<std::string> current_keys() const;

  // SampleSource.
  const std::vector<TensorSpec>& sample_data_specs() const override {
    return data_specs_;
  }
  const std::vector<TensorSpec>& sample_label_specs() const override {
    return label_specs_;
  }
  // -1 for a sequentially read .rec (its length is known only at its end).
  int64_t num_samples() const override;
  bool has_sample_ids() const override { return false; }  // index is None.
  absl::Status ReadSample(Batch* batch, int64_t row, uint64_t* sample_id,
                          bool* end_of_pass) override;
  absl::Status ReadSamples(Batch* batch, int64_t first_row, int64_t count,
                           uint64_t* ids, int64_t* filled,
                           bool* end_of_pass) override;
  SourceStats stats() const override;
  absl::Status Rewind() override;
  absl::Status StartEpoch(int64_t epoch) override;
  // Reading a .rec without .idx sequentially, the position's cursor is the
  // byte offset of the next record ({offset}); otherwise it is empty.
  SourcePosition Tell() const override;
  absl::Status Seek(const SourcePosition& position) override;

 private:
  // Where one sample's image and labels are.
  struct Sample {
    std::string key;
    int64_t record_offset = -1;  // In the .rec; -1 for a file.
    std::string file;            // Resolved image path (list without .rec).
    std::vector<float> labels;   // From a list; empty = the record header's.
  };
  // One image being decoded into a row.
  struct Job;
  class SkipReporter;

  ImageIterSource(ImageIterSourceOptions options,
                  image::ImageIterAugmenter augmenter);
  absl::Status BuildSamples();
  // Claims the next samples of the pass (at most `count`) into *jobs.
  absl::Status ClaimJobs(int64_t count, std::vector<Job>* jobs);
  // Decodes job into its row. Thread-safe; touches only that row.
  // Never throws: an exception from a decoder or OpenCV makes a bad image.
  void Decode(Job* job, Batch* batch) const;
  void DecodeOrThrow(Job* job, Batch* batch) const;
  // Names a job in messages: file, record or key, position.
  std::string Where(const Job& job) const;

  const ImageIterSourceOptions options_;
  const image::ImageIterAugmenter augmenter_;
  std::vector<TensorSpec> data_specs_;
  std::vector<TensorSpec> label_specs_;

  std::shared_ptr<const recordio::ByteSource> records_;  // Null: files.
  std::vector<Sample> samples_;  // This part's samples; empty if sequential.
  // Sequential .rec reading (no idx): the reader walks the file once a pass.
  bool sequential_ = false;
  std::unique_ptr<SkipReporter> reporter_;
  std::unique_ptr<recordio::RecordReader> reader_;

  // Sets pass_ and the augmentation seed of (epoch_, pass_).
  void BeginPass(int64_t pass);

  int64_t epoch_ = 0;
  // Rewinds since StartEpoch(epoch_). Augmentation draws come from (seed,
  // epoch, pass, position): the filler samples of a padded last batch,
  // re-read from position 0, get fresh augmentations instead of repeating the
  // epoch's first ones.
  int64_t pass_ = 0;
  uint64_t pass_seed_ = 0;      // random::PassSeed(seed, epoch_, pass_).
  std::vector<int64_t> order_;  // Indices into samples_, this epoch's order.
  int64_t position_ = 0;        // Next position in the pass.

  std::vector<Job> jobs_;  // This round's images, reused.
  // Decoded and skipped counts (thread-safe; the sequential reader's skips
  // too).
  SkipRecorder recorder_{"ImageIter"};
};

}  // namespace iterd::pipeline

#endif  // ITERD_SERVER_PIPELINE_IMAGE_ITER_SOURCE_H_
